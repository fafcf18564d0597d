"""Near-duplicate checks: the index, the verdicts and their thresholds, the commands and bad input."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from brushwork.cli import main
from brushwork.errors import BrushworkError
from brushwork.pipelines.stylize import sample_path
from brushwork.provenance import originality as org


@pytest.fixture
def refs(tmp_path):
    folder = tmp_path / "refs"
    (folder / "sub").mkdir(parents=True)
    for name in ("chelsea.jpg", "coffee.jpg"):
        Image.open(sample_path(name)).convert("RGB").resize((240, 160)).save(folder / name.replace(".jpg", ".png"))
    Image.open(sample_path("starry_night.jpg")).convert("RGB").resize((200, 160)).save(folder / "sub" / "starry.png")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    return folder


def test_verdict_thresholds():
    assert org.verdict(True, 40, 0.0)[0] == "exact copy"
    assert org.verdict(False, 0, org.EXACT_SIMILARITY)[0] == "exact copy"
    assert org.verdict(False, org.NEAR_HASH_DISTANCE, org.DERIVATIVE_SIMILARITY)[0] == "near duplicate"
    assert org.verdict(False, 0, 0.1)[0] == "original"  # a hash collision alone (flat pictures) is not a copy
    assert org.verdict(False, 32, org.NEAR_SIMILARITY)[0] == "near duplicate"
    assert org.verdict(False, 32, org.DERIVATIVE_SIMILARITY)[0] == "derivative"
    v, reason = org.verdict(False, 32, org.DERIVATIVE_SIMILARITY - 0.01)
    assert v == "original" and "closest similarity" in reason


def test_index_round_trip_and_verdicts(refs, tmp_path, lite0):
    index = org.build_index(refs, encoder=lite0)
    assert sorted(index.names) == ["chelsea.png", "coffee.png", "sub/starry.png"] and index.skipped == 1
    assert np.allclose(np.linalg.norm(index.vectors, axis=1), 1, atol=1e-3)
    index.save(tmp_path / "i.npz")
    again = org.ReferenceIndex.load(tmp_path / "i.npz")
    assert again.names == index.names and again.sha256 == index.sha256 and (again.phash == index.phash).all()

    cat = Image.open(refs / "chelsea.png")
    cat.save(tmp_path / "same.png", compress_level=1)  # same pixels, other bytes
    cat.resize((120, 80)).save(tmp_path / "small.jpg", quality=80)
    w, h = cat.size
    cat.crop((w // 10, h // 10, w - w // 10, h - h // 10)).save(tmp_path / "crop.png")
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (160, 240, 3), dtype=np.uint8)).save(tmp_path / "noise.png")
    files = [refs / "coffee.png", tmp_path / "same.png", tmp_path / "small.jpg", tmp_path / "crop.png",
             tmp_path / "noise.png"]
    res = org.check(files, again, encoder=lite0)
    assert [r.verdict for r in res] == ["exact copy", "exact copy", "near duplicate", "near duplicate", "original"]
    assert res[0].reason.startswith("the same file") and res[1].matches[0].name == "chelsea.png"
    assert res[2].matches[0].name == "chelsea.png" and len(res[2].matches) == 3


def test_commands_and_bad_input(refs, tmp_path, capsys):
    idx = tmp_path / "refs.npz"
    assert main(["index", "build", str(refs), "-o", str(idx), "-q"]) == 0
    assert "indexed 3 images" in capsys.readouterr().out
    assert main(["originality", str(refs / "coffee.png"), "--index", str(idx), "--json", "--sheet",
                 str(tmp_path / "sheet.png")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["verdict"] == "exact copy" and out[0]["matches"][0]["name"] == "coffee.png"
    assert Image.open(tmp_path / "sheet.png").size[0] > 4 * 128
    (tmp_path / "notes.txt").write_text("x")
    Image.new("RGB", (1, 1), (200, 40, 40)).save(tmp_path / "dot.png")
    # a blank canvas or a fully transparent layer is no picture (a white canvas was a "derivative" of a grey ramp)
    Image.new("RGB", (64, 64), (255, 255, 255)).save(tmp_path / "white.png")
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    bad = [
        (["originality", str(tmp_path / "dot.png"), "--index", str(idx)], "too small to compare"),
        (["originality", str(tmp_path / "white.png"), "--index", str(idx)], "one flat colour"),
        (["originality", str(tmp_path / "clear.png"), "--index", str(idx)], "one flat colour"),
        (["index", "build", str(tmp_path / "nope"), "-o", str(tmp_path / "x.npz")], "not a folder"),
        (["index", "build", str(refs), "-o", str(tmp_path / "x.json")], ".npz"),
        (["originality", str(refs / "coffee.png"), "--index", str(tmp_path / "none.npz")], "does not exist"),
        (["originality", str(refs / "coffee.png"), "--index", str(tmp_path / "notes.txt")], "not a brushwork index"),
        (["originality", str(refs / "coffee.png"), "--index", str(refs)], "is a folder"),
        (["originality", str(tmp_path / "none.png"), "--index", str(idx)], "does not exist"),
        (["originality", str(tmp_path / "notes.txt"), "--index", str(idx)], "not an image"),
        (["originality", str(refs / "coffee.png"), "--index", str(idx), "--sheet", str(tmp_path / "s.jpg")], ".png"),
        (["originality", str(refs / "coffee.png"), "--index", str(idx), "--sheet", str(refs / "coffee.png")],
         "is also an input"),
        (["originality", str(tmp_path / "dot.png"), "--index", str(idx), "--sheet", str(refs / "coffee.png")],
         "is also an input"),  # an indexed reference, not the checked image
        (["originality", str(refs / "coffee.png"), "--index", str(tmp_path / "narrow.npz")], "not a brushwork index"),
    ]
    ok = np.load(idx)  # an index whose features are of another width (edited, or another program's)
    np.savez(tmp_path / "narrow.npz", phash=ok["phash"], vectors=ok["vectors"][:, :100], meta=ok["meta"])
    kept = (refs / "coffee.png").read_bytes()
    for argv, msg in bad:
        assert main(argv) == 2, argv
        assert msg in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "s.jpg").exists()
    assert (refs / "coffee.png").read_bytes() == kept
    assert main(["originality", str(refs / "coffee.png"), "--index", str(idx), "--sheet", str(tmp_path / "s.png")]) == 0
    assert f"contact sheet: {tmp_path / 's.png'}" in capsys.readouterr().out
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(BrushworkError, match="holds no images to index"):
        org.build_index(empty)
    shutil.copy(tmp_path / "white.png", empty / "white.png")  # indexed, it would match every blank query
    shutil.copy(refs / "coffee.png", empty / "coffee.png")
    assert main(["index", "build", str(empty), "-o", str(tmp_path / "e.npz"), "-q"]) == 0
    out = capsys.readouterr().out
    assert "indexed 1 images" in out and "(1 unreadable or blank files skipped)" in out, out


def test_a_large_jpeg_and_a_png_of_its_pixels_are_the_same_picture(tmp_path):
    """JPEG's reduced decoding (draft) made a large JPEG describe differently from the same pixels saved as PNG:
    a lossless copy was a 'near duplicate'."""
    from brushwork.provenance.originality import build_index, check
    from brushwork.pipelines.stylize import sample_path

    refs = tmp_path / "refs"
    refs.mkdir()
    photo = np.asarray(Image.open(sample_path("content")).convert("RGB").resize((2400, 1600)), np.float32)
    grain = np.random.default_rng(0).normal(0, 40, photo.shape[:2])[..., None]  # fine detail, as a real photo has
    Image.fromarray(np.clip(photo + grain, 0, 255).astype(np.uint8)).save(refs / "big.jpg", quality=90)
    Image.open(refs / "big.jpg").save(tmp_path / "copy.png")
    r = check([tmp_path / "copy.png"], build_index(refs), top=1)[0]
    assert r.verdict == "exact copy", (r.verdict, r.reason)


def test_a_restyled_photo_lists_the_photo_whose_layout_it_keeps(refs, tmp_path, lite0):
    """The closest reference by layout (pHash) is listed beside the most similar ones: a photo restyled by a
    painting is most similar to the painting, and the photo it keeps the layout of was left off the list."""
    import brushwork

    out = brushwork.stylize(refs / "chelsea.png", refs / "sub" / "starry.png", method="adain", size=160, seed=0)
    out.image.save(tmp_path / "styled.png")
    index = org.build_index(refs, encoder=lite0)
    (res,) = org.check([tmp_path / "styled.png"], index, encoder=lite0, top=2)
    hashes = {m.name: m.hash_distance for m in res.matches}
    assert len(res.matches) == 2 and "chelsea.png" in hashes, res.matches
    assert hashes["chelsea.png"] == min(hashes.values())
    assert res.verdict != "derivative" or "or a picture in its style" in res.reason


def test_many_images_are_checked_in_batches_and_the_sheet_keeps_the_most_severe(refs, tmp_path, capsys, monkeypatch):
    """Results come a batch at a time (all images' 224 px copies were held together, 0.35 MB each, and nothing
    was printed until the last); a missing path is said before any work, an unreadable image where it comes, the
    others going on; the sheet draws at most SHEET_ROWS images, the most severe verdicts first."""
    from brushwork import cli

    idx = tmp_path / "refs.npz"
    assert main(["index", "build", str(refs), "-o", str(idx), "-q"]) == 0
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(tmp_path / "noise.png")
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    monkeypatch.setattr(org, "CHECK_BATCH", 2)
    embedded = []
    real = org._check_batch
    monkeypatch.setattr(org, "_check_batch", lambda paths, *a: embedded.append(len(paths)) or real(paths, *a))  # (per batch)
    capsys.readouterr()
    files = [str(tmp_path / "noise.png"), str(refs / "coffee.png"), str(tmp_path / "noise.png")]
    assert main(["originality", *files, str(tmp_path / "none.png"), "--index", str(idx)]) == 2
    assert "none.png' does not exist" in capsys.readouterr().err and embedded == []
    # an image that cannot be compared is named and the others go on, exit 2 (it stopped the run: 106 of 500 checked)
    Image.new("RGB", (20, 20), "red").save(tmp_path / "dot.png")
    assert main(["originality", *files, str(tmp_path / "broken.png"), str(tmp_path / "dot.png"), *files, "--index",
                 str(idx)]) == 2
    io = capsys.readouterr()
    assert io.out.count(": ORIGINAL") + io.out.count(": EXACT COPY") == 6 and "broken.png' is not an image" in io.err
    assert "dot.png' is 20x20 pixels, too small" in io.err and "2 of 8 files could not be checked" in io.err
    assert embedded == [2, 2, 2, 2]
    sheet = tmp_path / "none.png"  # (review) every image failing, with --sheet: a ValueError from max()
    assert main(["originality", str(tmp_path / "broken.png"), str(tmp_path / "dot.png"), "--index", str(idx),
                 "--sheet", str(sheet)]) == 2
    assert "2 of 2 files could not be checked" in capsys.readouterr().err and not sheet.exists()
    monkeypatch.setattr(cli, "SHEET_ROWS", 2)
    assert main(["originality", *files, "--index", str(idx), "--sheet", str(tmp_path / "s.png")]) == 0
    io = capsys.readouterr()
    assert io.out.count(": ORIGINAL") == 2 and "EXACT COPY" in io.out and "the sheet shows 2 of the images" in io.err
    assert Image.open(tmp_path / "s.png").height == 2 * (128 + 28 + 6) + 6  # two rows


def test_an_index_is_brought_up_to_date_and_a_stopped_build_goes_on(refs, tmp_path, capsys, monkeypatch):
    """(scale audit) Adding 10 pictures to 8,000 meant the whole 5-minute build again, and a Ctrl-C kept nothing: an
    index already there takes its entries for the same name and contents; a stopped build keeps what it did, marked
    incomplete (refused for checks), and the next build goes on from it; the result is the same as a fresh build."""
    idx = tmp_path / "refs.npz"
    assert main(["index", "build", str(refs), "-o", str(idx), "-q"]) == 0
    fresh = org.ReferenceIndex.load(idx)
    Image.open(sample_path("coffee.jpg")).convert("RGB").resize((180, 120)).save(refs / "sub" / "new.png")
    Image.open(sample_path("chelsea.jpg")).convert("RGB").resize((240, 160)).rotate(90).save(refs / "chelsea.png")
    described = []
    real = org.describe
    monkeypatch.setattr(org, "describe", lambda f: described.append(f.name) or real(f))
    capsys.readouterr()
    assert main(["index", "build", str(refs), "-o", str(idx), "-q"]) == 0
    assert sorted(described) == ["broken.png", "chelsea.png", "new.png"]  # (the changed, the new, the unreadable)
    assert "took 2 of the 4 images from the index already" in capsys.readouterr().err
    updated = org.ReferenceIndex.load(idx)
    described.clear()
    assert main(["index", "build", str(refs), "-o", str(tmp_path / "whole.npz"), "-q"]) == 0  # (from nothing)
    whole = org.ReferenceIndex.load(tmp_path / "whole.npz")
    assert updated.names == whole.names and updated.sha256 == whole.sha256 and (updated.phash == whole.phash).all()
    assert np.allclose(updated.vectors, whole.vectors, atol=1e-6) and len(described) == 5
    assert fresh.names != updated.names
    # a Ctrl-C after two pictures: kept, incomplete, refused for checks; the next build goes on from it
    monkeypatch.setattr(org, "describe", lambda f: (_ for _ in ()).throw(KeyboardInterrupt) if f.name == "starry.png"
                        else real(f))
    stopped = tmp_path / "stopped.npz"
    assert main(["index", "build", str(refs), "-o", str(stopped), "-q"]) == 130
    assert "images indexed so far are kept" in capsys.readouterr().err
    assert main(["originality", str(refs / "coffee.png"), "--index", str(stopped)]) == 2
    assert "is incomplete (its build was stopped): run the same brushwork index build again" in capsys.readouterr().err
    monkeypatch.setattr(org, "describe", lambda f: described.append(f.name) or real(f))
    described.clear()
    assert main(["index", "build", str(refs), "-o", str(stopped), "-q"]) == 0
    assert "starry.png" in described and "coffee.png" not in described
    again = org.ReferenceIndex.load(stopped)
    assert again.names == whole.names and again.complete and np.allclose(again.vectors, whole.vectors, atol=1e-6)
    assert "took 3 of the 4 images" in capsys.readouterr().err
    assert main(["index", "build", str(refs), "-o", str(stopped), "-q", "--rebuild"]) == 0
    assert "took" not in capsys.readouterr().err
    # (review) a Ctrl-C never replaces a whole index by part of one (a --rebuild, an update, another folder's)
    whole_bytes = (tmp_path / "whole.npz").read_bytes()
    monkeypatch.setattr(org, "describe", lambda f: (_ for _ in ()).throw(KeyboardInterrupt) if f.name == "starry.png"
                        else real(f))
    assert main(["index", "build", str(refs), "-o", str(tmp_path / "whole.npz"), "-q", "--rebuild"]) == 130
    assert "whole.npz is left as it was" in capsys.readouterr().err
    assert (tmp_path / "whole.npz").read_bytes() == whole_bytes
    # (review) a file that cannot be read while an index is brought up to date is skipped, as in a first build
    import brushwork.weights

    monkeypatch.setattr(org, "describe", real)
    real_sha = brushwork.weights.sha256_file
    monkeypatch.setattr(brushwork.weights, "sha256_file", lambda f: (_ for _ in ()).throw(PermissionError(13, "denied"))
                        if str(f).endswith("broken.png") else real_sha(f))
    assert main(["index", "build", str(refs), "-o", str(idx), "-q"]) == 0
