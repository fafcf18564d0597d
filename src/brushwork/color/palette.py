"""Palettes: the k colours that best summarise an image, found by k-means++ in OKLab.

OKLab is perceptually uniform enough that Euclidean distance there tracks how different two colours
look, so clustering there (not in RGB, as colorthief and Pylette do) spends the k colours where the
eye sees differences. The clustering runs on a seeded sample of the opaque pixels (transparent
pixels are ignored), optionally weighted by saliency so that the subject counts more than the
background; it is deterministic for a given seed.

scikit-learn's KMeans would do the clustering, but importing it alone takes about 0.5 s, twice the
whole command's time budget; the Lloyd iterations here are a dozen lines of numpy.
"""

from __future__ import annotations

import numbers

from dataclasses import dataclass

import numpy as np

from ..errors import BrushworkError, flag
from .spaces import oklab_to_oklch, oklab_to_rgb, rgb_to_8bit, rgb_to_hex, rgb_to_oklab

__all__ = ["Palette", "extract_palette", "fit_palette", "kmeans", "palette_error", "palette_pixels", "MAX_COLORS"]

MAX_COLORS = 256  # the most colours extract_palette fits (-k): a GIMP palette's usual limit, and about a second's fit


@dataclass(frozen=True)
class Palette:
    """``k`` colours with the share of the (weighted) pixels nearest each, sorted by share.

    Attributes:
        rgb: ``(k, 3)`` sRGB in [0, 1].
        shares: ``(k,)`` fractions summing to 1.
    """

    rgb: np.ndarray
    shares: np.ndarray

    @property
    def oklab(self) -> np.ndarray:
        return rgb_to_oklab(self.rgb)

    @property
    def oklch(self) -> np.ndarray:
        return oklab_to_oklch(self.oklab)

    @property
    def hex(self) -> list[str]:
        return [rgb_to_hex(c) for c in self.rgb]

    def __len__(self) -> int:
        return len(self.rgb)

    def to_dict(self) -> dict:
        """JSON-ready: one entry per colour with hex, 0-255 RGB, OKLCH (L 0-1, C, hue in degrees), share."""
        return {"colors": [
            {"hex": h, "rgb": rgb_to_8bit(c), "oklch": [round(float(v), 4) for v in lch],
             "share": round(float(s), 4)}
            for h, c, lch, s in zip(self.hex, self.rgb, self.oklch, self.shares)]}

    @classmethod
    def of(cls, palette: Palette | list[str] | str) -> Palette:
        """``palette`` itself, or hex colours as people write them (``["#1e90ff"]``, or one) made into one."""
        return palette if isinstance(palette, Palette) else cls.from_hex(palette)

    @classmethod
    def from_hex(cls, colors: list[str], shares: list[float] | None = None) -> Palette:
        from .spaces import hex_to_rgb

        colors = [colors] if isinstance(colors, str) else list(colors)  # one colour, not its characters
        if not colors:
            raise BrushworkError("a palette needs at least one colour, e.g. ['#1e90ff']")
        rgb = np.array([hex_to_rgb(c) for c in colors], dtype=np.float64)
        sh = np.full(len(rgb), 1.0 / len(rgb)) if shares is None else np.asarray(shares, dtype=np.float64)
        if sh.shape != (len(rgb),) or not np.isfinite(sh).all() or (sh < 0).any() or sh.sum() <= 0:
            raise BrushworkError(f"shares must be {len(rgb)} non-negative numbers, not all zero")
        return cls(rgb, sh / sh.sum())


class _Stream:
    """A seeded stream of uniform numbers from the splitmix64 hash (Steele et al. 2014), in plain numpy.

    The palette command is timed start-up included, and ``numpy.random`` alone costs 9 ms of import
    (it pulls in ``secrets``, ``hmac`` and ``hashlib``); this is all the randomness a palette needs.
    """

    def __init__(self, seed: int) -> None:
        self.state = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)
        self.count = 0

    def bits(self, n: int) -> np.ndarray:
        i = np.arange(self.count + 1, self.count + n + 1, dtype=np.uint64)
        self.count += n
        z = self.state + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))

    def uniform(self, n: int) -> np.ndarray:
        """``n`` floats in [0, 1) from the top 53 bits."""
        return (self.bits(n) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))

    def choice(self, p: np.ndarray) -> int:
        """One index drawn with probabilities proportional to ``p`` (non-negative, positive sum)."""
        c = np.cumsum(p)
        return int(min(np.searchsorted(c, self.uniform(1)[0] * c[-1], side="right"), len(p) - 1))

    def subset(self, idx: np.ndarray, m: int) -> np.ndarray:
        """``m`` of ``idx`` without replacement, in their original order."""
        keys = self.bits(len(idx))
        return np.sort(idx[np.argpartition(keys, m - 1)[:m]])


