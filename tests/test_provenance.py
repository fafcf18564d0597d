"""Recipes in every output, `brushwork inspect`, and `brushwork reproduce` (bit-identical on the CPU)."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brushwork.cli import main
from brushwork.provenance.recipe import XMP_LIMIT, embed_kwargs, read_recipe, sidecar_path, write_sidecar
from brushwork.provenance.reproduce import reproduce

ADAIN = ["--method", "adain", "--size", "64", "-q"]


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif"])
def test_recipe_round_trips_in_each_format(tmp_path, suffix):
    from brushwork.imaging.io import save_image

    recipe = {"operation": "test", "text": "quotes \" & <tags> and ünïcode", "n": [1, 2.5, None]}
    out = save_image(np.full((8, 8, 3), 0.5, np.float32), tmp_path / f"a{suffix}", recipe=recipe)
    assert read_recipe(out)[0] == recipe
    plain = save_image(np.full((8, 8, 3), 0.5, np.float32), tmp_path / f"b{suffix}", recipe=None)
    assert read_recipe(plain) == (None, "")


def test_sidecar_and_formats_without_room(tmp_path):
    big = {"blob": "x" * (XMP_LIMIT + 10)}
    assert embed_kwargs("JPEG", big) == {} and embed_kwargs("BMP", {"a": 1}) == {}
    img = tmp_path / "a.bmp"
    Image.new("RGB", (4, 4)).save(img)
    assert read_recipe(img) == (None, "")
    write_sidecar(img, {"operation": "x"})
    assert sidecar_path(img).name == "a.bmp.json"
    assert read_recipe(img) == ({"operation": "x"}, "sidecar a.bmp.json")


def _jpeg_with_gps(path):
    im = Image.open(path).convert("RGB")
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}  # GPS latitude
    out = path.with_suffix(".jpg")
    im.save(out, exif=exif)
    return out


def test_stylize_recipe_inspect_reproduce_and_privacy(small_images, tmp_path, capsys, monkeypatch):
    content, style = small_images
    monkeypatch.chdir(tmp_path)
    photo = _jpeg_with_gps(content)
    assert Image.open(photo).getexif()
    assert main(["stylize", photo.name, style.name, "-o", "out.jpg", *ADAIN]) == 0
    out = tmp_path / "out.jpg"
    assert not Image.open(out).getexif(), "the photo's EXIF (camera, GPS) must not reach the output"
    # Unless asked for: the camera with --keep-exif, the position only with --keep-gps as well.
    assert main(["stylize", photo.name, style.name, "-o", "kept.jpg", *ADAIN, "--keep-exif"]) == 0
    kept = Image.open(tmp_path / "kept.jpg").getexif()
    assert kept[0x010F] == "CameraMaker" and 0x8825 not in kept
    assert main(["recolor", photo.name, "--palette", "#1e90ff,#ff8c1e", "-o", "gps.png", "--keep-exif", "--keep-gps"]) == 0
    assert Image.open(tmp_path / "gps.png").getexif().get_ifd(0x8825)[1] == "N"
    # a TIFF keeps both the camera's tags and its recipe (Pillow's tiffinfo used to replace the EXIF)
    assert main(["recolor", photo.name, "--palette", "#1e90ff,#ff8c1e", "-o", "kept.tif", "--keep-exif"]) == 0
    assert Image.open(tmp_path / "kept.tif").getexif()[0x010F] == "CameraMaker"
    assert read_recipe(tmp_path / "kept.tif")[0]["operation"] == "recolor"
    assert main(["stylize", photo.name, style.name, "-o", "x.jpg", *ADAIN, "--keep-gps"]) == 2
    assert "--keep-gps goes with --keep-exif" in capsys.readouterr().err
    # a TIFF photo: its own layout, profile and an editor's data are not EXIF (they corrupted the output)
    tif = Image.open(content).convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "CameraMaker", 6
    exif[37724] = b"\0" * 70_000  # Photoshop's layers
    tif.save(tmp_path / "phone.tif", exif=exif)
    for name in ("from_tif.tif", "from_tif.jpg"):
        assert main(["stylize", "phone.tif", style.name, "-o", name, *ADAIN, "--keep-exif"]) == 0, name
        with Image.open(tmp_path / name) as im:
            im.load()  # (a copied strip layout made it unreadable)
            tags = im.getexif()
            assert tags[0x010F] == "CameraMaker" and tags.get(0x0112, 1) == 1 and 37724 not in tags
    recipe, where = read_recipe(out)
    assert where == "XMP"
    assert recipe["command"][:3] == ["stylize", "{input:0}", "{input:1}"] and "{output}" in recipe["command"]
    assert [i["name"] for i in recipe["inputs"]] == [photo.name, style.name]
    assert len(recipe["weights_sha256"]["decoder"]) == 64 and len(recipe["weights_sha256"]["encoder"]) == 64
    env = recipe["environment"]
    assert {"torch", "threads", "cpu_capability", "brushwork"} <= set(env)
    capsys.readouterr()
    assert main(["inspect", "out.jpg"]) == 0
    text = capsys.readouterr().out
    assert f"brushwork stylize {photo.name} {style.name} -o {{output}}" in text and "sha256" in text

    assert main(["reproduce", "out.jpg", "--strict"]) == 0
    assert "bit-identical pixels" in capsys.readouterr().out

    # inputs moved away: found by hash under --inputs, else a clear error
    (tmp_path / "elsewhere" / "deep").mkdir(parents=True)
    for f in (photo, style):
        shutil.move(f, tmp_path / "elsewhere" / "deep" / f.name)
    assert main(["reproduce", "out.jpg"]) == 2
    assert "pass --inputs DIR" in capsys.readouterr().err
    assert main(["reproduce", "out.jpg", "--inputs", "elsewhere", "-o", "again.jpg", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["identical"] and rep["max_difference"] == 0 and rep["kept"] == "again.jpg"
    assert "bit-identical" in rep["summary"] and (tmp_path / "again.jpg").is_file()
    # the rerun's copy may not replace an input or the checked image, and keeps the format it is
    photo_bytes = (tmp_path / "elsewhere" / "deep" / photo.name).read_bytes()
    for target, msg in (("elsewhere/deep/" + photo.name, "one of the recipe's inputs"),
                        ("out.jpg", "the image being reproduced"), ("again.png", "name it with .jpg")):
        assert main(["reproduce", "out.jpg", "--inputs", "elsewhere", "-o", target]) == 2, target
        assert msg in capsys.readouterr().err
    assert (tmp_path / "elsewhere" / "deep" / photo.name).read_bytes() == photo_bytes
    assert not (tmp_path / "again.png").exists()

    # a changed pixel is found and reported: one pixel of a PNG output, its recipe kept
    assert main(["stylize", "elsewhere/deep/" + photo.name, "elsewhere/deep/" + style.name, "--output=p.png",
                 *ADAIN]) == 0
    rec_png, _ = read_recipe(tmp_path / "p.png")
    assert rec_png["command"][3:5] == ["--output", "{output}"]  # the --opt=value form is split
    rgb = np.asarray(Image.open(tmp_path / "p.png")).copy()
    rgb[5, 7, 0] = 255 - rgb[5, 7, 0]
    Image.fromarray(rgb).save(tmp_path / "changed.png", pnginfo=embed_kwargs("PNG", rec_png)["pnginfo"])
    res = reproduce(tmp_path / "changed.png")
    assert not res.identical and res.differing_pixels == 1 and res.max_difference > 0
    assert main(["reproduce", "changed.png", "--strict"]) == 1

    # --no-metadata: nothing to inspect; --sidecar: the recipe beside the file too
    assert main(["stylize", "elsewhere/deep/" + photo.name, "elsewhere/deep/" + style.name, "-o", "bare.png",
                 "--no-metadata", *ADAIN]) == 0
    capsys.readouterr()
    assert main(["inspect", "bare.png"]) == 2
    assert "no brushwork recipe" in capsys.readouterr().err
    assert main(["stylize", "elsewhere/deep/" + photo.name, "elsewhere/deep/" + style.name, "-o", "side.png",
                 "--sidecar", *ADAIN]) == 0
    assert json.loads((tmp_path / "side.png.json").read_text())["command"][0] == "stylize"


def test_folder_outputs_record_their_one_file_command(small_images, tmp_path, monkeypatch):
    content, style = small_images
    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    shutil.copy(content, tmp_path / "photos" / "a.png")
    assert main(["stylize", "photos", style.name, "-o", "outs", *ADAIN]) == 0
    recipe, _ = read_recipe(tmp_path / "outs" / "a.png")
    assert recipe["command"][:3] == ["stylize", "{input:0}", "{input:1}"] and "{output}" in recipe["command"]
    assert reproduce(tmp_path / "outs" / "a.png").identical


def test_bundled_samples_are_found_without_inputs(small_images, tmp_path, monkeypatch):
    """A style the studio offers by name is a bundled sample: its copy need not be passed with --inputs."""
    from brushwork.pipelines.stylize import sample_path

    content, _ = small_images
    monkeypatch.chdir(tmp_path)
    shutil.copy(sample_path("style"), tmp_path / "painting.jpg")
    assert main(["stylize", content.name, "painting.jpg", "-o", "o.png", *ADAIN]) == 0
    (tmp_path / "painting.jpg").unlink()
    assert reproduce(tmp_path / "o.png").identical


def test_gan_samples_recolor_and_crops_reproduce(tmp_path, monkeypatch, small_images, capsys):
    content, _ = small_images
    monkeypatch.chdir(tmp_path)
    assert main(["gan", "sample", "--seeds", "3-4", "-o", "samples"]) == 0
    recipe, _ = read_recipe(tmp_path / "samples" / "seed0004.png")
    assert recipe["seed"] == 4 and recipe["output"] == "seed0004.png" and "{output_dir}" in recipe["command"]
    assert recipe["device"] == "cpu"  # (compared by reproduce: --device auto may be a GPU elsewhere)
    assert reproduce(tmp_path / "samples" / "seed0004.png").identical
    shutil.copy(content, "photo.png")
    assert main(["recolor", "photo.png", "--palette", "#1e90ff,#ff8c1e", "--method", "palette", "-o", "re.png"]) == 0
    assert reproduce(tmp_path / "re.png").identical
    assert main(["compose", "photo.png", "--ratios", "1:1", "--apply", "crop.png", "--overlay", "ov.png"]) == 0
    crop, _ = read_recipe(tmp_path / "crop.png")
    assert crop["operation"] == "compose crop" and "{scratch:.png}" in crop["command"]
    assert reproduce(tmp_path / "crop.png").identical and reproduce(tmp_path / "ov.png").identical
    capsys.readouterr()
    # a crop made by 0.2.10 (a pixel smaller): the rerun's other size names the change (it named the version only)
    from brushwork.errors import BrushworkError
    from brushwork.imaging.io import save_image

    older = Image.open("crop.png")
    save_image(older.crop((0, 0, older.width - 1, older.height - 1)), tmp_path / "old_crop.png",
               recipe={**crop, "brushwork": "0.2.10"})
    with pytest.raises(BrushworkError, match="sizes crops in the picture's own pixels"):
        reproduce(tmp_path / "old_crop.png")


def test_reproduce_bad_input(tmp_path, capsys):
    Image.new("RGB", (8, 8)).save(tmp_path / "plain.png")
    (tmp_path / "x.txt").write_text("hi")
    (tmp_path / "clip.mp4").write_bytes(b"\x00" * 64)  # (a video without its NAME.mp4.json: not "not an image")
    for argv, msg in [(["reproduce", str(tmp_path / "none.png")], "does not exist"),
                      (["reproduce", str(tmp_path / "clip.mp4")], "clip.mp4.json beside it, which is not there"),
                      (["inspect", str(tmp_path / "clip.mp4")], "clip.mp4.json beside it, which is not there"),
                      (["reproduce", str(tmp_path / "plain.png")], "no brushwork recipe"),
                      (["reproduce", str(tmp_path / "x.txt")], "not an image"),
                      (["inspect", str(tmp_path / "x.txt")], "not an image")]:
        assert main(argv) == 2, argv
        assert msg in capsys.readouterr().err
    api = tmp_path / "api.png"
    from brushwork.imaging.io import save_image

    save_image(np.zeros((8, 8, 3), np.float32), api, recipe={"operation": "stylize"})
    assert main(["reproduce", str(api)]) == 2
    assert "no command (made through the Python API, a `suggest` preview, or the studio's GAN or composition panel)" \
        in capsys.readouterr().err  # (the studio's grids were blamed on the API: the docs audit)
    # a recipe is anyone's data: inspect shows a hand-edited one as it is, without a traceback
    for i, bad in enumerate([{"operation": "stylize", "inputs": [{"name": "a"}], "environment": [1, 2], "command": "x"},
                             {"operation": "stylize", "inputs": "x", "command": ["stylize", "{input:0}"]},
                             {"operation": "stylize", "inputs": None, "command": ["stylize", "{input:0}"]}]):
        save_image(np.zeros((8, 8, 3), np.float32), tmp_path / f"edited{i}.png", recipe=bad)
        assert main(["inspect", str(tmp_path / f"edited{i}.png")]) == 0, bad
        assert "malformed" in capsys.readouterr().out
    cmd = {"command": ["stylize", "{input:0}", "{input:1}", "-o", "{output}"]}
    for recipe, msg in [({**cmd, "brushwork": "99.0"}, "newer than this"),
                        ({**cmd, "brushwork": "banana"}, "not a version"),
                        ({**cmd, "inputs": [{"name": "a.png"}]}, "malformed 'inputs'"),
                        ({**cmd, "inputs": "a.png"}, "malformed 'inputs'")]:
        save_image(np.zeros((8, 8, 3), np.float32), api, recipe=recipe)
        assert main(["reproduce", str(api)]) == 2, recipe
        assert msg in capsys.readouterr().err


def test_gatys_webp_reproduces_bit_identically(small_images, tmp_path, monkeypatch):
    content, style = small_images
    monkeypatch.chdir(tmp_path)
    assert main(["stylize", content.name, style.name, "-o", "g.webp", "--size", "48", "--steps", "3",
                 "--scales", "1", "-q"]) == 0
    res = reproduce(tmp_path / "g.webp")
    assert res.identical and res.same_bytes and not res.environment_differences


def test_recipes_survive_odd_command_lines_and_stale_sidecars(small_images, tmp_path, monkeypatch, capsys):
    content, style = small_images
    monkeypatch.chdir(tmp_path)
    shutil.copy(content, "img.png")
    from brushwork.provenance.recipe import file_sha256

    original = file_sha256("img.png")
    # the output may not replace its own input (the photo would be lost) ...
    assert main(["recolor", "img.png", "--reference", style.name, "-oimg.png"]) == 2
    assert "is also an input" in capsys.readouterr().err and file_sha256("img.png") == original
    # ... the -oVALUE form is recorded as -o {output}
    assert main(["recolor", "img.png", "--reference", style.name, "-oout.png"]) == 0
    recipe, _ = read_recipe(tmp_path / "out.png")
    assert recipe["command"][:2] == ["recolor", "{input:0}"] and recipe["command"][-2:] == ["-o", "{output}"]
    assert recipe["inputs"][0]["sha256"] == original
    Image.open(style).convert("RGB").resize(Image.open("img.png").size).save("img.png")  # the input changes
    capsys.readouterr()
    assert main(["reproduce", "out.png"]) == 2  # the original input is gone: a clear message, no traceback
    assert "pass --inputs DIR" in capsys.readouterr().err
    # a sidecar left from an earlier image of the same name is removed, not attributed to the new one
    assert main(["stylize", content.name, style.name, "-o", "x.png", "--sidecar", *ADAIN]) == 0
    assert (tmp_path / "x.png.json").is_file()
    assert main(["stylize", content.name, style.name, "-o", "x.png", "--no-metadata", *ADAIN]) == 0
    assert not (tmp_path / "x.png.json").exists() and read_recipe(tmp_path / "x.png") == (None, "")


def test_gif_frames_and_unsafe_recipes(tmp_path, monkeypatch, capsys):
    from brushwork.imaging.io import save_image

    monkeypatch.chdir(tmp_path)
    assert main(["gan", "interpolate", "--seeds", "1,2", "--frames", "4", "-o", "walk.gif"]) == 0
    assert reproduce(tmp_path / "walk.gif").pixels == 4 * 64 * 64  # every frame compared
    capsys.readouterr()
    unsafe = [({"command": ["data", "fetch", "mnist"]}, "does not run"),
              ({"command": ["stylize", "a.png", "-o", "/tmp/elsewhere.png"]}, "outside reproduce's temporary folder"),
              # an input as the output: the user's own file (any they have, matched by its sha256) overwritten
              ({"command": ["stylize", "{input:0}", "{input:0}", "-o", "{input:0}"]}, "outside reproduce's"),
              ({"command": ["palette", "a.png", "--css", "{scratch:/../../PWNED.css}", "--swatch", "{output}"]},
               "outside reproduce's"),
              ({"command": ["stylize", "{scratch:/../PWNED.png}", "-o", "{output}"]}, "plain suffix"),
              ({"command": ["stylize", "a.png", "-o", "{output}"], "environment": {"threads": "lots"}}, "malformed"),
              ({"command": ["stylize", "a.png", "-o", "{output}"], "environment": "here"}, "malformed"),
              ({"command": ["stylize", "a.png", "--download", "-o", "{output}"]}, "offline"),
              ({"command": ["gan", "sample", "-o", "{output_dir}"], "output": "../../x.png"}, "outside"),
              # a value attached to its option would name a file anywhere: never run
              ({"command": ["palette", "a.png", f"--css={tmp_path / 'PWNED.css'}", "--swatch", "{output}"]}, "attached"),
              ({"command": ["stylize", "a.png", "b.png", f"-o{tmp_path / 'PWNED.png'}"]}, "attached"),
              # an old option that the rerun drops with its value, the "value" a `--` that hid the options after it
              # from the check: the `--` stays, so they are names, and nothing is written or downloaded
              ({"command": ["stylize", "a.png", "b.png", "-o", "{output}", "--steps", "--", "-o",
                            str(tmp_path / "PWNED.png")], "method": "adain"}, "does not exist"),
              ({"command": ["stylize", "a.png", "b.png", "-o", "{output}", "--decoder", "--", "--download"],
                "method": "gatys"}, "does not exist"),
              ({"command": ["stylize", "{input:²}", "-o", "{output}"]}, "names inputs"),
              ({"command": ["stylize", "{input:0}", "-o", "{output}"], "inputs": [{"sha256": "0", "path": ["x"]}]},
               "not a path")]
    for i, (recipe, msg) in enumerate(unsafe):
        save_image(np.zeros((8, 8, 3), np.float32), tmp_path / f"u{i}.png", recipe=recipe)
        assert main(["reproduce", f"u{i}.png"]) == 2
        assert msg in capsys.readouterr().err
    assert not list(tmp_path.glob("PWNED*"))
    # an input found as '-o' in the working folder goes to the rerun as a path, never as an option
    import hashlib

    (tmp_path / "-o").write_bytes(b"")
    empty = {"name": "-o", "path": "-o", "bytes": 0, "sha256": hashlib.sha256(b"").hexdigest()}
    save_image(np.zeros((8, 8, 3), np.float32), tmp_path / "dash.png",
               recipe={"command": ["recolor", "{input:0}", "{input:1}", str(tmp_path / "PWNED.png"), "-o", "{output}",
                                   "--palette", "#ff0000"], "inputs": [empty, empty]})
    assert main(["reproduce", "dash.png"]) == 2
    capsys.readouterr()
    assert not list(tmp_path.glob("PWNED*"))
    # a picture reproduced from its own folder finds inputs recorded relative to where it was made
    from brushwork.imaging.io import read_image

    (tmp_path / "sub").mkdir()
    save_image(np.full((8, 8, 3), 0.5, np.float32), tmp_path / "in.png")
    assert main(["recolor", "in.png", "--palette", "#336699,#cc6633", "-o", "sub/r.png"]) == 0
    monkeypatch.chdir(tmp_path / "sub")
    assert main(["reproduce", "r.png", "--strict"]) == 0 and read_image("r.png").size == (8, 8)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    assert main(["inspect", "folder"]) == 2 and "is a folder" in capsys.readouterr().err


def test_frames_of_another_size_later_in_a_video_are_a_difference(tmp_path):
    from brushwork.provenance.reproduce import _compare

    for name, sizes in (("a", (8, 8)), ("b", (8, 10))):
        (tmp_path / name).mkdir()
        for i, side in enumerate(sizes):
            Image.new("RGB", (side, side), (10, 20, 30)).save(tmp_path / name / f"frame_{i:06d}.png")
    _, _, _, shape_a, shape_b = _compare(tmp_path / "a", tmp_path / "b")
    assert shape_a != shape_b


def test_a_value_longer_than_a_file_name_is_recorded(tmp_path):
    """52 seeds in one argument are longer than a file name may be: the recipe records the value (checking it
    as a file raised 'File name too long' after the work was done, and nothing was written)."""
    from brushwork.provenance.recipe import command_recipe

    seeds = ",".join(str(1000 + i) for i in range(52))
    recipe = command_recipe(["gan", "sample", "--seeds", seeds, "--grid", "-o", str(tmp_path / "g.png")],
                            tmp_path / "g.png", {}, output_options={"-o"})
    assert seeds in recipe["command"] and recipe["inputs"] == []


def test_a_side_file_with_an_odd_suffix_reproduces(tmp_path, monkeypatch):
    """`palette --css "c.my style"`: the scratch placeholder keeps a plain suffix only (it was recorded as
    '{scratch:.my style}', which reproduce refuses as a path)."""
    from brushwork.pipelines.stylize import sample_path

    monkeypatch.chdir(tmp_path)
    Image.open(sample_path("content")).save("c.png")
    assert main(["palette", "c.png", "--css", "c.my style", "--swatch", "sw.png"]) == 0
    assert main(["reproduce", "sw.png"]) == 0


def test_inputs_given_by_absolute_path_are_found_beside_the_picture(small_images, tmp_path, monkeypatch, capsys):
    """An input given by absolute path is recorded by name only (a path outside the working folder is private):
    reproduce looks for it by that name in the working folder and beside the picture, as the docs say, instead of
    asking for --inputs while the photo lay beside the picture."""
    content, style = small_images
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(style, work / style.name)
    Image.open(content).convert("RGB").rotate(90, expand=True).save(work / content.name)  # (not a bundled sample)
    monkeypatch.chdir(tmp_path)
    assert main(["stylize", str(work / content.name), str(work / style.name), "-o", str(work / "abs.png"),
                 *ADAIN]) == 0
    recipe, _ = read_recipe(work / "abs.png")
    assert all("path" not in i for i in recipe["inputs"])
    capsys.readouterr()
    assert main(["reproduce", str(work / "abs.png"), "--strict"]) == 0  # beside the picture
    monkeypatch.chdir(work)
    assert main(["reproduce", "abs.png", "--strict"]) == 0  # in the working folder
    (work / content.name).unlink()
    capsys.readouterr()
    assert main(["reproduce", "abs.png"]) == 2
    err = capsys.readouterr().err
    assert "is not in the working folder or beside the picture" in err and "--inputs DIR" in err


def test_reruns_report_their_own_setup(small_images, tmp_path, monkeypatch):
    """The environment is compared as the rerun had it: the recorded thread count was set for the rerun, then
    the caller's restored and compared ("recorded on another setup: threads 1 here 2" for a rerun on 1 thread).
    A torch-free recipe (palette, recolor, compose) is rerun without importing torch, so its recipe, and so its
    bytes, come out the same (they never did: the rerun's recipe listed torch)."""
    import subprocess
    import sys

    import torch

    content, style = small_images
    monkeypatch.chdir(content.parent)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert main(["stylize", content.name, style.name, "-o", str(tmp_path / "one.png"), *ADAIN]) == 0
        torch.set_num_threads(2)
        res = reproduce(tmp_path / "one.png")
        assert res.identical and res.environment_differences == [], res.environment_differences
    finally:
        torch.set_num_threads(before)
    env = {**__import__("os").environ, "BRUSHWORK_GALLERY": "off"}
    swatch = tmp_path / "sw.png"
    for argv in (["palette", content.name, "-k", "3", "--swatch", str(swatch), "-q"],
                 ["reproduce", str(swatch), "--json"]):
        p = subprocess.run([sys.executable, "-m", "brushwork", *argv], capture_output=True, text=True, env=env)
        assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["same_bytes"] is True, p.stdout


def test_sidecars_in_other_encodings_and_files_that_are_not_recipes(small_images, tmp_path, monkeypatch, capsys):
    """A recipe sidecar saved by an editor with a byte-order mark is read (it said 'carries no brushwork recipe');
    one re-saved as UTF-16 is one line, not a UnicodeDecodeError traceback; JSON nested deeper than Python parses is
    no recipe (a RecursionError traceback). A file at an output's sidecar name that is not a recipe (or a folder) is
    refused before the picture is written: it was replaced, or removed, or named as the picture it could not write."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BRUSHWORK_GALLERY", "off")
    content, _ = small_images
    shutil.copy(content, tmp_path / "photo.jpg")
    recolor = ["recolor", "photo.jpg", "--palette", "#1e90ff,#ff8c1e"]
    assert main([*recolor, "-o", "out.bmp"]) == 0
    side = tmp_path / "out.bmp.json"
    text = side.read_text()
    side.write_text(text, encoding="utf-8-sig")
    assert read_recipe(tmp_path / "out.bmp")[0]["operation"] == "recolor"
    side.write_text(text, encoding="utf-16")
    capsys.readouterr()
    for cmd in (["inspect", "out.bmp"], ["reproduce", "out.bmp"]):
        assert main(cmd) == 2, cmd
        err = capsys.readouterr().err
        assert "is not UTF-8 text" in err and err.count("\n") == 1 and "Traceback" not in err
    side.write_text("[" * 100_000 + "]" * 100_000)
    assert main(["inspect", "out.bmp"]) == 2
    assert "carries no brushwork recipe" in capsys.readouterr().err
    # not a recipe at the sidecar name: refused, the picture and the file left as they were
    picture = (tmp_path / "out.bmp").read_bytes()
    side.write_text('{"my": "notes"}')
    for argv in ([*recolor, "-o", "out.bmp"], [*recolor, "-o", "out.bmp", "--no-metadata"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "is not a brushwork recipe" in err and "out.bmp.json" in err, err
    assert side.read_text() == '{"my": "notes"}' and (tmp_path / "out.bmp").read_bytes() == picture
    (tmp_path / "other.png.json").mkdir()
    assert main([*recolor, "-o", "other.png", "--sidecar"]) == 2
    assert "other.png.json' is not a brushwork recipe" in capsys.readouterr().err
    assert not (tmp_path / "other.png").exists()


def test_a_gan_or_classifier_run_given_as_a_decoder_is_named(tmp_path, capsys):
    for key in ("gan", "classifier"):
        run = tmp_path / key / "checkpoint"
        run.mkdir(parents=True)
        (run / "config.json").write_text(json.dumps({key: {"width": 8}, "train": {}}))
        (run / "model.safetensors").write_bytes(b"")
        assert main(["stylize", "--sample-content", "--sample-style", "--method", "adain", "--decoder",
                     str(tmp_path / key), "-o", str(tmp_path / "o.png"), "-q"]) == 2
        err = capsys.readouterr().err
        assert f"holds a {'GAN' if key == 'gan' else 'classifier'}, not an AdaIN decoder" in err, err
        (run / "config.json").write_text("[" * 100_000 + "]" * 100_000)
        assert main(["stylize", "--sample-content", "--sample-style", "--method", "adain", "--decoder",
                     str(tmp_path / key), "-o", str(tmp_path / "o.png"), "-q"]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.count("\n") == 1, err


def test_environment_passes_over_a_torch_still_being_imported(monkeypatch):
    """A studio's recolour finishing while another request's thread imports torch was a 500 (AttributeError:
    partially initialized module 'torch' has no attribute 'backends')."""
    import sys
    import types
    from importlib.machinery import ModuleSpec

    from brushwork.provenance.recipe import environment

    half = types.ModuleType("torch")
    half.__version__ = "2.13.0"
    half.__spec__ = ModuleSpec("torch", None)
    half.__spec__._initializing = True
    monkeypatch.setitem(sys.modules, "torch", half)
    assert "torch" not in environment()
    half.__spec__._initializing = False  # (imported, yet without what is read: never an error either)
    assert "torch" not in environment()


def test_torch_free_outputs_reproduce_byte_for_byte_beside_torch(tmp_path):
    """A palette's swatch reran as the same pixels but not the same bytes in any process that had imported torch
    (a notebook, the studio): the rerun's recipe recorded torch's version, threads and instruction set."""
    import torch

    assert torch.get_num_threads() >= 1  # (imported, as a notebook has it)

    photo = tmp_path / "p.png"
    Image.fromarray((np.random.default_rng(0).random((40, 60, 3)) * 255).astype(np.uint8)).save(photo)
    swatch = tmp_path / "sw.png"
    assert main(["palette", str(photo), "-k", "3", "--swatch", str(swatch)]) == 0
    assert "torch" not in read_recipe(swatch)[0]["environment"]
    res = reproduce(swatch)
    assert res.identical and res.same_bytes


def test_a_recipe_of_numpy_numbers_is_written(tmp_path):
    """result.save(path, recipe={"steps": np.int64(3)}) was a TypeError deep in json.dumps (a notebook's numbers)."""
    from brushwork.errors import BrushworkError
    from brushwork.imaging.io import save_image

    pic = np.zeros((8, 8, 3))
    save_image(pic, tmp_path / "a.png", recipe={"steps": np.int64(3), "w": np.float32(0.5), "m": np.arange(2),
                                                "p": tmp_path / "x"})
    assert read_recipe(tmp_path / "a.png")[0] == {"steps": 3, "w": 0.5, "m": [0, 1], "p": str(tmp_path / "x")}
    with pytest.raises(BrushworkError, match="the recipe holds a value JSON cannot carry"):
        save_image(pic, tmp_path / "b.png", recipe={"f": object()})
    assert not (tmp_path / "b.png").exists()


def test_a_kept_rerun_carries_its_recipe_and_failures_say_what_to_do(small_images, random_decoder_dir, tmp_path,
                                                                      monkeypatch, capsys):
    """`reproduce -o` copies the rerun's recipe file with it (a BMP's: its copy had none) and removes a stale one
    (an older picture's recipe passed for the copy); an edited input is said to be changed, not missing; a model
    folder moved away fails in one line that names what to pass (it printed the rerun's own error, with options
    reproduce lacks, and a temporary path)."""
    content, style = small_images
    monkeypatch.chdir(tmp_path)
    shutil.copytree(random_decoder_dir, "dec")
    base = ["stylize", content.name, style.name, "--method", "adain", "--size", "48", "-q"]
    argv = [*base, "--decoder", "dec"]
    assert main([*argv, "-o", "a.bmp"]) == 0 and Path("a.bmp.json").is_file()
    assert main([*argv, "-o", "b.png", "--strength", "0.3", "--sidecar"]) == 0
    assert main([*argv, "-o", "c.png"]) == 0
    capsys.readouterr()
    assert main(["reproduce", "a.bmp", "-o", "again.bmp"]) == 0
    assert read_recipe("again.bmp")[0] == read_recipe("a.bmp")[0]
    assert main(["reproduce", "c.png", "-o", "b.png"]) == 0  # over a picture whose recipe file is beside it
    assert not Path("b.png.json").exists() and read_recipe("b.png")[0]["strength"] == read_recipe("c.png")[0]["strength"]
    original = content.read_bytes()
    edited = Image.open(content).convert("RGB")
    edited.putpixel((0, 0), (0, 0, 0))
    edited.save(content.name)
    capsys.readouterr()
    assert main(["reproduce", "c.png"]) == 2
    err = capsys.readouterr().err
    assert f"input '{content.name}' has changed since the picture was made" in err and err.count("\n") == 1
    content.write_bytes(original)
    Path("dec").rename("moved")
    capsys.readouterr()
    assert main(["reproduce", "c.png"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'dec'" in err and "--inputs DIR" in err and "brushwork-reproduce-" not in err
    # a model folder given by an absolute path and moved since: found by its name under --inputs (it was not)
    assert main([*base, "-o", "abs.png", "--decoder", str(Path("moved").resolve())]) == 0
    assert str(tmp_path) not in json.dumps(read_recipe("abs.png")[0])  # by its name: the path may name the user
    Path("elsewhere").mkdir()
    Path("moved").rename("elsewhere/moved")
    assert main(["reproduce", "abs.png", "--inputs", "elsewhere", "--strict"]) == 0
    # made on a GPU (--device auto), rerun on the CPU: said among the setup's differences (it was not)
    Path("elsewhere/moved").rename("dec")
    recipe = read_recipe("a.bmp")[0]
    write_sidecar("a.bmp", {**recipe, "device": "cuda:0"})
    assert "device cuda:0 here cpu" in reproduce("a.bmp").environment_differences


def test_a_rerun_shows_its_progress_and_stops_on_ctrl_c(small_images, tmp_path, monkeypatch, capsys):
    """The rerun's progress bar still reaches a terminal (its error lines alone are kept aside, to be said once), and
    a Ctrl-C during it is "interrupted", exit 130 (it was a failed rerun that sent the user looking for moved files)."""
    import io

    from brushwork.pipelines import stylize as pipeline

    content, style = small_images
    monkeypatch.chdir(tmp_path)
    assert main(["stylize", content.name, style.name, "-o", "g.png", "--size", "48", "--steps", "8"]) == 0

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr("sys.stderr", term)
    assert main(["reproduce", "g.png"]) == 0
    assert "stylize:" in term.getvalue() and "%" in term.getvalue()  # the bar, as before
    real = pipeline.stylize
    monkeypatch.setattr(pipeline, "stylize", lambda *a, **k: real(*a, **{**k, "should_stop": lambda: True}))
    term.seek(0)
    term.truncate()
    assert main(["reproduce", "g.png"]) == 130
    assert term.getvalue().splitlines()[-1] == "brushwork: interrupted" and "--inputs" not in term.getvalue()


def test_frames_kept_by_reproduce_need_a_new_folder(tmp_path, monkeypatch, capsys):
    """A frames folder's rerun kept with -o over a file or into a folder already there is refused before the
    rerun (it failed after it, leaving the recipe file of frames it had not copied; merged into a folder, the
    recipe vouched for frames it did not make)."""
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(2):
        Image.new("RGB", (48, 32), (40 * i, 90, 90)).save(frames / f"f{i}.png")
    monkeypatch.chdir(tmp_path)
    style = Image.new("RGB", (64, 64), (200, 40, 40))
    style.putpixel((3, 3), (0, 0, 0))
    style.save("style.png")
    assert main(["video", "frames", "style.png", "-o", "styled", "--size", "32", "-q", "--no-gallery"]) == 0
    Path("plainfile").write_text("hi")
    Path("there").mkdir()
    for target in ("plainfile", "there"):
        capsys.readouterr()
        assert main(["reproduce", "styled", "-o", target]) == 2
        err = capsys.readouterr().err
        assert "already exists: give a new folder name for the rerun's frames" in err and err.count("\n") == 1
        assert not Path(target + ".json").exists()
    assert main(["reproduce", "styled", "-o", "again"]) == 0
    assert read_recipe("again")[0] == read_recipe("styled")[0] and len(list(Path("again").glob("*.png"))) == 2
    capsys.readouterr()
    assert main(["reproduce", "styled.json", "--strict"]) == 0  # its recipe file, the folder beside it (review)
    assert "bit-identical" in capsys.readouterr().out
    # given by an absolute path, the frames folder is recorded by its name, found under --inputs (review)
    assert main(["video", str(frames), "style.png", "-o", "abs", "--size", "32", "-q", "--no-gallery"]) == 0
    assert str(tmp_path) not in Path("abs.json").read_text()
    Path("elsewhere/deep").mkdir(parents=True)
    frames.rename("elsewhere/deep/frames")
    assert main(["reproduce", "abs", "--inputs", "elsewhere", "--strict"]) == 0


def test_a_recipe_file_alone_makes_its_picture_again(small_images, tmp_path, monkeypatch, capsys):
    """A recipe shared without its picture (`inspect --json`'s, or a BMP's NAME.bmp.json whose picture is gone) is
    made again at -o, saying there was nothing to compare; given beside its picture, the picture is checked
    (brushwork 0.2.8 refused every .json)."""
    content, style = small_images
    monkeypatch.chdir(tmp_path)
    assert main(["stylize", str(content), str(style), "-o", "o.bmp", *ADAIN]) == 0
    assert main(["reproduce", "o.bmp.json", "--strict"]) == 0  # the picture beside it: checked
    assert "bit-identical" in capsys.readouterr().out
    assert main(["inspect", "o.bmp", "--json"]) == 0
    Path("shared.json").write_text(capsys.readouterr().out)
    # beside the picture it names, `inspect --json`'s file is compared with it (it said the picture was not beside
    # it: the docs audit)
    assert main(["reproduce", "shared.json", "--strict", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["compared"] is True and said["identical"] is True and said["compared_with"] == "o.bmp"
    assert main(["reproduce", "shared.json"]) == 0
    assert capsys.readouterr().out.startswith("shared.json (compared with o.bmp): bit-identical")
    made = np.asarray(Image.open("o.bmp"))
    Path("o.bmp").unlink()
    assert main(["reproduce", "o.bmp.json"]) == 2  # nowhere to put it
    assert "give -o FILE" in capsys.readouterr().err
    assert main(["reproduce", "shared.json", "-o", "again.bmp", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["compared"] is False and said["identical"] is None and said["kept"] == "again.bmp"
    assert np.array_equal(np.asarray(Image.open("again.bmp")), made) and Path("again.bmp.json").is_file()
    assert main(["reproduce", "o.bmp.json", "-o", "again2.bmp", "--strict"]) == 1  # nothing confirmed it
    assert "recipe alone" in capsys.readouterr().out
    Image.open("again.bmp").save("conv.jpg", quality=50)  # converted, its recipe file kept beside it
    shutil.copy("again.bmp.json", "conv.jpg.json")
    assert main(["reproduce", "conv.jpg", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["converted"] == "the recipe wrote BMP, this picture is JPG: converted since?"
    # alone, the setup's differences are still said, and nothing claims a comparison (review)
    recipe = json.loads(Path("shared.json").read_text())
    Path("OTHER.JSON").write_text(json.dumps({**recipe, "weights_sha256": {"decoder": "0" * 64}}))
    assert main(["reproduce", "OTHER.JSON", "-o", "o.bmp", "--json"]) == 0  # (upper case; the picture's own name)
    said = json.loads(capsys.readouterr().out)
    assert said["max_difference"] is None and said["differing_pixels"] is None
    assert "the model weights differ (weights_sha256)" in said["environment_differences"]
    # a hand-edited recipe file beside the picture it names: its errors name the file given, not the picture
    Path("tampered.json").write_text(json.dumps({**recipe, "brushwork": "banana"}))
    assert main(["reproduce", "tampered.json", "-o", "t.bmp"]) == 2
    assert "the recipe in 'tampered.json' names brushwork version 'banana'" in capsys.readouterr().err
    # (review) a recipe kept of an earlier version, its picture made again since with other settings: not compared
    # with the picture of that name (it stopped on the other size, or reported a difference that is none)
    assert main(["stylize", str(content), str(style), "-o", "o.bmp", *ADAIN, "--strength", "0.9"]) == 0
    capsys.readouterr()
    assert main(["reproduce", "shared.json"]) == 2
    assert "is the recipe of another picture than the 'o.bmp' beside it" in capsys.readouterr().err
    assert main(["reproduce", "shared.json", "-o", "v1.bmp", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["compared"] is False and Path("v1.bmp").is_file()
    Path("not.json").write_text('{"a": 1}')
    assert main(["reproduce", "not.json", "-o", "x.bmp"]) == 2
    assert "not a brushwork recipe" in capsys.readouterr().err and not Path("x.bmp").exists()


def test_a_model_folder_retrained_in_place_is_found_under_inputs(small_images, random_decoder_dir, tmp_path,
                                                                 monkeypatch, capsys):
    """The picture's decoder folder was retrained in place and the original kept elsewhere: `--inputs` finds the
    folder holding the recorded weights (the retrained one at the recorded path won, and only "the model weights
    differ" was said)."""
    import torch

    from brushwork.models.adain import Decoder, DecoderConfig
    from brushwork.training.engine import save_model

    content, style = small_images
    monkeypatch.chdir(tmp_path)
    shutil.copytree(random_decoder_dir, "dec")
    assert main(["stylize", content.name, style.name, "--method", "adain", "--size", "48", "-q", "--decoder", "dec",
                 "-o", "p.png"]) == 0
    shutil.copytree("dec", "kept/dec")
    torch.manual_seed(1)
    save_model(Decoder(), {"decoder": DecoderConfig().to_dict()}, Path("dec"))  # retrained in place
    capsys.readouterr()
    assert main(["reproduce", "p.png"]) == 0  # without --inputs: the folder at the recorded path, and why it differs
    assert "the model weights differ" in capsys.readouterr().out
    assert main(["reproduce", "p.png", "--inputs", "kept", "--strict"]) == 0
    assert "bit-identical" in capsys.readouterr().out


def test_a_change_of_behaviour_is_named_for_older_recipes():
    """A picture made before a change that paints it differently names the change (review: a 0.2.8 picture with a 0/1
    mask differed by 126 levels, explained only by the version)."""
    from brushwork.provenance.reproduce import changed_since

    masked = {"brushwork": "0.2.8", "masks": [{"source": "m.png"}], "styles": [{"sha256": "a"}, {"sha256": "a"}]}
    assert changed_since(masked) == ["brushwork 0.2.9 reads a mask holding only 0 and 1 as black and white",
                                     "brushwork 0.2.9 matches a style given twice as that style"]
    assert changed_since({**masked, "brushwork": "0.2.9"}) == [] and changed_since({"brushwork": "x"}) == []
    assert changed_since({"brushwork": "0.2.8", "masks": None, "styles": [{"sha256": "a"}, {"sha256": "b"}]}) == []
    video = {"brushwork": "0.2.9", "command": ["video", "{input:0}", "{input:1}", "-o", "{output}"]}
    assert changed_since(video) == ["brushwork 0.2.10 reads an HDR video tone-mapped, one of non-square pixels at its "
                                    "shown shape and a video's alpha channel, and keeps an animation's own frame times "
                                    "in a GIF"]
    assert changed_since({**video, "brushwork": "0.2.10"}) == []


def test_the_command_inspect_shows_pastes_into_a_shell(tmp_path, monkeypatch, capsys):
    """(docs audit) inspect and gallery show joined the recipe's command with spaces: a file name with a space, or a
    hex colour (a '#' starts a shell comment), pasted as something else. Quoted as a shell reads it; the {output}
    placeholder as it is."""
    import shlex

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BRUSHWORK_GALLERY", "off")
    Image.fromarray((np.random.default_rng(0).random((30, 40, 3)) * 255).astype(np.uint8)).save("my photo 猫.png")
    assert main(["recolor", "my photo 猫.png", "--palette", "#1e90ff,#ff8c1e", "-o", "out.png"]) == 0
    capsys.readouterr()
    assert main(["inspect", "out.png"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.strip().startswith("command:"))
    shown = line.split("command:", 1)[1].strip()
    assert shlex.split(shown) == ["brushwork", "recolor", "my photo 猫.png", "--palette", "#1e90ff,#ff8c1e", "-o",
                                  "{output}"]
