"""Colour harmony: which classic hue relation a palette follows, what would complete it, and contrast.

Hues are OKLCH hues (perceptual, unlike HSV's). Colours with chroma under ``GREY_CHROMA`` are greys
and carry no hue; they do not count for or against a harmony. Each harmony is a set of hue arcs
around a base hue that is searched over the circle (1 degree steps):

=====================  ==========================  ============
harmony                arcs (centre +- half-width)  completes with
=====================  ==========================  ============
monochrome             0 +- 12                      -
analogous              0 +- 35                      -
complementary          0, 180 (+- 15)               the missing side
split-complementary    0, 150, 210 (+- 15)          the missing hues
triadic                0, 120, 240 (+- 15)          the missing hues
tetradic               0, 90, 180, 270 or           the missing hues
                       0, 60, 180, 240 (+- 15)
=====================  ==========================  ============

A palette's **fit** to a placement is the share-weighted mean of ``exp(-(d / 15)^2)``, ``d`` each
hue's distance in degrees outside the nearest arc; its **coverage** is the fraction of arcs that hold
a colour. The score is fit x coverage, so two hues score at most 2/3 for triadic; when nothing fits
better, the label is the incomplete set and the reason names the hues it lacks. The label is the best
score, the simpler harmony winning within 0.05 (listed first above).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import BrushworkError
from .palette import Palette
from .spaces import contrast_ratio, hex_to_rgb, linear_to_srgb, oklab_to_linear, oklch_to_oklab, rgb_to_hex

__all__ = ["HARMONIES", "HarmonyResult", "classify", "complete", "contrast_table"]

GREY_CHROMA = 0.03
HARMONIES: dict[str, list[list[tuple[float, float]]]] = {
    "monochrome": [[(0, 12)]],
    "analogous": [[(0, 35)]],
    "complementary": [[(0, 15), (180, 15)]],
    "split-complementary": [[(0, 15), (150, 15), (210, 15)]],
    "triadic": [[(0, 15), (120, 15), (240, 15)]],
    "tetradic": [[(0, 15), (90, 15), (180, 15), (270, 15)], [(0, 15), (60, 15), (180, 15), (240, 15)]],
}


def _hue_dist(a: np.ndarray, b: float) -> np.ndarray:
    d = np.abs((a - b) % 360.0)
    return np.minimum(d, 360.0 - d)


@dataclass(frozen=True)
class HarmonyResult:
    """The best harmony, every harmony's score with its base hue, and why."""

    label: str
    score: float
    base_hue: float
    scores: dict[str, tuple[float, float]]  # name -> (score, base hue)
    reason: str

    def to_dict(self) -> dict:
        return {"harmony": self.label, "score": round(self.score, 3),
                "base_hue": None if self.label == "achromatic" else round(self.base_hue, 1),
                "reason": self.reason,
                "scores": {k: {"score": round(s, 3), "base_hue": round(h, 1)} for k, (s, h) in self.scores.items()}}


def _chromatic(palette: Palette) -> tuple[np.ndarray, np.ndarray]:
    lch = palette.oklch
    keep = lch[:, 1] >= GREY_CHROMA
    return lch[keep, 2], palette.shares[keep]


def _fit(hues: np.ndarray, w: np.ndarray, arcs: list[tuple[float, float]], base: float) -> tuple[float, float]:
    d = np.stack([np.maximum(_hue_dist(hues, base + c) - hw, 0.0) for c, hw in arcs])  # (arcs, colours)
    fit = float((np.exp(-((d.min(0) / 15.0) ** 2)) * w).sum() / w.sum())
    coverage = float((d.min(1) == 0).mean())
    return fit, coverage


def _placement(hues: np.ndarray, w: np.ndarray, variants: list) -> tuple[float, float, list]:
    """``(score, base, arcs)``: where a harmony's set fits ``hues`` best (score: fit x coverage), and among
    equal scores (a set whose arcs hold the hues over a stretch of bases) where the hues sit closest to the
    arcs' centres: the middle of the stretch, which :func:`classify` names and :func:`complete` fills."""
    best, where = (-1.0, -1.0), (0.0, variants[0])
    for arcs in variants:
        centres = [(c, 0.0) for c, _ in arcs]
        for base in np.arange(0.0, 360.0, 1.0):
            fit, cov = _fit(hues, w, arcs, base)
            key = (round(fit * cov, 9), _fit(hues, w, centres, base)[0])
            if key > best:
                best, where = key, (float(base), arcs)
    return best[0], where[0], where[1]


