"""Stylize every image in a folder: streaming, resumable, corrupt files skipped and counted, and split
over processes when launched by torchrun (``torchrun --nproc-per-node N -m brushwork stylize DIR ...``:
each process takes the files whose path hashes to its rank; no process group is needed)."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BrushworkError, ImageError
from ..files import NAME_MAX, is_file, name_bytes, write_atomically

__all__ = ["BatchReport", "stylize_folder", "palette_folder"]


@dataclass
class BatchReport:
    """What a folder run did: outputs written, outputs already there, inputs that failed."""

    written: list[Path] = field(default_factory=list)
    skipped_existing: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    redone: list[Path] = field(default_factory=list)  # existed, but made with other settings
    shard: tuple[int, int] = (0, 1)  # (this process's rank, processes)
    failed_label: str = "skipped (unreadable, too small or large, nothing visible to stylize, or a name too long)"

    def summary(self) -> str:
        parts = [f"{len(self.written)} written", f"{len(self.skipped_existing)} already done"]
        if self.redone:
            parts.append(f"{len(self.redone)} of them redone (made with other settings)")
        if self.shard[1] > 1:
            parts[0] = f"process {self.shard[0] + 1} of {self.shard[1]}: {parts[0]}"
        if self.failed:
            parts.append(f"{len(self.failed)} {self.failed_label}")
        return ", ".join(parts)


def stylize_folder(
    content_dir: str | os.PathLike,
    styles: str | os.PathLike | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    each_style: bool = False,
    suffix: str = ".png",
    progress: bool = True,
    redo: bool = False,
    stylize_fn: Callable[..., Any] | None = None,
    save: Callable[[Any, Path, Path, list], None] | None = None,
    output_settings: dict[str, Any] | None = None,
    **kwargs: Any,
) -> BatchReport:
    """Stylize each image in ``content_dir`` (recursively) into ``out_dir``.

    ``styles``: one style file or a list of them. Outputs keep the input's relative path with ``suffix``; with
    ``each_style`` one output per
    style, named ``<name>__<style name>``, else the styles are blended as in :func:`stylize`.
    Outputs are written atomically, so one that exists is finished: a re-run skips it when its recipe
    says it was made with the same settings (``batch_settings``: a hash of the options and the style
    files' contents) and from the same photo, or has no recipe. Outputs made otherwise are replaced
    only with ``redo``; without it the run stops before any work, naming them (they may be hours of
    work with other settings). Files are listed, not loaded: one
    image is in memory at a time. A file that is not a readable image is skipped and reported; every
    other error stops the run. ``save`` (``save(result, target, source, styles)``) writes each result
    instead of ``result.save(target)``; ``result.params["batch_settings"]`` is set before it is called.
    ``output_settings`` (how ``save`` writes: metadata, sidecar, watermark) count as settings too.
    The output folder gets a ``.brushwork-output`` marker, so a later run over a folder that holds it
    does not read its pictures as input.
    """
    from .stylize import stylize

    if isinstance(styles, (str, os.PathLike)):  # one style (a path is a sequence of its letters)
        styles = [styles]
    fn = stylize_fn or stylize
    src, files, out = _folder_run(content_dir, out_dir, "with a CONTENT folder, -o names a folder")
    from .. import distributed

    world = distributed.info()
    if world.distributed and str(kwargs.get("device", "auto")) in ("auto", "cuda"):
        from ..runtime import resolve_device

        # under torchrun: each process on its own GPU
        kwargs["device"] = str(distributed.device_for(resolve_device(kwargs.get("device", "auto"))))
    if each_style:
        for option, flag in (("masks", "--mask"), ("style_weights", "--style-weights")):
            if kwargs.get(option) is not None:
                raise BrushworkError(f"{flag} blends several styles in one picture, --each-style makes one picture "
                                     f"per style: use one of the two")
        seen: dict[Path, str | os.PathLike] = {}
        for st in styles:  # a style given twice, however spelled, is one style (one output)
            seen.setdefault(Path(st).resolve(), st)
        styles = list(seen.values())
    tags = _style_tags(styles)
    jobs: list[tuple[Path, list, Path]] = []
    for f in files:
        rel = f.relative_to(src).with_suffix("")
        if each_style:
            for s, tag in zip(styles, tags):
                jobs.append((f, [s], out / rel.parent / f"{rel.name}__{tag}{suffix}"))
        else:
            jobs.append((f, list(styles), out / rel.parent / f"{rel.name}{suffix}"))
    from ..provenance.recipe import file_sha256, read_recipe

    _check_collisions([(f, t) for f, _, t in jobs])
    _check_not_inputs([t for _, _, t in jobs],
                      [*files, *styles, *(m for m in kwargs.get("masks") or () if isinstance(m, (str, os.PathLike)))])
    with _output_folder(out):
        from .adain import default_match

        # stylize()'s default match named in the key: outputs made before it (keys without it) are not "done"
        kwargs["match"] = default_match(kwargs.get("method", "gatys"), kwargs.get("match"))
        if "init_match" in kwargs:  # checked before any output counts as done (a finished folder would not call stylize)
            from .stylize import check_init_match

            check_init_match(kwargs.get("method", "gatys"), kwargs.get("init", "content"), kwargs["init_match"])
        adain_start = (kwargs.get("init") == "adain" and kwargs.get("method", "gatys") == "gatys"
                       and kwargs.get("strength", 0.5) != 0)  # (stylize's default strength)
        if adain_start:
            kwargs["init_match"] = kwargs.get("init_match") or "full"  # named (older runs had an unmatched start)
        options = {k: v for k, v in kwargs.items() if k != "device"}
        if options.get("tile") == "auto":  # the default tile keyed as the 1024 it was: its pictures (512 px tiles on a
            options["tile"] = 1024  # CPU since 0.2.11) are within a few levels of those, and a folder is not redone
        if not adain_start:
            options.pop("init_match", None)  # no AdaIN start is made: the option changes nothing, keys stay as they were
        written = output_settings or {}

        sha = functools.lru_cache(maxsize=None)(file_sha256)  # a file once, whatever its styles and outputs

        def keys(opts: dict, sty: list) -> tuple[str, tuple[str, dict], tuple[str, ...]]:
            """The settings key of ``opts`` for an output of styles ``sty``; accepted where the file shows the
            same output settings, the key of runs made before output settings counted; and the keys that also
            count as these settings (with ``each_style``: the whole style list's, as brushwork 0.2.2 and before
            keyed each output)."""
            own = sty if each_style else styles  # one style's output depends on that style only
            older = (_settings_key(styles, each_style, suffix, {**opts, **written}, sha),) if each_style else ()
            return (_settings_key(own, each_style, suffix, {**opts, **written}, sha),
                    (_settings_key(styles, each_style, suffix, opts, sha), written), older)

        files_now = _files_now(kwargs, sha)

        def state_of(t: Path, f: Path, sty: list, opts: dict) -> str:
            settings, legacy, older = keys(opts, sty)
            state = _output_state(t, settings, read_recipe, f, sha, legacy, also=older)
            return "other" if state == "done" and _files_changed(t, files_now, read_recipe) else state

        # an output name longer than a file system takes (with --each-style, NAME__STYLE.png; with --sidecar, its
        # NAME.png.json too): that photo is skipped with a note, not the whole run stopped
        room = NAME_MAX - (len(".json") if written.get("sidecar") else 0)
        too_long = {t for _, _, t in jobs if name_bytes(t.name) > room}
        # Every process looks at every output (not only its shard), so all of them stop, or none does.
        state = {t: state_of(t, f, sty, options) for f, sty, t in jobs if t not in too_long and t.exists()}
        other = sorted(t for t, s in state.items() if s == "other")
        if other and not redo:
            # made without a match (before it existed)? say so
            for option, flag, what in (("match", "--match", "the decoder's picture as it is, as brushwork made them "
                                        "before it matched the style's colours and detail"),
                                       ("init_match", "--init-match", "an AdaIN start left as the decoder painted it, "
                                        "as brushwork made them before it matched the start to the style")):
                if kwargs.get(option, "none") == "none":
                    continue
                if all(state_of(t, f, sty, {**options, option: "none"}) == "done"
                       for f, sty, t in jobs if t in other):
                    raise BrushworkError(
                        f"{len(other)} output(s) in '{out}' were made with {flag} none ({what}; e.g. '{other[0]}'): "
                        f"pass {flag} none to keep them and make the rest the same way, or --redo to make them all "
                        "again")
            raise BrushworkError(f"{len(other)} output(s) in '{out}' were made with other settings (or another version "
                                 f"of their photo, a mask or a decoder) (e.g. '{other[0]}'): pass --redo to replace them, "
                                 "or choose another -o folder")
        jobs = distributed.shard_list(jobs, key=lambda j: j[2].relative_to(out).as_posix())  # this rank's outputs
        report = BatchReport(shard=(world.rank, world.world_size))

        def made_meanwhile(f: Path, sty: list, target: Path) -> bool:
            """Whether another run into the same folder wrote ``target`` since this one looked (without ``redo``):
            True when it holds these settings' picture (kept); one of other settings stops this run, as it
            would have had it been there at the start."""
            if redo or target in state or not target.exists():
                return False
            now = state_of(target, f, sty, options)
            if now == "other":  # ("unknown", no recipe: as a run with --no-metadata writes them, kept as at the start)
                raise BrushworkError(f"'{target}' was written by another run while this one worked, with other "
                                     "settings: pass --redo to replace it, or choose another -o folder")
            return now in ("done", "unknown")

        with _progress(len(jobs), "stylize", progress and world.rank == 0) as bar:
            bad: set[Path] = set()
            for f, sty, target in jobs:
                if f in bad:
                    pass  # already reported once
                elif target in too_long:
                    report.failed.append((f, f"'{f}': its output's name '{target.name[:40]}...' would pass the "
                                             f"{NAME_MAX} bytes a file name may take: rename the photo"
                                             + (" or the style" if each_style else "")))
                elif (state.get(target) == "done" or (state.get(target) == "unknown" and not redo)
                      or made_meanwhile(f, sty, target)):
                    report.skipped_existing.append(target)
                else:
                    existed = target.exists()
                    try:
                        result = fn(f, sty, progress=False, **kwargs)
                    except ImageError as exc:
                        if f"'{f}'" not in str(exc):
                            raise  # a style or mask problem concerns every file: stop
                        report.failed.append((f, str(exc)))
                        bad.add(f)
                    else:
                        if getattr(result, "interrupted", False):  # Ctrl-C in an optimisation: its picture is
                            raise KeyboardInterrupt  # unfinished, so not written (a rerun makes it and goes on)
                        if made_meanwhile(f, sty, target):  # (while this one painted it)
                            report.skipped_existing.append(target)
                            bar.update(1)
                            continue
                        target.parent.mkdir(parents=True, exist_ok=True)
                        result.params["batch_settings"] = keys(options, sty)[0]
                        if save is None:
                            result.save(target)
                        else:  # the caller writes it (the CLI: with the one-file command in the recipe)
                            save(result, target, f, sty)
                        report.written.append(target)
                        if existed:
                            report.redone.append(target)
                bar.update(1)
        return report


def _style_tags(styles: Sequence[str | os.PathLike]) -> list[str]:
    """Each style's part of ``NAME__TAG``: its file name, numbered within a group of equal names
    (``a/art.jpg``, ``b/art.jpg``: ``art-1``, ``art-2``), never equal to another style's tag."""
    stems = [Path(s).stem for s in styles]
    tags: list[str] = []
    for i, st in enumerate(stems):
        n = stems[:i].count(st) + 1
        tag = f"{st}-{n}" if stems.count(st) > 1 else st
        while tag in tags or (tag != st and tag in stems):  # (a style really named art-2)
            n += 1
            tag = f"{st}-{n}"
        tags.append(tag)
    return tags


def _progress(total: int, desc: str, show: bool):
    """A progress bar for a folder run (a silent one when not shown); use it as a context manager."""
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="img", desc=desc, disable=None if show else True)


