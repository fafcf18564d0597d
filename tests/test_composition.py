"""Saliency, composition scores, horizon tilt and crop suggestions on constructed images."""

import json

import numpy as np
import pytest
from PIL import Image

from brushwork.cli import main
from brushwork.composition import analyze, parse_ratio, saliency_map, suggest_crops
from brushwork.errors import BrushworkError


def _planted(background: str, top=50, left=100, size=24, h=150, w=220):
    rng = np.random.default_rng(0)
    if background == "flat":
        img = np.full((h, w, 3), 0.5)
    else:  # a busy, textured field
        img = np.clip(0.5 + 0.15 * rng.standard_normal((h, w, 1)) + 0.05 * rng.standard_normal((h, w, 3)), 0, 1)
    img[top:top + size, left:left + size] = (0.95, 0.75, 0.05)
    return img, (top, left, size)


@pytest.mark.parametrize("background", ["flat", "textured"])
def test_saliency_peaks_on_a_planted_object(background):
    img, (top, left, size) = _planted(background)
    sal = saliency_map(img)
    assert sal.shape == img.shape[:2] and sal.min() >= 0 and sal.max() <= 1
    y, x = np.unravel_index(sal.argmax(), sal.shape)
    assert top - 3 <= y < top + size + 3 and left - 3 <= x < left + size + 3
    assert sal[top:top + size, left:left + size].mean() > 4 * sal.mean()


def test_subject_on_a_thirds_point_scores_high():
    on, _ = _planted("flat", top=50 - 12, left=147 - 12)  # centre at (1/3 H, 2/3 W)
    off, _ = _planted("flat", top=75 - 12, left=110 - 12)  # dead centre
    a, b = analyze(on), analyze(off)
    assert a.thirds > 0.95 and b.thirds < 0.8
    assert b.balance > a.balance  # a centred subject balances the frame
    assert "thirds point (0.67, 0.33)" in a.reasons["thirds"]


@pytest.mark.parametrize("degrees", [0.0, 4.0, -3.0])
def test_horizon_and_tilt(degrees):
    h, w = 300, 450
    yy, xx = np.mgrid[0:h, 0:w]
    line = h * 0.4 + (xx - w / 2) * np.tan(np.radians(degrees))
    img = np.where((yy > line)[..., None], [0.25, 0.35, 0.15], [0.6, 0.75, 0.95])
    c = analyze(img + np.random.default_rng(1).normal(0, 0.01, img.shape))
    assert c.horizon == pytest.approx(0.4, abs=0.03)
    assert c.tilt_degrees == pytest.approx(degrees, abs=0.5)
    assert (c.reasons["tilt"] == "level") == (degrees == 0.0)


def test_no_horizon_means_no_tilt():
    img, _ = _planted("textured")
    c = analyze(img)
    assert c.horizon is None and c.tilt_degrees == 0.0


@pytest.mark.parametrize("ratio", ["1:1", "4:5", "3:2", "16:9", "9:16"])
def test_crops_stay_inside_have_the_ratio_and_keep_the_subject(ratio):
    img, (top, left, size) = _planted("textured", h=180, w=320)
    (crop,) = suggest_crops(img, [ratio])
    l, t, r, b = crop.box
    assert 0 <= l < r <= 320 and 0 <= t < b <= 180
    assert abs((r - l) / (b - t) - parse_ratio(ratio)) < 0.02
    assert l <= left and left + size <= r and t <= top and top + size <= b  # the subject is kept
    assert crop.reasons and 0 < crop.score


def test_ratio_parsing():
    assert parse_ratio("4:5") == 0.8 and parse_ratio("1.5") == 1.5
    for bad in ["4:0", "a:b", "0:1", "100:1", "-1"]:
        with pytest.raises(BrushworkError):
            parse_ratio(bad)


