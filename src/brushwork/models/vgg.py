"""VGG16/VGG19 feature encoders with torchvision's layer layout (``features.N.weight`` keys).

torchvision is not a dependency (it does not import beside the CPU wheel brushwork installs), so the
layer stack is declared here; a torchvision ``vgg19-dcbb9e9d.pth`` state dict loads unchanged.
Taps follow the names used in the style-transfer literature: ``conv3_1``, ``relu3_1``, ``pool3``...
"""

from __future__ import annotations

import torch
from torch import nn

from .encoders import FeatureEncoder, check_state_dict

__all__ = ["VGGEncoder", "VGG_CONFIGS"]

VGG_CONFIGS: dict[int, list[int | str]] = {
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
         512, 512, 512, 512, "M"],
}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGGEncoder(FeatureEncoder):
    """VGG feature encoder. Input RGB in [0, 1]; ImageNet mean/std normalisation inside.

    Max-pooling is kept (the Gatys paper's average pooling is a departure we do not take by default:
    torchvision weights were trained with max-pooling).
    """

    def __init__(self, depth: int = 19) -> None:
        super().__init__()
        if depth not in VGG_CONFIGS:
            raise ValueError(f"VGG depth must be one of {sorted(VGG_CONFIGS)}, got {depth}")
        self.depth = depth
        layers: list[nn.Module] = []
        names: list[str] = []
        block, idx, c_in = 1, 1, 3
        for v in VGG_CONFIGS[depth]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                names.append(f"pool{block}")
                block, idx = block + 1, 1
            else:
                layers += [nn.Conv2d(c_in, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                names += [f"conv{block}_{idx}", f"relu{block}_{idx}"]
                c_in, idx = int(v), idx + 1
        # Same indices as torchvision's ``vgg.features`` so its keys load as they are.
        self.features = nn.Sequential(*layers)
        self._names = names
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x)) / self.std.to(x)

    def load_backbone_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load a torchvision VGG state dict; the classifier head is ignored."""
        sd = check_state_dict(self, state_dict, f"vgg{self.depth}", ignore_prefixes=("classifier.",))
        self.load_state_dict(sd)

    def forward(self, x: torch.Tensor, taps):  # type: ignore[override]
        wanted = self._check_taps(taps)
        last = max(self._names.index(t) for t in wanted)
        out: dict[str, torch.Tensor] = {}
        h = self.normalize(x)
        for i in range(last + 1):
            h = self.features[i](h)
            if self._names[i] in wanted:
                out[self._names[i]] = h
        return out
