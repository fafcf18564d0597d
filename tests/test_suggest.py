"""`brushwork suggest`: styles ranked by colour and texture compatibility, with reasons."""

import json
from pathlib import Path

import numpy as np
from PIL import Image

from brushwork.cli import main
from brushwork.color.suggest import detail_energy, palette_distance, rank_styles
from brushwork.color.palette import Palette


def test_a_style_with_the_photos_colours_and_detail_ranks_first():
    rng = np.random.default_rng(0)
    photo = np.clip(np.array([0.8, 0.5, 0.2]) + 0.1 * rng.standard_normal((96, 128, 1)), 0, 1)
    alike = np.clip(np.array([0.75, 0.5, 0.25]) + 0.1 * rng.standard_normal((96, 128, 1)), 0, 1)
    blue_flat = np.tile(np.linspace([0.1, 0.2, 0.8], [0.2, 0.3, 0.9], 128), (96, 1, 1))
    busy = rng.random((96, 128, 3))
    ranked = rank_styles(photo, {"blue": blue_flat, "alike": alike, "busy": busy})
    assert [s.style for s in ranked][0] == "alike"
    best = ranked[0]
    assert best.colour > 0.5 and best.texture > 0.7 and len(best.palette) == 6 and len(best.reasons) == 3
    assert ranked[-1].strength <= best.strength  # a distant palette gets a gentler strength
    from brushwork.color.suggest import palette_words

    words = [palette_words(d) for d in (0.05, 0.0799, 0.08, 0.12, 0.16, 0.3)]  # the distance and the strength agree
    assert [w[0] for w in words] == ["close", "close", "moderately apart", "moderately apart", "far apart", "far apart"]
    assert ["agree" in w[1] for w in words] == [True, True, False, False, False, False]
    assert ["distant" in w[1] for w in words] == [False, False, False, False, True, True]
    for r in ranked:
        assert any(w[1] in r.reasons[2] for w in words)
    assert detail_energy(busy) > 2 * detail_energy(photo) > 20 * detail_energy(blue_flat)
    # (scale audit) styles one at a time, from a generator: `suggest --styles` of 6,872 pictures held them all (11.4 GiB)
    held = []

    def one_at_a_time():
        for name, pic in (("blue", blue_flat), ("alike", alike), ("busy", busy)):
            held.append(name)
            yield name, pic.copy()

    assert rank_styles(photo, one_at_a_time()) == ranked and held == ["blue", "alike", "busy"]


def test_palette_distance_is_symmetric_and_zero_for_itself():
    a = Palette.from_hex(["#ff0000", "#00ff00"])
    b = Palette.from_hex(["#0000ff"])
    assert palette_distance(a, a) == 0 and palette_distance(a, b) == palette_distance(b, a)


