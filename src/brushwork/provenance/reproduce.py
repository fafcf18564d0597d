"""``brushwork reproduce``: run an image's recipe again and compare the pixels.

The recipe's command is run in this process with its inputs found by sha256 (at the relative path it
recorded, else anywhere under the folders given), its output written to a temporary folder, and
torch's thread count set to the recorded one (a different count changes the order of floating-point
sums, and so the last bits). On the same torch version and CPU instruction set the pixels are
bit-identical; elsewhere the largest difference is reported along with what differs.
"""

from __future__ import annotations

import functools
import io
import itertools
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import BrushworkError
from ..imaging.decode import VIDEO_FILE_SUFFIXES
from .recipe import SCRATCH_SUFFIX, environment, file_sha256, read_recipe

__all__ = ["Reproduction", "find_input", "reproduce"]

_ENV_KEYS = ("brushwork", "torch", "threads", "cpu_capability", "machine", "numpy")
# What a recipe may run: the commands that write images, and nothing that downloads or writes elsewhere
# (a recipe is data from a file that may come from anyone)
_ALLOWED = (("stylize",), ("recolor",), ("compose",), ("palette",), ("gan", "sample"), ("gan", "interpolate"),
            ("video",))
_OUTPUT_OPTIONS = ("-o", "--output", "--out", "--apply", "--overlay", "--swatch", "--css", "--gpl", "--ase",
                   "--previews", "--nearest", "--sheet")
# what an output option may name: the rerun's own output, folder or scratch file in its temporary folder (an input,
# {input:N}, would be overwritten: a recipe edited to do so could replace any file of the user's it matches)
_WRITABLE = re.compile(r"\{output\}|\{output_dir\}|\{scratch:(" + SCRATCH_SUFFIX.pattern + r")?\}")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif")
_VIDEO_SUFFIXES = VIDEO_FILE_SUFFIXES  # `brushwork video` outputs: recipe in a sidecar


@dataclass
class Reproduction:
    identical: bool
    max_difference: int  # in 0-255 units
    differing_pixels: int
    pixels: int
    same_bytes: bool
    environment_differences: list[str] = field(default_factory=list)
    kept: Path | None = None
    compared: bool = True  # False: made from a recipe file alone, with no picture to compare the rerun with
    converted: str | None = None  # why it may differ: the picture is in another format than the recipe wrote
    compared_with: Path | None = None  # given a recipe file: the picture beside it that the rerun was compared with

    def summary(self) -> str:
        if not self.compared:
            head = "made again from the recipe alone (no picture beside it to compare with)"
        elif self.identical:
            head = "bit-identical pixels" + (" and file bytes" if self.same_bytes else "")
        else:
            head = (f"differs: largest pixel difference {self.max_difference}/255, {self.differing_pixels} of "
                    f"{self.pixels} pixels")
        if self.converted:
            head += f" ({self.converted})"
        if self.environment_differences:
            head += " (recorded on another setup: " + "; ".join(self.environment_differences) + ")"
        return head


_INPUT_REF = re.compile(r"\{input:([0-9]+)\}")  # (ASCII digits: '²' is a digit to str.isdigit, not to int)


#: options that check a picture without changing it, left out of a rerun (with a value unless another option follows)
_CHECKS = {("gan", "sample"): ("--originality",)}


def _without_checks(run: list[str]) -> list[str]:
    """``run`` without the options of :data:`_CHECKS` (``gan sample --originality``: an index the rerun needs
    neither to make nor to compare the pictures, which a new training run or a move may have taken away)."""
    drop = _CHECKS.get(tuple(run[:2]), ())
    out, skip = [], False
    for i, t in enumerate(run):
        if skip:
            skip = False
            continue
        if t in drop:
            nxt = run[i + 1] if i + 1 < len(run) else "-"
            skip = not nxt.startswith("-") and not nxt.startswith("{output")  # (its optional value)
            continue
        out.append(t)
    return out


#: the options whose value is a model folder (the GAN run of `gan sample` and `gan interpolate` is their positional)
_MODEL_OPTIONS = ("--decoder",)
_SUBCOMMANDS = {"gan": 2}  # the words of a command before its arguments (`gan sample`), else 1
_FOLDER_POSITIONALS = {"gan": "model", "video": "frames"}  # a command's positional that may be a folder, and of what


def _folder_kind(run: Sequence[str], i: int) -> str | None:
    """What folder ``run[i]`` may name: ``"model"`` (a model option's value, or a GAN command's positional: its
    checkpoint), ``"frames"`` (video's positional: a folder of frames), else None: never a subcommand or another
    option's value (``--encoder vgg19``); after a flag such as ``--grid`` a word is a positional (the parser says
    which options take a value)."""
    if i < _SUBCOMMANDS.get(str(run[0]) if run else "", 1) or str(run[i]).startswith("-"):
        return None
    before = str(run[i - 1])
    if before in _MODEL_OPTIONS:
        return "model"
    kind = _FOLDER_POSITIONALS.get(str(run[0]))
    return kind if kind and before not in _valued_options(str(run[0])) else None


