"""Reading and writing images: PIL <-> float arrays/tensors in [0, 1].

Reading handles EXIF orientation, alpha (kept separately, RGB composited over white), 16-bit and
32-bit integer greyscale, float images, palette images, greyscale and CMYK. Writing is atomic: the
image goes to a temporary file beside the target and is renamed into place, so a failure never
leaves a half-written output.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps

from ..errors import BrushworkError, ImageError, hint, tilde
from ..files import NAME_MAX, name_bytes
from .decode import (DEFAULT_MAX_PIXELS, describe, grey_levels, has_alpha, key_to_alpha, open_decoded, pixel_count,
                     to_8bit, to_srgb)

if TYPE_CHECKING:
    import torch

__all__ = ["LoadedImage", "read_image", "read_flat", "read_part", "save_image", "unit_floats", "input_exif", "check_output_path", "to_tensor", "from_tensor", "fit_square",
           "read_square"]

WRITABLE_SUFFIXES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP",
                     ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP"}


@dataclass(frozen=True)
class LoadedImage:
    """An image decoded to float RGB.

    Attributes:
        rgb: ``(H, W, 3)`` float32 in [0, 1], alpha already composited over white.
        alpha: ``(H, W)`` float32 in [0, 1], or None for opaque images.
        source: where it came from (a path, or ``"<array>"``/``"<PIL>"``).
        mode: the PIL mode of the file before conversion (e.g. ``"I;16"``, ``"CMYK"``).
        full_size: ``(width, height)`` of the picture itself when it was read reduced (``draft``), else None.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    source: str
    mode: str
    full_size: tuple[int, int] | None = None

    @property
    def picture_size(self) -> tuple[int, int]:
        """``(width, height)`` of the picture itself: :attr:`size`, or what a reduced read was reduced from."""
        return self.full_size or self.size

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``, as Pillow orders it."""
        return self.rgb.shape[1], self.rgb.shape[0]

    def alpha_tensor(self, size: tuple[int, int], device: Any = "cpu") -> torch.Tensor | None:
        """The alpha as a ``(1, 1, h, w)`` float32 tensor resized to ``size = (w, h)``; None for an opaque image."""
        from .resampling import resize

        return None if self.alpha is None else resize(to_tensor(self.alpha[..., None], device), size)


def _pil_to_float(img: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """Convert any PIL mode to ``(rgb (H,W,3), alpha (H,W) | None)`` floats in [0, 1]."""
    mode = img.mode
    alpha = None
    grey = grey_levels(img)  # 16-bit and 32-bit greys, scaled as everything that reads images scales them
    if grey is not None:
        rgb = np.repeat(grey.astype(np.float32)[..., None], 3, axis=2)
    else:
        if mode in ("P", "1", "L") or (mode == "RGB" and "transparency" in img.info):  # (a colour key: as alpha)
            img = img.convert("RGBA" if has_alpha(img) else "RGB")
        elif mode == "LA" or mode == "PA":
            img = img.convert("RGBA")
        elif mode == "La":  # (premultiplied grey: Pillow converts it to nothing but RGBa's way)
            grey, a = img.split()
            img = Image.merge("RGBa", (grey, grey, grey, a)).convert("RGBA")
        elif mode not in ("RGB", "RGBA"):
            img = img.convert("RGBA" if has_alpha(img) else "RGB")  # CMYK, YCbCr, LAB, HSV, RGBX, RGBa...
        # in place, one float copy of the picture (a 17.5 MP photo's read peaked at 3.5 copies: 698 MB, not 200)
        levels = np.asarray(img)
        if img.mode == "RGBA":
            alpha = levels[..., 3].astype(np.float32)
            alpha /= 255.0
            rgb = levels[..., :3].astype(np.float32)
            rgb /= 255.0
            rgb *= alpha[..., None]  # over white: rgb * alpha + (1 - alpha)
            rgb += 1.0 - alpha[..., None]
            if float(alpha.min()) >= 1.0:
                alpha = None
        else:
            rgb = levels.astype(np.float32)
            rgb /= 255.0
        del levels
        return np.clip(rgb, 0.0, 1.0, out=rgb), alpha
    return np.clip(rgb, 0.0, 1.0).astype(np.float32, copy=False), alpha


def read_image(
    source: str | os.PathLike | Image.Image | np.ndarray,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int = 2,
    what: str = "image",
    draft: int | None = None,
    keep_colors: bool = False,
) -> LoadedImage:
    """Read an image file (or take a PIL image / uint8 or float array) as float RGB.

    Args:
        source: a path, a ``PIL.Image.Image``, or an ``(H, W[, C])`` array (uint8 0-255, floats in
            [0, 1], or bool; other dtypes and out-of-range floats are refused).
        max_pixels: refuse images with more pixels than this (before any decoding).
        min_side: refuse images whose shorter side is below this.
        what: a word for error messages, e.g. ``"content image"``.
        draft: decode at reduced scale, long side at least ``draft`` px where that is cheap: JPEG's
            DCT-domain scaling (1/2, 1/4, 1/8: the decoder skips most of the work), then a box
            reduction for any format. For analyses that need a few hundred pixels, not the photo.
        keep_colors: with ``draft``, an image of at most 256 colours (pixel art, dithering, clip art) is
            reduced by picking pixels, not averaging them, so that it keeps its own colours (for palettes).

    Raises:
        ImageError: missing, unreadable, truncated, too small or too large; the message names the
            file and what to do.
    """
    if not isinstance(source, np.ndarray):
        img, name, mode = open_decoded(source, max_pixels=max_pixels, min_side=min_side, what=what, draft=draft,
                                       keep_colors=keep_colors)
        return loaded_from_pil(img, name, mode, max_pixels=max_pixels, min_side=min_side, what=what)
    arr = source
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise ImageError(f"{what} array has shape {source.shape}; expected (H, W), (H, W, 3) or (H, W, 4)")
    arr = unit_floats(arr, what)  # uint8 scaled, a bool mask as 0 and 1, other integers, NaN and other scales refused
    arr = np.clip(arr.astype(np.float32), 0.0, 1.0)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    alpha = None
    if arr.shape[2] == 4:
        alpha = arr[..., 3]
        arr = arr[..., :3] * alpha[..., None] + (1.0 - alpha[..., None])
        if float(alpha.min()) >= 1.0:  # opaque: as an opaque RGBA file or PIL image is read (an RGB result)
            alpha = None
    return _checked(LoadedImage(np.ascontiguousarray(arr), alpha, "<array>", "array"), describe(source), max_pixels,
                    min_side, what)


def read_flat(source: str | os.PathLike | Image.Image, *, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int = 2,
              what: str = "image") -> Image.Image:
    """An image file at its full size as an 8-bit RGB PIL image, upright, in sRGB, transparency over white:
    :func:`read_image`'s picture within a level, in a quarter of its memory, for drawing on a large photo."""
    img, _, _ = open_decoded(source, max_pixels=max_pixels, min_side=min_side, what=what)
    return _writable(img, "JPEG").convert("RGB")  # (as a JPEG is written: 8 bits, over white; a grey one as RGB)


