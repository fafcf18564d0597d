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
        tap: the encoder tap (e.g. ``block8.expand``: 480 channels at stride 16 on Lite0).
        in_channels: channels at that tap.
        widths: channels after the 1x1 reduction and after each 2x upsampling; ``len(widths) - 1``
            upsamplings, so ``2 ** (len(widths) - 1)`` must equal the tap's stride.
    """

    encoder: str = "efficientnet-lite0"
    tap: str = "block8.expand"
    in_channels: int = 480
    widths: tuple[int, ...] = (128, 64, 32, 16, 16)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["widths"] = list(self.widths)
        return d

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
    encoder in resolution, not in width: it is deliberately small (~0.35 M parameters) for CPUs.
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
