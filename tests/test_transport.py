"""Finishing AdaIN pictures with the style's colour and detail distributions (brushwork.color.transport)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork.cli import main
from brushwork.color.transport import laplacian_pyramid, match_style, mix_targets, style_target
from brushwork.pipelines.adain import match_styles


def _pictures(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A greyish picture with little detail, and a blue-and-yellow 'painting' with strong detail."""
    g = torch.Generator().manual_seed(seed)
    smooth = torch.nn.functional.interpolate(torch.rand(1, 3, 12, 12, generator=g), size=(96, 96), mode="bilinear")
    image = 0.35 + 0.3 * smooth
    blue = torch.tensor([0.1, 0.2, 0.7])[:, None, None]
    yellow = torch.tensor([0.95, 0.85, 0.2])[:, None, None]
    stars = (torch.rand(1, 1, 96, 96, generator=g) > 0.8).float()
    style = (blue * (1 - stars) + yellow * stars + 0.05 * torch.randn(1, 3, 96, 96, generator=g)).clamp(0, 1)
    return image, style


def _colour_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    flat = x[0].flatten(1)
    return flat.mean(1), torch.cov(flat)


def test_laplacian_pyramid_collapses_back_exactly():
    from brushwork.color.transport import collapse

    x = torch.rand(1, 3, 70, 53, generator=torch.Generator().manual_seed(1))
    bands, low = laplacian_pyramid(x, 4)
    assert [tuple(b.shape[-2:]) for b in bands] == [(70, 53), (35, 27), (18, 14)]  # no band of a side under 8 px
    assert tuple(low.shape[-2:]) == (9, 7)
    torch.testing.assert_close(collapse(bands, low), x)


def test_colours_take_the_style_distribution():
    image, style = _pictures()
    out, plan = match_style(image, style_target(style), detail=False)
    assert plan.lut is not None and plan.lut.shape == (3, 17, 17, 17) and not plan.bands
    (m_out, c_out), (m_sty, c_sty), (m_in, _) = _colour_stats(out), _colour_stats(style), _colour_stats(image)
    assert float((m_out - m_sty).abs().max()) < 0.03 < float((m_in - m_sty).abs().max())
    # (the 17^3 table and 8 rotations round off this two-colour painting's jump from blue to yellow a little)
    assert float((c_out - c_sty).abs().max()) < 0.3 * float(c_sty.abs().max())
    # the minority colour comes through in its share: about a fifth of the pixels turn yellow
    yellowish = ((out[0, 0] > 0.6) & (out[0, 2] < 0.45)).float().mean()
    assert 0.12 < float(yellowish) < 0.28


def test_a_picture_matched_to_itself_barely_moves():
    image, _ = _pictures()
    out, _ = match_style(image, style_target(image))
    assert float((out - image).abs().mean()) < 0.01
    # (the match works in place where it can, to hold fewer whole pictures: never on the picture given)
    _, style = _pictures(1)
    for given in (image * 3 - 1, (image * 3 - 1)[..., :6, :6]):  # (outside [0, 1]; too small for a band)
        before = given.clone()
        for colors in (True, False):
            out, _ = match_style(given, style_target(style), colors=colors)
            assert torch.equal(given, before) and out.min() >= 0 and out.max() <= 1


def test_detail_takes_the_style_band_contrast_and_keeps_the_low_pass(content_path, style_path):
    from brushwork.imaging import read_image, to_tensor
    from brushwork.imaging.resampling import resize

    photo, painting = (resize(to_tensor(read_image(p).rgb), (128, 96)) for p in (content_path, style_path))
    for image, style in ((photo, painting), (painting, photo)):  # more detail, then less
        out, plan = match_style(image, style_target(style), colors=False)
        assert plan.lut is None and len(plan.bands) == 4
        bands = [laplacian_pyramid(x)[0] for x in (image, style, out)]
        s_in, s_sty, s_out = ([float(b.var()) for b in bs] for bs in bands)
        # the finest band takes the style's contrast (one pass of Heeger & Bergen's matching: re-analysed,
        # part of each band's change shows in its neighbours, so the coarser ones only move towards it)
        assert abs(s_out[0] - s_sty[0]) < 0.5 * abs(s_in[0] - s_sty[0])
        assert abs(sum(s_out) - sum(s_sty)) < 0.5 * abs(sum(s_in) - sum(s_sty))
        # the coarse rest of the picture stays the picture's own (up to that spill and the clamp to [0, 1])
        assert float((laplacian_pyramid(out)[1] - laplacian_pyramid(image)[1]).abs().mean()) < 0.015