def test_compose_cli(tmp_path, content_path, capsys):
    overlay, crop = tmp_path / "o.png", tmp_path / "c.jpg"
    assert main(["compose", str(content_path), "--ratios", "1:1,16:9", "--overlay", str(overlay),
                 "--apply", str(crop), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["ratio"] for c in data["crops"]] == ["1:1", "16:9"]
    best = max(data["crops"], key=lambda c: c["score"])  # the best-scoring crop of the ratios (not the first's)
    assert data["applied"]["ratio"] == best["ratio"] and data["applied"]["file"] == str(crop)
    l, t, r, b = best["box"]
    assert Image.open(crop).size == (r - l, b - t)
    assert main(["compose", str(content_path), "--ratios", "16:9,1:1", "--apply", str(crop)]) == 0
    assert f"wrote the best crop ({best['ratio']}" in capsys.readouterr().out  # (whatever the order)
    assert Image.open(overlay).size == Image.open(content_path).size
    assert main(["compose", str(content_path), "--ratios", "3:0"]) == 2
    assert "aspect ratio '3:0'" in capsys.readouterr().err
    assert main(["compose", str(content_path), "--apply", str(tmp_path / "x.gif")]) == 2
    assert not (tmp_path / "x.gif").exists()
    capsys.readouterr()
    assert main(["compose", str(content_path), "--overlay", str(tmp_path / "y.png"), "--apply", str(tmp_path / "y.png")]) == 2
    assert "--overlay and --apply both name" in capsys.readouterr().err and not (tmp_path / "y.png").exists()


def test_tiny_images(tmp_path, capsys):
    tiny = tmp_path / "t.png"
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tiny)
    assert main(["compose", str(tiny), "--apply", str(tmp_path / "c.png")]) == 2
    assert "too small" in capsys.readouterr().err and not (tmp_path / "c.png").exists()
    crops = suggest_crops(np.random.default_rng(0).random((9, 30, 3)), ["1:1", "16:9"])
    assert len(crops) == 2 and all(c.box[2] <= 30 and c.box[3] <= 9 for c in crops)


def test_a_flat_picture_has_no_fake_subject():
    c = analyze(np.full((90, 120, 3), 0.3))
    assert c.subject == (0.5, 0.5) and c.center_of_mass == (0.5, 0.5) and c.balance == 1.0


def test_power_scores_span_zero_to_one_and_crops_are_distinct():
    from brushwork.composition.analysis import _power_score

    for lines in ((1 / 3, 2 / 3), (0.382, 0.618)):
        assert _power_score(0.0, 0.0, lines)[0] == pytest.approx(0.0, abs=1e-9)  # a corner: as far as can be
        assert _power_score(*lines, lines)[0] == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    img = rng.random((300, 400, 3)).astype(np.float32)
    boxes = [c.box for c in suggest_crops(img, ["1:1"], top=3)]
    assert len(set(boxes)) == len(boxes) == 3


def test_an_off_balance_picture_is_never_weighted_to_the_centre():
    """Short of 'well balanced' (centre offsets of 0.07-0.1), the reason said 'weighted to the centre'."""
    from brushwork.composition.analysis import _side

    assert _side(0.40, 0.44) == "top left" and _side(0.45, 0.5) == "left" and _side(0.5, 0.58) == "bottom"