@functools.lru_cache(maxsize=16)
def _valued_options(command: str) -> frozenset[str]:
    """The options of ``command`` (and its subcommands) that take a value (its parser built once: it is asked for
    every word of a command)."""
    from ..cli import _option_kinds, build_parser

    return frozenset(_option_kinds(build_parser(command))[0])


def _weights_sha(folder: Path) -> str | None:
    """The sha256 of the weights a model folder holds (its run's ``checkpoint/``'s first, as the loaders take them)."""
    from ..weights import sha256_file  # (remembered per path, size and time: the rerun's load hashes it again free)

    for f in (folder / "checkpoint" / "model.safetensors", folder / "model.safetensors"):
        if f.is_file():
            return sha256_file(f)
    return None


def model_folder(token: str, search: Sequence[Path], bases: Sequence[Path], kind: str = "model",
                 want: frozenset[str] = frozenset()) -> str:
    """``token`` as a rerun should pass it: a folder recorded by a relative path (``gan sample runs/g1``, ``video
    frames/ ...``) that does not lie there from the working folder, or by an absolute path where it no longer
    is, is looked for from ``bases`` (the picture's
    folder and those above it) and ``search`` (``--inputs``), by its path, then by its name: a model folder (its
    ``config.json``) for ``kind="model"``, a folder holding images for ``"frames"``; anything else is returned as
    it is. (The recipe's weights sha256, or the rerun's pixels, then say whether what was found is what was used.)"""
    from ..datasets.fetch import IMAGE_SUFFIXES

    def fits(cand: Path) -> bool:
        if kind == "frames":
            return any(f.suffix.lower() in IMAGE_SUFFIXES for f in cand.iterdir())
        return (cand / "config.json").is_file() or (cand / "checkpoint" / "config.json").is_file()

    p = Path(token)
    if not token or token.startswith(("-", "{")):
        return token
    if p.exists() and (kind != "model" or not want or not search or _weights_sha(p) in want):
        return token
    first = token if p.exists() else None

    def under(root: Path) -> Iterator[Path]:  # --inputs, recursively (as files are found): folders of that name
        if root.parts[-len(p.parts):] == p.parts:  # (--inputs the folder itself)
            yield root
        for dirpath, dirs, _ in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            yield from (Path(dirpath) / d for d in dirs if d == p.name)

    # (one recorded by its name, given by an absolute path, or moved since: by its name, beside the picture and
    # above it, then anywhere under --inputs)
    cands = itertools.chain(((base / p, base / p.name) for base in (*bases, *search)), (under(r) for r in search))
    for cand in itertools.chain.from_iterable(cands):
        try:
            if not (cand.is_dir() and fits(cand)):
                continue
            if kind != "model" or not want or _weights_sha(cand) in want:
                return str(cand)
            first = first or str(cand)  # (none holds the recorded weights: the first, and the rerun says so)
        except OSError:
            continue
    return first or token


def find_input(entry: dict, search: list[Path], bases: Sequence[Path] = ()) -> Path:
    """The file with the recorded sha256: at its recorded relative path (from the working folder, or from
    one of ``bases``: the reproduced picture's folder and those above it, where it was made from; an input
    given by absolute path is recorded by its name only, and looked for there by that name), else under
    ``search`` (recursively; only files of the recorded size are hashed).

    Raises:
        BrushworkError: not found; the message names the file and what to pass.
    """
    want, size = entry.get("sha256"), entry.get("bytes")
    rel = entry.get("path")
    if rel and not isinstance(rel, str):
        raise BrushworkError(f"a recipe input's path is not a path ({str(rel)[:40]}): edited by hand? not run")
    name = entry.get("name")
    if not rel and isinstance(name, str) and name and name == Path(name).name and name not in (".", ".."):
        rel = name  # (an input given by absolute path is recorded by name only: looked for by name beside the picture)
    changed = None  # a file at its recorded path whose contents are not the recorded ones (edited since)
    if rel:
        for base in (Path("."), *bases):
            p = base / rel  # (Path(".") / rel is rel itself)
            if p.is_file():
                if file_sha256(p) == want:
                    return p
                # (one looked for by name only may be another picture of that name, and so may one found from a
                # working folder other than where it was made)
                if entry.get("path") and (base != Path(".") or Path.cwd() in [b.resolve() for b in bases]):
                    changed = changed or p
    bundled = Path(__file__).resolve().parent.parent / "data" / "samples"  # the studio's styles, `stylize`'s samples
    for root in [*search, bundled]:
        for dirpath, _, files in os.walk(root):
            for file_name in sorted(files):
                p = Path(dirpath) / file_name
                try:
                    if size is not None and p.stat().st_size != size:
                        continue
                except OSError:
                    continue
                if file_sha256(p) == want:
                    return p
    where = " nor in " + ", ".join(f"'{r}'" for r in search) if search else ""
    if changed is not None:
        elsewhere = f", and the original is not in {where[len(' nor in '):]}" if where else ""
        raise BrushworkError(f"input '{changed}' has changed since the picture was made (its sha256 is not the recorded "
                             f"{str(want)[:12]}...){elsewhere}: restore it, or pass --inputs DIR with a folder that "
                             "holds the original")
    at = "at its recorded path" if entry.get("path") else "in the working folder or beside the picture"
    raise BrushworkError(f"input '{name}' (sha256 {str(want)[:12]}...) is not {at}{where}: "
                         "pass --inputs DIR with a folder that holds it")


