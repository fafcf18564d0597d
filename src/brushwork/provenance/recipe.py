"""Recipes: what made an image, written into the image itself.

A recipe is a JSON object: the operation, every parameter, the seed, brushwork's version, the sha256 of
the model weights and of every input file, the device and dtype, and the environment that decides
whether the same recipe gives the same bytes (torch's version, the thread count, the CPU's instruction
set). It is written

* into PNGs as an iTXt chunk named ``brushwork``;
* into JPEG and WebP files as an XMP packet (``brushwork:recipe``; Adobe tools show XMP, and it
  survives most editors that keep metadata);
* into TIFFs as their XMP tag (700);
* beside any file as ``NAME.EXT.json`` with ``--sidecar``, and always where the file has no room for
  it (BMP, MP4, a recipe too large for XMP).

``--no-metadata`` leaves it out. brushwork builds every output from pixels, so an input's EXIF (camera,
GPS position, time) is never copied into it.
"""

from __future__ import annotations

import html
import json
import os
import platform
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import BrushworkError

__all__ = ["RECIPE_KEY", "command_recipe", "environment", "file_sha256", "read_recipe", "embed_kwargs", "sidecar_path",
           "write_sidecar", "XMP_LIMIT"]

RECIPE_KEY = "brushwork"
FRAMES_MARKER = ".brushwork-frames"  # in a frames folder `brushwork video` wrote: its numbered frames may be replaced
XMP_LIMIT = 60_000  # a JPEG APP1 segment holds 65,502 bytes; save_image writes larger recipes to a sidecar
_XMP_RE = re.compile(r"<brushwork:recipe>(.*?)</brushwork:recipe>", re.S)


#: the commands that never use torch: their recipes record no torch, threads or instruction set, whatever else the
#: process imported (a notebook, the studio), so that a rerun anywhere writes the same bytes
TORCH_FREE_COMMANDS = frozenset({"palette", "recolor", "compose", "harmony"})


def environment(uses_torch: bool = True) -> dict[str, Any]:
    """What decides whether a recipe reproduces bit for bit: versions, threads, instruction set (torch's where
    ``uses_torch`` and the process has imported it)."""
    from .. import __version__

    env: dict[str, Any] = {"brushwork": __version__, "python": platform.python_version(),
                           "machine": platform.machine(), "system": platform.system()}
    torch = sys.modules.get("torch")  # recorded when the operation used torch; never imported for it
    # (not while another thread is still importing it, as a studio's first jobs may be: a half-made module)
    if uses_torch and torch is not None and not getattr(getattr(torch, "__spec__", None), "_initializing", False):
        try:
            env.update({"torch": torch.__version__, "threads": torch.get_num_threads(),
                        "cpu_capability": torch.backends.cpu.get_cpu_capability()})
        except AttributeError:
            pass
    np = sys.modules.get("numpy")
    if np is not None:
        env["numpy"] = np.__version__
    return env


#: sha256 -> absolute path of the input files this process hashed (:func:`input_sha256`), newest last
_INPUTS: dict[str, str] = {}
_INPUTS_KEPT = 4096  # a long-running studio hashes inputs for days: the oldest are forgotten


def file_sha256(path: str | os.PathLike) -> str:
    from ..weights import sha256_file  # the one file hasher (weights.py is light to import)

    return sha256_file(path)


def input_sha256(path: str | os.PathLike) -> str:
    """:func:`file_sha256` of an input file, remembering where it is for :func:`local_path`."""
    digest = file_sha256(path)
    _remember(_INPUTS, digest, str(Path(path).resolve()))
    return digest


def _remember(table: dict[str, str], key: str, value: str) -> None:
    """``table[key] = value`` as the newest entry, the oldest forgotten past ``_INPUTS_KEPT`` (a long-running studio)."""
    table.pop(key, None)
    table[key] = value
    if len(table) > _INPUTS_KEPT:
        del table[next(iter(table))]


def local_path(sha256: str | None) -> str | None:
    """The absolute path of an input this process hashed (:func:`input_sha256`), by its sha256: what the
    gallery records beside the recipe (which, embedded in shared files, names an absolute path by its
    file name only)."""
    return _INPUTS.get(sha256) if sha256 else None


#: a folder's name as a recipe records it -> its absolute path, for the folders this process named by absolute path
_FOLDERS: dict[str, str] = {}


def local_folder(token: str) -> str | None:
    """The absolute path of a model or frames folder that a recipe of this process records by its name only
    (:func:`command_recipe`): what the gallery keeps beside the recipe, so that the studio's rerun finds it."""
    return _FOLDERS.get(token) if isinstance(token, str) else None


#: The suffix a scratch placeholder may keep (``{scratch:.css}``): reproduce accepts these only, no path in them.
SCRATCH_SUFFIX = re.compile(r"\.[A-Za-z0-9_-]{1,16}")


def _is_dir(p: Path) -> bool:
    try:
        return p.is_dir()
    except OSError:
        return False


