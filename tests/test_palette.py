"""Colour spaces against coloraide, palettes, harmony, contrast and the export formats."""

import json

import numpy as np
import pytest
from coloraide import Color

from brushwork.cli import main
from brushwork.color.export import read_ase, swatch_image, terminal_table, to_ase, to_css, to_gpl
from brushwork.color.harmony import classify, complete, contrast_table
from brushwork.color.palette import (Palette, _Stream, extract_palette, kmeans, median_steps, palette_error,
                                     palette_pixels)
from brushwork.color.spaces import (contrast_ratio, hex_to_rgb, oklab_to_oklch, oklab_to_rgb, oklch_to_oklab,
                                    rgb_to_hex, rgb_to_oklab)
from brushwork.errors import BrushworkError

COLOURS = np.random.default_rng(3).random((40, 3))


def test_oklab_and_oklch_match_coloraide():
    for c in COLOURS:
        ref_lab = Color("srgb", list(c)).convert("oklab").coords()
        ref_lch = Color("srgb", list(c)).convert("oklch").coords()
        np.testing.assert_allclose(rgb_to_oklab(c), ref_lab, atol=2e-5)
        lch = oklab_to_oklch(rgb_to_oklab(c))
        np.testing.assert_allclose(lch[:2], ref_lch[:2], atol=2e-5)
        if ref_lch[1] > 1e-3:  # hue is undefined for greys
            assert abs((lch[2] - ref_lch[2] + 180) % 360 - 180) < 1e-3
    np.testing.assert_allclose(oklab_to_rgb(oklch_to_oklab(oklab_to_oklch(rgb_to_oklab(COLOURS)))), COLOURS, atol=1e-6)


def test_hex_and_contrast_match_coloraide():
    for c in COLOURS[:10]:
        h = rgb_to_hex(c)
        assert h == Color("srgb", list(np.round(c * 255) / 255)).to_string(hex=True)
        np.testing.assert_allclose(hex_to_rgb(h), np.round(c * 255) / 255)
    assert hex_to_rgb("#19f").tolist() == hex_to_rgb("1199ff").tolist()
    for a, b in [("#ffffff", "#777777"), ("#000000", "#ffffff"), ("#1e90ff", "#202020")]:
        ref = Color(a).contrast(Color(b), method="wcag21")
        assert contrast_ratio(hex_to_rgb(a), hex_to_rgb(b)) == pytest.approx(ref, rel=2e-3)
    for bad in ["#12345", "red", "#ggg000", ""]:
        with pytest.raises(BrushworkError, match="not a hex colour"):
            hex_to_rgb(bad)


def _stripes(colours, h=60, w=40):
    return np.concatenate([np.tile(np.asarray(c, np.float64), (h, w, 1)) for c in colours], axis=1)


def test_palette_recovers_known_colours_with_their_shares():
    known = [hex_to_rgb(h) for h in ("#d62828", "#2a9d8f", "#264653", "#e9c46a")]
    img = _stripes(known)
    img[:, :40] = known[0]  # equal shares
    noisy = np.clip(img + np.random.default_rng(0).normal(0, 0.01, img.shape), 0, 1)
    pal = extract_palette(noisy, k=4, seed=1)
    for c in known:
        assert np.min(np.linalg.norm(rgb_to_oklab(pal.rgb) - rgb_to_oklab(c), axis=1)) < 0.01
    np.testing.assert_allclose(pal.shares, 0.25, atol=0.02)
    assert palette_error(noisy, pal) < 0.02
    again = extract_palette(noisy, k=4, seed=1)
    assert again.hex == pal.hex  # deterministic by seed


def test_transparent_pixels_are_ignored_and_saliency_weights():
    img = _stripes([(1, 0, 0), (0, 0, 1)])
    alpha = np.ones(img.shape[:2])
    alpha[:, 40:] = 0  # the blue half is invisible
    with pytest.raises(BrushworkError, match="only 1 distinct colour"):
        extract_palette(img, alpha, k=2)
    assert extract_palette(img, alpha, k=1).hex == ["#ff0000"]
    with pytest.raises(BrushworkError, match="no opaque pixels"):
        extract_palette(img, np.zeros_like(alpha), k=1)
    # a small bright subject on a large grey field: saliency gives it a larger share
    field = np.full((120, 160, 3), 0.5)
    field[50:70, 70:90] = (1.0, 0.8, 0.0)
    plain = extract_palette(field, k=2)
    salient = extract_palette(field, k=2, saliency=True)
    share = lambda p: p.shares[int(np.argmax(p.oklch[:, 1]))]  # noqa: E731
    assert share(salient) > 2 * share(plain)


