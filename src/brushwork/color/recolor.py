"""Recolouring: move an image's colours towards a reference image or a palette, in OKLab.

* ``stats``: Reinhard et al. (2001) colour transfer, done in OKLab instead of lalphabeta: each
  channel's mean and standard deviation are matched to the reference's.
* ``histogram``: each OKLab channel's histogram is matched to the reference's (exact quantile mapping).
* ``palette``: the image's own k-colour palette is matched one to one to the target palette (the
  assignment of least total OKLab distance), and every pixel moves by a smooth blend of its
  clusters' moves (weights ``exp(-d^2 / 2 s^2)`` over its distance ``d`` to each source colour, ``s``
  a quarter of the median distance between the source colours), so gradients stay gradients and no
  pixel jumps between colours.

Transparent pixels keep their colour and alpha; statistics come from the opaque ones.

``stats`` and ``histogram`` stretch a channel's spread to the reference's; a channel that barely varies
(the colour of a black-and-white photo saved as JPEG, whose chroma is only compression noise) would
have that noise stretched into blocks of colour. So a channel's spread counts as at least ``MIN_SPREAD``
(0.02 in OKLab, about one just-noticeable difference): below it the image takes the reference's mean
and a proportionally smaller share of its spread.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..errors import BrushworkError
from .palette import MAX_COLORS, Palette, extract_palette, no_opaque_pixels
from .spaces import from_over_white, oklab_to_rgb, rgb_to_oklab
from .transfer import _channel_map, _weighted_channel_map

__all__ = ["METHODS", "recolor", "match_palettes"]

CHUNK = 1 << 20  # pixels worked on at a time
METHODS = ("stats", "histogram", "palette")
TABLES_FROM = 1 << 23  # pixels from which an 8-bit picture's colours are counted in tables of all 2**24 colours
MIN_SPREAD = 0.02  # OKLab standard deviation below which a channel's variation is taken for noise


def _distinct_colours(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """``(index, colours, counts)`` of ``rgb (N, 3)`` when every value is a whole level of 255 (an 8-bit picture):
    each pixel's colour number, the colours (``(k, 3)``, ``rgb``'s values, in the order of their 24-bit codes) and
    each colour's count; None otherwise. A photo of 17 million pixels holds a few hundred thousand colours: mapping
    those is what takes the time."""
    codes = np.empty(len(rgb), np.int32)
    for i in range(0, len(rgb), CHUNK):  # (a chunk at a time: the whole picture's float temporaries came to 1 GB)
        levels = np.round(rgb[i:i + CHUNK] * 255.0)
        if levels.min() < 0 or levels.max() > 255 or not np.array_equal((levels / 255.0).astype(rgb.dtype),
                                                                       rgb[i:i + CHUNK]):
            return None  # (levels outside 0-255, which the API lets through, would spill into a neighbour's bits)
        whole = levels.astype(np.int32)
        codes[i:i + CHUNK] = (whole[:, 0] << 16) | (whole[:, 1] << 8) | whole[:, 2]
    if len(codes) >= TABLES_FROM:  # a large picture: a count for every possible colour and a table of colour numbers
        counts = np.bincount(codes, minlength=1 << 24)  # (200 MB whatever the size) rather than np.unique's sort of
        present = np.flatnonzero(counts)  # every pixel (32 bytes a pixel; at 48 MP 1.5 GB and 3.4 s, against 0.5 s)
        number = np.zeros(1 << 24, np.int32)
        number[present] = np.arange(len(present), dtype=np.int32)
        index, counts = number[codes], counts[present]
    else:  # (a small picture: one sort of whole numbers, no 2**24 tables)
        present, index, counts = np.unique(codes, return_inverse=True, return_counts=True)
        index = index.astype(np.int32)
    colours = np.stack([present >> 16, (present >> 8) & 255, present & 255], 1) / 255.0
    return index, colours.astype(rgb.dtype), counts


def _moments(x: np.ndarray, counts: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Each column's mean and standard deviation of ``x (N, 3)``, a chunk at a time (``x.std`` holds a copy of
    ``x``: 420 MB for a 17.5 MP picture in float64); with ``counts``, each row stands for that many pixels."""
    if counts is not None:
        mean = counts @ x / counts.sum()
        return mean, np.sqrt(counts @ (x - mean) ** 2 / counts.sum())
    n = max(1, len(x))
    mean = sum((x[i:i + CHUNK].sum(0) for i in range(0, len(x), CHUNK)), np.zeros(x.shape[1])) / n
    var = sum((((x[i:i + CHUNK] - mean) ** 2).sum(0) for i in range(0, len(x), CHUNK)), np.zeros(x.shape[1])) / n
    return mean, np.sqrt(var)


