"""Feed-forward style transfer with AdaIN: one encoder pass, one decoder pass, any resolution.

Pure tensor functions; ``stylize(method="adain")`` wraps them with file I/O.

Large images are processed in overlapping tiles. The AdaIN statistics of the content are computed
once over the whole image (accumulated tile by tile), never per tile: per-tile statistics would
re-normalise each tile differently and show as a patchwork. Each tile is encoded once: its features
wait for the decoding pass (up to ``KEEP_FEATURES_BYTES`` in all). Decoded tiles are blended across their
overlaps with weights that fall linearly to zero at the tile borders, so no seam remains.

``transform="wct"`` swaps AdaIN's per-channel statistics for the whitening-colouring transform's
mean and covariance (accumulated over tiles the same way); everything else is shared.

:func:`match_styles` then finishes the decoder's picture: its colours, and the contrast of its detail at each
scale, are mapped to the styles' distributions (:mod:`brushwork.color.transport`), blended as the styles are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ..color.transport import MATCHES, MatchPlan, StyleTarget, match_style, mix_targets, style_target
from ..errors import BrushworkError
from ..models.adain import AdaINNet, Map, apply_map, check_transform, transfer_map

__all__ = ["adain_transfer", "default_match", "match_styles", "tile_starts"]

#: a tiled picture's encoder features are kept from the statistics pass for the decoding pass when all its tiles'
#: come to at most this (the default model's: 15 MB a 1024 px tile, 135 MB at 2048 px, 240 MB at 3072 px); beyond
#: it (4096 px: 375 MB, which would raise its peak from 2.06 to 2.36 GiB) they are encoded again
KEEP_FEATURES_BYTES = 256 * 2**20


def _pad_to_multiple(x: torch.Tensor, m: int) -> tuple[torch.Tensor, int, int]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % m, (-w) % m
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, h, w


def tile_starts(length: int, tile: int, overlap: int, multiple: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``length``, sharing at least ``overlap``.

    ``length`` and ``tile`` are multiples of ``multiple`` (the encoder stride), and so is every
    offset, so each tile's features line up with the whole image's feature grid.
    """
    if length <= tile:
        return [0]
    step = max(multiple, (tile - overlap) // multiple * multiple)
    return [*range(0, length - tile, step), length - tile]


def _owned(starts: list[int], tile: int, length: int, multiple: int) -> list[tuple[int, int]]:
    """Split ``[0, length)`` among tiles at the middle of each overlap (multiples of ``multiple``)."""
    cuts = [0]
    for a, b in zip(starts[:-1], starts[1:]):
        cuts.append((a + tile + b) // 2 // multiple * multiple)
    cuts.append(length)
    return list(zip(cuts[:-1], cuts[1:]))


def _ramp(n: int, overlap: int, at_start: bool, at_end: bool, like: torch.Tensor) -> torch.Tensor:
    w = torch.ones(n, dtype=like.dtype, device=like.device)
    r = max(1, overlap)
    ramp = (torch.arange(r, dtype=like.dtype, device=like.device) + 0.5) / r
    if not at_start:
        w[:r] = torch.minimum(w[:r], ramp[: min(r, n)])
    if not at_end:
        w[-r:] = torch.minimum(w[-r:], ramp.flip(0)[-min(r, n):])
    return w


def _normalised(weights: Sequence[float]) -> list[float]:
    top = max(weights)
    weights = [w / top for w in weights]  # only their ratios matter (first by the largest: no overflow)
    return [w / sum(weights) for w in weights]


def _target(
    c: torch.Tensor,
    c_mean: torch.Tensor,
    maps: Sequence[tuple[Map, torch.Tensor]],
    weights: Sequence[float],
    masks: Sequence[torch.Tensor | None] | None,
    alpha: float,
) -> torch.Tensor:
    """``C + alpha * cover * sum_i W_i (S'_i - C) / sum_i W_i`` with ``W_i = w_i m_i``, ``S'_i = A_i (C -
    mean_C) + mean_S_i`` (the content's global mean and each style's ``(A_i, mean_S_i)``, :func:`transfer_map`)
    and ``cover = min(1, sum_i m_i)`` over the styles of non-zero weight (a None mask is 1 everywhere).

    So each pixel gets a convex mix of the styles that cover it, weighted where they overlap, at the full
    strength ``alpha`` wherever masks cover it (fading with soft mask edges, keeping the photo where none
    does): never beyond the AdaIN targets, which the decoder would paint as something it never saw."""
    centred = c - c_mean
    everywhere = c.new_ones(1, 1, *c.shape[-2:])
    mix, total, cover = torch.zeros_like(c), torch.zeros_like(everywhere), torch.zeros_like(everywhere)
    weights = _normalised(weights)
    for i, ((a, s_mean), w) in enumerate(zip(maps, weights)):
        if w == 0:  # a style of weight 0 neither paints nor counts as covering
            continue
        m = everywhere if masks is None or masks[i] is None else F.interpolate(masks[i], size=c.shape[-2:],
                                                                                mode="area")
        mix = mix + (w * m) * (apply_map(centred, a) + s_mean - c)
        total, cover = total + w * m, cover + m
    mix = torch.where(total > 0, mix / total.clamp_min(torch.finfo(total.dtype).tiny), 0.0)
    return c + alpha * mix * cover.clamp(max=1.0)  # the photo's own features where no mask covers it


@torch.no_grad()
def adain_transfer(
    net: AdaINNet,
    content: torch.Tensor,
    styles: Sequence[torch.Tensor],
    *,
    alpha: float = 1.0,
    style_weights: Sequence[float] | None = None,
    masks: Sequence[torch.Tensor | None] | None = None,
    tile: int | None = 1024,
    overlap: int = 128,
    content_stats: tuple[torch.Tensor, torch.Tensor] | None = None,
    style_stats: Sequence[tuple[torch.Tensor, torch.Tensor]] | None = None,
    transform: str = "adain",
    on_tile: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Stylize ``content (B, 3, H, W)`` in [0, 1] (each picture on its own); any ``H, W``; returns the same shape.

    Args:
        net: encoder + decoder.
        styles: ``(1, 3, H_i, W_i)`` each.
        alpha: strength a in [0, 1] of the blend ``C + a (AdaIN(C, S) - C)``.
        style_weights: interpolation weights (only their ratios matter): each pixel gets the weighted
            mix of the styles whose masks cover it, at full strength wherever masks cover it.
        masks: one ``(1, 1, H, W)`` mask in [0, 1] per style, or None (= everywhere).
        tile: tile size in pixels (None or >= the image: one pass); overlap: pixels shared by tiles.
        content_stats / style_stats: precomputed statistics of the features (:meth:`AdaINNet.stats`
            for ``transform``; e.g. smoothed over video frames); by default computed here, the
            content's over the whole image.
        transform: ``"adain"`` (each channel's mean and std) or ``"wct"`` (the whitening-colouring
            transform: the channels' mean and covariance; a closer style match, less of the photo).
        on_tile: called as ``(done, total)`` after each tile of a tiled picture (each is visited twice: once for
            the statistics, once to paint it), for a progress bar.
    """
    check_transform(transform)
    n = len(styles)
    if not n:
        raise BrushworkError("no style given: pass one or more style images")
    for what, given in (("style weights", style_weights), ("masks", masks), ("style statistics", style_stats)):
        if given is not None and len(given) != n:
            raise BrushworkError(f"{n} style(s) but {len(given)} {what}: give one per style")
    if not 0.0 <= alpha <= 1.0:  # (NaN too)
        raise BrushworkError(f"strength (alpha) must be in [0, 1], got {alpha}")
    if content.dim() != 4 or content.shape[1] != 3:
        raise BrushworkError(f"content must be RGB pictures as a (B, 3, H, W) tensor, got {tuple(content.shape)}")
    if style_weights is None:
        weights = [1.0] * n
    else:
        weights = [float(w) for w in style_weights]
        if not all(0.0 <= w < float("inf") for w in weights) or not sum(weights) > 0:
            raise BrushworkError(f"style weights must be finite, non-negative and not all zero, got {weights}")
    stride = net.decoder.stride  # of the features the decoder reads
    align = net.align  # sizes and tile offsets: multiples of the deepest tap's stride, so the grids nest
    x, h, w = _pad_to_multiple(content, align)
    if min(x.shape[-2:]) // stride < 2:  # the decoder's reflection padding needs two rows of its features
        raise BrushworkError(f"the picture is {w}x{h} pixels at this size, too thin for the decoder (it needs "
                             f"{2 * stride} px on the short side): raise --size or crop it to a less extreme shape")
    if masks is not None:
        masks = [None if m is None else _pad_to_multiple(m, align)[0] for m in masks]
    s_stats = list(style_stats) if style_stats is not None else [net.stats(s, transform) for s in styles]
    H, W = x.shape[-2:]
    if tile is None or (H <= tile and W <= tile):
        c = net.features(x)
        stats = content_stats if content_stats is not None else net.feature_stats(c, transform)
        maps = [(transfer_map(stats, st, transform, net.tap_channels()), st[0]) for st in s_stats]
        y = net.decoder(_target(c, stats[0], maps, weights, masks, alpha))
        return y[..., :h, :w].clamp(0.0, 1.0)

    tile = max(align * 4, (tile // align) * align)
    overlap = min(overlap, tile // 2)
    ys, xs = tile_starts(H, tile, overlap, align), tile_starts(W, tile, overlap, align)

    kept: dict[tuple[int, int], torch.Tensor] = {}  # pass 1's features, for pass 2 (encoded once, not twice)
    visits = [0, len(ys) * len(xs) * (1 if content_stats is not None else 2)]

    def visited() -> None:
        visits[0] += 1
        if on_tile is not None:
            on_tile(*visits)

    def tile_features(top: int, left: int, keep: bool = False) -> torch.Tensor:
        f = kept.pop((top, left), None)
        if f is None:
            f = net.features(x[..., top:top + tile, left:left + tile])
            if keep and f.numel() * f.element_size() * len(ys) * len(xs) <= KEEP_FEATURES_BYTES:
                kept[top, left] = f
        return f

    if content_stats is None:
        # Pass 1: global statistics of the content features. Each feature position is counted once,
        # from the tile that owns it (overlaps split in the middle, far from any tile's edge).
        rows, cols = _owned(ys, tile, H, align), _owned(xs, tile, W, align)
        s1 = s2 = 0.0
        count = 0
        for top, (r0, r1) in zip(ys, rows):
            for left, (c0, c1) in zip(xs, cols):
                f = tile_features(top, left, keep=True)
                part = f[..., (r0 - top) // stride:(r1 - top) // stride, (c0 - left) // stride:(c1 - left) // stride]
                part = (part.cpu() if part.device.type == "mps" else part).double().flatten(2)  # (1, C, N); MPS has no float64
                s1 = s1 + part.sum(dim=2, keepdim=True)
                # AdaIN needs each channel's sum of squares; WCT every pair's (a (1, C, C) sum)
                s2 = s2 + (part @ part.transpose(1, 2) if transform == "wct" else (part**2).sum(dim=2, keepdim=True))
                count += part.shape[-1]
                visited()
        mean = s1 / count  # (1, C, 1)
        if transform == "wct":
            cov = (s2 / count - mean @ mean.transpose(1, 2)) * net.tap_blocks(s2)
            content_stats = (mean[..., None].to(x.device, x.dtype), cov.to(x.device, x.dtype))
        else:
            var = (s2 / count - mean**2).clamp_min(0)
            content_stats = (mean[..., None].to(x.device, x.dtype), (var + 1e-5).sqrt()[..., None].to(x.device, x.dtype))
    maps = [(transfer_map(content_stats, st, transform, net.tap_channels()), st[0]) for st in s_stats]

    # Pass 2: decode each tile with the global statistics and blend with linear ramps.
    out = torch.zeros_like(x)
    acc = torch.zeros_like(x[:, :1])
    for ti, top in enumerate(ys):
        for tj, left in enumerate(xs):
            f = tile_features(top, left)
            tm = None if masks is None else [
                None if m is None else m[..., top:top + tile, left:left + tile] for m in masks]
            y = net.decoder(_target(f, content_stats[0], maps, weights, tm, alpha))
            th, tw = y.shape[-2:]
            wy = _ramp(th, overlap, ti == 0, ti == len(ys) - 1, y)
            wx = _ramp(tw, overlap, tj == 0, tj == len(xs) - 1, y)
            wgt = (wy[:, None] * wx[None, :])[None, None]
            out[..., top:top + th, left:left + tw] += y * wgt
            acc[..., top:top + th, left:left + tw] += wgt
            visited()
    # (in place: two more whole pictures at 8000 px otherwise; the same values)
    return out.div_(acc.clamp_min_(1e-8))[..., :h, :w].clamp_(0.0, 1.0)


def default_match(method: str, match: str | None) -> str:
    """The ``match`` a stylization uses: as given, else ``"full"`` for AdaIN and ``"none"`` for Gatys."""
    return match or ("full" if method == "adain" else "none")


@torch.no_grad()
def match_styles(
    image: torch.Tensor,
    styles: Sequence[torch.Tensor],
    *,
    match: str = "full",
    alpha: float = 1.0,
    style_weights: Sequence[float] | None = None,
    masks: Sequence[torch.Tensor | None] | None = None,
    targets: Sequence[StyleTarget] | None = None,
    previous: Sequence[MatchPlan] | None = None,
    smoothing: float = 0.0,
    opaque: torch.Tensor | None = None,
) -> tuple[torch.Tensor, list[MatchPlan]]:
    """The decoder's picture ``image (B, 3, H, W)`` with the styles' colour distribution (``match="colors"``) and
    also the contrast of their detail at each scale (``"full"``); ``"none"`` returns it as it is.

    Without masks the picture is mapped to the mixture of the styles' distributions (each in proportion to its
    weight); with masks each style's map is estimated where its mask covers the picture and the results are
    blended as :func:`adain_transfer` blends the styles (a convex mix where masks cover a pixel, the picture
    unchanged where none does). The change is scaled by ``alpha``: at strength 0 nothing moves.

    Args:
        targets: the styles' distributions (:func:`~brushwork.color.transport.style_target`), to reuse them.
        previous / smoothing: a video's plans from the previous frame and b in [0, 1) (see
            :func:`~brushwork.color.transport.match_style`).
        opaque: optional ``(B, 1, H, W)`` alpha of the picture: the distributions are estimated from its
            opaque pixels (>= 0.5) only, not from what shows through the transparent ones.

    Returns:
        ``(picture, plans)``: the finished picture in [0, 1] and the maps used (one per picture in the batch
        without masks, one per style and picture with them), for ``previous``.
    """
    if match not in MATCHES:
        raise BrushworkError(f"match must be one of {', '.join(MATCHES)}, got {match!r}")
    if match == "none" or alpha == 0:
        return image, []
    weights = _normalised([1.0] * len(styles) if style_weights is None else [float(w) for w in style_weights])
    targets = list(targets) if targets is not None else [style_target(s) for s in styles]
    detail = match == "full"
    masked = masks is not None and any(m is not None for m in masks)
    mixed = None if masked else mix_targets(targets, weights)
    outs, plans, made = [], [], []
    for b in range(image.shape[0]):
        y = image[b:b + 1]
        seen = None if opaque is None else opaque[b:b + 1]
        if mixed is not None:
            prev = previous[len(plans)] if previous is not None and len(previous) > len(plans) else None
            done, plan = match_style(y, mixed, detail=detail, where=seen, previous=prev, smoothing=smoothing)
            plans.append(plan)
            # y + alpha (done - y), worked in the matched picture's own memory (the expression held three more whole
            # pictures: at 8000 px 2.2 GiB; the same values); with no map it is the picture as it was
            made.append(done is not y)
            outs.append(y if done is y else done.sub_(y).mul_(alpha).add_(y))
            continue
        everywhere = y.new_ones(1, 1, *y.shape[-2:])
        mix, total, cover = torch.zeros_like(y), torch.zeros_like(everywhere), torch.zeros_like(everywhere)
        for i, (t, w) in enumerate(zip(targets, weights)):
            if w == 0:
                continue
            m = everywhere if masks[i] is None else masks[i]
            # estimated where the style has at least half its own greatest share: a style that is a third of every
            # pixel's mix (a grey mask, or one of three overlapping styles) is still estimated, over the picture
            region = m / m.amax().clamp_min(torch.finfo(m.dtype).tiny)
            prev = previous[len(plans)] if previous is not None and len(previous) > len(plans) else None
            done, plan = match_style(y, t, detail=detail, where=region if seen is None else region * seen,
                                     previous=prev, smoothing=smoothing)
            plans.append(plan)
            if plan.lut is None and not plan.bands:  # too few pixels under its mask to map: it changes nothing
                continue
            mix, total, cover = mix + (w * m) * (done - y), total + w * m, cover + m
        mix = torch.where(total > 0, mix / total.clamp_min(torch.finfo(total.dtype).tiny), 0.0)
        outs.append(y + alpha * mix * cover.clamp(max=1.0))
    if len(outs) == 1 and made == [True]:  # (one picture, made here: clamped in place, not copied twice more; a view
        return outs[0].clamp_(0.0, 1.0), plans  # of the caller's picture, when no map was made, is not touched)
    return torch.cat(outs).clamp(0.0, 1.0), plans
