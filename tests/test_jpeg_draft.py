"""The 1/8-scale fast path for progressive JPEGs gives exactly the pixels of a full draft decode."""

import numpy as np
import pytest
from PIL import Image

import brushwork.imaging.decode as decode_mod
from brushwork.errors import ImageError
from brushwork.imaging.io import read_image
from brushwork.imaging.jpeg import dc_only_stream


def _picture(w=250, h=190, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(w, h)
    base = np.stack([np.sin(6 * x + 1), np.cos(5 * y), np.sin(4 * (x + y))], -1) * 90 + 128
    return Image.fromarray(np.clip(base + rng.normal(0, 30, base.shape), 0, 255).astype(np.uint8))


VARIANTS = {
    "420": dict(),
    "444": dict(subsampling=0),
    "422": dict(subsampling=1),
    "restarts": dict(restart_marker_blocks=3),
}


def _plain(path, draft, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(decode_mod, "_dc_only", lambda path, img, asked: img)
        return read_image(path, draft=draft).rgb


@pytest.mark.parametrize("variant", [*VARIANTS, "grey", "cmyk", "rotated"])
def test_fast_path_matches_a_full_draft_decode(tmp_path, monkeypatch, variant):
    img = _picture()
    kw = dict(VARIANTS.get(variant, {}))
    if variant == "grey":
        img = img.convert("L")
    elif variant == "cmyk":
        img = img.convert("CMYK")
    elif variant == "rotated":
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90 degrees on display
        kw["exif"] = exif.tobytes()
    path = tmp_path / f"{variant}.jpg"
    img.save(path, quality=90, progressive=True, **kw)
    data = path.read_bytes()
    small = dc_only_stream(data)
    assert small is not None and len(small) < len(data)
    used = []
    real = decode_mod._dc_only
    monkeypatch.setattr(decode_mod, "_dc_only", lambda *a: used.append(1) or real(*a))
    fast = read_image(path, draft=31).rgb
    assert used, "the fast path was not taken"
    plain = _plain(path, 31, monkeypatch)
    assert fast.shape == plain.shape and max(fast.shape[:2]) >= 31
    np.testing.assert_array_equal(fast, plain)
    if variant == "rotated":
        assert fast.shape[0] > fast.shape[1]


def test_baseline_truncated_and_other_files_take_the_usual_path(tmp_path):
    img = _picture()
    img.save(tmp_path / "base.jpg", quality=90)
    assert dc_only_stream((tmp_path / "base.jpg").read_bytes()) is None
    img.save(tmp_path / "p.png")
    assert dc_only_stream((tmp_path / "p.png").read_bytes()) is None
    img.save(tmp_path / "prog.jpg", quality=90, progressive=True)
    data = (tmp_path / "prog.jpg").read_bytes()
    assert dc_only_stream(data[: len(data) // 2]) is None
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated or corrupt"):
        read_image(tmp_path / "cut.jpg", draft=31)


def test_small_draft_factors_decode_the_whole_file(tmp_path, monkeypatch):
    _picture().save(tmp_path / "prog.jpg", quality=90, progressive=True)
    used = []
    monkeypatch.setattr(decode_mod, "_dc_only", lambda *a: used.append(1))
    assert read_image(tmp_path / "prog.jpg", draft=100).rgb.shape[1] >= 100  # 1/2 scale: AC needed
    assert not used


def _frame(width, height, sampling):
    """An SOF2 payload: precision, height, width, then (id, HV, table) per component."""
    comps = b"".join(bytes([i + 1, (h << 4) | v, 0]) for i, (h, v) in enumerate(sampling))
    return bytes([8]) + height.to_bytes(2, "big") + width.to_bytes(2, "big") + bytes([len(sampling)]) + comps


def _eob_blocks(stream):
    """Decode the synthetic scans: per component id, the number of blocks their end-of-band runs cover."""
    from brushwork.imaging.jpeg import _EOB_TABLE, _NO_RESTARTS

    assert stream.startswith(_NO_RESTARTS + _EOB_TABLE)
    rest, out = stream[len(_NO_RESTARTS + _EOB_TABLE):], {}
    while rest:
        assert rest[:5] == b"\xff\xda\x00\x08\x01" and rest[6:10] == bytes([0, 1, 63, 0])  # Ss=1, Se=63, Ah=Al=0
        cid, rest = rest[5], rest[10:]
        end = rest.find(b"\xff\xda")
        data, rest = (rest, b"") if end < 0 else (rest[:end], rest[end:])
        bits = "".join(f"{b:08b}" for b in data.replace(b"\xff\x00", b"\xff"))
        total, i = 0, 0
        while i + 4 <= len(bits) and bits[i:i + 4] != "1111":  # 1111 is padding (no code is all ones)
            r = int(bits[i:i + 4], 2)
            extra = int(bits[i + 4:i + 4 + r], 2) if r else 0
            total += (1 << r) + extra
            i += 4 + r
        assert set(bits[i:]) <= {"1"} and len(bits) - i < 8  # padded with ones to a byte
        out[cid] = total
    return out


@pytest.mark.parametrize("width,height,sampling,expected", [
    (232, 190, [(2, 2), (1, 1), (1, 1)], {1: 29 * 24}),  # 29 blocks wide, not the 30 of whole MCUs
    (232, 190, [(1, 1), (1, 1), (1, 1)], {1: 696, 2: 696, 3: 696}),
    (5120, 2880, [(2, 1), (1, 1), (1, 1)], {1: 640 * 360}),  # several maximal runs (32767 blocks each)
])
def test_zero_ac_scans_cover_exactly_the_component_blocks(width, height, sampling, expected):
    from brushwork.imaging.jpeg import _zero_ac_scans

    assert _eob_blocks(_zero_ac_scans(_frame(width, height, sampling))) == expected


def test_malformed_headers_fall_back_to_the_normal_decode(tmp_path):
    _picture().save(tmp_path / "p.jpg", quality=90, progressive=True)
    data = bytearray((tmp_path / "p.jpg").read_bytes())
    sof = data.find(b"\xff\xc2")
    data[sof + 11] = 0x00  # first component's sampling factors 0 x 0
    (tmp_path / "bad.jpg").write_bytes(bytes(data))
    try:
        read_image(tmp_path / "bad.jpg", draft=31)
    except ImageError:
        pass  # the normal decoder's clear error is fine; a ZeroDivisionError is not


def test_decoding_in_the_background_gives_what_read_image_gives(tmp_path):
    _picture(600, 400).save(tmp_path / "prog.jpg", quality=90, progressive=True)
    _picture(600, 400).save(tmp_path / "p.png")
    for name in ("prog.jpg", "p.png"):
        ahead = decode_mod.decode_in_background(tmp_path / name, draft=64).result()
        now = read_image(tmp_path / name, draft=64)
        np.testing.assert_array_equal(ahead.rgb, now.rgb)
        assert (ahead.source, ahead.mode) == (now.source, now.mode)
    (tmp_path / "bad.jpg").write_bytes(b"not a picture")
    pending = decode_mod.decode_in_background(tmp_path / "bad.jpg", what="content image")
    with pytest.raises(ImageError, match="content image .* is not an image Pillow can read"):
        pending.result()  # the thread's error, raised in the caller
    with pytest.raises(ImageError, match="too small"):
        decode_mod.decode_in_background(tmp_path / "p.png", min_side=500).result()


def test_the_decode_module_needs_no_numpy(tmp_path):
    # what lets the palette command decode while numpy imports: a numpy import on this path would
    # make the thread wait for it
    import subprocess
    import sys

    _picture(600, 400).save(tmp_path / "prog.jpg", quality=90, progressive=True)
    code = ("import sys; from brushwork.imaging.decode import open_decoded; "
            f"img, _, _ = open_decoded({str(tmp_path / 'prog.jpg')!r}, draft=64); assert img.width < 100; "
            "assert 'numpy' not in sys.modules, sorted(m for m in sys.modules if m.startswith('brushwork'))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_stylize_reads_a_large_photo_reduced_and_sizes_it_from_the_photo(tmp_path):
    """stylize reads the content at twice the output's size at least (a 17.5 MP photo at 512 px held 0.9 GB of
    full-size float copies); the output's size comes from the photo itself, upright (EXIF), not from the reduced
    read, and a thin picture read small is not refused for a short side the photo does not have."""
    from brushwork.imaging.io import read_image
    from brushwork.pipelines.stylize import stylize

    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (900, 1300, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned: 900 wide, 1300 high
    photo.save(tmp_path / "turned.jpg", exif=exif, quality=90)
    got = read_image(tmp_path / "turned.jpg", draft=128)
    assert got.picture_size == (900, 1300) and max(got.size) < 1300 and got.size[0] < got.size[1]
    assert read_image(tmp_path / "turned.jpg").full_size is None
    result = stylize(tmp_path / "turned.jpg", tmp_path / "turned.jpg", method="adain", size=64, progress=False)
    assert result.image.size == (44, 64)  # 900 x 1300 fitted to 64
    Image.new("RGB", (3000, 40), (90, 120, 200)).save(tmp_path / "thin.png")
    thin = stylize(tmp_path / "thin.png", tmp_path / "turned.jpg", method="adain", size=1500, progress=False)
    assert thin.image.size == (1500, 20)