def test_same_seed_same_maps_and_devices_follow_the_input():
    image, style = _pictures()
    target = style_target(style)
    a, _ = match_style(image, target, seed=3)
    b, _ = match_style(image, target, seed=3)
    c, _ = match_style(image, target, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.dtype == image.dtype and a.device == image.device


def test_where_estimates_the_distribution_inside_the_mask():
    image, style = _pictures()
    image = image.clone()
    image[..., 48:] = 1.0 - image[..., 48:]  # the right half another picture
    where = torch.zeros(1, 1, 96, 96)
    where[..., :48] = 1.0
    inside, _ = match_style(image, style_target(style), where=where, detail=False)
    whole, _ = match_style(image, style_target(style), detail=False)
    m_in, _ = _colour_stats(inside[..., :48])
    m_whole, _ = _colour_stats(whole[..., :48])
    m_sty, _ = _colour_stats(style)
    assert float((m_in - m_sty).abs().max()) < 0.03 < float((m_whole - m_sty).abs().max())


def test_match_styles_strength_masks_and_weights():
    image, style = _pictures()
    other = torch.ones_like(style) * torch.tensor([0.8, 0.1, 0.1])[:, None, None]
    assert torch.equal(match_styles(image, [style], alpha=0.0)[0], image)
    assert torch.equal(match_styles(image, [style], match="none")[0], image)
    full = match_styles(image, [style])[0]
    half = match_styles(image, [style], alpha=0.5)[0]
    torch.testing.assert_close(half, (image + full) / 2, atol=1e-5, rtol=0)
    # a style of weight 0 takes no part; the mixture's colours average the two styles' by weight
    torch.testing.assert_close(match_styles(image, [style, other], style_weights=[1, 0])[0], full)
    mixed = match_styles(image, [style, other], style_weights=[3, 1], match="colors")[0]
    want = 0.75 * _colour_stats(style)[0] + 0.25 * _colour_stats(other)[0]
    assert float((_colour_stats(mixed)[0] - want).abs().max()) < 0.03
    # masks: each style's map where its mask covers the picture; uncovered pixels keep the picture
    left = torch.zeros(1, 1, 96, 96)
    left[..., :40] = 1.0
    masked, plans = match_styles(image, [style], masks=[left])
    assert len(plans) == 1
    assert torch.equal(masked[..., 40:], image[..., 40:])
    assert float((masked[..., :40] - image[..., :40]).abs().mean()) > 0.05
    with pytest.raises(Exception, match="match must be one of"):
        match_styles(image, [style], match="some")


def test_mixing_targets_weighs_their_samples():
    _, style = _pictures()
    flat = torch.full_like(style, 0.5)
    mixed = mix_targets([style_target(style), style_target(flat)], [3, 1])
    assert mixed.colors.shape[0] == pytest.approx(style_target(style).colors.shape[0], rel=0.01)
    assert float((mixed.colors == 0.5).all(1).float().mean()) == pytest.approx(0.25, abs=0.01)


def test_stylize_records_the_match_and_gatys_refuses_it(small_images, tmp_path, capsys):
    from brushwork.pipelines.stylize import stylize

    content, style = small_images
    full = stylize(content, style, method="adain", strength=1.0, size=96)
    none = stylize(content, style, method="adain", strength=1.0, size=96, match="none")
    assert full.params["adain"]["match"] == "full" and none.params["adain"]["match"] == "none"
    assert full.image.tobytes() != none.image.tobytes()
    from brushwork.errors import BrushworkError

    with pytest.raises(BrushworkError, match="match='colors' applies to method='adain'"):  # (Python's names)
        stylize(content, style, method="gatys", match="colors", size=96)
    assert main(["stylize", str(content), str(style), "-o", str(tmp_path / "g.png"), "--match", "full", "-q"]) == 2
    assert "--match full applies to --method adain" in capsys.readouterr().err
    assert main(["stylize", str(content), str(style), "-o", str(tmp_path / "a.png"), "--method", "adain",
                 "--match", "none", "--strength", "1", "--size", "96", "-q", "--no-watermark"]) == 0
    assert Image.open(tmp_path / "a.png").tobytes() == none.image.tobytes()


def test_reproduce_reruns_recipes_from_before_the_match_unmatched(small_images, tmp_path, monkeypatch):
    from brushwork.imaging.io import save_image
    from brushwork.provenance.recipe import read_recipe

    monkeypatch.chdir(tmp_path)
    content, style = small_images
    assert main(["stylize", content.name, style.name, "-o", "old.png", "--method", "adain", "-q",
                 "--match", "none", "--size", "96"]) == 0
    recipe, _ = read_recipe("old.png")  # as an earlier brushwork wrote it: no option, no "match" in its config
    recipe["command"] = [t for t in recipe["command"] if t not in ("--match", "none")]
    del recipe["adain"]["match"]
    save_image(Image.open("old.png"), "old.png", recipe=recipe)
    assert main(["reproduce", "old.png", "--strict"]) == 0
    # today's recipe, made with the default, reruns with it
    assert main(["stylize", content.name, style.name, "-o", "new.png", "--method", "adain", "-q", "--size", "96"]) == 0
    assert read_recipe("new.png")[0]["adain"]["match"] == "full"
    assert main(["reproduce", "new.png", "--strict"]) == 0


def test_large_pictures_are_sampled_over_their_whole_area():
    # four yellow columns, 0.4 % of a 1024 px square: a sample of every k-th pixel of the flattened picture
    # would see the same few columns in every row (here only yellow)
    style = torch.zeros(1, 3, 1024, 1024)
    style[:, 2] = 0.6
    style[..., ::256] = torch.tensor([0.95, 0.85, 0.2])[:, None, None]
    share = float((style_target(style).colors[:, 0] > 0.5).float().mean())
    assert share < 0.02


def test_styles_mix_by_weight_whatever_their_size():
    a = torch.zeros(1, 3, 64, 64)
    b = torch.ones(1, 3, 65, 64)
    mixed = mix_targets([style_target(a), style_target(b)], [1, 1])
    assert float(mixed.colors[:, 0].mean()) == pytest.approx(0.5, abs=0.02)


def test_a_few_pixels_get_no_map_and_half_precision_works():
    image, style = _pictures()
    speck = torch.zeros(1, 1, 96, 96)
    speck[..., 10, 10] = 1.0
    out, plans = match_styles(image, [style], masks=[speck])
    assert torch.equal(out, image) and plans[0].lut is None  # one pixel: nothing to estimate from
    half, _ = match_style(image.half(), style_target(style))
    assert half.dtype == torch.float16 and torch.isfinite(half).all()
    same = match_style(image.half().float(), style_target(style))[0]  # the same values, computed in float32
    torch.testing.assert_close(half.float(), same, atol=2e-3, rtol=0)


def test_a_style_with_transparency_is_matched_from_its_opaque_pixels(small_images, tmp_path):
    from brushwork.pipelines.stylize import stylize

    content, style = small_images
    rgba = Image.open(style).convert("RGBA").resize((96, 96))
    alpha = Image.new("L", (96, 96), 255)
    alpha.paste(0, (48, 0, 96, 96))  # the right half transparent: white where it is composited
    rgba.putalpha(alpha)
    rgba.save(tmp_path / "cut.png")
    out = stylize(content, tmp_path / "cut.png", method="adain", strength=1.0, size=96, match="colors")
    whitish = (torch.from_numpy(np.array(out.image.convert("RGB"))).float() / 255).min(-1).values > 0.9
    assert float(whitish.float().mean()) < 0.1  # not half white, as the transparent half would make it


def test_folder_runs_through_the_api_count_the_default_match(small_images, tmp_path):
    from brushwork.errors import BrushworkError
    from brushwork.pipelines.batch import stylize_folder

    content, style = small_images
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.open(content).save(photos / "a.png")
    stylize_folder(photos, [style], tmp_path / "out", method="adain", size=64, match="none", progress=False)
    with pytest.raises(BrushworkError, match="made with --match none .*pass --match none to keep them"):
        stylize_folder(photos, [style], tmp_path / "out", method="adain", size=64, progress=False)
    stylize_folder(photos, [style], tmp_path / "out", method="adain", size=64, match="none", progress=False)
    # the same for the AdaIN start of --init adain; a Gatys run without it keeps its key (its outputs stay done)
    gatys = dict(size=64, steps=2, scales=1, progress=False)
    stylize_folder(photos, [style], tmp_path / "g", init="adain", init_match="none", **gatys)
    with pytest.raises(BrushworkError, match="made with --init-match none .*pass --init-match none to keep them"):
        stylize_folder(photos, [style], tmp_path / "g", init="adain", **gatys)
    report = stylize_folder(photos, [style], tmp_path / "g", init="adain", init_match="none", **gatys)
    assert len(report.skipped_existing) == 1
    # at strength 0 no AdaIN start is made: whatever --init-match says, the outputs are the same, and done
    stylize_folder(photos, [style], tmp_path / "z", init="adain", strength=0.0, init_match="none", **gatys)
    report = stylize_folder(photos, [style], tmp_path / "z", init="adain", strength=0.0, init_match="full", **gatys)
    assert len(report.skipped_existing) == 1


def test_an_enlarged_style_lends_no_detail_finer_than_its_own():
    image, style = _pictures()
    target = style_target(style, enlarged=10.0)  # read at a tenth of this size: its fine bands are only blur
    assert [b is None for b in target.bands] == [True, True, True, False]
    out, plan = match_style(image, target, colors=False)
    assert plan.bands[:3] == [None, None, None] and plan.bands[3] is not None
    fine, _ = laplacian_pyramid(out - image)
    assert float(fine[0].abs().max()) < 0.01 < float((out - image).abs().max())  # only the coarse band moved
    assert mix_targets([target, style_target(style)], [1, 1]).bands[0] is None


def test_the_studio_refuses_a_match_for_gatys(tmp_path):
    import io

    from fastapi.testclient import TestClient

    from brushwork.web.app import StudioConfig, create_app

    image, _ = _pictures()
    buf = io.BytesIO()
    Image.fromarray((image[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(buf, format="PNG")
    client = TestClient(create_app(StudioConfig(data_dir=tmp_path / "d", gallery="off")))
    for form, message in (({"method": "gatys", "match": "full"}, "applies to the adain method"),
                          ({"method": "adain", "match": "bogus"}, "match must be one of full, colors, none"),
                          ({"method": "adain", "init_match": "colors"}, "finishes the AdaIN start of method=gatys"),
                          ({"method": "gatys", "init_match": "none"}, "with init=adain only"),
                          ({"method": "gatys", "init": "adain", "init_match": "most"}, "init_match must be one of")):
        r = client.post("/api/stylize", files={"content": ("c.png", buf.getvalue(), "image/png")},
                        data={"style_name": "starry_night", **form})
        assert r.status_code == 422 and message in r.json()["error"]


def test_a_folder_run_with_a_bad_option_leaves_no_empty_folder(small_images, tmp_path, capsys):
    content, style = small_images
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.open(content).save(photos / "a.png")
    assert main(["stylize", str(photos), str(style), "-o", str(tmp_path / "out"), "--method", "adain",
                 "--size", "3", "-q"]) == 2
    assert "--size" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_video_matches_a_style_with_transparency_from_its_opaque_pixels(small_images, tmp_path):
    content, style = small_images
    frames = tmp_path / "frames"
    frames.mkdir()
    photo = Image.open(content).convert("RGB").resize((64, 48))
    for i in range(3):
        photo.rotate(i).save(frames / f"{i:03d}.png")
    rgba = Image.open(style).convert("RGBA").resize((64, 64))
    alpha = Image.new("L", (64, 64), 255)
    alpha.paste(0, (32, 0, 64, 64))
    rgba.putalpha(alpha)
    rgba.save(tmp_path / "cut.png")
    out = tmp_path / "out"
    assert main(["video", str(frames), str(tmp_path / "cut.png"), "-o", str(out), "--consistency", "0",
                 "--match", "colors", "-q", "--no-watermark"]) == 0
    first = np.asarray(Image.open(sorted(out.glob("*.png"))[0]).convert("RGB")) / 255
    assert (first.min(-1) > 0.9).mean() < 0.1  # not half white, as the transparent half would make it
    # the AdaIN statistics too: the decoder's own picture is painted from the opaque half
    canvas, _ = _drawing_on_a_transparent_canvas(tmp_path)
    assert main(["video", str(frames), str(canvas), "-o", str(tmp_path / "plain"), "--consistency", "0",
                 "--match", "none", "-q", "--no-watermark"]) == 0
    first = np.asarray(Image.open(sorted((tmp_path / "plain").glob("*.png"))[0]).convert("RGB")) / 255
    assert (first.min(-1) > 0.9).mean() < 0.1  # (eight ninths of the canvas are transparent: it came out white)


def test_the_adain_start_of_gatys_is_matched_and_older_recipes_rerun_unmatched(small_images, tmp_path, monkeypatch,
                                                                               capsys):
    from brushwork.errors import BrushworkError
    from brushwork.imaging.io import save_image
    from brushwork.pipelines.stylize import stylize
    from brushwork.provenance.recipe import read_recipe

    content, style = small_images
    fast = dict(init="adain", size=64, steps=3)
    matched = stylize(content, style, **fast)
    plain = stylize(content, style, init_match="none", **fast)
    assert matched.params["init_match"] == "full" and plain.params["init_match"] == "none"
    assert matched.image.tobytes() != plain.image.tobytes()
    assert "init_match" not in stylize(content, style, size=64, steps=3).params  # no AdaIN start, nothing to record
    with pytest.raises(BrushworkError, match="init_match='colors' finishes the AdaIN start"):
        stylize(content, style, init_match="colors", size=64, steps=3)
    with pytest.raises(BrushworkError, match="init_match must be one of"):
        stylize(content, style, init_match="most", **fast)
    with pytest.raises(BrushworkError, match="an AdaIN picture takes match='none'"):
        stylize(content, style, method="adain", init_match="none", size=64)
    with pytest.raises(BrushworkError, match="the AdaIN start of init='adain' takes init_match='colors'"):
        stylize(content, style, match="colors", **fast)
    monkeypatch.chdir(tmp_path)
    assert main(["stylize", content.name, style.name, "-o", "m.png", "--init-match", "full", "-q"]) == 2
    assert "add --init adain or drop --init-match" in capsys.readouterr().err
    # --match none names the start's option too (it would otherwise be ignored: the start is matched by default)
    assert main(["stylize", content.name, style.name, "-o", "m.png", "--init", "adain", "--match", "none", "-q"]) == 2
    assert "takes --init-match none" in capsys.readouterr().err
    assert main(["stylize", content.name, style.name, "-o", "m.png", "--decoder", "x", "-q"]) == 2
    assert "--decoder applies to --method adain and to --init adain" in capsys.readouterr().err
    assert main(["stylize", content.name, style.name, "-o", "m.png", "--tile", "256", "-q"]) == 2  # (was ignored)
    assert "--tile applies to --method adain and to --init adain" in capsys.readouterr().err
    assert not Path("m.png").exists()
    args = [content.name, style.name, "--init", "adain", "--steps", "3", "--size", "64", "-q"]
    assert main(["stylize", *args, "-o", "old.png", "--init-match", "none"]) == 0
    recipe, _ = read_recipe("old.png")  # as an earlier brushwork wrote it: an unmatched start, not recorded
    recipe["command"] = [t for t in recipe["command"] if t not in ("--init-match", "none")]
    del recipe["init_match"]
    save_image(Image.open("old.png"), "old.png", recipe=recipe)
    capsys.readouterr()
    assert main(["inspect", "old.png"]) == 0  # the command shown is the one that makes it today
    assert "--init-match none" in capsys.readouterr().out
    assert main(["reproduce", "old.png", "--strict"]) == 0
    assert main(["stylize", *args, "-o", "new.png"]) == 0
    assert read_recipe("new.png")[0]["init_match"] == "full"
    assert main(["reproduce", "new.png", "--strict"]) == 0


def test_old_gatys_commands_leave_out_what_brushwork_refuses_now():
    from brushwork.provenance.reproduce import legacy_command

    base = {"method": "gatys", "watermark": True}
    cmd = ["stylize", "{input:0}", "{input:1}", "-o", "{output}"]
    assert legacy_command({**base, "command": cmd}) == cmd  # today's recipes: as they are
    assert legacy_command({**base, "command": [*cmd, "--decoder", "d"]}) == cmd  # was ignored without an AdaIN start
    assert legacy_command({**base, "command": [*cmd, "--tile", "512"]}) == cmd  # so was --tile (refused since 0.2.3)
    with_start = {**base, "init_decoder": {}, "init_match": "full", "command": [*cmd, "--init", "adain", "--tile", "512"]}
    assert legacy_command(with_start) == with_start["command"]  # (the AdaIN start uses it)
    start = {**base, "init_decoder": {}, "init_match": "full"}  # --match none beside --init adain (the studio's API)
    assert legacy_command({**start, "command": [*cmd, "--init", "adain", "--match", "none"]}) == [*cmd, "--init", "adain"]
    old = {**base, "init_decoder": {}, "command": [*cmd, "--init", "adain", "--decoder", "d"]}
    assert legacy_command(old) == [*cmd, "--init", "adain", "--decoder", "d", "--init-match", "none"]
    # Gatys' settings beside --method adain: ignored before 0.2.2, refused since, left out of the rerun
    adain = {"method": "adain", "watermark": True, "match": "full"}
    ada_cmd = [*cmd, "--method", "adain"]
    assert legacy_command({**adain, "command": [*ada_cmd, "--steps", "50", "--tv-weight", "3"]}) == ada_cmd
    # made before the CPU's default tile became 512 px: rerun in the 1024 px tiles it was painted in
    tiled = {**adain, "adain": {"match": "full", "tile": 1024}, "command": ada_cmd}
    assert legacy_command({**tiled, "brushwork": "0.2.10"}) == [*ada_cmd, "--tile", "1024"]
    assert legacy_command({**tiled, "brushwork": "0.2.11"}) == ada_cmd
    assert legacy_command({**tiled, "brushwork": "0.2.10", "command": [*ada_cmd, "--tile", "700"]}) == [*ada_cmd, "--tile",
                                                                                                       "700"]
    assert legacy_command({**with_start, "brushwork": "0.2.10", "command": [*cmd, "--init", "adain"]}) == [
        *cmd, "--init", "adain", "--tile", "1024"]


def test_an_adain_picture_made_in_1024_px_tiles_reproduces(small_images, tmp_path, monkeypatch):
    """Since 0.2.11 a CPU paints AdaIN pictures in 512 px tiles (3x faster at 2048 px): a picture a 0.2.10 made
    (1024 px tiles by default, its command without --tile) reruns in 1024 px tiles, bit-identical."""
    import json

    from brushwork.imaging.io import save_image
    from brushwork.provenance.recipe import read_recipe
    from brushwork.provenance.reproduce import reproduce

    content, style = small_images
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BRUSHWORK_GALLERY", "off")
    args = ["stylize", str(content), str(style), "--method", "adain", "--size", "640", "-q"]
    assert main([*args, "-o", "now.png"]) == 0
    assert main([*args, "--tile", "1024", "-o", "then.png"]) == 0
    now, then = np.asarray(Image.open("now.png")), np.asarray(Image.open("then.png"))
    assert read_recipe("now.png")[0]["adain"]["tile"] == 512 and not np.array_equal(now, then)
    recipe = read_recipe("then.png")[0]
    at = recipe["command"].index("--tile")
    old = {**recipe, "brushwork": "0.2.10", "command": recipe["command"][:at] + recipe["command"][at + 2:]}
    save_image(Image.fromarray(then), tmp_path / "old.png", recipe=json.loads(json.dumps(old)))
    assert reproduce(tmp_path / "old.png").identical


def _drawing_on_a_transparent_canvas(tmp_path: Path) -> tuple[Path, Path]:
    """Red and blue stripes on the middle ninth of a transparent canvas, and the stripes cut out."""
    stripes = np.zeros((48, 48, 4), np.uint8)
    on = (np.arange(48) // 6) % 2 == 0
    stripes[..., 0] = np.where(on, 200, 20)[None, :]
    stripes[..., 2] = np.where(on, 30, 160)[None, :]
    stripes[..., 3] = 255
    canvas = np.zeros((144, 144, 4), np.uint8)
    canvas[48:96, 48:96] = stripes
    Image.fromarray(canvas, "RGBA").save(tmp_path / "canvas.png")
    Image.fromarray(stripes[..., :3]).save(tmp_path / "stripes.png")
    return tmp_path / "canvas.png", tmp_path / "stripes.png"


@pytest.mark.parametrize("method", ["adain", "gatys", "histogram"])
def test_a_drawing_on_a_transparent_canvas_paints_with_the_drawing_not_the_backdrop(small_images, tmp_path, method):
    """(histogram: --preserve-color histogram matches the drawing's colours to the photo's, not the backdrop's,
    whose white took the photo's light quantiles and left the drawing darkened)"""
    from brushwork.pipelines.stylize import stylize

    content, _ = small_images
    canvas, stripes = _drawing_on_a_transparent_canvas(tmp_path)
    kw = {"adain": dict(method="adain", match="none"), "gatys": dict(steps=20, scales=1),
          "histogram": dict(method="adain", match="none", preserve_color="histogram")}[method]

    def picture(style: Path) -> np.ndarray:  # its mean colour
        out = stylize(content, style, size=96, seed=0, strength=1.0, **kw).image.convert("RGB")
        return np.asarray(out, np.float32).mean(axis=(0, 1))

    on_canvas, cut_out = picture(canvas), picture(stripes)
    over_white = Image.open(canvas)
    flat = Image.new("RGB", over_white.size, "white")
    flat.paste(over_white, mask=over_white.getchannel("A"))
    flat.save(tmp_path / "flat.png")
    on_white = picture(tmp_path / "flat.png")  # what the canvas painted before: eight ninths of it white
    # (histogram: the drawing's edges still meet white in the encoder's view: 0.34 measured, 2.2 before)
    assert np.abs(on_canvas - cut_out).max() < (0.5 if method == "histogram" else 0.2) * np.abs(on_white - cut_out).max()


def test_one_style_given_twice_is_that_style(small_images, random_decoder_dir):
    """stylize(c, [s, s]) is stylize(c, s): the match mixed the two copies' samples, half of each, and came out up to
    20 levels apart (API audit)."""
    import brushwork

    content, style = small_images
    kw = dict(method="adain", decoder=random_decoder_dir, size=64, match="full")
    once = np.asarray(brushwork.stylize(content, style, **kw).image)
    twice = np.asarray(brushwork.stylize(content, [style, style], style_weights=[1, 3], **kw).image)
    assert np.array_equal(once, twice)


def test_large_picture_memory_savers_keep_the_values():
    """At 8000 px the match held several more whole pictures than it needed (5.8 GB peak against 3.8 GB without it):
    the blur works a strip of rows at a time, the upsampling channels-last (PyTorch's CPU kernel holds a second
    output for a channels-first picture), the bands are mapped in place and the strength blend works in the matched
    picture's memory. The values are the same: strips of any height give the blur of the whole, each layout gives
    the same picture in the layout it came in, and the blend is y + a (done - y)."""
    import torch.nn.functional as F

    from brushwork.color.transport import _blur_down

    g = torch.Generator().manual_seed(0)
    kernel = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0
    for shape in [(1, 3, 1, 1), (1, 3, 2, 5), (1, 3, 3, 3), (2, 3, 37, 20), (1, 3, 64, 65)]:
        x = torch.rand(shape, generator=g)
        whole = _blur_down(x, rows=10**6)
        for rows in (1, 2, 7):
            assert torch.equal(_blur_down(x, rows=rows), whole)
        assert torch.equal(_blur_down(x.contiguous(memory_format=torch.channels_last)).contiguous(), whole)
        if min(shape[-2:]) > 2:  # (the same as a depthwise convolution with reflected edges, up to rounding)
            pad = F.pad(x, (2, 2, 2, 2), mode="reflect")
            k2 = (kernel[:, None] * kernel[None])[None, None].repeat(3, 1, 1, 1)
            assert torch.allclose(F.conv2d(pad, k2, groups=3)[..., ::2, ::2], whole, atol=1e-6)
    photo = torch.rand(1, 3, 96, 80, generator=g)
    target = style_target(torch.rand(1, 3, 64, 64, generator=g) ** 2)
    plain, _ = match_style(photo, target)
    lined, _ = match_style(photo.contiguous(memory_format=torch.channels_last), target)
    assert plain.is_contiguous() and lined.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(plain, lined.contiguous())
    style = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    matched, _ = match_style(photo, style_target(style))
    blended, _ = match_styles(photo, [style], alpha=0.6)
    assert torch.equal(blended, (photo + 0.6 * (matched - photo)).clamp(0.0, 1.0))
    assert match_styles(photo, [style], alpha=0.0)[0] is photo
    # (review) the bands are mapped in place in either layout (on the CPU they are channels-last: that branch never
    # ran), the same values as mapped copies
    import brushwork.color.transport as T

    in_place, real = [], T._interp
    monkey = pytest.MonkeyPatch()
    monkey.setattr(T, "_interp", lambda v, xs, ys, **k: in_place.append(k.get("out") is v) or real(v, xs, ys, **k))
    try:
        again, _ = match_style(photo, target)
    finally:
        monkey.undo()
    assert in_place and all(in_place) and torch.equal(again, plain)
    # (review) no map made (a few pixels): the caller's picture is not clamped in place
    tiny = torch.full((1, 3, 3, 3), 1.5)
    out, _ = match_styles(tiny, [style])
    assert torch.equal(tiny, torch.full((1, 3, 3, 3), 1.5)) and float(out.max()) == 1.0


def test_a_folder_made_in_1024_px_tiles_is_not_redone_for_the_new_default(small_images, tmp_path, capsys):
    """The CPU's default tile became 512 px (0.2.11): a folder run keys the default as the 1024 it was, so a folder
    stylized before is kept (its pictures are within a few levels), not refused as made with other settings."""
    content, style = small_images
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(content, photos / "a.png")
    base = ["stylize", str(photos), str(style), "-o", str(tmp_path / "out"), "--method", "adain", "--size", "64", "-q",
            "--no-gallery"]
    assert main([*base, "--tile", "1024"]) == 0  # (what brushwork 0.2.10's default passed)
    capsys.readouterr()
    assert main(base) == 0
    assert "1 already done" in capsys.readouterr().out
