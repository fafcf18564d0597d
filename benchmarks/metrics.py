"""Quality measures for style transfer, computed with a network other than the one optimised.

* style distance (``style``; per stage in ``style_stages``): mean over EfficientNet-Lite1's stage1..stage5 of the relative Gram error
  ``||G(out) - G(style)||^2 / ||G(style)||^2`` (lower is a closer style match);
* content distance: relative feature error at Lite1's stage4 and stage5, ``||F(out) - F(content)||^2 /
  ||F(content)||^2`` (lower keeps more content);
* high-frequency energy: mean squared Laplacian of the output (lower is less speckle).
"""

from __future__ import annotations

import torch

from brushwork.functional import gram_matrix, laplacian_energy
from brushwork.imaging.resampling import fit_long_side, resize
from brushwork.weights import load_encoder

STYLE_TAPS = ("stage1", "stage2", "stage3", "stage4", "stage5")
CONTENT_TAPS = ("stage4", "stage5")


class Judge:
    def __init__(self, name: str = "efficientnet-lite1") -> None:
        self.net = load_encoder(name)
        self.name = name

    @torch.no_grad()
    def __call__(self, out: torch.Tensor, content: torch.Tensor, style: torch.Tensor) -> dict[str, float]:
        c = resize(content, (out.shape[-1], out.shape[-2]))
        sw, sh = fit_long_side(style.shape[-1], style.shape[-2], max(out.shape[-2:]))
        s = resize(style, (sw, sh))
        fo = self.net(out, STYLE_TAPS + CONTENT_TAPS)
        fs = self.net(s, STYLE_TAPS)
        fc = self.net(c, CONTENT_TAPS)
        stages = [
            float((gram_matrix(fo[t]) - gram_matrix(fs[t])).pow(2).sum() / gram_matrix(fs[t]).pow(2).sum())
            for t in STYLE_TAPS
        ]
        content_d = sum(
            float((fo[t] - fc[t]).pow(2).sum() / fc[t].pow(2).sum()) for t in CONTENT_TAPS
        ) / len(CONTENT_TAPS)
        return {"style": sum(stages) / len(stages), "style_stages": stages, "content": content_d, "hf": float(laplacian_energy(out)[0])}
