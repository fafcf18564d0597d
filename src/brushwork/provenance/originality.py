"""Near-duplicate checks: is this image a copy of, or derived from, one of a set of references?

``brushwork index build DIR -o refs.npz`` records, for every image under DIR (a GAN's training set,
style references, any collection): its sha256, a 64-bit perceptual hash (imagehash's DCT pHash: robust
to resizing and recompression, not to crops or restyling) and its embedding (EfficientNet-Lite0's pooled
features, unit length: robust to crops and restyling, see :mod:`.neighbors`).

``brushwork originality IMAGE --index refs.npz`` compares an image with every reference and gives a
verdict from its closest one:

* **exact copy**: the same file (sha256), or the same picture (pHash distance 0 and similarity >= 0.9999);
* **near duplicate**: similarity >= ``NEAR_SIMILARITY``, or pHash distance <= ``NEAR_HASH_DISTANCE``
  with similarity >= ``DERIVATIVE_SIMILARITY`` (pHash sees only luminance structure: flat or simple
  pictures can share a hash by chance) (resized, recompressed, cropped);
* **derivative**: similarity >= ``DERIVATIVE_SIMILARITY`` (restyled, recoloured, heavily edited);
* **original**: none of these.

The thresholds were tuned on one half of constructed cases and measured on the other half
(``benchmarks/originality_thresholds.py``; precision and recall in BENCHMARKS.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import BrushworkError
from ..imaging.decode import has_alpha, key_to_alpha, to_8bit, to_srgb

__all__ = ["ReferenceIndex", "build_index", "check", "verdict", "Match", "EMBED_SIDE",
           "NEAR_HASH_DISTANCE", "NEAR_SIMILARITY", "DERIVATIVE_SIMILARITY", "EXACT_SIMILARITY"]

INDEX_VERSION = 1
SEVERITY = ("exact copy", "near duplicate", "derivative", "original")
EMBED_SIDE = 224
# tuned by benchmarks/originality_thresholds.py (BENCHMARKS.md: precision and recall on held-out cases)
EXACT_SIMILARITY = 0.9999
NEAR_HASH_DISTANCE = 0
NEAR_SIMILARITY = 0.84
DERIVATIVE_SIMILARITY = 0.35


def _phash(im) -> int:
    import imagehash

    return int(str(imagehash.phash(im)), 16)


def _hamming(a: np.ndarray, b: int) -> np.ndarray:
    x = np.bitwise_xor(a.astype(np.uint64), np.uint64(b))
    return np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(1)


#: images with a shorter side below this are not judged (their hash and embedding say little)
MIN_CHECK_SIDE = 32


def describe(path: str | os.PathLike) -> tuple[int, np.ndarray] | None:
    """``(phash, 224 x 224 RGB uint8)`` of an image file; None when it cannot be read."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:  # decoded whole (no JPEG draft): the same pixels in a PNG must describe alike
            im = to_8bit(ImageOps.exif_transpose(to_srgb(key_to_alpha(im))))
            if has_alpha(im):
                im = Image.alpha_composite(Image.new("RGBA", im.size, (255,) * 4), im.convert("RGBA"))
            im = im.convert("RGB")
            return _phash(im), np.asarray(im.resize((EMBED_SIDE, EMBED_SIDE), Image.Resampling.BILINEAR))
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def blank(described: tuple[int, np.ndarray]) -> bool:
    """Whether a described image is one flat colour (a blank canvas, a fully transparent layer over white): its
    hash and embedding say nothing of a picture (a white canvas was called a derivative of a grey ramp)."""
    a = described[1]
    return bool((a.max(axis=(0, 1)).astype(int) - a.min(axis=(0, 1))).max() <= 2)


