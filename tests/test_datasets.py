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


@pytest.fixture
def fake_deb(tmp_path: Path) -> Path:
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        "Package: mate-backgrounds\nVersion: 9.9-1\nArchitecture: all\nMaintainer: t <t@t>\nDescription: test\n")
    imgs = root / "usr/share/backgrounds/mate/nature"
    imgs.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(np.full((40, 60, 3), 60 * i, np.uint8)).save(imgs / f"p{i}.jpg")
    (root / "usr/share/backgrounds/mate/readme.txt").write_text("not an image")
    doc = root / "usr/share/doc/mate-backgrounds"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text("Licence: GPL-2+\n")
    deb = tmp_path / "mate-backgrounds_9.9-1_all.deb"
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root), str(deb)], check=True, capture_output=True)
    return deb


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
