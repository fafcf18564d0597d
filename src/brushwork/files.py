"""File names: what a file system takes, and where a file is written before it is renamed into place."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path

#: the longest file name (in bytes) that common file systems take (ext4, APFS, NTFS's 255 UTF-16 units)
NAME_MAX = 255


def name_bytes(name: str) -> int:
    return len(name.encode("utf-8", "surrogateescape"))


def partial_path(target: Path, suffix: str = ".part") -> Path:
    """Where ``target`` is written before it is renamed into place: ``.NAME{suffix}`` beside it, or, when that
    would pass :data:`NAME_MAX`, a name made from a hash of the target's (a long name it takes itself must not
    stop its write)."""
    name = f".{target.name}{suffix}"
    if name_bytes(name) <= NAME_MAX:
        return target.with_name(name)
    digest = hashlib.sha256(target.name.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    return target.with_name(f".{digest}{suffix}")


def is_file(path: Path) -> bool:
    """``path.is_file()``, False for a name longer than a file system takes (Python before 3.13 raises
    ``OSError`` there: e.g. the recipe file ``NAME.EXT.json`` of a picture named near the limit)."""
    return name_bytes(path.name) <= NAME_MAX and path.is_file()


def shortened(stem: str, rest: str, room: int = NAME_MAX) -> str:
    """``stem + rest`` with ``stem`` cut (whole characters) so that the name is at most ``room`` bytes."""
    while stem and name_bytes(stem + rest) > room:
        stem = stem[:-1]
    return stem + rest


def write_atomically(target: Path, write: Callable[[Path], object], suffix: str = ".part") -> None:
    """``write(tmp)`` (a file, or a folder it makes) at :func:`partial_path`, then renamed to ``target``: never a
    file or folder half written under the real name. A temporary one that a killed write left is removed first,
    and this one whatever happens."""
    tmp = partial_path(target, suffix)

    def remove() -> None:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)

    remove()
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        remove()
