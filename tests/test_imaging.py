import io
import os

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork.errors import ImageError
from brushwork.imaging import check_output_path, fit_long_side, read_image, resize, save_image, to_tensor


def test_rgba_keeps_alpha_and_composites_over_white(tmp_path):
    arr = np.zeros((4, 5, 4), np.uint8)
    arr[..., 0] = 255
    arr[:, :2, 3] = 255  # left opaque red, right transparent
    Image.fromarray(arr, "RGBA").save(tmp_path / "a.png")
    im = read_image(tmp_path / "a.png")
    assert im.size == (5, 4) and im.alpha is not None
    np.testing.assert_allclose(im.rgb[0, 0], [1, 0, 0])
    np.testing.assert_allclose(im.rgb[0, 4], [1, 1, 1])
    np.testing.assert_allclose(im.alpha[0], [1, 1, 0, 0, 0])


def test_16bit_greyscale_png_keeps_precision(tmp_path):
    arr = np.array([[0, 1000, 65535, 32768]], dtype=np.uint16).repeat(3, axis=0)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    im = read_image(tmp_path / "g16.png")
    np.testing.assert_allclose(im.rgb[0, :, 0], arr[0] / 65535.0, atol=1e-6)
    assert np.all(im.rgb[..., 0] == im.rgb[..., 2])


def test_greyscale_cmyk_and_palette(tmp_path):
    Image.new("L", (6, 4), 128).save(tmp_path / "l.png")
    np.testing.assert_allclose(read_image(tmp_path / "l.png").rgb, 128 / 255, atol=1e-6)
    Image.new("CMYK", (6, 4), (0, 255, 255, 0)).save(tmp_path / "c.jpg")  # pure red in CMYK
    rgb = read_image(tmp_path / "c.jpg").rgb
    assert rgb[..., 0].mean() > 0.9 and rgb[..., 1].mean() < 0.1
    p = Image.new("P", (6, 4), 1)
    p.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    p.save(tmp_path / "p.png")
    np.testing.assert_allclose(read_image(tmp_path / "p.png").rgb[0, 0], [0, 1, 0])


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (8, 4), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "o.jpg", exif=exif)
    assert read_image(tmp_path / "o.jpg").size == (4, 8)


@pytest.mark.parametrize("make,match", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_text("hello, not an image"), "not an image"),
    (lambda p: Image.new("RGB", (1, 1)).save(p, format="PNG"), "too small"),
])
def test_bad_files(tmp_path, make, match):
    p = tmp_path / "bad.png"
    make(p)
    with pytest.raises(ImageError, match=match):
        read_image(p)


def test_truncated_image(tmp_path):
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(buf, "PNG")
    (tmp_path / "t.png").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(ImageError, match="truncated or corrupt"):
        read_image(tmp_path / "t.png")


def test_too_many_pixels(tmp_path):
    Image.new("RGB", (100, 100)).save(tmp_path / "big.png")
    with pytest.raises(ImageError, match="more than the limit of 5,000 pixels: .*max_pixels"):  # (not "0.0 MP")
        read_image(tmp_path / "big.png", max_pixels=5000)


def test_arrays_and_tensors_round_trip(rng):
    arr = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    im = read_image(arr)
    t = to_tensor(im.rgb)
    assert t.shape == (1, 3, 5, 7) and t.dtype == torch.float32
    np.testing.assert_allclose(t[0].permute(1, 2, 0).numpy(), arr / 255.0, atol=1e-6)


def test_resize_and_fit():
    assert fit_long_side(600, 400, 300) == (300, 200)
    assert fit_long_side(400, 600, 300) == (200, 300)
    x = torch.rand(1, 3, 40, 60)
    y = resize(x, (30, 20))
    assert y.shape == (1, 3, 20, 30) and y.min() >= 0 and y.max() <= 1
    assert resize(x, (60, 40)) is x


def test_save_is_atomic_and_checks_paths(tmp_path):
    arr = np.full((4, 4, 3), 0.5, np.float32)
    old = os.umask(0o022)
    try:
        out = save_image(arr, tmp_path / "x.png")
    finally:
        os.umask(old)
    assert out.exists() and [p.name for p in tmp_path.iterdir()] == ["x.png"]
    assert out.stat().st_mode & 0o777 == 0o644  # like any new file, not mkstemp's 0600
    with pytest.raises(ImageError, match="unknown extension"):
        check_output_path(tmp_path / "x.xyz")
    with pytest.raises(ImageError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "x.png")
    if os.geteuid() != 0:  # root can write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        with pytest.raises(ImageError, match="not writable"):
            check_output_path(ro / "x.png")


