"""`brushwork data fetch` with a Debian package built on the spot (no network)."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brushwork.cli import main
from brushwork.datasets import fetch, list_images
from brushwork.errors import BrushworkError

pytestmark = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb (Debian)")


def build_deb(root: Path, package: str, version: str, out_dir: Path) -> Path:
    """``dpkg-deb --build`` the tree ``root`` (files already in place) as ``package``."""
    (root / "DEBIAN").mkdir(parents=True, exist_ok=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {package}\nVersion: {version}\nArchitecture: all\nMaintainer: t <t@t>\nDescription: test\n")
    deb = out_dir / f"{package}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True, capture_output=True)
    return deb


@pytest.fixture
def fake_deb(tmp_path: Path) -> Path:
    root = tmp_path / "pkg"
    imgs = root / "usr/share/backgrounds/mate/nature"
    imgs.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((40, 60, 3), 60 * i, np.uint8)).save(imgs / f"p{i}.jpg")
    (root / "usr/share/backgrounds/mate/readme.txt").write_text("not an image")
    doc = root / "usr/share/doc/mate-backgrounds"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text("Licence: GPL-2+\n")
    return build_deb(root, "mate-backgrounds", "9.9-1", tmp_path)


def test_fetch_unpacks_selects_and_records(fake_deb, tmp_path):
    calls = []

    def downloader(package, work):
        calls.append(package)
        return Path(shutil.copy(fake_deb, work))

    images = fetch("mate-backgrounds", root=tmp_path / "data", downloader=downloader)
    assert len(list_images(images)) == 3 and calls == ["mate-backgrounds"]
    manifest = json.loads((images.parent / "manifest.json").read_text())
    assert manifest["version"] == "9.9-1" and manifest["count"] == 3 and manifest["package"] == "mate-backgrounds"
    assert manifest["files"][0]["source"].startswith("usr/share/backgrounds/mate/nature/")
    assert (images.parent / "COPYRIGHT").read_text().startswith("Licence: GPL-2+")
    fetch("mate-backgrounds", root=tmp_path / "data", downloader=downloader)
    assert calls == ["mate-backgrounds"]  # already there: no second download


def test_failed_download_leaves_nothing(tmp_path):
    def broken(package, work):
        raise BrushworkError("could not download")

    with pytest.raises(BrushworkError):
        fetch("wesnoth-art", root=tmp_path, downloader=broken)
    assert list(tmp_path.iterdir()) == []


def test_unknown_dataset_cli(capsys, tmp_path):
    assert main(["data", "fetch", "no-such-set", "--root", str(tmp_path)]) == 2
    assert "unknown dataset" in capsys.readouterr().err
    assert main(["data", "list"]) == 0
    assert "wesnoth-art" in capsys.readouterr().out


def _gimp_pattern(w: int, h: int, pixels: bytes, depth: int = 3, name: bytes = b"tile") -> bytes:
    import struct

    header = struct.pack(">5I", 24 + len(name) + 1, 1, w, h, depth) + b"GPAT" + name + b"\0"
    return header + pixels


def test_gimp_patterns_are_decoded_and_tiled(tmp_path):
    from brushwork.datasets.fetch import read_gimp_pattern

    rgb = bytes(np.arange(2 * 3 * 3, dtype=np.uint8) * 10)
    f = tmp_path / "t.pat"
    f.write_bytes(_gimp_pattern(3, 2, rgb))
    img = np.asarray(read_gimp_pattern(f))
    assert img.shape == (2, 3, 3) and img.tobytes() == rgb
    (tmp_path / "bad.pat").write_bytes(_gimp_pattern(30, 20, rgb))  # truncated pixel data
    with pytest.raises(ValueError, match="truncated"):
        read_gimp_pattern(tmp_path / "bad.pat")

    pats = tmp_path / "pkg" / "usr/share/gimp/2.0/patterns"
    pats.mkdir(parents=True)
    (pats / "t.pat").write_bytes(_gimp_pattern(3, 2, rgb))
    deb = build_deb(tmp_path / "pkg", "gimp-data", "1-1", tmp_path)
    images = fetch("gimp-patterns", root=tmp_path / "data", downloader=lambda package, work: deb)
    (out,) = list_images(images)
    tiled = np.asarray(Image.open(out))
    assert out.suffix == ".png" and tiled.shape[0] >= 512 and tiled.shape[1] >= 512
    assert np.array_equal(tiled[2:4, 3:6], img)  # the tile repeats


def test_a_packages_copyright_is_found_through_its_links_and_never_outside(tmp_path):
    import os

    from brushwork.datasets.fetch import in_tree

    tree = tmp_path / "tree"
    doc = tree / "usr" / "share" / "doc"
    (doc / "game-data-src").mkdir(parents=True)
    (doc / "game-data-src" / "copyright").write_text("GPL-2+")
    os.symlink("game-data-src", doc / "game-data")  # Debian links a binary package's docs to its source's
    os.symlink("/usr/share/doc/game-data-src", doc / "game-abs")  # an absolute link: from the tree's root
    os.symlink("/etc", doc / "outside")  # must not read the host's /etc/...
    os.symlink("../../../../../../../../etc", doc / "climb")
    assert in_tree(tree, "usr/share/doc/game-data/copyright").read_text() == "GPL-2+"
    assert in_tree(tree, "usr/share/doc/game-abs/copyright").read_text() == "GPL-2+"
    assert in_tree(tree, "usr/share/doc/outside/hostname") is None
    assert in_tree(tree, "usr/share/doc/climb/hostname") is None


def test_apt_failures_name_their_fix(tmp_path, monkeypatch):
    """A package missing from stale lists (404) wants `apt-get update`; a network that cannot be reached does not."""
    import importlib
    import subprocess

    from brushwork.errors import BrushworkError

    fetch_mod = importlib.import_module("brushwork.datasets.fetch")  # (the package's `fetch` is the function)

    said = {"404": "E: Failed to fetch http://deb.debian.org/pool/x.deb  404  Not Found [IP: 1.2.3.4 80]",
            "net": "E: Failed to fetch http://deb.debian.org/pool/x.deb  Could not connect to 127.0.0.1:9"}
    monkeypatch.setattr(fetch_mod.shutil, "which", lambda _: "/usr/bin/apt-get")
    for kind, fix in (("404", "apt-get update"), ("net", "check the network connection")):
        monkeypatch.setattr(subprocess, "run", lambda *a, _s=said[kind], **k: subprocess.CompletedProcess(a, 100, "", _s))
        with pytest.raises(BrushworkError, match=fix):
            fetch_mod._apt_download("krita-data", tmp_path)


def test_images_in_hidden_folders_are_not_listed(tmp_path):
    """Thumbnails an app keeps in `.thumbnails`, or a video run's `.NAME.part`, are no pictures of the folder's."""
    from PIL import Image

    from brushwork.datasets import list_images

    for rel in ("a.png", "sub/b.png", ".thumbnails/a.png", "sub/.cache/c.png", ".clip.mp4.part/frame_000001.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (4, 4)).save(tmp_path / rel)
    assert [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)] == ["a.png", "sub/b.png"]


def test_processes_fetching_at_once_fetch_once_and_a_stopped_refetch_leaves_no_part(fake_deb, tmp_path):
    """Two processes wanting a collection at once (torchrun's ranks on a first run) fetch it once, the second
    waiting for the first; a --force fetch stopped at any moment leaves the old copy whole or none, never a
    half-deleted one that counts as fetched."""
    import multiprocessing

    from brushwork.datasets.fetch import _fetched

    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        counts = pool.starmap(_fetch_and_count, [(str(fake_deb), str(tmp_path / "data"))] * 2)
    assert [c for c, _ in counts] == [3, 3] and sorted(d for _, d in counts) == [0, 1]  # one download in all
    dest = tmp_path / "data" / "mate-backgrounds"
    assert _fetched(dest) and sorted(p.name for p in (tmp_path / "data").iterdir()) == ["mate-backgrounds"]
    (dest / "images" / next(iter(sorted(p.name for p in (dest / "images").iterdir())))).unlink()
    assert _fetched(dest)  # an image the user removed stays removed (no download again)

    def stopped(package, work):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fetch("mate-backgrounds", root=tmp_path / "data", downloader=stopped, force=True)
    assert dest.is_dir() and len(list((dest / "images").iterdir())) == 2  # the old copy as it was


def _fetch_and_count(deb: str, root: str) -> tuple[int, int]:
    import time

    downloads = []

    def downloader(package, w):
        downloads.append(package)
        time.sleep(1.0)  # long enough for the other process to come and wait
        return Path(shutil.copy(deb, w))

    return len(list_images(fetch("mate-backgrounds", root=root, downloader=downloader))), len(downloads)


def test_the_lock_is_taken_again_by_its_holder_and_skipped_where_it_cannot_be(tmp_path, monkeypatch):
    """The art-medium build holds the data folder's lock and fetches its sources, which take it again: it hung
    forever; a file system that cannot lock (NFS wants a file open for writing) leaves the work unlocked."""
    import errno
    import fcntl

    from brushwork.datasets.fetch import one_at_a_time

    with one_at_a_time(tmp_path, "a"):
        with one_at_a_time(tmp_path, "b"):  # (returned at once: it did not wait for itself)
            pass

    def refused(fd, op):
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(fcntl, "flock", refused)
    with one_at_a_time(tmp_path / "nfs", "a"):
        (tmp_path / "nfs" / "made").write_text("x")
    assert (tmp_path / "nfs" / "made").is_file()


def test_a_link_to_a_folder_inside_the_tree_is_walked_at_its_own_place(tmp_path):
    """(review) The walk kept whichever path reached a folder first, so a link could take its pictures away from
    their real folder (and group)."""
    import os

    from PIL import Image

    from brushwork.datasets import list_images

    (tmp_path / "s" / "a").mkdir(parents=True)
    (tmp_path / "s" / "z" / "real").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "s" / "a" / "x.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "s" / "z" / "real" / "y.png")
    os.symlink(tmp_path / "s" / "z" / "real", tmp_path / "s" / "a" / "link")
    assert [p.relative_to(tmp_path / "s").as_posix() for p in list_images(tmp_path / "s")] == ["a/x.png", "z/real/y.png"]


def test_training_output_under_a_linked_data_folder_is_refused(tmp_path, capsys):
    """(review) An --out inside a folder the data links to would be read back by the next run."""
    import os

    from brushwork.cli import main

    (tmp_path / "data" / "a").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "data" / "a" / "more")
    assert main(["gan", "train", str(tmp_path / "data"), "--out", str(tmp_path / "elsewhere" / "run")]) == 2
    assert "is inside the data folder" in capsys.readouterr().err
