"""Stylize every image in a folder: resumable, corrupt files skipped and counted."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BrushworkError, ImageError

__all__ = ["BatchReport", "stylize_folder"]


@dataclass
class BatchReport:
    """What a folder run did: outputs written, outputs already there, inputs that failed."""

    written: list[Path] = field(default_factory=list)
    skipped_existing: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{len(self.written)} written", f"{len(self.skipped_existing)} already done"]
        if self.failed:
            parts.append(f"{len(self.failed)} unreadable and skipped")
        return ", ".join(parts)


def stylize_folder(
    content_dir: str | os.PathLike,
    styles: Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    each_style: bool = False,
    suffix: str = ".png",
    progress: bool = True,
    stylize_fn: Callable[..., Any] | None = None,
    save: Callable[[Any, Path, Path, list], None] | None = None,
    **kwargs: Any,
) -> BatchReport:
    """Stylize each image in ``content_dir`` (recursively) into ``out_dir``.

    Outputs keep the input's relative path with ``suffix``; with ``each_style`` one output per
    style, named ``<name>__<style name>``, else the styles are blended as in :func:`stylize`.
    Outputs are written atomically, so one that exists is finished: a re-run skips it. A file that
    is not a readable image is skipped and reported; every other error stops the run. ``save``
    (``save(result, target, source, styles)``) writes each result instead of ``result.save(target)``.
    """
    from ..datasets import list_images
    from .stylize import stylize

    fn = stylize_fn or stylize
    src = Path(content_dir)
    files = list_images(src)
    if not files:
        raise BrushworkError(f"folder '{src}' holds no images (.png, .jpg, .webp, ...): check the path")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise BrushworkError(f"output '{out}' is a file: with a CONTENT folder, -o names a folder")
    out.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[Path, list, Path]] = []
    for f in files:
        rel = f.relative_to(src).with_suffix("")
        if each_style:
            for s in styles:
                jobs.append((f, [s], out / rel.parent / f"{rel.name}__{Path(s).stem}{suffix}"))
        else:
            jobs.append((f, list(styles), out / rel.parent / f"{rel.name}{suffix}"))
    report = BatchReport()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), unit="img", desc="stylize", disable=None)
    try:
        bad: set[Path] = set()
        for f, sty, target in jobs:
            if f in bad:
                pass  # already reported once
            elif target.exists():
                report.skipped_existing.append(target)
            else:
                try:
                    result = fn(f, sty, progress=False, **kwargs)
                except ImageError as exc:
                    if f"'{f}'" not in str(exc):
                        raise  # a style or mask problem concerns every file: stop
                    report.failed.append((f, str(exc)))
                    bad.add(f)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if save is None:
                        result.save(target)
                    else:  # the caller writes it (the CLI: with the one-file command in the recipe)
                        save(result, target, f, sty)
                    report.written.append(target)
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return report