def test_kmeans_beats_a_single_centre_and_handles_weights():
    x = np.concatenate([np.random.default_rng(0).normal(m, 0.01, (100, 2)) for m in (0, 1, 2)])
    centers, labels = kmeans(x, 3, seed=0)
    np.testing.assert_allclose(np.sort(centers[:, 0]), [0, 1, 2], atol=0.01)
    assert len(set(labels.tolist())) == 3


def test_median_steps_lower_the_mean_distance_on_skewed_clusters():
    rng = np.random.default_rng(1)  # a tight cluster with a long tail of outliers pulls the k-means centre
    x = np.concatenate([rng.normal(0, 0.02, (900, 3)), rng.normal(0, 0.02, (100, 3)) + [0.6, 0, 0],
                        rng.normal(3, 0.02, (500, 3))])
    w = np.ones(len(x))
    centers, _ = kmeans(x, 2, seed=0)
    after = median_steps(x, centers, w)

    def mean_dist(c):
        return np.sqrt(((x[:, None] - c[None]) ** 2).sum(-1)).min(1).mean()

    assert mean_dist(after) < mean_dist(centers) - 0.01
    np.testing.assert_allclose(after[np.argmin(after[:, 0])], 0, atol=0.02)  # the median sits in the dense part


def test_palette_hardly_depends_on_the_seed():
    # ten colour clouds of unequal size for six colours: single k-means starts land in different basins
    rng = np.random.default_rng(0)
    means, sizes = rng.random((10, 3)), rng.dirichlet(np.ones(10) * 0.7)
    px = np.concatenate([np.clip(rng.normal(m, 0.06, (max(int(s * 65536), 1), 3)), 0, 1) for m, s in zip(means, sizes)])
    img = rng.permutation(px)[:250 * 256].reshape(250, 256, 3).astype(np.float32)
    ours = [palette_error(img, extract_palette(img, k=6, seed=s)) for s in range(8)]
    single = []
    for s in range(8):
        lab, w = palette_pixels(img, sample=40_000, seed=s)
        single.append(palette_error(img, np.clip(oklab_to_rgb(kmeans(lab, 6, weights=w, seed=s, n_init=1)[0]), 0, 1)))
    assert max(single) / min(single) > 1.1  # the problem is real on this image
    assert max(ours) / min(ours) < 1.01 and min(ours) <= min(single) * 1.005


def test_a_colour_of_one_pixel_is_not_lost_to_the_sample():
    img = np.zeros((300, 300, 3), np.float32)
    img[:, 150:] = [1.0, 1.0, 1.0]
    img[7, 11] = [1.0, 0.0, 0.0]  # one pixel in 90,000: the 12,000-pixel sample misses it
    lab, _ = palette_pixels(img)
    assert not np.any(np.all(np.isclose(lab, rgb_to_oklab(np.array([[1.0, 0.0, 0.0]]))[0], atol=1e-6), axis=1))
    pal = extract_palette(img, k=3)
    assert "#ff0000" in pal.hex and pal.shares[-1] < 1e-4
    with pytest.raises(BrushworkError, match="only 3 distinct"):
        extract_palette(img, k=4)


def test_palette_stream_is_seeded_and_uniform():
    a, b = _Stream(3).uniform(20_000), _Stream(3).uniform(20_000)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, _Stream(4).uniform(20_000))
    assert 0 <= a.min() and a.max() < 1 and abs(a.mean() - 0.5) < 0.01 and abs(a.std() - 12 ** -0.5) < 0.01
    counts = np.bincount([_Stream(s).choice(np.array([1.0, 0.0, 3.0])) for s in range(4000)], minlength=3)
    assert counts[1] == 0 and 0.2 < counts[0] / 4000 < 0.3
    picked = _Stream(0).subset(np.arange(100, 200), 30)
    assert len(set(picked.tolist())) == 30 and np.all(np.diff(picked) > 0) and picked.min() >= 100