def _opaque(lab: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    flat = lab.reshape(-1, 3)
    return flat if alpha is None else flat[alpha.reshape(-1) >= 0.5]


def match_palettes(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """For each source colour (OKLab ``(k, 3)``), the index of its target colour.

    Same sizes: the one-to-one assignment of least total distance (exhaustive up to 8 colours, then
    greedy). Different sizes: each source colour to its nearest target colour.
    """
    d = np.linalg.norm(source[:, None] - target[None], axis=2)
    if len(source) != len(target):
        return d.argmin(1)
    k = len(source)
    if k <= 8:
        best = min(itertools.permutations(range(k)), key=lambda p: sum(d[i, p[i]] for i in range(k)))
        return np.array(best)
    out = -np.ones(k, int)
    for flat in np.argsort(d, axis=None):
        i, j = divmod(int(flat), k)
        if out[i] < 0 and j not in out:
            out[i] = j
    return out


def recolor(rgb: np.ndarray, *, method: str = "stats", reference: np.ndarray | None = None,
            reference_alpha: np.ndarray | None = None, palette: Palette | None = None,
            alpha: np.ndarray | None = None, strength: float = 1.0, k: int = 6, seed: int = 0) -> np.ndarray:
    """Recolour ``rgb (H, W, 3)`` in [0, 1]; returns the same shape, clipped to [0, 1].

    With ``alpha``, ``rgb`` is the picture as it looks over white (as ``read_image`` gives it): the
    pixels' own colours are recoloured (a soft edge is not taken for a paler colour), and the result is
    returned as it looks over white again; pixels less than half opaque keep their colour.

    Args:
        method: ``stats``, ``histogram`` or ``palette``.
        reference: an image to take colours from (any size).
        palette: target colours (``palette`` method; ``stats``/``histogram`` take the palette's
            colours weighted by share as the reference distribution).
        strength: 0 keeps the image, 1 applies the transfer fully.
        k: palette size for the ``palette`` method when the target is an image.

    Raises:
        BrushworkError: unknown method, no reference or palette, a strength outside [0, 1], or no
            opaque pixel in the image or the reference.
    """
    from ..imaging.io import unit_floats

    if method not in METHODS:
        raise BrushworkError(f"unknown recolour method '{method}': choose one of {', '.join(METHODS)}")
    rgb = unit_floats(rgb, shape="rgb")  # (uint8 arrays: 0-255, as read_image takes them)
    reference = None if reference is None else unit_floats(reference, "reference", shape="rgb")
    alpha = None if alpha is None else unit_floats(alpha, "alpha", shape="mask")
    reference_alpha = None if reference_alpha is None else unit_floats(reference_alpha, "alpha", shape="mask")
    palette = None if palette is None else Palette.of(palette)  # (hex colours, as people write them)
    for a, img, what in ((alpha, rgb, "alpha"), (reference_alpha, reference, "reference_alpha")):
        if a is not None and img is not None and a.shape != img.shape[:2]:
            raise BrushworkError(f"{what} is {a.shape[1]}x{a.shape[0]} and its picture {img.shape[1]}x{img.shape[0]}: "
                                 "give an alpha of the picture's size")
    if isinstance(strength, bool) or not isinstance(strength, (int, float, np.integer, np.floating)):
        raise BrushworkError(f"strength must be a number in [0, 1], got {strength!r}")
    from .palette import checked_seed

    seed = checked_seed(seed) if method == "palette" or seed is not None else 0  # (only the palette method samples)
    if (reference is None) == (palette is None):
        raise BrushworkError("recolouring needs exactly one target: a reference image or a palette")
    if not 0.0 <= strength <= 1.0:
        raise BrushworkError(f"strength must be in [0, 1], got {strength}")
    if reference is not None and reference_alpha is not None:  # the reference's own colours too
        reference = from_over_white(reference, reference_alpha)
    given = rgb
    if alpha is not None:  # the colours themselves, not as they look over white
        rgb = from_over_white(rgb, alpha)
    # An 8-bit picture without transparency (a JPEG photo) is recoloured colour by colour: each of its few hundred
    # thousand colours is converted, moved and converted back once, and the pixels look their colour up (a 48 MP
    # photo's float64 OKLab copy alone was 1.2 GB). Every step is per colour, so each pixel is what the per-pixel
    # work below gives it (the statistics summed in another order: within a few parts in 1e16).
    distinct = _distinct_colours(rgb.reshape(-1, 3)) if alpha is None else None
    if distinct is not None:
        colour_of, colours, counts_of = distinct
        src = rgb_to_oklab(colours.astype(np.float64))
    else:  # a megapixel at a time wherever the work is per pixel: a 20 MP photo's float64 copies came to 3.2 GB
        counts_of, rows = None, max(1, CHUNK // rgb.shape[1])
        lab = np.empty(rgb.shape, np.float64)
        for i in range(0, len(rgb), rows):
            lab[i:i + rows] = rgb_to_oklab(rgb[i:i + rows].astype(np.float64))
        src = _opaque(lab, alpha)
    if not len(src):
        raise no_opaque_pixels("the image", alpha, "to recolour")
    if reference is not None and reference_alpha is not None and not (reference_alpha >= 0.5).any():
        raise no_opaque_pixels("the reference image", reference_alpha, "to take colours from")
    if method == "palette":
        target = palette if palette is not None else extract_palette(reference, reference_alpha, k=k, seed=seed,
                                                                     at_most=True, composited=False)
        own = extract_palette(rgb, alpha, k=min(len(target), k if palette is None else MAX_COLORS), seed=seed,
                              at_most=True, composited=False)
        s_lab, t_lab = own.oklab, target.oklab
        moves = t_lab[match_palettes(s_lab, t_lab)] - s_lab
        spread = np.median(np.sqrt(((s_lab[:, None] - s_lab[None]) ** 2).sum(-1))[np.triu_indices(len(s_lab), 1)]) \
            if len(s_lab) > 1 else 0.1

        def moved(part: np.ndarray, i: int) -> np.ndarray:  # (the (pixels x colours) weights of a chunk only)
            d2 = ((part[:, None, :] - s_lab[None]) ** 2).sum(-1)
            wts = np.exp(-(d2 - d2.min(1, keepdims=True)) / (2 * (0.25 * spread) ** 2))
            wts /= wts.sum(1, keepdims=True)
            return part + wts @ moves
    else:
        if palette is not None:  # the palette as a distribution: each colour repeated by its share
            counts = np.maximum(1, np.round(palette.shares * 1000).astype(int))
            ref = np.repeat(palette.oklab, counts, axis=0)
        else:
            ref = _opaque(rgb_to_oklab(reference.astype(np.float64)), reference_alpha)
        mean, spread = _moments(src, counts_of)
        if method == "stats":
            floor, ref_std, ref_mean = np.maximum(spread, MIN_SPREAD), ref.std(0), ref.mean(0)

            def moved(part: np.ndarray, i: int) -> np.ndarray:
                return (part - mean) / floor * ref_std + ref_mean
        else:
            keep = None if alpha is None else (alpha >= 0.5).reshape(-1)
            maps = []
            # an 8-bit picture's distinct colours, each with its count: the same quantiles, from far fewer values
            # (np.unique over a 17 MP photo's pixels took 36 s; its 300,000 colours, a second)
            if counts_of is None:  # (transparency: the opaque pixels' own colours may still be 8-bit ones)
                distinct = _distinct_colours(_opaque(rgb, alpha))
                if distinct is not None:
                    index, colours, weights = distinct
                    colours = rgb_to_oklab(colours.astype(np.float64))
            for c in range(3):  # the mapping is built from (and applied to) the opaque pixels, or the colours
                if counts_of is not None:
                    mapped, index = _weighted_channel_map(src[:, c], counts_of, ref[:, c])
                elif distinct is None:
                    mapped, index = _channel_map(src[:, c], ref[:, c])
                else:
                    mapped, per_colour = _weighted_channel_map(colours[:, c], weights, ref[:, c])
                    mapped = mapped[per_colour]  # (each colour's match: the pixels index the colours)
                if spread[c] < MIN_SPREAD:  # noise: a share of the reference's spread, as stats gives it
                    mapped = ref[:, c].mean() + (mapped - ref[:, c].mean()) * (spread[c] / MIN_SPREAD)
                maps.append((mapped, index))
            seen = [0]  # opaque pixels before the chunk (the chunks come in order)

            def moved(part: np.ndarray, i: int) -> np.ndarray:
                out, k = part.copy(), slice(None) if keep is None else keep[i:i + len(part)]
                n = len(part) if keep is None else int(k.sum())
                for c, (mapped, index) in enumerate(maps):
                    out[k, c] = mapped[index[seen[0]:seen[0] + n]]
                seen[0] += n
                return out
    if counts_of is not None:  # each colour once, then every pixel takes its colour's
        done = np.empty(src.shape, np.float32)
        for i in range(0, len(src), CHUNK):
            part = src[i:i + CHUNK]
            done[i:i + CHUNK] = np.clip(oklab_to_rgb(part + strength * (moved(part, i) - part)), 0.0, 1.0)
        return done[colour_of].reshape(rgb.shape)
    flat, out = lab.reshape(-1, 3), np.empty(rgb.shape, np.float32)
    flat_out = out.reshape(-1, 3)
    if alpha is not None:
        flat_a, flat_given = np.clip(alpha, 0.0, 1.0).reshape(-1, 1), given.reshape(-1, 3)
    for i in range(0, len(flat), CHUNK):
        part = flat[i:i + CHUNK]
        done = part + strength * (moved(part, i) - part)
        result = np.clip(oklab_to_rgb(done), 0.0, 1.0)
        if alpha is not None:  # over white again; pixels less than half opaque as they were
            a = flat_a[i:i + CHUNK]
            result = np.where(a >= 0.5, result * a + (1.0 - a), flat_given[i:i + CHUNK])
        flat_out[i:i + CHUNK] = result
    return out
