"""AdaIN pipeline: tiling with global statistics, masks, strength, decoder loading, CLI."""

import json

import pytest
import numpy as np
import torch
from PIL import Image

import brushwork
from brushwork.cli import main
from brushwork.errors import BrushworkError, WeightsError
from brushwork.models.adain import TRANSFORMS, AdaINNet, Decoder, DecoderConfig
from brushwork.pipelines.adain import _target, adain_transfer, tile_starts
from brushwork.training.engine import save_model
from brushwork.weights import load_decoder


@pytest.fixture(scope="module")
def net(lite0, random_decoder_dir):
    return AdaINNet(lite0, load_decoder(random_decoder_dir))


def test_tile_starts_cover_and_align():
    starts = tile_starts(1024, 256, 64, 16)
    assert starts[0] == 0 and starts[-1] == 1024 - 256 and all(s % 16 == 0 for s in starts)
    assert all(b - a <= 256 - 64 for a, b in zip(starts, starts[1:]))
    assert tile_starts(200, 256, 64, 16) == [0]


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_tiled_matches_untiled(net, transform):
    g = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, 200, 300, generator=g)
    style = torch.rand(1, 3, 128, 128, generator=g)
    full = adain_transfer(net, content, [style], tile=None, transform=transform)
    tiled = adain_transfer(net, content, [style], tile=128, overlap=64, transform=transform)  # 2 x 3 = 6 tiles
    assert full.shape == tiled.shape == content.shape
    # Tiles see zero padding where the whole image sees neighbours; the overlap ramps hide it.
    assert float((full - tiled).abs().mean()) < 0.02 * float(full.std())


def test_tiles_are_encoded_once(net, monkeypatch):
    """The statistics pass keeps each tile's features for the decoding pass (same picture, half the encoding);
    beyond the budget they are encoded again."""
    import brushwork.pipelines.adain as pa

    g = torch.Generator().manual_seed(0)
    content, style = torch.rand(1, 3, 200, 300, generator=g), torch.rand(1, 3, 128, 128, generator=g)
    calls = []
    real = type(net).features
    monkeypatch.setattr(type(net), "features", lambda self, x: calls.append(tuple(x.shape[-2:])) or real(self, x))
    tiles = len(pa.tile_starts(208, 128, 64, 16)) * len(pa.tile_starts(304, 128, 64, 16))  # (padded to 16s)
    assert tiles == 12
    once = adain_transfer(net, content, [style], tile=128, overlap=64)
    assert tiles <= len(calls) <= tiles + 1  # (the style's may come through another path)
    calls.clear()
    monkeypatch.setattr(pa, "KEEP_FEATURES_BYTES", 0)
    twice = adain_transfer(net, content, [style], tile=128, overlap=64)
    assert len(calls) >= 2 * tiles
    assert torch.equal(once, twice)


def test_alpha_zero_is_the_reconstruction_and_masks_keep_content(net):
    g = torch.Generator().manual_seed(1)
    content = torch.rand(1, 3, 64, 96, generator=g)
    style = torch.rand(1, 3, 64, 64, generator=g)
    recon = net.decoder(net.features(content)).clamp(0, 1)
    torch.testing.assert_close(adain_transfer(net, content, [style], alpha=0.0, tile=None), recon)
    empty = torch.zeros(1, 1, 64, 96)
    torch.testing.assert_close(adain_transfer(net, content, [style], masks=[empty], tile=None), recon)


def test_masked_targets_are_a_convex_mix_at_full_strength():
    """Each pixel gets the weighted mix of the styles whose masks cover it, never beyond the AdaIN targets
    (overlapping masks or a '-' mask beside a real one once summed to twice the step), and a region that
    one mask covers gets that style whole, whatever the weights."""
    c = torch.zeros(1, 2, 4, 4)
    one = torch.ones(1, 2, 1, 1)
    maps = [((one, one), torch.full((1, 2, 1, 1), 1.0)), ((one, one), torch.full((1, 2, 1, 1), 3.0))]
    full, left = torch.ones(1, 1, 4, 4), torch.zeros(1, 1, 4, 4)
    left[..., :2] = 1

    def target(masks, weights=(1.0, 1.0), alpha=1.0):
        return _target(c, c.mean((2, 3), keepdim=True), maps, weights, masks, alpha)

    torch.testing.assert_close(target(None), torch.full_like(c, 2.0))  # the mix of S'_1 = 1 and S'_2 = 3
    torch.testing.assert_close(target(None, (1.0, 3.0)), torch.full_like(c, 2.5))
    torch.testing.assert_close(target([full, full]), target(None))  # overlap: mixed, not summed
    torch.testing.assert_close(target([None, full]), target(None))
    split = target([left, 1 - left], (1.0, 3.0))  # disjoint: each region its own style, whole
    assert torch.all(split[..., :2] == 1.0) and torch.all(split[..., 2:] == 3.0)
    torch.testing.assert_close(target([left * 0.5, left * 0], alpha=0.5)[..., :2],
                               torch.full((1, 2, 4, 2), 0.25))  # a soft edge and the strength both scale it
    assert torch.all(target([left, left])[..., 2:] == 0)  # no mask: the photo's own features
    torch.testing.assert_close(target(None, (1e-13, 1e-13)), target(None))  # only the weights' ratios matter
    torch.testing.assert_close(target(None, (1e308, 1e308)), target(None))  # (their sum would overflow)
    soft = left * 0.5
    torch.testing.assert_close(target([soft, None], (1.0, 0.0)), target([soft, left * 0]))  # weight 0: no cover