def _usable(rgb: np.ndarray, alpha: np.ndarray | None, weights: np.ndarray | None):
    """``(pixels (n, 3), weights (n,), mask (n,))``: the mask marks the opaque (alpha >= 0.5), weighted pixels."""
    flat = rgb.reshape(-1, 3)
    w = np.ones(len(flat)) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    keep = w > 0 if alpha is None else (w > 0) & (alpha.reshape(-1) >= 0.5)
    return flat, w, keep


def no_opaque_pixels(image: str, alpha: np.ndarray | None, purpose: str) -> BrushworkError:
    """The error for a picture with no pixel at least half opaque (the colour tools count only those): a visible but
    translucent picture (a wallpaper overlay) is told apart from an empty one."""
    most = 0.0 if alpha is None or not alpha.size else float(np.max(alpha))
    if most > 1 / 255:
        return BrushworkError(f"{image} has no pixel at least half opaque {purpose} (its most opaque is "
                              f"{int(most * 1000) / 10:g}%; fainter pixels are left out): flatten it onto a background "
                              "first")
    return BrushworkError(f"{image} has no opaque pixels {purpose}: use an image with visible content")


def palette_pixels(rgb: np.ndarray, alpha: np.ndarray | None = None, weights: np.ndarray | None = None,
                   *, sample: int = 12_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded sample of the opaque pixels in OKLab, ``(n, 3)``, with their weights ``(n,)``.

    Raises:
        BrushworkError: no pixel is opaque enough (alpha >= 0.5) to count.
    """
    flat, w, keep = _usable(rgb, alpha, weights)
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        raise no_opaque_pixels("the image", alpha, "to take colours from")
    if idx.size > 8 * sample:  # a large photo: draws with replacement (at most 6% repeats) skip a 4 ms partition
        idx = idx[_Stream(seed).bits(sample) % np.uint64(idx.size)]
    elif idx.size > sample:
        idx = _Stream(seed).subset(idx, sample)
    return rgb_to_oklab(flat[idx].astype(np.float64)), w[idx]


def _centroids(x: np.ndarray, labels: np.ndarray, w: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each cluster's ``w``-weighted mean (an empty cluster keeps its centre) and the clusters' masses."""
    mass = np.bincount(labels, weights=w, minlength=len(centers))
    sums = np.stack([np.bincount(labels, weights=w * x[:, d], minlength=len(centers)) for d in range(x.shape[1])], 1)
    return np.where(mass[:, None] > 0, sums / np.maximum(mass, 1e-300)[:, None], centers), mass


def _sq_dist(x: np.ndarray, c: np.ndarray, x2: np.ndarray | None = None) -> np.ndarray:
    x2 = (x * x).sum(1) if x2 is None else x2
    return np.maximum(x2[:, None] - 2 * x @ c.T + (c * c).sum(1)[None, :], 0.0)


def kmeans(x: np.ndarray, k: int, *, weights: np.ndarray | None = None, seed: int = 0, n_init: int = 3,
           iters: int = 50, tol: float = 1e-7, medians: int = 0, trials: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Weighted k-means with k-means++ seeding (Arthur & Vassilvitskii 2007), best of ``n_init``.

    ``trials > 1`` is greedy k-means++ (as in scikit-learn): each new centre is the best of that many
    candidates drawn by k-means++, the one that lowers the weighted squared distance most.

    ``medians > 0`` follows each run with that many k-medians steps (:func:`median_steps`) and keeps
    the run with the lowest mean distance instead of the lowest squared one.
    Returns ``(centers (k, d), labels (n,))``. Deterministic for a given ``seed``.
    """
    w = np.ones(len(x)) if weights is None else weights
    x2 = (x * x).sum(1)
    rows = np.arange(len(x))
    rng = _Stream(seed)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(n_init):
        centers = np.empty((k, x.shape[1]))
        centers[0] = x[rng.choice(w)]
        d2 = _sq_dist(x, centers[:1], x2)[:, 0]
        for j in range(1, k):
            p = d2 * w
            if p.sum() <= 0:
                centers[j] = x[int(rng.bits(1)[0] % np.uint64(len(x)))]
                continue
            picks = [rng.choice(p) for _ in range(trials)]
            cand = np.minimum(d2[:, None], _sq_dist(x, x[picks], x2))
            t = int(((cand * w[:, None]).sum(0)).argmin())
            centers[j], d2 = x[picks[t]], cand[:, t]
        prev = np.inf
        for _ in range(iters):
            dist = _sq_dist(x, centers, x2)
            labels = dist.argmin(1)
            near = dist[rows, labels] * w
            inertia = float(near.sum())
            centers, mass = _centroids(x, labels, w, centers)
            for j in np.flatnonzero(mass <= 0):  # an empty cluster restarts at the worst-served point
                centers[j] = x[int(near.argmax())]
                near[int(near.argmax())] = 0
            if prev - inertia <= tol * max(prev, 1e-12):
                break
            prev = inertia
        if medians:
            centers = median_steps(x, centers, w, medians)
        dist = _sq_dist(x, centers, x2)
        labels = dist.argmin(1)
        near = dist[rows, labels]
        inertia = float(((np.sqrt(near) if medians else near) * w).sum())
        if best is None or inertia < best[0]:
            best = (inertia, centers.copy(), labels)
    assert best is not None
    return best[1], best[2]


def median_steps(x: np.ndarray, centers: np.ndarray, weights: np.ndarray, steps: int = 5) -> np.ndarray:
    """Lloyd steps of k-medians from k-means' ``centers``: each centre moves to its cluster's
    geometric median (one Weiszfeld step, weights ``w / distance``), then points are reassigned.

    k-means minimises the squared distance; the mean distance is what a palette's error is (and the
    median is less pulled by a few outlying pixels). From k-means' centres a few steps suffice, and they
    make the palette less dependent on the seed.
    """
    x2 = (x * x).sum(1)
    rows = np.arange(len(x))
    c = centers.copy()
    for _ in range(steps):
        d2 = _sq_dist(x, c, x2)
        labels = d2.argmin(1)
        c = _centroids(x, labels, weights / np.maximum(np.sqrt(d2[rows, labels]), 1e-4), c)[0]
    return c


def _distinct(lab: np.ndarray) -> int:
    """How many different colours ``lab`` holds, counted on OKLab rounded to 0.001."""
    q = np.round(lab * 1000).astype(np.int64) + 1000  # one integer per (0.001-rounded) OKLab colour
    keys = np.sort((q[:, 0] * 4096 + q[:, 1]) * 4096 + q[:, 2])
    return int(np.count_nonzero(np.diff(keys))) + 1  # (np.unique would import numpy.ma: 7 ms of start-up)


def _every_colour(rgb: np.ndarray, alpha: np.ndarray | None, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct (8-bit) colour of the opaque pixels once, in OKLab, weighted by its pixels: for
    images of a few flat colours, which a sample can miss."""
    flat, w, keep = _usable(rgb, alpha, weights)
    q = np.round(np.clip(flat[keep], 0.0, 1.0) * 255).astype(np.int64)
    colours, inverse = np.unique((q[:, 0] << 16) | (q[:, 1] << 8) | q[:, 2], return_inverse=True)
    rgb8 = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], 1) / 255.0
    return rgb_to_oklab(rgb8), np.bincount(inverse.reshape(-1), weights=w[keep], minlength=len(colours))