def test_long_strips_transparent_pictures_and_crops_that_keep_the_file(tmp_path, capsys):
    """A 10 x 3000 strip is analysed (its working copy was one pixel across: an SVD error in the horizon fit,
    NaN texture scores in `suggest`); a fully transparent picture is refused, as the other colour commands
    refuse it; --apply crops the file itself when it keeps its format: a 16-bit grey at 300 dpi stays one."""
    strip = np.zeros((3000, 10, 3), np.uint8)
    strip[1500:] = 255
    Image.fromarray(strip).save(tmp_path / "strip.png")
    assert main(["compose", str(tmp_path / "strip.png"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["thirds"] >= 0
    assert main(["suggest", str(tmp_path / "strip.png"), "--json"]) == 0
    assert "NaN" not in capsys.readouterr().out
    clear = tmp_path / "clear.png"
    Image.new("RGBA", (64, 48), (200, 10, 10, 0)).save(clear)
    assert main(["compose", str(clear), "--apply", str(tmp_path / "c.png")]) == 2
    assert "fully transparent" in capsys.readouterr().err and not (tmp_path / "c.png").exists()
    Image.new("RGBA", (64, 48), (200, 10, 10, 100)).save(tmp_path / "glow.png")  # faint, but there
    assert main(["compose", str(tmp_path / "glow.png"), "--json"]) == 0
    capsys.readouterr()
    Image.new("RGB", (80, 60), "teal").save(tmp_path / "c.jpg", comment=b"owner: Jane Doe, 12 Secret Lane")
    assert main(["compose", str(tmp_path / "c.jpg"), "--apply", str(tmp_path / "crop_c.jpg"), "--no-metadata"]) == 0
    with Image.open(tmp_path / "crop_c.jpg") as im:  # the crop keeps the picture, not its private notes
        assert "comment" not in im.info
    ramp = (np.linspace(0, 65535, 160)[None, :] * np.ones((120, 1))).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png", dpi=(300, 300))
    assert main(["compose", str(tmp_path / "deep.png"), "--apply", str(tmp_path / "crop.png")]) == 0
    with Image.open(tmp_path / "crop.png") as im:
        l, t, r, b = json.loads(im.info["brushwork"])["box"]
        assert im.mode in ("I;16", "I") and round(im.info["dpi"][0]) == 300
        assert np.array_equal(np.asarray(im), ramp[t:b, l:r])
    assert main(["compose", str(tmp_path / "deep.png"), "--apply", str(tmp_path / "crop.jpg")]) == 0
    with Image.open(tmp_path / "crop.jpg") as im:  # another format: the sRGB picture read, and the dpi
        assert im.mode == "RGB" and round(im.info["dpi"][0]) == 300


def test_compose_reads_a_large_photo_reduced_and_answers_in_its_pixels(tmp_path, capsys, monkeypatch):
    """A photo well over READ_SIDE is analysed from a reduced read (the analysis sees 256 px); its crop boxes,
    overlay and applied crop are still in the photo's own pixels, and agree with a full read's."""
    import brushwork.imaging.io as bio
    from brushwork.composition import READ_SIDE, working_saliency
    from brushwork.imaging.io import read_image

    img, _ = _planted("flat", top=300, left=900, size=160, h=1200, w=1600)
    img = img * np.linspace(0.8, 1.1, 1600)[None, :, None]  # (a gentle gradient: not one flat colour)
    photo = tmp_path / "big.jpg"
    Image.fromarray((img * 255).astype(np.uint8)).save(photo, quality=92)
    floats = []  # the sizes of the pictures held in floats
    real = bio._pil_to_float
    monkeypatch.setattr(bio, "_pil_to_float", lambda im: floats.append(im.size) or real(im))
    overlay, crop = tmp_path / "o.png", tmp_path / "c.png"  # (a PNG crop of a JPEG: cut from a float read)
    assert main(["compose", str(photo), "--ratios", "1:1,16:9", "--overlay", str(overlay), "--apply", str(crop),
                 "--json", "--no-metadata"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert floats and max(max(s) for s in floats[:1]) < 1600 and (1600, 1200) not in floats  # never whole in floats
    full = read_image(photo)
    sal = working_saliency(full.rgb)
    want = {c.ratio: c.box for c in suggest_crops(full.rgb, ["1:1", "16:9"], saliency=sal)}
    for c in data["crops"]:  # the same boxes as a full read gives, within the working copy's pixel (6.25 px here)
        assert c["box"][2] <= 1600 and c["box"][3] <= 1200
        assert np.abs(np.subtract(c["box"], want[c["ratio"]])).max() <= 7
    assert Image.open(overlay).size == (1600, 1200)
    l, t, r, b = data["applied"]["box"]
    got = np.asarray(Image.open(crop), np.int16)
    assert got.shape == (b - t, r - l, 3)
    assert np.abs(got - np.round(full.rgb[t:b, l:r] * 255)).max() <= 1  # the photo's own pixels
    assert READ_SIDE * 2 <= 1600  # (so that the read above was reduced)


def test_read_flat_and_read_part_match_read_image(tmp_path):
    from brushwork.imaging.io import read_flat, read_part

    rng = np.random.default_rng(0)
    rgba = np.concatenate([rng.integers(0, 256, (40, 60, 3)), rng.integers(0, 256, (40, 60, 1))], 2).astype(np.uint8)
    grey16 = (np.linspace(0, 65535, 40 * 60).reshape(40, 60)).astype(np.uint16)
    grey16[:10, :10] = 100  # a dark corner: its crop alone would look 8-bit
    files = {"rgba.png": Image.fromarray(rgba, "RGBA"), "g16.png": Image.fromarray(grey16),
             "p.png": Image.fromarray(rgba[..., :3]).convert("P", palette=Image.Palette.ADAPTIVE)}
    from brushwork.imaging.io import read_image

    for name, im in files.items():
        im.save(tmp_path / name)
        want = np.round(read_image(tmp_path / name).rgb * 255)
        flat = np.asarray(read_flat(tmp_path / name), np.int16)
        assert flat.shape == want.shape and np.abs(flat - want).max() <= 1, name
        part = read_part(tmp_path / name, (0, 0, 10, 10))
        assert part.rgb.shape == (10, 10, 3)
        assert np.abs(np.round(part.rgb * 255) - want[:10, :10]).max() <= 1, name


def test_uint8_pictures_are_read_as_0_255_everywhere():
    """working_saliency and saliency_map took a uint8 picture's 0-255 for [0, 1] (analyze and suggest_crops scaled
    it): the map a docstring says to compute once and pass in was another picture's. So did rgb_to_yiq (all
    zeros), rgb_to_oklab and palette_error."""
    from brushwork.color.palette import palette_error
    from brushwork.color.spaces import rgb_to_oklab, rgb_to_yiq
    from brushwork.composition import working_saliency

    img, _ = _planted("textured")
    u8 = (img * 255 + 0.5).astype(np.uint8)
    f = u8 / 255.0
    assert np.abs(working_saliency(u8) - working_saliency(f)).max() < 1e-5
    assert analyze(u8, saliency=working_saliency(u8)).subject == analyze(u8).subject
    assert np.allclose(rgb_to_yiq(u8), rgb_to_yiq(f), atol=1e-5) and rgb_to_yiq(u8)[..., 0].max() > 0.5
    assert np.allclose(rgb_to_oklab(u8), rgb_to_oklab(f), atol=1e-5)
    assert np.allclose(rgb_to_oklab(np.array([[1, 0, 0]])), rgb_to_oklab(np.array([[1.0, 0, 0]])))  # (ints: values)
    assert abs(palette_error(u8, ["#808080"]) - palette_error(f, np.array([[128 / 255] * 3]))) < 1e-6


def test_overlay_of_a_grey_picture():
    """draw_overlay(grey (H, W), crops) was a matmul error."""
    from brushwork.composition.overlay import draw_overlay

    grey = np.random.default_rng(0).random((40, 60))
    assert draw_overlay(grey, suggest_crops(np.repeat(grey[..., None], 3, 2), ["1:1"])).size == (60, 40)


def test_a_crop_edge_on_the_pictures_border_cuts_nothing():
    """(docs audit) The crop window's rows and columns on the picture's own border counted as slicing salient matter:
    the whole frame, keeping all of the saliency, was said to "cut some". A subject touching the border: the whole
    frame cuts nothing; a smaller crop that slices through the subject still says so."""
    img = np.full((200, 300, 3), 0.5)
    img[60:200, 0:120] = (0.9, 0.2, 0.1)  # a red subject against the left and bottom borders
    (whole, *smaller) = suggest_crops(img, ["3:2"], top=500)
    assert whole.box == (0, 0, 300, 200) and "edges cut little salient matter (0.00)" in whole.reasons
    sliced = [c for c in smaller if 10 < c.box[0] < 110]  # its left edge through the subject
    assert sliced and all("(0.00)" not in c.reasons[2] for c in sliced)
    # a picture a pixel wider than the ratio: the largest crop sits within a pixel of the border, which it does not cut
    (largest,) = suggest_crops(np.pad(img, ((0, 0), (0, 1), (0, 0)), mode="edge"), ["3:2"])
    assert largest.box[2] - largest.box[0] == 300 and "edges cut little salient matter (0.00)" in largest.reasons


def test_the_largest_crop_is_the_largest_in_the_pictures_own_pixels():
    """(docs audit) Crops were placed on the 256 px working copy and scaled back: on a 451 x 300 photo "100% of the
    largest 1:1 crop" was 299 x 299 and the largest 3:2 one 448 x 299, which --apply wrote. Sized and placed in the
    picture's own pixels, each crop is its scale of the largest, inside the picture."""
    img = np.random.default_rng(2).random((300, 451, 3))
    for ratio, (big_w, big_h) in (("1:1", (300, 300)), ("3:2", (450, 300)), ("16:9", (451, 254)), ("4:5", (240, 300))):
        for c in suggest_crops(img, [ratio], top=400):
            lft, t, rt, b = c.box
            scale = int(c.reasons[3].split("%")[0]) / 100
            assert 0 <= lft < rt <= 451 and 0 <= t < b <= 300
            assert abs((rt - lft) - big_w * scale) <= 2 and abs((b - t) - big_h * scale) <= 2, (ratio, c.box, scale)
            if scale == 1.0:  # the largest spans the picture one way
                assert (lft, rt) == (0, 451) or (t, b) == (0, 300), (ratio, c.box)