def _pal(*hexes):
    return Palette.from_hex(list(hexes))


@pytest.mark.parametrize("hexes,label", [
    (("#2b4c7e", "#567ebb", "#a3c4f3", "#1a2f4f"), "monochrome"),
    (("#e63946", "#f4a261", "#e9c46a"), "analogous"),
    (("#1e90ff", "#ff8c1e"), "complementary"),
    (("#ff0000", "#00ff00", "#0000ff"), "triadic"),
])
def test_harmony_classification(hexes, label):
    res = classify(_pal(*hexes))
    assert res.label == label, res.scores
    assert res.score > 0.7 and label in res.reason


def test_constructed_hue_sets_classify_as_built():
    def at(hues, L=0.7, C=0.1):
        return Palette(np.clip(oklab_to_rgb(np.array([oklch_to_oklab([L, C, h]) for h in hues])), 0, 1),
                       np.full(len(hues), 1 / len(hues)))
    assert classify(at([40, 190, 250])).label == "split-complementary"
    assert classify(at([20, 110, 200, 290])).label == "tetradic"
    assert classify(at([30, 150, 270])).label == "triadic"
    # completing: a complementary pair needs a third hue for triadic
    adds = complete(at([30, 210]), "complementary")
    assert adds == []
    two = classify(at([30, 150]))  # two hues 120 degrees apart: an incomplete set of three, which the reason says
    assert two.score < 0.7 and "holds 2 of the set's 3 hues" in two.reason and f"--complete {two.label}" in two.reason
    assert "holds" not in classify(at([30, 150, 270])).reason
    tri = complete(at([30, 150]), "triadic")
    assert len(tri) == 1 and abs(((tri[0]["hue"] - 270) + 180) % 360 - 180) < 3
    with pytest.raises(BrushworkError, match="unknown harmony"):
        complete(at([30]), "pentadic")
    greys = classify(_pal("#000000", "#808080", "#ffffff"))  # a black-and-white picture is no error
    assert greys.label == "achromatic" and greys.scores == {} and "grey" in greys.reason
    with pytest.raises(BrushworkError, match="all greys"):
        complete(_pal("#000000", "#808080"), "triadic")


def test_contrast_table_pass_fail():
    rows = contrast_table(_pal("#000000", "#ffffff", "#777777"))
    assert rows[0]["ratio"] == 21.0 and rows[0]["AAA"]
    grey = [r for r in rows if {r["foreground"], r["background"]} == {"#ffffff", "#777777"}][0]
    assert grey["AA_large"] and not grey["AA"]


def test_exports_round_trip(tmp_path):
    pal = _pal("#d62828", "#2a9d8f", "#264653")
    assert "--color-1: #d62828;" in to_css(pal)
    gpl = to_gpl(pal, "test")
    assert gpl.startswith("GIMP Palette") and "214  40  40" in gpl
    back = read_ase(to_ase(pal))
    assert [n for n, _ in back] == ["color-1", "color-2", "color-3"]
    np.testing.assert_allclose([c for _, c in back], pal.rgb, atol=1e-6)
    img = swatch_image(pal, 300, 50)
    assert img.size == (300, 50) and img.getpixel((10, 10)) == (214, 40, 40)
    assert "\x1b[48;2;214;40;40m" in terminal_table(pal, color=True)
    assert "\x1b" not in terminal_table(pal, color=False)


