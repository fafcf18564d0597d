"""Opening and decoding image files with Pillow alone (no numpy), so a command can decode its image in a
background thread while numpy and the rest of brushwork import (:func:`decode_in_background`).

Pillow's decoders run without the GIL, numpy's import mostly holds it, and a machine has more than one
core: on a 2-core CPU the overlap took 35-41 ms off a fresh ``brushwork palette`` of three of four
14.7 MP JPEGs (about 0.20 s in all; 6 ms off the fourth, whose decode is short).
:func:`imaging.io.read_image` uses :func:`open_decoded` for every file.
"""

from __future__ import annotations

import contextvars
import io
import os
import threading
import warnings
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageError, hint, tilde

__all__ = ["DEFAULT_MAX_PIXELS", "open_decoded", "decode_in_background", "Pending", "to_srgb", "to_8bit", "grey_levels",
           "white_level", "pixel_count"]

#: Default limit on decoded pixels (about a 9000 x 9000 image): protects against decompression bombs.
DEFAULT_MAX_PIXELS = 80_000_000
# Phones and cameras write JPEGs with an MPF block (a depth map, a preview): Pillow calls them MPO.
JPEG_FORMATS = ("JPEG", "MPO")
#: video files `brushwork video` writes and reads by their names (and named as videos where an image was expected)
VIDEO_FILE_SUFFIXES = (".mp4", ".mov", ".mkv", ".avi", ".webm")
#: containers of phones and camcorders, and older ones, that imageio's reader does not open by their names: read with
#: ffmpeg directly (0.2.9 refused them with the line that remuxes them to MP4, or for the second group converts them)
REMUX_SUFFIXES = (".m4v", ".3gp", ".ts", ".mts", ".m2ts", ".mxf")
CONVERT_SUFFIXES = (".ogv", ".vob", ".flv", ".wmv", ".mpg", ".mpeg", ".asf", ".rm")


def has_alpha(img: Image.Image) -> bool:
    """Whether ``img`` has transparency: an alpha band (RGBA, LA, PA...) or a colour key (``transparency`` in a
    palette, grey or RGB PNG's info: its tRNS chunk)."""
    bands = img.getbands()  # (LAB's a* band is named "A" too: no alpha; RGBa and La, premultiplied, have "a")
    return (img.mode != "LAB" and ("A" in bands or "a" in bands)) or (
        img.mode in ("P", "1", "L", "RGB") and "transparency" in img.info)


def key_to_alpha(img: Image.Image) -> Image.Image:
    """A grey or RGB image with a colour key (PNG tRNS) as RGBA, its profile and EXIF kept: before
    :func:`to_srgb`, whose conversion changes the pixels so that the key would no longer match them."""
    if img.mode in ("1", "L", "RGB") and "transparency" in img.info:
        info = {k: v for k, v in img.info.items() if k != "transparency"}
        img = img.convert("RGBA")
        img.info.update(info)
    return img


def describe(source: Any) -> str:
    return str(source) if isinstance(source, (str, os.PathLike)) else f"<{type(source).__name__}>"


def to_srgb(img: Image.Image) -> Image.Image:
    """``img`` in sRGB: a colour image that embeds another ICC profile (a phone's Display P3, Adobe RGB, a
    CMYK press profile) is converted (perceptual intent), so its colours are not read as sRGB numbers and shift.
    Images without a profile, with an sRGB one, or grey ones are returned as they are; so is one whose profile
    cannot be read (taken as sRGB, as before)."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA", "CMYK", "P"):
        return img
    from PIL import ImageCms

    if img.mode == "P":  # a palette image's colours are RGB numbers in the profile's space
        info = img.info
        img = img.convert("RGBA" if "transparency" in info else "RGB")
        img.info = dict(info)

    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        desc = ImageCms.getProfileDescription(src).lower().replace(" ", "")
        # sRGB by name ("sRGB IEC61966-2.1", "GIMP built-in sRGB"), but not sRGB's primaries with another tone
        # curve ("GIMP built-in Linear sRGB", Elle Stone's "sRGB-elle-V2-g10", "-labl"): those are converted
        if "srgb" in desc and not any(k in desc for k in ("linear", "gamma1", "-g10", "labl")):
            return img
        out = ImageCms.profileToProfile(img, src, ImageCms.createProfile("sRGB"),
                                        outputMode="RGBA" if img.mode == "RGBA" else "RGB")
    except (OSError, ImageCms.PyCMSError):
        return img
    out.info = {k: v for k, v in img.info.items() if k != "icc_profile"}
    if hasattr(img, "getexif"):
        out.info["exif"] = img.getexif().tobytes()  # exif_transpose reads the orientation from here
    return out


def _dc_only(path: Path, img: Image.Image, asked: tuple[int, int]) -> Image.Image:
    """A progressive JPEG reopened as its DC scans alone (same pixels at 1/8 scale, read faster);
    ``img`` itself when the file's markers do not allow it."""
    from PIL.JpegImagePlugin import JpegImageFile

    from .jpeg import dc_only_stream

    try:
        dc = dc_only_stream(path.read_bytes())
        if dc is not None:
            small = JpegImageFile(io.BytesIO(dc))  # not Image.open: a nameless stream imports five plugins (4 ms)
            if small.size == img.size and small.mode == img.mode:
                img.close()
                return small
    except Exception:  # noqa: BLE001 - a fast path only: anything odd in the markers means decode the file
        pass
    return img


