"""Palette files and views: CSS variables, GIMP .gpl, Adobe .ase, a swatch PNG, a terminal table.

The .ase writer follows Adobe's swatch exchange layout (as documented by the open implementations,
e.g. GIMP's and Krita's readers): ``ASEF``, version 1.0, a block count, then one colour-entry block
(0x0001) per colour with a UTF-16BE name, the ``RGB `` model, three big-endian float32 values in
[0, 1] and a colour type (2 = normal). Files are written atomically (temporary name, then rename).
"""

from __future__ import annotations

import numbers
import os
import struct
import sys
from pathlib import Path

import numpy as np

from ..errors import BrushworkError
from .palette import Palette
from .spaces import rgb_to_8bit

__all__ = ["to_css", "to_gpl", "to_ase", "read_ase", "swatch_image", "terminal_table", "write_text_atomic",
           "write_bytes_atomic"]


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """``data`` into ``path`` under a short temporary name, renamed when complete (a name of 250 characters plus
    a suffix would pass the file system's 255-character limit: the temporary name is not derived from it)."""
    import tempfile

    from ..imaging.io import _new_file_mode

    p = Path(path)
    try:
        fd, tmp_s = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name[:40]}.", suffix=".part")
    except OSError as exc:  # (its own error names the temporary file, which the user never gave)
        raise BrushworkError(f"could not write '{p}' ({exc.strerror or exc}): check the path and its permissions, "
                             "or choose another place for it") from None
    tmp = Path(tmp_s)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, _new_file_mode(p))  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, p)
    except OSError as exc:  # (a full disk: the write's error names no file)
        raise BrushworkError(f"could not write '{p}' ({exc.strerror or exc}): free disk space, or choose another "
                             "place for it") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def _names(palette: Palette, prefix: str) -> list[str]:
    return [f"{prefix}-{i + 1}" for i in range(len(palette))]


def _checked_text(value: str, what: str, pattern: str, example: str) -> str:
    """``value`` if it matches ``pattern`` (a name written into a file: a space or a line break would break it)."""
    import re

    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise BrushworkError(f"{what} {str(value)[:40]!r} cannot be written there: use {example}")
    return value


def to_css(palette: Palette, prefix: str = "color") -> str:
    """``:root { --color-1: #rrggbb; ... }`` with each colour's share and OKLCH as a comment (``palette``: a
    :class:`Palette` or hex colours; ``prefix``: letters, digits, ``-`` and ``_``, as CSS names take them)."""
    palette = Palette.of(palette)
    _checked_text(prefix, "prefix", r"[A-Za-z_][A-Za-z0-9_-]*", "letters, digits, - and _ (e.g. 'brand-color')")
    lines = [":root {"]
    for name, h, lch, s in zip(_names(palette, prefix), palette.hex, palette.oklch, palette.shares):
        lines.append(f"  --{name}: {h};  /* {100 * s:.1f}% - oklch({lch[0]:.3f} {lch[1]:.3f} {lch[2]:.1f}) */")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_gpl(palette: Palette, name: str = "brushwork") -> str:
    """A GIMP palette (also read by Inkscape and Krita); ``name``: one line of text."""
    palette = Palette.of(palette)
    _checked_text(name, "name", r"[^\x00-\x1f\x7f]+", "one line of text (e.g. 'sunset')")
    lines = ["GIMP Palette", f"Name: {name}", "Columns: 0", "#"]
    for i, (c, h) in enumerate(zip(palette.rgb, palette.hex)):
        r, g, b = rgb_to_8bit(c)
        lines.append(f"{r:3d} {g:3d} {b:3d}\t{h} ({i + 1})")
    return "\n".join(lines) + "\n"


def to_ase(palette: Palette, prefix: str = "color") -> bytes:
    """An Adobe swatch exchange file (Photoshop, Illustrator, Affinity...)."""
    palette = Palette.of(palette)
    _checked_text(prefix, "prefix", r"[^\x00-\x1f\x7f]{1,200}", "one line of text (e.g. 'color')")
    blocks = []
    for name, c in zip(_names(palette, prefix), palette.rgb):
        utf16 = (name + "\0").encode("utf-16-be")
        body = struct.pack(">H", len(name) + 1) + utf16 + b"RGB " + struct.pack(">3f", *map(float, c)) + struct.pack(">H", 2)
        blocks.append(struct.pack(">HI", 0x0001, len(body)) + body)
    return b"ASEF" + struct.pack(">HHI", 1, 0, len(blocks)) + b"".join(blocks)