def read_part(source: str | os.PathLike | Image.Image, box: tuple[int, int, int, int], *,
              max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int = 2, what: str = "image") -> LoadedImage:
    """``box`` (left, top, right, bottom, in the upright picture's pixels) of an image file, as :func:`read_image`
    reads it (8-bit levels): a crop of a large photo without float copies of the rest of it."""
    img, name, mode = open_decoded(source, max_pixels=max_pixels, min_side=min_side, what=what)
    # (greys of 16 or 32 bits scaled on the whole picture first: a dark crop's own maximum would set another scale)
    part = to_8bit(img).crop(tuple(int(v) for v in box))
    return loaded_from_pil(part, name, mode, max_pixels=max_pixels, min_side=1, what=what)


def loaded_from_pil(img: Image.Image, name: str, mode: str, *, max_pixels: int = DEFAULT_MAX_PIXELS,
                    min_side: int = 2, what: str = "image") -> LoadedImage:
    """A decoded PIL image (from :func:`imaging.decode.open_decoded`) as a :class:`LoadedImage`."""
    from .decode import FULL_SIZE_KEY

    rgb, alpha = _pil_to_float(img)
    full = img.info.get(FULL_SIZE_KEY)
    # (a reduced read's own sides were checked on the file: a thin picture read small may be thinner than min_side)
    return _checked(LoadedImage(rgb, alpha, name, mode, full), name, max_pixels, 1 if full else min_side, what)


