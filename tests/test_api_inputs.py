"""The Python API's and the training commands' common slips: one clear BrushworkError (exit code 2 from
the CLI), never a raw error from deep inside numpy or torch, and no picture silently made wrong."""

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork.cli import main
from brushwork.errors import BrushworkError, ImageError, WeightsError
from brushwork.imaging.io import read_image


def test_every_array_helper_takes_the_scales_stylize_takes(tmp_path):
    """The exported helpers read arrays as stylize does (API audit): [-1, 1] floats were clipped to a dark picture by
    save_image, palettes and recolour; to_tensor passed uint8 on as 0-255 (a white picture once clamped);
    srgb_to_linear of uint8 gave values up to 314,596; match_histograms of two uint8 pictures gave 0-255 floats."""
    from brushwork.color import match_histograms, rgb_to_oklab, srgb_to_linear
    from brushwork.color.palette import extract_palette
    from brushwork.imaging.io import from_tensor, save_image, to_tensor

    rng = np.random.default_rng(0)
    u8 = (rng.random((12, 10, 3)) * 255).astype(np.uint8)
    f = u8.astype(np.float32) / 255
    for call in (lambda: save_image(f * 2 - 1, tmp_path / "x.png"), lambda: extract_palette(f * 2 - 1, k=3)):
        with pytest.raises(ImageError, match=r"\(a \+ 1\) / 2"):
            call()
    assert not (tmp_path / "x.png").exists()
    with pytest.raises(ImageError, match="clip them, or rescale"):
        save_image(f * 1.9, tmp_path / "x.png")
    np.testing.assert_allclose(to_tensor(u8)[0].permute(1, 2, 0).numpy(), f, atol=1e-6)
    with pytest.raises(ImageError, match=r"a.transpose\(1, 2, 0\)"):
        to_tensor(f.transpose(2, 0, 1))
    with pytest.raises(ValueError, match=r"x.permute\(2, 0, 1\)"):
        from_tensor(torch.rand(8, 6, 3))
    np.testing.assert_allclose(srgb_to_linear(u8), srgb_to_linear(f), atol=1e-6)
    out = match_histograms(u8, u8[::-1])
    assert out.max() <= 1.0 and out.dtype.kind == "f"
    with pytest.raises(ValueError, match=r"for RGBA, pass a\[\.\.\., :3\]"):
        rgb_to_oklab(np.dstack([f, f[..., :1]]))
    with pytest.raises(ValueError, match="grey"):
        rgb_to_oklab(f[..., 0])
    with pytest.raises(BrushworkError, match="pictures with pixels"):
        match_histograms(f, np.zeros((0, 0, 3), np.float32))


def test_arrays_of_unknown_scale_are_refused_not_clipped():
    with pytest.raises(ImageError, match="uint16"):
        read_image(np.full((32, 32, 3), 30000, np.uint16))
    with pytest.raises(ImageError, match=r"span \[0, 200\]"):
        read_image(np.linspace(0, 200, 32 * 32 * 3, dtype=np.float32).reshape(32, 32, 3))
    with pytest.raises(ImageError, match="NaN"):
        read_image(np.full((32, 32, 3), np.nan, np.float32))
    overshoot = np.linspace(-0.05, 1.05, 32 * 32 * 3, dtype=np.float32).reshape(32, 32, 3)  # resampling's ringing
    assert read_image(overshoot).rgb.min() == 0.0 and read_image(overshoot).rgb.max() == 1.0
    mask = np.zeros((32, 32), bool)
    mask[:16] = True
    assert read_image(mask).rgb[:16].min() == 1.0 and read_image(mask).rgb[16:].max() == 0.0  # masks as bool


