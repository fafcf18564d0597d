"""Resizing tensors with antialiasing. Sizes are ``(width, height)`` like Pillow's."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["fit_long_side", "resize"]


def fit_long_side(width: int, height: int, long_side: int) -> tuple[int, int]:
    """``(width, height)`` scaled so that the longer side is ``long_side``, aspect ratio kept.

    Each side is at least 1 pixel.
    """
    if long_side <= 0:
        raise ValueError(f"long_side must be positive, got {long_side}")
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize ``(B, C, H, W)`` to ``size = (width, height)``; antialiased bicubic, clamped to [0, 1].

    Returns ``x`` itself when the size already matches.
    """
    width, height = size
    if x.shape[-2:] == (height, width):
        return x
    out = F.interpolate(x, size=(height, width), mode="bicubic", align_corners=False, antialias=True)
    return out.clamp(0.0, 1.0)