def _frames(path: Path) -> Iterator[np.ndarray]:
    """Every frame (one for a still image) as ``int16 (H, W, 4)``, one at a time (a video is not held whole);
    a video file is opaque (a folder's frames keep their alpha)."""
    from PIL import Image, ImageSequence

    if path.is_dir() or path.suffix.lower() in _VIDEO_SUFFIXES:
        from ..pipelines.video import read_frames

        for f in read_frames(path, keep_alpha=True).frames:
            f = np.asarray(f, dtype=np.int16)
            yield f if f.shape[-1] == 4 else np.concatenate([f, np.full(f.shape[:-1] + (1,), 255, np.int16)], axis=-1)
        return
    with Image.open(path) as im:
        for f in ImageSequence.Iterator(im):
            yield np.asarray(f.convert("RGBA"), dtype=np.int16)


def _compare(a: Path, b: Path) -> tuple[int, int, int, tuple, tuple]:
    """``(largest difference, differing pixels, pixels, (frames, H, W) of a, of b)``, frame by frame."""
    from itertools import zip_longest

    most = differing = pixels = 0
    shapes = [[0, None], [0, None]]
    for fa, fb in zip_longest(_frames(a), _frames(b)):
        for s, f in zip(shapes, (fa, fb)):
            if f is not None:
                s[0] += 1
                s[1] = s[1] or f.shape[:2]
        if fa is not None and fb is not None and fa.shape != fb.shape:  # a later frame of another size
            return 0, 0, 0, (shapes[0][0], *fa.shape[:2]), (shapes[1][0], *fb.shape[:2])
        if fa is None or fb is None:
            continue  # reported from the counts
        d = np.abs(fa - fb)
        most, differing, pixels = max(most, int(d.max())), differing + int(d.any(-1).sum()), pixels + d.shape[0] * d.shape[1]
    return most, differing, pixels, (shapes[0][0], *(shapes[0][1] or (0, 0))), (shapes[1][0], *(shapes[1][1] or (0, 0)))


def _digest(path: Path) -> str:
    """A sha256 of the file's bytes; for a folder, of every file's name and bytes in order (a frames folder's
    empty marker left out: folders of 0.2.5 and before have none, and their frames are what counts)."""
    import hashlib

    from .recipe import FRAMES_MARKER  # (not from pipelines.video: it imports torch)

    if not path.is_dir():
        return file_sha256(path)
    h = hashlib.sha256()
    for f in sorted(q for q in path.rglob("*") if q.is_file() and q.name != FRAMES_MARKER):
        h.update(f.relative_to(path).as_posix().encode() + b"\0" + file_sha256(f).encode())
    return h.hexdigest()


