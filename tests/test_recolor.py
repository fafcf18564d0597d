"""Recolouring moves colour statistics to the target; as a post-process of stylization too."""

import itertools

import numpy as np
import pytest
from PIL import Image

from brushwork.cli import main
from brushwork.color.palette import Palette, extract_palette
from brushwork.color.recolor import match_palettes, recolor
from brushwork.color.spaces import rgb_to_oklab
from brushwork.errors import BrushworkError
from brushwork.imaging import read_image


@pytest.fixture(scope="module")
def images(content_path, style_path):
    return read_image(content_path).rgb[::2, ::2], read_image(style_path).rgb[::2, ::2]


def _stats(rgb):
    lab = rgb_to_oklab(rgb.reshape(-1, 3).astype(np.float64))
    return lab.mean(0), lab.std(0)


@pytest.mark.parametrize("method", ["stats", "histogram"])
def test_statistics_move_to_the_reference(images, method):
    photo, painting = images
    out = recolor(photo, method=method, reference=painting)
    assert out.shape == photo.shape and out.dtype == np.float32
    (m0, s0), (m1, s1), (mt, st) = _stats(photo), _stats(out), _stats(painting)
    assert np.abs(m1 - mt).sum() < 0.25 * np.abs(m0 - mt).sum()
    assert np.abs(s1 - st).sum() < 0.5 * np.abs(s0 - st).sum()
    half = recolor(photo, method=method, reference=painting, strength=0.5)
    m_half = _stats(half)[0]
    assert np.abs(m_half - mt).sum() < np.abs(m0 - mt).sum()  # strength moves part of the way
    np.testing.assert_allclose(recolor(photo, method=method, reference=painting, strength=0.0), photo, atol=2e-3)


def test_palette_mapping_moves_each_cluster_to_its_match(images):
    photo, _ = images
    own = extract_palette(photo, k=4)
    target = Palette(own.rgb[::-1].copy(), own.shares)  # same colours, shuffled: a permutation
    shift = Palette(np.clip(own.rgb * 0.5 + np.array([0.4, 0.1, 0.0]), 0, 1), own.shares)
    out = recolor(photo, method="palette", palette=shift, k=4)
    # pixels of each source cluster end up, on average, at their matched target colour
    src = rgb_to_oklab(photo.reshape(-1, 3).astype(np.float64))
    labels = np.linalg.norm(src[:, None] - own.oklab[None], axis=2).argmin(1)
    got = rgb_to_oklab(out.reshape(-1, 3).astype(np.float64))
    match = match_palettes(own.oklab, shift.oklab)
    d = [np.linalg.norm(got[labels == j].mean(0) - shift.oklab[match[j]]) for j in range(4)]
    assert max(d) < 0.04, d
    assert np.array_equal(match_palettes(own.oklab, target.oklab), [3, 2, 1, 0])
    # smooth: neighbouring pixels stay neighbours (no hard jumps between clusters)
    grad_in = np.abs(np.diff(photo, axis=1)).mean()
    grad_out = np.abs(np.diff(out, axis=1)).mean()
    assert grad_out < 1.5 * grad_in


def test_transparent_pixels_are_kept(images):
    photo, painting = images
    alpha = np.ones(photo.shape[:2], np.float32)
    alpha[:10] = 0
    out = recolor(photo, method="stats", reference=painting, alpha=alpha)
    np.testing.assert_array_equal(out[:10], photo[:10].astype(np.float32))


def test_bad_recolour_requests(images):
    photo, painting = images
    with pytest.raises(BrushworkError, match="exactly one target"):
        recolor(photo)
    with pytest.raises(BrushworkError, match="unknown recolour method"):
        recolor(photo, method="magic", reference=painting)
    with pytest.raises(BrushworkError, match="strength"):
        recolor(photo, reference=painting, strength=2)


def test_recolor_cli_and_preserve_color(tmp_path, content_path, style_path, capsys):
    out = tmp_path / "r.png"
    assert main(["recolor", str(content_path), "--reference", str(style_path), "-o", str(out)]) == 0
    assert out.is_file()
    assert main(["recolor", str(content_path), "--palette", "#112233,#ddeeff", "--method", "palette",
                 "-o", str(tmp_path / "p.png")]) == 0
    assert main(["recolor", str(content_path), "--palette", "#11223", "-o", str(tmp_path / "bad.png")]) == 2
    assert "not a hex colour" in capsys.readouterr().err and not (tmp_path / "bad.png").exists()
    assert main(["recolor", str(content_path), "--palette", str(tmp_path / "none.gpl"), "-o",
                 str(tmp_path / "bad.png")]) == 2
    assert "does not exist" in capsys.readouterr().err
    styled = tmp_path / "s.png"
    assert main(["stylize", str(content_path), str(style_path), "--method", "adain", "--size", "128",
                 "--preserve-color", "stats", "-o", str(styled), "-q"]) == 0
    photo = read_image(content_path).rgb
    got = read_image(styled).rgb
    assert np.abs(_stats(got)[0] - _stats(photo)[0]).sum() < 0.03