def test_failed_save_leaves_nothing(tmp_path, monkeypatch):
    import errno

    class Full:  # a disk that takes part of the file, then is full (a short write must not pass for a file)
        def __init__(self, fd, mode):
            self.f = open(fd, mode)

        def write(self, data):
            self.f.write(bytes(data)[:3])
            raise OSError(errno.ENOSPC, "No space left on device")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(os, "fdopen", Full)
    with pytest.raises(ImageError, match="could not write .*No space left"):
        save_image(np.zeros((4, 4, 3), np.float32), tmp_path / "y.jpg", recipe={"operation": "test"}, sidecar=True)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()

    def boom(self, fp, *a, **k):  # an encoder's own failure (EXIF over 64 KB, a size it cannot hold)
        fp.write(b"partial")
        raise ValueError("EXIF data is too long")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(ImageError, match="could not encode .*EXIF data is too long"):
        save_image(np.zeros((4, 4, 3), np.float32), tmp_path / "y.png")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    with pytest.raises(ImageError, match="WEBP holds at most 16,383 pixels a side"):
        save_image(Image.new("RGB", (16_400, 2)), tmp_path / "wide.webp")


def test_a_wide_gamut_photo_is_read_in_srgb(tmp_path):
    from PIL import ImageCms

    from helpers import p3_icc_profile

    prof = p3_icc_profile()
    px = np.full((16, 16, 3), (200, 100, 50), np.uint8)
    want = np.asarray(ImageCms.profileToProfile(Image.fromarray(px), ImageCms.ImageCmsProfile(io.BytesIO(prof)),
                                                ImageCms.createProfile("sRGB")))[0, 0]
    assert np.abs(want.astype(int) - (200, 100, 50)).max() > 10  # the same numbers mean other colours in P3
    for ext in ("png", "jpg"):
        Image.fromarray(px).save(tmp_path / f"p3.{ext}", icc_profile=prof, quality=100)
        got = read_image(tmp_path / f"p3.{ext}").rgb[0, 0] * 255
        assert np.abs(got - want).max() <= 2, (ext, got, want)
    # an sRGB profile, or none: the numbers as they are
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(px).save(tmp_path / "s.png", icc_profile=srgb)
    assert np.array_equal((read_image(tmp_path / "s.png").rgb[0, 0] * 255).round(), [200, 100, 50])


def test_sixteen_bit_greys_read_alike_everywhere(tmp_path):
    """Training crops, originality's descriptors and read_image scale a 16-bit grey PNG the same way (Pillow's
    convert clipped it at 255: every training image of a 16-bit folder was white)."""
    from brushwork.imaging.io import read_square
    from brushwork.provenance.originality import describe

    ramp = (np.arange(64 * 64).reshape(64, 64) * 15).astype(np.uint16)  # 0 .. 61425
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    Image.fromarray(np.round(ramp / 65535 * 255).astype(np.uint8)).save(tmp_path / "g8.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I")
    a, b = read_square(tmp_path / "g16.png", 32), read_square(tmp_path / "g8.png", 32)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1 and a.mean() < 200
    (h16, px16), (h8, px8) = describe(tmp_path / "g16.png"), describe(tmp_path / "g8.png")
    assert h16 == h8 and np.abs(px16.astype(int) - px8.astype(int)).max() <= 1
    r = read_image(tmp_path / "g16.png")
    assert abs(float(r.rgb.mean()) * 255 - float(b.mean())) < 2


