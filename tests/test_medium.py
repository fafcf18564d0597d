"""The art-medium dataset builder (on tiny fake packages), grouped splits and k-fold, the shipped model."""

import json

import numpy as np
import pytest
from PIL import Image

from brushwork.cli import main
from brushwork.datasets import medium
from brushwork.errors import BrushworkError
from brushwork.training.classify import folds, load_folder, stratified_split, ungrouped_classes


def _collection(root, name, sources, make):
    folder = root / name / "images"
    folder.mkdir(parents=True)
    files = []
    for i, src in enumerate(sources):
        target = f"{i:05d}_{src.rsplit('/', 1)[1]}"
        make(i).save(folder / target)
        files.append({"file": target, "source": src})
    (root / name / "manifest.json").write_text(json.dumps({"name": name, "files": files}))


@pytest.fixture()
def fake_packages(tmp_path):
    rng = np.random.default_rng(0)

    def noise(w, h, mode="RGB"):
        return lambda i: Image.fromarray(rng.integers(0, 255, (h, w, len(mode)), dtype=np.uint8), mode)

    root = tmp_path / "data"
    _collection(root, "mate-backgrounds", [f"usr/share/backgrounds/mate/nature/p{i}.jpg" for i in range(3)]
                + ["usr/share/backgrounds/mate/abstract/a.png"], noise(500, 400))
    _collection(root, "plasma-wallpapers", ["usr/share/wallpapers/Path/contents/images/1280x800.jpg",
                                            "usr/share/wallpapers/Path/contents/images/2560x1600.jpg",
                                            "usr/share/wallpapers/Shell/contents/images/2560x1600.jpg"],
                lambda i: noise(800 if i == 1 else 500, 400)(i))  # the second file is the larger
    _collection(root, "opencv-samples", ["usr/share/doc/opencv-doc/examples/data/baboon.jpg",
                                         "usr/share/doc/opencv-doc/examples/data/starry_night.jpg"], noise(512, 512))
    _collection(root, "wesnoth-art", [f"usr/share/games/wesnoth/1.16/data/core/images/portraits/x{i}.png"
                                      for i in range(6)], noise(400, 400, "RGBA"))
    _collection(root, "wesnoth-sprites", [f"usr/share/games/wesnoth/1.16/data/core/images/units/{f}/u{i}.png"
                                          for f in ("elves", "orcs", "drakes") for i in range(8)], noise(72, 72, "RGBA"))
    _collection(root, "openclipart", [f"usr/share/openclipart/png/{c}/c{i}.png" for c in ("food", "tools", "people")
                                      for i in range(8)], noise(300, 200, "RGBA"))
    _collection(root, "krita-patterns", [f"usr/share/krita/patterns/k{i}.png" for i in range(3)], noise(256, 256))
    _collection(root, "gimp-patterns", [f"usr/share/gimp/2.0/patterns/g{i}.png" for i in range(3)], noise(512, 512))
    return root


def test_build_normalises_groups_and_records_sources(fake_packages, tmp_path):
    out = medium.build_medium(tmp_path / "am", root=fake_packages, per_class=24)
    m = json.loads((out / "manifest.json").read_text())
    assert m["counts"] == {k: 24 for k in medium.MEDIA}
    for r in m["files"]:
        with Image.open(out / r["file"]) as im:
            assert im.format == "JPEG" and im.mode == "RGB" and max(im.size) <= medium.STORE_SIDE
        assert r["file"].startswith(f"{r['medium']}/{r['group']}/") and r["licence"]
    groups = {k: {r["group"] for r in m["files"] if r["medium"] == k} for k in medium.MEDIA}
    assert groups["photo"] == {"p0", "p1", "p2", "Path", "baboon"}  # abstract art, paintings left out
    assert groups["pixel-art"] == {"elves", "orcs", "drakes"} and groups["clip-art"] == {"food", "tools", "people"}
    assert {r["source"] for r in m["files"] if r["group"] == "Path"} == {
        "usr/share/wallpapers/Path/contents/images/2560x1600.jpg"}  # the largest size of a wallpaper only
    sizes = {Image.open(out / r["file"]).size for r in m["files"] if r["medium"] == "pixel-art"}
    whole = {sz for sz in sizes if sz[0] >= 72}
    assert whole == {(72, 72), (144, 144)}  # whole sprites at 1x and 2x, never resampled
    assert all(32 <= w == h <= 48 for w, h in sizes - whole)  # and small windows
    again = medium.build_medium(tmp_path / "am2", root=fake_packages, per_class=24)
    assert json.loads((again / "manifest.json").read_text())["files"] == m["files"]  # deterministic


def test_groups_stay_on_one_side(fake_packages, tmp_path):
    out = medium.build_medium(tmp_path / "am", root=fake_packages, per_class=24)
    x, y, classes, skipped, groups = load_folder(out, 32)
    assert classes == list(medium.MEDIA) and skipped == 0 and len(x) == 120
    for tr, te in folds(y, 3, 0, groups):
        assert not set(groups[tr]) & set(groups[te])
        assert set(y[te]) == set(range(5))  # still stratified: every medium in every test fold
    tr, va = stratified_split(y, 0.25, 0, groups)
    assert not set(groups[tr]) & set(groups[va]) and set(y[tr]) == set(y[va]) == set(range(5))
    with pytest.raises(BrushworkError, match="group"):
        folds(y, 5, 0, groups)  # three factions of sprites cannot make five grouped folds
    assert ungrouped_classes(y, groups, classes) == []
    one = groups.copy()
    one[y == 1] = "only"  # a class whose images all sit in one sub-folder: split one by one, and said so
    assert ungrouped_classes(y, one, classes) == [classes[1]]
    assert ungrouped_classes(y, None, classes) == []


def test_fetch_command_builds_it(fake_packages, capsys):
    assert main(["data", "fetch", "art-medium", "--root", str(fake_packages)]) == 0
    assert "art-medium: 24 clip-art, 320 painting, 320 photo, 24 pixel-art, 320 texture" in capsys.readouterr().out
    assert (fake_packages / "art-medium" / "manifest.json").is_file()
    assert not [p for p in fake_packages.iterdir() if p.name.startswith(".")]  # no half-built folder left


def test_shipped_medium_classifier_loads_and_predicts(tmp_path, capsys):
    from brushwork.pipelines.classify import load_classifier

    model, cfg = load_classifier("medium")
    assert list(cfg.classes) == list(medium.MEDIA) and cfg.arch == "efficientnet-lite0"
    rng = np.random.default_rng(0)
    photo = tmp_path / "p.png"
    Image.fromarray(rng.integers(0, 255, (150, 200, 3), dtype=np.uint8)).save(photo)
    assert main(["classify", "predict", "--model", "medium", str(photo), "--json", "--top-k", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    probs = [t["probability"] for t in out[0]["top"]]
    assert sorted(t["label"] for t in out[0]["top"]) == list(medium.MEDIA) and abs(sum(probs) - 1) < 1e-4
    assert main(["classify", "predict", "--model", "medium"]) == 2
    clear = tmp_path / "clear.png"  # (was named "clip-art 0.88": a white square)
    Image.new("RGBA", (64, 64), (255, 0, 0, 0)).save(clear)
    capsys.readouterr()
    assert main(["classify", "predict", "--model", "medium", str(clear)]) == 2
    assert "is fully transparent: it has nothing to classify" in capsys.readouterr().err


def test_shipped_classifier_name_in_eval_asks_for_an_out_folder(tmp_path, capsys):
    assert main(["classify", "eval", "medium", str(tmp_path)]) == 2
    assert "give --out" in capsys.readouterr().err