def _checked(loaded: LoadedImage, name: str, max_pixels: int, min_side: int, what: str) -> LoadedImage:
    h, w = loaded.rgb.shape[:2]
    if min(h, w) < min_side:
        raise ImageError(f"{what} '{name}' is {w}x{h} pixels, too small: its shorter side must be at least {min_side}")
    if h * w > max_pixels:
        raise ImageError(
            f"{what} '{name}' has {pixel_count(w * h, max_pixels)}, more than the limit of "
            f"{pixel_count(max_pixels, w * h)}: downscale it"
            + hint("--max-pixels", " or raise --max-pixels", " or pass a larger max_pixels")
        )
    return loaded


def fit_square(im: Image.Image, size: int) -> Image.Image:
    """Centre-crop ``im`` to a square and resize it to ``size``: bilinear when shrinking,
    nearest-neighbour when enlarging, so a small picture keeps its hard pixel edges (pixel art stays
    pixel art) instead of being blurred. The training recipes and prediction use it."""
    grow = min(im.size) < size
    return ImageOps.fit(im, (size, size), Image.Resampling.NEAREST if grow else Image.Resampling.BILINEAR)


def padded_square(im: Image.Image) -> Image.Image:
    """``im`` centred on a square of its border's median colour (its background: paper, or a dark ground)."""
    w, h = im.size
    if w == h:
        return im
    a = np.asarray(im)
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]]).reshape(-1, 1 if a.ndim == 2 else a.shape[2])
    fill = tuple(int(v) for v in np.median(border, axis=0))
    out = Image.new(im.mode, (max(w, h), max(w, h)), fill[0] if im.mode == "L" else fill)
    out.paste(im, ((max(w, h) - w) // 2, (max(w, h) - h) // 2))
    return out


MIN_TRAINING_SIDE = 4  # a training picture's shorter side at least (smaller: skipped and counted)


def read_square(path: str | os.PathLike, size: int, channels: int = 3, framing: str = "crop",
                legacy: bool = False) -> np.ndarray | None:
    """A training image: ``uint8 (channels, size, size)``, EXIF-rotated, transparency composited over
    white, centre-cropped (:func:`fit_square`), or with ``framing="pad"`` seen whole on a square of its
    background (:func:`padded_square`, as a model of a square dataset such as mnist sees a picture);
    ``None`` when the file cannot be read, or holds nothing to learn from: every pixel fully transparent (a white
    square), or a side under :data:`MIN_TRAINING_SIDE` pixels (a 1 x 1 dot, a 3 x 500 strip cut to its 3 x 3
    centre): callers skip and count it. ``legacy``: those two read as brushwork 0.2.8 read them (its models recorded
    the split of what it read)."""
    import warnings

    try:
        with warnings.catch_warnings(), Image.open(path) as im:  # (our own pixel limits apply: not Pillow's warning)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if min(im.size) < MIN_TRAINING_SIDE and not legacy:
                return None
            im.draft("RGB", (size * 2, size * 2))
            im = to_8bit(ImageOps.exif_transpose(to_srgb(key_to_alpha(im))))
            if has_alpha(im):
                if im.convert("RGBA").getchannel("A").getextrema()[1] == 0 and not legacy:
                    return None
                im = Image.alpha_composite(Image.new("RGBA", im.size, (255,) * 4), im.convert("RGBA"))
            im = im.convert("L" if channels == 1 else "RGB")
            arr = np.asarray(fit_square(padded_square(im) if framing == "pad" else im, size), np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    return arr[None] if channels == 1 else arr.transpose(2, 0, 1)


def to_tensor(rgb: np.ndarray, device: Any = "cpu") -> torch.Tensor:
    """``(H, W, C)`` image array (floats in [0, 1], or uint8 0-255 as :func:`read_image` takes it) -> ``(1, C, H, W)``
    float32 tensor in [0, 1] (a copy).

    Raises:
        ImageError: another shape, or values of another scale (:func:`unit_floats`).
    """
    import torch

    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ImageError(f"to_tensor takes an (H, W, 3) image array (e.g. read_image(path).rgb), got shape {a.shape}"
                         + (": for (3, H, W), pass a.transpose(1, 2, 0)" if a.ndim == 3 and a.shape[0] == 3 else ""))
    a = unit_floats(a)  # (uint8 scaled: it was passed on as 0-255, a white picture once clamped)
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1))).unsqueeze(0).to(
        device=device, dtype=torch.float32, copy=True
    )