def test_colour_keys_big_16_bit_greys_and_huge_declared_sizes(tmp_path, capsys):
    """A PNG's colour key (tRNS on RGB or grey) is transparency; a large 16-bit grey read at reduced size keeps
    its tones; a picture declaring more pixels than Pillow opens is one line for inspect; an existing folder as
    -o is named as a folder."""
    from brushwork.cli import main
    from brushwork.imaging.io import read_image

    rgb = np.zeros((32, 32, 3), np.uint8)
    rgb[:, :16] = (30, 200, 40)  # the key colour: transparent
    rgb[:, 16:] = (200, 30, 30)
    Image.fromarray(rgb).save(tmp_path / "key.png", transparency=(30, 200, 40))
    img = read_image(tmp_path / "key.png")
    assert img.alpha is not None and img.alpha[:, :16].max() == 0 and img.alpha[:, 16:].min() == 1
    assert img.rgb[:, :16].min() == 1.0  # over white, not the key's green
    grey = np.zeros((32, 32), np.uint8)
    Image.fromarray(grey).save(tmp_path / "lkey.png", transparency=0)
    assert read_image(tmp_path / "lkey.png").alpha.max() == 0
    ramp = np.linspace(0, 65535, 2048)[None].repeat(1200, 0).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    small = read_image(tmp_path / "g16.png", draft=256)
    assert 0.4 < small.rgb.mean() < 0.6  # (it was white: converting clips 16-bit values at 255)
    # a 30000 x 30000 picture in a small file: Pillow will not open it; inspect says so in one line
    import zlib

    def chunk(kind, data):
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    raw = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", (30000).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0]))
    (tmp_path / "bomb.png").write_bytes(raw + chunk(b"IDAT", zlib.compress(b"\0" * 30001)) + chunk(b"IEND", b""))
    assert main(["inspect", str(tmp_path / "bomb.png")]) == 2
    assert "more pixels than can be opened safely" in capsys.readouterr().err
    (tmp_path / "out").mkdir()
    with pytest.raises(ImageError, match="is a folder"):
        check_output_path(tmp_path / "out")


def test_writes_keep_pictures_and_recipes_paired_and_readers_agree(tmp_path, monkeypatch):
    """A failed write leaves the old picture with its own recipe file; a reduced 16-bit read keeps its
    orientation; a uint8 alpha is 0-255 like uint8 colours; a colour key survives a profile in every reader;
    --keep-exif keeps ratings and Windows tags, and no pointer into the old file."""
    from brushwork.imaging.io import input_exif, read_image, read_square
    from brushwork.provenance.recipe import read_recipe

    old = save_image(np.full((8, 8, 3), 0.2, np.float32), tmp_path / "pic.bmp", recipe={"command": "old"})
    real_replace = os.replace

    def refuse(src, dst):
        if str(dst).endswith("pic.bmp"):
            raise PermissionError(13, "in use by a viewer")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ImageError, match="could not write"):
        save_image(np.full((8, 8, 3), 0.8, np.float32), old, recipe={"command": "new"})
    monkeypatch.undo()
    assert read_recipe(old)[0] == {"command": "old"} and np.asarray(Image.open(old))[0, 0, 0] == 51
    # 16-bit grey with EXIF orientation 6, read at reduced size: upright as at full size
    g16 = Image.fromarray((np.arange(80 * 40).reshape(40, 80) * 20).astype(np.uint16))
    exif = Image.Exif()
    exif[0x0112] = 6
    g16.save(tmp_path / "g.png", exif=exif)
    assert read_image(tmp_path / "g.png").size == (40, 80) and read_image(tmp_path / "g.png", draft=16).size[1] > \
        read_image(tmp_path / "g.png", draft=16).size[0]
    rgb = np.full((4, 4, 3), 200, np.uint8)
    alpha = np.full((4, 4), 128, np.uint8)
    save_image(rgb, tmp_path / "ua.png", alpha=alpha)
    assert np.asarray(Image.open(tmp_path / "ua.png"))[0, 0, 3] == 128  # (was 255)
    # a colour key in a picture with a profile: transparent in the training and index readers too (the profile's
    # conversion changes the pixels, so the key is applied first)
    import brushwork.imaging.io as io_mod

    def convert(im):  # as a real profile's conversion would: new pixels, the key still in info
        out = im.point(lambda v: min(255, v + 3))
        out.info = dict(im.info)
        return out

    monkeypatch.setattr(io_mod, "to_srgb", convert)
    arr = np.zeros((32, 32, 3), np.uint8)
    arr[:, :16] = (40, 200, 60)
    arr[:, 16:] = (10, 10, 10)
    Image.fromarray(arr).save(tmp_path / "k.png", transparency=(40, 200, 60))
    sq = read_square(tmp_path / "k.png", 16, 3)
    monkeypatch.undo()
    assert sq[:, :, :6].min() > 240  # the keyed half over white, not green
    # --keep-exif: ratings and Windows' tags stay; the Interoperability pointer (an offset) does not
    cam = Image.Exif()
    cam[0x010F], cam[0x4746] = "Cam", 4
    cam[0x9C9E] = "cat\0".encode("utf-16-le")
    cam[0x8769] = {0x9003: "2020:01:01 00:00:00", 0xA005: 1234, 0xA001: 65535, 0xA002: 300, 0xA003: 451}
    Image.new("RGB", (8, 8)).save(tmp_path / "cam.jpg", exif=cam)
    kept = Image.Exif()
    kept.load(input_exif(tmp_path / "cam.jpg"))
    assert kept[0x4746] == 4 and 0x9C9E in kept and 0xA005 not in kept.get_ifd(0x8769)
    # nor the input file's pixel size and colour space (the output's are its own: sRGB, another size)
    assert 0x9003 in kept.get_ifd(0x8769) and not {0xA001, 0xA002, 0xA003} & set(kept.get_ifd(0x8769))


