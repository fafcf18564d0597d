"""ResNet-50 feature encoder with torchvision's key layout (``layer1.0.conv1.weight`` ...)."""

from __future__ import annotations

import torch
from torch import nn

from .encoders import FeatureEncoder, check_state_dict
from .vgg import IMAGENET_MEAN, IMAGENET_STD

__all__ = ["ResNet50Encoder"]


class Bottleneck(nn.Module):
    """torchvision's v1.5 bottleneck (stride on the 3x3 conv)."""

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1) -> None:
        super().__init__()
        c_out = width * self.expansion
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.downsample: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet50Encoder(FeatureEncoder):
    """ResNet-50 encoder. Taps: ``conv1`` (/2), ``layer1`` (/4) ... ``layer4`` (/32)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        c_in = 64
        for i, (width, blocks, stride) in enumerate([(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]):
            layer = []
            for b in range(blocks):
                layer.append(Bottleneck(c_in, width, stride if b == 0 else 1))
                c_in = width * Bottleneck.expansion
            setattr(self, f"layer{i + 1}", nn.Sequential(*layer))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self._names = ["conv1", "layer1", "layer2", "layer3", "layer4"]

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x)) / self.std.to(x)

    def load_backbone_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load a torchvision ResNet-50 state dict; the ``fc`` head is ignored."""
        sd = check_state_dict(self, state_dict, "resnet50", ignore_prefixes=("fc.",))
        self.load_state_dict(sd)

    def forward(self, x: torch.Tensor, taps):  # type: ignore[override]
        wanted = self._check_taps(taps)
        last = max(self._names.index(t) for t in wanted)
        out: dict[str, torch.Tensor] = {}
        h = self.relu(self.bn1(self.conv1(self.normalize(x))))
        if "conv1" in wanted:
            out["conv1"] = h
        h = self.maxpool(h)
        for i in range(1, last + 1):
            h = getattr(self, f"layer{i}")(h)
            if f"layer{i}" in wanted:
                out[f"layer{i}"] = h
        return out