def test_style_weights_are_checked(net):
    x = torch.rand(1, 3, 64, 64)
    for bad in ([0.0, 0.0], [1.0, -1.0], [1.0, float("nan")], [float("inf"), 1.0]):
        with pytest.raises(BrushworkError, match="style weights"):
            adain_transfer(net, x, [x, x], style_weights=bad, tile=None)


def test_decoder_loading_errors(tmp_path, random_decoder_dir):
    with pytest.raises(WeightsError, match="not found"):
        load_decoder(tmp_path / "nope")
    bad = tmp_path / "bad"
    save_model(Decoder(DecoderConfig(widths=(8, 8, 8, 8, 8))), {"decoder": DecoderConfig().to_dict()}, bad)
    with pytest.raises(WeightsError, match="not a AdaIN decoder|not an AdaIN decoder|AdaIN decoder"):
        load_decoder(bad)
    (tmp_path / "noconf").mkdir()
    (tmp_path / "noconf" / "model.safetensors").write_bytes((random_decoder_dir / "model.safetensors").read_bytes())
    with pytest.raises(WeightsError, match="config"):
        load_decoder(tmp_path / "noconf")


def test_stylize_adain_api_and_cli(small_images, random_decoder_dir, tmp_path):
    content, style = small_images
    r = brushwork.stylize(content, style, method="adain", decoder=random_decoder_dir, size=96, strength=0.7)
    assert r.image.size == (96, 64) and r.params["method"] == "adain" and r.params["adain"]["tile"] == 512  # (the CPU's default)
    out = tmp_path / "o.png"
    rc = main(["stylize", str(content), str(style), "-o", str(out), "--method", "adain", "--decoder",
               str(random_decoder_dir), "--size", "80", "-q"])
    assert rc == 0 and Image.open(out).size == (80, 53)
    assert json.loads(Image.open(out).text["brushwork"])["method"] == "adain"


def test_original_adain_files_load_with_their_keys(tmp_path, small_images, capsys):
    """Synthetic state dicts with the published files' keys and shapes (the files themselves are
    not redistributable here): vgg_normalised.pth holds the whole VGG-19 (53 modules), decoder.pth
    the mirrored decoder."""
    from brushwork.models.vgg_adain import VGGAdaINDecoder, VGGNormalisedEncoder
    from brushwork.weights import load_encoder

    torch.manual_seed(0)
    enc = VGGNormalisedEncoder()
    vgg_sd = {k.removeprefix("layers."): v for k, v in enc.state_dict().items()}
    vgg_sd.update({"32.weight": torch.zeros(512, 512, 3, 3), "32.bias": torch.zeros(512)})  # past relu4_1
    torch.save(vgg_sd, tmp_path / "vgg_normalised.pth")
    dec = VGGAdaINDecoder()
    torch.save(dec.state_dict(), tmp_path / "decoder.pth")
    assert sorted({int(k.split(".")[0]) for k in dec.state_dict()}) == [1, 5, 8, 11, 14, 18, 21, 25, 28]
    assert sorted({int(k.split(".")[0]) for k in vgg_sd})[:4] == [0, 2, 5, 9]

    loaded = load_encoder("vgg19-adain", tmp_path / "vgg_normalised.pth")
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, ["relu4_1"])["relu4_1"], enc(x, ["relu4_1"])["relu4_1"])
    d = load_decoder(tmp_path / "decoder.pth")
    assert isinstance(d, VGGAdaINDecoder) and d.stride == 8
    torch.save(Decoder().state_dict(), tmp_path / "wrong.pth")
    with pytest.raises(WeightsError, match="original AdaIN decoder"):
        load_decoder(tmp_path / "wrong.pth")
    content, style = small_images
    r = brushwork.stylize(content, style, method="adain", encoder="vgg19-adain",
                          weights=tmp_path / "vgg_normalised.pth", decoder=tmp_path / "decoder.pth", size=64)
    assert r.params["encoder"] == "vgg19-adain" and r.image.size == (64, 43)
    with pytest.raises(WeightsError, match="not an original AdaIN decoder"):  # (not "a original")
        load_decoder(tmp_path / "wrong.pth")
    # video takes the same pair: the decoder.pth and, through --weights, its encoder's file
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        Image.open(content).save(frames / f"{i:03d}.png")
    argv = ["video", str(frames), str(style), "-o", str(tmp_path / "v"), "--decoder", str(tmp_path / "decoder.pth"),
            "--size", "48", "-q", "--no-gallery"]
    assert main(argv) == 2 and "vgg_normalised.pth" in capsys.readouterr().err
    assert main([*argv, "--weights", str(tmp_path / "vgg_normalised.pth")]) == 0
    assert len(list((tmp_path / "v").glob("frame_*.png"))) == 2
    assert main([*argv, "-o", str(tmp_path / "decoder.pth")]) == 2  # an output on an input