def test_a_transparent_picture_written_to_jpeg_or_bmp_is_flattened_over_white(tmp_path):
    """As the note says: JPEG and BMP keep no alpha, so a half-transparent pixel shows as it does over white (it
    came out in its own, unseen colour: convert("RGB") dropped the alpha)."""
    from brushwork.imaging.io import save_image

    rgba = Image.new("RGBA", (16, 16), (0, 0, 200, 128))
    for suffix in ("jpg", "bmp"):
        out = save_image(rgba, tmp_path / f"half.{suffix}")
        mean = np.asarray(Image.open(out).convert("RGB"), np.float32).mean(axis=(0, 1))
        assert np.abs(mean - (127, 127, 227)).max() < 3, (suffix, mean)  # (0, 0, 200) half over white
    # marked after the flattening (flattened after, the mark was wiped out wherever the picture was transparent)
    from brushwork.provenance.watermark import detect_watermark

    rng = np.random.default_rng(0)
    corner = np.zeros((256, 256, 4), np.uint8)
    corner[..., :3] = rng.integers(0, 255, (256, 256, 3))
    corner[:96, :96, 3] = 255  # only a corner opaque
    out = save_image(Image.fromarray(corner, "RGBA"), tmp_path / "marked.jpg", watermark=True)
    assert detect_watermark(Image.open(out)).detected


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_read_image_holds_one_float_copy(tmp_path, mode):
    """A picture is converted in place: a 17.5 MP photo's read peaked at 3.5 float copies (698 MB, not 200)."""
    import tracemalloc

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (300, 400, len(mode)), dtype=np.uint8), mode).save(tmp_path / "p.png")
    tracemalloc.start()
    try:
        img = read_image(tmp_path / "p.png")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    floats = img.rgb.nbytes + (0 if img.alpha is None else img.alpha.nbytes)
    assert peak < 1.6 * floats, (peak, floats)


def test_a_callers_pil_jpeg_is_never_drafted(tmp_path):
    """read_image(draft=) on a PIL JPEG not yet loaded drafted the caller's own object: it shrank in their hands,
    and the result depended on whether they had loaded it first."""
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (340, 512, 3), dtype=np.uint8)).save(tmp_path / "p.jpg")
    lazy = Image.open(tmp_path / "p.jpg")
    a = read_image(lazy, draft=64)
    assert lazy.size == (512, 340)
    loaded = Image.open(tmp_path / "p.jpg")
    loaded.load()
    b = read_image(loaded, draft=64)
    assert np.array_equal(a.rgb, b.rgb) and a.picture_size == (512, 340)


def test_save_image_writes_any_pil_mode(tmp_path):
    """A 16-bit grey PIL image saved as JPEG, WebP or BMP came out white; CMYK, YCbCr, F or RGBa as PNG were refused,
    La to JPEG a bare ValueError. Each is written as read_image reads it."""
    rng = np.random.default_rng(0)
    g = (rng.random((32, 48)) * 65535).astype(np.uint16)
    yy, xx = np.mgrid[0:32, 0:48]
    base = Image.fromarray(np.stack([xx * 5, yy * 7, (xx + yy) * 3], -1).astype(np.uint8))  # (smooth: JPEG's noise small)
    modes = {"I;16": Image.fromarray(g), "F": Image.fromarray(g.astype(np.float32)), "CMYK": base.convert("CMYK"),
             "La": base.convert("LA").convert("La"), "RGBa": base.convert("RGBA").convert("RGBa")}
    for name, im in modes.items():
        want = read_image(im).rgb
        for ext in ("png", "bmp", "jpg"):
            out = tmp_path / f"{name.replace(';', '')}.{ext}"
            save_image(im, out)
            err = np.abs(read_image(out).rgb - want).mean() * 255
            assert err < (1 if ext != "jpg" else 12), (name, ext, err)


