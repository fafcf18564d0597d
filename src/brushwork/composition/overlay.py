"""An overlay for checking a composition by eye: saliency heat map, thirds grid, suggested crops."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .analysis import Crop, resize_map, working_saliency

__all__ = ["draw_overlay"]

_CROP_COLOURS = [(255, 214, 10), (0, 200, 255), (255, 80, 160), (120, 255, 90), (255, 140, 0)]


def draw_overlay(rgb: np.ndarray, crops: list[Crop], *, heat: float = 0.45,
                 saliency: np.ndarray | None = None) -> Image.Image:
    """``rgb (H, W, 3)`` in [0, 1] with the saliency as a red heat map (opacity ``heat``), the
    rule-of-thirds grid, and each crop's box labelled with its ratio and score (``saliency``: the
    picture's ``working_saliency``, if already computed)."""
    h, w = rgb.shape[:2]
    sal = resize_map(working_saliency(rgb) if saliency is None else saliency, w, h)
    base = np.clip(rgb, 0, 1)
    red = np.zeros_like(base)
    red[..., 0] = 1.0
    mix = base * (1 - heat * sal[..., None]) + red * heat * sal[..., None]
    img = Image.fromarray((mix * 255 + 0.5).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    line = max(1, round(max(w, h) / 400))
    for f in (1 / 3, 2 / 3):
        draw.line([(round(w * f), 0), (round(w * f), h)], fill=(255, 255, 255), width=line)
        draw.line([(0, round(h * f)), (w, round(h * f))], fill=(255, 255, 255), width=line)
    for i, c in enumerate(crops):
        colour = _CROP_COLOURS[i % len(_CROP_COLOURS)]
        l, t, r, b = c.box
        draw.rectangle([l, t, r - 1, b - 1], outline=colour, width=2 * line)
        draw.text((l + 4 * line, t + 4 * line), f"{c.ratio} {c.score:.2f}", fill=colour)
    return img