@dataclass
class ReferenceIndex:
    names: list[str]  # paths relative to root
    sha256: list[str]
    phash: np.ndarray  # (N,) uint64
    vectors: np.ndarray  # (N, d) unit rows, float32
    root: str = ""
    skipped: int = 0
    complete: bool = True  # False: a build stopped part way (Ctrl-C), kept so that the next build goes on from it

    def save(self, path: str | os.PathLike) -> Path:
        p = Path(path)
        if p.suffix != ".npz":
            raise BrushworkError(f"the index is written as .npz: give a name such as refs.npz, not '{p.name}'")
        meta = {"version": INDEX_VERSION, "root": self.root, "skipped": self.skipped, "complete": self.complete,
                "names": self.names,
                "sha256": self.sha256, "encoder": "efficientnet-lite0 block15 pooled, 224 px, unit length",
                "hash": "imagehash.phash 64-bit"}
        tmp = p.with_name(f".{p.name}.tmp.npz")
        try:
            np.savez_compressed(tmp, phash=self.phash.astype(np.uint64), vectors=self.vectors.astype(np.float32),
                                meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
            os.replace(tmp, p)
        except BaseException as exc:
            tmp.unlink(missing_ok=True)  # (a full disk: no half-written file left)
            if isinstance(exc, OSError):
                raise BrushworkError(f"could not write the index '{p}' ({exc.strerror or exc}): check the disk and "
                                     "the path") from None
            raise
        return p

    @classmethod
    def load(cls, path: str | os.PathLike, *, partial: bool = False) -> ReferenceIndex:
        """The index at ``path``; one whose build was stopped part way is refused (checks against it would miss the
        references it lacks) unless ``partial`` (what a build going on from it reads).

        Raises:
            BrushworkError: missing, not an index, another version, or (without ``partial``) incomplete.
        """
        p = Path(path)
        if p.is_dir():
            raise BrushworkError(f"index '{p}' is a folder: give the .npz file that brushwork index build wrote")
        if not p.is_file():
            raise BrushworkError(f"index '{p}' does not exist: build it with brushwork index build DIR -o {p.name}")
        try:
            with np.load(p) as d:
                meta = json.loads(bytes(d["meta"]).decode())
                phash, vectors = d["phash"], d["vectors"].astype(np.float32)
            names, shas = list(meta["names"]), list(meta["sha256"])
            if not (len(names) == len(shas) == len(phash) == len(vectors)):
                raise ValueError("inconsistent")
            # the features' width (Lite0's pooled block, 320), integer hashes, finite rows, at least one
            if (vectors.ndim != 2 or vectors.shape[1] != 320 or not len(vectors) or phash.ndim != 1
                    or not np.issubdtype(phash.dtype, np.integer) or not np.isfinite(vectors).all()
                    or not all(isinstance(n, str) for n in names)):
                raise ValueError("malformed")
        except Exception:  # noqa: BLE001 - np.load and a foreign file can fail in many ways
            raise BrushworkError(f"'{p}' is not a brushwork index: build one with brushwork index build DIR -o "
                                 "refs.npz") from None
        if meta.get("version") != INDEX_VERSION:
            raise BrushworkError(f"index '{p}' has version {meta.get('version')}, this brushwork reads "
                                 f"{INDEX_VERSION}: build it again")
        complete = meta.get("complete", True) is not False
        if not complete and not partial:
            raise BrushworkError(f"index '{p}' is incomplete (its build was stopped): run the same brushwork index "
                                 "build again to finish it")
        return cls(names, shas, phash, vectors, meta.get("root", ""), meta.get("skipped", 0), complete)


def build_index(folder: str | os.PathLike, *, progress: bool = False, encoder=None,
                limit: int | None = None, previous: ReferenceIndex | None = None,
                stopped: list | None = None, files: Sequence[str | os.PathLike] | None = None) -> ReferenceIndex:
    """Index every readable image under ``folder`` (recursive; at most ``limit``, evenly spaced), or the ``files``
    under it given (an openclipart category); unreadable files and blank ones (one flat colour: :func:`blank`) are
    skipped, counted.

    ``previous``: an index of the same folder (complete, or a build stopped part way): a file under the same name
    with the same sha256 takes its entry instead of being decoded and embedded again (a folder of 8,000 pictures
    with 10 added took the whole build again, 5 minutes). ``stopped``: on Ctrl-C the index of the files done so
    far (``complete=False``) is put in this list before the KeyboardInterrupt goes on, for the caller to keep.

    Raises:
        BrushworkError: not a folder, or no readable image in it.
    """
    from ..datasets import list_images
    from ..weights import sha256_file
    from .neighbors import embed

    if not isinstance(folder, (str, os.PathLike)):
        raise BrushworkError(f"build_index takes the folder of reference images, got {type(folder).__name__}")
    root = Path(folder)
    if not root.is_dir():
        raise BrushworkError(f"'{root}' is not a folder: give the folder of reference images")
    files = list_images(root) if files is None else [Path(f) for f in files]
    outside = next((f for f in files if not Path(os.path.abspath(f)).is_relative_to(os.path.abspath(root))), None)
    if outside is not None:
        raise BrushworkError(f"'{outside}' is not under '{root}': give files under the index's folder")
    if limit is not None and len(files) > limit:
        files = [files[i] for i in np.linspace(0, len(files) - 1, limit).astype(int)]
    known = {}
    if previous is not None and previous.root and Path(previous.root) == root.resolve():
        known = {(n, h): i for i, (n, h) in enumerate(zip(previous.names, previous.sha256))}
    names, shas, hashes, rows, skipped, flat = [], [], [], [], 0, 0
    batch: list[tuple[int, np.ndarray]] = []  # (row, 224 px picture) to embed

    def flush():
        if batch:
            for (row, _), v in zip(batch, embed(np.stack([b[1] for b in batch]), encoder)):
                rows[row] = v
            batch.clear()

    def index(n: int | None = None, complete: bool = True) -> ReferenceIndex:  # of the first n entries
        n = len(names) if n is None else n
        return ReferenceIndex(names[:n], shas[:n], np.array(hashes[:n], dtype=np.uint64),
                              np.stack(rows[:n]).astype(np.float32), str(root.resolve()), skipped, complete)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(files), unit="img", desc="index", disable=None)
    try:
        for f in files:
            if bar is not None:
                bar.update(1)
            name = Path(os.path.abspath(f)).relative_to(os.path.abspath(root)).as_posix()
            try:
                sha = sha256_file(f) if known else None
            except OSError:  # (unreadable: described below, and skipped as such; review)
                sha = None
            if (name, sha) in known:  # (as the last build indexed it)
                i = known[(name, sha)]
                names.append(name)
                shas.append(sha)
                hashes.append(int(previous.phash[i]))
                rows.append(previous.vectors[i])
            else:
                d = describe(f)
                if d is None or blank(d):
                    skipped += 1
                    flat += d is not None
                    continue
                names.append(name)
                shas.append(sha or sha256_file(f))
                hashes.append(d[0])
                rows.append(None)
                batch.append((len(rows) - 1, d[1]))
                if len(batch) == 64:
                    flush()
        flush()
    except KeyboardInterrupt:
        if stopped is not None:  # the pictures described so far embedded (a second or so), then kept
            try:
                flush()
            except KeyboardInterrupt:  # (a second Ctrl-C: the entries embedded before)
                pass
            done = next((i for i, r in enumerate(rows) if r is None), len(rows))
            if done:
                stopped.append(index(done, complete=False))
        raise
    finally:
        if bar is not None:
            bar.close()
    if not names:
        from ..datasets import gifs_under

        gifs = gifs_under(root)
        said = ([f"{skipped - flat} unreadable"] * (skipped > flat) + [f"{flat} blank (one flat colour)"] * (flat > 0)
                + [f"{gifs} GIF(s), which folders are read without: convert them to PNG"] * (gifs > 0))
        raise BrushworkError(f"'{root}' holds no images to index" + (f" ({', '.join(said)})" if said else ""))
    return index()