def test_suggest_cli(tmp_path, content_path, capsys):
    styles = tmp_path / "styles"
    styles.mkdir()
    rng = np.random.default_rng(1)
    for i in range(2):
        Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(styles / f"s{i}.png")
    (styles / "broken.png").write_bytes(b"not an image")
    assert main(["suggest", str(content_path), "--styles", str(styles), "--json"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert len(data["suggestions"]) == 3 and data["skipped"] == 1  # two styles + the bundled painting
    scores = [s["score"] for s in data["suggestions"]]
    assert scores == sorted(scores, reverse=True)
    assert main(["suggest", str(content_path), "--styles", str(tmp_path / "nope.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    # the same picture under two names (or given twice) is one suggestion
    import shutil

    shutil.copy(styles / "s0.png", tmp_path / "copy.png")
    assert main(["suggest", str(content_path), "--styles", str(styles), str(tmp_path / "copy.png"),
                 str(styles / "s1.png"), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["suggestions"]) == 3
    # the photo itself (in a style folder, or one the gallery used as a style) is never suggested for itself: it came
    # first at 1.00 (the docs audit); given by name it is left out with a note
    shutil.copy(content_path, styles / "me.png")
    assert main(["suggest", str(content_path), "--styles", str(styles), "--json"]) == 0
    said = capsys.readouterr()
    assert [Path(s["style"]).name for s in json.loads(said.out)["suggestions"]].count("me.png") == 0
    assert "content picture itself" not in said.err
    assert main(["suggest", str(content_path), "--styles", str(styles / "me.png"), "--json"]) == 0
    said = capsys.readouterr()
    assert len(json.loads(said.out)["suggestions"]) == 1 and "left out" in said.err and "content picture itself" in said.err
    (styles / "me.png").unlink()
    Image.open(content_path).save(styles / "me.tiff")  # the same picture in another format (another sha256)
    assert main(["suggest", str(content_path), "--styles", str(styles), "--json"]) == 0
    assert not [s for s in json.loads(capsys.readouterr().out)["suggestions"] if s["style"].endswith("me.tiff")]
    (styles / "me.tiff").unlink()
    # (review) the bundled painting as the photo, and no other style: it said nothing at all
    from brushwork.pipelines.stylize import sample_path

    assert main(["suggest", str(sample_path("starry_night.jpg")), "--no-gallery"]) == 2
    assert "no style to suggest: the content picture itself is left out: give other styles" in capsys.readouterr().err
    # a cut-out photo: its transparent pixels are not its colours; a fully transparent one has none
    rgba = np.asarray(Image.open(content_path).convert("RGBA")).copy()
    rgba[:, : rgba.shape[1] // 2, :3] = 255 - rgba[:, : rgba.shape[1] // 2, :3]  # hidden colours, unlike the rest
    rgba[:, : rgba.shape[1] // 2, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "cut.png")
    Image.fromarray(np.ascontiguousarray(rgba[:, rgba.shape[1] // 2:, :3])).save(tmp_path / "half.png")
    got = {}
    for name in ("cut.png", "half.png"):
        assert main(["suggest", str(tmp_path / name), "--json"]) == 0
        got[name] = json.loads(capsys.readouterr().out)["suggestions"][0]["colour"]
    assert abs(got["cut.png"] - got["half.png"]) < 0.03, got
    rgba[..., 3] = 0
    Image.fromarray(rgba).save(tmp_path / "clear.png")
    assert main(["suggest", str(tmp_path / "clear.png")]) == 2
    assert "fully transparent" in capsys.readouterr().err


def test_suggest_offers_the_gallery_styles(tmp_path, content_path, capsys, monkeypatch):
    from brushwork.provenance.gallery import Gallery
    from brushwork.provenance.recipe import input_sha256

    db = tmp_path / "gallery.db"
    monkeypatch.setenv("BRUSHWORK_GALLERY", str(db))
    assert main(["suggest", str(content_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["gallery_styles"] == 0
    assert not db.exists()  # a reader does not create the gallery
    rng = np.random.default_rng(2)
    used, moved = tmp_path / "used.png", tmp_path / "moved.png"
    for p in (used, moved):
        Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(p)
    out = tmp_path / "out.png"
    Image.new("RGB", (32, 32)).save(out)
    with Gallery.open(db) as g:
        for style in (used, used, moved):  # as a stylize run records its output: the style hashed, then added
            sha = input_sha256(style)
            g.add(out, recipe={"operation": "stylize", "styles": [{"source": style.name, "sha256": sha}]})
        assert [(Path(e["path"]).name, e["uses"]) for e in g.styles()] == [("moved.png", 1), ("used.png", 2)]
    moved.rename(tmp_path / "elsewhere.png")
    assert main(["suggest", str(content_path), "--json"]) == 0
    res = capsys.readouterr()
    data = json.loads(res.out)
    assert data["gallery_styles"] == 1 and len(data["suggestions"]) == 2  # the bundled painting + used.png
    assert [s["style"] for s in data["suggestions"] if s["from_gallery"]] == [str(used)]
    assert "1 of the gallery's styles are no longer at their recorded paths" in res.err
    assert main(["suggest", str(content_path), "--json", "--no-gallery"]) == 0
    assert json.loads(capsys.readouterr().out)["gallery_styles"] == 0
    for bad in ("postgresql://u:p@h:notaport/db", "my gallery://x"):  # a bad setting costs the gallery's styles only
        monkeypatch.setenv("BRUSHWORK_GALLERY", bad)
        assert main(["suggest", str(content_path), "--json"]) == 0
        res = capsys.readouterr()
        assert json.loads(res.out)["gallery_styles"] == 0 and "the gallery's styles are left out" in res.err
    monkeypatch.setenv("BRUSHWORK_GALLERY", str(db))
    # a style given with --styles as well is listed once
    assert main(["suggest", str(content_path), "--json", "--styles", str(used)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["gallery_styles"] == 0 and len(data["suggestions"]) == 2


def test_a_stylize_run_records_its_style_for_suggest(tmp_path, content_path, monkeypatch, capsys):
    from brushwork.provenance.gallery import Gallery

    monkeypatch.setenv("BRUSHWORK_GALLERY", str(tmp_path / "gallery.db"))
    style = tmp_path / "my style.png"
    Image.fromarray((np.random.default_rng(3).random((64, 64, 3)) * 255).astype(np.uint8)).save(style)
    assert main(["stylize", str(content_path), str(style), "-o", str(tmp_path / "out.png"), "--method", "adain",
                 "--size", "64", "-q"]) == 0
    with Gallery.open(tmp_path / "gallery.db") as g:
        assert [e["path"] for e in g.styles()] == [str(style.resolve())]
    capsys.readouterr()
    assert main(["suggest", str(content_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["style"] for s in data["suggestions"] if s["from_gallery"]] == [str(style.resolve())]