def from_tensor(x: torch.Tensor) -> np.ndarray:
    """``(1, 3, H, W)`` or ``(3, H, W)`` tensor in [0, 1] -> ``(H, W, 3)`` float32 array."""
    if x.dim() == 4:
        if x.shape[0] != 1:
            raise ValueError(f"expected a single image (1, 3, H, W), got {tuple(x.shape)}")
        x = x[0]
    if x.dim() != 3 or x.shape[0] not in (1, 3, 4):
        raise ValueError(f"expected a (1, 3, H, W) or (3, H, W) tensor, got {tuple(x.shape)}"
                         + (": for (H, W, 3), pass x.permute(2, 0, 1)" if x.dim() == 3 and x.shape[-1] == 3 else ""))
    return x.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy()


GIF_MAX_FPS = 50  # a GIF's frame delay is in hundredths of a second, and browsers slow 0.01 s and 0 to 0.1 s


def gif_durations(fps: float, n: int) -> list[int]:
    """``n`` GIF frame delays in milliseconds that keep ``fps`` over the whole clip: a GIF holds hundredths of a
    second, so 29.97 fps alternates 30 and 40 ms (one delay for all, 33 ms, was written 30: 11 % fast); at least
    20 ms each (``GIF_MAX_FPS``: browsers play the shorter delays a GIF can hold, 10 ms and 0, at 100 ms)."""
    step = 100.0 / min(fps, GIF_MAX_FPS)  # in hundredths
    ends = [round((k + 1) * step) for k in range(n)]
    return [10 * max(2, b - a) for a, b in zip([0, *ends[:-1]], ends)]


def unit_floats(a: np.ndarray, what: str = "image", *, shape: str | None = None) -> np.ndarray:
    """An image array's values as floats in [0, 1], as :func:`read_image` takes arrays: uint8 (0-255) scaled,
    booleans as 0 and 1, floats as they are; other integer types (a 16-bit photo) are refused, as their scale
    is not known, and so are NaN and infinite values. ``shape``: ``"rgb"`` asks for ``(H, W, 3)``, ``"mask"``
    for ``(H, W)``.

    Raises:
        ImageError: an integer array other than uint8, a value that is not finite or outside [-0.1, 1.1] (0-255
            or [-1, 1] floats: the message says how to bring them to [0, 1]; a little overshoot is clipped by the
            callers), or another shape.
    """
    if isinstance(a, (str, os.PathLike)):  # (np.asarray made it a 0-d array: "shape ()")
        raise ImageError(f"{what}: give an image array (e.g. read_image(path).rgb), not the path '{a}'")
    a = np.asarray(a)
    if shape == "rgb" and (a.ndim != 3 or a.shape[-1] != 3):
        raise ImageError(f"{what} array has shape {a.shape}; expected (H, W, 3) RGB"
                         + (" (for RGBA, pass a[..., :3], and a[..., 3] as the alpha)" if a.ndim == 3 and a.shape[-1] == 4
                            else ""))
    if shape == "mask" and a.ndim != 2:
        raise ImageError(f"{what} array has shape {a.shape}; expected (H, W)")
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if a.dtype.kind != "f":
        raise ImageError(f"{what} array is {a.dtype}: give uint8 (0-255) or floats in [0, 1] "
                         "(e.g. a 16-bit array divided by 65535)")
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if not (np.isfinite(lo) and np.isfinite(hi)):  # (NaN and inf reach the min or the max; no mask copy)
        raise ImageError(f"{what} array holds NaN or infinite values: give finite floats in [0, 1]")
    if hi > 1.1 or lo < -0.1:  # (a little overshoot, as resampling gives, is clipped; more is another scale)
        if hi > 2:  # (0-255 floats: every colour would be clipped to white)
            fix = "divide 0-255 values by 255"
        elif lo >= -1.0 and hi <= 1.0:  # (a GAN's tanh output, a normalised tensor: the darks would be clipped)
            fix = "values in [-1, 1], as a GAN's tanh gives, become (a + 1) / 2"
        else:
            fix = "clip them, or rescale them to [0, 1]"
        raise ImageError(f"{what} array's values span [{lo:g}, {hi:g}]: give floats in [0, 1] ({fix})")
    return a