def _check_command(cmd: list, path: Path) -> None:
    """Refuse recipes that would run anything but an image-writing command into the temporary folder."""
    toks = [str(t) for t in cmd]
    if not any(tuple(toks[:len(a)]) == a for a in _ALLOWED):
        raise BrushworkError(f"the recipe in '{path}' runs 'brushwork {' '.join(toks[:2])}', which reproduce does not "
                             "run (only stylize, recolor, compose, palette, gan sample, gan interpolate and video)")
    names = False  # after `--`: names (the inputs' placeholders, or files that begin with '-'), no options
    for i, t in enumerate(toks):
        if t.startswith("{scratch:") and not _WRITABLE.fullmatch(t):  # (a suffix only: no path in it)
            raise BrushworkError(f"the recipe in '{path}' names a scratch file that is not a plain suffix ({t[:40]}): "
                                 "not run")
        names = names or t == "--"
        if names:
            continue
        if t == "--download" or t.startswith("--download="):
            raise BrushworkError(f"the recipe in '{path}' asks to download weights: reproduce runs offline only")
        # brushwork records every option's value as its own argument: `--css=PATH` or `-oPATH` would name a file
        # (anywhere) that the checks below never see
        if t.startswith("-") and ("=" in t or (not t.startswith("--") and len(t) > 2)) and not _is_number(t):
            raise BrushworkError(f"the recipe in '{path}' has an option written with its value attached ({t[:40]}), "
                                 "which brushwork never records (edited by hand?): not run")
        if t in _OUTPUT_OPTIONS and (i + 1 >= len(toks) or not _WRITABLE.fullmatch(toks[i + 1])):
            raise BrushworkError(f"the recipe in '{path}' writes to a path outside reproduce's temporary folder ({t} "
                                 f"{toks[i + 1][:40] if i + 1 < len(toks) else ''}), edited by hand?: not run")


def _is_number(t: str) -> bool:
    try:
        float(t)
    except ValueError:
        return False
    return True


def _check_version(recipe: dict, path: Path) -> None:
    """Refuse a recipe from a newer brushwork (its options may mean something this one does not know)."""
    from packaging.version import InvalidVersion, Version

    from .. import __version__

    made = recipe.get("brushwork")
    if made is None:
        return
    try:
        newer = Version(str(made)) > Version(__version__)
    except InvalidVersion:
        raise BrushworkError(f"the recipe in '{path}' names brushwork version '{made}', which is not a version "
                             "(edited by hand?): it cannot be reproduced") from None
    if newer:
        raise BrushworkError(f"'{path}' was made by brushwork {made}, newer than this {__version__}: upgrade "
                             "(pip install -U brushwork) to reproduce it")


def _styles_repeated(recipe: dict) -> bool:
    styles = recipe.get("styles")
    shas = [s.get("sha256") for s in styles if isinstance(s, dict)] if isinstance(styles, list) else []
    return len(shas) != len(set(shas))


#: what a newer brushwork paints differently from the same recipe: (the version, whether a recipe is concerned, what)
_CHANGES = (("0.2.9", lambda r: bool(r.get("masks")), "brushwork 0.2.9 reads a mask holding only 0 and 1 as black "
                                                      "and white"),
            ("0.2.9", _styles_repeated, "brushwork 0.2.9 matches a style given twice as that style"),
            ("0.2.10", lambda r: (r.get("command") or [None])[0] == "video",
             "brushwork 0.2.10 reads an HDR video tone-mapped, one of non-square pixels at its shown shape and a video's "
             "alpha channel, and keeps an animation's own frame times in a GIF"),
            ("0.2.11", lambda r: r.get("operation") in ("compose crop", "compose overlay"),
             "brushwork 0.2.11 does not count a crop's edges on the picture's border as cutting the subject (the best "
             "crop may be another) and sizes crops in the picture's own pixels (the largest was 1-2 pixels short)"))


def changed_since(recipe: dict) -> list[str]:
    """The changes of :data:`_CHANGES` made after the recipe's version that concern it (why its rerun may differ)."""
    return [what for version, concerned, what in _CHANGES if _before(recipe, version) and concerned(recipe)]


_GATYS_SETTINGS = ("--steps", "--scales", "--optimizer", "--content-weight", "--style-weight", "--tv-weight")


def legacy_command(recipe: dict) -> list[str]:
    """The recipe's command as today's brushwork must run it to make what the brushwork that wrote it made:
    options it ignored then and refuses now left out, and defaults added since (which the command could not
    name) given their old values. Today's recipes come back as they are."""
    toks = [str(t) for t in recipe.get("command") or []]
    if not toks:
        return []
    out, skip = [], False
    gatys = toks[0] == "stylize" and recipe.get("method") == "gatys"
    adain = toks[0] == "stylize" and recipe.get("method") == "adain"
    for i, t in enumerate(toks):
        if skip:
            skip = False
            continue
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        # once ignored by Gatys, refused since 0.2.0: a --decoder without an AdaIN start, --match none beside one;
        # since 0.2.3: a --tile without an AdaIN start
        if gatys and ((t in ("--decoder", "--tile") and "init_decoder" not in recipe)
                      or (t == "--match" and nxt == "none" and "init_decoder" in recipe)):
            skip = not nxt.startswith("-")  # (its value: never an option or `--` after it, which would run)
            continue
        if adain and t in _GATYS_SETTINGS:  # once ignored by AdaIN, refused since 0.2.2
            skip = not nxt.startswith("-")
            continue
        out.append(t)
    at = out.index("--") if "--" in out else len(out)  # (options: before the names that follow a `--`)
    return out[:at] + _legacy_options(recipe) + out[at:]