def _check_collisions(pairs: list[tuple[Path, Path]]) -> None:
    """Refuse, before any work, sources whose outputs would land on one file (``a.jpg`` and ``a.png``),
    counting every such clash, not only the first."""
    seen: dict[Path, Path] = {}
    clashes: list[tuple[Path, Path, Path]] = []
    for f, t in pairs:
        if t in seen and seen[t] != f:
            clashes.append((seen[t], f, t))
        seen.setdefault(t, f)
    if clashes:
        a, b, t = clashes[0]
        pairs_n = len({(x, y) for x, y, _ in clashes})
        more = f" (and {pairs_n - 1} more such pair(s))" if pairs_n > 1 else ""
        raise BrushworkError(f"'{a}' and '{b}' would both be written to '{t}'{more}: rename one of each pair")


def _check_not_inputs(targets: list[Path], inputs: list) -> None:
    """Refuse, before any work, an output that would replace one of the run's inputs (a style image kept in the
    output folder): it would be lost."""
    given = {Path(p).resolve(): p for p in inputs}
    for t in targets:
        if t.resolve() in given:
            raise BrushworkError(f"output '{t}' would replace the input '{given[t.resolve()]}': choose another -o "
                                 "folder, or move that input out of it")


OUTPUT_MARKER = ".brushwork-output"  # in every folder run's output folder: never read as input