def to_pil(rgb: np.ndarray, alpha: np.ndarray | None = None, *, composited: bool = False) -> Image.Image:
    """Float ``(H, W, 3)`` in [0, 1] (and optional alpha) -> 8-bit PIL image, rounded.

    ``composited=True``: ``rgb`` is a picture as it looks over white, as :func:`read_image` gives it
    (recolour, a crop), so the file gets the colours that look like that over white, ``(rgb - (1 - a)) / a``:
    a see-through pixel then keeps its own colour instead of fading toward white on every round trip.
    Otherwise (a stylized picture: its colours are new everywhere) ``rgb`` is written as it is. A uint8 array
    is taken as 0-255."""
    arr = np.clip(unit_floats(rgb), 0.0, 1.0)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]  # (a grey picture with its channel axis)
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))) or (alpha is not None and arr.ndim != 3):
        raise ImageError(f"the picture array has shape {arr.shape}; expected (H, W, 3) RGB floats in [0, 1] (or uint8)")
    if alpha is not None:
        alpha = unit_floats(alpha, "alpha", shape="mask")
        if alpha.shape != arr.shape[:2]:
            raise ImageError(f"the alpha is {alpha.shape[1]}x{alpha.shape[0]} and the picture {arr.shape[1]}x"
                             f"{arr.shape[0]}: give an alpha of the picture's size")
        a = np.clip(alpha, 0.0, 1.0)[..., None]
        if composited:
            from ..color.spaces import from_over_white

            arr = from_over_white(arr, alpha)
        arr = np.concatenate([arr, a], axis=2)
    # to 8 bits a few rows at a time (three whole float copies at once were 2-3 GiB at 8000 x 8000); the same values
    out = np.empty(arr.shape, np.uint8)
    rows = max(1, (1 << 20) // max(1, arr[0].size))
    for i in range(0, len(arr), rows):
        out[i:i + rows] = np.round(arr[i:i + rows] * 255.0)
    return Image.fromarray(out)


def not_an_input(outputs: Sequence[Any], inputs: Sequence[Any]) -> None:
    """Refuse an output that names one of the inputs (paths; None and in-memory inputs are skipped): writing it
    would replace the user's picture.

    Raises:
        BrushworkError: the output and the input it names.
    """
    given: dict[Path, Any] = {}
    for p in inputs:
        if isinstance(p, (str, os.PathLike)):
            given.setdefault(Path(p).resolve(), p)
    for o in outputs:
        if o is not None and Path(o).resolve() in given:
            raise BrushworkError(f"output '{o}' is also an input ({given[Path(o).resolve()]}): writing it would "
                                 "replace it; choose another output name")


def check_output_path(path: str | os.PathLike) -> Path:
    """Fail early (before any work) if ``path`` cannot be written as an image.

    Raises:
        ImageError: unknown extension, missing or unwritable folder, or the path is a folder.
    """
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise ImageError(f"the output path must be a str or a pathlib.Path, got {type(path).__name__}"
                         + (": decode it, os.fsdecode(path)" if isinstance(path, bytes) else ""))
    p = Path(path)
    if p.is_dir():
        raise ImageError(f"output '{p}' is a folder: give a file name such as {p / 'out.png'}")
    fmt = WRITABLE_SUFFIXES.get(p.suffix.lower())
    if fmt is None:
        raise ImageError(
            f"output '{p}' has an unknown extension: use one of {', '.join(sorted(WRITABLE_SUFFIXES))}"
        )
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ImageError(f"output folder '{parent}' does not exist" + (tilde(parent) or ": create it first"))
    if not os.access(parent, os.W_OK):
        raise ImageError(f"output folder '{parent}' is not writable: choose another -o path")
    if p.exists() and not os.access(p, os.W_OK):
        raise ImageError(f"output '{p}' exists and is not writable: choose another -o path")
    return p


def _new_file_mode(path: Path) -> int:
    if path.exists():
        return path.stat().st_mode & 0o7777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


#: the first directory's tags that describe a photo (description, make, model, orientation, resolution, date,
#: artist, copyright); the rest of a TIFF's first directory describes the file itself
_EXIF_TAGS = (0x010E, 0x010F, 0x0110, 0x0112, 0x011A, 0x011B, 0x0128, 0x0132, 0x013B, 0x8298,
              0x4746, 0x4749, 0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E, 0x9C9F)  # + rating, Windows' title/comment/author/tags


def input_exif(path: str | os.PathLike, *, keep_gps: bool = False) -> bytes | None:
    """An input photo's EXIF for an output, when the user asks to keep it (``--keep-exif``): camera,
    lens, dates and the rest, with the orientation reset (brushwork's outputs are already upright) and
    the GPS position removed unless ``keep_gps``. None when the file has no EXIF or is not readable."""
    try:
        with Image.open(path) as im:
            exif = im.getexif()
            # Only what describes the photo: a TIFF's first directory also holds its own layout (sizes, strip
            # offsets), its ICC profile and editors' data (Photoshop layers), which would corrupt or mislabel the
            # output; the maker's notes keep offsets into the file they came from.
            kept = Image.Exif()
            for tag in _EXIF_TAGS:
                if tag in exif:
                    kept[tag] = exif[tag]
            for ifd in (0x8769, 0x8825) if keep_gps else (0x8769,):  # Exif (camera, lens, dates); GPS if asked
                # (no MakerNote; no Interoperability pointer: copied as a number, its offset would point elsewhere)
                # nor what describes the input file rather than the photo: its pixel size (before turning
                # upright) and colour space (an Adobe RGB file's "uncalibrated"; the output is sRGB)
                sub = {k: v for k, v in exif.get_ifd(ifd).items() if k not in (0x927C, 0xA005, 0xA001, 0xA002, 0xA003)}
                if sub:
                    kept[ifd] = sub
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):
        return None
    if 0x0112 in kept:
        kept[0x0112] = 1  # Orientation: the pixels were turned upright on reading
    return kept.tobytes() if kept else None