def test_adain_transfer_checks_its_arguments(lite0, random_decoder_dir):
    from brushwork.models.adain import AdaINNet
    from brushwork.pipelines.adain import adain_transfer
    from brushwork.weights import load_decoder

    net = AdaINNet(lite0, load_decoder(random_decoder_dir))
    c, s = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
    cases = (({"styles": []}, "no style"),
             ({"styles": [s, s], "style_weights": [1.0]}, "1 style weights"),
             ({"styles": [s], "alpha": 2.0}, r"in \[0, 1\]"),
             ({"styles": [s], "alpha": float("nan")}, r"in \[0, 1\]"),
             ({"styles": [s], "content": torch.rand(1, 1, 32, 32)}, "RGB pictures"),
             ({"styles": [s], "masks": [None, None]}, "2 masks"),
             ({"styles": [s], "style_stats": []}, "0 style statistics"))
    for kwargs, words in cases:
        args = {"content": c, **kwargs}
        with pytest.raises(BrushworkError, match=words):
            adain_transfer(net, args.pop("content"), args.pop("styles"), tile=None, **args)
    with torch.no_grad():  # a batch is each picture on its own, side by side
        both = adain_transfer(net, torch.cat([c, c.flip(-1)]), [s], tile=None)
        torch.testing.assert_close(both[1:], adain_transfer(net, c.flip(-1), [s], tile=None), atol=1e-5, rtol=0)


def test_gan_and_gallery_take_what_people_pass(tmp_path):
    from brushwork.pipelines.gan import load_gan, sample
    from brushwork.provenance.gallery import Gallery

    pair = load_gan(None)
    with pytest.raises(BrushworkError, match="not load_gan's"):
        sample(pair, [0])
    gan, _ = pair
    assert sample(gan, "0-1").shape[0] == 2  # seeds as on the command line
    assert sample(gan, torch.arange(2)).shape[0] == 2 and sample(gan, [np.int64(1)], batch=np.int64(1)).shape[0] == 1
    for bad in ([], [-1], [1.5]):
        with pytest.raises(BrushworkError, match="seeds"):
            sample(gan, bad)
    with pytest.raises(BrushworkError, match="device"):
        load_gan(None, device="bogus")
    Image.new("RGB", (32, 32), (200, 30, 30)).save(tmp_path / "a.png")
    with Gallery.open(tmp_path / "g.db") as g:
        gid = g.add(tmp_path / "a.png")
        assert g.tag(gid, "hello") == ["hello"]  # one tag, not its letters
        with pytest.raises(BrushworkError, match="no tags"):
            g.tag(gid, [])
        assert [it.id for it in g.delete(gid)[0]] == [gid]  # one id as well as a list


def test_weights_that_diverged_are_refused(tmp_path):
    from safetensors.torch import save_file

    from brushwork.weights import load_state_dict

    save_file({"w": torch.tensor([1.0, float("nan")])}, str(tmp_path / "m.safetensors"))
    with pytest.raises(WeightsError, match="NaN or infinite"):
        load_state_dict(tmp_path / "m.safetensors")


def test_training_commands_refuse_what_would_fail_later(tmp_path, capsys):
    assert main(["adain", "train", "--dry-run", "--size", "36", "-q", "--out", str(tmp_path / "a")]) == 2
    assert "multiple of 8" in capsys.readouterr().err and not (tmp_path / "a").exists()
    root = tmp_path / "one_each"
    for i, c in enumerate(("ink", "paint")):
        (root / c).mkdir(parents=True)
        Image.fromarray(np.full((24, 24, 3), 60 + 100 * i, np.uint8)).save(root / c / "0.png")
    assert main(["classify", "train", str(root), "--out", str(tmp_path / "c"), "--epochs", "1", "--size", "16",
                 "--batch", "2", "-q"]) == 2
    assert "at least 2 images" in capsys.readouterr().err
    assert main(["classify", "train", str(root), "--out", str(tmp_path / "c"), "--lr", "inf", "-q"]) == 2
    assert "not a finite number" in capsys.readouterr().err


def test_stylize_colour_and_watermark_name_wrong_types(small_images, tmp_path):
    from brushwork import stylize
    from brushwork.color.harmony import classify
    from brushwork.color.palette import Palette
    from brushwork.provenance.watermark import embed_watermark

    content, style = small_images
    for kwargs, words in (({"strength": "0.5"}, "must be a number"), ({"steps": 1.5}, "whole number"),
                          ({"seed": "x"}, "whole number"), ({"style_weights": "0.5,0.5"}, "list of numbers"),
                          ({"style_weight": float("inf")}, "style_weight must be")):
        with pytest.raises(BrushworkError, match=words):
            stylize(content, style, size=32, **kwargs)
    with pytest.raises(BrushworkError, match="content must be an image"):
        stylize(None, style)
    assert classify(["#ff0000", "#00ffff"]).label == "complementary"  # hex colours as people write them
    with pytest.raises(BrushworkError, match="at least one colour"):
        Palette.from_hex([])
    with pytest.raises(BrushworkError, match="strength"):
        embed_watermark(Image.open(content), strength=float("nan"))