def _mean_distance(x: np.ndarray, w: np.ndarray, centers: np.ndarray) -> float:
    return float((np.sqrt(_sq_dist(x, centers).min(1)) * w).sum() / w.sum())


def fit_palette(lab: np.ndarray, w: np.ndarray, k: int, seed: int = 0, coarse: int = 2_000,
                starts: int = 6, keep: int = 2) -> np.ndarray:
    """``k`` OKLab centres for the weighted pixels ``lab`` (at least ``k`` distinct), coarse to fine.

    Which basin k-means ends in matters more than how many pixels it sees: on 30 photos the error
    of two starts on 40,000 pixels is, for the worst of six seeds, 6% above the best on average. So ``starts`` greedy
    k-means++ starts (each refined by k-medians steps, see :func:`kmeans`) run on every n-th pixel,
    about ``coarse`` of them, where a start is cheap; the ``keep`` best (lowest mean distance) each
    take one Lloyd step and five k-medians steps on the whole sample, and the better of them there
    wins. Against two plain starts on 40,000 pixels this is 1.8x faster, 2.5% lower in error on
    average, and the seed-to-seed spread is a fifth (``benchmarks/palette_seeds.py``).
    """
    step = len(lab) // max(coarse, 1)
    few, fw = (lab[::step], w[::step]) if step > 1 else (lab, w)
    if _distinct(few) < k:  # rare colours that the thinned sample misses: cluster the whole sample
        few, fw = lab, w
    runs = []
    for i in range(starts):
        c = kmeans(few, k, weights=fw, seed=seed * 16 + i, n_init=1, iters=15, medians=5,
                   trials=2 + int(np.log(k)))[0]  # greedy k-means++, scikit-learn's number of trials
        runs.append((_mean_distance(few, fw, c), i, c))
    best: tuple[float, np.ndarray] | None = None
    for _, _, c in sorted(runs, key=lambda r: r[:2])[:keep]:
        if few is not lab:
            c = median_steps(lab, _centroids(lab, _sq_dist(lab, c).argmin(1), w, c)[0], w, 5)  # one Lloyd step first
        d = _mean_distance(lab, w, c)
        if best is None or d < best[0]:
            best = (d, c)
    assert best is not None
    return best[1]