def _writable_modes(fmt: str) -> set[str]:
    """The PIL modes ``fmt`` is written in as they are: Pillow's own tables for PNG and TIFF (16-bit greys, CMYK
    TIFFs), brushwork's choice for JPEG (sRGB: no CMYK), BMP (no alpha) and WebP."""
    from PIL import PngImagePlugin, TiffImagePlugin

    if fmt == "PNG":
        return set(getattr(PngImagePlugin, "_OUTMODES", ("1", "L", "LA", "I;16", "P", "RGB", "RGBA")))
    if fmt == "TIFF":
        return set(getattr(TiffImagePlugin, "SAVE_INFO", ("1", "L", "LA", "I;16", "P", "RGB", "RGBA")))
    return {"JPEG": {"L", "RGB"}, "BMP": {"1", "L", "P", "RGB"}, "WEBP": {"RGB", "RGBA"}}.get(fmt, {"RGB", "RGBA"})


def _writable(img: Image.Image, fmt: str) -> Image.Image:
    """``img`` in a mode ``fmt`` writes: in a JPEG or BMP, transparency flattened over white; 16- and 32-bit greys
    scaled to 8 bits as :func:`read_image` scales them where the format has no such mode (``convert`` clips them
    at 255: a white picture), premultiplied modes undone, CMYK, LAB and the like as sRGB where the format has
    none of them."""
    flatten = fmt in ("JPEG", "BMP") and (has_alpha(img) or img.mode in ("RGBa", "La", "PA"))
    if img.mode in _writable_modes(fmt) and not flatten:
        return img
    if img.mode == "La":  # (premultiplied grey: Pillow converts it to nothing but RGBa's way)
        grey, a = img.split()
        img = Image.merge("RGBa", (grey, grey, grey, a))
    img = to_8bit(img)
    if img.mode in _writable_modes(fmt) and not flatten:
        return img
    if has_alpha(img) or img.mode in ("RGBa", "PA"):
        rgba = img.convert("RGBA")
        if not flatten:
            return rgba
        # flattened over white, as the note says (convert("RGB") dropped the alpha: a half transparent pixel came
        # out in its full, unseen colour); before the mark, which flattening would wipe out where it is transparent
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return img.convert("RGB")


