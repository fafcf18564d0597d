"""An overlay for checking a composition by eye: saliency heat map, thirds grid, suggested crops."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .analysis import Crop, working_saliency

__all__ = ["draw_overlay"]

_CROP_COLOURS = [(255, 214, 10), (0, 200, 255), (255, 80, 160), (120, 255, 90), (255, 140, 0)]


def draw_overlay(rgb: np.ndarray | Image.Image, crops: list[Crop], *, heat: float = 0.45,
                 saliency: np.ndarray | None = None) -> Image.Image:
    """``rgb (H, W, 3)`` in [0, 1] (or uint8, or an RGB PIL image: a large photo drawn on without float copies)
    with the saliency as a red heat map (opacity ``heat``), the rule-of-thirds grid, and each crop's box
    labelled with its ratio and score (``saliency``: the picture's ``working_saliency``, if already computed)."""
    if isinstance(rgb, Image.Image):
        img = rgb.convert("RGB")
    else:
        from ..imaging.io import unit_floats

        arr = np.asarray(rgb)
        if arr.ndim == 2:  # (a grey picture)
            arr = np.repeat(arr[..., None], 3, axis=2)
        if arr.dtype != np.uint8:
            arr = (np.clip(unit_floats(arr, shape="rgb"), 0, 1) * 255 + 0.5).astype(np.uint8)
        elif arr.ndim != 3 or arr.shape[2] != 3:
            unit_floats(arr, shape="rgb")  # (says what the shape should be)
        img = Image.fromarray(arr)
    w, h = img.size
    if saliency is None:
        saliency = working_saliency(np.asarray(img, np.float32) / 255.0)
    # the heat map's opacity, 0-255, enlarged as 8-bit (a float map of a 64 MP photo is 256 MB)
    amount = Image.fromarray((np.clip(saliency, 0, 1) * heat * 255 + 0.5).astype(np.uint8), "L")
    img = Image.composite(Image.new("RGB", (w, h), (255, 0, 0)), img,
                          amount.resize((w, h), Image.Resampling.BILINEAR))
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
