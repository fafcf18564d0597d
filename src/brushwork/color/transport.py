"""Match a picture's colour and detail distributions to a style's: torch, on any device.

A feed-forward decoder paints a style's texture but not its exact palette or the crispness of its
strokes (the shipped AdaIN decoder leaves a painting's minority colours out, such as the Starry Night's
yellows, and paints about a quarter of the style's fine-detail energy). Two classic, training-free
distribution matches finish its picture:

* **colours**: sliced optimal transport of the 3-D RGB distribution (Pitie, Kokaram & Dahyot, "N-dimensional
  probability density function transfer", ICCV 2005): ``iters`` random rotations of the colour space, each
  matching the three 1-D marginals along the rotated axes by quantile mapping. The composed map is baked into a
  ``lut_size``\\ :sup:`3` lookup table (as colour grading does) and applied with trilinear interpolation, so its
  cost does not grow with the picture and a video can smooth it across frames;
* **detail**: each band of a Laplacian pyramid (Burt & Adelson 1983) has each channel's histogram matched to the
  same band of the style (Heeger & Bergen, "Pyramid-based texture analysis/synthesis", SIGGRAPH 1995; one pass,
  not their iterated synthesis): the strokes get the style's contrast at each scale.

Where this departs from the papers: distributions are taken from about ``4096`` pixels on an even grid
(deterministic) and mapped through ``256`` quantiles; rotations come from a seeded generator; computed in
float32 whatever the picture's precision.

Usage: ``picture, plan = match_style(image, style_target(style))``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["MATCHES", "MatchPlan", "StyleTarget", "match_style", "mix_targets", "style_target"]

MATCHES = ("full", "colors", "none")  # what stylize(match=...) accepts: colours and detail, colours only, nothing
SAMPLE = 4096  # pixels (or band values) a distribution is estimated from
MIN_SAMPLE = 16  # fewer (a mask of a few pixels): no map is made
QUANTILES = 256
LEVELS = 4  # Laplacian bands: strokes up to about 2**LEVELS pixels across


@dataclass
class StyleTarget:
    """A style's distributions: ``colors (N, 3)`` RGB samples and, per Laplacian band, ``(3, M)`` samples
    (None for a band finer than the style really has: it was enlarged; that band of the picture is left as is)."""

    colors: torch.Tensor
    bands: list[torch.Tensor | None]


@dataclass
class MatchPlan:
    """The maps for one picture: ``lut (3, S, S, S)`` (indexed by r, g, b) and, per band, the source's and the
    target's ``(3, QUANTILES)`` quantiles. ``None`` entries are skipped."""

    lut: torch.Tensor | None
    bands: list[tuple[torch.Tensor, torch.Tensor] | None]


def _sample(x: torch.Tensor, where: torch.Tensor | None = None, n: int = SAMPLE) -> torch.Tensor:
    """About ``n`` values ``(N, C)`` of ``x (1, C, H, W)`` on an even 2-D grid of its pixels (those with
    ``where (1, 1, H, W) >= 0.5`` only, if given). A grid, not every k-th pixel of the flattened picture:
    with a width that is a multiple of k that would sample the same few columns in every row."""
    keep = None if where is None else where[0, 0] >= 0.5
    count = x.shape[-2] * x.shape[-1] if keep is None else int(keep.sum())
    step = max(1, math.ceil(math.sqrt(count / n)))
    off = step // 2 if min(x.shape[-2:]) > step else 0
    sub = x[0, :, off::step, off::step].flatten(1)
    if keep is not None:
        sub = sub[:, keep[off::step, off::step].flatten()]
    return sub.T