def save_image(
    image: Image.Image | np.ndarray,
    path: str | os.PathLike,
    *,
    alpha: np.ndarray | None = None,
    recipe: dict | None = None,
    sidecar: bool = False,
    quality: int = 95,
    watermark: bool = False,
    record: str | None = None,
    exif: bytes | None = None,
    composited: bool = False,
    dpi: tuple[float, float] | None = None,
    icc_profile: bytes | None = None,
) -> Path:
    """Write an image atomically (temporary file in the same folder, then rename).

    Args:
        image: a PIL image (any mode: one the format cannot hold is converted as :func:`read_image` reads it,
            a 16-bit grey scaled to 8 bits, CMYK to RGB, transparency over white in a JPEG or BMP) or a float
            ``(H, W, 3)`` array in [0, 1].
        path: target; the format follows the extension.
        alpha: optional ``(H, W)`` alpha for float arrays (dropped for formats without alpha, which get
            the array as it is).
        composited: the array is a picture as it looks over white (:func:`to_pil`).
        recipe: what made the image (``brushwork.provenance``): embedded in PNG (iTXt), JPEG and WebP
            (XMP) and TIFF (XMP tag), else (BMP, or too large for XMP) written beside it as
            ``NAME.EXT.json``; None writes no metadata at all (and removes a sidecar left by an
            earlier image of that name).
        sidecar: also write the recipe to ``NAME.EXT.json`` beside the image.
        quality: JPEG/WebP quality.
        watermark: add brushwork's invisible mark (``brushwork.provenance.watermark``) first; the
            recipe then says so.
        record: the operation's name, to record the written file in the user's gallery
            (``brushwork.provenance.gallery``; a gallery problem is reported, never raised); None: not.
        exif: EXIF bytes to write (JPEG, PNG, WebP, TIFF), only when the user asked to keep an input's
            (:func:`input_exif`); by default an output carries none.
        dpi / icc_profile: the print resolution and colour profile to record (a crop keeps its photo's);
            by default none (the pixels are sRGB).
    """
    p = check_output_path(path)
    fmt = WRITABLE_SUFFIXES[p.suffix.lower()]
    if recipe is not None:
        from ..provenance.recipe import plain_recipe

        recipe = plain_recipe(recipe)  # (a notebook's numpy numbers: a TypeError deep in json.dumps)
    if exif is not None and not isinstance(exif, (bytes, bytearray, Image.Exif)):  # (a TypeError deep in Pillow)
        raise ImageError(f"exif must be EXIF bytes (brushwork.imaging.io.input_exif(path)), got {type(exif).__name__}")
    if isinstance(quality, bool) or not isinstance(quality, numbers.Integral) or not 1 <= quality <= 100:
        raise ImageError(f"quality is JPEG's and WebP's, a whole number from 1 to 100 (default 95), got {quality!r}")
    if type(image).__module__.startswith("torch"):  # (an AttributeError deep in decode.py)
        raise ImageError("save_image takes a PIL image or an (H, W, 3) array: for a (1, 3, H, W) tensor pass "
                         "brushwork.imaging.from_tensor(x)")
    if isinstance(image, (list, tuple)):
        image = np.asarray(image)
    if isinstance(image, np.ndarray):
        img = to_pil(image, None if fmt in ("JPEG", "BMP") else alpha, composited=composited)
    elif isinstance(image, Image.Image):
        img = image
    else:
        raise ImageError(f"save_image takes a PIL image or an (H, W, 3) array, got {type(image).__name__}")
    img = _writable(img, fmt)
    if watermark:
        from ..provenance.watermark import SCHEME, embed_watermark

        img = embed_watermark(img)
        recipe = None if recipe is None else {**recipe, "watermark": SCHEME}
    limit = {"JPEG": 65_500, "WEBP": 16_383}.get(fmt)  # (what the formats can hold a side)
    if limit is not None and max(img.size) > limit:
        raise ImageError(f"'{p}' would be {img.width}x{img.height}: {fmt} holds at most {limit:,} pixels a side; "
                         "write a PNG or TIFF" + hint("--size", ", or a smaller --size", ", or a smaller picture"))
    kwargs: dict[str, Any] = {}
    if fmt in ("JPEG", "WEBP"):
        kwargs["quality"] = quality
    if exif and fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        kwargs["exif"] = exif
    if dpi and fmt in ("JPEG", "PNG", "TIFF", "BMP"):
        kwargs["dpi"] = tuple(float(v) for v in dpi)
    if icc_profile and fmt in ("JPEG", "PNG", "WEBP", "TIFF"):
        kwargs["icc_profile"] = icc_profile
    embedded = False
    if recipe is not None:
        from ..provenance.recipe import embed_kwargs

        meta = embed_kwargs(fmt, recipe)
        embedded = bool(meta)
        if "tiffinfo" in meta and "exif" in kwargs:  # Pillow's tiffinfo would replace the EXIF: one set of tags
            tags = Image.Exif()
            tags.load(kwargs.pop("exif"))
            tags.update(meta.pop("tiffinfo"))
            meta["exif"] = tags
        kwargs.update(meta)
    import io
    import tempfile  # here, not at the top: 2.4 ms of the palette command's start-up

    from ..provenance.recipe import check_sidecar_free, sidecar_path, write_sidecar

    check_sidecar_free(p)  # (the recipe beside it is written or removed: never the user's own NAME.EXT.json)
    # Encoded in memory first: Pillow hands some encoders' output (JPEG) to the file in one write whose short
    # count on a full disk goes unchecked; Python's own write raises.
    buf = io.BytesIO()
    try:
        img.save(buf, format=fmt, **kwargs)
    except (ValueError, OSError) as exc:  # (an encoder's own limit: EXIF over 64 KB, a size, a mode)
        raise ImageError(f"could not encode '{p}' as {fmt} ({exc}): try another format, or leave out --keep-exif "
                         "if given") from None
    side = sidecar_path(p)
    beside = recipe is not None and (sidecar or not embedded)  # BMP, or a recipe too large for XMP: beside it
    side_fits = name_bytes(side.name) <= NAME_MAX  # (a name that long is no file: nothing to keep or remove)
    if beside and not side_fits:
        raise ImageError(f"the output's name is too long for its recipe file beside it ('{side.name[:40]}...' passes "
                         f"{NAME_MAX} bytes): choose a shorter name")
    try:
        # (a short prefix: the output's own name may be near the file system's 255-character limit)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name[:40]}.", suffix=".tmp", dir=p.parent if str(p.parent) else ".")
    except OSError as exc:  # the folder refuses new files (/proc, a read-only mount): name the user's path
        raise ImageError(f"could not write '{p}' ({exc.strerror or exc}): choose another -o path") from None
    before = side.read_bytes() if beside and side.is_file() else None  # (restored if the picture is not written)
    wrote_side = False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.getbuffer())
        del buf
        os.chmod(tmp, _new_file_mode(p))  # mkstemp makes 0600; give the file the usual permissions
        if beside:  # written before the picture takes its name: a picture is never left without its recipe
            write_sidecar(p, recipe)
            wrote_side = True
        os.replace(tmp, p)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if wrote_side:  # the old picture stays: so does its own recipe file (or none, as before)
            try:
                side.write_bytes(before) if before is not None else side.unlink()
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise ImageError(f"could not write '{p}' ({exc.strerror or exc}): check the disk and the path") from None
        raise
    if not beside and side_fits and side.is_file():
        side.unlink()  # an earlier image's recipe must not pass for this one's
    if record is not None:
        from ..provenance.gallery import record_output

        record_output(p, img, recipe, record)
    return p