def command_recipe(argv: list[str], output: str | os.PathLike, params: dict, *,
                   output_options: set[str] = frozenset()) -> dict:
    """The recipe of ``output``, written by the CLI command ``argv`` (without ``brushwork``; every
    option value its own argument).

    The command is kept with placeholders so that ``brushwork reproduce`` can run it again elsewhere:
    the value of an output option (``output_options``, e.g. ``-o``) becomes ``{output}`` when it is this
    output, ``{output_dir}`` when it is the folder holding it (``output`` then records the file's path
    inside it), and ``{scratch:.EXT}`` for the command's other outputs; every other argument that is
    an existing file becomes ``{input:N}`` (``inputs[N]``: its name, size and sha256, and its path when
    relative: an absolute one may name the user), and a folder given by an absolute path (a model, frames) its name. ``params`` (the operation's own record) come first;
    ``output_name`` keeps this output's file name (its format) and ``environment`` the setup.
    """
    out = Path(output).resolve()
    cmd: list[str] = []
    inputs: list[dict] = []
    rel_output = None
    after_output_option = dashes = False
    for tok in argv:
        if tok == "--" and not dashes and not after_output_option:  # (after it, every argument is a name)
            dashes = True
            cmd.append(tok)
            continue
        if after_output_option:
            after_output_option = False
            t = Path(tok).resolve()
            if t == out:
                cmd.append("{output}")
            elif out.is_relative_to(t):
                cmd.append("{output_dir}")
                rel_output = out.relative_to(t).as_posix()
            else:
                suffix = Path(tok).suffix  # (a plain one, as reproduce accepts: 'c.my style' has none)
                cmd.append("{scratch:" + (suffix if SCRATCH_SUFFIX.fullmatch(suffix) else "") + "}")
            continue
        if tok in output_options and not dashes:
            after_output_option = True
            cmd.append(tok)
            continue
        p = Path(tok)
        try:
            is_file = (dashes or not tok.startswith("-")) and p.is_file()
        except OSError:  # (a value longer than a file name can be, such as 52 seeds: no file)
            is_file = False
        if is_file:
            entry = {"name": p.name, "bytes": p.stat().st_size, "sha256": input_sha256(p)}
            if not p.is_absolute():
                entry["path"] = tok
            inputs.append(entry)
            cmd.append(f"{{input:{len(inputs) - 1}}}")
        elif (dashes or not tok.startswith("-")) and p.is_absolute() and p.name and _is_dir(p):
            # a model or frames folder by absolute path: by its name, as a file is (the path may name the user);
            # reproduce looks for it by that name (a run's 'checkpoint' folder with its run's)
            name = f"{p.parent.name}/{p.name}" if p.name == "checkpoint" and p.parent.name else p.name
            _remember(_FOLDERS, name, os.path.abspath(p))  # (as typed: a symlink keeps the name the recipe records)
            cmd.append(name)
        else:
            cmd.append(tok)
    recipe = {**params, "command": cmd, "inputs": inputs, "output_name": out.name,
              "environment": environment(uses_torch=not argv or argv[0] not in TORCH_FREE_COMMANDS)}
    if rel_output is not None:
        recipe["output"] = rel_output
    return recipe


def _xmp_packet(text: str) -> bytes:
    return ('<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:brushwork="https://github.com/brushwork/ns/recipe/1.0/">'
            f'<brushwork:recipe>{html.escape(text, quote=False)}</brushwork:recipe>'
            '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>').encode("utf-8")


def plain_recipe(recipe: dict) -> dict:
    """``recipe`` as plain JSON data: numpy numbers and arrays (a notebook's ``np.int64(1)``) and paths made
    Python's own.

    Raises:
        BrushworkError: a value JSON cannot carry (a TypeError deep in ``json.dumps`` before).
    """
    def default(o: Any) -> Any:
        if hasattr(o, "item") and hasattr(o, "dtype"):  # numpy's numbers and arrays
            return o.item() if getattr(o, "ndim", 0) == 0 else o.tolist()
        if isinstance(o, os.PathLike):
            return os.fspath(o)
        if isinstance(o, (set, frozenset)):
            return sorted(o, key=str)
        raise TypeError(f"{type(o).__name__} {str(o)[:40]!r}")

    if not isinstance(recipe, dict):
        raise BrushworkError(f"a recipe is a dict, got {type(recipe).__name__}")
    try:
        return json.loads(json.dumps(recipe, default=default))
    except (TypeError, ValueError, RecursionError) as exc:
        raise BrushworkError(f"the recipe holds a value JSON cannot carry ({exc}): give numbers, strings, lists and "
                             "dicts") from None


def embed_kwargs(fmt: str, recipe: dict) -> dict[str, Any]:
    """Pillow ``save`` keyword arguments that carry ``recipe`` in a file of format ``fmt`` (PNG, JPEG,
    WEBP, TIFF); empty where the format has no place for it (or the recipe is too large for one)."""
    text = json.dumps(recipe, sort_keys=True)
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo

        info = PngInfo()
        info.add_itxt(RECIPE_KEY, text, zip=len(text) > 1024)
        return {"pnginfo": info}
    packet = _xmp_packet(text)
    if fmt in ("JPEG", "WEBP") and len(packet) <= XMP_LIMIT:
        return {"xmp": packet}
    if fmt == "TIFF":
        return {"tiffinfo": {700: packet}}
    return {}


