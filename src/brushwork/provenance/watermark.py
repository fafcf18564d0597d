"""An invisible watermark that survives JPEG, resizing, cropping and small rotations.

brushwork marks every generated or stylized image it writes to a file (in-memory results stay unmarked),
so that anyone can later ask "did brushwork make this?" with ``brushwork watermark check IMAGE``.

The scheme is a keyed, periodic spread-spectrum pattern in luminance with a self-synchronising search
(after Kutter, "Watermarking resisting to translation, rotation, and scaling", SPIE 1998):

- **Embedding.** A key gives a ``32 x 32`` grid of +/-1 cells (SHAKE-256 of the key, so the pattern is
  fixed forever and the same on every platform); each cell covers ``4 x 4`` pixels and the tile is
  smoothed, giving a pattern of period 128 px with its energy at periods of about 8 px (mid frequencies,
  which JPEG keeps and a 50% resize does not alias away). The tile repeats over the whole image and is
  added to R, G and B alike (a pure luminance change), scaled by the local texture (busy regions hide
  more than flat skies), so that the mean PSNR is about 41 dB.
- **Detection.** The image's luminance is high-passed and whitened (divided by its local energy), its
  autocorrelation is taken, and a grid of scales (0.4x-2x) and rotations (+/-8 degrees) is scored by the
  autocorrelation at the lattice points that the periodic pattern would produce: this recovers the
  resize and rotation without knowing the original. For the best eight candidates (and half their
  scale), and for every rotation in half-degree steps at the original scale (the common case),
  the residual is folded into one tile (every pixel mapped to its place in the tile under that scale and
  rotation) and cross-correlated cyclically with the key's tile: any crop or shift only moves the peak.
  The verdict is the largest peak's z-score (peak minus mean, over the standard deviation of all
  ``128 x 128`` shifts); ``DETECT_Z`` is set well above what unmarked images reach (BENCHMARKS.md).

It is a zero-bit mark (present or not) with a public default key: it tells honest users where an
image came from; it is not a defence against someone who sets out to remove it (an attacker with the
key can subtract the pattern). Images smaller than about 256 px hold too few periods to be detected
reliably after an attack; they are still marked.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..errors import BrushworkError

__all__ = ["WatermarkResult", "embed_watermark", "detect_watermark", "watermark_pattern", "DETECT_Z", "UNSURE_Z", "DEFAULT_KEY",
           "SCHEME", "WATERMARK_MIN_SIDE"]

SCHEME = "brushwork-v1"  # recorded in recipes; a new pattern or strength gets a new name
DEFAULT_KEY = "brushwork"
CELLS = 32  # keyed cells per tile side
CELL_PX = 4  # pixels per cell at the embedding scale: the tile's period is 128 px
PERIOD = CELLS * CELL_PX
STRENGTH = 2.6  # luminance change (0-255 levels) at unit texture weight
DETECT_Z = 6.5  # z-score that counts as "marked": unmarked pictures reached 6.01 once in 1,683 (BENCHMARKS.md)
UNSURE_Z = 5.7  # the unmarked pictures' 99.9th percentile there: from it up to DETECT_Z a weak mark and none look alike
#: below this short side (px) an unmarked verdict means little: a 64 px copy of a marked picture is not found
WATERMARK_MIN_SIDE = 128
_MAX_SIDE = 1024  # detection looks at the centre of larger images: eight periods are plenty


@dataclass(frozen=True)
class WatermarkResult:
    """What :func:`detect_watermark` found.

    Attributes:
        detected: True when ``z >= DETECT_Z``.
        z: the correlation peak's z-score (unmarked images stay below about 5).
        scale: the estimated resize factor of the image since it was marked.
        rotation: the estimated rotation in degrees (counter-clockwise).
    """

    detected: bool
    z: float
    scale: float
    rotation: float


def watermark_pattern(key: str = DEFAULT_KEY) -> np.ndarray:
    """The key's tile: ``(PERIOD, PERIOD)`` float64, zero mean and unit standard deviation, periodic."""
    bits = np.unpackbits(np.frombuffer(hashlib.shake_256(f"brushwork-watermark-v1:{key}".encode()).digest(CELLS * CELLS // 8),
                                       dtype=np.uint8))
    cells = bits.reshape(CELLS, CELLS).astype(np.float64) * 2.0 - 1.0
    tile = np.kron(cells, np.ones((CELL_PX, CELL_PX)))
    # A periodic Gaussian blur (sigma 1 px) in the Fourier domain: softens the cell edges, which
    # would otherwise show as a faint grid and put energy where JPEG throws it away.
    f = np.fft.fftfreq(PERIOD)
    g = np.exp(-2.0 * (np.pi * 1.0) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    tile = np.real(np.fft.ifft2(np.fft.fft2(tile) * g))
    tile -= tile.mean()
    return tile / tile.std()


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(x, sigma, mode="reflect")


def embed_watermark(image: Image.Image, key: str = DEFAULT_KEY, strength: float = STRENGTH) -> Image.Image:
    """Mark ``image`` and return a new image of the same size.

    RGB, RGBA, L and LA images keep their mode (the mark is a pure luminance change; alpha is kept);
    other modes (palette, 16-bit, CMYK) come back as RGB or RGBA.

    Args:
        image: the picture to mark.
        key: the pattern's key; detection needs the same key.
        strength: luminance change in 0-255 levels where the texture weight is 1.
    """
    if not isinstance(image, Image.Image):
        raise BrushworkError(f"embed_watermark takes a PIL image, got {type(image).__name__}: open it with "
                             "PIL.Image.open (or brushwork.imaging.io.to_pil for an array)")
    if not 0 < strength <= 16:  # (NaN too) above a few levels the mark shows; 16 is far past that
        raise BrushworkError(f"strength must be in (0, 16] levels (default {STRENGTH}), got {strength}")
    from ..imaging.decode import has_alpha, to_8bit

    mode = image.mode
    image = to_8bit(image)  # 16-bit and float greys scaled as everything reads them (convert would clip them)
    alpha = image.convert("RGBA").getchannel("A") if has_alpha(image) else None
    rgb = np.asarray(image.convert("RGB"))  # uint8 (H, W, 3); float32 below: 4096^2 costs ~0.4 GB, not 2
    h, w = rgb.shape[:2]
    tile = watermark_pattern(key).astype(np.float32)
    pattern = np.tile(tile, (-(-h // PERIOD), -(-w // PERIOD)))[:h, :w]
    y = _luma(rgb.astype(np.float32))
    # Texture weight: the local energy of the high-passed luminance, relative to a typical 8 levels,
    # kept within [0.4, 1.6]: flat regions get a fainter mark, busy ones a stronger one.
    hp = y - _blur(y, 2.0)
    del y
    weight = np.clip(np.sqrt(_blur(hp * hp, 4.0)) / 8.0, 0.4, 1.6)
    del hp
    delta = (np.float32(strength) * weight) * pattern
    del weight, pattern
    out = np.empty_like(rgb)
    for c in range(3):  # one channel at a time: no (H, W, 3) float copy
        out[..., c] = np.clip(np.rint(rgb[..., c] + delta), 0, 255)
    marked = Image.fromarray(out, "RGB")
    if alpha is not None:
        marked.putalpha(alpha)
        return marked.convert("LA") if mode == "LA" else marked
    return marked.convert("L") if mode == "L" else marked


def _residual(image: Image.Image) -> np.ndarray:
    """High-passed, whitened luminance: the pattern's carrier with the picture mostly removed."""
    w, h = image.size
    if max(w, h) > _MAX_SIDE:  # the centre (cropped before converting: a large image is never copied whole)
        left, top = max(0, (w - _MAX_SIDE) // 2), max(0, (h - _MAX_SIDE) // 2)
        image = image.crop((left, top, min(w, left + _MAX_SIDE), min(h, top + _MAX_SIDE)))
    from ..imaging.decode import to_8bit

    y = _luma(np.asarray(to_8bit(image).convert("RGB"), dtype=np.float64))
    hp = y - _blur(y, 2.0)
    return hp / (np.sqrt(_blur(hp * hp, 4.0)) + 1.0)


def _bilinear(a: np.ndarray, py: np.ndarray, px: np.ndarray) -> np.ndarray:
    """Sample the periodic array ``a`` at fractional coordinates (wrapping around)."""
    h, w = a.shape
    y0, x0 = np.floor(py), np.floor(px)
    fy, fx = py - y0, px - x0
    y0, x0 = y0.astype(np.int64) % h, x0.astype(np.int64) % w
    y1, x1 = (y0 + 1) % h, (x0 + 1) % w
    return (a[y0, x0] * (1 - fy) * (1 - fx) + a[y0, x1] * (1 - fy) * fx
            + a[y1, x0] * fy * (1 - fx) + a[y1, x1] * fy * fx)


def _sync_candidates(r: np.ndarray, top: int = 8) -> list[tuple[float, float]]:
    """Scale/rotation pairs whose predicted lattice points stand out in the autocorrelation of ``r``."""
    h, w = r.shape
    # Spectral flattening: the power spectrum divided by its local average keeps the sharp lines of a
    # periodic pattern and removes most of the picture's broadband structure (edges, gradients), whose
    # autocorrelation would otherwise swamp the lattice.
    power = np.abs(np.fft.fft2(r)) ** 2
    from scipy.ndimage import gaussian_filter

    flat = power / (gaussian_filter(power, 4.0, mode="wrap") + 1e-12)
    ac = np.real(np.fft.ifft2(flat))
    ac /= ac[0, 0] + 1e-12
    scales = np.exp(np.arange(np.log(0.4), np.log(2.0), 0.004))
    scales = scales[PERIOD * scales * 2 <= min(h, w)]  # two periods must fit
    if scales.size == 0:
        return []
    angles = np.deg2rad(np.arange(-8.0, 8.0001, 0.5))
    s, a = np.meshgrid(scales, angles, indexing="ij")  # (S, A)
    score = np.zeros_like(s)
    used = np.zeros_like(s)
    reach = min(h, w) / 2  # offsets beyond half the image overlap too little of it to count
    # Twelve lattice points (every (k, l) with |k|, |l| <= 2, one of each +/- pair) within reach: a true
    # lattice lights up all of them, while a picture's own repeats (tiles, stripes) rarely match many.
    for k, l in ((1, 0), (0, 1), (1, 1), (1, -1), (2, 0), (0, 2), (2, 1), (1, 2), (2, -1), (1, -2), (2, 2), (2, -2)):
        # Lattice vector (k, l) * PERIOD, scaled and rotated: (dx, dy) in image coordinates.
        dx = PERIOD * s * (k * np.cos(a) - l * np.sin(a))
        dy = PERIOD * s * (k * np.sin(a) + l * np.cos(a))
        ok = np.hypot(dx, dy) <= reach
        peak = _bilinear(ac, dy, dx)
        ring = np.mean([_bilinear(ac, dy + oy, dx + ox) for oy, ox in ((3, 0), (-3, 0), (0, 3), (0, -3))], axis=0)
        score += np.where(ok, peak - ring, 0.0)
        used += ok
    score = score / np.maximum(used, 1) * np.sqrt(used)  # a sum's z-score: more points, more evidence
    out: list[tuple[float, float]] = []
    order = np.argsort(score, axis=None)[::-1]
    for idx in order:
        i, j = np.unravel_index(idx, score.shape)
        cand = (float(scales[i]), float(np.rad2deg(angles[j])))
        if all(abs(np.log(cand[0] / c[0])) > 0.02 or abs(cand[1] - c[1]) > 1.0 for c in out):
            out.append(cand)
        if len(out) == top:
            break
    return out


def _fold_z(r: np.ndarray, tile: np.ndarray, scale: float, rotation: float) -> float:
    """Fold ``r`` into one tile under (scale, rotation) and return the z-score of the best cyclic shift."""
    h, w = r.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    a = np.deg2rad(rotation)
    # Image coordinates -> tile coordinates: undo the rotation, then the scale.
    u = (np.cos(a) * xx + np.sin(a) * yy) / scale
    v = (-np.sin(a) * xx + np.cos(a) * yy) / scale
    bins = (np.floor(v).astype(np.int64) % PERIOD) * PERIOD + (np.floor(u).astype(np.int64) % PERIOD)
    sums = np.bincount(bins.ravel(), weights=r.ravel(), minlength=PERIOD * PERIOD)
    counts = np.bincount(bins.ravel(), minlength=PERIOD * PERIOD)
    folded = (sums / np.maximum(counts, 1)).reshape(PERIOD, PERIOD)
    spec = np.fft.fft2(folded) * np.conj(np.fft.fft2(tile))
    # Leave out the frequencies that JPEG's 8 px block grid and straight lines (canvas edges, the corners
    # a rotation leaves) put into every folded picture: 1.5% of the bins, none of the mark's main energy.
    k = np.arange(PERIOD)
    spec[(k % 16 == 0)[:, None] | (k % 16 == 0)[None, :]] = 0
    corr = np.real(np.fft.ifft2(spec))
    sd = corr.std()
    return float((corr.max() - corr.mean()) / sd) if sd > 0 else 0.0


def detect_watermark(image: Image.Image, key: str = DEFAULT_KEY) -> WatermarkResult:
    """Look for the key's mark in ``image``, undoing resizes of 0.4x-2x and rotations of +/-8 degrees.

    Returns:
        A :class:`WatermarkResult`; ``detected`` when the peak's z-score reaches ``DETECT_Z``.
    """
    if not isinstance(image, Image.Image):
        raise BrushworkError(f"detect_watermark takes a PIL image, got {type(image).__name__}: open it with "
                             "PIL.Image.open (or brushwork.imaging.io.to_pil for an array)")
    r = _residual(image)
    if min(r.shape) < 32:
        return WatermarkResult(False, 0.0, 1.0, 0.0)
    tile = watermark_pattern(key)
    # The identity and every small rotation at the original scale (the common case: a rotated, cropped,
    # recompressed copy), then what the autocorrelation suggests.
    candidates = [(1.0, float(a)) for a in np.arange(-8.0, 8.0001, 0.5)]
    for s, a in _sync_candidates(r):
        # a lattice lights up at half and at twice its period as well: an enlarged copy's autocorrelation often
        # ranks a fraction of its true scale first (1.5x was missed in 3 of 9 pictures without 2s)
        candidates += [(s, a), (s / 2, a), (2 * s, a)]
    best = max(((_fold_z(r, tile, s, a), s, a) for s, a in candidates if PERIOD * s >= 24), key=lambda t: t[0])
    z, s, a = best
    # Image rows run downwards, so an angle in these coordinates is clockwise: report it counter-clockwise
    # (PIL's Image.rotate and most editors).
    return WatermarkResult(z >= DETECT_Z, round(z, 2), round(s, 3), round(-a, 2) + 0.0)