@contextlib.contextmanager
def _output_folder(out: Path) -> Iterator[None]:
    """Make the output folder (with its marker) for the block; if the block writes nothing into a folder it
    made (a bad option found at the first file, every photo unreadable), remove it again: no empty folder is
    left. (Under torchrun another process may still write there: the folder stays.)"""
    from .. import distributed

    created = not out.exists()
    _make_output_folder(out)

    def tidy() -> None:
        if created and not distributed.info().distributed:
            with contextlib.suppress(OSError):
                if [p.name for p in out.iterdir()] == [OUTPUT_MARKER]:
                    (out / OUTPUT_MARKER).unlink()
                    out.rmdir()

    try:
        yield
    except BaseException:
        tidy()
        raise
    tidy()


def _make_output_folder(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    marker = out / OUTPUT_MARKER
    if not marker.exists():
        try:
            marker.touch()
        except OSError:  # a folder we may write pictures to but not this file: only the marker is missing
            pass


def _folder_run(src_dir, out_dir, out_hint: str) -> tuple[Path, list[Path], Path]:
    """The images under ``src_dir`` (checked: some exist; output folders inside it, this run's and earlier
    runs', are left out) and the output folder (checked: not a file)."""
    from ..datasets import list_images

    src = Path(src_dir)
    files = list_images(src)
    top = src.resolve()
    # this run's -o, and earlier runs' output folders below src (src itself may be one: `palette styled/`)
    out = Path(out_dir)
    if top.is_relative_to(out.resolve()) and out.resolve() != top:  # its marker would hide the photos from later
        raise BrushworkError(f"output folder '{out}' holds the photos' folder '{src}': choose a folder outside it, or "
                             f"one inside the photos' folder (e.g. '{src / 'styled'}')")  # runs over the folder above
    from ..datasets.fetch import _files

    # (found as the pictures are, through symlinked folders too: an earlier output there was restyled as a photo)
    outputs = {out.resolve(), *(m.parent.resolve() for m in _files(src) if m.name == OUTPUT_MARKER)} - {top}
    files = [f for f in files if not any(p in outputs for p in f.resolve().parents)]  # `-o photos/styled`
    if not files:
        raise BrushworkError(f"folder '{src}' holds no images (.png, .jpg, .webp, ...): check the path")
    if out.exists() and not out.is_dir():
        raise BrushworkError(f"'{out}' is a file: {out_hint}")
    if out.resolve() == top:  # its marker would hide the pictures from later runs; outputs could replace them
        raise BrushworkError(f"output folder '{out}' is the input folder itself: choose another folder (a subfolder "
                             f"such as '{src / 'styled'}' works)")
    from ..imaging.io import WRITABLE_SUFFIXES

    if not out.exists() and (out.suffix.lower() in WRITABLE_SUFFIXES or out.suffix.lower() == ".json"):
        raise BrushworkError(f"'{out}' looks like a file name: {out_hint}")
    return src, files, out


#: options added after folder runs existed, left out of the settings key at these defaults: the outputs
#: of a run made before them still count as done (their key did not have them either)
# (AdaIN's pictures, and the AdaIN start of --init adain, were not matched before; a run asking for it remakes them)
_LATER_OPTIONS = {"transform": "adain", "no_metadata": False, "sidecar": False, "watermark": True,
                  "match": "none", "init_match": "none"}


def _settings_key(styles, each_style: bool, suffix: str, kwargs: dict, file_sha256) -> str:
    """A hash of what decides every output of a folder run (not which file it is)."""
    import hashlib
    import json

    style_ids = [file_sha256(s) if Path(s).is_file() else str(s) for s in styles]
    options = {k: v for k, v in sorted(kwargs.items())
               if k != "progress" and not (k in _LATER_OPTIONS and v == _LATER_OPTIONS[k])}
    blob = json.dumps({"styles": style_ids, "each_style": each_style, "suffix": suffix, "options": options},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _files_now(kwargs: dict, file_sha256) -> dict:
    """The sha256 of the files a folder run's options name (masks, a decoder, encoder weights) as they are now:
    the settings key names them by path, so a file changed in place (a retrained decoder, an edited mask) is
    found by comparing these with what each output's recipe records."""
    now: dict = {}
    masks = kwargs.get("masks") or ()
    if masks and all(m is None or isinstance(m, (str, os.PathLike)) for m in masks):  # ('-': None, everywhere)
        now["masks"] = [file_sha256(m) if m is not None and Path(m).is_file() else None for m in masks]
    dec = kwargs.get("decoder")
    if isinstance(dec, (str, os.PathLike)):
        from ..weights import decoder_file

        file = decoder_file(dec)
        if file.is_file():
            now["decoder"] = file_sha256(file)
    w = kwargs.get("weights")
    if isinstance(w, (str, os.PathLike)) and Path(w).is_file():
        now["encoder"] = file_sha256(w)
    return now


def _files_changed(target: Path, now: dict, read_recipe) -> bool:
    """Whether ``target``'s recipe records other contents for the files of ``now`` (see :func:`_files_now`)."""
    if not now:
        return False
    try:
        recipe, _ = read_recipe(target)
    except OSError:
        return False
    recipe = recipe or {}
    masks = [m.get("sha256") if isinstance(m, dict) else None for m in recipe.get("masks") or ()]
    if "masks" in now and len(masks) == len(now["masks"]) and any(
            a is not None and b is not None and a != b for a, b in zip(masks, now["masks"])):
        return True
    made = recipe.get("weights_sha256") if isinstance(recipe.get("weights_sha256"), dict) else {}
    return any(k in now and made.get(k) and made[k] != now[k] for k in ("decoder", "encoder"))


def _output_state(target: Path, settings: str, read_recipe, source: Path, file_sha256,
                  legacy: tuple[str, dict] | None = None, also: tuple[str, ...] = ()) -> str:
    """``"done"``, ``"unreadable"`` (make it again: nothing to lose; also an unfinished picture, stopped by
    Ctrl-C), ``"unknown"`` (no recipe to compare: kept unless ``redo``) or ``"other"`` (its recipe names other
    settings or another version of its source image, the content's sha256 it records). ``also``: settings keys
    that count as ``settings``."""
    try:
        recipe, _ = read_recipe(target)
    except OSError:
        return "unreadable"
    if recipe is None:
        return "unknown"  # written with --no-metadata: nothing to compare, so it stands (but --redo redoes it)
    if recipe.get("interrupted"):  # (brushwork 0.2.2 and before wrote it in folder runs too)
        return "unreadable"
    content = recipe.get("content") if isinstance(recipe.get("content"), dict) else {}
    if content.get("sha256") and content["sha256"] != file_sha256(source):
        return "other"
    made = recipe.get("batch_settings", settings)
    if made == settings or made in also:
        return "done"
    if legacy is not None and made == legacy[0]:  # before the way files are written was part of the key
        flags = legacy[1]
        same = (("watermark" in recipe) == flags.get("watermark", True) and not flags.get("no_metadata", False)
                and is_file(target.with_name(target.name + ".json")) == flags.get("sidecar", False))
        return "done" if same else "other"
    return "other"


def palette_folder(
    src_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    k: int = 6,
    seed: int = 0,
    saliency: bool = False,
    max_side: int = 512,
    progress: bool = True,
) -> BatchReport:
    """The palette of every image under ``src_dir`` as ``out_dir/<relative path>.json`` (what
    ``brushwork palette IMAGE --json`` prints, plus the settings).

    Streaming (one image in memory at a time), resumable (a JSON whose settings match is kept; each is
    written atomically), unreadable images skipped and reported, and split over torchrun's processes.
    """
    import json

    from .. import distributed
    from ..color.palette import extract_palette
    from ..imaging.io import read_image
    from ..provenance.recipe import file_sha256

    src, files, out = _folder_run(src_dir, out_dir, "with an IMAGE folder, --out names a folder")
    with _output_folder(out):
        # "alpha": translucent pixels count as their own colours (before: as they look over white)
        base_settings = {"k": k, "seed": seed, "saliency": saliency, "max_side": max_side, "alpha": "own"}
        world = distributed.info()
        files = distributed.shard_list(files, key=lambda f: f.relative_to(src).as_posix())  # this rank's files
        report = BatchReport(shard=(world.rank, world.world_size), failed_label="failed and skipped (see the notes)")
        with _progress(len(files), "palette", progress and world.rank == 0) as bar:
            for f in files:
                target = out / f"{f.relative_to(src).as_posix()}.json"
                if name_bytes(target.name) > NAME_MAX:  # (the run went no further: a rerun stopped there again)
                    report.failed.append((f, f"'{f}': its palette's name '{target.name[:40]}...' would pass the "
                                             f"{NAME_MAX} bytes a file name may take: rename the image"))
                    bar.update(1)
                    continue
                settings = {**base_settings, "source_sha256": file_sha256(f)}  # an edited image is done again
                done = None
                if target.is_file():
                    try:
                        done = json.loads(target.read_text()).get("settings")
                    except (OSError, ValueError, AttributeError):
                        done = None
                if done == settings:
                    report.skipped_existing.append(target)
                else:
                    existed = target.exists()
                    try:
                        img = read_image(f, draft=max_side, keep_colors=True, min_side=1)
                        # a flat graphic with fewer colours than k gets them all, not a skip
                        pal = extract_palette(img.rgb, img.alpha, k=k, seed=seed, saliency=saliency, at_most=True)
                    except BrushworkError as exc:
                        msg = str(exc)
                        report.failed.append((f, msg if str(f) in msg else f"'{f}': {msg}"))
                    else:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        text = json.dumps({"image": f.relative_to(src).as_posix(), "settings": settings,
                                           **pal.to_dict()}, indent=1)
                        write_atomically(target, lambda t: t.write_text(text))  # (Ctrl-C: no half-written file)
                        report.written.append(target)
                        if existed:
                            report.redone.append(target)
                bar.update(1)
        return report
