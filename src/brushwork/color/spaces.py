"""Colour-space conversions on numpy arrays ``(..., 3)``."""

from __future__ import annotations

import re

import numpy as np

__all__ = ["from_over_white", "cielab_to_rgb", "rgb_to_yiq", "yiq_to_rgb", "srgb_to_linear", "linear_to_srgb", "rgb_to_oklab", "oklab_to_linear", "oklab_to_rgb",
           "oklab_to_oklch", "oklch_to_oklab", "rgb_to_hex", "hex_to_rgb", "relative_luminance", "contrast_ratio"]

# NTSC YIQ (FCC 1953 coefficients), as used by Gatys et al. 2016 for luminance-only transfer.
_RGB2YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]]
)
_YIQ2RGB = np.linalg.inv(_RGB2YIQ)


def from_over_white(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The colours that, at ``alpha (H, W)``, look like ``rgb (H, W, 3)`` over white: ``(rgb - (1 - a)) / a``,
    clipped to [0, 1] (a fully transparent pixel keeps ``rgb``: its colour cannot be known)."""
    a = np.clip(alpha, 0.0, 1.0)[..., None]
    return np.clip(np.where(a > 0, (rgb - (1.0 - a)) / np.maximum(a, 1e-6), rgb), 0.0, 1.0)


def _rgb_floats(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` as floats: a uint8 picture (0-255) scaled to [0, 1], as read_image takes arrays (its product with
    a float matrix cast to uint8 was all zeros); floats as they are, other integers as their values."""
    rgb = _unit(rgb)  # (other integers: as values, as before)
    if rgb.ndim == 0 or rgb.shape[-1] != 3:  # (numpy's "matmul: Input operand 1 has a mismatch in its core dimension")
        raise ValueError(f"expected RGB values of shape (..., 3), got shape {rgb.shape}"
                         + (": for RGBA, pass a[..., :3]" if rgb.ndim and rgb.shape[-1] == 4 else
                            ": for (3, H, W), pass a.transpose(1, 2, 0)" if rgb.ndim == 3 and rgb.shape[0] == 3 else
                            ": for a grey (H, W) picture, pass np.repeat(a[..., None], 3, axis=-1)" if rgb.ndim == 2
                            else ""))
    return rgb


def _unit(x: np.ndarray) -> np.ndarray:
    """Values of any shape as floats: uint8 (0-255) scaled to [0, 1], as elsewhere (they were taken as 0-255 floats:
    values up to 314,596); other types refused in one line (a PIL image is an array of its pixels)."""
    a = np.asarray(x)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype.kind not in "fiub":
        raise TypeError(f"expected an array of numbers (floats in [0, 1], or uint8), got {type(x).__name__} of "
                        f"{a.dtype}")
    return a if a.dtype.kind == "f" else a.astype(np.float64)


def _floats(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def rgb_to_yiq(rgb: np.ndarray) -> np.ndarray:
    """sRGB (gamma-encoded; floats in [0, 1], or uint8) -> YIQ. Y in [0, 1] is the luma."""
    rgb = _rgb_floats(rgb)
    return rgb @ _RGB2YIQ.T.astype(rgb.dtype)


def yiq_to_rgb(yiq: np.ndarray) -> np.ndarray:
    """YIQ -> sRGB (not clipped)."""
    yiq = _floats(yiq)
    return yiq @ _YIQ2RGB.T.astype(yiq.dtype)


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB transfer function, inverse (floats in [0, 1], or uint8 0-255; any shape)."""
    rgb = _unit(rgb)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(lin: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB transfer function (floats, clipped at 0, or uint8 0-255; any shape)."""
    lin = np.maximum(_unit(lin), 0.0)
    return np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)


# CIE XYZ (D65) -> linear sRGB (IEC 61966-2-1), and Bradford's adaptation of D50 to D65 (Lindbloom's figures).
_XYZ_TO_SRGB = np.array(
    [[3.2404542, -1.5371385, -0.4985314],
     [-0.9692660, 1.8760108, 0.0415560],
     [0.0556434, -0.2040259, 1.0572252]]
)
_D50_TO_D65 = np.array(
    [[0.9555766, -0.0230393, 0.0631636],
     [-0.0282895, 1.0099416, 0.0210077],
     [0.0122982, -0.0204830, 1.3299098]]
)
_D50 = np.array([0.96422, 1.0, 0.82521])


def cielab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """CIELAB ``(..., 3)`` (L 0-100, a and b about -128..127) relative to D50, as ICC profiles and Adobe's
    swatch files give it, to sRGB (not clipped: colours outside sRGB leave [0, 1])."""
    lab = np.asarray(lab, dtype=np.float64)
    eps, kappa = 216 / 24389, 24389 / 27
    fy = (lab[..., 0] + 16) / 116
    fx, fz = fy + lab[..., 1] / 500, fy - lab[..., 2] / 200
    inv = lambda f: np.where(f ** 3 > eps, f ** 3, (116 * f - 16) / kappa)  # noqa: E731
    y = np.where(lab[..., 0] > kappa * eps, fy ** 3, lab[..., 0] / kappa)
    xyz = np.stack([inv(fx), y, inv(fz)], axis=-1) * _D50
    lin = xyz @ (_XYZ_TO_SRGB @ _D50_TO_D65).T
    return np.sign(lin) * linear_to_srgb(np.abs(lin))


# Björn Ottosson's OKLab (2020) matrices.
_M1 = np.array(
    [[0.4122214708, 0.5363325363, 0.0514459929],
     [0.2119034982, 0.6806995451, 0.1073969566],
     [0.0883024619, 0.2817188376, 0.6299787005]]
)
_M2 = np.array(
    [[0.2104542553, 0.7936177850, -0.0040720468],
     [1.9779984951, -2.4285922050, 0.4505937099],
     [0.0259040371, 0.7827717662, -0.8086757660]]
)


def rgb_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """sRGB in [0, 1] (or uint8) -> OKLab (L in [0, 1])."""
    lms = srgb_to_linear(_rgb_floats(rgb)) @ _M1.T
    return np.cbrt(lms) @ _M2.T


def oklab_to_linear(lab: np.ndarray) -> np.ndarray:
    """OKLab -> linear sRGB, not clipped: a colour outside sRGB has a channel below 0 or above 1."""
    lms = (lab @ np.linalg.inv(_M2).T) ** 3
    return lms @ np.linalg.inv(_M1).T


def oklab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """OKLab -> sRGB (clipped below 0 by the transfer function, not above 1)."""
    return linear_to_srgb(oklab_to_linear(lab))


def oklab_to_oklch(lab: np.ndarray) -> np.ndarray:
    """OKLab -> OKLCH: lightness, chroma, hue in degrees [0, 360); a grey's hue (chroma under 1e-4, where rounding
    alone picks the angle) is 0, as CSS takes a powerless hue."""
    lab = np.asarray(lab, dtype=np.float64)
    c = np.hypot(lab[..., 1], lab[..., 2])
    h = np.where(c < 1e-4, 0.0, np.degrees(np.arctan2(lab[..., 2], lab[..., 1])) % 360.0)
    return np.stack([lab[..., 0], c, h], axis=-1)


def oklch_to_oklab(lch: np.ndarray) -> np.ndarray:
    """OKLCH (hue in degrees) -> OKLab."""
    lch = np.asarray(lch, dtype=np.float64)
    h = np.radians(lch[..., 2])
    return np.stack([lch[..., 0], lch[..., 1] * np.cos(h), lch[..., 1] * np.sin(h)], axis=-1)


_HEX = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


def hex_to_rgb(text: str) -> np.ndarray:
    """``"#1e90ff"``, ``"1e90ff"`` or ``"#19f"`` -> sRGB ``(3,)`` in [0, 1].

    Raises:
        BrushworkError: not a 3- or 6-digit hex colour.
    """
    m = _HEX.fullmatch(text.strip()) if isinstance(text, str) else None
    if m is None:
        from ..errors import BrushworkError

        raise BrushworkError(f"{text!r} is not a hex colour: write it as '#rrggbb' (e.g. '#1e90ff') or '#rgb'")
    digits = m.group(1)
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    return np.array([int(digits[i:i + 2], 16) for i in (0, 2, 4)], dtype=np.float64) / 255.0


def rgb_to_8bit(rgb: np.ndarray) -> list[int]:
    """sRGB ``(3,)`` in [0, 1] -> 0-255 integers, clipped and rounded half up, as colour tools round (the hex, the
    GIMP palette, the JSON and the swatch all say the same)."""
    return [int(v) for v in np.clip(np.floor(np.asarray(rgb, dtype=np.float64) * 255 + 0.5), 0, 255)]


def rgb_to_hex(rgb: np.ndarray) -> str:
    """sRGB ``(3,)`` in [0, 1] -> ``"#rrggbb"`` (:func:`rgb_to_8bit`)."""
    return "#{:02x}{:02x}{:02x}".format(*rgb_to_8bit(rgb))


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG 2.x relative luminance of sRGB in [0, 1] (its 0.03928 threshold, as the standard writes it)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    lin = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def contrast_ratio(a: np.ndarray, b: np.ndarray) -> float:
    """WCAG contrast ratio (L1 + 0.05) / (L2 + 0.05) between two sRGB colours, from 1 to 21."""
    la, lb = float(relative_luminance(a)), float(relative_luminance(b))
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)
