"""Image classifiers: the worked example's CNN (fixed), a stronger small CNN, EfficientNet-Lite0 transfer.

Inputs are ``(B, C, H, W)`` in [0, 1] with ``C = config.in_channels`` (1 for digits and clothes, 3 for
photos); normalisation happens inside. Outputs are logits ``(B, num_classes)``: the softmax (and the
cross-entropy) belongs to the loss, not the model.

The worked example, as usually written, ends in ``Dense(1, activation="sigmoid")`` trained with binary
cross-entropy on ten classes; that head cannot represent ten classes. ``seed-cnn`` keeps its body
(three 3x3 conv + 2x2 max-pool blocks with 32/64/128 filters, a dense layer of 128) and gives it a
10-way head trained with softmax cross-entropy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

__all__ = ["ClassifierConfig", "build_classifier", "ARCHITECTURES"]

ARCHITECTURES = ("seed-cnn", "small-cnn", "efficientnet-lite0")


@dataclass(frozen=True)
class ClassifierConfig:
    """Rebuilds a classifier; saved as ``config.json`` beside ``model.safetensors``."""

    arch: str = "seed-cnn"
    num_classes: int = 10
    in_channels: int = 1
    size: int = 28  # input side the model was trained at (images are resized to it)
    dropout: float = 0.25
    classes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["classes"] = list(self.classes)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ClassifierConfig:
        d = dict(d)
        d["classes"] = tuple(d.get("classes", ()))
        return cls(**d)


def _block(c_in: int, c_out: int, bn: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(nn.ReLU(inplace=True))
    return layers


class SeedCNN(nn.Module):
    """The worked example's CNN with a proper ``num_classes``-way head (about 0.24 M parameters at 28 px)."""

    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(cfg.in_channels, 32, False), nn.MaxPool2d(2),
            *_block(32, 64, False), nn.MaxPool2d(2),
            *_block(64, 128, False), nn.MaxPool2d(2),
        )
        side = cfg.size // 8
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(128 * side * side, 128), nn.ReLU(inplace=True),
                                  nn.Dropout(cfg.dropout), nn.Linear(128, cfg.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x - 0.5))


class SmallCNN(nn.Module):
    """A stronger small CNN: two 3x3 convs per stage with batch norm (32, 64, 128), global average
    pooling, dropout; about 0.29 M parameters, any input size."""

    def __init__(self, cfg: ClassifierConfig) -> None:
        super().__init__()
        self.features = nn.Sequential(
            *_block(cfg.in_channels, 32, True), *_block(32, 32, True), nn.MaxPool2d(2),
            *_block(32, 64, True), *_block(64, 64, True), nn.MaxPool2d(2),
            *_block(64, 128, True), *_block(128, 128, True),
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(cfg.dropout),
                                  nn.Linear(128, cfg.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x - 0.5))


class LiteTransfer(nn.Module):
    """EfficientNet-Lite0 (ImageNet weights, offline) up to its last stage + a new linear head.

    Grey inputs are repeated to three channels; the encoder normalises its own input. The encoder's
    batch norms are folded (frozen statistics), so fine-tuning changes convolution weights only.
    """

    def __init__(self, cfg: ClassifierConfig, encoder: nn.Module | None = None) -> None:
        super().__init__()
        if encoder is None:
            from ..models.encoders import build_encoder

            # the layout of a fine-tuned checkpoint: batch norms folded into the convs
            encoder = build_encoder("efficientnet-lite0").fuse_batchnorm()
        self.encoder = encoder
        self.in_channels = cfg.in_channels
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(cfg.dropout),
                                  nn.Linear(320, cfg.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_channels == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.head(self.encoder(x, ["block15"])["block15"])


def build_classifier(cfg: ClassifierConfig, *, pretrained: bool = False) -> nn.Module:
    """A classifier for ``cfg``; ``pretrained`` loads Lite0's ImageNet weights (offline, sha256-checked).

    Raises:
        ValueError: unknown architecture.
    """
    if cfg.arch == "seed-cnn":
        return SeedCNN(cfg)
    if cfg.arch == "small-cnn":
        return SmallCNN(cfg)
    if cfg.arch == "efficientnet-lite0":
        encoder = None
        if pretrained:
            from ..weights import load_encoder

            encoder = load_encoder("efficientnet-lite0")
            for p in encoder.parameters():
                p.requires_grad_(True)
        return LiteTransfer(cfg, encoder)
    raise ValueError(f"unknown architecture {cfg.arch!r}: choose one of {', '.join(ARCHITECTURES)}")