def test_reproduce_refuses_before_rerunning(small_images, tmp_path, monkeypatch):
    import json

    from brushwork.provenance.reproduce import reproduce

    content, style = small_images
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "x.png"
    assert main(["stylize", str(content), str(style), "-o", str(out), "--method", "adain", "--size", "48", "-q",
                 "--sidecar"]) == 0
    (tmp_path / "kept").mkdir()
    with pytest.raises(BrushworkError, match="is a folder"):
        reproduce(out, keep=tmp_path / "kept")
    recipe = json.loads((tmp_path / "x.png.json").read_text())
    recipe["inputs"] = recipe["inputs"][:1]  # hand-edited: the command still names {input:1}
    Image.open(out).save(tmp_path / "y.png")  # no embedded recipe: the sidecar is read
    (tmp_path / "y.png.json").write_text(json.dumps(recipe))
    with pytest.raises(BrushworkError, match="'inputs' list lacks"):
        reproduce(tmp_path / "y.png")


def test_what_a_notebook_passes_is_taken_or_named(small_images, tmp_path, monkeypatch, random_decoder_dir):
    """numpy numbers become plain ones in the recipe; a tensor for a style is named; a LAB image is opaque; a
    16-bit picture is watermarked in its own tones; numpy ids find gallery items; one path is one picture; empty
    lists are named; uint8 arrays are 0-255 in the colour and composition tools, as read_image takes them."""
    import json

    import brushwork
    from brushwork.color.harmony import complete, contrast_table
    from brushwork.color.palette import extract_palette
    from brushwork.color.recolor import recolor
    from brushwork.color.transfer import transfer_luminance
    from brushwork.composition.analysis import analyze, suggest_crops
    from brushwork.imaging.io import save_image
    from brushwork.provenance.gallery import Gallery
    from brushwork.provenance.watermark import detect_watermark, embed_watermark

    monkeypatch.setenv("BRUSHWORK_GALLERY", str(tmp_path / "g.db"))
    content, style = small_images
    fast = dict(method="adain", decoder=str(random_decoder_dir))
    r = brushwork.stylize(content, style, strength=np.float32(0.7), seed=np.int64(3), size=np.int64(48),
                          tile=np.int64(256), **fast)
    json.dumps(r.params)  # (a numpy number in it was a TypeError at save time)
    assert r.params["strength"] == pytest.approx(0.7) and type(r.params["seed"]) is int
    r.save(tmp_path / "np.png")
    with pytest.raises(ImageError, match="style image must be a path or a PIL image"):
        brushwork.stylize(content, torch.rand(3, 32, 32), **fast)
    lab = Image.open(content).convert("RGB").convert("LAB")
    assert brushwork.stylize(lab, style, size=48, **fast).image.size[0] == 48  # (was "fully transparent")
    grey = np.asarray(Image.open(content).convert("L"))
    g16 = Image.fromarray(grey.astype(np.uint16) * 257)
    marked = np.asarray(embed_watermark(g16).convert("L"), np.float32)
    assert abs(marked.mean() - grey.mean()) < 2  # (came back white)
    with pytest.raises(BrushworkError, match="takes a PIL image"):
        detect_watermark(str(content))
    with Gallery.open() as g:
        item = g.search()[0]
        assert g.get(np.int64(item.id)).id == item.id and g.tag(np.int64(item.id), "np") == ["np"]
        with pytest.raises(BrushworkError, match="whole number"):
            g.get("1")
    from brushwork.pipelines.classify import load_classifier, predict_images
    from brushwork.provenance.originality import build_index, check

    with pytest.raises(BrushworkError, match="takes the folder"):
        build_index([content])
    index = build_index(content.parent)
    assert len(check(str(content), index)) == 1  # one path: one picture, not its letters
    with pytest.raises(BrushworkError, match="no images to check"):
        check([], index)
    model, cfg = load_classifier("medium")
    with pytest.raises(BrushworkError, match="no images to classify"):
        predict_images(model, cfg, [])
    a8 = np.asarray(Image.open(content).convert("RGB"))
    a = a8.astype(np.float32) / 255
    assert extract_palette(a8, k=3).hex == extract_palette(a, k=3).hex
    assert np.allclose(recolor(a8, reference=a8[::-1]), recolor(a, reference=a[::-1]), atol=1e-5)
    assert np.allclose(transfer_luminance(a8, a8), transfer_luminance(a, a), atol=1e-5)
    assert analyze(a8).subject == analyze(a).subject
    assert suggest_crops(a8, "1:1")[0].box == suggest_crops(a, ["1:1"])[0].box
    save_image(a8, tmp_path / "u8.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "u8.png").convert("RGB")), a8)
    assert contrast_table(["#000000", "#ffffff"])[0]["ratio"] == 21.0 and complete(["#ff0000"], "complementary")
    assert recolor(a, palette=["#ff0000", "#0000ff"], method="palette").shape == a.shape


def test_what_a_script_does_with_the_api_is_safe_and_as_documented(small_images, tmp_path):
    """The slips a notebook makes: saving over the photo (the CLI refuses; result.save replaced it), a LAB or La
    PIL image (read as fully transparent, or Pillow's error), 0-255 floats to the colour tools (every colour
    clipped to white), one style path to stylize_folder (split into letters), seeded torch code after a model
    is loaded (its stream moved), bad predict_images arguments, a float crop ratio, tuples for hex colours."""
    import brushwork
    from brushwork.color.harmony import classify
    from brushwork.color.palette import extract_palette
    from brushwork.composition import suggest_crops
    from brushwork.pipelines.batch import stylize_folder
    from brushwork.pipelines.classify import load_classifier, predict_images
    from brushwork.pipelines.gan import load_gan

    content, style = small_images
    result = brushwork.stylize(content, style, method="adain", size=64)
    before = content.read_bytes()
    with pytest.raises(BrushworkError, match="is also an input"):
        result.save(content)
    assert content.read_bytes() == before and result.save(tmp_path / "out.png").is_file()
    import os

    here = os.getcwd()
    try:  # (given relative, the inputs are held as absolute paths: another working folder does not unguard them)
        os.chdir(content.parent)
        again = brushwork.stylize(content.name, style, method="adain", size=64)
        (content.parent / "sub").mkdir()
        os.chdir(content.parent / "sub")
        with pytest.raises(BrushworkError, match="is also an input"):
            again.save(f"../{content.name}")
    finally:
        os.chdir(here)
    assert "stylize" in dir(brushwork) and brushwork.StylizeResult is type(result)
    photo = Image.open(content).convert("RGB")
    from PIL import ImageCms

    lab = ImageCms.applyTransform(photo, ImageCms.buildTransform(ImageCms.createProfile("sRGB"),
                                                                 ImageCms.createProfile("LAB"), "RGB", "LAB"))
    read = read_image(lab)
    assert read.alpha is None and abs(read.rgb.mean() - np.asarray(photo).mean() / 255) < 0.01
    la = photo.convert("LA").convert("La")
    assert read_image(la).alpha is None  # (opaque; Pillow cannot convert La itself)
    opaque = np.dstack([np.asarray(photo), np.full(photo.size[::-1], 255, np.uint8)])
    assert read_image(opaque).alpha is None  # as the same picture from a file or PIL
    with pytest.raises(ImageError, match="divide 0-255 values by 255"):
        extract_palette(np.asarray(photo, np.float32), k=3)
    with pytest.raises(ImageError, match="give an image array .*not the path"):
        extract_palette(str(content), k=3)
    from brushwork.datasets.arrays import load_arrays

    with pytest.raises(BrushworkError, match="unknown dataset 'bogus'"):
        load_arrays("bogus", fetch=False)
    folder = tmp_path / "photos"
    folder.mkdir()
    photo.save(folder / "a.png")
    report = stylize_folder(folder, str(style), tmp_path / "styled", method="adain", size=64, progress=False)
    assert len(report.written) == 1
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    load_gan(None)
    model, cfg = load_classifier("medium")
    assert torch.equal(torch.rand(3), expected)
    for bad in (dict(top_k=0), dict(top_k=1.5), dict(ink="Dark")):
        with pytest.raises(BrushworkError, match="top_k|ink"):
            predict_images(model, cfg, [content], **bad)
    assert suggest_crops(np.asarray(photo), [1.5])[0].ratio == "1.5"
    assert [c.ratio for c in suggest_crops(np.asarray(photo), [np.float32(1.5), np.int64(2)])] == ["1.5", "2"]
    with pytest.raises(BrushworkError, match=r"\(255, 0, 0\) is not a hex colour"):
        classify([(255, 0, 0)])
    assert classify(np.array(["#ff0000", "#00ff00", "#0000ff"])).label


def test_a_notebooks_slips_are_named_before_any_work(small_images, tmp_path, random_decoder_dir):
    """The API audit's tracebacks and silent results, each now one line (they were AttributeErrors, TypeErrors deep
    in numpy or the sampler, a crop box of (-1, 0, 0, 0), or a kernel killed for memory)."""
    import brushwork
    from brushwork.composition import analyze, saliency_map, suggest_crops
    from brushwork.color.palette import extract_palette
    from brushwork.imaging.io import save_image
    from brushwork.pipelines.classify import predict_images
    from brushwork.pipelines.gan import grid_image
    from brushwork.provenance.originality import check

    content, style = small_images
    fast = dict(method="adain", decoder=random_decoder_dir, size=32)
    for kw, said in ((dict(strength=None), "strength must be a number"), (dict(style_weights=0.5), "one per style"),
                     (dict(max_pixels=None), "max_pixels must be"), (dict(should_stop=True), "pass lambda: True"),
                     (dict(on_progress=3), "on_progress must be a function"),
                     (dict(masks=["-"]), "in Python pass None")):
        with pytest.raises(BrushworkError, match=said):
            brushwork.stylize(content, style, **fast, **kw)
    with pytest.raises(ImageError, match="web address"):
        brushwork.stylize("https://example.com/a.jpg", style, **fast)
    with pytest.raises(ImageError, match="expanduser"):
        brushwork.stylize("~/surely-not-here.jpg", style, **fast)
    f = np.asarray(Image.open(content).convert("RGB"), np.float32) / 255
    with pytest.raises(ImageError, match="from_tensor"):
        save_image(torch.from_numpy(f), tmp_path / "t.png")
    with pytest.raises(ImageError, match="from 1 to 100"):
        save_image(f, tmp_path / "t.jpg", quality=0.9)
    assert not list(tmp_path.glob("t.*"))
    save_image(f.tolist(), tmp_path / "list.png")  # (a nested list: an array)
    with pytest.raises(ImageError, match="os.fsdecode"):
        save_image(f, bytes(tmp_path / "b.png"))
    with pytest.raises(ImageError, match="exif must be EXIF bytes"):
        save_image(f, tmp_path / "e.jpg", exif="abc")
    assert not (tmp_path / "e.jpg").exists()
    with pytest.raises(BrushworkError, match="unpack it"):
        predict_images((object(), object()), None, [content])
    with pytest.raises(BrushworkError, match="seed must be a whole number"):
        extract_palette(f, k=3, seed=1.5)
    with pytest.raises(BrushworkError, match="alpha of the picture's size"):
        extract_palette(f, np.ones((3, 3)), k=3)
    with pytest.raises(BrushworkError, match="working_saliency"):
        analyze(f, saliency=np.ones((5, 5)))
    for kw in (dict(size=(0, 0)), dict(top=-1), dict(top=2.5)):
        with pytest.raises(BrushworkError):
            suggest_crops(f, ["1:1"], **kw)
    with pytest.raises(BrushworkError, match="aspect ratio"):
        suggest_crops(f, [(4, 5)])
    with pytest.raises(BrushworkError, match="from 1 to 16384"):
        saliency_map(f, size=10**6)
    with pytest.raises(BrushworkError, match="at least 2x2"):
        analyze(f[:0])
    with pytest.raises(BrushworkError, match=r"x / 127.5 - 1"):
        grid_image(torch.full((2, 3, 8, 8), 200.0))
    with pytest.raises(BrushworkError, match="cols must be"):
        grid_image(torch.zeros(2, 3, 8, 8), cols=-1)
    with pytest.raises(BrushworkError, match="ReferenceIndex.load"):
        check([content], "refs.npz")