def _is_tiff(path: Path) -> bool:
    """Whether the file starts as a TIFF does (either byte order, classic or BigTIFF)."""
    try:
        with open(path, "rb") as f:
            return f.read(4) in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
    except OSError:
        return False


#: in a draft-reduced image's ``info``: the ``(width, height)`` of the picture itself, upright
FULL_SIZE_KEY = "brushwork_full_size"


def open_decoded(
    source: str | os.PathLike | Image.Image,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int = 2,
    what: str = "image",
    draft: int | None = None,
    keep_colors: bool = False,
    quiet: bool = True,
) -> tuple[Image.Image, str, str]:
    """Open and decode an image file (or load a PIL image): ``(image, name, mode of the file)``, EXIF
    orientation applied. The checks and ``draft`` are :func:`imaging.io.read_image`'s. A JPEG file goes
    to the decoder in one block (Pillow's default is 64 KiB pieces): the decode stays in C, without the
    GIL, instead of returning to Python for every piece. ``quiet``: silence Pillow's
    DecompressionBombWarning (our own ``max_pixels`` check follows) with ``warnings.catch_warnings``,
    which is not thread-safe: a thread passes False.

    Raises:
        ImageError: missing, unreadable, truncated, too small or too large.
    """
    if not isinstance(source, (str, os.PathLike, Image.Image)):
        raise ImageError(f"{what} must be a path or a PIL image (or an (H, W, 3) array where arrays are taken), got "
                         f"{type(source).__name__}")
    name = describe(source)
    if isinstance(source, Image.Image):
        img, name = source, "<PIL image>"
    else:
        path = Path(source)
        if not path.exists():
            text = os.fspath(source)
            if isinstance(text, str) and text.lower().startswith(("http://", "https://")):
                raise ImageError(f"{what} '{text}' is a web address: brushwork reads files on this machine (offline); "
                                 "download it first")
            if text == "-" and what.startswith("mask"):
                raise ImageError("mask '-' (everywhere) is the command line's: in Python pass None for that style")
            raise ImageError(f"{what} '{path}' does not exist" + (tilde(path) or ": check the path"))
        if path.is_dir():
            raise ImageError(f"{what} '{path}' is a folder, not an image file")
        try:
            if quiet:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    img = Image.open(path)
            else:
                img = Image.open(path)
        except UnidentifiedImageError:
            if _is_tiff(path):  # (Pillow reads 8- and 16-bit TIFFs; Krita's and GIMP's 32-bit float ones it cannot)
                raise ImageError(f"{what} '{path}' is a TIFF whose kind of samples Pillow cannot read (32-bit float "
                                 "colour?): export it as an 8- or 16-bit TIFF or a PNG") from None
            if path.suffix.lower() in VIDEO_FILE_SUFFIXES + REMUX_SUFFIXES + CONVERT_SUFFIXES:  # (`stylize clip.mp4`)
                raise ImageError(f"{what} '{path}' is a video, not an image: give an image (`brushwork video "
                                 f"{path.name} STYLE -o OUT` stylizes a video)") from None
            raise ImageError(
                f"{what} '{path}' is not an image Pillow can read: use PNG, JPEG, WebP, TIFF or BMP"
            ) from None
        except Image.DecompressionBombError:
            raise ImageError(f"{what} '{path}' has more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels, which Pillow refuses "
                             "to decode (its guard against decompression bombs"
                             + hint("--max-pixels", ", beyond --max-pixels", ", beyond max_pixels")
                             + "): downscale it first") from None
        except OSError as exc:
            raise ImageError(f"{what} '{path}' could not be opened ({exc}): check the file") from None
    w, h = img.size
    decoded = w * h
    if draft is not None and img.format in JPEG_FORMATS and not isinstance(source, Image.Image):
        # (the limit is on what is decoded: a JPEG read with draft is decoded at up to 1/8 scale, as Pillow picks it;
        # a 102 MP camera JPEG was refused for a palette read at 1/8)
        aw, ah = max(1, int(w * draft / max(w, h))), max(1, int(h * draft / max(w, h)))
        scale = next((sc for sc in (8, 4, 2) if min(w // aw, h // ah) >= sc), 1)
        decoded = -(-w // scale) * -(-h // scale)
    if decoded > max_pixels:
        raise ImageError(
            f"{what} '{name}' is {w}x{h} = {pixel_count(w * h, max_pixels)}, more than the limit of "
            f"{pixel_count(max_pixels, w * h)}: downscale it"
            + hint("--max-pixels", " or raise --max-pixels", " or pass a larger max_pixels")
        )
    if min(w, h) < min_side:
        raise ImageError(f"{what} '{name}' is {w}x{h} pixels, too small: its shorter side must be at least {min_side}")
    mode = img.mode
    icc = img.info.get("icc_profile")  # (the DC-only stream below is made without it)
    try:
        # (not a caller's own PIL image: draft() and load() would shrink it in their hands)
        if draft is not None and img.format in JPEG_FORMATS and not isinstance(source, Image.Image):
            f = draft / max(w, h)  # keeps the long side >= draft (Pillow keeps both sides >= asked)
            # (and the short side at 8 px or more where the picture has them: a 4000 x 8 strip was read 2 px thin)
            asked = (max(min(w, 8), int(w * f)), max(min(h, 8), int(h * f)))
            if img.info.get("progressive") and min(w // asked[0], h // asked[1]) >= 8 and not isinstance(source, Image.Image):
                img = _dc_only(path, img, asked)  # 1/8 scale needs only the DC scans
            img.draft("RGB", asked)
        if img.format in JPEG_FORMATS and not isinstance(source, Image.Image):  # one tile: the file is read once
            img.decodermaxblock = max(img.decodermaxblock, path.stat().st_size + 1)
        img.load()
        if icc and not img.info.get("icc_profile"):
            img.info["icc_profile"] = icc
        img = key_to_alpha(img)
        img = to_srgb(img)  # before any conversion of its mode below: the profile describes the file's mode
        if draft is not None and max(img.size) >= 2 * draft:
            img = to_8bit(img)  # 16-bit and float greys scaled first (converting them clips at 255: white)
            if img.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):  # modes Image.reduce cannot take
                img = img.convert("RGBA" if has_alpha(img) else "RGB")
            factor = max(1, min(max(img.size) // draft, min(img.size) // 8))
            # an image of few colours (pixel art, dithering, flat clip art) loses them to averaging: picked
            few = keep_colors and img.getcolors(256) is not None  # (None at once beyond 256: photos cost nothing)
            # (Pillow averages RGBA premultiplied, as the picture looks: no hidden colour bleeds into the visible)
            img = _picked(img, factor) if few else img.reduce(factor)
        img = ImageOps.exif_transpose(img)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{what} '{name}' is truncated or corrupt ({exc}): re-export or re-download it") from None
    if draft is not None and img.size not in ((w, h), (h, w)):  # reduced: the picture's own size, upright
        turned = w != h and abs(img.width / img.height - h / w) < abs(img.width / img.height - w / h)
        img.info[FULL_SIZE_KEY] = (h, w) if turned else (w, h)
    return img, name, mode


def _picked(img: Image.Image, factor: int) -> Image.Image:
    """``img`` reduced by ``factor`` as ``Image.reduce`` sizes it, each pixel one of its cell's own, picked at
    random (seeded): every colour is one of the image's, in about its share; a regular pick (each cell's
    centre) would see only one phase of a dither whose period divides ``factor``."""
    import numpy as np

    a = np.asarray(img)
    h, w = -(-a.shape[0] // factor), -(-a.shape[1] // factor)
    rng = np.random.default_rng(0)
    ys = np.minimum(np.arange(h)[:, None] * factor + rng.integers(0, factor, (h, w)), a.shape[0] - 1)
    xs = np.minimum(np.arange(w)[None, :] * factor + rng.integers(0, factor, (h, w)), a.shape[1] - 1)
    out = Image.fromarray(np.ascontiguousarray(a[ys, xs]), img.mode)
    out.info = dict(img.info)  # (the EXIF orientation, applied next)
    return out


class Pending:
    """An image being decoded in a background thread (see :func:`decode_in_background`)."""

    def __init__(self, source: str | os.PathLike, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._out: tuple[Image.Image, str, str] | None = None
        self._error: BaseException | None = None
        # a daemon: a command that fails on something else meanwhile exits without waiting for it
        # (in the caller's context: a message names the fixes its command has, see errors.hint)
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._run, source), daemon=True)
        self._thread.start()

    def _run(self, source) -> None:
        try:
            self._out = open_decoded(source, **self._kwargs, quiet=False)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by result()
            self._error = exc

    def result(self):
        """What :func:`imaging.io.read_image` would have returned (a ``LoadedImage``); the thread's
        error (an :class:`ImageError` for a bad file) is raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        from .io import loaded_from_pil

        return loaded_from_pil(*self._out, max_pixels=self._kwargs["max_pixels"], min_side=self._kwargs["min_side"],
                               what=self._kwargs["what"])


def decode_in_background(source: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS, min_side: int = 2,
                         what: str = "image", draft: int | None = None, keep_colors: bool = False) -> Pending:
    """Start decoding ``source`` in a thread (the arguments of :func:`imaging.io.read_image`) and
    return at once; ``.result()`` gives what ``read_image`` would have. Unlike ``read_image`` it leaves
    Pillow's DecompressionBombWarning to the caller's warning filters (the command line ignores it)."""
    return Pending(source, max_pixels=max_pixels, min_side=min_side, what=what, draft=draft, keep_colors=keep_colors)


def pixel_count(n: int, beside: int | None = None) -> str:
    """``n`` pixels for a message: in megapixels from 1 MP, else as a number (a 0.0 MP limit says nothing); exactly
    too when ``beside``, the other count of the message, would round to the same megapixels."""
    if n >= 1_000_000 and (beside is None or f"{n / 1e6:.1f}" != f"{beside / 1e6:.1f}"):
        return f"{n / 1e6:.1f} MP"
    return f"{n:,} pixel{'s' if n != 1 else ''}"


def grey_levels(img: Image.Image):
    """A 16-bit or 32-bit greyscale image's values (Pillow modes ``I;16*``, ``I``, ``F``) as floats in [0, 1]
    (float64, unclipped); None for any other mode. ``I`` holds 16-bit values when any exceeds 255 (Pillow opens
    most 16-bit PNGs as ``I``), 8-bit ones otherwise; ``F`` is taken as 0-255 when any value exceeds 1."""
    import numpy as np

    scale = _grey_scale(img)
    return None if scale is None else np.asarray(img, dtype=np.float64) / scale


def _grey_scale(img: Image.Image) -> float | None:
    """The value that is white in a 16-bit or 32-bit greyscale image (see :func:`grey_levels`); None for other
    modes."""
    import numpy as np

    if img.mode.startswith("I;16"):  # (I;16, I;16B, I;16L, I;16N: the ones Pillow knows)
        return 65535.0
    return white_level(np.asarray(img)) if img.mode in ("I", "F") else None


def white_level(values) -> float:
    """The value that is white in an array of pixel values whose scale is not stated: 65535 for 16-bit
    integers (and other integers above 255), 255 for other integers and for floats above 1, else 1. The one
    rule every reader applies (Pillow's ``I`` and ``F`` images, decoded video frames)."""
    import numpy as np

    a = np.asarray(values)
    if a.dtype == np.uint16:
        return 65535.0
    top = a.max(initial=0) if a.size else 0
    if a.dtype.kind in "iu":
        return 65535.0 if top > 255 else 255.0
    return 255.0 if top > 1.0 else 1.0


def to_8bit(img: Image.Image) -> Image.Image:
    """A 16-bit or 32-bit greyscale image (Pillow modes ``I;16*``, ``I``, ``F``) as 8-bit ``L``, scaled as
    :func:`brushwork.imaging.read_image` scales it (:func:`grey_levels`); other modes are returned as they are.
    Pillow's own ``convert`` clips such values at 255, so a 16-bit picture turned white."""
    import numpy as np

    scale = _grey_scale(img)
    if scale is None:
        return img
    grey = np.array(img, dtype=np.float32)  # (float32: a preview of an 80 MP scan needs no float64 copy; a copy:
    grey *= 255.0 / scale  # a float image's own pixels come as a read-only view)
    out = Image.fromarray(np.round(np.clip(grey, 0.0, 255.0)).astype(np.uint8), "L")
    out.info = dict(img.info)  # its EXIF too: the orientation is applied after
    return out