def test_palette_cli_writes_every_format(tmp_path, content_path, capsys):
    out = {ext: tmp_path / f"p.{ext}" for ext in ("png", "css", "gpl", "ase")}
    assert main(["palette", str(content_path), "-k", "5", "--json", "--swatch", str(out["png"]),
                 "--css", str(out["css"]), "--gpl", str(out["gpl"]), "--ase", str(out["ase"])]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["colors"]) == 5 and abs(sum(c["share"] for c in data["colors"]) - 1) < 1e-3
    assert all(p.is_file() for p in out.values())
    assert len(read_ase(out["ase"].read_bytes())) == 5
    # a palette file feeds harmony and recolouring
    assert main(["harmony", "--colors", str(out["gpl"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["palette"] == [c["hex"] for c in data["colors"]]


def test_palette_cli_bad_input(tmp_path, capsys):
    flat = tmp_path / "flat.png"
    from PIL import Image

    Image.new("RGB", (40, 40), (10, 200, 30)).save(flat)
    assert main(["palette", str(flat), "-k", "3"]) == 2
    assert "only 1 distinct colour(s), fewer than -k 3: use -k 1" in capsys.readouterr().err
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (40, 40), (0, 0, 0, 0)).save(clear)
    assert main(["palette", str(clear)]) == 2
    assert "no opaque pixels" in capsys.readouterr().err
    # (docs audit) a visible but translucent picture (a wallpaper overlay, alpha up to 48 %) was told to "use an
    # image with visible content"
    Image.new("RGBA", (40, 40), (200, 30, 30, 122)).save(clear)
    assert main(["palette", str(clear)]) == 2
    err = capsys.readouterr().err
    assert "no pixel at least half opaque to take colours from (its most opaque is 47.8%" in err
    assert "flatten it onto a background first" in err and "visible content" not in err
    assert main(["recolor", str(clear), "--palette", "#1e90ff,#ff8c1e", "-o", str(tmp_path / "r.png")]) == 2
    assert "no pixel at least half opaque to recolour" in capsys.readouterr().err
    Image.new("RGBA", (40, 40), (200, 30, 30, 127)).save(clear)  # (review: 127 of 255 was said to be "50%")
    assert main(["palette", str(clear)]) == 2 and "(its most opaque is 49.8%" in capsys.readouterr().err
    # the image is decoded in a thread while numpy imports: its errors still come back as one line
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8 not really a JPEG")
    # a TIFF of 32-bit float colour (Krita's, GIMP's), which Pillow cannot read: said so, not "use TIFF"
    (tmp_path / "float.tif").write_bytes(b"II*\0" + bytes(60))
    for bad, says in ((tmp_path / "missing.jpg", "does not exist: check the path"),
                      (tmp_path / "bad.jpg", "is not an image Pillow can read"),
                      (tmp_path / "float.tif", "a TIFF whose kind of samples Pillow cannot read")):
        assert main(["palette", str(bad)]) == 2
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1 and "Traceback" not in err
    assert main(["palette", str(tmp_path / ("a" * 5000))]) == 2  # the system refuses the name itself
    err = capsys.readouterr().err
    assert "File name too long" in err and "check the path" in err and err.count("\n") == 1
    assert main(["palette", str(flat), "-k", "1", "--swatch", str(tmp_path / "nope" / "s.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    # two outputs naming one file, or a palette file named for the other format: refused, nothing written
    same = tmp_path / "same.gpl"
    for argv, says in ((["--gpl", str(same), "--ase", str(same)], "both name"),
                       (["--ase", str(same)], "give a file ending in .ase")):
        assert main(["palette", str(flat), "-k", "1", *argv]) == 2
        assert says in capsys.readouterr().err and not same.exists()
    assert main(["harmony", "--colors", "#12,#ffffff"]) == 2
    assert "'#12' is not a hex colour" in capsys.readouterr().err
    assert main(["harmony"]) == 2
    assert "give an IMAGE or --colors" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.part")) and not list(tmp_path.glob(".*"))


def test_palette_and_compose_do_not_import_torch(content_path):
    import subprocess
    import sys

    code = ("import sys; from brushwork.cli import main; "
            f"assert main(['palette', {str(content_path)!r}, '-k', '3']) == 0; "
            f"assert main(['compose', {str(content_path)!r}]) == 0; "
            "assert 'torch' not in sys.modules, 'torch was imported'; "
            "assert 'numpy.random' not in sys.modules, 'numpy.random costs 9 ms of start-up'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_large_palette_mode_images_are_read(tmp_path, capsys):
    from PIL import Image

    big = tmp_path / "big.gif"
    Image.new("RGB", (1100, 1100), (200, 10, 10)).save(big)
    assert main(["palette", str(big), "-k", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["colors"][0]["hex"] == "#c80a0a"


def test_palette_over_a_folder_is_resumable_and_split(tmp_path, capsys, monkeypatch):
    import json

    from PIL import Image

    from brushwork.cli import main

    src = tmp_path / "imgs"
    (src / "sub").mkdir(parents=True)
    for i, c in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        im = Image.new("RGB", (40, 30), c)
        im.paste((250, 250, 250), (0, 0, 20, 30))  # two colours, half and half
        im.save((src / "sub" if i == 2 else src) / f"{i}.png")
    (src / "broken.png").write_bytes(b"nope")
    out = tmp_path / "pal"
    assert main(["palette", str(src), "--out", str(out), "-k", "2", "-q"]) == 0
    io = capsys.readouterr()
    assert "3 written, 0 already done, 1 failed and skipped" in io.out and "broken.png" in io.err
    got = json.loads((out / "sub" / "2.png.json").read_text())
    assert got["settings"]["k"] == 2 and {c["hex"] for c in got["colors"]} == {"#1e1ec8", "#fafafa"}
    assert main(["palette", str(src), "--out", str(out), "-k", "2", "-q"]) == 0
    assert "0 written, 3 already done" in capsys.readouterr().out
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["palette", str(src), "--out", str(tmp_path / "half"), "-k", "2", "-q"]) == 0
    assert "process 2 of 2:" in capsys.readouterr().out
    half = {p.name for p in (tmp_path / "half").rglob("*.json")}
    monkeypatch.setenv("RANK", "0")
    assert main(["palette", str(src), "--out", str(tmp_path / "half"), "-k", "2", "-q"]) == 0
    assert "0 already done" in capsys.readouterr().out  # rank 0 has none of rank 1's files
    assert half < {p.name for p in (tmp_path / "half").rglob("*.json")} == {"0.png.json", "1.png.json", "2.png.json"}
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    Image.new("RGB", (40, 30), (9, 9, 9)).save(src / "0.png")  # an edited source is done again
    im = Image.open(src / "0.png")
    im.paste((250, 250, 250), (0, 0, 20, 30))
    im.save(src / "0.png")
    assert main(["palette", str(src), "--out", str(out), "-k", "2", "-q"]) == 0
    assert "1 written, 2 already done, 1 of them redone" in capsys.readouterr().out
    assert main(["palette", str(src), "-q"]) == 2 and "--out DIR" in capsys.readouterr().err
    # a flat graphic of fewer colours than -k: its colours, not a skip (a folder cannot lower -k for one file)
    Image.new("RGB", (40, 30), (9, 9, 200)).save(src / "flat.png")
    assert main(["palette", str(src), "-o", str(out), "-k", "2", "-q"]) == 0
    assert "1 written, 3 already done" in capsys.readouterr().out
    assert [c["hex"] for c in json.loads((out / "flat.png.json").read_text())["colors"]] == ["#0909c8"]


def test_completions_sit_on_the_hue_they_name_and_contrast_uses_the_hex_shown():
    # a dark red's triadic partners: once clipped into sRGB they drifted up to 60 degrees off their arc
    for light, chroma, hue in ((0.318, 0.131, 29.0), (0.2, 0.2, 200.0), (0.8, 0.15, 300.0)):
        pal = Palette(np.clip(oklab_to_rgb(oklch_to_oklab(np.array([[light, chroma, hue]]))), 0, 1), np.ones(1))
        for c in complete(pal, "triadic"):
            got = oklab_to_oklch(rgb_to_oklab(hex_to_rgb(c["hex"])))[2]
            assert min(abs(got - c["hue"]), 360 - abs(got - c["hue"])) < 2.0, (light, chroma, hue, c, got)
    # a pair at 4.50 from unrounded colours, 4.48 from the hex codes the table shows: it fails AA
    row = contrast_table(Palette(np.stack([hex_to_rgb("#5443eb"), hex_to_rgb("#51f2e0")]) + 0.0015, np.ones(2) / 2))[0]
    shown = contrast_ratio(hex_to_rgb(row["foreground"]), hex_to_rgb(row["background"]))
    assert shown - 0.01 < row["ratio"] <= shown and row["AA"] == (shown >= 4.5)  # (shown rounded down)
    # a rectangle (0, 60, 180, 240) is named as the rectangle it fits, not the square
    assert "at 0, 60, 180, 240" in classify(["#d2849c", "#cc8f5c", "#4bb3a1", "#60a7d6"]).reason


def test_translucent_pixels_count_as_their_own_colour():
    rgb = np.zeros((16, 16, 3))
    rgb[:8] = (1.0, 0.0, 0.0)
    rgb[8:] = (1.0, 0.0, 1.0)
    alpha = np.full((16, 16), 0.6)
    over_white = rgb * alpha[..., None] + (1 - alpha[..., None])  # as read_image gives a translucent picture
    assert sorted(extract_palette(over_white, alpha, k=2).hex) == ["#ff0000", "#ff00ff"]


def test_palette_files_with_odd_values_and_long_output_names(tmp_path, capsys):
    import struct

    from brushwork.cli import main
    from brushwork.color.export import write_text_atomic

    def ase(values):  # one RGB entry per value triple (Adobe's layout)
        blocks = b""
        for r, g, b in values:
            name = "c\0".encode("utf-16-be")
            body = struct.pack(">H", 2) + name + b"RGB " + struct.pack(">fff", r, g, b) + struct.pack(">H", 2)
            blocks += struct.pack(">HI", 0x0001, len(body)) + body
        return b"ASEF" + struct.pack(">HHI", 1, 0, len(values)) + blocks

    (tmp_path / "nan.ase").write_bytes(ase([(float("nan"), 0.5, 0.5), (1.0, 0.0, 0.0)]))
    assert main(["harmony", "--colors", str(tmp_path / "nan.ase")]) == 2
    assert "not a number" in capsys.readouterr().err
    (tmp_path / "uni.gpl").write_text("GIMP Palette\n\u00b2 0 0 x\n10 20 30 ok\n")  # '²' is a digit to isdigit
    assert main(["harmony", "--colors", str(tmp_path / "uni.gpl")]) == 0
    capsys.readouterr()
    long = tmp_path / ("a" * 250 + ".css")  # within the 255-character limit; its temporary name must be too
    write_text_atomic(long, ":root {}")
    assert long.read_text() == ":root {}" and [p.name for p in tmp_path.glob(".*")] == []


def test_flat_beside_flat_is_alike_in_texture():
    from brushwork.color.suggest import rank_styles

    flat = np.full((32, 32, 3), 0.4, np.float32)
    r = rank_styles(flat, {"flat": np.full((32, 32, 3), 0.42, np.float32)})[0]
    assert r.texture > 0.99 and "similar" in r.reasons[1]


def test_few_colour_images_keep_their_own_colours_when_read_small(tmp_path, capsys):
    """Pixel art upscaled, a fine dither and a 1-pixel strip: a palette names their own colours in their
    shares. A box reduction mixed the dither's red and blue into purple, and the art's neighbours into new
    colours; a 16 x 1 strip (a palette exported at 1x) was too small."""
    from PIL import Image

    from brushwork.imaging.io import read_image

    y, x = np.mgrid[0:1200, 0:1200]
    dither = np.where(((x + y) % 2 == 0)[..., None], [255, 0, 0], [0, 0, 255]).astype(np.uint8)
    Image.fromarray(dither).save(tmp_path / "dither.png")
    rng = np.random.default_rng(0)
    colours = rng.integers(0, 256, (16, 3)).astype(np.uint8)
    art = colours[rng.integers(0, 16, (100, 100))].repeat(12, 0).repeat(12, 1)  # 1200 px: reduced to 600
    Image.fromarray(art).save(tmp_path / "art.png")
    strip = Image.new("RGB", (16, 1))
    strip.putdata([tuple(int(v) for v in c) for c in colours])
    strip.save(tmp_path / "strip.png")
    own = {"#%02x%02x%02x" % tuple(c) for c in colours}
    assert main(["palette", str(tmp_path / "dither.png"), "-k", "2", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["colors"]
    assert {c["hex"] for c in got} == {"#ff0000", "#0000ff"} and all(abs(c["share"] - 0.5) < 0.02 for c in got)
    for name in ("art.png", "strip.png"):
        assert main(["palette", str(tmp_path / name), "-k", "16", "--json"]) == 0
        got = json.loads(capsys.readouterr().out)["colors"]
        assert {c["hex"] for c in got} == own
    five = Image.new("RGB", (5, 1))  # a strip of fewer colours than harmony's default -k 6: those five
    five.putdata([tuple(int(v) for v in c) for c in colours[:5]])
    five.save(tmp_path / "five.png")
    assert main(["harmony", str(tmp_path / "five.png")]) == 0
    assert capsys.readouterr().out.splitlines()[0].count("#") == 5
    # (only where asked: a reduced read for analyses still averages, as before)
    assert len(np.unique(read_image(tmp_path / "dither.png", draft=512).rgb.reshape(-1, 3), axis=0)) == 1
    kept = read_image(tmp_path / "dither.png", draft=512, keep_colors=True)
    assert max(kept.size) < 1200 and len(np.unique(kept.rgb.reshape(-1, 3), axis=0)) == 2


def test_ase_grey_and_lab_swatches_are_converted_and_cmyk_is_named(tmp_path, capsys):
    """An .ase file of RGB, Gray, LAB and CMYK swatches: grey and LAB (L stored 0-1, D50) become sRGB (LAB
    checked against coloraide); CMYK, which needs a printing profile, is left out with a note naming it, and
    a file of CMYK alone is refused with the same reason. They were dropped without a word."""
    import struct

    def block(name, model, values):
        n = name + "\0"
        body = struct.pack(">H", len(n)) + n.encode("utf-16-be") + model + struct.pack(f">{len(values)}f", *values)
        body += struct.pack(">H", 2)
        return struct.pack(">HI", 1, len(body)) + body

    def ase(blocks):
        return b"ASEF" + struct.pack(">HHI", 1, 0, len(blocks)) + b"".join(blocks)

    lab = Color("rgb(30 160 90)").convert("lab")  # coloraide's CIELAB (D50)
    mixed = tmp_path / "mixed.ase"
    mixed.write_bytes(ase([block("red", b"RGB ", [1, 0, 0]), block("mid", b"Gray", [0.5]),
                           block("green", b"LAB ", [lab["lightness"] / 100, lab["a"], lab["b"]]),
                           block("cyan", b"CMYK", [1, 0, 0, 0])]))
    skipped = []
    got = read_ase(mixed.read_bytes(), skipped)
    assert [n for n, _ in got] == ["red", "mid", "green"] and skipped == ["cyan"]
    assert np.allclose(got[1][1], 0.5) and np.allclose(got[2][1], [30 / 255, 160 / 255, 90 / 255], atol=1e-3)
    assert main(["harmony", "--colors", str(mixed)]) == 0
    captured = capsys.readouterr()
    assert "#ff0000 #808080 #1ea05a" in captured.out and "'cyan'" in captured.err and "CMYK" in captured.err
    only = tmp_path / "cmyk.ase"
    only.write_bytes(ase([block("cyan", b"CMYK", [1, 0, 0, 0])]))
    assert main(["harmony", "--colors", str(only)]) == 2
    assert "printing profile" in capsys.readouterr().err


def test_harmony_names_the_set_that_complete_fills_and_k_has_a_limit(capsys):
    """Two hues on a stretch of equally good triadic placements: the set named is the one --complete fills (it
    named 266 and added 278); -k above 256 is refused in one line (it offered -k 19086 and fitted for minutes);
    arrays of the wrong shape or with NaN are named."""
    said = classify(["#c66b4a", "#4f9d6e"]).reason
    hue = complete(["#c66b4a", "#4f9d6e"], "triadic")[0]["hue"]
    assert f"add a hue near {hue:.0f} degrees" in said
    assert main(["palette", "x.png", "-k", "257"]) == 2
    assert "at most 256" in capsys.readouterr().err
    with pytest.raises(BrushworkError, match="from 1 to 256"):
        extract_palette(np.zeros((4, 4, 3)), k=300)
    with pytest.raises(BrushworkError, match=r"for RGBA, pass a\[..., :3\]"):
        extract_palette(np.zeros((5, 5, 4)), k=1)
    with pytest.raises(BrushworkError, match="NaN"):
        extract_palette(np.full((5, 5, 3), np.nan), k=1)


def test_completions_have_colour_and_the_most_sRGB_shows_and_contrast_is_not_rounded_up():
    """A complement at a lightness where its hue is a grey takes the nearest lightness with colour (yellow's was
    #f4f3fe, which classify calls grey); a completion is at the sRGB limit, not up to 10 % below it; the
    contrast shown never rounds a failing 2.998 up to 3.00; hex values round halves up; a palette whose own hues
    lie off the set's arcs says how well the completed palette fits."""
    from brushwork.color.harmony import _gamut_chroma
    from brushwork.color.spaces import rgb_to_hex, rgb_to_oklab

    (yellow_pair,) = complete(["#ffff00"], "complementary")
    assert classify(["#ffff00", yellow_pair["hex"]]).label == "complementary"
    (first, _) = complete(["#1e90ff"], "split-complementary")
    lab = rgb_to_oklab(hex_to_rgb(first["hex"])[None])[0]
    chroma = float(np.hypot(lab[1], lab[2]))
    assert chroma > 0.97 * _gamut_chroma(float(lab[0]), first["hue"])  # (the x0.9 steps gave 0.101 of 0.112)
    (row,) = contrast_table(["#595959", "#000000"])
    assert row["ratio"] == 2.99 and not row["AA_large"]
    assert rgb_to_hex([2.5 / 255] * 3) == "#030303" and rgb_to_hex([254.5 / 255] * 3) == "#ffffff"
    off = complete(["#e63946", "#2a9d8f"], "triadic")
    assert off and all("fits triadic at 0.9" in c["reason"] for c in off)
    assert all("fits" not in c["reason"] for c in complete(["#e63946"], "triadic"))


def test_damaged_exif_is_quiet_and_a_full_disk_is_one_line(tmp_path, monkeypatch, capsys):
    """A photo whose EXIF block is damaged is read without Pillow's two-line UserWarning on every command; a
    palette file that cannot be written for a full disk is one line (it was an OSError traceback)."""
    import errno
    import os
    import subprocess
    import sys

    from PIL import Image

    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (40, 30), (200, 90, 30)).save(photo, exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x00\x05garbage")
    p = subprocess.run([sys.executable, "-m", "brushwork", "palette", str(photo), "-k", "1"], capture_output=True,
                       text=True, env={**os.environ, "BRUSHWORK_GALLERY": "off"})
    assert p.returncode == 0 and p.stderr == "", p.stderr

    real_fdopen = os.fdopen

    class Full:
        def __init__(self, fd, *a, **k):
            self.fh = real_fdopen(fd, *a, **k)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", Full)
    monkeypatch.setenv("BRUSHWORK_GALLERY", "off")
    capsys.readouterr()
    assert main(["palette", str(photo), "-k", "1", "--css", str(tmp_path / "p.css")]) == 2
    err = capsys.readouterr().err
    assert "could not write" in err and "No space left" in err and err.count("\n") == 1
    assert not list(tmp_path.glob("*.part")) and not (tmp_path / "p.css").exists()


def test_exports_take_hex_colours_and_check_their_names():
    """to_css, to_ase and swatch_image with hex colours were AttributeErrors; a prefix with a space wrote invalid CSS
    ('--my color-1'), a name with a line break a broken GIMP palette, a 0 px swatch a bare PIL ValueError."""
    from brushwork.color.export import swatch_image, to_ase, to_css, to_gpl

    hexes = ["#ff0000", "#00ff00"]
    assert "--color-1: #ff0000" in to_css(hexes) and to_ase(hexes).startswith(b"ASEF")
    assert swatch_image(hexes, width=100, height=20).size == (100, 20)
    for call, said in ((lambda: to_css(hexes, prefix="my color"), "prefix 'my color'"),
                       (lambda: to_gpl(hexes, name="a\nb"), "one line of text"),
                       (lambda: swatch_image(hexes, width=0, height=0), "1 to 16384 pixels")):
        with pytest.raises(BrushworkError, match=said):
            call()


def test_an_unwritable_palette_file_is_named_as_given(tmp_path, monkeypatch, capsys):
    """(docs audit) `palette --css /sys/a.css` said "cannot use '/sys/.a.css.grvnarci.part'": the temporary name,
    which the user never gave. The output's own name, in one line."""
    import os
    import tempfile

    from PIL import Image

    Image.new("RGB", (40, 40), (200, 30, 30)).save(tmp_path / "red.png")

    def refused(dir, prefix, suffix):
        raise PermissionError(13, "Permission denied", os.path.join(dir, prefix + "x1y2z3" + suffix))

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    assert main(["palette", str(tmp_path / "red.png"), "-k", "1", "--css", str(tmp_path / "a.css")]) == 2
    err = capsys.readouterr().err
    assert f"could not write '{tmp_path / 'a.css'}' (Permission denied)" in err and ".part" not in err
    assert len(err.strip().splitlines()) == 1 and not list(tmp_path.glob("*a.css*"))