def test_folder_batch_resumes_and_skips_corrupt(small_images, random_decoder_dir, tmp_path, capsys):
    content, style = small_images
    src = tmp_path / "photos"
    (src / "sub").mkdir(parents=True)
    Image.open(content).save(src / "a.png")
    Image.open(content).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(src / "sub" / "b.jpg")
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    Image.new("RGBA", (64, 64), (0, 0, 0, 0)).save(src / "blank_layer.png")  # (it stopped the whole run)
    Image.open(content).save(src / "sub" / "sprite.gif")  # left out, as every folder reader does: said so
    Image.new("RGB", (400, 90), "white").save(src / "banner.png")  # too thin at --size 48: stopped every run there
    out = tmp_path / "out"
    argv = ["stylize", str(src), str(style), str(content), "-o", str(out), "--method", "adain",
            "--decoder", str(random_decoder_dir), "--size", "48", "--each-style", "-q"]
    assert main(argv) == 0
    io = capsys.readouterr()
    assert "4 written, 0 already done, 3 skipped (unreadable, too small or large, nothing visible to stylize, or a name too long)" in io.out
    assert "broken.jpg" in io.err and "blank_layer.png' is fully transparent" in io.err
    assert "banner.png': at --size 48 the output would be 48x11 pixels" in io.err
    assert "left out 1 GIF(s): a folder run reads PNG" in io.err
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert names == ["a__content.png", "a__style.png", "sub/b__content.png", "sub/b__style.png"]
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    assert main(argv) == 0
    assert "0 written, 4 already done" in capsys.readouterr().out
    assert before == {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    # Other settings: the recipes say so, and the run stops before replacing the earlier outputs ...
    assert main([*argv, "--strength", "0.9"]) == 2
    err = capsys.readouterr().err
    assert "4 output(s)" in err and "--redo" in err
    assert before == {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    # ... unless asked to make them again (the recipes record the one-file command, without --redo)
    assert main([*argv, "--strength", "0.9", "--redo"]) == 0
    assert "4 written, 0 already done, 4 of them redone" in capsys.readouterr().out
    from brushwork.provenance.recipe import read_recipe

    recipe, _ = read_recipe(out / "a__style.png")
    assert "--redo" not in recipe["command"] and "--each-style" not in recipe["command"]


def test_folder_runs_see_changed_masks_and_decoders_and_sample_styles(small_images, random_decoder_dir, tmp_path,
                                                                        capsys):
    """A mask or decoder changed in place (same path, other contents) makes a folder run's outputs "other
    settings" (they were "already done"); with --each-style and --sample-style, an output of another style
    records a command without --sample-style (its reproduction blended both styles)."""
    import shutil

    from brushwork.provenance.recipe import read_recipe

    content, style = small_images
    src = tmp_path / "photos"
    src.mkdir()
    Image.open(content).save(src / "a.png")
    mask = tmp_path / "mask.png"
    Image.new("L", Image.open(content).size, 255).save(mask)
    dec = tmp_path / "dec"
    shutil.copytree(random_decoder_dir, dec)
    out = tmp_path / "out"
    argv = ["stylize", str(src), str(style), "-o", str(out), "--method", "adain", "--decoder", str(dec),
            "--size", "48", "--mask", str(mask), "-q"]
    assert main(argv) == 0 and main(argv) == 0
    assert "0 written, 1 already done" in capsys.readouterr().out
    Image.new("L", Image.open(content).size, 128).save(mask)  # the mask edited
    assert main(argv) == 2 and "--redo" in capsys.readouterr().err
    assert main([*argv, "--redo"]) == 0 and main(argv) == 0
    two = [*argv[:3], str(content), *argv[3:], "--mask", "-", "-o", str(tmp_path / "two")]  # a '-' beside it
    assert main(two) == 0
    Image.new("L", Image.open(content).size, 255).save(mask)
    assert main(two) == 2 and "--redo" in capsys.readouterr().err
    Image.new("L", Image.open(content).size, 128).save(mask)
    capsys.readouterr()
    from safetensors.torch import load_file, save_file

    weights = load_file(dec / "model.safetensors")
    save_file({k: v * 1.3 for k, v in weights.items()}, dec / "model.safetensors")  # retrained in place
    assert main(argv) == 2 and "a decoder" in capsys.readouterr().err
    each = tmp_path / "each"
    assert main(["stylize", str(src), str(content), "--sample-style", "--each-style", "-o", str(each), "--method",
                 "adain", "--decoder", str(dec), "--size", "48", "-q"]) == 0
    mine = next(p for p in each.iterdir() if p.name.endswith(f"__{content.stem}.png"))
    recipe, _ = read_recipe(mine)
    assert "--sample-style" not in recipe["command"]
    sample = next(p for p in each.iterdir() if p.suffix == ".png" and p != mine)
    assert "--sample-style" in read_recipe(sample)[0]["command"]
    assert main(["reproduce", str(mine), "--inputs", str(tmp_path), "--strict"]) == 0


def test_folder_batch_is_split_over_torchrun_processes(small_images, random_decoder_dir, tmp_path, capsys, monkeypatch):
    content, style = small_images
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(5):
        Image.open(content).rotate(i * 10).save(src / f"{i}.png")
    out = tmp_path / "out"
    argv = ["stylize", str(src), str(style), "-o", str(out), "--method", "adain", "--decoder", str(random_decoder_dir),
            "--size", "48", "-q"]
    made = []
    for rank in (1, 0):  # as torchrun would start them (no process group is needed to split files)
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        assert main(argv) == 0
        assert f"process {rank + 1} of 2:" in capsys.readouterr().out
        made.append({p.name for p in out.glob("*.png")})
    first, both = made
    assert 0 < len(first) < 5 and both == {f"{i}.png" for i in range(5)}  # split, and nothing done twice
    # Two inputs that would make the same output: refused before any work.
    Image.open(content).save(src / "0.jpg")
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    assert main(argv) == 2 and "would both be written" in capsys.readouterr().err


def test_folder_runs_name_clashes_missing_folders_and_unrecorded_outputs(small_images, random_decoder_dir, tmp_path,
                                                                          capsys):
    content, style = small_images
    src = tmp_path / "photos"
    src.mkdir()
    Image.open(content).save(src / "x.png")
    for d in ("a", "b"):  # two styles of one file name: one output each, not one overwriting the other
        (tmp_path / d).mkdir()
        Image.open(style).rotate(90 if d == "b" else 0).save(tmp_path / d / "art.png")
    fast = ["--method", "adain", "--decoder", str(random_decoder_dir), "--size", "48", "-q"]
    out = tmp_path / "each"
    assert main(["stylize", str(src), str(tmp_path / "a" / "art.png"), str(tmp_path / "b" / "art.png"), "--each-style",
                 "-o", str(out), *fast]) == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["x__art-1.png", "x__art-2.png"]
    # every clash counted, before any folder is made
    for i in range(3):
        Image.open(content).save(src / f"p{i}.png")
        Image.open(content).save(src / f"p{i}.jpg")
    assert main(["stylize", str(src), str(style), "-o", str(tmp_path / "clash"), *fast]) == 2
    assert "and 2 more such pair(s)" in capsys.readouterr().err and not (tmp_path / "clash").exists()
    # outputs written without a recipe stand, but --redo makes them again
    for i in range(3):
        (src / f"p{i}.jpg").unlink()
    plain = tmp_path / "plain"
    assert main(["stylize", str(src), str(style), "-o", str(plain), "--no-metadata", *fast]) == 0
    capsys.readouterr()
    assert main(["stylize", str(src), str(style), "-o", str(plain), "--no-metadata", "--strength", "1", *fast]) == 0
    assert "0 written, 4 already done" in capsys.readouterr().out
    assert main(["stylize", str(src), str(style), "-o", str(plain), "--no-metadata", "--redo", *fast]) == 0
    assert "4 written" in capsys.readouterr().out
    # how files are written is a setting too: recipes are not left in place by a rerun with --no-metadata
    kept = tmp_path / "kept"
    assert main(["stylize", str(src), str(style), "-o", str(kept), *fast]) == 0
    capsys.readouterr()
    assert main(["stylize", str(src), str(style), "-o", str(kept), "--no-metadata", *fast]) == 2
    assert "other settings" in capsys.readouterr().err
    assert main(["stylize", str(src), str(style), "-o", str(kept), "--no-metadata", "--redo", *fast]) == 0
    from brushwork.provenance.recipe import read_recipe

    assert read_recipe(kept / "x.png")[0] is None
    # output folders of earlier runs inside the photos are not read as photos by the next run
    capsys.readouterr()
    assert main(["stylize", str(src), str(style), "-o", str(src / "styled"), *fast]) == 0
    assert main(["stylize", str(src), str(style), "-o", str(src / "styled2"), *fast]) == 0
    assert capsys.readouterr().out.count("4 written") == 2 and not (src / "styled2" / "styled").exists()
    assert main(["palette", str(src / "styled"), "-o", str(tmp_path / "pals"), "-q"]) == 0  # an output folder as input
    assert "4 written" in capsys.readouterr().out
    from brushwork.pipelines.batch import _style_tags

    assert _style_tags(["a/art.png", "other.png", "b/art.png"]) == ["art-1", "other", "art-2"]
    assert _style_tags(["a/art.png", "b/art.png", "art-2.png"]) == ["art-1", "art-3", "art-2"]  # never equal
    # a folder of nothing but unreadable files made nothing: a non-zero exit code says so
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.jpg").write_bytes(b"not a picture")
    assert main(["stylize", str(tmp_path / "bad"), str(style), "-o", str(tmp_path / "bad_out"), *fast]) == 2
    assert "1 skipped (unreadable, too small or large, nothing visible to stylize, or a name too long)" in capsys.readouterr().out
    assert not (tmp_path / "bad_out").exists()  # (it wrote nothing: no empty folder is left)
    # a folder that is not there is named as missing (not as an output without an extension)
    assert main(["stylize", str(tmp_path / "no_such"), str(style), "-o", str(tmp_path / "o"), *fast]) == 2
    assert "content" in (err := capsys.readouterr().err) and "does not exist" in err
    assert main(["palette", str(tmp_path / "no_such"), "-o", str(tmp_path / "pj")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_folder_run_never_replaces_its_inputs(small_images, random_decoder_dir, tmp_path, capsys):
    content, style = small_images
    src = tmp_path / "photos"
    src.mkdir()
    Image.open(content).save(src / "a.png")
    Image.open(content).rotate(90).save(src / "b.png")
    photos = {p.name: p.read_bytes() for p in src.iterdir()}
    fast = ["--method", "adain", "--decoder", str(random_decoder_dir), "--size", "48", "-q"]
    # -o the photos' own folder: refused before any work, with --redo too, and no marker is left there
    for extra in ([], ["--redo"]):
        assert main(["stylize", str(src), str(style), "-o", str(src), *fast, *extra]) == 2
        assert "is the input folder itself" in capsys.readouterr().err
    assert main(["palette", str(src), "-o", str(src), "-q"]) == 2  # any folder run
    assert "is the input folder itself" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in src.iterdir()} == photos
    # a style kept in the output folder under an output's name is not replaced
    out = tmp_path / "out"
    out.mkdir()
    Image.open(style).save(out / "a.png")
    kept = (out / "a.png").read_bytes()
    assert main(["stylize", str(src), str(out / "a.png"), "-o", str(out), "--redo", *fast]) == 2
    assert "would replace the input" in capsys.readouterr().err and (out / "a.png").read_bytes() == kept
    # a photo spoiled since its output was made: skipped, and not counted among the outputs redone
    done = tmp_path / "done"
    assert main(["stylize", str(src), str(style), "-o", str(done), *fast]) == 0
    (src / "b.png").write_bytes(b"no longer a picture")
    capsys.readouterr()
    assert main(["stylize", str(src), str(style), "-o", str(done), "--strength", "0.9", "--redo", *fast]) == 0
    assert "1 written, 0 already done, 1 of them redone" in capsys.readouterr().out


def test_empty_folder_and_each_style_without_folder(tmp_path, small_images, capsys):
    content, style = small_images
    (tmp_path / "empty").mkdir()
    assert main(["stylize", str(tmp_path / "empty"), str(style), "-o", str(tmp_path / "o")]) == 2
    assert "holds no images" in capsys.readouterr().err
    assert main(["stylize", str(content), str(style), "-o", str(tmp_path / "o.png"), "--each-style"]) == 2
    assert "--each-style needs a CONTENT folder" in capsys.readouterr().err


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_deep_tap_decoder_tiles_and_pads_to_its_deepest_stride(lite0, transform):
    torch.manual_seed(3)
    dec = Decoder(DecoderConfig(in_channels=240 + 480, deep_taps=("block8.expand",))).eval()
    deep = AdaINNet(lite0, dec)
    g = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, 200, 300, generator=g)  # padded to 208 x 304 (multiples of 16)
    style = torch.rand(1, 3, 128, 128, generator=g)
    full = adain_transfer(deep, content, [style], tile=None, transform=transform)
    # tiles of 128, offsets multiples of 16
    tiled = adain_transfer(deep, content, [style], tile=136, overlap=64, transform=transform)
    assert full.shape == tiled.shape == content.shape
    assert float((full - tiled).abs().mean()) < 0.02 * float(full.std())


def test_wct_target_has_the_style_covariance(net):  # (tiles: test_tiled_matches_untiled)
    from brushwork.functional import mean_cov
    from brushwork.models.adain import apply_map, transfer_map

    g = torch.Generator().manual_seed(4)
    content = torch.rand(1, 3, 200, 296, generator=g)
    style = torch.rand(1, 3, 160, 144, generator=g)
    c = net.features(content)
    c_stats, s_stats = net.feature_stats(c, "wct"), net.stats(style, "wct")
    target = apply_map(c - c_stats[0], transfer_map(c_stats, s_stats, "wct")) + s_stats[0]
    t_mean, t_cov = mean_cov(target)
    torch.testing.assert_close(t_mean, s_stats[0], atol=1e-4, rtol=1e-4)
    # matched where the content has variance to colour (a random decoder's taps lose none)
    assert float((t_cov - s_stats[1]).norm() / s_stats[1].norm()) < 1e-3
    a_stats = net.stats(style)  # AdaIN's target matches the variances only: far from the covariance
    a_target = apply_map(c - c_stats[0], transfer_map(net.feature_stats(c), a_stats, "adain")) + a_stats[0]
    assert float((mean_cov(a_target)[1] - s_stats[1]).norm() / s_stats[1].norm()) > 0.05
    full = adain_transfer(net, content, [style], tile=None, transform="wct")
    torch.testing.assert_close(net(content, style, 1.0, "wct"), full)  # 200 x 296: multiples of 8
    with pytest.raises(ValueError, match="transform must be one of adain, wct"):
        adain_transfer(net, content, [style], transform="cholesky")


def test_wct_with_deep_taps_treats_each_tap_apart(lite0):  # (tiles: test_deep_tap_decoder_tiles_...)
    torch.manual_seed(3)
    deep = AdaINNet(lite0, Decoder(DecoderConfig(in_channels=240 + 480, deep_taps=("block8.expand",))).eval())
    x = torch.rand(1, 3, 96, 128, generator=torch.Generator().manual_seed(6))  # multiples of 16
    mean, cov = deep.stats(x, "wct")
    assert cov.shape == (1, 720, 720) and not cov[:, :240, 240:].any() and not cov[:, 240:, :240].any()
    f_mean, f_cov = deep.feature_stats(deep.features(x), "wct")
    torch.testing.assert_close(f_mean, mean, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(f_cov, cov, atol=1e-5, rtol=1e-4)  # nearest upsampling keeps a tap's covariance


def test_transform_option_api_cli_and_refusals(small_images, random_decoder_dir, tmp_path, capsys):
    content, style = small_images
    r = brushwork.stylize(content, style, method="adain", decoder=random_decoder_dir, size=96, transform="wct")
    assert r.params["adain"]["transform"] == "wct"
    out = tmp_path / "w.png"
    rc = main(["stylize", str(content), str(style), "-o", str(out), "--method", "adain", "--transform", "wct",
               "--decoder", str(random_decoder_dir), "--size", "80", "-q"])
    recipe = json.loads(Image.open(out).text["brushwork"])
    assert rc == 0 and recipe["adain"]["transform"] == "wct" and "wct" in recipe["command"]
    assert main(["reproduce", str(out), "--inputs", str(content.parent), "--strict"]) == 0  # runs WCT again
    capsys.readouterr()
    assert main(["stylize", str(content), str(style), "-o", str(tmp_path / "g.png"), "--transform", "wct", "-q"]) == 2
    err = capsys.readouterr().err
    assert "--transform wct applies to --method adain" in err and "Traceback" not in err
    assert not (tmp_path / "g.png").exists()


def test_adain_pictures_stay_the_papers_formula_bit_for_bit(net):
    from brushwork.functional import mean_std

    g = torch.Generator().manual_seed(7)
    x, style = torch.rand(1, 3, 64, 96, generator=g), torch.rand(1, 3, 80, 64, generator=g)
    c = net.features(x)
    m, sd = mean_std(c)
    sm, ss = net.stats(style)
    want = net.decoder(c + 0.7 * ((c - m) / sd * ss + sm - c)).clamp(0, 1)
    assert torch.equal(adain_transfer(net, x, [style], alpha=0.7, tile=None), want)  # old recipes reproduce exactly
    with pytest.raises(ValueError, match="needs \\(mean, cov\\) statistics"):
        adain_transfer(net, x, [style], style_stats=[(sm, ss)], transform="wct")


def test_the_networks_convolve_channels_last_and_hand_back_the_usual_layout(net):
    from brushwork.models.adain import conv_layout

    g = torch.Generator().manual_seed(3)
    x, style = torch.rand(1, 3, 64, 96, generator=g), torch.rand(1, 3, 80, 64, generator=g)
    assert net.features(x).is_contiguous(memory_format=torch.channels_last)  # oneDNN's layout: no reorders
    f = net.features(x).contiguous()
    y = net.decoder(f)
    assert y.is_contiguous()  # what callers index, save and hand to numpy
    # the same arithmetic as in the default layout, up to the order of the sums
    nchw = torch.nn.Sequential.forward(net.decoder.net, f)
    torch.testing.assert_close(y, nchw, atol=1e-5, rtol=1e-4)
    assert adain_transfer(net, x, [style], tile=None).is_contiguous()
    assert conv_layout(x.to("meta")).is_contiguous()  # other devices: as given


def test_folder_settings_key_ignores_later_options_at_their_default():
    from brushwork.pipelines.batch import _settings_key

    key = lambda **kw: _settings_key(["s.png"], False, ".png", {"method": "adain", **kw}, str)  # noqa: E731
    assert key(transform="adain") == key()  # runs made before --transform existed still count as done
    assert key(transform="wct") != key()


def test_wct_whitens_each_tap_apart_in_the_pipeline(lite0, monkeypatch):
    import brushwork.pipelines.adain as pipe
    from brushwork.models.adain import transfer_map

    # a weak tap beside a strong one: one cut-off for both would drop the weak tap's every direction
    g = torch.Generator().manual_seed(8)
    a, b = torch.randn(1, 3, 3, generator=g), torch.randn(1, 2, 2, generator=g)
    cov = torch.zeros(1, 5, 5)
    cov[:, :3, :3], cov[:, 3:, 3:] = a @ a.transpose(1, 2) + torch.eye(3), 1e-7 * (b @ b.transpose(1, 2) + torch.eye(2))
    stats = (torch.zeros(1, 5, 1, 1), cov)
    assert transfer_map(stats, stats, "wct", [3, 2])[:, 3:, 3:].abs().sum() > 0.1  # (damped by eps, not dropped)
    assert transfer_map(stats, stats, "wct")[:, 3:, 3:].abs().sum() < 1e-3
    seen = []
    monkeypatch.setattr(pipe, "transfer_map", lambda *args: seen.append(args[3]) or transfer_map(*args))
    deep = AdaINNet(lite0, Decoder(DecoderConfig(in_channels=240 + 480, deep_taps=("block8.expand",))).eval())
    x = torch.rand(1, 3, 64, 64, generator=g)
    adain_transfer(deep, x, [x], tile=None, transform="wct")
    adain_transfer(deep, x, [x], tile=32, overlap=16, transform="wct")
    assert seen == [[240, 480], [240, 480]]


def test_only_pictures_too_thin_for_the_decoder_are_refused(lite0):
    torch.manual_seed(0)
    one = AdaINNet(lite0, Decoder(DecoderConfig()).eval())
    deep = AdaINNet(lite0, Decoder(DecoderConfig(in_channels=240 + 480, deep_taps=("block8.expand",))).eval())
    style = torch.rand(1, 3, 12, 64)  # a thin style is only encoded for its statistics: fine
    with torch.no_grad():
        assert adain_transfer(one, torch.rand(1, 3, 16, 40), [style], tile=None).shape == (1, 3, 16, 40)
        assert adain_transfer(deep, torch.rand(1, 3, 20, 40), [style], tile=None).shape == (1, 3, 20, 40)
        with pytest.raises(BrushworkError, match="too thin for the decoder"):
            adain_transfer(one, torch.rand(1, 3, 8, 200), [style], tile=None)


def test_abbreviated_options_are_not_taken(small_images, random_decoder_dir, tmp_path, capsys):
    # recipes record the command as typed: `--red` for `--redo` would be recorded, then refused by reproduce
    content, style = small_images
    assert main(["stylize", str(content), str(style), "-o", str(tmp_path / "o.png"), "--method", "adain",
                 "--decoder", str(random_decoder_dir), "--strength", "0.5", "--siz", "48"]) == 2
    assert "unrecognized arguments: --siz" in capsys.readouterr().err


def test_folder_runs_each_style_interrupts_and_output_above_the_photos(small_images, random_decoder_dir, tmp_path,
                                                                       capsys):
    """--each-style outputs depend on their own style only (a style added later makes only its outputs) and
    refuse blending options; a Ctrl-C'd optimisation is not written as finished (an older one is remade); -o may
    not be a folder above the photos (its marker would hide them)."""
    from brushwork.pipelines.batch import stylize_folder
    from brushwork.pipelines.stylize import stylize

    content, style = small_images
    src = tmp_path / "proj" / "photos"
    src.mkdir(parents=True)
    Image.open(content).save(src / "a.png")
    fast = ["--method", "adain", "--decoder", str(random_decoder_dir), "--size", "48", "-q"]
    out = tmp_path / "es"
    assert main(["stylize", str(src), str(style), "-o", str(out), "--each-style", *fast]) == 0
    capsys.readouterr()
    assert main(["stylize", str(src), str(content), f"{style.parent}/./{style.name}", "-o", str(out), "--each-style",
                 *fast]) == 0  # a style added before the first, spelled otherwise: only the new one is made
    assert "1 written, 1 already done" in capsys.readouterr().out
    for flag in (["--mask", "-", "--mask", "-"], ["--style-weights", "0.5,0.5"]):
        assert main(["stylize", str(src), str(style), str(content), "-o", str(out), "--each-style", *flag, *fast]) == 2
        assert "--each-style makes one picture per style" in capsys.readouterr().err
    assert main(["stylize", str(src), str(style), "-o", str(tmp_path / "proj"), *fast]) == 2  # above the photos
    assert "holds the photos' folder" in capsys.readouterr().err and not (tmp_path / "proj" / "a.png").exists()

    def stopped(*a, **k):  # an optimisation stopped by Ctrl-C returns its best picture so far
        r = stylize(*a, **{**k, "method": "adain", "decoder": str(random_decoder_dir), "size": 48})
        r.interrupted = True
        return r

    g = tmp_path / "gatys"
    with pytest.raises(KeyboardInterrupt):
        stylize_folder(src, [style], g, stylize_fn=stopped, progress=False)
    # (scale audit) a Ctrl-C'd folder run said only "interrupted": it says what is kept and how to go on
    import brushwork.pipelines.batch as batch

    def ctrl_c(content_dir, styles, out_dir, **kw):
        __import__("pathlib").Path(out_dir).mkdir()
        raise KeyboardInterrupt

    real, batch.stylize_folder = batch.stylize_folder, ctrl_c
    try:
        assert main(["stylize", str(src), str(style), "-o", str(tmp_path / "stopped"), *fast]) == 130
    finally:
        batch.stylize_folder = real
    assert "outputs finished in" in capsys.readouterr().err
    assert not g.exists() or not list(g.glob("*.png"))
    # a picture an earlier version wrote unfinished is made again, not counted as done
    stylize_folder(src, [style], g, stylize_fn=lambda *a, **k: stylize(*a, **{**k, "method": "adain", "decoder": str(
        random_decoder_dir), "size": 48}), progress=False)
    from brushwork.provenance.recipe import read_recipe

    r = stylize(src / "a.png", [style], method="adain", decoder=str(random_decoder_dir), size=48)
    recipe, _ = read_recipe(g / "a.png")
    r.params.update(batch_settings=recipe["batch_settings"], interrupted=True)
    r.save(g / "a.png")
    again = stylize_folder(src, [style], g, stylize_fn=lambda *a, **k: stylize(*a, **{**k, "method": "adain",
                           "decoder": str(random_decoder_dir), "size": 48}), progress=False)
    assert len(again.written) == 1 and not again.skipped_existing


def test_a_style_is_encoded_once_for_many_photos(small_images, random_decoder_dir, monkeypatch):
    """Photos stylized one after another with one style (a folder run, a notebook's loop) encode the style once:
    the same pictures, one style pass instead of one a photo; another style or strength of transform is encoded."""
    import numpy as np

    import brushwork.pipelines.stylize as S
    from brushwork.models.adain import AdaINNet

    content, style = small_images
    S._STYLE_MEMO.clear()
    calls = []
    real = AdaINNet.stats
    monkeypatch.setattr(AdaINNet, "stats", lambda self, *a, **k: calls.append(1) or real(self, *a, **k))
    kw = dict(method="adain", decoder=random_decoder_dir, size=48, progress=False)
    first = S.stylize(content, style, **kw).image
    again = S.stylize(content, style, **kw).image
    assert len(calls) == 1 and np.array_equal(np.asarray(first), np.asarray(again))
    S.stylize(content, style, transform="wct", **kw)
    S.stylize(content, content, **kw)
    assert len(calls) == 3
    S._STYLE_MEMO.clear()
    fresh = S.stylize(content, style, **kw).image
    assert np.array_equal(np.asarray(first), np.asarray(fresh))


def test_a_decoder_retrained_into_its_folder_is_loaded_again(small_images, tmp_path, monkeypatch):
    """The model caches were keyed by the path as written: a decoder retrained into the same folder (or a relative
    path from another working folder) painted with the old weights and recorded their sha256."""
    import os

    import brushwork
    from brushwork.models.adain import Decoder, DecoderConfig
    from brushwork.training.engine import save_model

    content, style = small_images
    folder = tmp_path / "dec"

    def run():
        r = brushwork.stylize(content, style, method="adain", size=64, decoder=folder, match="none")
        return np.asarray(r.image), r.params["weights_sha256"]["decoder"]

    torch.manual_seed(1)
    save_model(Decoder(), {"decoder": DecoderConfig().to_dict()}, folder)
    first, sha1 = run()
    torch.manual_seed(2)
    save_model(Decoder(), {"decoder": DecoderConfig().to_dict()}, folder)
    st = (folder / "model.safetensors").stat()
    os.utime(folder / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # (a coarse clock)
    second, sha2 = run()
    assert sha1 != sha2 and not np.array_equal(first, second)


def test_a_float64_default_dtype_is_named_and_leaves_no_trace(small_images):
    """Under torch.set_default_dtype(torch.float64) stylize was a RuntimeError, and stayed one after the default was
    set back (its cached models had been built in float64)."""
    import brushwork
    from brushwork.weights import load_decoder

    content, style = small_images
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        with pytest.raises(BrushworkError, match=r"default dtype is float64.*set_default_dtype\(torch.float32\)"):
            brushwork.stylize(content, style, method="adain", size=48)
        assert next(load_decoder().parameters()).dtype == torch.float32  # (a model loaded meanwhile)
    finally:
        torch.set_default_dtype(before)
    assert brushwork.stylize(content, style, method="adain", size=48).image.size[0] == 48


def test_two_folder_runs_at_once_never_replace_each_others_outputs(small_images, random_decoder_dir, tmp_path):
    """Another run into the same -o folder writes an output while this one paints it: one of other settings stops
    this run (as it would have, had it been there at the start) and stays; one of the same settings is kept."""
    import shutil
    from pathlib import Path

    from brushwork.pipelines.batch import stylize_folder
    from brushwork.pipelines.stylize import stylize

    content, style = small_images
    src = tmp_path / "photos"
    src.mkdir()
    for name in ("a.png", "b.png"):
        Image.open(content).save(src / name)
    opts = {"method": "adain", "decoder": str(random_decoder_dir), "size": 48}

    def run_beside(other: Path, out: Path, **how):
        """This run, into ``out``, while another (its pictures in ``other``) finishes each output first."""
        def meanwhile(f, sty, **k):
            result = stylize(f, sty, **k)
            shutil.copy2(other / Path(f).name, out / Path(f).name)
            return result
        return stylize_folder(src, [style], out, stylize_fn=meanwhile, progress=False, **how, **opts)

    stylize_folder(src, [style], tmp_path / "weaker", progress=False, **{**opts, "strength": 0.5})
    with pytest.raises(BrushworkError, match="written by another run while this one worked.*--redo"):
        run_beside(tmp_path / "weaker", tmp_path / "out")
    assert (tmp_path / "out" / "a.png").read_bytes() == (tmp_path / "weaker" / "a.png").read_bytes()
    assert not (tmp_path / "out" / "b.png").exists()
    stylize_folder(src, [style], tmp_path / "same", progress=False, **opts)
    report = run_beside(tmp_path / "same", tmp_path / "out2")
    assert not report.written and len(report.skipped_existing) == 2
    assert all((tmp_path / "out2" / n).read_bytes() == (tmp_path / "same" / n).read_bytes() for n in ("a.png", "b.png"))
    # pictures without a recipe (--no-metadata) are kept, as they are when there at the start
    bare = {"output_settings": {"no_metadata": True}, "save": lambda result, target, *_: result.save(target, False)}
    stylize_folder(src, [style], tmp_path / "bare", progress=False, **bare, **opts)
    report = run_beside(tmp_path / "bare", tmp_path / "out3", **bare)
    assert not report.written and len(report.skipped_existing) == 2


def test_a_folder_run_through_a_symlinked_folder_leaves_earlier_outputs_alone(small_images, random_decoder_dir,
                                                                                tmp_path, capsys):
    """(review) Folder runs follow symlinked folders now: an earlier run's output folder reached through one is found
    as outputs are (it was restyled as a photo), and a link to a folder inside the photos' folder is walked once, at
    its own place."""
    import os

    content, style = small_images
    ext, photos = tmp_path / "ext", tmp_path / "photos"
    ext.mkdir()
    photos.mkdir()
    Image.open(content).save(ext / "a.png")
    os.symlink(ext, photos / "album")
    os.symlink(photos / "album", photos / "again")  # (the same folder twice: walked once)
    common = [str(style), "--method", "adain", "--decoder", str(random_decoder_dir), "--size", "32", "-q"]
    assert main(["stylize", str(ext), *common, "-o", str(ext / "styled")]) == 0
    assert main(["stylize", str(photos), *common, "-o", str(photos / "styled")]) == 0
    made = sorted(p.relative_to(photos / "styled").as_posix() for p in (photos / "styled").rglob("*.png"))
    assert made in (["album/a.png"], ["again/a.png"])  # (not ext's own output, styled/a.png, again)


def test_a_tiled_picture_counts_its_tiles(lite0, random_decoder_dir, content_path, style_path):
    """(scale audit) AdaIN at 8000 px took 2.5 minutes with no progress: a tiled picture reports each tile twice (its
    statistics, then its painting)."""
    from brushwork.imaging import read_image, to_tensor

    net = AdaINNet(lite0, load_decoder(random_decoder_dir))
    c = to_tensor(read_image(content_path).rgb)
    s = to_tensor(read_image(style_path).rgb)
    seen = []
    tiled = adain_transfer(net, c, [s], tile=64, overlap=16, on_tile=lambda d, t: seen.append((d, t)))
    n = seen[-1][1]
    assert n >= 8 and seen == [(i, n) for i in range(1, n + 1)]
    whole = adain_transfer(net, c, [s], tile=None, on_tile=lambda d, t: seen.append("untiled"))
    assert "untiled" not in seen and tiled.shape == whole.shape
