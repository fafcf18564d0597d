"""The art-medium dataset: five media built from packaged images, made so that the medium is learned.

==========  ====================================================  =====================================
medium      images (package)                                      group (kept together in k-fold)
==========  ====================================================  =====================================
clip-art    openclipart-png, spread over its 22 categories        the category
painting    Wesnoth's painted portraits and story art              the source painting
photo       MATE's nature photos, the photographic Plasma ones,    the source photo
            OpenCV's sample photos (people, objects, streets)
pixel-art   Wesnoth's 72 px unit sprites                           the faction (all its units and frames)
texture     Krita's and GIMP's patterns                            the source pattern
==========  ====================================================  =====================================

Guards against learning the source instead of the medium:

* one format and size range for all: every sample is an RGB JPEG (quality 90) whose long side is
  at most 192 px, so no class is recognisable by its file format, bit depth or size;
* transparent images (clip art, sprites, portraits) are composited on the same random backgrounds
  (white half the time, otherwise a random flat colour), so the background does not give the class;
* pixel art is stored at 1x or 2x nearest-neighbour scale (how pixel art is shown), or as a
  32-48 px window of a sprite that the loader enlarges 3-4x (tiles and small sprites), large
  photos and paintings as random crops at random scales;
* samples are grouped by source (``<medium>/<group>/<file>.jpg``): ``classify eval --kfold`` keeps each
  group in one fold, so crops of one photo or frames of one faction never sit on both sides.

Photos had to be chosen by hand: the wallpaper packages mix photos with digital art, which is left
out (``PLASMA_PHOTOS``). Build with ``brushwork data fetch art-medium``; the manifest records every
sample's source file, package and licence.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..errors import BrushworkError
from ..imaging.decode import has_alpha, key_to_alpha, to_8bit, to_srgb

__all__ = ["MEDIA", "PLASMA_PHOTOS", "build_medium", "medium_folder"]

NAME = "art-medium"
MEDIA = ("clip-art", "painting", "photo", "pixel-art", "texture")
#: OpenCV's sample images that are photographs of people, objects and places (not calibration shots).
OPENCV_PHOTOS = ("aero1.jpg", "aero3.jpg", "apple.jpg", "baboon.jpg", "basketball1.png", "box_in_scene.png",
                 "building.jpg", "butterfly.jpg", "chicky_512.png", "fruits.jpg", "HappyFish.jpg", "home.jpg",
                 "leuvenA.jpg", "leuvenB.jpg", "messi5.jpg", "orange.jpg", "smarties.png", "squirrel_cls.jpg")
#: Plasma wallpapers that are photographs (checked by eye on a contact sheet, 2026-11-28).
PLASMA_PHOTOS = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey",
                 "OneStandsOut", "Path", "Volna", "summer_1am")
STORE_SIDE = 192
VERSION = 3


def _background(rng: np.random.Generator, size: tuple[int, int]) -> Image.Image:
    if rng.random() < 0.5:
        return Image.new("RGB", size, (255, 255, 255))
    return Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 256, 3)))


def _flatten(im: Image.Image, rng: np.random.Generator) -> Image.Image:
    """RGB; transparency composited on a random background."""
    im = ImageOps.exif_transpose(im)
    if has_alpha(im):
        rgba = im.convert("RGBA")
        bg = _background(rng, rgba.size)
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    return im.convert("RGB")


def _crop(im: Image.Image, rng: np.random.Generator, low: float) -> Image.Image:
    """A random square crop covering ``low``..1 of the short side, resized to ``STORE_SIDE``."""
    side = int(min(im.size) * rng.uniform(low, 1.0))
    x = int(rng.integers(0, im.width - side + 1))
    y = int(rng.integers(0, im.height - side + 1))
    return im.resize((STORE_SIDE, STORE_SIDE), Image.Resampling.LANCZOS, box=(x, y, x + side, y + side))


def _fit(im: Image.Image) -> Image.Image:
    if max(im.size) > STORE_SIDE:
        im = im.copy()
        im.thumbnail((STORE_SIDE, STORE_SIDE), Image.Resampling.LANCZOS)
    return im


def _open(path: Path) -> Image.Image:
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, 40_000_000)
    im = Image.open(path)
    im.draft("RGB", (STORE_SIDE * 4, STORE_SIDE * 4))  # photos: decode near the size needed
    return to_8bit(to_srgb(key_to_alpha(im)))  # colours (and 16-bit greys) as brushwork reads any photo


def _opaque_centre(path: Path, size: tuple[int, int]) -> tuple[int, int]:
    """Centre of the opaque part of a sprite (the middle when it has no alpha)."""
    with Image.open(path) as im:
        if "A" not in im.getbands():
            return size[0] // 2, size[1] // 2
        box = im.getchannel("A").getbbox()
    return ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2) if box else (size[0] // 2, size[1] // 2)


def _round_robin(groups: dict[str, list[Path]], n: int, rng: np.random.Generator) -> list[tuple[str, Path]]:
    """``n`` files spread evenly over the groups (shuffled within each)."""
    pools = {g: list(rng.permutation(len(fs))) for g, fs in sorted(groups.items())}
    out: list[tuple[str, Path]] = []
    while len(out) < n and any(pools.values()):
        for g in sorted(pools):
            if pools[g] and len(out) < n:
                out.append((g, groups[g][pools[g].pop()]))
    return out


def _sources(root: Path | None) -> dict[str, list[tuple[Path, str, str]]]:
    """(file, original path in the package, collection) for each medium's source images."""
    from .fetch import fetch

    def files(name: str):
        folder = fetch(name, root=root)
        manifest = json.loads((folder.parent / "manifest.json").read_text())
        return [(folder / f["file"], f["source"], name) for f in manifest["files"]]

    photos = [f for f in files("mate-backgrounds") if "/mate/nature/" in f[1]]
    plasma: dict[str, tuple[int, tuple[Path, str, str]]] = {}
    for f in files("plasma-wallpapers"):
        wall = f[1].split("/")[3]
        if wall in PLASMA_PHOTOS:  # the largest size of each wallpaper (the others are the same picture)
            w, h = Image.open(f[0]).size
            if wall not in plasma or w * h > plasma[wall][0]:
                plasma[wall] = (w * h, f)
    opencv = [f for f in files("opencv-samples") if f[1].rsplit("/", 1)[1] in OPENCV_PHOTOS]
    return {
        "photo": photos + [plasma[w][1] for w in sorted(plasma)] + opencv,
        "painting": files("wesnoth-art"),
        "pixel-art": [f for f in files("wesnoth-sprites") if f[1].count("/") >= 10],  # units/<faction>/...
        "clip-art": files("openclipart"),
        "texture": files("krita-patterns") + files("gimp-patterns"),
    }


