"""Composition analysis: saliency, rule of thirds, golden ratio, balance, horizon tilt, crops.

Everything here is numpy + Pillow (no torch) and works on a small copy of the image (long side
``WORK`` px), so it takes milliseconds on any photo.

* Saliency: a blend of two classic maps, each scaled to [0, 1]: the spectral residual of Hou & Zhang
  (CVPR 2007), per OKLab channel, which finds what is unexpected in the picture's spectrum (texture
  breaks, small objects on busy ground), and Achanta et al.'s frequency-tuned saliency (CVPR 2009),
  each pixel's OKLab distance from the image's mean colour, which finds objects that differ in colour
  or brightness from the whole (where the spectral residual alone lights up their edges only),
  weighted 0.35 and 0.65, then a mild centre prior (x 0.6 at the corners, x 1 mid-frame: subjects
  sit away from the edges, Judd et al. 2009).
* The subject: the saliency-weighted centre of the most salient 10 % of the picture.
* Rule of thirds / golden ratio: how close the subject sits to the nearest power point (where the
  lines at 1/3 and 2/3, or at 0.382 and 0.618, cross), 1 on it, 0 at the farthest possible place.
* Balance: how far the saliency's centre of mass sits from the centre; 1 is perfectly centred.
* Horizon: the row where the picture's brightness changes most strongly from top to bottom, and its
  tilt in degrees, from a line fitted through the strongest change in each column near it.
* Crops: for each aspect ratio, windows of several sizes slide over the image; each is scored by the
  saliency it keeps, where its subject falls on its own thirds, and how much salient matter its edges
  cut through; the best is returned with its reasons.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ..errors import BrushworkError

__all__ = ["saliency_map", "working_saliency", "resize_map", "analyze", "suggest_crops", "parse_ratio", "Crop",
           "Composition", "READ_SIDE"]

WORK = 256  # long side of the working copy
#: the long side (at least) at which `brushwork compose` and the studio read a photo (``read_image(draft=)``):
#: the analysis sees a ``WORK`` px copy, so a 64 MP photo need not be decoded whole, nor held in floats
READ_SIDE = 2 * WORK
PHI = (np.sqrt(5) - 1) / 2  # 0.618


def _small(rgb: np.ndarray, long_side: int) -> np.ndarray:
    """A working copy about ``long_side`` px on the long side (never enlarged), its short side kept at 8 px or
    more where the picture has them: a very long strip would otherwise be one pixel across (nothing to
    measure, and empty differences)."""
    h, w = rgb.shape[:2]
    s = max(long_side / max(h, w), min(8, h, w) / min(h, w))
    if s >= 1:
        return rgb.astype(np.float32)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    im = Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))
    return np.asarray(im.resize(size, Image.Resampling.BOX), np.float32) / 255.0


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur with reflected borders."""
    r = max(1, int(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    x = np.pad(x, r, mode="reflect")
    x = np.apply_along_axis(lambda v: np.convolve(v, k, mode="valid"), 0, x)
    return np.apply_along_axis(lambda v: np.convolve(v, k, mode="valid"), 1, x)


def _unit(x: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a map with no real contrast (a flat picture) becomes all zeros, not amplified noise."""
    x = x - x.min()
    top = float(x.max())
    return x / top if top > 1e-6 else np.zeros_like(x)


def _blur_channels(x: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([_blur(x[..., c], sigma) for c in range(x.shape[-1])], axis=-1)


def saliency_map(rgb: np.ndarray, *, size: int | None = None) -> np.ndarray:
    """Spectral-residual saliency of ``rgb (H, W, 3)`` in [0, 1], at ``size`` long side (default: the input's).

    Returns ``(h, w)`` float in [0, 1] (the input's size unless ``size`` is given).
    """
    from ..color.spaces import rgb_to_oklab

    rgb = _picture(rgb)
    if size is not None and (isinstance(size, bool) or not isinstance(size, numbers.Integral)
                             or not 1 <= size <= MAX_MAP_SIDE):
        raise BrushworkError(f"size must be a whole number of pixels from 1 to {MAX_MAP_SIDE}, got {size!r}")
    h, w = rgb.shape[:2]
    small = _small(rgb, 64)  # the spectral residual works at about 64 px (Hou & Zhang)
    lab = rgb_to_oklab(small.astype(np.float64))
    sal = np.zeros(small.shape[:2])
    for c in range(3):
        if float(lab[..., c].std()) < 1e-4:  # a flat channel has no spectrum to find surprises in
            continue
        f = np.fft.fft2(lab[..., c] - lab[..., c].mean())
        log_amp = np.log(np.abs(f) + 1e-9)
        pad = np.pad(log_amp, 1, mode="wrap")
        avg = sum(pad[i:i + log_amp.shape[0], j:j + log_amp.shape[1]] for i in range(3) for j in range(3)) / 9
        sal += np.abs(np.fft.ifft2(np.exp(log_amp - avg + 1j * np.angle(f)))) ** 2
    ft = np.linalg.norm(_blur_channels(lab, 1.0) - lab.reshape(-1, 3).mean(0), axis=2)
    sal = 0.35 * _unit(_blur(sal, 2.0)) + 0.65 * _unit(ft)
    # photographers put subjects away from the very edges: a mild centre prior (Judd et al. 2009)
    yy, xx = np.mgrid[0:sal.shape[0], 0:sal.shape[1]]
    r2 = ((yy + 0.5) / sal.shape[0] - 0.5) ** 2 + ((xx + 0.5) / sal.shape[1] - 0.5) ** 2
    sal = _unit(sal * (0.6 + 0.4 * np.exp(-r2 / (2 * 0.3**2))))
    out_w, out_h = (w, h) if size is None else (max(1, round(w * size / max(h, w))), max(1, round(h * size / max(h, w))))
    return resize_map(sal, out_w, out_h)


MAX_MAP_SIDE = 16384  # a saliency map's long side at most (10**6 asked for terabytes)


def _picture(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` as floats in [0, 1] (:func:`~brushwork.imaging.io.unit_floats`), with pixels to analyse."""
    from ..imaging.io import unit_floats

    rgb = unit_floats(rgb, shape="rgb")  # (a uint8 picture: 0-255)
    if min(rgb.shape[:2]) < 2:
        raise BrushworkError(f"the picture is {rgb.shape[1]}x{rgb.shape[0]}: give one of at least 2x2 pixels")
    return rgb


def _checked_saliency(saliency, small: np.ndarray) -> np.ndarray:
    """A saliency map passed in: the working copy's size (:func:`working_saliency` of the same picture)."""
    sal = np.asarray(saliency)
    sal = sal if sal.dtype.kind == "f" else sal.astype(np.float64)  # (working_saliency's float32, as it is)
    if sal.shape != small.shape[:2]:
        raise BrushworkError(f"saliency has shape {sal.shape}, not the working copy's {small.shape[:2]}: pass "
                             "working_saliency(rgb) of the same picture (or leave it out)")
    return sal


def resize_map(sal: np.ndarray, width: int, height: int) -> np.ndarray:
    """A float map resized (bilinear) to ``(height, width)``."""
    return np.asarray(Image.fromarray(sal.astype(np.float32), mode="F").resize((width, height), Image.Resampling.BILINEAR))


def working_saliency(rgb: np.ndarray) -> np.ndarray:
    """Saliency of the working copy (long side ``WORK``) that :func:`analyze` and :func:`suggest_crops`
    use; compute it once and pass it to both (and to the overlay) to analyse one picture. ``rgb``: floats in
    [0, 1], or uint8."""
    from ..imaging.io import unit_floats

    return saliency_map(_small(unit_floats(rgb, shape="rgb"), WORK))


def parse_ratio(text: str | float) -> float:
    """``"4:5"``, ``"1.5"`` or ``1.5`` -> width / height.

    Raises:
        BrushworkError: malformed, or not a positive ratio between 1:10 and 10:1.
    """
    if isinstance(text, (bool, np.bool_)) or not isinstance(text, (str, numbers.Real)):
        raise BrushworkError(f"aspect ratio {text!r} is not W:H (e.g. '4:5') or a number (e.g. 1.5)")
    text = str(float(text)) if not isinstance(text, str) else text
    try:
        if ":" in text:
            a, b = text.split(":")
            r = float(a) / float(b)
        else:
            r = float(text)
    except (ValueError, ZeroDivisionError):
        raise BrushworkError(f"aspect ratio '{text}' is not W:H (e.g. 4:5) or a number (e.g. 1.5)") from None
    if not np.isfinite(r) or not 0.1 <= r <= 10:
        raise BrushworkError(f"aspect ratio '{text}' is impossible for a crop: use one between 1:10 and 10:1")
    return r


@dataclass(frozen=True)
class Crop:
    """A crop box in the original image's pixels, ``(left, top, right, bottom)``, with its score and reasons."""

    ratio: str
    box: tuple[int, int, int, int]
    score: float
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"ratio": self.ratio, "box": list(self.box), "score": round(self.score, 3), "reasons": self.reasons}


@dataclass(frozen=True)
class Composition:
    """Scores in [0, 1] (higher is better) and measurements, each with a reason."""

    subject: tuple[float, float]  # (x, y) as fractions of width and height
    thirds: float
    golden: float
    balance: float
    center_of_mass: tuple[float, float]
    horizon: float | None  # y fraction, or None when no clear horizon
    tilt_degrees: float  # positive: the horizon falls to the right
    reasons: dict[str, str]

    def to_dict(self) -> dict:
        return {"subject": [round(v, 3) for v in self.subject], "thirds": round(self.thirds, 3),
                "golden": round(self.golden, 3), "balance": round(self.balance, 3),
                "center_of_mass": [round(v, 3) for v in self.center_of_mass],
                "horizon": None if self.horizon is None else round(self.horizon, 3),
                "tilt_degrees": round(self.tilt_degrees, 2), "reasons": self.reasons}


def _subject(sal: np.ndarray) -> tuple[float, float]:
    """Saliency-weighted centre of the top 10 % most salient pixels, as (x, y) fractions."""
    h, w = sal.shape
    if float(sal.max()) <= 0:  # nothing stands out: the centre
        return 0.5, 0.5
    thr = np.quantile(sal, 0.9)
    wts = np.where(sal >= thr, sal, 0.0)
    ys, xs = np.mgrid[0:h, 0:w]
    total = wts.sum() or 1.0
    return float((xs * wts).sum() / total + 0.5) / w, float((ys * wts).sum() / total + 0.5) / h


def _power_score(x: float, y: float, lines: tuple[float, float]) -> tuple[float, tuple[float, float]]:
    pts = [(a, b) for a in lines for b in lines]
    d = [np.hypot(x - a, y - b) for a, b in pts]
    i = int(np.argmin(d))
    near = min(lines[0], 1 - lines[0])
    far = np.hypot(near, near)  # the farthest place from every power point: a corner, from the one nearest it
    return float(max(0.0, 1 - d[i] / far)), pts[i]


def _horizon(grey: np.ndarray) -> tuple[float | None, float]:
    """(horizon y fraction or None, tilt in degrees; positive: the horizon falls to the right).

    The horizon is the row where brightness changes most from top to bottom, when that change is at
    least 3x the picture's average and runs across at least 60 % of the width. Its tilt: in each column, the row of the strongest vertical
    change within a band around the horizon; a line fitted through those rows (twice, dropping
    columns more than 2 px off the first fit). Without a horizon there is nothing to level: tilt 0.
    """
    h = grey.shape[0]
    if h < 8:  # a strip too thin to hold a horizon band
        return None, 0.0
    gy = np.abs(np.diff(grey, axis=0)).mean(axis=1)
    row = int(gy.argmax())
    frac = (row + 1) / h
    if gy[row] < 3.0 * (gy.mean() + 1e-9) or not 0.1 < frac < 0.9:
        return None, 0.0
    lo, hi = max(0, row - max(1, h // 8)), min(h - 1, row + max(1, h // 8))
    d = np.abs(np.diff(_blur(grey, 1.0), axis=0))[lo:hi]
    rows = d.argmax(axis=0) + lo
    xs = np.arange(len(rows), dtype=np.float64)
    col = d.max(axis=0)
    keep = col > 0.25 * col.max()
    if keep.mean() < 0.6 or keep.sum() < 2:  # an object's edge, not a line across the picture (or no line)
        return None, 0.0
    slope, icpt = np.polyfit(xs[keep], rows[keep], 1)
    keep &= np.abs(rows - (slope * xs + icpt)) <= 2
    if keep.sum() >= 10:
        slope, icpt = np.polyfit(xs[keep], rows[keep], 1)
    centre = (slope * (len(rows) - 1) / 2 + icpt + 1) / h  # the fitted line's height mid-frame
    return float(centre), float(np.degrees(np.arctan(slope)))


def analyze(rgb: np.ndarray, *, saliency: np.ndarray | None = None) -> Composition:
    """Composition scores of ``rgb (H, W, 3)`` in [0, 1] (a uint8 array: 0-255; ``saliency``: its
    :func:`working_saliency`)."""
    small = _small(_picture(rgb), WORK)
    sal = saliency_map(small) if saliency is None else _checked_saliency(saliency, small)
    x, y = _subject(sal)
    thirds, tp = _power_score(x, y, (1 / 3, 2 / 3))
    golden, gp = _power_score(x, y, (1 - PHI, PHI))
    h, w = sal.shape
    ys, xs = np.mgrid[0:h, 0:w]
    mass = float(sal.sum())
    cx, cy = ((float((xs * sal).sum() / mass + 0.5) / w, float((ys * sal).sum() / mass + 0.5) / h) if mass > 0
              else (0.5, 0.5))
    balance = float(max(0.0, 1 - 2 * np.hypot(cx - 0.5, cy - 0.5) / np.hypot(0.5, 0.5)))
    grey = small @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    horizon, tilt = _horizon(grey)
    reasons = {
        "subject": f"the most salient region centres at ({x:.2f}, {y:.2f}) of the width and height",
        "thirds": f"the subject is {np.hypot(x - tp[0], y - tp[1]):.2f} from the nearest thirds point "
                  f"({tp[0]:.2f}, {tp[1]:.2f})",
        "golden": f"the subject is {np.hypot(x - gp[0], y - gp[1]):.2f} from the nearest golden-ratio point "
                  f"({gp[0]:.2f}, {gp[1]:.2f})",
        "balance": f"visual weight centres at ({cx:.2f}, {cy:.2f}); "
                   + ("well balanced" if balance > 0.8 else "weighted to the " + _side(cx, cy)),
        "horizon": ("no clear horizon" if horizon is None else f"a horizon at {horizon:.2f} of the height"
                    + (" (on a third)" if min(abs(horizon - 1 / 3), abs(horizon - 2 / 3)) < 0.05 else "")),
        "tilt": ("level" if abs(tilt) < 0.5 else f"the horizon falls {abs(tilt):.1f} degrees to the "
                 f"{'right' if tilt > 0 else 'left'}; rotate {abs(tilt):.1f} degrees "
                 f"{'counter-clockwise' if tilt > 0 else 'clockwise'} to level it"),
    }
    return Composition((x, y), thirds, golden, balance, (cx, cy), horizon, tilt, reasons)


def _side(cx: float, cy: float) -> str:
    """Where an off-balance picture's weight lies: the larger offset always, the other too when it is at least
    half as large (a picture short of "well balanced" is never said to be weighted to the centre)."""
    dx, dy = cx - 0.5, cy - 0.5
    big = max(abs(dx), abs(dy))
    parts = []
    if abs(dy) >= big / 2:
        parts.append("top" if dy < 0 else "bottom")
    if abs(dx) >= big / 2:
        parts.append("left" if dx < 0 else "right")
    return " ".join(parts)


def suggest_crops(rgb: np.ndarray, ratios: list[str | float], *, top: int = 1,
                  saliency: np.ndarray | None = None, size: tuple[int, int] | None = None) -> list[Crop]:
    """The best ``top`` crops for each aspect ratio (``"W:H"``), in original pixels, best first per ratio
    (``saliency``: the picture's :func:`working_saliency`, if already computed; ``size``: the picture's own
    ``(width, height)`` where ``rgb`` is a reduced copy of it, as ``LoadedImage.picture_size`` gives it: the
    boxes are in the picture's pixels).

    Raises:
        BrushworkError: a malformed or impossible ratio.
    """
    if isinstance(ratios, (str, numbers.Real)):
        ratios = [ratios]  # one ratio, not its characters
    rgb = _picture(rgb)
    values = [(r, parse_ratio(r)) for r in ratios]  # (checked first: a tuple (4, 5) failed in float())
    values = [(r if isinstance(r, str) else f"{float(r):g}", v) for r, v in values]
    if isinstance(top, bool) or not isinstance(top, numbers.Integral) or top < 1:
        raise BrushworkError(f"top must be a whole number of crops, 1 or more, got {top!r}")
    if size is not None and (len(size) != 2 or not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                                                       and v >= 2 for v in size)):  # (480.0: a whole number)
        raise BrushworkError(f"size must be the picture's (width, height) in pixels, got {size!r}")
    W, H = (rgb.shape[1], rgb.shape[0]) if size is None else (int(size[0]), int(size[1]))
    sal = working_saliency(rgb) if saliency is None else _checked_saliency(saliency, _small(rgb, WORK))
    h, w = sal.shape
    integ = np.pad(sal.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    total = float(integ[-1, -1]) or 1.0
    ys, xs = np.mgrid[0:h, 0:w]
    out: list[Crop] = []
    for label, r in values:
        cands = []
        cw0, ch0 = (w, w / r) if w / r <= h else (h * r, h)
        for scale in (1.0, 0.9, 0.8, 0.7, 0.6):
            cw, ch = cw0 * scale, ch0 * scale
            if (cw < 8 or ch < 8) and scale < 1.0:  # tiny pictures: only the largest crop
                continue
            icw, ich = max(1, int(round(cw))), max(1, int(round(ch)))
            for top_ in np.linspace(0, h - ich, 9):
                for left in np.linspace(0, w - icw, 9):
                    t, lft = int(round(top_)), int(round(left))
                    b, rt = t + ich, lft + icw
                    kept = float(integ[b, rt] - integ[t, rt] - integ[b, lft] + integ[t, lft]) / total
                    win = sal[t:b, lft:rt]
                    wy, wx = ys[t:b, lft:rt], xs[t:b, lft:rt]
                    thr = np.quantile(win, 0.9)
                    m = np.where(win >= thr, win, 0.0)
                    sx = float(((wx - lft + 0.5) * m).sum() / (m.sum() or 1)) / icw
                    sy = float(((wy - t + 0.5) * m).sum() / (m.sum() or 1)) / ich
                    thirds, _ = _power_score(sx, sy, (1 / 3, 2 / 3))
                    # salient matter that the crop's edges slice through: an edge on the picture's own border, or
                    # within a working pixel of it (the room a ratio leaves), cuts nothing (it was counted: a crop
                    # keeping all of the saliency was said to cut some)
                    edges = [e for e, inside in ((win[0], t > 1), (win[-1], b < h - 1), (win[:, 0], lft > 1),
                                                 (win[:, -1], rt < w - 1)) if inside]
                    cut = float(np.concatenate(edges).mean()) if edges else 0.0
                    # keep the subject (saliency kept) first, cut little at the edges, then place it well
                    # (thirds); a mild preference for larger crops keeps context
                    score = 0.7 * kept + 0.1 * thirds + 0.1 * scale - 0.5 * cut
                    # where it sits in the room the picture leaves it (0 to 1 along each axis), for the box in
                    # the picture's own pixels
                    at = (left / (w - icw) if w > icw else 0.0, top_ / (h - ich) if h > ich else 0.0)
                    cands.append((score, (lft, t, rt, b), kept, thirds, cut, scale, at))
        cands.sort(key=lambda c: -c[0])
        seen: set = set()  # one box once (along a tight axis the positions coincide)
        cands = [c for c in cands if not (c[1] in seen or seen.add(c[1]))]
        r = parse_ratio(label)
        big_w, big_h = (W, W / r) if W / r <= H else (H * r, H)  # the largest crop in the picture's own pixels
        for score, _, kept, thirds, cut, scale, (fx, fy) in cands[:top]:
            # sized and placed in the picture's pixels (scaled from the working copy's, the largest crop came out a
            # pixel or two short of the picture's and a pixel inside its border)
            cw, ch = big_w * scale, big_h * scale
            lft, t = fx * (W - cw), fy * (H - ch)
            box = (int(round(lft)), int(round(t)), min(W, int(round(lft + cw))), min(H, int(round(t + ch))))
            box = _fix_ratio(box, r, W, H)
            reasons = [f"keeps {100 * kept:.0f}% of the saliency", f"subject thirds score {thirds:.2f}",
                       f"edges cut {'little' if cut < 0.15 else 'some'} salient matter ({cut:.2f})",
                       f"{100 * scale:.0f}% of the largest {label} crop"]
            out.append(Crop(label, box, float(score), reasons))
    return out


def _fix_ratio(box: tuple[int, int, int, int], r: float, W: int, H: int) -> tuple[int, int, int, int]:
    """Round a box to whole pixels with the exact-as-possible ratio, inside the image."""
    lft, t, rt, b = box
    cw = rt - lft
    ch = max(1, min(H, int(round(cw / r))))
    if ch > H:
        ch = H
    cw = max(1, min(W, int(round(ch * r))))
    cx, cy = (lft + rt) / 2, (t + b) / 2
    lft = int(round(min(max(cx - cw / 2, 0), W - cw)))
    t = int(round(min(max(cy - ch / 2, 0), H - ch)))
    return lft, t, lft + cw, t + ch