def test_histogram_matching_uses_the_opaque_pixels_only(images):
    photo, painting = images
    alpha = np.zeros(photo.shape[:2], np.float32)
    alpha[40:120, 60:200] = 1
    whole = recolor(photo, method="histogram", reference=painting, alpha=alpha)
    crop = recolor(photo[40:120, 60:200], method="histogram", reference=painting)
    np.testing.assert_allclose(whole[40:120, 60:200], crop, atol=1e-5)


def test_see_through_pixels_keep_their_colour_in_the_file(tmp_path, content_path, style_path):
    """A soft edge (alpha 77 of 255) came out of recolour lightened by about 30 levels: the picture is read
    as it looks over white, and that look was written back as the pixel's colour. Now a see-through pixel
    that recolour leaves alone is written back as it was."""
    photo = np.asarray(Image.open(content_path).convert("RGB").resize((64, 48)))
    rgba = np.concatenate([photo, np.full((48, 64, 1), 255, np.uint8)], axis=2)
    rgba[:, 32:] = (160, 124, 100, 77)
    Image.fromarray(rgba).save(tmp_path / "soft.png")
    assert main(["recolor", str(tmp_path / "soft.png"), "--reference", str(style_path),
                 "-o", str(tmp_path / "out.png")]) == 0
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert np.abs(out[:, 32:].astype(int) - (160, 124, 100, 77)).max() <= 1
    assert np.abs(out[:, :32, :3].astype(int) - photo[:, :32]).mean() > 5  # the opaque half was recoloured
    # a format without alpha gets the picture as it looks over white, as before (not the bare colours)
    assert main(["recolor", str(tmp_path / "soft.png"), "--reference", str(style_path),
                 "-o", str(tmp_path / "out.jpg")]) == 0
    over_white = np.round(np.array([160, 124, 100]) * 77 / 255 + 255 * (1 - 77 / 255))
    jpeg = np.asarray(Image.open(tmp_path / "out.jpg").convert("RGB")).astype(int)
    assert np.abs(jpeg[:, 40:56] - over_white).mean() < 4, jpeg[:, 40:56].mean((0, 1))


def test_a_stylized_see_through_edge_keeps_its_painted_colour(tmp_path, style_path):
    """Stylized pixels are new colours: they are written as painted (un-compositing them as if they were
    the photo over white turned soft edges black)."""
    yy, xx = np.mgrid[:96, :96]
    alpha = np.clip((40 - np.hypot(yy - 48, xx - 48)) / 12, 0, 1)
    rgba = np.zeros((96, 96, 4), np.uint8)
    rgba[..., 0], rgba[..., 3] = 220, np.round(alpha * 255)
    Image.fromarray(rgba).save(tmp_path / "disc.png")
    assert main(["stylize", str(tmp_path / "disc.png"), str(style_path), "--method", "adain", "--size", "96",
                 "--no-watermark", "-o", str(tmp_path / "s.png"), "-q"]) == 0
    out = np.asarray(Image.open(tmp_path / "s.png")).astype(int)
    edge = (out[..., 3] > 0) & (out[..., 3] < 128)
    assert edge.sum() > 100 and (out[edge, :3].max(axis=1) < 10).mean() < 0.05


def test_a_half_transparent_pixel_is_recoloured_like_an_opaque_one_of_its_colour():
    """The colour of a pixel at alpha 0.6 is its own, not its paler look over white: recoloured as such, it
    matches the opaque pixels of the same colour (un-compositing the recoloured look turned it black)."""
    from brushwork.imaging.io import to_pil

    a = np.ones((32, 64), np.float32)
    a[:, 32:] = 0.6
    look = np.full((32, 64, 3), 0.85, np.float32) * a[..., None] + (1 - a[..., None])
    ref = np.full((16, 16, 3), 0.1, np.float32)
    ref[:8] = 0.2
    px = np.asarray(to_pil(recolor(look, method="stats", reference=ref, alpha=a), a, composited=True)).astype(int)
    assert np.abs(px[:, 40:, :3] - px[:, :24, :3]).max() <= 1 and px[0, 40, 3] == 153


