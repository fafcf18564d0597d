"""Fetch image collections that ship inside Debian packages (and scikit-image).

``fetch("mate-backgrounds")`` runs ``apt-get download`` (no root, no install), unpacks the ``.deb``
with ``dpkg-deb -x``, copies the images that the source selects into
``<data root>/<name>/images/`` and writes ``manifest.json`` (package, version, licence, file list)
and the package's ``COPYRIGHT`` file beside them. The data root is ``$BRUSHWORK_DATA`` or
``~/.cache/brushwork/data``. The collection appears atomically (built in a temporary folder, then
renamed), so an interrupted fetch never leaves half a dataset; a second fetch is a no-op.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..errors import BrushworkError

__all__ = ["DataSource", "SOURCES", "data_root", "fetch", "list_images", "gifs_under", "left_out_under", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".avif", ".bmp", ".tif", ".tiff")
#: picture files folder readers leave out, named in a note: HEIC (a phone's photos; Pillow needs a plugin), camera raw,
#: layered and vector files (``.gif``, animations, are counted beside them)
UNREAD_PICTURES = (".heic", ".heif", ".jxl", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".raf", ".orf", ".rw2", ".psd",
                   ".kra", ".xcf", ".ora", ".svg")
#: folders no one means as pictures, beside hidden ones: the copies and thumbnails macOS, Synology and Windows leave
SYSTEM_FOLDERS = ("__MACOSX", "@eaDir", "#recycle", "$RECYCLE.BIN")


@dataclass(frozen=True)
class DataSource:
    """A collection of images inside a Debian package.

    Attributes:
        name: the name ``brushwork data fetch`` takes.
        package: Debian package (None for scikit-image's bundled samples).
        patterns: ``fnmatch`` patterns on paths inside the package (``*`` also matches ``/``).
        licence: the licence, as the package's copyright file states it (copied beside the data).
        role: ``"content"`` (photos) or ``"style"`` (artwork, patterns).
        description: one line for ``brushwork data list``.
    """

    name: str
    package: str | None
    patterns: tuple[str, ...]
    licence: str
    role: str
    description: str


SOURCES: dict[str, DataSource] = {
    s.name: s
    for s in [
        DataSource("mate-backgrounds", "mate-backgrounds", ("usr/share/backgrounds/mate/*.jpg",
                   "usr/share/backgrounds/mate/*.png"), "GPL-2+ (Debian copyright file)", "content",
                   "MATE desktop photos and art, up to 4K (30 images)"),
        DataSource("plasma-wallpapers", "plasma-workspace-wallpapers", ("usr/share/wallpapers/*.jpg",
                   "usr/share/wallpapers/*.png"), "LGPL-3 / CC-BY-SA (per image, Debian copyright file)",
                   "content", "KDE Plasma wallpapers, photos up to 5K"),
        DataSource("opencv-samples", "opencv-doc", ("usr/share/doc/opencv-doc/examples/data/*.jpg",
                   "usr/share/doc/opencv-doc/examples/data/*.png"), "BSD-3-Clause and others (Debian copyright file)",
                   "content", "OpenCV's sample photos (includes starry_night.jpg)"),
        DataSource("wesnoth-art", "wesnoth-1.16-data", ("usr/share/games/wesnoth/1.16/data/core/images/portraits/*.png",
                   "usr/share/games/wesnoth/1.16/data/core/images/story/*.jpg"), "GPL-2+", "style",
                   "Battle for Wesnoth painted portraits and story art"),
        DataSource("wesnoth-sprites", "wesnoth-1.16-data", ("usr/share/games/wesnoth/1.16/data/core/images/units/*.png",),
                   "GPL-2+", "style", "Battle for Wesnoth's 72 px unit sprites and their animation frames (pixel art)"),
        DataSource("crawl-tiles", "crawl-tiles-data", ("usr/share/crawl/dat/tiles/*.png",),
                   "CC0 (tiles) and per-artist terms (title art), Debian copyright file", "style",
                   "Dungeon Crawl Stone Soup's 32 px tile sheets and title paintings (art-medium's outside check)"),
        DataSource("krita-patterns", "krita-data", ("usr/share/krita/patterns/*.png", "usr/share/krita/patterns/*.jpg"),
                   "GPL-3+ and others (Debian copyright file)", "style", "Krita's texture patterns"),
        DataSource("gimp-patterns", "gimp-data", ("usr/share/gimp/2.0/patterns/*.pat", "usr/share/gimp/2.0/patterns/*.png"),
                   "GPL-3+ (Debian copyright file)", "style", "GIMP's texture patterns"),
        DataSource("openclipart", "openclipart-png", ("usr/share/openclipart/png/*.png",), "Public domain",
                   "style", "about 6,900 public-domain clip-art drawings (PNG) in 22 categories"),
        DataSource("skimage-samples", None, ("*.png", "*.jpg"), "CC0 / public domain (scikit-image data/README)",
                   "content", "scikit-image's bundled sample photos (needs scikit-image installed)"),
    ]
}


def in_tree(tree: Path, rel: str) -> Path | None:
    """The file at ``rel`` inside an unpacked package ``tree``, following its symbolic links as the installed
    system would (an absolute link from the tree's root), never out of the tree; None if there is none."""
    p, parts, hops = tree, list(Path(rel).parts), 0
    while parts:
        part = parts.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            p = p.parent if p != tree else tree
            continue
        q = p / part
        if q.is_symlink():
            hops += 1
            if hops > 40:  # a loop
                return None
            target = Path(os.readlink(q))
            if target.is_absolute():
                p, parts = tree, [*target.parts[1:], *parts]
            else:
                parts = [*target.parts, *parts]
            continue
        p = q
    return p if p.is_file() and not p.is_symlink() else None


def data_root() -> Path:
    """``$BRUSHWORK_DATA`` or ``~/.cache/brushwork/data``."""
    env = os.environ.get("BRUSHWORK_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "brushwork" / "data"


_HELD: dict[str, int] = {}  # data folders this process holds the lock of (a build that fetches its sources)


@contextlib.contextmanager
def one_at_a_time(base: Path, name: str) -> Iterator[None]:
    """Lock the data folder ``base`` while collection ``name`` is made: processes that want it at once
    (torchrun's ranks on a first run, two terminals) make it once, the others waiting, then finding it
    there. Each had fetched into the same folder, which left some with part of the images or an error.
    (The folder itself is locked, so no lock file is left behind.) The process holding it may take it
    again (the art-medium build fetches its sources); where the file system cannot lock (some network
    mounts), the work goes on unlocked, as before."""
    base.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(base)
    try:
        import fcntl
    except ImportError:  # (Windows: no lock)
        fcntl = None
    if fcntl is None or key in _HELD:
        _HELD[key] = _HELD.get(key, 0) + 1
        try:
            yield
        finally:
            _HELD[key] -= 1
            if not _HELD[key]:
                del _HELD[key]
        return
    fd = os.open(base, os.O_RDONLY)
    try:
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"brushwork: note: waiting for another process that is making dataset '{name}' (or another "
                      "one)", file=sys.stderr)
                fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:  # (NFS wants a file open for writing; some mounts have no locks at all): unlocked
            pass
        _HELD[key] = 1
        try:
            yield
        finally:
            del _HELD[key]
    finally:
        os.close(fd)  # (releases the lock)


def put_in_place(build: Path, dest: Path, tmp: Path) -> None:
    """Move a finished ``build`` to ``dest``, the copy there first moved into ``tmp`` (a temporary folder, removed
    with it): a stop at any moment leaves one whole copy or none, never a half-deleted one that a manifest left
    standing would count as made (deleting the old copy in place did, on an interrupted ``--force``)."""
    if dest.exists():
        os.replace(dest, tmp / ".replaced")
    os.replace(build, dest)


def _fetched(dest: Path) -> bool:
    """A collection made: its manifest and its images folder (whole, as :func:`put_in_place` puts it there; images
    the user removed since stay removed)."""
    return (dest / "manifest.json").is_file() and (dest / "images").is_dir()


def leads_up(real: str, top: str) -> bool:
    """Whether the real folder ``real`` is ``top`` or a folder above it (a link there leads back up: every folder
    beside the link again)."""
    return real == top or top.startswith(real.rstrip(os.sep) + os.sep)


def _not_walked(name: str, path: str, real: str, top: str, seen: set[str]) -> bool:
    """Whether a folder met while walking ``top`` is left out: hidden and system folders, one already walked (a loop,
    a second link to it), a link up to ``top`` or above it (:func:`leads_up`), and a link to a folder inside ``top``
    (walked at its own place, where its pictures are named and grouped)."""
    return (name.startswith(".") or name in SYSTEM_FOLDERS or real in seen or leads_up(real, top)
            or (os.path.islink(path) and real.startswith(top.rstrip(os.sep) + os.sep)))


def _walk(root: str | os.PathLike, recursive: bool = True) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk(root)`` with symlinked folders followed, each folder once (:func:`_not_walked` says which are left
    out): ``(folder, the sub-folders walked, its files)``."""
    top = os.path.realpath(root)
    seen = {top}
    for dirpath, dirs, files in os.walk(root, followlinks=True):
        keep = []
        for d in sorted(dirs):
            path = os.path.join(dirpath, d)
            real = os.path.realpath(path)
            if not _not_walked(d, path, real, top, seen):
                seen.add(real)
                keep.append(d)
        dirs[:] = keep if recursive else []
        yield dirpath, keep, files


def linked_folders(root: str | os.PathLike) -> list[Path]:
    """The real places of the symlinked folders :func:`list_images` walks under ``root`` (a data folder's pictures
    may lie there: an output written there would be read back as they are)."""
    return [Path(os.path.realpath(os.path.join(dirpath, d))) for dirpath, dirs, _ in _walk(root)
            for d in dirs if os.path.islink(os.path.join(dirpath, d))]


def _files(root: Path, recursive: bool = True) -> Iterator[Path]:
    """The files under ``root``: symlinked folders followed, each folder once (a link up to ``root`` or above it, or a
    second link to one already walked, is not walked: its pictures would count twice), hidden and system folders
    (:data:`SYSTEM_FOLDERS`) and macOS's ``._`` files left out."""
    for dirpath, _, files in _walk(root, recursive):
        for f in files:
            p = Path(dirpath) / f
            if not f.startswith("._") and p.is_file():
                yield p


#: what brushwork 0.2.8 and before listed (a model or run recorded before 0.2.9 is evaluated and resumed on it)
LEGACY_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def list_images(folder: str | os.PathLike, *, recursive: bool = True, legacy: bool = False) -> list[Path]:
    """Image files under ``folder`` by extension, sorted (corrupt files are the reader's business), walked as
    :func:`_files` walks: not in hidden folders under it (``.thumbnails``, a video run's ``.NAME.part``) or system
    ones (``__MACOSX``, ``@eaDir``), which no one means as pictures; in symlinked folders too (brushwork 0.2.8 left
    them out without a word). ``legacy``: as brushwork 0.2.8 listed a folder (its models recorded the split of that
    listing): no symlinked folders, no ``.jfif``/``.jpe``/``.avif``, only hidden folders left out."""
    if legacy:
        root = Path(folder)
        it = root.rglob("*") if recursive else root.glob("*")
        return sorted(p for p in it if p.is_file() and p.suffix.lower() in LEGACY_SUFFIXES
                      and not any(d.startswith(".") for d in p.relative_to(root).parts[:-1]))
    return sorted(p for p in _files(Path(folder), recursive) if p.suffix.lower() in IMAGE_SUFFIXES)


def left_out_under(top: str | os.PathLike) -> dict[str, int]:
    """The picture files under ``top`` that :func:`list_images` leaves out, counted by kind (``{"GIF": 3, "HEIC":
    2}``): GIFs (an animation; an older run's listing of a folder would change if they were read) and the formats of
    :data:`UNREAD_PICTURES`; folder readers name them in a note."""
    counts: dict[str, int] = {}
    for p in _files(Path(top)):
        suffix = p.suffix.lower()
        if suffix == ".gif" or suffix in UNREAD_PICTURES:
            kind = suffix[1:].upper()
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def gifs_under(top: str | os.PathLike) -> int:
    """How many GIFs lie under ``top``, walked as :func:`list_images` walks."""
    return left_out_under(top).get("GIF", 0)


def _apt_download(package: str, workdir: Path) -> Path:
    """``apt-get download PACKAGE`` into ``workdir``; returns the ``.deb``."""
    if shutil.which("apt-get") is None:
        raise BrushworkError(f"'apt-get' is not available: fetching '{package}' needs a Debian-based system")
    proc = subprocess.run(["apt-get", "download", package], cwd=workdir, capture_output=True, text=True)
    debs = sorted(workdir.glob("*.deb"))
    if proc.returncode != 0 or not debs:
        said = proc.stderr.strip()
        last = (said.splitlines() or ["no output"])[-1]
        if "404" not in said and any(k in said for k in ("Could not connect", "Could not resolve", "Temporary failure",
                                                         "Connection failed", "Network is unreachable")):
            fix = "check the network connection (and any proxy), then try again"
        else:  # the package is not in the lists apt has (never updated, or another release)
            fix = "run 'apt-get update' first"
        raise BrushworkError(f"could not download Debian package '{package}' ({last}): {fix}")
    return debs[0]


def _deb_version(deb: Path) -> str:
    proc = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True)
    return proc.stdout.strip() or "unknown"


def read_gimp_pattern(path: str | os.PathLike) -> Image.Image:
    """Decode a GIMP pattern (``.pat``): a big-endian header (size, version, width, height, bytes per
    pixel, ``GPAT``, name) followed by raw grey/grey+alpha/RGB/RGBA pixels. Pillow does not read it."""
    data = Path(path).read_bytes()
    if len(data) < 24 or data[20:24] != b"GPAT":
        raise ValueError(f"{path}: not a GIMP pattern")
    header, _version, w, h, depth = struct.unpack(">5I", data[:20])
    modes = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}
    if depth not in modes or len(data) < header + w * h * depth:
        raise ValueError(f"{path}: truncated or unsupported GIMP pattern")
    return Image.frombytes(modes[depth], (w, h), data[header:header + w * h * depth]).convert("RGB")