def verdict(same_file: bool, hash_distance: int, similarity: float) -> tuple[str, str]:
    """``(verdict, reason)`` from the closest reference's measures."""
    if same_file:
        return "exact copy", "the same file (sha256)"
    if hash_distance == 0 and similarity >= EXACT_SIMILARITY:
        return "exact copy", f"the same picture (pHash identical, similarity {similarity:.3f})"
    hash_near = hash_distance <= NEAR_HASH_DISTANCE and similarity >= DERIVATIVE_SIMILARITY
    if hash_near or similarity >= NEAR_SIMILARITY:
        why = [f"pHash {hash_distance} bits apart (<= {NEAR_HASH_DISTANCE})" if hash_near else "", f"similarity {similarity:.3f} (>= {NEAR_SIMILARITY})" if similarity >= NEAR_SIMILARITY else ""]
        return "near duplicate", " and ".join(w for w in why if w) + ": the picture resized, recompressed or cropped"
    if similarity >= DERIVATIVE_SIMILARITY:
        return "derivative", (f"similarity {similarity:.3f} (>= {DERIVATIVE_SIMILARITY}) with pHash {hash_distance} "
                              "bits apart: close in content or look (the same picture restyled, recoloured or heavily "
                              "edited, or a picture in its style)")
    return "original", f"closest similarity {similarity:.3f} (< {DERIVATIVE_SIMILARITY}), pHash {hash_distance} bits apart"


@dataclass
class Match:
    name: str
    similarity: float
    hash_distance: int


@dataclass
class Result:
    image: str
    verdict: str
    reason: str
    matches: list[Match] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"image": self.image, "verdict": self.verdict, "reason": self.reason,
                "matches": [m.__dict__ for m in self.matches]}


def check(paths: list[str | os.PathLike], index: ReferenceIndex, *, top: int = 3, encoder=None) -> list[Result]:
    """Compare images with the index; the closest references first (by similarity, then hash).

    Raises:
        BrushworkError: an image that does not exist or cannot be read.
    """
    return list(check_each(paths, index, top=top, encoder=encoder))


#: images described and embedded at a time: memory stays that of a batch, whatever the number of images
CHECK_BATCH = 64


