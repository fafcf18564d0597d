"""The original AdaIN network (Huang & Belongie 2017): normalised VGG-19 to relu4_1 and its mirror.

Layer indices match the published PyTorch port's files, ``vgg_normalised.pth`` (the whole
normalised VGG-19; layers past relu4_1 are ignored) and ``decoder.pth``, so those files load
unchanged from a user's disk. No checksum is published for them; their keys and shapes are checked.

Input convention: the first layer of ``vgg_normalised`` is a 1x1 convolution that turns RGB in
[0, 1] into the Caffe VGG's BGR, 0-255, mean-subtracted input. So, unlike torchvision's VGG, this
encoder takes RGB in [0, 1] with no further normalisation: the conversion lives in its weights.
Padding is by reflection, and max-pooling uses ``ceil_mode`` as in the original.
"""

from __future__ import annotations

import torch
from torch import nn

from .adain import DecoderConfig, conv_layout
from .encoders import FeatureEncoder, check_state_dict

__all__ = ["VGGNormalisedEncoder", "VGGAdaINDecoder"]

# (kind, channels) up to relu4_1; "C" = reflection pad + 3x3 conv + ReLU, "M" = max-pool.
_ENCODER = [("C", 64), ("C", 64), ("M", 0), ("C", 128), ("C", 128), ("M", 0),
            ("C", 256), ("C", 256), ("C", 256), ("C", 256), ("M", 0), ("C", 512)]
_TAPS = ["relu1_1", "relu1_2", "pool1", "relu2_1", "relu2_2", "pool2",
         "relu3_1", "relu3_2", "relu3_3", "relu3_4", "pool3", "relu4_1"]


class VGGNormalisedEncoder(FeatureEncoder):
    """Normalised VGG-19 up to ``relu4_1`` (stride 8). Taps: ``relu1_1`` ... ``relu4_1``."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, 3, 1)]
        ends: list[int] = []
        c_in = 3
        for kind, c in _ENCODER:
            if kind == "M":
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            else:
                layers += [nn.ReflectionPad2d(1), nn.Conv2d(c_in, c, 3), nn.ReLU()]
                c_in = c
            ends.append(len(layers) - 1)
        self.layers = nn.Sequential(*layers)  # indices 0..30, as in vgg_normalised.pth
        self._ends = dict(zip(_TAPS, ends))
        self._names = list(_TAPS)

    def load_backbone_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load ``vgg_normalised.pth`` (keys ``"0.weight"`` ... ; layers past relu4_1 dropped)."""
        last = len(self.layers) - 1
        odd = next((k for k in state_dict if not k.split(".")[0].isdigit()), None)
        if odd is not None:  # torchvision's vgg19 ("features.0.weight"), a DataParallel save ("module....")
            raise ValueError(f"these weights are not vgg_normalised.pth (a key '{odd[:40]}', where that file numbers its "
                             "layers '0.weight' ...): give the original AdaIN release's vgg_normalised.pth")
        sd = {f"layers.{k}": v for k, v in state_dict.items() if int(k.split(".")[0]) <= last}
        self.load_state_dict(check_state_dict(self, sd, "vgg19-adain (vgg_normalised.pth)"))

    def forward(self, x: torch.Tensor, taps):  # type: ignore[override]
        wanted = self._check_taps(taps)
        last = max(self._ends[t] for t in wanted)
        by_index = {self._ends[t]: t for t in wanted}
        out: dict[str, torch.Tensor] = {}
        h = x
        for i in range(last + 1):
            h = self.layers[i](h)
            if i in by_index:
                out[by_index[i]] = h
        return out


class VGGAdaINDecoder(nn.Sequential):
    """The AdaIN paper's decoder: relu4_1 features (512 ch, /8) -> RGB; keys as in ``decoder.pth``."""

    config = DecoderConfig(encoder="vgg19-adain", tap="relu4_1", in_channels=512, widths=(256, 128, 64, 64))
    stride = 8

    def __init__(self) -> None:
        def conv(a: int, b: int, relu: bool = True) -> list[nn.Module]:
            return [nn.ReflectionPad2d(1), nn.Conv2d(a, b, 3)] + ([nn.ReLU()] if relu else [])

        def up() -> nn.Module:
            return nn.Upsample(scale_factor=2, mode="nearest")

        super().__init__(
            *conv(512, 256), up(),
            *conv(256, 256), *conv(256, 256), *conv(256, 256), *conv(256, 128), up(),
            *conv(128, 128), *conv(128, 64), up(),
            *conv(64, 64), *conv(64, 3, relu=False),
        )

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return super().forward(conv_layout(features)).contiguous()
