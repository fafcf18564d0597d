"""Which style suits this photo? Rank style images by colour and texture compatibility.

For a content photo and each candidate style:

* **colour**: the mean OKLab distance between the two palettes (k = 6, each colour to its nearest in
  the other palette, both ways, share-weighted). Close palettes transfer without a jarring cast;
  score ``exp(-d / 0.12)``;
* **texture**: the ratio of the images' detail energy (mean gradient magnitude of the lightness on a
  256 px copy). A style far busier than the photo buries it, a far flatter one washes it out; score
  ``exp(-|log ratio| / 1.2)``.

The rank is by ``0.6 colour + 0.4 texture``. The proposed strength starts at 0.8 and drops by up to
0.3 as the colour distance grows (a distant palette at full strength repaints everything), and the
proposed palette is the style's. Each number comes with its reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .palette import Palette, extract_palette
from .spaces import rgb_to_oklab

__all__ = ["StyleSuggestion", "rank_styles", "palette_distance", "palette_words", "detail_energy"]


def palette_distance(a: Palette, b: Palette) -> float:
    """Symmetric, share-weighted mean OKLab distance from each colour to the other palette's nearest."""
    d = np.linalg.norm(a.oklab[:, None] - b.oklab[None], axis=2)
    return float(0.5 * ((d.min(1) * a.shares).sum() + (d.min(0) * b.shares).sum()))


def detail_energy(rgb: np.ndarray) -> float:
    """Mean gradient magnitude of OKLab lightness on a copy 256 px on the long side."""
    from ..composition.analysis import _small

    light = rgb_to_oklab(_small(rgb, 256).astype(np.float64))[..., 0]
    gx, gy = np.diff(light, axis=1)[:-1], np.diff(light, axis=0)[:, :-1]
    return float(np.hypot(gx, gy).mean())


@dataclass(frozen=True)
class StyleSuggestion:
    style: str
    score: float
    colour: float
    texture: float
    strength: float
    palette: list[str]
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"style": self.style, "score": round(self.score, 3), "colour": round(self.colour, 3),
                "texture": round(self.texture, 3), "strength": self.strength, "palette": self.palette,
                "reasons": self.reasons}


def palette_words(dist: float) -> tuple[str, str]:
    """How far apart two palettes ``dist`` apart in OKLab are, and what that says of the strength: one band for
    both (close below 0.08, far from 0.16)."""
    if dist < 0.08:
        return "close", "the palettes agree, so the style can go far"
    if dist < 0.16:
        return "moderately apart", ("the palettes differ a little: a little less than full keeps some of the photo's "
                                    "colour")
    return "far apart", "a distant palette at full strength would repaint every colour"


def rank_styles(content: np.ndarray | tuple[np.ndarray, np.ndarray | None],
                styles: Mapping[str, np.ndarray | tuple[np.ndarray, np.ndarray | None]]
                | Iterable[tuple[str, np.ndarray | tuple[np.ndarray, np.ndarray | None]]], *,
                seed: int = 0) -> list[StyleSuggestion]:
    """Rank ``styles`` for ``content`` (``(H, W, 3)`` in [0, 1], or ``(rgb, alpha)``); best first.

    ``styles`` maps a name to an image ``(H, W, 3)`` or ``(rgb, alpha)``, or is an iterable of such ``(name,
    image)`` pairs (a generator that reads one picture at a time: a folder of thousands need not be held at once):
    transparent pixels of the photo or of a style (a cut-out figure, say) do not count towards its palette.
    """
    content, c_alpha = content if isinstance(content, tuple) else (content, None)
    c_pal = extract_palette(content, c_alpha, k=6, seed=seed, at_most=True)
    c_detail = detail_energy(content)
    out = []
    for name, item in (styles.items() if isinstance(styles, Mapping) else styles):
        rgb, alpha = item if isinstance(item, tuple) else (item, None)
        s_pal = extract_palette(rgb, alpha, k=6, seed=seed, at_most=True)
        dist = palette_distance(c_pal, s_pal)
        colour = float(np.exp(-dist / 0.12))
        ratio = (detail_energy(rgb) + 1e-4) / (c_detail + 1e-4)  # (flat beside flat: alike, not 0/0 scored as worst)
        texture = float(np.exp(-abs(np.log(max(ratio, 1e-6))) / 1.2))
        strength = round(float(np.clip(0.8 - 0.3 * min(1.0, dist / 0.25), 0.5, 0.8)), 2)
        apart, advice = palette_words(dist)
        reasons = [
            f"palettes {dist:.3f} apart in OKLab ({apart}): colour score {colour:.2f}",
            f"the style has {ratio:.1f}x the photo's detail "
            f"({'similar' if 0.6 < ratio < 1.7 else 'much busier' if ratio >= 1.7 else 'much flatter'}): texture score {texture:.2f}",
            f"strength {strength}: {advice}",
        ]
        out.append(StyleSuggestion(os.fspath(name), 0.6 * colour + 0.4 * texture, colour, texture, strength,
                                   s_pal.hex, reasons))
    return sorted(out, key=lambda s: -s.score)