def _blur_down(x: torch.Tensor, rows: int = 128) -> torch.Tensor:
    """Burt & Adelson's 5-tap binomial blur, then every other pixel: ``(B, C, ceil(H/2), ceil(W/2))``, the edges
    reflected (repeated where a side is 2 pixels or less).

    Written as sums of strided views, one axis at a time (on the CPU several times faster than a depthwise
    convolution of three channels), ``rows`` output rows at a time: the whole picture padded and its half-height
    sums came to two more whole pictures (at 8000 px, 1.5 GiB); the same values."""
    mode = "reflect" if min(x.shape[-2:]) > 2 else "replicate"
    h, w = x.shape[-2:]
    n, m = (h + 1) // 2, (w + 1) // 2

    def taps(v: torch.Tensor, dim: int, count: int) -> torch.Tensor:
        pick = [v.narrow(dim, k, 2 * count - 1)[(..., slice(None, None, 2)) if dim == -1 else
                                               (..., slice(None, None, 2), slice(None))] for k in range(5)]
        return (pick[0] + pick[4] + 4.0 * (pick[1] + pick[3]) + 6.0 * pick[2]) / 16.0

    out = x.new_empty(*x.shape[:-2], n, m)
    for top in range(0, n, rows):
        count = min(rows, n - top)
        # the input rows output rows top... read (2 above and below each even row), reflected or repeated at the edges
        idx = torch.arange(2 * top - 2, 2 * (top + count - 1) + 3, device=x.device)
        idx = idx.abs() if mode == "reflect" else idx.clamp(min=0)
        idx = torch.where(idx > h - 1, 2 * (h - 1) - idx, idx) if mode == "reflect" else idx.clamp(max=h - 1)
        strip = F.pad(x.index_select(-2, idx), (2, 2, 0, 0), mode=mode)
        out[..., top:top + count, :] = taps(taps(strip, -2, count), -1, m)
    return out


def _up(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if x.device.type == "cpu":  # (PyTorch's CPU kernel holds a second whole output for a channels-first picture, not
        x = x.contiguous(memory_format=torch.channels_last)  # for a channels-last one: at 8000 px 0.7 GiB; the same
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)  # values)


def laplacian_pyramid(image: torch.Tensor, levels: int = LEVELS) -> tuple[list[torch.Tensor], torch.Tensor]:
    """``(bands, low)``: ``levels`` band-pass images (finest first) and the low-pass rest of ``image (B, C, H, W)``;
    :func:`collapse` inverts it exactly. Fewer bands where the picture is too small to halve."""
    bands = []
    x = image
    for _ in range(levels):
        if min(x.shape[-2:]) < 8:
            break
        d = _blur_down(x)
        bands.append(_up(d, x.shape[-2:]).neg_().add_(x))  # (x - up, in place: one whole picture fewer; the same values)
        x = d
    return bands, x


def collapse(bands: Sequence[torch.Tensor], low: torch.Tensor) -> torch.Tensor:
    x = low
    for b in reversed(bands):
        x = _up(x, b.shape[-2:]).add_(b)  # (in place: one whole picture fewer at the finest level; the same values)
    return x


def _quantiles(values: torch.Tensor, k: int = QUANTILES) -> torch.Tensor:
    """``k`` evenly spaced quantiles of each row of ``values (R, N)``: ``(R, k)``."""
    if values.device.type == "cpu":  # numpy sorts a few thousand floats about 5x faster than torch on the CPU
        s = torch.from_numpy(np.sort(values.detach().numpy(), axis=-1))
    else:
        s = values.sort(dim=-1).values
    idx = torch.linspace(0, s.shape[-1] - 1, k, device=s.device).round().long()
    return s[..., idx]