def _select(tree: Path, patterns: tuple[str, ...]) -> list[Path]:
    files = []
    for p in sorted(tree.rglob("*")):
        rel = p.relative_to(tree).as_posix()
        if p.is_file() and not p.is_symlink() and any(fnmatch.fnmatch(rel, pat) for pat in patterns):
            files.append(p)
    return files


def fetch(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    downloader: Callable[[str, Path], Path] = _apt_download,
    force: bool = False,
) -> Path:
    """Fetch collection ``name`` and return its ``images/`` folder.

    Args:
        name: a key of :data:`SOURCES`.
        root: where collections live (default :func:`data_root`).
        downloader: ``(package, workdir) -> .deb path``; tests pass one that builds a local package.
        force: fetch again even if the collection is already there.

    Raises:
        BrushworkError: unknown name, download or unpack failure, or no images found.
    """
    if name not in SOURCES:
        raise BrushworkError(f"unknown dataset {name!r}: choose one of {', '.join(SOURCES)}")
    src = SOURCES[name]
    base = Path(root) if root is not None else data_root()
    dest = base / name
    if _fetched(dest) and not force:
        return dest / "images"
    with one_at_a_time(base, name):
        if _fetched(dest) and not force:  # (made by the process this one waited for)
            return dest / "images"
        return _fetch(name, src, base, dest, downloader)


