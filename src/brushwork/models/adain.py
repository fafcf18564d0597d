"""AdaIN (Huang & Belongie, ICCV 2017) decoders and the feed-forward stylization network.

The encoder gives content features C and style features S at one tap; AdaIN re-normalises C to S's
channel statistics, S' = AdaIN(C, S); the blend ``C + a (S' - C)`` goes through a decoder trained to
paint images from such features.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..functional import adain
from .encoders import FeatureEncoder

__all__ = ["DecoderConfig", "Decoder", "AdaINNet"]


@dataclass(frozen=True)
class DecoderConfig:
    """Rebuilds a decoder; saved as ``config.json`` beside ``model.safetensors``.

    Attributes:
        encoder: registry name of the encoder whose features it decodes.
        tap: the encoder tap (default ``block5.expand``: 240 channels at stride 8 on Lite0, which
            beat ``block8.expand`` and ``block11.expand`` (stride 16) on every measure; docs/adain.md).
        in_channels: channels at that tap.
        widths: channels after the 1x1 reduction and after each 2x upsampling; ``len(widths) - 1``
            upsamplings, so ``2 ** (len(widths) - 1)`` must equal the tap's stride.
    """

    encoder: str = "efficientnet-lite0"
    tap: str = "block5.expand"
    in_channels: int = 240
    widths: tuple[int, ...] = (64, 32, 16, 16)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
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
        return cls(**d)


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
        return self.net(features)


class AdaINNet(nn.Module):
    """Encoder (frozen) + AdaIN + decoder. Inference: ``net(content, style, alpha)``."""

    def __init__(self, encoder: FeatureEncoder, decoder: Decoder) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.tap = decoder.config.tap

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x, [self.tap])[self.tap]

    def forward(self, content: torch.Tensor, style: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        """Stylize ``content (B, 3, H, W)`` with ``style (B, 3, H', W')``; ``alpha`` in [0, 1].

        ``H`` and ``W`` should be multiples of the decoder's stride; returns ``(B, 3, H, W)`` clamped.
        """
        c = self.features(content)
        t = c + alpha * (adain(c, self.features(style)) - c)
        return self.decoder(t).clamp(0.0, 1.0)