def checked_seed(seed) -> int:
    """``seed`` as an int: a whole number (numpy's too), not a float or a bool (``1.5`` failed deep in the
    sampler, "unsupported operand type(s) for &")."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise BrushworkError(f"seed must be a whole number, got {seed!r}")
    return int(seed)


def extract_palette(rgb: np.ndarray, alpha: np.ndarray | None = None, *, k: int = 6, seed: int = 0,
                    sample: int = 12_000, saliency: bool = False, at_most: bool = False,
                    composited: bool = True) -> Palette:
    """The ``k``-colour palette of an image ``(H, W, 3)`` in [0, 1] (``alpha`` ``(H, W)`` or None).

    With ``alpha`` and ``composited`` (as ``read_image`` gives them: the picture as it looks over white), the
    pixels' own colours are clustered, so a translucent overlay or a soft edge is not taken for a paler colour;
    ``composited=False`` for colours already un-composited.

    ``saliency=True`` weights each pixel by the spectral-residual saliency (composition module), so
    a small bright subject is not drowned by a large background. ``at_most=True`` returns fewer
    colours when the image has fewer than ``k`` distinct ones, instead of raising.

    Raises:
        BrushworkError: ``k`` < 1, no opaque pixels, or fewer distinct colours than ``k``.
    """
    from ..imaging.io import unit_floats

    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 1 <= k <= MAX_COLORS:
        raise BrushworkError(f"{flag('-k')} must be a whole number from 1 to {MAX_COLORS}, got {k!r}")
    k = int(k)
    seed = checked_seed(seed)
    rgb = unit_floats(rgb, shape="rgb")  # (a uint8 array: 0-255, as read_image takes it)
    alpha = None if alpha is None else unit_floats(alpha, "alpha", shape="mask")
    if alpha is not None and alpha.shape != rgb.shape[:2]:  # (a numpy broadcast error)
        raise BrushworkError(f"alpha is {alpha.shape[1]}x{alpha.shape[0]} and the picture {rgb.shape[1]}x"
                             f"{rgb.shape[0]}: give an alpha of the picture's size")
    if alpha is not None and composited:
        from .spaces import from_over_white

        rgb = from_over_white(rgb, alpha)
    weights = None
    if saliency:
        from ..composition import saliency_map

        weights = 0.1 + saliency_map(rgb)  # the background still counts a little
    lab, w = palette_pixels(rgb, alpha, weights, sample=sample, seed=seed)
    distinct = _distinct(lab)
    if distinct < k and rgb.shape[0] * rgb.shape[1] > len(lab):  # the sample may miss a rare colour
        lab, w = _every_colour(rgb, alpha, weights)
        distinct = _distinct(lab)
    if distinct < k and at_most:
        k = distinct
    elif distinct < k:
        raise BrushworkError(f"the image has only {distinct} distinct colour(s), fewer than -k {k}: "
                             f"use -k {distinct} or fewer")
    centers = fit_palette(lab, w, k, seed)
    shares = np.bincount(_sq_dist(lab, centers).argmin(1), weights=w, minlength=k) / w.sum()
    order = np.argsort(-shares, kind="stable")
    return Palette(np.clip(oklab_to_rgb(centers[order]), 0.0, 1.0), shares[order])


def palette_error(rgb: np.ndarray, palette: Palette | np.ndarray, alpha: np.ndarray | None = None) -> float:
    """Mean OKLab distance from every (opaque) pixel of ``rgb`` (floats in [0, 1], or uint8) to its nearest colour
    of ``palette`` (a :class:`Palette`, hex colours, or an ``(k, 3)`` array in [0, 1]); lower is better."""
    from ..imaging.io import unit_floats

    flat = unit_floats(rgb, shape="rgb").reshape(-1, 3).astype(np.float64)
    if alpha is not None:
        flat = flat[unit_floats(alpha, "alpha", shape="mask").reshape(-1) >= 0.5]
    if isinstance(palette, (Palette, str)) or (isinstance(palette, (list, tuple)) and palette
                                               and all(isinstance(c, str) for c in palette)):
        colors = Palette.of(palette).rgb
    else:
        colors = np.asarray(palette, dtype=np.float64)
    lab, c = rgb_to_oklab(flat), rgb_to_oklab(colors)
    total = 0.0
    for start in range(0, len(lab), 1 << 18):  # bounded memory on 15 MP photos
        total += float(np.sqrt(_sq_dist(lab[start:start + (1 << 18)], c).min(1)).sum())
    return total / max(len(lab), 1)