def read_ase(data: bytes, skipped: list[str] | None = None) -> list[tuple[str, tuple[float, float, float]]]:
    """The colours of an .ase file as ``(name, sRGB)``: RGB swatches as they are, Gray ones as greys, LAB ones
    (L stored as 0-1, relative to D50) converted exactly. CMYK swatches are left out, as their RGB depends on
    the printing profile that an .ase file does not carry; their names are appended to ``skipped``."""
    from .spaces import cielab_to_rgb

    if data[:4] != b"ASEF":
        raise ValueError("not an Adobe swatch exchange file")
    (count,) = struct.unpack(">I", data[8:12])
    pos, out = 12, []
    for _ in range(count):
        kind, length = struct.unpack(">HI", data[pos:pos + 6])
        body = data[pos + 6:pos + 6 + length]
        pos += 6 + length
        if kind != 0x0001:
            continue
        (n,) = struct.unpack(">H", body[:2])
        name = body[2:2 + 2 * n].decode("utf-16-be").rstrip("\0")
        model, values = body[2 + 2 * n:6 + 2 * n], body[6 + 2 * n:]
        if model == b"RGB ":
            out.append((name, struct.unpack(">3f", values[:12])))
        elif model == b"Gray":
            (g,) = struct.unpack(">f", values[:4])
            out.append((name, (g, g, g)))
        elif model == b"LAB ":
            lab = struct.unpack(">3f", values[:12])
            out.append((name, tuple(float(v) for v in cielab_to_rgb([lab[0] * 100, lab[1], lab[2]]))))
        elif skipped is not None:
            skipped.append(name or model.decode("ascii", "replace").strip())
    return out


def swatch_image(palette: Palette, width: int = 600, height: int = 120):
    """A PIL image: one block per colour, as wide as its share, labelled with its hex code (``palette``: a
    :class:`Palette` or hex colours)."""
    from PIL import Image, ImageDraw

    palette = Palette.of(palette)
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and 1 <= v <= 16384 for v in (width, height)):
        raise BrushworkError(f"a swatch is 1 to 16384 pixels a side, got width {width!r} and height {height!r}")

    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    edges = np.concatenate([[0], np.cumsum(palette.shares)]) * width
    for i, (c, h) in enumerate(zip(palette.rgb, palette.hex)):
        x0, x1 = int(round(edges[i])), int(round(edges[i + 1]))
        fill = tuple(rgb_to_8bit(c))
        draw.rectangle([x0, 0, max(x0, x1 - 1), height - 1], fill=fill)
        luminance = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
        if x1 - x0 >= 48:
            draw.text((x0 + 4, height - 16), h, fill="black" if luminance > 0.5 else "white")
    return img


def _truecolor() -> bool:
    return sys.stdout.isatty() and os.environ.get("COLORTERM", "") in ("truecolor", "24bit") \
        and "NO_COLOR" not in os.environ


def terminal_table(palette: Palette, color: bool | None = None) -> str:
    """hex, RGB, OKLCH and share per colour, with a colour block where the terminal shows 24-bit colour."""
    color = _truecolor() if color is None else color
    lines = [f"{'':4}{'hex':9}{'rgb':15}{'oklch (L C h)':24}share"]
    for c, h, lch, s in zip(palette.rgb, palette.hex, palette.oklch, palette.shares):
        r, g, b = rgb_to_8bit(c)
        block = f"\x1b[48;2;{r};{g};{b}m   \x1b[0m " if color else "    "
        lines.append(f"{block}{h:9}{f'{r},{g},{b}':15}{f'{lch[0]:.3f} {lch[1]:.3f} {lch[2]:5.1f}':24}{100 * s:5.1f}%")
    return "\n".join(lines)