def test_save_image_names_a_mismatched_alpha_or_shape(tmp_path):
    """An alpha of another size was a numpy concatenate error, a (H, W, 1) array PIL's 'Cannot handle this data
    type'."""
    f = np.random.default_rng(0).random((8, 8, 3))
    with pytest.raises(ImageError, match="the alpha is 3x3 and the picture 8x8"):
        save_image(f, tmp_path / "x.png", alpha=np.ones((3, 3)))
    save_image(f[..., :1], tmp_path / "g.png")  # a grey picture with its channel axis
    assert Image.open(tmp_path / "g.png").mode == "L"
    with pytest.raises(ImageError, match=r"shape \(8, 8, 2\)"):
        save_image(f[..., :2], tmp_path / "y.png")


def test_save_image_keeps_what_a_format_holds(tmp_path):
    """(review) A 16-bit big-endian TIFF crop became 8-bit, a CMYK TIFF RGB, and a palette picture with a transparent
    index written as BMP showed its hidden colour instead of white."""
    big = Image.fromarray((np.random.default_rng(0).random((30, 40)) * 60000).astype(">u2"))
    big.save(tmp_path / "g.tif")
    save_image(Image.open(tmp_path / "g.tif"), tmp_path / "c.tif")
    assert Image.open(tmp_path / "c.tif").mode == Image.open(tmp_path / "g.tif").mode
    save_image(Image.new("CMYK", (8, 8), (0, 200, 0, 0)), tmp_path / "k.tif")
    assert Image.open(tmp_path / "k.tif").mode == "CMYK"
    pal = Image.fromarray((np.random.default_rng(1).random((20, 20, 3)) * 255).astype(np.uint8)).quantize(8)
    pal.info["transparency"] = 0
    save_image(pal, tmp_path / "p.bmp")
    got = np.asarray(Image.open(tmp_path / "p.bmp").convert("RGB"))
    assert (got[np.asarray(pal) == 0] == 255).all()


def test_reduced_reads_keep_thin_strips_and_average_as_the_picture_looks(tmp_path):
    """(review) A 4000 x 8 JPEG was read 2 px thin by draft=512 (compose needs 8). A transparent picture is reduced
    as it looks: its hidden colours do not bleed into the visible ones (Pillow's reduce averages premultiplied)."""
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 4000, 3), dtype=np.uint8)).save(tmp_path / "s.jpg")
    assert read_image(tmp_path / "s.jpg", draft=512).rgb.shape[0] == 8
    rgba = np.zeros((64, 3000, 4), np.uint8)
    rgba[..., :3] = (0, 0, 255)  # a hidden blue under full transparency,
    rgba[:, 1502:, 3] = 255
    rgba[:, 1502:, :3] = (255, 0, 0)  # beside opaque red
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    small = read_image(tmp_path / "t.png", draft=512)  # (reduced 5 times: the cell of columns 1500-1504 mixes them)
    assert small.full_size == (3000, 64) and small.rgb.shape[1] == 600
    edge = small.rgb[:, 300]  # over white: pink, with no more blue in it than green
    assert (edge[:, 0] > 0.99).all() and (np.abs(edge[:, 2] - edge[:, 1]) < 0.01).all(), edge[0]


def test_a_video_given_for_an_image_is_named_as_one(tmp_path):
    """(docs audit) `stylize clip.mp4 ...` said "not an image Pillow can read: use PNG, JPEG...": it says it is a
    video, and which command takes videos."""
    from brushwork.errors import ImageError
    from brushwork.imaging.io import read_image

    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))
    with pytest.raises(ImageError, match=r"'.*clip.mp4' is a video, not an image: give an image \(`brushwork video"):
        read_image(clip, what="content image")
