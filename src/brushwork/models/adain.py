"""AdaIN (Huang & Belongie, ICCV 2017) decoders and the feed-forward stylization network.

The encoder gives content features C and style features S at one tap; AdaIN re-normalises C to S's
channel statistics, S' = AdaIN(C, S); the blend ``C + a (S' - C)`` goes through a decoder trained to
paint images from such features. The same decoder also paints S' = WCT(C, S), the whitening-colouring
transform that matches the channels' whole covariance (``transform="wct"``; Li et al. 2017).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import WeightsError
from ..functional import mean_cov, mean_std, opaque_positions, wct_matrix
from .encoders import FeatureEncoder

__all__ = ["DecoderConfig", "Decoder", "AdaINNet", "decoder_features", "TRANSFORMS", "check_transform", "transfer_map",
           "apply_map", "conv_layout"]

#: feature transforms a decoder paints: per-channel mean/std (AdaIN) or mean/covariance (WCT)
TRANSFORMS = ("adain", "wct")


@dataclass(frozen=True)
class DecoderConfig:
    """Rebuilds a decoder; saved as ``config.json`` beside ``model.safetensors``.

    Attributes:
        encoder: registry name of the encoder whose features it decodes.
        tap: the encoder tap (default ``block5.expand``: 240 channels at stride 8 on Lite0, which
            beat ``block8.expand`` and ``block11.expand`` (stride 16) on every measure; docs/adain.md).
        in_channels: channels the decoder reads: the tap's, plus the deep taps' if any.
        widths: channels after the 1x1 reduction and after each 2x upsampling; ``len(widths) - 1``
            upsamplings, so ``2 ** (len(widths) - 1)`` must equal the tap's stride.
        deep_taps: deeper taps (stride 16 or 32) whose features are upsampled (nearest) to the tap's
            grid and read beside it. AdaIN treats each channel alone, and nearest upsampling keeps a
            channel's mean and std, so this is AdaIN at every tap, decoded together: the deep taps
            carry the style's larger-scale statistics that one stride-8 tap cannot.
    """

    encoder: str = "efficientnet-lite0"
    tap: str = "block5.expand"
    in_channels: int = 240
    widths: tuple[int, ...] = (64, 32, 16, 16)
    deep_taps: tuple[str, ...] = ()

    @property
    def taps(self) -> tuple[str, ...]:
        return (self.tap, *self.deep_taps)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        if self.deep_taps:
            d["deep_taps"] = list(self.deep_taps)
        else:
            d.pop("deep_taps")  # a one-tap decoder's config.json reads as before (older brushwork loads it)
        return d

    @classmethod
    def for_tap(cls, encoder: str, tap: str, in_channels: int, stride: int) -> DecoderConfig:
        """Default widths for a tap at ``stride`` (a power of two, 2..32): 16 at the last two levels,
        doubling towards the tap, at most 128 (stride 8: 64-32-16-16; stride 16: 128-64-32-16-16)."""
        levels = stride.bit_length() - 1
        if stride < 2 or stride != 2 ** levels or levels > 5:
            raise ValueError(f"tap {tap} has stride {stride}: a decoder needs a power of two from 2 to 32")
        widths = [min(128, 16 << max(0, levels - 1 - i)) for i in range(levels + 1)]
        return cls(encoder=encoder, tap=tap, in_channels=in_channels, widths=tuple(widths))

    @classmethod
    def from_dict(cls, d: dict) -> DecoderConfig:
        d = dict(d)
        d["widths"] = tuple(d["widths"])
        d["deep_taps"] = tuple(d.get("deep_taps", ()))
        return cls(**d)


def decoder_features(encoder: FeatureEncoder, x: torch.Tensor, config: DecoderConfig) -> torch.Tensor:
    """The features a decoder reads: ``config.tap``, then each deep tap upsampled to its grid.

    ``x``'s sides should be multiples of the deepest tap's stride so that the grids nest exactly.
    """
    return join_taps(encoder(x, list(config.taps)), config)


def join_taps(feats: Mapping[str, torch.Tensor], config: DecoderConfig) -> torch.Tensor:
    """Concatenate already computed features at ``config.taps`` (see :func:`decoder_features`)."""
    first = feats[config.tap]
    if not config.deep_taps:
        return first
    size = first.shape[-2:]
    return torch.cat([first, *(F.interpolate(feats[t], size=size, mode="nearest") for t in config.deep_taps)], dim=1)


def conv_layout(x: torch.Tensor) -> torch.Tensor:
    """``x (B, C, H, W)`` in channels-last memory layout on the CPU: oneDNN's own for convolutions, which
    otherwise reorders every input and output. On 2 CPU cores it makes the shipped model's 512 px pass a steady
    0.08 s, where the default layout took 0.12-0.25 s, and the original AdaIN network's 1.2x faster
    (docs/adain.md). Other devices get ``x`` as it is (on GPUs not yet measured: benchmarks/adain_gpu.py sets
    its own layout)."""
    return x.contiguous(memory_format=torch.channels_last) if x.device.type == "cpu" else x


def _conv(c_in: int, c_out: int) -> nn.Sequential:
    # Reflection padding, as in the AdaIN decoder: zero padding leaves dark borders.
    return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c_in, c_out, 3))


class Decoder(nn.Module):
    """Features ``(B, in_channels, H/s, W/s)`` -> image ``(B, 3, H, W)`` (unclamped; ~[0, 1]).

    1x1 reduction, then per level: nearest 2x upsampling and two 3x3 convs with ReLU. A mirror of the
    encoder in resolution, not in width: it is deliberately small (92 k parameters by default) for CPUs.
    """

    def __init__(self, config: DecoderConfig | None = None) -> None:
        super().__init__()
        self.config = config or DecoderConfig()
        w = self.config.widths
        layers: list[nn.Module] = [nn.Conv2d(self.config.in_channels, w[0], 1), nn.ReLU()]
        layers += [_conv(w[0], w[0]), nn.ReLU()]
        for c_in, c_out in zip(w[:-1], w[1:]):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), _conv(c_in, c_out), nn.ReLU(),
                       _conv(c_out, c_out), nn.ReLU()]
        layers += [_conv(w[-1], 3)]
        self.net = nn.Sequential(*layers)

    @property
    def stride(self) -> int:
        return 2 ** (len(self.config.widths) - 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(conv_layout(features)).contiguous()  # painted channels-last, returned in the usual layout


def check_transform(transform: str) -> None:
    """ValueError unless ``transform`` is one of :data:`TRANSFORMS`."""
    if transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")


Map = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


def transfer_map(
    content_stats: tuple[torch.Tensor, torch.Tensor],
    style_stats: tuple[torch.Tensor, torch.Tensor],
    transform: str,
    blocks: Sequence[int] | None = None,
) -> Map:
    """The linear part ``A`` of the target ``S' = A (C - mean_C) + mean_S`` (see :func:`apply_map`).

    AdaIN: the pair ``(std_C, std_S)``, each ``(B, C, 1, 1)`` (applied as ``x / std_C * std_S``, the
    paper's order, so the pictures stay bit-identical); WCT: ``cov_S^(1/2) (cov_C + eps I)^(-1/2)``
    with the content's negligible directions dropped (:func:`~brushwork.functional.wct_matrix`),
    ``(B, C, C)``, block-diagonal over ``blocks`` (channel counts per tap). The statistics are
    :meth:`AdaINNet.stats`' for that transform. Computed once per style, even when the picture is
    decoded in many tiles.
    """
    check_transform(transform)
    if transform == "wct":
        if content_stats[1].dim() != 3 or style_stats[1].dim() != 3:
            raise ValueError("transform 'wct' needs (mean, cov) statistics: AdaINNet.stats(x, 'wct')")
        return wct_matrix(content_stats[1], style_stats[1], blocks=blocks)
    if content_stats[1].dim() != 4 or style_stats[1].dim() != 4:
        raise ValueError("transform 'adain' needs (mean, std) statistics: AdaINNet.stats(x)")
    return content_stats[1], style_stats[1]


def apply_map(centred: torch.Tensor, a: Map) -> torch.Tensor:
    """``A (C - mean_C)`` for features ``centred (B, C, H, W)`` and :func:`transfer_map`'s ``A``."""
    if isinstance(a, tuple):  # AdaIN: one scale per channel
        return centred / a[0] * a[1]
    b, c, h, w = centred.shape
    return (a @ centred.reshape(b, c, h * w)).reshape(b, c, h, w)


def _block_diag(mats: list[torch.Tensor]) -> torch.Tensor:
    """``(B, n_i, n_i)`` matrices -> ``(B, sum n_i, sum n_i)`` block-diagonal (``torch.block_diag`` has no batch)."""
    if len(mats) == 1:
        return mats[0]
    n = sum(m.shape[-1] for m in mats)
    out = mats[0].new_zeros(mats[0].shape[0], n, n)
    i = 0
    for m in mats:
        k = m.shape[-1]
        out[:, i:i + k, i:i + k] = m
        i += k
    return out


class AdaINNet(nn.Module):
    """Encoder (frozen) + AdaIN + decoder. Inference: ``net(content, style, alpha)``."""

    def __init__(self, encoder: FeatureEncoder, decoder: Decoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.tap = decoder.config.tap
        cfg = decoder.config
        unknown = [t for t in cfg.taps if t not in encoder.tap_names]
        if unknown:
            raise WeightsError(f"the decoder reads {', '.join(unknown)}, which {type(encoder).__name__} does not have "
                               f"(its config.json names encoder '{cfg.encoder}'): use the decoder with its own encoder")
        shapes = {t: encoder.tap_shape(t) for t in cfg.taps}
        if sum(c for c, _ in shapes.values()) != cfg.in_channels or shapes[cfg.tap][1] != decoder.stride:
            raise WeightsError(f"the decoder's config.json says {cfg.in_channels} channels at stride {decoder.stride} "
                               f"from {', '.join(cfg.taps)}, but the encoder gives {sum(c for c, _ in shapes.values())} "
                               f"at stride {shapes[cfg.tap][1]}: the config was edited, or belongs to another decoder")
        #: inputs are padded to multiples of this (the deepest tap's stride), so the taps' grids nest
        self.align = max([decoder.stride, *(shapes[t][1] for t in cfg.deep_taps)])
        self._channels: list[int] | None = None

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """What the decoder reads (the tap's features, and the deep taps' upsampled beside them)."""
        return decoder_features(self.encoder, conv_layout(x), self.decoder.config)

    def stats(self, x: torch.Tensor, transform: str = "adain", where: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Statistics of :meth:`features`, each tap's taken at its own resolution: ``(mean, std)``
        per channel for AdaIN, ``(mean, cov)`` for WCT (``cov`` ``(B, C, C)``, zero between taps).

        Equal to :meth:`feature_stats` of ``self.features(x)`` when ``x``'s sides are multiples of
        :attr:`align`; exact for any size (a style image is not padded). ``where``: the image's alpha
        ``(B, 1, H, W)``, if it has one; the statistics are then those of the positions it shows
        (:func:`~brushwork.functional.opaque_positions`), not of the backdrop around a drawing.
        """
        check_transform(transform)
        cfg = self.decoder.config
        feats = self.encoder(conv_layout(x), list(cfg.taps))
        masks = {t: opaque_positions(where, feats[t].shape[-2:]) for t in cfg.taps}
        if transform == "wct":
            pairs = [mean_cov(feats[t], mask=masks[t]) for t in cfg.taps]
            return torch.cat([m for m, _ in pairs], dim=1), _block_diag([c for _, c in pairs])
        pairs = [mean_std(feats[t], mask=masks[t]) for t in cfg.taps]
        return torch.cat([m for m, _ in pairs], dim=1), torch.cat([s for _, s in pairs], dim=1)

    def feature_stats(self, features: torch.Tensor, transform: str = "adain") -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`stats` of already computed :meth:`features` (e.g. a content's, padded to :attr:`align`)."""
        check_transform(transform)
        if transform != "wct":
            return mean_std(features)
        mean, cov = mean_cov(features)
        return mean, cov * self.tap_blocks(features)

    def tap_blocks(self, like: torch.Tensor) -> torch.Tensor:
        """``(C, C)`` mask, 1 within each tap's channels: WCT treats the taps apart, as AdaIN treats channels."""
        cfg = self.decoder.config
        if not cfg.deep_taps:
            return like.new_ones(cfg.in_channels, cfg.in_channels)
        return _block_diag([like.new_ones(1, n, n) for n in self.tap_channels()])[0]

    def tap_channels(self) -> list[int]:
        """Channels of each tap the decoder reads, in order (they sum to ``in_channels``)."""
        if self._channels is None:
            cfg = self.decoder.config
            self._channels = [cfg.in_channels] if not cfg.deep_taps else [self.encoder.tap_shape(t)[0] for t in cfg.taps]
        return self._channels

    def forward(self, content: torch.Tensor, style: torch.Tensor, alpha: float = 1.0,
                transform: str = "adain") -> torch.Tensor:
        """Stylize ``content (B, 3, H, W)`` with ``style (B, 3, H', W')``; ``alpha`` in [0, 1];
        ``transform`` one of :data:`TRANSFORMS`.

        ``H`` and ``W`` should be multiples of :attr:`align`; returns ``(B, 3, H, W)`` clamped.
        """
        c = self.features(content)
        c_stats = self.feature_stats(c, transform)
        s_stats = self.stats(style, transform)
        target = apply_map(c - c_stats[0], transfer_map(c_stats, s_stats, transform, self.tap_channels())) + s_stats[0]
        return self.decoder(c + alpha * (target - c)).clamp(0.0, 1.0)