@pytest.mark.parametrize("method", ["stats", "histogram"])
def test_a_grey_photos_compression_noise_is_not_stretched_into_colour(method):
    """A black-and-white photo saved as a colour JPEG has chroma of blocky noise only: recoloured, it takes
    the reference's tint, not blocks of the reference's colours."""
    rng = np.random.default_rng(0)
    grey = np.repeat(np.linspace(0.1, 0.9, 64, dtype=np.float32)[None, :, None], 64, 0).repeat(3, 2)
    blocks = rng.normal(0, 0.004, (8, 8, 3)).astype(np.float32).repeat(8, 0).repeat(8, 1)  # 8 x 8 px blocks
    photo = np.clip(grey + blocks, 0, 1)
    ref = np.clip(rng.normal([0.2, 0.3, 0.7], 0.2, (32, 32, 3)), 0, 1).astype(np.float32)  # blue and varied
    out = rgb_to_oklab(recolor(photo, method=method, reference=ref).astype(np.float64))
    ab_ref = rgb_to_oklab(ref.astype(np.float64))[..., 1:]
    assert ab_ref.reshape(-1, 2).std(0).min() > 0.05
    assert out[..., 1:].reshape(-1, 2).std(0).max() < 0.02  # no colour blocks (they were 0.05 and more)
    assert out[..., 2].mean() < -0.03  # the reference's blue tint
    # a photo with real colour is matched as before: its spread becomes the reference's
    colourful = np.clip(rng.normal(0.5, 0.15, (32, 32, 3)), 0, 1).astype(np.float32)
    moved = rgb_to_oklab(recolor(colourful, method="stats", reference=ref).astype(np.float64))
    assert np.allclose(moved[..., 1:].reshape(-1, 2).std(0), ab_ref.reshape(-1, 2).std(0), rtol=0.15)


def test_histogram_recolour_by_distinct_colours_is_the_pixels_mapping(monkeypatch):
    """An 8-bit picture's histogram transfer is built from its distinct colours and their counts (np.unique over
    every pixel's OKLab took most of a minute on a 17 MP photo): the same result to the last bit as the per-pixel
    mapping, with transparency; a picture of finer levels (16-bit) takes the per-pixel mapping."""
    import brushwork.color.recolor as R

    rng = np.random.default_rng(3)
    rgb = (rng.integers(0, 40, (60, 80, 3)) * 6).astype(np.float32) / 255.0  # repeated colours
    ref = rng.random((50, 50, 3)).astype(np.float32)
    alpha = np.ones((60, 80), np.float32)
    alpha[:10] = 0.0
    assert R._distinct_colours(rgb.reshape(-1, 3)) is not None
    assert R._distinct_colours((rgb + 1 / 65535).reshape(-1, 3)) is None  # not whole levels of 255
    assert R._distinct_colours((rgb - 16 / 255).reshape(-1, 3)) is None  # (levels below 0 spilled into other bits)
    for a in (None, alpha):
        by_colour = R.recolor(rgb, method="histogram", reference=ref, alpha=a)
        with monkeypatch.context() as m:
            m.setattr(R, "_distinct_colours", lambda _: None)
            by_pixel = R.recolor(rgb, method="histogram", reference=ref, alpha=a)
        assert np.array_equal(by_colour, by_pixel)


def test_an_8bit_picture_is_recoloured_colour_by_colour(monkeypatch):
    """An 8-bit picture without transparency is converted, moved and converted back once per colour, not per pixel
    (a 48 MP photo's float64 OKLab copy was 1.2 GB and its conversion most of the time): the same pixels as the
    per-pixel work for every method, whether its colours are counted by a sort or by tables of all 2**24."""
    import brushwork.color.recolor as R

    rng = np.random.default_rng(5)
    rgb = (rng.integers(0, 6, (300, 400, 3)) * 51).astype(np.uint8)  # 216 colours, 120,000 pixels
    ref = rng.random((40, 40, 3)).astype(np.float32)
    converted = []
    real = R.rgb_to_oklab
    monkeypatch.setattr(R, "rgb_to_oklab", lambda x: converted.append(x.size // 3) or real(x))
    for method, target in itertools.product(R.METHODS, ({"reference": ref}, {"palette": ["#1e90ff", "#ff8c1e"]})):
        converted.clear()
        by_colour = R.recolor(rgb, method=method, strength=0.8, **target)
        assert max(converted) <= 40 * 40  # the reference's pixels, and the picture's 216 colours
        monkeypatch.setattr(R, "TABLES_FROM", 0)
        assert np.array_equal(R.recolor(rgb, method=method, strength=0.8, **target), by_colour)
        monkeypatch.setattr(R, "TABLES_FROM", 1 << 23)
        with monkeypatch.context() as m:
            m.setattr(R, "_distinct_colours", lambda _: None)
            by_pixel = R.recolor(rgb, method=method, strength=0.8, **target)
        assert by_colour.dtype == by_pixel.dtype and by_colour.shape == by_pixel.shape == (300, 400, 3)
        assert np.abs(by_colour - by_pixel).max() <= (1e-6 if method == "stats" else 0.0), (method, target)