def _fetch(name: str, src: DataSource, base: Path, dest: Path, downloader: Callable[[str, Path], Path]) -> Path:
    print(f"brushwork: note: {'fetching' if src.package else 'copying'} dataset '{name}' "
          f"({src.package + ' from Debian' if src.package else 'from scikit-image, installed here'}) into {dest} "
          "(once: later runs use this copy)", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=base, prefix=f".{name}.") as tmp_s:
        tmp = Path(tmp_s)
        build = tmp / name
        (build / "images").mkdir(parents=True)
        if src.package is None:
            try:
                import skimage
            except ImportError:
                raise BrushworkError("scikit-image is not installed: pip install scikit-image") from None
            tree = Path(skimage.__file__).parent / "data"
            version = skimage.__version__
            copyright_file = tree / "README.txt"
        else:
            work = tmp / "download"
            work.mkdir()
            deb = downloader(src.package, work)
            tree = tmp / "tree"
            proc = subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], capture_output=True, text=True)
            if proc.returncode != 0:
                raise BrushworkError(f"could not unpack '{deb.name}' ({proc.stderr.strip()}): fetch it again")
            version = _deb_version(deb)
            # Debian may link a package's doc folder to its source's: followed, but only inside the package
            copyright_file = in_tree(tree, f"usr/share/doc/{src.package}/copyright")
        files = _select(tree, src.patterns)
        if not files:
            raise BrushworkError(f"package for '{name}' holds no images matching {list(src.patterns)}")
        names = []
        for i, f in enumerate(files):
            target = f"{i:05d}_{f.name}"
            if f.suffix == ".pat":  # GIMP's own format: stored as PNG so that any reader takes it,
                target = f"{i:05d}_{f.stem}.png"  # tiled to 512+ px (seamless tiles, made to repeat)
                im = read_gimp_pattern(f)
                reps = (-(-512 // im.width), -(-512 // im.height))
                tiled = Image.new("RGB", (im.width * reps[0], im.height * reps[1]))
                for x in range(reps[0]):
                    for y in range(reps[1]):
                        tiled.paste(im, (x * im.width, y * im.height))
                tiled.save(build / "images" / target)
            else:
                shutil.copyfile(f, build / "images" / target)
            names.append({"file": target, "source": f.relative_to(tree).as_posix()})
        has_copyright = copyright_file is not None and copyright_file.is_file()
        if has_copyright:
            shutil.copyfile(copyright_file, build / "COPYRIGHT")
        else:
            print(f"brushwork: note: the package of '{name}' holds no copyright file: its licence is recorded as "
                  f"{src.licence} from brushwork's list, without the package's own text", file=sys.stderr)
        manifest = {"name": name, "package": src.package, "version": version, "licence": src.licence,
                    "copyright_file": "COPYRIGHT" if has_copyright else None,
                    "role": src.role, "count": len(names), "files": names}
        (build / "manifest.json").write_text(json.dumps(manifest, indent=1))
        put_in_place(build, dest, tmp)
    return dest / "images"