def has_sidecar(path: str | os.PathLike) -> bool:
    """Whether a file stands at ``path``'s recipe-file name (none can when that name is too long)."""
    from ..files import is_file

    return is_file(sidecar_path(path))


def sidecar_path(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.name:  # "." or "..": a folder named by where one stands
        p = Path(os.path.abspath(p))
    return p.with_name(p.name + ".json")


def sidecar_recipe(path: str | os.PathLike) -> dict | None:
    """The brushwork recipe at ``path``'s sidecar name (``NAME.json``), or None: none there, or something else
    (not JSON, not an object with a recipe's keys, a folder)."""
    return recipe_file(sidecar_path(path))


def recipe_file(path: str | os.PathLike) -> dict | None:
    """The brushwork recipe a JSON file holds (a sidecar, or one saved by ``brushwork inspect --json``), or None."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) and {"operation", "command", "brushwork"} & set(data) else None


def foreign_sidecar(path: str | os.PathLike) -> Path | None:
    """The file (or folder) at ``path``'s sidecar name (``NAME.json``) when it is not a brushwork recipe, which
    writing ``path`` would replace or remove (a folder of frames ``renders`` beside the user's own
    ``renders.json``); None when there is none or it is a recipe."""
    from ..files import NAME_MAX, name_bytes

    side = sidecar_path(path)
    if name_bytes(side.name) > NAME_MAX:  # no file can have that name (its picture's is near the limit)
        return None
    return side if side.exists() and sidecar_recipe(path) is None else None


def check_sidecar_free(path: str | os.PathLike) -> None:
    """Refuse, before any work, an output whose sidecar name holds something else than a brushwork recipe.

    Raises:
        BrushworkError: naming the file and the fix.
    """
    side = foreign_sidecar(path)
    if side is not None:
        raise BrushworkError(f"'{side}' is not a brushwork recipe, and the output '{Path(path).name}' keeps its recipe "
                             f"under that name: move it, or choose another output name")


def write_sidecar(path: str | os.PathLike, recipe: dict) -> Path:
    """Write ``NAME.EXT.json`` beside ``path`` atomically."""
    from ..files import write_atomically

    side = sidecar_path(path)
    text = json.dumps(recipe, indent=1, sort_keys=True) + "\n"
    write_atomically(side, lambda t: t.write_text(text), ".tmp")  # (a full disk: no empty temporary file left)
    return side


def read_recipe(path: str | os.PathLike) -> tuple[dict | None, str]:
    """``(recipe, where)``: from the file's own metadata, else from its sidecar; ``(None, "")`` if neither.

    Raises:
        OSError: the file cannot be opened as an image (and has no sidecar).
    """
    from PIL import Image

    p = Path(path)
    text = None
    try:
        with Image.open(p) as im:
            # (im.info first: brushwork's iTXt chunk comes before the pixels and is there at open; im.text decodes the
            # whole picture to reach chunks after them: 0.6 s for a 4096 px output, on every rerun's check)
            if RECIPE_KEY in im.info or RECIPE_KEY in getattr(im, "text", {}):
                text, where = im.info.get(RECIPE_KEY) or im.text[RECIPE_KEY], "PNG iTXt chunk"
            elif im.format == "GIF" and isinstance(im.info.get("comment"), bytes):
                text, where = im.info["comment"].decode("utf-8", "replace"), "GIF comment"
            else:
                xmp = im.info.get("xmp")
                if xmp is None and im.format == "TIFF":
                    xmp = im.tag_v2.get(700)
                if isinstance(xmp, (bytes, bytearray)):
                    xmp = bytes(xmp).decode("utf-8", "replace")
                m = _XMP_RE.search(xmp) if isinstance(xmp, str) else None
                if m:
                    text, where = html.unescape(m.group(1)), "XMP"
    except ValueError as exc:  # (Pillow refuses a text chunk over its 1 MB limit: not a recipe brushwork writes)
        raise OSError(f"'{p}' holds a metadata chunk larger than Pillow reads ({exc})") from None
    except (OSError, Image.DecompressionBombError) as exc:
        if not has_sidecar(p):
            if isinstance(exc, OSError):
                raise
            raise OSError(f"'{p}' declares more pixels than Pillow opens safely ({exc})") from None
    if text is None and has_sidecar(p):
        side = sidecar_path(p)
        try:  # (utf-8-sig: an editor's byte-order mark is no reason to say there is no recipe)
            text, where = side.read_text(encoding="utf-8-sig"), f"sidecar {side.name}"
        except UnicodeDecodeError:
            raise BrushworkError(f"the recipe beside '{p}' ({side.name}) is not UTF-8 text (saved by an editor as "
                                 "UTF-16?): save it as UTF-8 again") from None
    if text is None:
        return None, ""
    try:
        recipe = json.loads(text)
    except (json.JSONDecodeError, RecursionError):  # (RecursionError: nested deeper than Python parses)
        return None, ""
    return (recipe, where) if isinstance(recipe, dict) else (None, "")