def check_each(paths: list[str | os.PathLike], index: ReferenceIndex, *, top: int = 3, encoder=None,
               batch: int | None = None, on_error: Callable[[str | os.PathLike, str], None] | None = None
               ) -> Iterator[Result]:
    """:func:`check`, each result as soon as its batch is embedded (a long list's first results come at once,
    and its 224 px copies are not all held together: 0.35 MB an image). Every path is checked to exist first;
    an image that cannot be read stops the iteration where it comes, after the results before it, unless
    ``on_error`` is given: it is then called with the path and the reason, and the others go on.

    Raises:
        BrushworkError: a path that does not exist or is a folder (before any result); an image that cannot be
            read or is too small or blank (when its batch is reached; without ``on_error``).
    """
    if not isinstance(index, ReferenceIndex):  # (an AttributeError on 'vectors' after the first batch was read)
        raise BrushworkError("index is a ReferenceIndex: load one with ReferenceIndex.load(path) (or build_index)"
                             + (f", not the path '{index}'" if isinstance(index, (str, os.PathLike)) else ""))
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]  # one picture, not its letters
    paths = list(paths)
    if not paths:
        raise BrushworkError("no images to check: give one or more image files")
    if not all(isinstance(p, (str, os.PathLike)) for p in paths):
        raise BrushworkError("originality checks image files: give paths (save a picture made in Python first)")
    for p in paths:  # (a typo at the end of a long list: said before any work)
        if Path(p).is_dir():
            raise BrushworkError(f"'{p}' is a folder: give image files")
        if not Path(p).is_file():
            raise BrushworkError(f"'{p}' does not exist: check the path")
    batch = batch or CHECK_BATCH
    for start in range(0, len(paths), batch):
        yield from _check_batch(paths[start:start + batch], index, top, encoder, on_error)


def _described(p) -> tuple[int, np.ndarray]:
    """:func:`describe` of an image to check, refusing what cannot be compared."""
    from PIL import Image

    d = describe(p)
    if d is None:
        raise BrushworkError(f"'{p}' is not an image brushwork can read: use PNG, JPEG, WebP, TIFF or BMP")
    with Image.open(p) as im:
        w, h = im.size
    if min(w, h) < MIN_CHECK_SIDE:  # a few pixels match anything: no verdict is better than a wrong one
        raise BrushworkError(f"'{p}' is {w}x{h} pixels, too small to compare: check a copy at least "
                             f"{MIN_CHECK_SIDE} px on its short side")
    if blank(d):
        raise BrushworkError(f"'{p}' is one flat colour (or fully transparent): there is no picture to compare")
    return d


def _check_batch(paths: list, index: ReferenceIndex, top: int, encoder, on_error=None) -> Iterator[Result]:
    """The results of ``paths``; an image that cannot be compared stops them after those before it (or is
    handed to ``on_error`` and left out)."""
    described, kept, failure = [], [], None
    for p in paths:
        try:
            described.append(_described(p))
            kept.append(p)
        except BrushworkError as exc:
            if on_error is None:
                failure = exc
                break
            on_error(p, str(exc))
    if described:
        yield from _judged(kept, described, index, top, encoder)
    if failure is not None:
        raise failure


def _judged(paths: list, described: list, index: ReferenceIndex, top: int, encoder) -> list[Result]:
    from ..weights import sha256_file
    from .neighbors import embed

    vecs = embed(np.stack([d[1] for d in described]), encoder)
    out = []
    for p, (h, _), v in zip(paths, described, vecs):
        sha = sha256_file(p)
        sims = index.vectors @ v
        dists = _hamming(index.phash, h)
        same = np.array([s == sha for s in index.sha256])
        # candidates: the same file, the most similar references, and the nearest by hash; the verdict
        # is the most severe any of them earns, and that reference is listed first
        order = [int(i) for i in np.lexsort((dists, -sims, ~same))[:top]]
        cands = order + [int(np.argmin(dists))]
        judged = [(SEVERITY.index(verdict(bool(same[i]), int(dists[i]), float(sims[i]))[0]), -sims[i], i) for i in cands]
        best = min(judged)[2]
        v_, reason = verdict(bool(same[best]), int(dists[best]), float(sims[best]))
        shown = [best] + [i for i in order if i != best][:top - 1]
        nearest = int(np.argmin(dists))  # the closest layout (a photo restyled keeps its own): shown too
        if top > 1 and nearest not in shown:
            shown = shown[:top - 1] + [nearest]
        out.append(Result(str(p), v_, reason, [Match(index.names[i], float(sims[i]), int(dists[i])) for i in shown]))
    return out
