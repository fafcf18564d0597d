"""Differentiable augmentation for GANs trained on little data (Zhao et al. 2020, "DiffAugment").

The same random transforms are applied to real and generated images before the discriminator sees
them, and they are differentiable, so the generator still learns through them. The discriminator
cannot memorise a small training set, and because both sides are augmented the generator is not
pushed to produce augmented-looking images. Policies (comma-separated):

* ``color``: brightness + U(-0.5, 0.5), saturation x U(0, 2), contrast x U(0.5, 1.5), per image;
* ``translation``: shift by up to 1/8 of the side, zero-padded;
* ``cutout``: a square of half the side set to zero at a random place.

Images are in [-1, 1] as the GAN sees them. Written from the paper's description.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["diff_augment", "POLICIES"]

POLICIES = ("color", "translation", "cutout")


def _rand(n: int, x: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, generator=gen, device="cpu").to(x)


def _color(x: torch.Tensor, gen: torch.Generator | None) -> torch.Tensor:
    n = x.shape[0]
    x = x + (_rand(n, x, gen) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(n, x, gen) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(n, x, gen) + 0.5) + mean


def _translation(x: torch.Tensor, gen: torch.Generator | None, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n,), generator=gen)
    dx = torch.randint(-sw, sw + 1, (n,), generator=gen)
    padded = F.pad(x, (sw, sw, sh, sh))
    rows = (torch.arange(h)[None, :] + sh - dy[:, None]).to(x.device)  # (n, h)
    cols = (torch.arange(w)[None, :] + sw - dx[:, None]).to(x.device)  # (n, w)
    idx_n = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[idx_n, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, gen: torch.Generator | None, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + (1 - ch % 2), (n,), generator=gen).to(x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n,), generator=gen).to(x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    dy = ys - cy[:, None, None] + ch // 2  # rows cy - ch//2 .. cy - ch//2 + ch - 1: exactly ch of them
    dx = xs - cx[:, None, None] + cw // 2
    inside = (dy >= 0) & (dy < ch) & (dx >= 0) & (dx < cw)
    return x * (~inside)[:, None].to(x.dtype)


def diff_augment(x: torch.Tensor, policy: str = "color,translation,cutout",
                 gen: torch.Generator | None = None) -> torch.Tensor:
    """Apply the comma-separated ``policy`` to ``x (B, C, H, W)``; ``""`` returns ``x`` unchanged."""
    for p in (p.strip() for p in policy.split(",") if p.strip()):
        if p == "color":
            x = _color(x, gen)
        elif p == "translation":
            x = _translation(x, gen)
        elif p == "cutout":
            x = _cutout(x, gen)
        else:
            raise ValueError(f"unknown DiffAugment policy {p!r}: choose from {', '.join(POLICIES)}")
    return x
