"""The CLI through main(argv), and every bad input: one line, exit code 2, no output file."""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brushwork.cli import main

FAST = ["--size", "64", "--steps", "4", "--scales", "1", "-q"]


def test_help_is_fast_and_does_not_import_torch():
    code = "import sys, time; t=time.perf_counter(); from brushwork.cli import main; main(['--help']); " \
           "print(time.perf_counter()-t, 'torch' in sys.modules, file=sys.stderr)"
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    wall = time.perf_counter() - t
    assert p.returncode == 0 and "stylize" in p.stdout
    inner, torch_loaded = p.stderr.split()
    assert torch_loaded == "False"
    assert float(inner) < 0.5, f"--help took {inner}s inside the interpreter ({wall:.2f}s with start-up)"


def test_single_command_parser_parses_like_the_full_one():
    from brushwork.cli import COMMANDS, build_parser

    full = build_parser()
    sub = next(a for a in full._actions if a.dest == "command")
    assert tuple(sub.choices) == COMMANDS
    for argv in (["palette", "x.jpg", "-k", "4", "--json"], ["gan", "sample", "--seeds", "0-3", "-o", "d"],
                 ["compose", "x.jpg", "--ratios", "1:1"]):
        assert vars(build_parser(argv[0]).parse_args(argv)) == vars(full.parse_args(argv))


def test_stylize_writes_png_with_recipe(small_images, tmp_path, capsys):
    content, style = small_images
    out = tmp_path / "out.png"
    assert main(["stylize", str(content), str(style), "-o", str(out), "--strength", "0.6", *FAST]) == 0
    im = Image.open(out)
    assert im.size == (64, 43)
    recipe = json.loads(im.text["brushwork"])
    assert recipe["strength"] == 0.6 and recipe["content"]["sha256"] and recipe["encoder"] == "efficientnet-lite0"


def test_samples_and_alpha_alias(tmp_path):
    out = tmp_path / "s.jpg"
    assert main(["stylize", "--sample-content", "--sample-style", "-o", str(out), "--alpha", "0.3", *FAST]) == 0
    assert Image.open(out).format == "JPEG"


def test_masks_and_several_styles(small_images, tmp_path, capsys):
    content, style = small_images
    m = tmp_path / "m.png"
    Image.fromarray(np.full((10, 10), 255, np.uint8)).save(m)  # different size: resized to the content
    out = tmp_path / "o.png"
    rc = main(["stylize", str(content), str(style), str(content), "--style-weights", "0.7,0.3",
               "--mask", str(m), "--mask", "-", "-o", str(out), *FAST])
    assert rc == 0 and out.exists()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "brushwork: note: mask" in err and "resized to fit" in err


def test_options_may_stand_between_the_positionals(small_images, tmp_path):
    content, style = small_images
    out = tmp_path / "o.png"  # (argparse refused the second style as "unrecognized arguments")
    assert main(["stylize", str(content), "--method", "adain", str(style), "--size", "64", str(content), "-o", str(out),
                 "-q", "--no-watermark"]) == 0
    recipe = json.loads(Image.open(out).text["brushwork"])
    assert [s["source"] for s in recipe["styles"]] == ["style.png", "content.png"] and recipe["method"] == "adain"
    # `--` still ends the options: a name that starts with '-' after it is a file
    dashed = tmp_path / "-photo.png"
    Image.open(content).save(dashed)
    assert main(["stylize", "-o", str(tmp_path / "d.png"), "--method", "adain", "--size", "64", "-q", "--no-watermark",
                 "--", str(dashed), str(style)]) == 0
    # ... and with a positional before it, options between (the recipe records the `--`, and reproduces)
    dash_style = tmp_path / "-style.png"
    Image.open(style).save(dash_style)
    assert main(["stylize", str(content), "--method", "adain", "-o", str(tmp_path / "e.png"), "--size", "64", "-q",
                 "--", str(dash_style)]) == 0
    assert main(["reproduce", str(tmp_path / "e.png"), "--inputs", str(tmp_path)]) == 0


def _truncated(p: Path) -> None:
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(p)
    p.write_bytes(p.read_bytes()[:300])