def _interp_exact(v: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Each row of ``v (R, N)`` mapped piecewise-linearly through the points ``(xs, ys) (R, K)`` (``xs``
    ascending), constant beyond them; or 1-D ``v``, ``xs``, ``ys``."""
    i = torch.searchsorted(xs.contiguous(), v.contiguous()).clamp(1, xs.shape[-1] - 1)
    x0, x1 = xs.gather(-1, i - 1), xs.gather(-1, i)
    y0, y1 = ys.gather(-1, i - 1), ys.gather(-1, i)
    t = ((v - x0) / (x1 - x0).clamp_min(1e-12)).clamp(0.0, 1.0)
    return y0 + t * (y1 - y0)


def _interp(v: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, dense: int = 4096,
            chunk: int = 2**18, out: torch.Tensor | None = None) -> torch.Tensor:
    """Each row of ``v (R, N)`` mapped piecewise-linearly through the points ``(xs, ys) (R, K)`` (``xs``
    ascending), constant beyond them; into ``out`` if given (``v`` itself: in place, a chunk at a time).

    Each row's map is first resampled on ``dense`` even steps between its ``xs``' ends, so that a value costs
    a lookup and a lerp, not a binary search (on 2 cores, 3x faster on a 512 px picture's bands)."""
    lo, hi = xs[:, :1], xs[:, -1:]
    span = (hi - lo).clamp_min(1e-12)
    u = torch.linspace(0.0, 1.0, dense, device=v.device, dtype=xs.dtype)[None] * span + lo  # (R, dense)
    table = _interp_exact(u, xs, ys).to(v.dtype).flatten()
    lo, span, rows = lo.to(v.dtype), span.to(v.dtype), torch.arange(v.shape[0], device=v.device)[:, None] * dense
    out = torch.empty_like(v) if out is None else out
    for start in range(0, v.shape[1], chunk):  # in chunks: a 4096 px picture's temporaries stay small
        part = v[:, start:start + chunk]
        pos = ((part - lo) / span).clamp(0.0, 1.0) * (dense - 1)
        i0 = pos.floor().long().clamp(max=dense - 2)
        flat = i0 + rows
        below = table[flat]
        out[:, start:start + chunk] = below + (pos - i0) * (table[flat + 1] - below)
    return out


def style_target(style: torch.Tensor, levels: int = LEVELS, where: torch.Tensor | None = None,
                 enlarged: float = 1.0) -> StyleTarget:
    """The distributions of a ``(1, 3, H, W)`` style in [0, 1] that :func:`match_style` maps a picture to.

    Args:
        where: ``(1, 1, H, W)``: only its pixels >= 0.5 count (e.g. the opaque ones of a style with transparency).
        enlarged: how much ``style`` was enlarged from the image it was read from: the bands finer than that
            hold only the resampling's blur, not the style's strokes, and are left out (a 20 px style
            enlarged to 512 px would otherwise blur the picture).
    """
    x = style.float()
    bands, _ = laplacian_pyramid(x, levels)
    return StyleTarget(colors=_sample(x, where),
                       bands=[None if 2 ** (k + 1) <= enlarged else _sample(b, _at(where, b)).T
                              for k, b in enumerate(bands)])


def _at(where: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
    return None if where is None else F.interpolate(where.float(), size=like.shape[-2:], mode="area")


def _same_target(a: StyleTarget, b: StyleTarget) -> bool:
    return (a is b or (torch.equal(a.colors, b.colors) and len(a.bands) == len(b.bands)
                       and all((x is None and y is None) or (x is not None and y is not None and torch.equal(x, y))
                               for x, y in zip(a.bands, b.bands))))


def mix_targets(targets: Sequence[StyleTarget], weights: Sequence[float]) -> StyleTarget:
    """The mixture of several styles' distributions, each contributing in proportion to its weight (whatever
    the number of samples each holds)."""
    total = float(sum(weights))
    keep = [(t, w / total) for t, w in zip(targets, weights) if w > 0]
    if len(keep) == 1 or all(_same_target(t, keep[0][0]) for t, _ in keep[1:]):
        return keep[0][0]  # (one style given twice: its own distribution, not half its samples twice over)

    def mix(samples: list[torch.Tensor]) -> torch.Tensor:  # (N_i, ...) rows each: evenly strided picks
        size = max(x.shape[0] for x in samples)
        picks = []
        for x, (_, share) in zip(samples, keep):
            n = max(1, round(share * size))
            picks.append(x[torch.linspace(0, x.shape[0] - 1, n, device=x.device).round().long()])
        return torch.cat(picks)

    levels = min(len(t.bands) for t, _ in keep)
    return StyleTarget(colors=mix([t.colors for t, _ in keep]),
                       bands=[None if any(t.bands[i] is None for t, _ in keep)
                              else mix([t.bands[i].T for t, _ in keep]).T for i in range(levels)])


def _sqrtm(c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Square root and inverse square root of a symmetric positive definite matrix."""
    val, vec = torch.linalg.eigh(c)
    val = val.clamp_min(1e-12)
    return (vec * val.sqrt()) @ vec.T, (vec * val.rsqrt()) @ vec.T


def _mk_map(cs: torch.Tensor, ct: torch.Tensor) -> torch.Tensor:
    """The linear map ``A`` with ``A cs A^T = ct`` that moves points least (Monge-Kantorovich)."""
    s_half, s_inv = _sqrtm(cs)
    mid, _ = _sqrtm(s_half @ ct @ s_half)
    return s_inv @ mid @ s_inv


def _color_lut(source: torch.Tensor, target: torch.Tensor, iters: int, size: int,
               generator: torch.Generator) -> torch.Tensor:
    """Sliced optimal transport from the colours ``source (N, 3)`` to ``target (M, 3)``, sampled on a
    ``size``\\ :sup:`3` grid of RGB: ``(3, size, size, size)`` indexed ``[channel, r, g, b]``."""
    g = torch.linspace(0.0, 1.0, size, device=source.device)
    grid = torch.stack(torch.meshgrid(g, g, g, indexing="ij"), dim=-1).reshape(-1, 3)  # (S^3, 3): r, g, b
    # Start from the linear map that matches the mean and covariance (the Monge-Kantorovich solution between
    # Gaussians, Pitie & Kokaram 2007): the rotations then only correct the distributions' shape, in fewer steps.
    ms, mt = source.mean(0), target.mean(0)
    eye = 1e-6 * torch.eye(3, dtype=torch.float64)  # 3 x 3 on the CPU in float64 (Apple's MPS has no float64)
    cs, ct = (torch.cov(x.T.detach().cpu().double()) + eye for x in (source, target))
    a = _mk_map(cs, ct).to(source.device, source.dtype)
    p = (source - ms) @ a.T + mt
    grid = (grid - ms) @ a.T + mt
    for _ in range(iters):
        q, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator).to(source.device))
        pp, gp = (p @ q).T, (grid @ q).T  # (3, N), (3, S^3): the rotated axes as rows
        xs, ys = _quantiles(pp), _quantiles((target @ q).T)  # (3, K) each
        p = p + (_interp_exact(pp, xs, ys) - pp).T @ q.T
        grid = grid + (_interp_exact(gp, xs, ys) - gp).T @ q.T
    return grid.T.reshape(3, size, size, size)


def _apply_lut(image: torch.Tensor, lut: torch.Tensor, chunk: int = 2**18) -> torch.Tensor:
    """Trilinear lookup of each pixel of ``image (B, 3, H, W)`` in ``lut (3, S, S, S)``; a few rows at a time
    (about ``chunk`` pixels), so that a 4096 px picture's temporaries stay small."""
    b, _, h, w = image.shape
    table = lut[None].expand(b, -1, -1, -1, -1).to(image.dtype)
    out = torch.empty_like(image)
    step = max(1, chunk // w)
    for top in range(0, h, step):
        # grid_sample's 3-D grid reads (x, y, z) = (W, H, D) = (b, g, r) of the table
        coords = image[:, :, top:top + step].permute(0, 2, 3, 1).flip(-1).clamp(0.0, 1.0).mul_(2.0).sub_(1.0)
        out[:, :, top:top + step] = F.grid_sample(table, coords[:, None], mode="bilinear", padding_mode="border",
                                                  align_corners=True)[:, :, 0]  # (B, 3, rows, W)
    return out


def match_style(image: torch.Tensor, target: StyleTarget, *, colors: bool = True, detail: bool = True,
                where: torch.Tensor | None = None, previous: MatchPlan | None = None, smoothing: float = 0.0,
                iters: int = 8, lut_size: int = 17, seed: int = 0) -> tuple[torch.Tensor, MatchPlan]:
    """``image (1, 3, H, W)`` in [0, 1] with its colours (and its detail) mapped to ``target``'s distributions.

    Args:
        colors / detail: which of the two matches to make (the detail is matched after the colours).
        where: optional ``(1, 1, H, W)`` weights: the picture's distributions are estimated where it is
            >= 0.5 (the maps apply everywhere; blend the result by the mask). Fewer than 16 such pixels (or
            a target of fewer): no map, the picture is returned as it is.
        previous / smoothing: a video's previous plan, and b in [0, 1): each map is ``b * previous +
            (1 - b) * now`` (no flicker from the maps).
        iters: rotations of the sliced transport after the linear start (8: within 0.01 of 20 on the
            AdaIN benchmark's judge; 0 leaves the linear map that matches mean and covariance).
        lut_size: the colour table's side (17, as colour grading's smaller tables).
        seed: seeds the rotations (the same seed, the same map).

    Returns:
        ``(picture, plan)``: the matched picture, clamped to [0, 1], and the maps used (for ``previous``).
    """
    given = image
    image = image.float()  # (half precision cannot index the tables finely enough)
    src = _sample(image, where)
    if len(src) < MIN_SAMPLE or len(target.colors) < MIN_SAMPLE:
        return given, MatchPlan(lut=None, bands=[])
    lut = _color_lut(src, target.colors.to(src.device), iters, lut_size,
                     torch.Generator().manual_seed(seed)) if colors else None
    if previous is not None and previous.lut is not None and lut is not None and smoothing > 0:
        lut = smoothing * previous.lut + (1.0 - smoothing) * lut
    out = _apply_lut(image, lut) if lut is not None else image
    plan = MatchPlan(lut=lut, bands=[])
    if detail and target.bands:
        # (each band replaced by its match where it lies, and the colour-matched picture let go once split: at 8000 px
        # every whole picture held is 0.7 GiB)
        bands, low = laplacian_pyramid(out, len(target.bands))
        out = b = None
        for i, (b, t) in enumerate(zip(bands, target.bands)):
            if t is None:  # finer than the style has: the picture's own
                plan.bands.append(None)
                continue
            sample = _sample(b, _at(where, b))
            if len(sample) < MIN_SAMPLE or t.shape[-1] < MIN_SAMPLE:
                break
            xs, ys = _quantiles(sample.T.float()), _quantiles(t.to(b.device))
            # the band's own mean kept: its shape changes, not the picture's tone (a band's mean is about 0, but
            # what is left of it adds up over the bands to a shift of brightness the style does not ask for)
            ys = ys - ys.mean(-1, keepdim=True) + xs.mean(-1, keepdim=True)
            if previous is not None and smoothing > 0 and i < len(previous.bands) and previous.bands[i] is not None:
                xs = smoothing * previous.bands[i][0] + (1.0 - smoothing) * xs
                ys = smoothing * previous.bands[i][1] + (1.0 - smoothing) * ys
            plan.bands.append((xs, ys))
            # mapped in place through a (3, pixels) view of the band, whichever of the two layouts it has (the pixels
            # in the same order): one whole picture fewer than a mapped copy
            flat = (b[0].flatten(1) if b.is_contiguous() else b[0].permute(1, 2, 0).reshape(-1, b.shape[1]).T
                    if b.is_contiguous(memory_format=torch.channels_last) else None)
            if flat is not None:
                _interp(flat, xs, ys, out=flat)
            else:
                bands[i] = _interp(b[0].flatten(1), xs, ys).view_as(b)
            flat = None
        b = None  # (the last band replaced: let go)
        made = bool(bands)
        out = collapse(bands, low)  # (a new picture, unless there were no bands: then the one given, not to touch)
        bands = low = None
        out = out.clamp_(0.0, 1.0) if made else out.clamp(0.0, 1.0)
        if given.is_contiguous() and not out.is_contiguous():  # (_up works channels-last on the CPU: the picture
            out = out.contiguous()  # comes back in the layout it came in, as callers may view it flat)
        return out.to(given.dtype), plan
    return out.clamp(0.0, 1.0).to(given.dtype), plan