def _legacy_options(recipe: dict) -> list[str]:
    """The options that rerun a recipe's command as the brushwork that wrote it ran it: defaults added since,
    which its command could not name (none for today's recipes)."""
    toks = [str(t) for t in recipe.get("command") or []]
    if not toks:
        return []
    extra = []
    marking = toks[0] in ("stylize", "video") or tuple(toks[:2]) in (("gan", "sample"), ("gan", "interpolate"))
    if marking and "watermark" not in recipe and "--no-watermark" not in toks:
        extra.append("--no-watermark")  # made before brushwork marked its outputs: rerun it unmarked
    adain = recipe.get("method") == "adain" and isinstance(recipe.get("adain"), dict)
    if "--match" not in toks and ((adain and "match" not in recipe["adain"])
                                  or (toks[0] == "video" and "match" not in recipe)):
        extra += ["--match", "none"]  # made before AdaIN's pictures were matched to the style: rerun it unmatched
    if "init_decoder" in recipe and "init_match" not in recipe and "--init-match" not in toks:
        extra += ["--init-match", "none"]  # made before the AdaIN start of --init adain was matched
    tiled = toks[0] == "video" or (toks[0] == "stylize" and (adain or "init_decoder" in recipe))
    if tiled and "--tile" not in toks and _before(recipe, "0.2.11"):
        extra += ["--tile", "1024"]  # made before the CPU's default tile became 512 px: rerun it in 1024 px tiles
    return extra