def _group(medium: str, source: str) -> str:
    parts = source.split("/")
    if medium == "photo":
        return parts[3] if "/wallpapers/" in source else Path(source).stem
    if medium == "pixel-art":
        return parts[9]  # .../images/units/<faction>/...
    if medium == "clip-art":
        return parts[4]  # usr/share/openclipart/png/<category>/...
    return Path(source).stem


def build_medium(out: str | os.PathLike, *, root: str | os.PathLike | None = None, per_class: int = 320,
                 seed: int = 0) -> Path:
    """Build the dataset in ``out`` (``<medium>/<group>/<name>.jpg`` + ``manifest.json``), about
    ``per_class`` samples per medium, deterministic for ``seed``. Written to a temporary folder and
    moved into place, so an interrupted build leaves nothing behind."""
    from .fetch import SOURCES, put_in_place

    rng = np.random.default_rng(seed)
    sources = _sources(Path(root) if root is not None else None)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    records = []
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp_s:
        tmp = Path(tmp_s) / out.name
        for medium in MEDIA:
            by_group: dict[str, list[tuple[Path, str, str]]] = defaultdict(list)
            for f in sources[medium]:
                by_group[_group(medium, f[1])].append(f)
            files = {g: [f[0] for f in fs] for g, fs in by_group.items()}
            meta = {f[0]: f for fs in by_group.values() for f in fs}
            if medium in ("photo", "texture", "painting"):  # few large sources: several crops of each
                chosen = [(g, p) for g in sorted(files) for p in files[g]]
                chosen = [chosen[i] for i in rng.permutation(len(chosen))]
                reps = -(-per_class // len(chosen))
            else:
                chosen, reps = _round_robin(files, per_class, rng), 1
            n = 0
            for g, path in chosen:
                try:
                    base = _flatten(_open(path), rng)
                except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
                    continue
                large = min(base.size) >= 2 * STORE_SIDE
                for r in range(reps if large or medium != "painting" else 1):
                    if n >= per_class:
                        break
                    if medium == "pixel-art" and rng.random() < 0.5:  # a small window, enlarged by the loader
                        side = int(rng.integers(32, 49))
                        cx, cy = _opaque_centre(path, base.size)
                        x = int(np.clip(cx - side // 2, 0, base.width - side))
                        y = int(np.clip(cy - side // 2, 0, base.height - side))
                        sample = base.crop((x, y, x + side, y + side))
                    elif medium == "pixel-art":
                        scale = int(rng.integers(1, 3))  # 72 or 144 px: never resampled again when stored
                        sample = base.resize((base.width * scale, base.height * scale), Image.Resampling.NEAREST)
                    elif medium == "clip-art" or (medium == "painting" and r == 0):
                        sample = _fit(base)
                    else:
                        low = 0.5 if medium == "painting" or min(base.size) < 4 * STORE_SIDE else 0.25
                        sample = _crop(base, rng, low)
                    dest = tmp / medium / g / f"{path.stem}_{r}.jpg"
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    _fit(sample).save(dest, quality=90)
                    n += 1
                    src = meta[path]
                    records.append({"file": dest.relative_to(tmp).as_posix(), "medium": medium, "group": g,
                                    "collection": src[2], "source": src[1],
                                    "licence": SOURCES[src[2]].licence})
        counts = {m: sum(r["medium"] == m for r in records) for m in MEDIA}
        if min(counts.values()) < 20:
            raise BrushworkError(f"too few images for some media ({counts}): fetch the packages again (brushwork data fetch NAME --force)")
        (tmp / "manifest.json").write_text(json.dumps(
            {"name": NAME, "version": VERSION, "seed": seed, "per_class": per_class, "counts": counts,
             "files": records}, indent=1))
        put_in_place(tmp, out, Path(tmp_s))
    return out


def medium_folder(root: str | os.PathLike | None = None, *, force: bool = False) -> Path:
    """The art-medium dataset's folder under the data root, built on first use."""
    from .fetch import data_root, one_at_a_time

    base = Path(root) if root is not None else data_root()
    folder = base / NAME
    manifest = folder / "manifest.json"

    def made() -> bool:
        return manifest.is_file() and json.loads(manifest.read_text()).get("version") == VERSION

    if force or not made():
        with one_at_a_time(base, NAME):
            if force or not made():  # (not made by a process this one waited for)
                build_medium(folder, root=base)
    return folder