def classify(palette: Palette | list[str]) -> HarmonyResult:
    """Label ``palette``'s hue relation (a :class:`Palette`, or hex colours such as ``["#1e90ff"]``).

    A palette of greys alone (every chroma under ``GREY_CHROMA``: a black-and-white photo, a pencil
    drawing) is the achromatic scheme: label ``"achromatic"``, score 1, no per-harmony scores.
    """
    palette = Palette.of(palette)
    hues, w = _chromatic(palette)
    if hues.size == 0:
        return HarmonyResult("achromatic", 1.0, 0.0, {},
                             f"every colour is a grey (OKLCH chroma under {GREY_CHROMA}): an achromatic scheme, "
                             "no hue relation to name")
    scores: dict[str, tuple[float, float]] = {}
    sets: dict[str, list] = {}  # the variant that fitted (tetradic: a square or a rectangle)
    for name, variants in HARMONIES.items():
        score, base, sets[name] = _placement(hues, w, variants)
        scores[name] = (score, base)
    names = list(HARMONIES)
    top = max(s for s, _ in scores.values())
    label = next(n for n in names if scores[n][0] >= top - 0.05)
    score, base = scores[label]
    hue_list = ", ".join(f"{h:.0f}" for h in sorted(hues))
    arcs = sets[label]
    centres = ", ".join(f"{(base + c) % 360:.0f}" for c, _ in arcs)
    reason = (f"chromatic hues {hue_list} (OKLCH degrees) fit the {label} set at {centres} "
              f"with score {score:.2f}")
    d = np.stack([_hue_dist(hues, base + c) - hw for c, hw in arcs])  # (arcs, colours)
    empty = [f"{(base + c) % 360:.0f}" for (c, _), row in zip(arcs, d) if not (row <= 0).any()]
    if empty:
        reason += (f"; it holds {len(arcs) - len(empty)} of the set's {len(arcs)} hues: add "
                   f"a hue near {' and '.join(empty)} degrees to complete it (--complete {label})")
    if len(hues) < len(palette):
        reason += f"; {len(palette) - len(hues)} grey(s) ignored"
    return HarmonyResult(label, score, base, scores, reason)


def complete(palette: Palette | list[str], harmony: str) -> list[dict]:
    """Colours that would complete ``harmony``: one per arc that holds no palette colour.

    Each suggestion takes the arc's centre hue and the median lightness and chroma of the palette's
    chromatic colours (reduced to the most sRGB shows, if more; at the nearest lightness where the hue has
    colour, if it would be a grey there). Returns ``[{"hex", "hue", "reason"}]``.

    Raises:
        BrushworkError: unknown harmony name, or an all-grey palette.
    """
    if harmony not in HARMONIES:
        raise BrushworkError(f"unknown harmony '{harmony}': choose one of {', '.join(HARMONIES)}")
    palette = Palette.of(palette)
    hues, w = _chromatic(palette)
    if hues.size == 0:
        raise BrushworkError("the palette is all greys (no colour has chroma): pick a base colour first")
    lch = palette.oklch[palette.oklch[:, 1] >= GREY_CHROMA]
    light, chroma = float(np.median(lch[:, 0])), float(np.median(lch[:, 1]))
    _, base, arcs = _placement(hues, w, HARMONIES[harmony])  # (where classify places it)
    out = []
    for c, hw in arcs:
        centre = (base + c) % 360
        if (_hue_dist(hues, centre) <= hw).any():
            continue
        # the palette's chroma at its lightness, or the most that sRGB shows there; where that would be a grey
        # (a blue at the lightness of a yellow), the lightness nearest the palette's at which the hue has colour
        at = light if _gamut_chroma(light, centre) >= 2 * GREY_CHROMA else min(
            np.linspace(0.05, 0.95, 91), key=lambda v: (_gamut_chroma(v, centre) < 2 * GREY_CHROMA, abs(v - light)))
        cc = min(chroma, _gamut_chroma(at, centre))
        lin = oklab_to_linear(oklch_to_oklab(np.array([at, cc, centre])))
        rgb = linear_to_srgb(np.clip(lin, 0.0, 1.0))
        out.append({"hex": rgb_to_hex(np.clip(rgb, 0, 1)), "hue": round(float(centre), 1),
                    "reason": f"the {harmony} set based at {base:.0f} has no colour near hue {centre:.0f}"})
    if out:  # the palette's own hues may lie off the set's arcs: no colour added moves them
        fit = classify(Palette.from_hex([*palette.hex, *(o["hex"] for o in out)])).scores[harmony][0]
        if fit < 0.95:
            for o in out:
                o["reason"] += (f" (with the additions the palette fits {harmony} at {fit:.2f} only: its own hues lie "
                                "off the set's arcs)")
    return out


def _gamut_chroma(light: float, hue: float) -> float:
    """The most OKLCH chroma sRGB shows at ``light`` and ``hue`` (bisection to 1e-5)."""
    lo, hi = 0.0, 0.4
    for _ in range(16):
        mid = (lo + hi) / 2
        lin = oklab_to_linear(oklch_to_oklab(np.array([light, mid, hue])))  # (oklab_to_rgb clips below 0)
        lo, hi = (mid, hi) if (lin >= -1e-6).all() and (lin <= 1 + 1e-6).all() else (lo, mid)
    return lo


def contrast_table(palette: Palette | list[str]) -> list[dict]:
    """WCAG 2.x contrast of every pair of palette colours (a :class:`Palette` or hex colours), highest first,
    with AA/AAA pass or fail
    (normal text: AA >= 4.5, AAA >= 7; large text: AA >= 3, AAA >= 4.5)."""
    rows = []
    palette = Palette.of(palette)
    hexes = palette.hex
    for i in range(len(palette)):
        for j in range(i + 1, len(palette)):
            r = contrast_ratio(hex_to_rgb(hexes[i]), hex_to_rgb(hexes[j]))  # the colours shown, as they are used
            # shown to two decimals rounded down, as WCAG compares the ratio unrounded (2.998 is not 3:1)
            rows.append({"foreground": hexes[i], "background": hexes[j], "ratio": math.floor(r * 100) / 100,
                         "AA": r >= 4.5, "AAA": r >= 7.0, "AA_large": r >= 3.0, "AAA_large": r >= 4.5})
    return sorted(rows, key=lambda r: -r["ratio"])