def _before(recipe: dict, version: str) -> bool:
    """Whether the recipe was written by a brushwork older than ``version`` (False when it names none readable)."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(str(recipe.get("brushwork"))) < Version(version)
    except InvalidVersion:
        return False


_SAME_FORMAT = {".jpeg": ".jpg", ".tiff": ".tif"}


class _ErrorsAside(io.TextIOBase):
    """Standard error for a rerun: the CLI's error lines (``brushwork: error: ...``, each one write) are kept
    aside, to be said once as ``reproduce``'s; everything else (progress bars, notes) goes on to ``out``, which
    it stands for (a terminal stays a terminal for tqdm)."""

    PREFIX = "brushwork: error: "

    def __init__(self, out) -> None:
        super().__init__()
        self.out, self.said = out, []

    def write(self, s: str) -> int:
        if s.startswith(self.PREFIX):
            self.said.append(s[len(self.PREFIX):].rstrip("\n"))
            return len(s)
        return self.out.write(s)

    def flush(self) -> None:
        self.out.flush()

    def isatty(self) -> bool:
        return self.out.isatty()

    def fileno(self) -> int:
        return self.out.fileno()

    @property
    def encoding(self):  # (as the stream it stands for)
        return getattr(self.out, "encoding", "utf-8")


def _keep_copy(made: Path, kept: Path) -> None:
    """The rerun's output copied to ``kept`` with its recipe file (a BMP's, a video's, a frames folder's), that
    first: a copy is never without its recipe, and a recipe file already there for another picture is replaced or
    removed (an old recipe must not pass for this picture); if the copy then fails, the recipe file is put back as
    it was. Each file, and a frames folder, goes under a temporary name first."""
    from ..files import write_atomically
    from .recipe import has_sidecar, sidecar_path

    def copy(src: Path, dst: Path) -> None:
        write_atomically(dst, lambda t: shutil.copytree(src, t) if src.is_dir() else shutil.copyfile(src, t))

    side = sidecar_path(kept)
    before = side.read_bytes() if has_sidecar(kept) else None
    if has_sidecar(made):
        copy(sidecar_path(made), side)
    elif before is not None:  # (checked to be a brushwork recipe before the rerun: check_sidecar_free)
        side.unlink()
    try:
        copy(made, kept)
    except BaseException:
        if before is not None:
            side.write_bytes(before)
        else:
            side.unlink(missing_ok=True)
        raise


def check_video_sidecar(path: Path) -> None:
    """A video keeps its recipe in ``NAME.EXT.json`` beside it: without that file, say so (a video is not an image
    brushwork could read a recipe from)."""
    from .recipe import has_sidecar, sidecar_path

    if path.suffix.lower() in _VIDEO_SUFFIXES and not path.is_dir() and not has_sidecar(path):
        raise BrushworkError(f"'{path}' has no recipe: a video's is the file {sidecar_path(path).name} beside it, "
                             "which is not there (moved away, or a video brushwork did not make)")


def _recorded_weights(recipe: dict) -> frozenset[str]:
    """The sha256 of the model weights a recipe names (a decoder's, an AdaIN start's, a GAN checkpoint's)."""
    found = [recipe.get("checkpoint_sha256")]
    for key in ("weights_sha256", "init_decoder"):
        if isinstance(recipe.get(key), dict):
            found.append(recipe[key].get("decoder"))
    return frozenset(h for h in found if isinstance(h, str))


def _recipe_file(path: Path, keep) -> tuple[Path, dict | None, bool]:
    """``(picture, recipe, alone)`` for a recipe file. ``NAME.EXT.json`` given for a picture: the picture (or frames
    folder) beside it when it is there (its recipe file is read as always: ``recipe`` None). Any other recipe file
    (``brushwork inspect --json``'s): the picture it names, compared with its rerun when that picture is beside the
    file; when it is not (``alone``), it is made again at ``keep``, which is then needed."""
    beside = path.with_name(path.name[:-5])
    if path.name.endswith(".json") and beside.name and beside.exists() and (
            beside.is_dir() or beside.suffix.lower() in _IMAGE_SUFFIXES + _VIDEO_SUFFIXES):
        return beside, None, False
    from .recipe import recipe_file

    recipe = recipe_file(path)
    if recipe is None:
        raise BrushworkError(f"'{path}' is not a brushwork recipe file: give the picture, or a recipe written beside "
                             "one or by `brushwork inspect --json`")
    if not isinstance(recipe.get("output_name"), str) or not Path(recipe["output_name"]).name:
        raise BrushworkError(f"the recipe in '{path}' names no output file (made through the Python API?): it cannot "
                             "be made again")
    name = Path(recipe["output_name"]).name
    if Path(name).suffix.lower() not in _IMAGE_SUFFIXES + _VIDEO_SUFFIXES:
        raise BrushworkError(f"'{path}' is the recipe of a frames folder ('{name}'): put the folder back beside it "
                             "and reproduce the folder")
    beside = path.with_name(name)
    if beside.is_file():  # (`inspect out.jpg --json > recipe.json`: out.jpg is there to compare, if it is this one's)
        try:
            own = read_recipe(beside)[0]
        except (OSError, BrushworkError):
            own = None
        if own == recipe:
            return beside, recipe, False
        if keep is None:  # (a recipe kept of an earlier version: out.jpg was made again since, otherwise)
            raise BrushworkError(f"'{path}' is the recipe of another picture than the '{name}' beside it (made again "
                                 "since, with other settings?): give -o FILE to make this recipe's picture again")
    elif keep is None:
        raise BrushworkError(f"'{path}' is a recipe without its picture ('{name}' is not beside it): give -o FILE to "
                             "make the picture again from the recipe alone")
    return beside, recipe, True


def _check_keep(keep: Path, image: Path, inputs: list, suffix: str) -> None:
    """The rerun's copy may not replace the image being checked or one of its inputs, and must keep its format."""
    target = keep.resolve()
    if target == image.resolve() and image.exists():  # (a picture made again from its recipe alone may go back)
        raise BrushworkError(f"output '{keep}' is the image being reproduced: writing it would replace it; choose "
                             "another name")
    for f in (f for f in inputs if f is not None):  # (None: an input the rerun does not read)
        if Path(f).resolve() == target:
            raise BrushworkError(f"output '{keep}' is one of the recipe's inputs: writing it would replace it; choose "
                                 "another name")
    if image.is_dir() and keep.exists():  # (merged into a folder, its frames and the recipe would disagree)
        raise BrushworkError(f"output '{keep}' already exists: give a new folder name for the rerun's frames")
    if not image.is_dir():
        want, got = suffix.lower(), keep.suffix.lower()
        if _SAME_FORMAT.get(got, got) != _SAME_FORMAT.get(want, want):
            raise BrushworkError(f"output '{keep}' ends in '{got}', but the rerun writes {want or 'no extension'} (its "
                                 f"format): name it with {want}")
    from .recipe import check_sidecar_free

    check_sidecar_free(keep)  # (the copy's recipe file is written or removed there: never the user's own file)


def reproduce(image: str | os.PathLike, inputs: list[str | os.PathLike] | None = None,
              keep: str | os.PathLike | None = None) -> Reproduction:
    """Re-run the recipe of ``image`` and compare; ``keep`` copies the new output there.

    Raises:
        BrushworkError: no recipe, inputs missing, or the command fails.
    """
    from .recipe import has_sidecar, sidecar_path

    path = Path(image)
    given, alone = None, False  # a recipe file's recipe; alone: without its picture (made again, nothing to compare)
    if path.suffix.lower() == ".json" and path.is_file():
        path, given, alone = _recipe_file(path, keep)
    recipe_at = Path(image) if given is not None else path  # (a recipe file's faults are its own, not its picture's)
    if path.is_dir() and not has_sidecar(path):
        raise BrushworkError(f"'{path}' is a folder without a recipe beside it ({sidecar_path(path).name}): give an "
                             "image, a video, or a frames folder written by `brushwork video`")
    if not path.exists() and not alone:
        raise BrushworkError(f"'{path}' does not exist: check the path")
    if not path.is_dir() and path.suffix.lower() not in _IMAGE_SUFFIXES + _VIDEO_SUFFIXES:
        raise BrushworkError(f"'{path}' is not an image brushwork can compare: give a PNG, JPEG, WebP, TIFF, BMP or "
                             "GIF, a video (MP4, MOV, MKV, AVI, WebM) or a frames folder")
    if given is None:
        check_video_sidecar(path)
    try:
        recipe, _ = (given, "") if given is not None else read_recipe(path)
    except OSError:
        raise BrushworkError(f"'{path}' is not an image brushwork can read") from None
    if recipe is None:
        raise BrushworkError(f"'{path}' carries no brushwork recipe (written with --no-metadata, or by another "
                             "program; a NAME.EXT.json sidecar beside it is read too)")
    _check_version(recipe, recipe_at)
    if recipe.get("interrupted"):
        raise BrushworkError(f"'{path}' is the best picture so far of a run stopped early ({recipe.get('evaluations')} "
                             "evaluations): its command would run to the end and make another picture, so it is not "
                             "rerun")
    ins = recipe.get("inputs", [])
    if not isinstance(ins, list) or not all(isinstance(e, dict) and isinstance(e.get("sha256"), str) for e in ins):
        raise BrushworkError(f"the recipe in '{recipe_at}' has a malformed 'inputs' list (edited by hand?): it cannot "
                             "be reproduced")
    cmd = recipe.get("command")
    if not isinstance(cmd, list) or not cmd:
        raise BrushworkError(f"the recipe in '{recipe_at}' has no command (made through the Python API, a `suggest` "
                             "preview, or the studio's GAN or composition panel): only images made by a brushwork "
                             "command that writes them can be reproduced")
    run = _without_checks(legacy_command(recipe))  # (what runs is checked: it drops old options, with their values)
    _check_command(cmd, recipe_at)
    _check_command(run, recipe_at)
    refs = [int(t[7:-1]) for t in map(str, run) if _INPUT_REF.fullmatch(t)]
    if any(r >= len(ins) for r in refs) or any(str(t).startswith("{input:") and not _INPUT_REF.fullmatch(str(t))
                                               for t in run):
        raise BrushworkError(f"the recipe in '{recipe_at}' names inputs its 'inputs' list lacks (edited by hand?): it "
                             "cannot be reproduced")
    if keep is not None and not path.is_dir() and Path(keep).is_dir():  # checked before minutes of rerunning
        raise BrushworkError(f"output '{keep}' is a folder: give a file name for the rerun's picture")
    rel = str(recipe.get("output", ""))
    if rel and (Path(rel).is_absolute() or ".." in Path(rel).parts):
        raise BrushworkError(f"the recipe in '{path}' names an output outside its folder ('{rel}'): not run")
    search = [Path(p) for p in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs or [])]
    for s in search:
        if not s.is_dir():
            raise BrushworkError(f"--inputs '{s}' is not a folder")
    made_in = Path(os.path.abspath(path)).parents[:3]  # its folder and the two above it
    # (an input only a dropped check read, such as an originality index, is not looked for)
    found = [find_input(e, search, made_in) if i in refs else None for i, e in enumerate(recipe.get("inputs", []))]
    if keep is not None:
        _check_keep(Path(keep), path, found, Path(str(recipe.get("output_name", path.name))).suffix)
    env = recipe.get("environment", {})
    if not isinstance(env, dict) or ("threads" in env and not (isinstance(env["threads"], int)
                                                               and not isinstance(env["threads"], bool)
                                                               and 1 <= env["threads"] <= 4096)):
        raise BrushworkError(f"the recipe in '{path}' has a malformed 'environment' (edited by hand?): it cannot be "
                             "reproduced")
    with tempfile.TemporaryDirectory(prefix="brushwork-reproduce-") as tmp_s:
        tmp = Path(tmp_s)
        out_file = tmp / "out" / Path(str(recipe.get("output_name", path.name))).name
        out_dir = tmp / "out_dir"
        argv: list[str] = []
        for i, tok in enumerate(run):
            tok = str(tok)
            if _INPUT_REF.fullmatch(tok):  # (a file found as '-o' in the working folder: './-o', no option)
                f = str(found[int(tok[7:-1])])
                argv.append(f"./{f}" if f.startswith("-") else f)
            elif tok == "{output}":
                out_file.parent.mkdir(exist_ok=True)
                if path.is_dir():  # a frames folder (whatever its name, 'shot.v2' too): written into a folder
                    out_file.mkdir(exist_ok=True)
                argv.append(str(out_file))
            elif tok == "{output_dir}":
                argv.append(str(out_dir))
                out_file = out_dir / (rel or path.name)  # (checked above: a relative path inside its folder)
            elif tok.startswith("{scratch:") and tok.endswith("}"):
                argv.append(str(tmp / f"scratch{i}{tok[9:-1]}"))
            elif (kind := _folder_kind(run, i)) is not None:  # (a GAN run, a frames folder: found as inputs are)
                argv.append(model_folder(tok, search, made_in, kind, _recorded_weights(recipe)))
            else:
                argv.append(tok)
        import contextlib

        from ..cli import main
        from .gallery import not_recorded

        threads = None
        if "threads" in env:  # (torch only where the recipe used it: a palette's rerun without it writes its bytes)
            import torch

            threads = torch.get_num_threads()
        aside = _ErrorsAside(sys.stderr)
        try:
            if threads is not None:
                torch.set_num_threads(int(env["threads"]))
            # A check, not a new picture: kept out of the gallery; the rerun's own "wrote ..." lines are noise, and
            # its error is said here, as reproduce's (its progress bar and notes go on to the terminal)
            with not_recorded(), contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(aside):
                rc = main(argv)
            now = environment()  # (the rerun's, its threads too: they were compared after being set back)
        finally:
            if threads is not None:
                torch.set_num_threads(threads)  # the caller (e.g. the studio's server) keeps its own setting
        if rc == 130:  # Ctrl-C during the rerun (it said "interrupted", of a picture in a folder now gone)
            raise KeyboardInterrupt
        if rc != 0 or not out_file.exists():
            why = aside.said[-1] if aside.said else (f"exit code {rc}" if rc != 0 else
                                                       "it wrote no output where reproduce looks for it")
            moved = any(w in why for w in ("not found", "does not exist", "no such file", "No such file"))
            raise BrushworkError(f"running the recipe of '{path}' again failed: {why}" + (
                " (it may have moved since: pass --inputs DIR where it is now)" if moved else
                " (the recipe's own command: it cannot be changed here)"))
        diffs = [f"{k} {env.get(k)} here {now.get(k)}" for k in _ENV_KEYS
                 if k in env and k in now and env.get(k) != now.get(k)]
        new_recipe = read_recipe(out_file)[0] or {}
        made_on, now_on = recipe.get("device"), new_recipe.get("device")
        if isinstance(made_on, str) and isinstance(now_on, str) and made_on.split(":")[0] != now_on.split(":")[0]:
            diffs.append(f"device {made_on} here {now_on}")  # (--device auto: a GPU here, the CPU there)
        for key in ("weights_sha256", "checkpoint_sha256", "init_decoder"):  # models are not inputs: say if they changed
            if key in recipe and recipe[key] != new_recipe.get(key):
                diffs.append(f"the model weights differ ({key})")
        if alone:  # nothing to compare with: the new picture is the result
            kept = Path(keep)
            _keep_copy(out_file, kept)
            return Reproduction(identical=False, max_difference=0, differing_pixels=0,
                                pixels=sum(f.shape[0] * f.shape[1] for f in _frames(out_file)), same_bytes=False,
                                environment_differences=diffs, kept=kept, compared=False)
        most, differing, pixels, shape_a, shape_b = _compare(path, out_file)
        if most or shape_a != shape_b:  # (another size too: 0.2.11's crops are a pixel larger than 0.2.10's)
            diffs += changed_since(recipe)
        if shape_a != shape_b:
            raise BrushworkError(f"the rerun made {shape_b[0]} frame(s) of {shape_b[2]}x{shape_b[1]}, not {shape_a[0]} of "
                                 f"{shape_a[2]}x{shape_a[1]}" + (f" ({'; '.join(diffs)})" if diffs else ""))
        made_as, is_as = (_SAME_FORMAT.get(x, x) for x in (out_file.suffix.lower(), path.suffix.lower()))
        converted = (f"the recipe wrote {made_as[1:].upper() or 'no extension'}, this picture is {is_as[1:].upper()}: "
                     "converted since?") if most and not path.is_dir() and made_as != is_as else None
        kept = None
        if keep is not None:
            kept = Path(keep)
            _keep_copy(out_file, kept)
        return Reproduction(identical=most == 0, converted=converted, max_difference=most, differing_pixels=differing,
                            pixels=pixels, same_bytes=_digest(path) == _digest(out_file), environment_differences=diffs,
                            kept=kept, compared_with=path if path != Path(image) else None)