BAD = {
    "missing file": (lambda d: ["stylize", str(d / "nope.jpg"), "{style}"], "does not exist"),
    "not an image": (lambda d: (d / "x.png").write_text("text") and ["stylize", str(d / "x.png"), "{style}"],
                     "not an image"),
    "truncated": (lambda d: _truncated(d / "t.png") or ["stylize", str(d / "t.png"), "{style}"],
                  "truncated or corrupt"),
    "one pixel": (lambda d: Image.new("RGB", (1, 1)).save(d / "p.png") or ["stylize", str(d / "p.png"), "{style}"],
                  "too small"),
    "huge": (lambda d: ["stylize", "{content}", "{style}", "--max-pixels", "1000"], "max-pixels"),
    "unknown encoder": (lambda d: ["stylize", "{content}", "{style}", "--encoder", "alexnet"], "unknown encoder"),
    "vgg offline": (lambda d: ["stylize", "{content}", "{style}", "--encoder", "vgg19"], "--weights"),
    "corrupt weights": (lambda d: (d / "w.pth").write_bytes(b"junk" * 50) and
                        ["stylize", "{content}", "{style}", "--encoder", "vgg19", "--weights", str(d / "w.pth"),
                         "--trust-weights"], "corrupt"),
    "weights folder": (lambda d: ["stylize", "{content}", "{style}", "--encoder", "vgg19", "--weights", str(d)],
                       "is a folder"),
    "unverified weights": (lambda d: (d / "w.pth").write_bytes(b"junk" * 50) and
                           ["stylize", "{content}", "{style}", "--encoder", "vgg19", "--weights",
                            str(d / "w.pth")], "--trust-weights"),
    "strength out of range": (lambda d: ["stylize", "{content}", "{style}", "--strength", "2"], "outside [0, 1]"),
    "strength not a number": (lambda d: ["stylize", "{content}", "{style}", "--strength", "lots"], "not a number"),
    "bad size": (lambda d: ["stylize", "{content}", "{style}", "--size", "0"], "at least 1"),
    "weights count": (lambda d: ["stylize", "{content}", "{style}", "--style-weights", "1,2"], "one weight per style"),
    "weight like an option": (lambda d: ["stylize", "{content}", "{style}", "--style-weights", "-1,2"],
                              "written --style-weights=VALUE"),
    "mask count": (lambda d: ["stylize", "{content}", "{style}", "--mask", "-", "--mask", "-"], "one mask per style"),
    "no style": (lambda d: ["stylize", "{content}"], "no STYLE"),
    "bad choice": (lambda d: ["stylize", "{content}", "{style}", "--preserve-color", "sepia"], "invalid choice"),
    "unknown device": (lambda d: ["stylize", "{content}", "{style}", "--device", "tpu"], "device"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_one_line_exit_2_no_output(case, small_images, tmp_path, capsys):
    content, style = small_images
    make, match = BAD[case]
    argv = [a.format(content=content, style=style) for a in make(tmp_path)]
    out = tmp_path / "out.png"
    before = set(tmp_path.iterdir())
    rc = main([*argv, "-o", str(out), *FAST])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("brushwork: error:") and match in err, err
    assert "Traceback" not in err
    assert set(tmp_path.iterdir()) == before  # no output, no temporary file


def test_unwritable_output(small_images, tmp_path, capsys):
    content, style = small_images
    rc = main(["stylize", str(content), str(style), "-o", str(tmp_path / "no" / "dir" / "o.png"), *FAST])
    assert rc == 2 and "does not exist" in capsys.readouterr().err
    rc = main(["stylize", str(content), str(style), "-o", str(tmp_path / "o.gif2"), *FAST])
    assert rc == 2 and "unknown extension" in capsys.readouterr().err


def test_ctrl_c_writes_best_so_far(small_images, tmp_path, monkeypatch):
    content, style = small_images
    import brushwork.pipelines.gatys as gatys

    real = gatys.total_variation
    calls = {"n": 0}

    def interrupting(x):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(x)

    monkeypatch.setattr(gatys, "total_variation", interrupting)
    out = tmp_path / "o.png"
    rc = main(["stylize", str(content), str(style), "-o", str(out), "--tv-weight", "1", *FAST])
    assert rc == 130 and out.exists()


def test_encoders_lists_all(capsys):
    assert main(["encoders"]) == 0
    text = capsys.readouterr().out
    for name in ("efficientnet-lite0", "vgg19", "vgg16", "resnet50"):
        assert name in text


def _err(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_an_output_never_replaces_an_input(small_images, tmp_path, capsys):
    content, style = small_images
    before = content.read_bytes()
    cases = [["stylize", str(content), str(style), "-o", str(content), "--method", "adain", "-q"],
             ["recolor", str(content), "--reference", str(style), "-o", str(content)],
             ["compose", str(content), "--apply", str(content)],
             ["palette", str(content), "--swatch", str(content)]]
    for argv in cases:
        assert main(argv) == 2, argv
        assert "is also an input" in _err(capsys)
        assert content.read_bytes() == before
    # a CONTENT folder's -o must be a folder, not a file name that would become one
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.png").write_bytes(before)
    assert main(["stylize", str(tmp_path / "photos"), str(style), "-o", str(tmp_path / "single.png"), "-q",
                 "--method", "adain"]) == 2
    assert "looks like a file name" in _err(capsys) and not (tmp_path / "single.png").exists()


def test_damaged_checkpoints_are_one_line(tmp_path, capsys, small_images):
    import shutil

    from brushwork.pipelines.classify import SHIPPED
    from brushwork.pipelines.gan import SHIPPED_GAN
    from brushwork.weights import find_weights

    content, _ = small_images
    for name, argv in ((SHIPPED_GAN, ["gan", "sample", "{d}", "--seeds", "0", "-o", str(tmp_path / "s")]),
                       (SHIPPED["medium"], ["classify", "predict", "{d}", str(content)])):
        d = tmp_path / name
        shutil.copytree(find_weights(name).parent, d)
        (d / "model.safetensors").write_bytes(np.random.default_rng(0).bytes(4096))
        run = [a.replace("{d}", str(d)) for a in argv]
        assert main(run) == 2, run
        assert "corrupt" in _err(capsys)
        (d / "config.json").write_text("{not json")
        assert main(run) == 2
        assert "config.json' is damaged" in _err(capsys)
    assert not (tmp_path / "s").exists()


def test_a_damaged_trainer_state_stops_the_resume_in_one_line(tmp_path, capsys):
    run = ["adain", "train", "--dry-run", "--size", "32", "--batch", "2", "-q", "--out", str(tmp_path / "run")]
    assert main([*run, "--steps", "1"]) == 0
    state = tmp_path / "run" / "checkpoint" / "trainer_state.pt"
    state.write_bytes(b"not a pickle")
    capsys.readouterr()
    assert main([*run, "--steps", "2"]) == 2
    assert "cannot resume" in _err(capsys)
    assert main(["adain", "train", "--dry-run", "--size", "8", "-q", "--out", str(tmp_path / "tiny")]) == 2
    assert "too small to train on" in _err(capsys) and not (tmp_path / "tiny").exists()


def test_a_training_run_folder_serves_as_decoder(small_images, random_decoder_dir, tmp_path, capsys):
    import shutil

    content, style = small_images
    shutil.copytree(random_decoder_dir, tmp_path / "run" / "checkpoint")  # as `adain train --out run` leaves it
    assert main(["stylize", str(content), str(style), "-o", str(tmp_path / "o.png"), "--method", "adain", "-q",
                 "--decoder", str(tmp_path / "run")]) == 0
    assert main(["stylize", str(content), str(style), "-o", str(tmp_path / "p.png"), "--method", "adain", "-q",
                 "--decoder", str(content)]) == 2
    assert "is not a decoder" in _err(capsys)


def test_numbers_out_of_reach_are_refused(small_images, tmp_path, capsys):
    content, style = small_images
    wide = tmp_path / "wide.png"
    Image.fromarray(np.zeros((16, 200, 3), np.uint8)).save(wide)
    base = ["stylize", str(content), str(style), str(style), "-o", str(tmp_path / "x.png"), "--method", "adain", "-q"]
    for extra, words in ((["--style-weights", "nan,1"], "finite"), (["--style-weights", "1,,2"], "not a list"),
                         (["--seed", str(2**70)], "not a seed")):
        assert main([*base, *extra]) == 2 and words in _err(capsys), extra
    for method in ("adain", "gatys"):  # 200x16 at --size 64 is 64x5: too thin for the networks
        assert main(["stylize", str(wide), str(style), "-o", str(tmp_path / "x.png"), "--size", "64", "-q",
                     "--method", method, *(["--steps", "1"] if method == "gatys" else [])]) == 2
        assert "short side must be at least" in _err(capsys)
    assert not (tmp_path / "x.png").exists()
    assert main(["serve", "--port", "99999"]) == 2 and "not a port" in _err(capsys)
    (tmp_path / "afile.jpg").write_bytes(b"x")  # (it said "(File exists): pass --data DIR" to one who had: the docs audit)
    assert main(["serve", "--data", str(tmp_path / "afile.jpg"), "--port", "7999"]) == 2
    assert "afile.jpg' is a file, not a folder: give a folder for the studio's files" in _err(capsys)
    import torch

    if not torch.cuda.is_available():
        assert main(["serve", "--device", "cuda", "--data", str(tmp_path / "studio")]) == 2
        assert "no CUDA GPU" in _err(capsys)
    assert main(["gan", "interpolate", "--seeds", "0,1", "--frames", "100000", "-o", str(tmp_path / "w.gif")]) == 2
    assert "more than 3600" in _err(capsys) and not (tmp_path / "w.gif").exists()


def test_a_failed_video_to_frames_leaves_no_folder(small_images, tmp_path, capsys):
    pytest.importorskip("imageio")
    content, style = small_images
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        Image.open(content).save(frames / f"f{i}.png")
    (frames / "f3.png").write_bytes(b"broken")  # the last frame is corrupt
    out = tmp_path / "styled"
    assert main(["video", str(frames), str(style), "-o", str(out), "-q"]) == 2
    capsys.readouterr()
    assert not out.exists() and not list(tmp_path.glob(".styled*"))


def test_a_small_copy_is_too_small_to_tell(small_images, tmp_path, capsys):
    content, _ = small_images  # 96 px: under the 128 px a verdict needs
    assert main(["watermark", "check", str(content)]) == 0
    assert "too small to tell" in capsys.readouterr().out


def test_the_dash_value_hint_only_when_a_value_starts_with_a_dash(small_images, capsys):
    content, style = small_images
    assert main(["stylize", str(content), str(style), "--strength", "-o", "x.png"]) == 2
    err = capsys.readouterr().err
    assert "expected one argument" in err and "=VALUE" not in err  # a missing value: no hint about dashes
    assert main(["stylize", str(content), str(style), "--style-weights", "-1,2", "--style-weights", "3"]) == 2
    assert "--style-weights=VALUE" in capsys.readouterr().err  # the first of a repeated option is the bad one


def test_an_empty_argument_is_refused(tmp_path, capsys, monkeypatch):
    """An empty value (an unset variable in a script: -o "$OUT") is one line: it had silently meant the working
    folder (gan sample -o '', suggest --previews '', reproduce --inputs ''), or nothing (--sheet '')."""
    monkeypatch.chdir(tmp_path)
    for argv, says in ((["gan", "sample", "--seeds", "0", "-o", ""], "the value of -o is empty"),
                       (["palette", "x.png", "--css="], "the value of --css is empty"),
                       (["watermark", "check", ""], "argument 3 is empty")):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert says in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []
    from brushwork.cli import _empty_argument

    assert _empty_argument(["gan", "train", "d", "--diffaugment", ""]) is None  # documented: no augmentation
    assert _empty_argument(["gan", "train", "d", "--diffaugment="]) is None
    assert _empty_argument(["watermark", "check", "p.png", "--key=c2VjcmV0==" ]) is None  # (base64's padding)
    assert _empty_argument(["stylize", "--", "--x="]) is None  # a file's name after --
    assert _empty_argument(["stylize", "--", ""]) == "argument 3"
    assert _empty_argument(["gan", "sample", "-o=", "--seeds", "1"]) == "the value of -o"  # (argparse: -o '')


def test_limits_the_parser_knows_and_messages_that_name_the_mistake(tmp_path, capsys):
    """Limits are checked where the options are read (video --tile 1 was a RuntimeError traceback, --kfold 1 passed
    the parser's 'at least 1' and failed later, a learning rate of 0 trained nothing or named internal fields); an
    image given as a palette is named as one (it was 'not a hex colour')."""
    photo = tmp_path / "p.png"
    Image.new("RGB", (32, 32), (200, 90, 30)).save(photo)
    for argv, says in ((["video", str(photo), str(photo), "-o", str(tmp_path / "v.mp4"), "--tile", "1"],
                        "1 is less than 64"),
                       (["stylize", str(photo), str(photo), "-o", str(tmp_path / "s.png"), "--tile", "32"],
                        "32 is less than 64"),
                       (["classify", "train", str(tmp_path), "--out", str(tmp_path / "r"), "--lr", "0"],
                        "--lr: 0 must be above 0"),
                       (["gan", "train", str(tmp_path), "--out", str(tmp_path / "g"), "--lr-g", "0"],
                        "--lr-g: 0 must be above 0"),
                       (["classify", "eval", "medium", str(tmp_path), "--kfold", "1"], "k-fold needs at least 2 folds"),
                       (["recolor", str(photo), "--palette", str(photo), "-o", str(tmp_path / "r.png")],
                        "is an image, not a palette")):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert says in err and "Traceback" not in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]


def test_an_empty_list_item_is_refused(tmp_path, capsys):
    """'0,,3', '1:1,,4:5', '#f00,,#0f0' (a value left out) were read as if the gap were not there; spaces after
    commas and a trailing comma stay fine."""
    from brushwork.errors import BrushworkError, list_items
    from brushwork.pipelines.gan import parse_seeds

    assert list_items("#f00, #0f0", "x", "e", spaces=True) == ["#f00", "#0f0"]
    assert list_items("#f00 #0f0,", "x", "e", spaces=True) == ["#f00", "#0f0"]
    assert parse_seeds("0-2,5,") == [0, 1, 2, 5] and parse_seeds(",3") == [3]  # (either end: fine, as before)
    with pytest.raises(BrushworkError, match="seeds '0,,3' has an empty item between two commas"):
        parse_seeds("0,,3")
    assert main(["harmony", "--colors", "#ff0000,,#00ff00"]) == 2
    err = capsys.readouterr().err  # (named --palette/--colors, and harmony has no --palette: the docs audit)
    assert "--colors '#ff0000,,#00ff00' has an empty item between two commas" in err and "--palette" not in err
    assert main(["harmony", "--colors", "#ff0000, #00ff00"]) == 0
    photo = tmp_path / "p.png"
    Image.fromarray((np.random.default_rng(0).random((40, 60, 3)) * 255).astype(np.uint8)).save(photo)
    capsys.readouterr()
    assert main(["compose", str(photo), "--ratios", "1:1,,4:5"]) == 2
    assert "--ratios '1:1,,4:5' has an empty item" in capsys.readouterr().err


def test_messages_name_only_the_options_a_command_has(tmp_path, capsys):
    """palette, recolor, compose... said 'raise --max-pixels' (they have none), a misspelt option sent the user to
    `brushwork --help` (which lists no command's options), suggest said 'raise --size', video named --trust-weights
    without having it."""
    from brushwork.errors import ImageError, command_options
    from brushwork.imaging.io import read_image

    pic = tmp_path / "p.png"
    Image.new("RGB", (40, 30), (1, 2, 3)).save(pic)
    said = {}
    for name, options in (("api", None), ("palette", {"-k"}), ("stylize", {"--max-pixels"})):
        with pytest.raises(ImageError) as exc:
            if options is None:
                read_image(pic, max_pixels=100)
            else:
                with command_options(options):
                    read_image(pic, max_pixels=100)
        said[name] = str(exc.value)
    assert said["api"].endswith("downscale it or pass a larger max_pixels")
    assert said["palette"].endswith("downscale it") and said["stylize"].endswith("or raise --max-pixels")
    assert main(["stylize", str(pic), str(pic), "-o", str(tmp_path / "o.png"), "--strenght", "0.7"]) == 2
    assert "(see brushwork stylize --help)" in capsys.readouterr().err
    assert main(["gan", "sample", "x", "-o", str(tmp_path / "s"), "--nearst"]) == 2
    assert "(see brushwork gan sample --help)" in capsys.readouterr().err
    assert main(["video", "x.gif", "y.png", "-o", str(tmp_path / "v.gif"), "--trust-weights", "--weights",
                 str(tmp_path / "none.pth")]) == 2  # (an option of video's now: not 'unrecognized')
    assert "unrecognized" not in capsys.readouterr().err


def test_every_command_that_writes_images_takes_no_gallery():
    """gan eval --nearest and originality --sheet write images recorded in the gallery, but refused --no-gallery
    (docs/provenance.md: 'on every command that writes images')."""
    from brushwork.cli import build_parser

    for argv in (["gan", "eval", "run", "--data", "d", "--nearest", "n.png", "--no-gallery", "--no-metadata"],
                 ["originality", "a.png", "--index", "i.npz", "--sheet", "s.png", "--no-gallery"]):
        assert build_parser(argv[0]).parse_args(argv).no_gallery


def test_the_console_script_answers_ctrl_c_in_its_imports_and_while_exiting(monkeypatch, capsys):
    """A Ctrl-C while the CLI's modules load, or a second one while the first is answered, printed a traceback:
    the console script answers in one line (once), exits 130 and ignores further Ctrl-C on its way out."""
    import signal
    import types

    from brushwork import console

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    handler = signal.getsignal(signal.SIGINT)
    try:
        loading = types.ModuleType("brushwork.cli")

        def half_imported(name):  # ``from .cli import main`` stopped by a Ctrl-C
            if name == "main":
                raise KeyboardInterrupt
            raise AttributeError(name)

        loading.__getattr__ = half_imported
        monkeypatch.setitem(sys.modules, "brushwork.cli", loading)
        assert console.run() == 130
        assert capsys.readouterr().err == "brushwork: interrupted\n"
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        signal.signal(signal.SIGINT, handler)
        answering = types.ModuleType("brushwork.cli")

        def said_then_interrupted():
            answering.interrupt_said = True
            raise KeyboardInterrupt

        answering.main = said_then_interrupted  # a second Ctrl-C while main() answered the first (it said so)
        monkeypatch.setitem(sys.modules, "brushwork.cli", answering)
        assert console.run() == 130 and capsys.readouterr().err == ""
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        signal.signal(signal.SIGINT, handler)
        answering.interrupt_said, answering.main = False, interrupted  # a first Ctrl-C before main() answers any
        assert console.run() == 130 and capsys.readouterr().err == "brushwork: interrupted\n"
    finally:
        signal.signal(signal.SIGINT, handler)


def test_names_near_the_file_system_limit_skip_one_file_not_the_whole_run(small_images, random_decoder_dir, tmp_path,
                                                                           capsys, monkeypatch):
    """A photo named near the 255-byte limit: a folder run whose output name (NAME__STYLE.png, NAME.png.json)
    would pass it skips that photo with a note (it stopped the whole run, every rerun too); a picture saved
    under such a name needs no room for a recipe file it does not write, and one that does is refused in one
    line; a gallery export cuts the name short."""
    monkeypatch.setenv("BRUSHWORK_GALLERY", str(tmp_path / "g.db"))
    content, style = small_images
    src = tmp_path / "photos"
    src.mkdir()
    long_stem = "y" * 247
    Image.open(content).save(src / "short.png")
    Image.open(content).save(src / f"{long_stem}.png")  # 251 bytes: fits, but not with "__style" or ".json"
    assert main(["palette", str(src), "--out", str(tmp_path / "pal"), "-q"]) == 0
    io = capsys.readouterr()
    assert "1 written, 0 already done, 1 failed" in io.out and "would pass the 255 bytes" in io.err
    assert main(["stylize", str(src), str(style), str(content), "-o", str(tmp_path / "each"), "--method", "adain",
                 "--decoder", str(random_decoder_dir), "--size", "32", "--each-style", "-q"]) == 0
    io = capsys.readouterr()
    assert "2 written" in io.out and "2 skipped" in io.out and "rename the photo or the style" in io.err
    argv = ["stylize", str(src), str(style), "-o", str(tmp_path / "plain"), "--method", "adain", "--decoder",
            str(random_decoder_dir), "--size", "32", "-q"]
    assert main(argv) == 0 and (tmp_path / "plain" / f"{long_stem}.png").is_file()  # no recipe file beside it
    assert "2 written" in capsys.readouterr().out
    bare = [*argv, "-o", str(tmp_path / "bare"), "--no-metadata"]  # no recipe: its recipe file's name is looked at
    assert main(bare) == 0 and "2 written" in capsys.readouterr().out
    assert main(bare) == 0 and "0 written, 2 already done" in capsys.readouterr().out  # (redone every time)
    assert main(["inspect", str(tmp_path / "bare" / f"{long_stem}.png")]) == 2
    assert "carries no brushwork recipe" in capsys.readouterr().err  # (not "not an image brushwork can read")
    assert main([*argv, "-o", str(tmp_path / "side"), "--sidecar"]) == 0
    assert "1 written" in capsys.readouterr().out and not (tmp_path / "side" / f"{long_stem}.png").exists()
    one = tmp_path / "one" / f"{long_stem}.bmp"  # BMP keeps its recipe beside it: no room for its name
    one.parent.mkdir()
    assert main(["stylize", str(content), str(style), "-o", str(one), "--method", "adain", "--decoder",
                 str(random_decoder_dir), "--size", "32", "-q"]) == 2
    err = capsys.readouterr().err
    assert "too long for its recipe file" in err and err.count("\n") == 1 and not list(one.parent.iterdir())
    assert main(["gallery", "export", "1-100", "-o", str(tmp_path / "exported")]) == 0
    names = [p.name for p in (tmp_path / "exported").iterdir()]
    assert all(len(n.encode()) <= 255 for n in names) and any(n.startswith("0") and "yyyy" in n for n in names)


def test_messages_name_options_as_the_reader_typed_them():
    """The command line says --init-match colors; Python, and the studio that `brushwork serve` runs (its requests
    handled within serve's own options), say init_match='colors'."""
    from brushwork.errors import command_options, flag

    assert flag("--init-match", "colors") == "init_match='colors'" and flag("-k") == "k"
    with command_options(["--init-match"]):
        assert flag("--init-match", "colors") == "--init-match colors"
        with command_options(None):
            assert flag("--init-match", "colors") == "init_match='colors'"


def test_the_pixel_limit_is_on_what_is_decoded_and_recolor_can_raise_it(tmp_path, capsys):
    """(scale audit) palette, harmony and compose read a JPEG at up to 1/8 scale, yet refused a 102 MP camera JPEG by
    its full size, with no way past it; recolor (full size) had no --max-pixels."""
    from brushwork.errors import ImageError
    from brushwork.imaging.io import read_image

    a = (np.random.default_rng(0).random((300, 400, 3)) * 255).astype(np.uint8)
    Image.fromarray(a).save(tmp_path / "a.jpg")
    Image.fromarray(a).save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.jpg", max_pixels=50_000, draft=64).rgb.shape == (75, 100, 3)  # (1/4 scale)
    for f, draft in ((tmp_path / "a.png", 64), (tmp_path / "a.jpg", None), (tmp_path / "a.jpg", 300)):
        with pytest.raises(ImageError, match="400x300 = 120,000 pixels, more than the limit of 50,000"):
            read_image(f, max_pixels=50_000, draft=draft)
    out = tmp_path / "r.png"
    assert main(["recolor", str(tmp_path / "a.png"), "--palette", "#ff0000,#0000ff", "-o", str(out),
                 "--max-pixels", "100000"]) == 2
    assert "or raise --max-pixels" in capsys.readouterr().err and not out.exists()
    assert main(["recolor", str(tmp_path / "a.png"), "--palette", "#ff0000,#0000ff", "-o", str(out),
                 "--max-pixels", "200000"]) == 0


def test_no_metadata_and_sidecar_together_are_refused(tmp_path, capsys):
    """(docs audit) --no-metadata --sidecar wrote no sidecar and said nothing: the two contradict each other."""
    photo = tmp_path / "p.png"
    Image.fromarray((np.random.default_rng(0).random((30, 40, 3)) * 255).astype(np.uint8)).save(photo)
    for argv in (["recolor", str(photo), "--palette", "#1e90ff,#ff8c1e", "-o", str(tmp_path / "r.png")],
                 ["palette", str(photo), "-k", "3", "--swatch", str(tmp_path / "sw.png")]):
        assert main([*argv, "--no-metadata", "--sidecar"]) == 2
        err = capsys.readouterr().err
        assert "--sidecar writes the recipe beside the output and --no-metadata writes no recipe" in err
        assert err.count("\n") == 1 and not list(tmp_path.glob("r.png*")) and not list(tmp_path.glob("sw.png*"))
