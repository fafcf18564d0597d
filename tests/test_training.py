"""The training engine and the AdaIN recipe on tiny models and synthetic images."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork.cli import main
from brushwork.errors import BrushworkError
from brushwork.models.adain import AdaINNet, Decoder, DecoderConfig
from brushwork.training.adain import AdaINTrainConfig, train_adain
from brushwork.training.engine import load_model_state

TINY = DecoderConfig(tap="block3.expand", in_channels=144, widths=(16, 8, 8))  # stride 4


def test_decoder_shapes_and_config_round_trip():
    d = Decoder(TINY)
    assert d.stride == 4
    assert d(torch.rand(2, 144, 8, 12)).shape == (2, 3, 32, 48)
    assert DecoderConfig.from_dict(TINY.to_dict()) == TINY
    assert sum(p.numel() for p in Decoder().parameters()) < 5_000_000


def test_tiny_training_lowers_the_loss_and_saves(tmp_path, lite0):
    cfg = AdaINTrainConfig(size=32, batch=4, steps=40, lr=3e-3, sample_every=20)
    tr = train_adain([], [], str(tmp_path), config=cfg, decoder_config=TINY, dry_run=True, progress=False)
    losses = [h["loss"] for h in tr.history]
    assert np.mean(losses[-8:]) < 0.8 * np.mean(losses[:8])
    assert (tmp_path / "samples" / "step_000020.png").exists()
    weights, config = load_model_state(tmp_path / "checkpoint")
    dec = Decoder(DecoderConfig.from_dict(config["decoder"]))
    dec.load_state_dict(weights)
    net = AdaINNet(lite0, dec.eval())
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(net(x, x.flip(-1), alpha=0.0), dec(net.features(x)).clamp(0, 1))
        torch.testing.assert_close(dec(net.features(x)), tr.model(net.features(x)))


def test_resume_continues_from_the_checkpoint(tmp_path):
    kw = dict(decoder_config=TINY, dry_run=True, progress=False)
    first = train_adain([], [], str(tmp_path), config=AdaINTrainConfig(size=32, batch=2, steps=3), **kw)
    w3 = {k: v.clone() for k, v in first.model.state_dict().items()}
    again = train_adain([], [], str(tmp_path), config=AdaINTrainConfig(size=32, batch=2, steps=5), **kw)
    assert again.step == 5 and len(again.history) == 2
    assert any(not torch.equal(w3[k], v) for k, v in again.model.state_dict().items())
    lines = (tmp_path / "log.csv").read_text().strip().splitlines()
    assert lines[0].startswith("step,loss") and lines[-1].startswith("5,")


def test_a_batch_the_cpu_cannot_hold_is_refused_before_training(tmp_path, capsys, monkeypatch):
    """`--batch 100000` grew until the system stopped the process without a word: refused at once, naming the batch
    that fits, and nothing written."""
    import brushwork.runtime as runtime

    monkeypatch.setattr(runtime, "available_memory", lambda: 2 * 2**30)  # 2 GiB free
    assert main(["adain", "train", "--out", str(tmp_path / "o"), "--dry-run", "--steps", "2", "--size", "192",
                 "--batch", "100"]) == 2
    err = capsys.readouterr().err
    assert "--batch 100 of 192 px crops needs about 6.9 GiB" in err and "use --batch 29 or less" in err
    assert not (tmp_path / "o").exists()
    assert main(["adain", "train", "--out", str(tmp_path / "o"), "--dry-run", "--steps", "1", "--size", "32",
                 "--batch", "2", "-q"]) == 0  # a batch that fits runs


def test_cli_dry_run_and_missing_data(tmp_path, capsys, monkeypatch):
    assert main(["adain", "train", "--out", str(tmp_path / "o"), "--dry-run", "--steps", "2", "--size", "32",
                 "--batch", "2", "-q"]) == 0
    assert "trained to step 2" in capsys.readouterr().out
    assert main(["adain", "train", "--out", str(tmp_path / "o"), "--dry-run", "--steps", "2", "--size", "32",
                 "--batch", "2", "-q"]) == 0  # run again: finished, not "loss nan"
    again = capsys.readouterr().out
    assert "already at step 2, nothing to do" in again and "nan" not in again
    (tmp_path / "art").mkdir()
    assert main(["adain", "train", "--out", str(tmp_path / "o2"), "--content", str(tmp_path / "nothing"),
                 "--style", str(tmp_path / "art")]) == 2
    assert "neither a folder nor a dataset" in capsys.readouterr().err
    # an --out inside a data folder: its sample grids would be read back as styles
    assert main(["adain", "train", "--out", str(tmp_path / "art" / "run"), "--content", str(tmp_path / "art"),
                 "--style", str(tmp_path / "art")]) == 2
    assert "inside the data folder" in capsys.readouterr().err
    monkeypatch.setenv("BRUSHWORK_DATA", str(tmp_path / "data"))  # a collection by name: inside where it is fetched
    assert main(["adain", "train", "--out", str(tmp_path / "data" / "wesnoth-art" / "images" / "run"),
                 "--content", str(tmp_path / "art"), "--style", "wesnoth-art"]) == 2
    assert "inside the data folder 'wesnoth-art'" in capsys.readouterr().err


def test_decoder_config_for_a_tap_and_the_default():
    assert DecoderConfig.for_tap("efficientnet-lite0", "block5.expand", 240, 8) == DecoderConfig()
    assert DecoderConfig.for_tap("e", "t", 480, 16).widths == (128, 64, 32, 16, 16)
    with pytest.raises(ValueError, match="power of two"):
        DecoderConfig.for_tap("e", "t", 8, 12)


def test_image_pool_composites_transparency_over_white_and_skips_small(tmp_path):
    from PIL import Image

    from brushwork.training.adain import ImagePool

    rgba = np.zeros((64, 80, 4), np.uint8)  # transparent black (one pixel faintly there: a fully transparent
    rgba[0, 0, 3] = 1  # picture is skipped, see below)
    Image.fromarray(rgba).save(tmp_path / "clear.png")
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(tmp_path / "small.png")
    pool = ImagePool([tmp_path / "clear.png", tmp_path / "small.png"], max_side=80, min_side=32)
    assert len(pool.images) == 1 and pool.skipped == [str(tmp_path / "small.png")]
    crops = pool.crops(3, 32, torch.Generator().manual_seed(0))
    assert crops.shape == (3, 3, 32, 32) and float(crops.min()) > 0.999  # white, up to resampling


def test_time_limit_and_init_from_a_decoder(tmp_path):
    kw = dict(decoder_config=TINY, dry_run=True, progress=False)
    first = train_adain([], [], str(tmp_path / "a"), config=AdaINTrainConfig(size=32, batch=2, steps=2), **kw)
    limited = train_adain([], [], str(tmp_path / "b"), config=AdaINTrainConfig(size=32, batch=2, steps=10_000),
                          time_limit=0.0, init=str(tmp_path / "a" / "checkpoint"), **kw)
    assert limited.step == 1  # stops after the first step once the limit is spent, with a checkpoint
    assert (tmp_path / "b" / "checkpoint" / "model.safetensors").is_file()
    assert (tmp_path / "b" / "samples" / "step_000001.png").is_file()  # the final grid
    with pytest.raises(BrushworkError, match="pick a matching decoder"):
        train_adain([], [], str(tmp_path / "c"), config=AdaINTrainConfig(size=32, batch=2, steps=1),
                    init="", **kw)  # the shipped decoder is not TINY
    del first


def test_cli_tap_and_widths_are_checked(tmp_path, capsys):
    base = ["adain", "train", "--out", str(tmp_path / "o"), "--dry-run", "--steps", "1", "--size", "32", "--batch", "2"]
    assert main([*base, "--tap", "nope"]) == 2
    assert "unknown --tap 'nope'" in capsys.readouterr().err
    assert main([*base, "--widths", "8,8"]) == 2
    assert "--widths needs 4 numbers" in capsys.readouterr().err
    assert main([*base, "--widths", "a,b"]) == 2
    assert "comma-separated list of positive integers" in capsys.readouterr().err
    assert main([*base, "--tap", "block3.expand", "--widths", "8,8,8", "-q"]) == 0
    _, config = load_model_state(tmp_path / "o" / "checkpoint")
    assert config["decoder"]["widths"] == [8, 8, 8] and config["decoder"]["in_channels"] == 144


def test_gram_term_is_logged_and_its_gradient_reaches_the_decoder(tmp_path):
    kw = dict(decoder_config=TINY, dry_run=True, progress=False)
    plain = train_adain([], [], str(tmp_path / "p"), config=AdaINTrainConfig(size=32, batch=2, steps=2), **kw)
    gram = train_adain([], [], str(tmp_path / "g"), config=AdaINTrainConfig(size=32, batch=2, steps=2, gram_weight=5.0), **kw)
    assert "gram" not in plain.history[0] and gram.history[0]["gram"] > 0
    # same seed, same first batch: the first loss differs by exactly the weighted Gram term
    first_p, first_g = plain.history[0], gram.history[0]
    assert first_g["loss"] == pytest.approx(first_p["loss"] + 5.0 * first_g["gram"], rel=1e-4)
    assert any(not torch.equal(a, b) for a, b in zip(plain.model.state_dict().values(), gram.model.state_dict().values()))


def test_gradient_accumulation_matches_one_larger_batch(tmp_path):
    from brushwork.training.engine import Trainer, TrainerConfig

    def data(batch):
        g = torch.Generator().manual_seed(3)
        w = torch.randn(5, 1, generator=g)
        while True:
            x = torch.randn(8, 5, generator=g)
            if batch == 8:
                yield x, x @ w
            else:  # the same 8 examples as two batches of 4
                yield x[:4], x[:4] @ w
                yield x[4:], x[4:] @ w

    weights = []
    for batch, acc in ((8, 1), (4, 2)):
        torch.manual_seed(0)
        model = torch.nn.Linear(5, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        step = lambda b, m=model: (torch.nn.functional.mse_loss(m(b[0]), b[1]), {})  # noqa: E731
        t = Trainer(model, {}, opt, step, data(batch), TrainerConfig(out_dir=str(tmp_path / f"{batch}"), steps=5,
                                                                    progress=False, accumulate=acc, grad_clip=None))
        t.fit()
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.allclose(weights[0], weights[1], atol=1e-6), (weights[0] - weights[1]).abs().max()
    assert float((weights[0] - torch.cat([p.detach().flatten() for p in torch.nn.Linear(5, 1).parameters()])).abs().max()) > 1e-3


def test_tensorboard_logging_is_optional(tmp_path, monkeypatch):
    from brushwork.errors import BrushworkError
    from brushwork.training import engine

    scalars = []

    class FakeWriter:
        def __init__(self, folder):
            self.folder = folder

        def add_scalar(self, k, v, step):
            scalars.append((k, step))

        def close(self):
            scalars.append(("closed", -1))

    monkeypatch.setattr(engine, "_summary_writer", lambda folder: FakeWriter(folder))
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def batches():
        while True:
            x = torch.randn(4, 2)
            yield x, x.sum(1, keepdim=True)

    t = engine.Trainer(model, {}, opt, lambda b: (torch.nn.functional.mse_loss(model(b[0]), b[1]), {"extra": 1.0}),
                       batches(), engine.TrainerConfig(out_dir=str(tmp_path), steps=4, log_every=2, progress=False,
                                                       tensorboard=True))
    t.fit()
    assert ("loss", 2) in scalars and ("extra", 4) in scalars and scalars[-1] == ("closed", -1)
    with pytest.raises(BrushworkError, match="accumulate"):
        engine.Trainer(model, {}, opt, None, batches(), engine.TrainerConfig(out_dir=str(tmp_path), steps=1,
                                                                            accumulate=0))


DEEP = DecoderConfig(in_channels=240 + 480, deep_taps=("block8.expand",))  # block5.expand (stride 8) + stride 16


def test_deep_taps_config_round_trip_and_one_tap_config_unchanged():
    assert DecoderConfig.from_dict(DEEP.to_dict()) == DEEP
    assert DEEP.taps == ("block5.expand", "block8.expand")
    assert "deep_taps" not in DecoderConfig().to_dict()  # older brushwork still reads a one-tap config


def test_deep_taps_start_from_a_one_tap_decoder_unchanged(tmp_path, lite0, random_decoder_dir):
    from brushwork.models.adain import decoder_features
    from brushwork.training.adain import _widened_state
    from brushwork.weights import load_decoder

    one = load_decoder(random_decoder_dir).eval()
    deep = Decoder(DEEP)
    deep.load_state_dict(_widened_state(one, deep))
    net = AdaINNet(lite0, deep.eval())
    assert net.align == 16
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        f = decoder_features(lite0, x, DEEP)
        assert f.shape == (1, 720, 8, 12)
        # nearest upsampling keeps each deep channel's mean and std (what AdaIN reads)
        d = lite0(x, ["block8.expand"])["block8.expand"]
        torch.testing.assert_close(f[:, 240:].mean(dim=(2, 3)), d.mean(dim=(2, 3)))
        torch.testing.assert_close(deep(f), one(f[:, :240]))
    # the recipe does the same with --init: the first steps start from the one-tap decoder's output
    cfg = AdaINTrainConfig(size=32, batch=2, steps=1, lr=1e-12)
    tr = train_adain([], [], str(tmp_path), config=cfg, decoder_config=DEEP, dry_run=True, progress=False,
                     init=str(random_decoder_dir))
    with torch.no_grad():
        torch.testing.assert_close(tr.model(f), one(f[:, :240]), atol=1e-4, rtol=0)


def test_cli_checks_deep_and_gram_taps(tmp_path, capsys):
    base = ["adain", "train", "--out", str(tmp_path / "o"), "--dry-run", "--steps", "1", "--size", "32", "--batch", "2", "-q"]
    assert main([*base, "--deep-taps", "block3.expand"]) == 2
    assert "not deeper than --tap" in capsys.readouterr().err
    assert main([*base, "--gram-weight", "1", "--gram-taps", "stage9"]) == 2
    assert "unknown --gram-taps 'stage9'" in capsys.readouterr().err
    assert main([*base, "--gram-taps", "stage5"]) == 2
    assert "needs a --gram-weight" in capsys.readouterr().err
    assert main([*base, "--deep-taps", "block8.expand,block8.expand"]) == 2
    assert "names a layer twice" in capsys.readouterr().err
    assert main([*base, "--deep-taps", "block8.expand", "--gram-weight", "1", "--gram-taps", "stage4,stage5"]) == 0
    cfg = load_model_state(tmp_path / "o" / "checkpoint")[1]
    assert cfg["decoder"]["deep_taps"] == ["block8.expand"] and cfg["train"]["gram_taps"] == ["stage4", "stage5"]


def test_resume_refuses_other_settings_and_misaligned_crops(tmp_path):
    kw = dict(dry_run=True, progress=False)
    train_adain([], [], str(tmp_path), config=AdaINTrainConfig(size=32, batch=2, steps=1), decoder_config=TINY, **kw)
    with pytest.raises(BrushworkError, match=r"other settings \(gram_weight\)"):
        train_adain([], [], str(tmp_path), config=AdaINTrainConfig(size=32, batch=2, steps=2, gram_weight=1.0),
                    decoder_config=TINY, **kw)
    with pytest.raises(BrushworkError, match="taps or widths"):
        train_adain([], [], str(tmp_path), config=AdaINTrainConfig(size=32, batch=2, steps=2),
                    decoder_config=DecoderConfig(tap="block3.expand", in_channels=144, widths=(16, 16, 8)), **kw)
    with pytest.raises(BrushworkError, match=r"other settings \(accumulate\)"):  # a step's crops depend on it
        train_adain([], [], str(tmp_path), config=AdaINTrainConfig(size=32, batch=2, steps=2), decoder_config=TINY,
                    accumulate=2, **kw)
    # a run saved with --accumulate 2 before config.json recorded it: the trainer's state says 2
    import json

    two = tmp_path / "two"
    train_adain([], [], str(two), config=AdaINTrainConfig(size=32, batch=2, steps=1), decoder_config=TINY,
                accumulate=2, **kw)
    saved = two / "checkpoint" / "config.json"
    raw = json.loads(saved.read_text())
    assert raw["train"].pop("accumulate") == 2
    saved.write_text(json.dumps(raw))
    with pytest.raises(BrushworkError, match=r"other settings \(accumulate\)"):
        train_adain([], [], str(two), config=AdaINTrainConfig(size=32, batch=2, steps=2), decoder_config=TINY, **kw)
    assert train_adain([], [], str(two), config=AdaINTrainConfig(size=32, batch=2, steps=2), decoder_config=TINY,
                       accumulate=2, **kw).step == 2
    assert "accumulate" not in json.loads((tmp_path / "checkpoint" / "config.json").read_text())["train"]  # 1: unwritten
    tr = train_adain([], [], str(tmp_path), config=AdaINTrainConfig(size=32, batch=2, steps=2, sample_every=7),
                     decoder_config=TINY, **kw)
    assert tr.step == 2  # more steps (and another sample interval) continue the run
    with pytest.raises(BrushworkError, match="use a multiple of 16"):
        train_adain([], [], str(tmp_path / "deep"), config=AdaINTrainConfig(size=40, batch=2, steps=1),
                    decoder_config=DEEP, **kw)
    # a smoke test's weights never pass for a real run's: its data is recorded as synthetic, and checked
    assert json.loads((tmp_path / "checkpoint" / "config.json").read_text())["data"]["dry_run"] is True
    assert json.loads((tmp_path / "checkpoint" / "config.json").read_text())["precision"] == "fp32"  # the recipe's
    (tmp_path / "photos").mkdir()
    with pytest.raises(BrushworkError, match=r"synthetic crops \(--dry-run\), not --content"):
        train_adain([str(tmp_path / "photos")], [str(tmp_path / "photos")], str(tmp_path),
                    config=AdaINTrainConfig(size=32, batch=2, steps=3), decoder_config=TINY, progress=False)


def test_a_resumed_run_keeps_where_it_started_and_a_new_one_its_own_samples(tmp_path):
    import json

    from brushwork.models.adain import DecoderConfig as DC
    from brushwork.weights import load_decoder

    kw = dict(dry_run=True, progress=False)
    cfg = load_decoder().config  # the shipped decoder's architecture, so that --init shipped fits
    assert isinstance(cfg, DC)
    train_adain([], [], str(tmp_path), config=AdaINTrainConfig(size=64, batch=2, steps=2, sample_every=1),
                decoder_config=cfg, init="", **kw)
    saved = lambda: json.loads((tmp_path / "checkpoint" / "config.json").read_text())  # noqa: E731
    assert saved()["init"] == "shipped"
    train_adain([], [], str(tmp_path), config=AdaINTrainConfig(size=64, batch=2, steps=3, sample_every=1),
                decoder_config=cfg, **kw)  # resumed without --init: the weights still started from the shipped ones
    assert saved()["init"] == "shipped"
    assert len(list((tmp_path / "samples").glob("step_*.png"))) == 3
    train_adain([], [], str(tmp_path), config=AdaINTrainConfig(size=64, batch=2, steps=1, sample_every=1),
                decoder_config=cfg, resume=False, **kw)  # --no-resume: the old run's grids go
    assert sorted(p.name for p in (tmp_path / "samples").glob("step_*.png")) == ["step_000001.png"]
    assert saved()["init"] is None


def test_deep_tap_style_statistics_are_exact_for_any_size(lite0):
    from brushwork.functional import mean_std

    torch.manual_seed(2)
    net = AdaINNet(lite0, Decoder(DEEP).eval())
    style = torch.rand(1, 3, 72, 100)  # not a multiple of 16: the grids do not nest
    mean, std = net.stats(style)
    f = lite0(style, ["block5.expand", "block8.expand"])
    torch.testing.assert_close(mean[:, 240:], mean_std(f["block8.expand"])[0])
    torch.testing.assert_close(std[:, :240], mean_std(f["block5.expand"])[1])
    aligned = torch.rand(1, 3, 64, 96)
    torch.testing.assert_close(net.stats(aligned)[1], mean_std(net.features(aligned))[1])


def test_wct_training_learns_its_own_target_and_resume_keeps_it(tmp_path, monkeypatch):
    import brushwork.training.adain as recipe

    calls = []
    monkeypatch.setattr(recipe, "wct", lambda c, s: calls.append(c.shape) or recipe.adain(c, s) * 0 + c)  # spy
    cfg = AdaINTrainConfig(size=32, batch=2, steps=2, sample_every=0, transform="wct")
    train_adain([], [], str(tmp_path / "spy"), config=cfg, decoder_config=TINY, dry_run=True, progress=False)
    assert calls and calls[0] == (2, 144, 8, 8)  # the target came from WCT, per batch of crops
    monkeypatch.undo()
    cfg = AdaINTrainConfig(size=32, batch=4, steps=30, lr=3e-3, sample_every=0, transform="wct")
    tr = train_adain([], [], str(tmp_path / "w"), config=cfg, decoder_config=TINY, dry_run=True, progress=False)
    losses = [h["loss"] for h in tr.history]
    assert np.mean(losses[-6:]) < 0.8 * np.mean(losses[:6])
    with pytest.raises(BrushworkError, match=r"other settings \(transform\)"):
        train_adain([], [], str(tmp_path / "w"), config=AdaINTrainConfig(size=32, batch=4, steps=31, lr=3e-3,
                    sample_every=0), decoder_config=TINY, dry_run=True, progress=False)
    deep = DecoderConfig(in_channels=240 + 480, deep_taps=("block8.expand",))
    with pytest.raises(BrushworkError, match="one-tap decoders only"):
        train_adain([], [], str(tmp_path / "d"), config=cfg, decoder_config=deep, dry_run=True, progress=False)


def test_runs_from_before_transform_existed_resume_as_adain(tmp_path):
    import json

    kw = dict(decoder_config=TINY, dry_run=True, progress=False)
    train_adain([], [], str(tmp_path), config=AdaINTrainConfig(size=32, batch=2, steps=2, sample_every=0), **kw)
    conf = tmp_path / "checkpoint" / "config.json"
    saved = json.loads(conf.read_text())
    assert "transform" not in saved["train"]  # written as before --transform existed: older brushwork resumes it
    again = train_adain([], [], str(tmp_path), config=AdaINTrainConfig(size=32, batch=2, steps=3, sample_every=0), **kw)
    assert again.step == 3


def test_resumed_ranks_draw_apart(tmp_path, monkeypatch):
    """The checkpoint keeps rank 0's random stream; on resume rank 0 continues it exactly and every other
    rank derives its own from it (deterministically), so dropout masks do not repeat rank 0's."""
    from brushwork import distributed
    from brushwork.training.engine import Trainer, TrainerConfig

    def run(rank):
        monkeypatch.setattr(distributed, "info", lambda: distributed.DistInfo(rank=rank, world_size=2))
        model = torch.nn.Linear(2, 1)
        t = Trainer(model, {}, torch.optim.SGD(model.parameters(), lr=0.1), lambda b: (model(b).sum(), {}),
                    iter(lambda: torch.ones(1, 2), None), TrainerConfig(out_dir=str(tmp_path), steps=1, progress=False))
        assert t.resume()
        return torch.rand(4)

    model = torch.nn.Linear(2, 1)
    torch.manual_seed(5)
    Trainer(model, {}, torch.optim.SGD(model.parameters(), lr=0.1), lambda b: (model(b).sum(), {}),
            iter(lambda: torch.ones(1, 2), None), TrainerConfig(out_dir=str(tmp_path), steps=1, progress=False)).fit()
    state = torch.load(tmp_path / "checkpoint" / "trainer_state.pt", weights_only=False)
    torch.set_rng_state(state["rng"])
    expected = torch.rand(4)
    torch.testing.assert_close(run(0), expected)  # rank 0: the saved stream, exactly
    one, again = run(1), run(1)
    assert not torch.allclose(one, expected) and torch.equal(one, again)  # apart, and reproducible


def test_runs_never_restart_silently_and_logs_follow_the_checkpoint(tmp_path, monkeypatch):
    """A checkpoint without its trainer state is refused (not restarted from random weights); --init or another
    precision does not silently join a run; a new run over an old one removes the old checkpoint before it trains;
    log rows written after the checkpoint go on resume; a run with nothing to do leaves its config as it was;
    a bad setting leaves the old run's grids; the last step before a stop is logged."""
    import json
    import shutil

    kw = dict(decoder_config=TINY, dry_run=True, progress=False)
    cfg = lambda steps, **k: AdaINTrainConfig(size=32, batch=2, steps=steps, sample_every=2, **k)  # noqa: E731
    train_adain([], [], str(tmp_path / "r"), config=cfg(4), **kw)
    ns = tmp_path / "ns"
    shutil.copytree(tmp_path / "r", ns)
    (ns / "checkpoint" / "trainer_state.pt").unlink()
    with pytest.raises(BrushworkError, match="no trainer_state.pt"):
        train_adain([], [], str(ns), config=cfg(6), **kw)
    with pytest.raises(BrushworkError, match="--init starts a new one"):
        train_adain([], [], str(tmp_path / "r"), config=cfg(6), init=str(tmp_path / "r"), **kw)
    with pytest.raises(BrushworkError, match=r"other settings \(precision\)"):
        train_adain([], [], str(tmp_path / "r"), config=cfg(6), precision="bf16", **kw)
    # nothing to do: config.json is the run's, not the rerun's
    before = (tmp_path / "r" / "checkpoint" / "config.json").read_text()
    assert train_adain([], [], str(tmp_path / "r"), config=cfg(2), **kw).step == 4
    assert (tmp_path / "r" / "checkpoint" / "config.json").read_text() == before
    # a bad setting with --no-resume: refused before the old grids go
    with pytest.raises(BrushworkError, match="--size 34"):
        train_adain([], [], str(tmp_path / "r"), config=AdaINTrainConfig(size=34, batch=2, steps=2), resume=False,
                    **kw)
    assert len(list((tmp_path / "r" / "samples").glob("step_*.png"))) == 2
    # rows logged after the checkpoint (a run killed since) are dropped on resume
    log = tmp_path / "r" / "log.csv"
    rows = log.read_text().splitlines()
    log.write_text("\n".join([*rows, rows[-1].replace("4,", "5,", 1), rows[-1].replace("4,", "6,", 1)]) + "\n")
    train_adain([], [], str(tmp_path / "r"), config=cfg(5), **kw)
    steps = [int(line.split(",")[0]) for line in log.read_text().splitlines()[1:]]
    assert steps == sorted(steps) and steps[-1] == 5 and len(steps) == len(set(steps))
    # a new run over an old one: the old checkpoint is gone as it starts (a kill cannot leave it resumable)
    seen = {}
    from brushwork.training import engine

    real = engine.Trainer._accumulated_backward

    def spy(self, c):
        seen.setdefault("old checkpoint", (self.out / "checkpoint").exists())
        return real(self, c)

    monkeypatch.setattr(engine.Trainer, "_accumulated_backward", spy)
    train_adain([], [], str(tmp_path / "r"), config=cfg(3), resume=False, **kw)
    assert seen == {"old checkpoint": False}
    # stopped by the time limit between log rows: its last step is logged
    t = train_adain([], [], str(tmp_path / "t"), config=cfg(100), time_limit=0.0, **kw)
    assert log.read_text() and (tmp_path / "t" / "log.csv").read_text().splitlines()[-1].startswith(f"{t.step},")
    assert json.loads((tmp_path / "t" / "checkpoint" / "config.json").read_text())["train"]["steps"] == 100


def test_image_pool_reads_photos_upright_and_says_why_none_is_usable(tmp_path):
    from PIL import Image

    from brushwork.training.adain import ImagePool

    im = Image.new("RGB", (48, 32), (200, 0, 0))
    exif = im.getexif()
    exif[0x0112] = 6  # stored sideways: shown turned 90 degrees, 32 x 48
    im.save(tmp_path / "phone.jpg", exif=exif)
    pool = ImagePool([tmp_path / "phone.jpg"], max_side=64, min_side=16)
    assert tuple(pool.images[0].shape) == (3, 48, 32)
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "phone.jpg").read_bytes()[:200])
    with pytest.raises(BrushworkError, match=r"no usable style images among 2 files \(1 unreadable, 1 with a short side"):
        ImagePool([tmp_path / "phone.jpg", tmp_path / "cut.jpg"], max_side=64, min_side=40, what="style images")
    # (docs audit) a wide photo held at --max-side kept too short a side for the crops, and was refused as too small:
    # its short side is kept at the crops' size; a picture that is itself too small is still refused
    Image.new("RGB", (640, 360), (0, 90, 200)).save(tmp_path / "wide.png")
    pool = ImagePool([tmp_path / "wide.png"], max_side=256, min_side=192)
    assert tuple(pool.images[0].shape) == (3, 192, 341)
    assert tuple(ImagePool([tmp_path / "wide.png"], max_side=320, min_side=160).images[0].shape) == (3, 180, 320)


def test_resume_with_the_runs_own_init_and_an_older_runs_precision(tmp_path, monkeypatch):
    """The command that started a run from --init resumes it (the same --init, however spelled); a run saved before
    config.json recorded its precision resumes in the precision its trainer state names."""
    import json

    kw = dict(decoder_config=TINY, dry_run=True, progress=False)
    train_adain([], [], str(tmp_path / "a"), config=AdaINTrainConfig(size=32, batch=2, steps=1), **kw)
    first = train_adain([], [], str(tmp_path / "b"), config=AdaINTrainConfig(size=32, batch=2, steps=100),
                        init=str(tmp_path / "a"), time_limit=0.0, **kw)
    assert first.step == 1
    monkeypatch.chdir(tmp_path)  # the same --init, spelled from elsewhere: the run's own command, resumed
    again = train_adain([], [], str(tmp_path / "b"), config=AdaINTrainConfig(size=32, batch=2, steps=3), init="a/",
                        **kw)
    assert again.step == 3
    cfg = tmp_path / "b" / "checkpoint" / "config.json"
    raw = json.loads(cfg.read_text())
    assert raw["init"] == str(tmp_path / "a")
    raw.pop("precision")  # as 0.2.2 wrote it; the trainer state says fp32
    cfg.write_text(json.dumps(raw))
    with pytest.raises(BrushworkError, match=r"other settings \(precision\)"):
        train_adain([], [], str(tmp_path / "b"), config=AdaINTrainConfig(size=32, batch=2, steps=4),
                    precision="bf16", **kw)
    assert train_adain([], [], str(tmp_path / "b"), config=AdaINTrainConfig(size=32, batch=2, steps=4), **kw).step == 4


def test_a_run_killed_between_the_checkpoints_files_resumes_as_an_unbroken_one(tmp_path, monkeypatch):
    """The trainer state carries its step's weights and is written first, in one file: a run killed after it and
    before model.safetensors resumes from a step, weights and optimizer that belong together (it resumed the
    newer weights with the older step and optimizer, and trained on from a state no unbroken run has)."""
    from brushwork.training import engine
    from brushwork.training.engine import Trainer, TrainerConfig

    def run(out, steps):
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 1)
        data = torch.randn(8, 3, generator=torch.Generator().manual_seed(1))
        t = Trainer(model, {}, torch.optim.Adam(model.parameters(), lr=0.1), lambda b: ((model(b) - 1).pow(2).mean(), {}),
                    iter(lambda: data, None), TrainerConfig(out_dir=str(out), steps=steps, checkpoint_every=2,
                                                            progress=False))
        t.resume()
        t.fit()
        return model

    unbroken = run(tmp_path / "a", 6)
    real_save, calls = engine._atomic_save, []

    def killed_after_one_file(write, path):
        calls.append(path.name)
        if len(calls) == 5:  # the step-4 checkpoint's second file of three: one file of that step is written
            raise SystemExit("killed")
        real_save(write, path)

    monkeypatch.setattr(engine, "_atomic_save", killed_after_one_file)
    with pytest.raises(SystemExit):
        run(tmp_path / "b", 6)
    monkeypatch.undo()
    resumed = run(tmp_path / "b", 6)
    for a, b in zip(unbroken.parameters(), resumed.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # model.safetensors of another model than the state's is refused, as weights that do not fit
    other = tmp_path / "c"
    run(other, 2)
    engine.save_model(torch.nn.Linear(5, 1), {}, other / "checkpoint")
    with pytest.raises(BrushworkError, match="do not fit"):
        run(other, 4)
    # the files of a checkpoint are readable as any file the user makes (safetensors wrote model.safetensors 0600)
    import os

    mask = os.umask(0)
    os.umask(mask)
    for f in ("model.safetensors", "config.json", "trainer_state.pt"):
        assert (other / "checkpoint" / f).stat().st_mode & 0o777 == 0o666 & ~mask, f


def test_a_checkpoint_folder_is_never_thrown_away_unrecognised(tmp_path, capsys):
    """(audit) Weights without their config.json (a run stopped while saving its first checkpoint) were taken for
    no run: training started over from random weights and removed them, and a new run removed the user's own files
    in OUT/checkpoint."""
    from brushwork.cli import main

    run = ["adain", "train", "--dry-run", "--size", "32", "--batch", "2", "-q", "--steps", "1"]
    half = tmp_path / "half"
    (half / "checkpoint").mkdir(parents=True)
    (half / "checkpoint" / "model.safetensors").write_bytes(b"weights")
    assert main([*run, "--out", str(half)]) == 2
    assert "holds weights without their config.json" in capsys.readouterr().err
    assert (half / "checkpoint" / "model.safetensors").is_file()
    mine = tmp_path / "mine"
    (mine / "checkpoint").mkdir(parents=True)
    (mine / "checkpoint" / "notes.txt").write_text("precious")
    assert main([*run, "--out", str(mine), "--no-resume"]) == 2
    assert "holds notes.txt, not a brushwork checkpoint's" in capsys.readouterr().err
    assert (mine / "checkpoint" / "notes.txt").read_text() == "precious"
    assert main([*run, "--out", str(half), "--no-resume"]) == 0  # (asked to start over: it does)
    (half / "checkpoint" / ".DS_Store").write_bytes(b"finder")  # (review: these blocked every resume)
    (half / "checkpoint" / "notes.txt").write_text("mine")
    assert main([*run[:-1], "2", "--out", str(half)]) == 0  # a resume removes nothing: it goes on
    assert (half / "checkpoint" / "notes.txt").read_text() == "mine"


def test_adain_train_says_what_it_leaves_out_and_why_a_loss_broke(tmp_path, capsys):
    """(audit) --dry-run ignored --content/--style without a word; GIFs in the folders vanished; --lr 1e39 was a
    traceback from inside Adam; a loss that overflowed at the first step said 'at step 0: lower the learning
    rate'."""
    from brushwork.cli import main

    run = ["adain", "train", "--size", "32", "--batch", "2", "-q", "--steps", "1"]
    assert main([*run, "--dry-run", "--content", "x", "--out", str(tmp_path / "a")]) == 2
    assert "--dry-run trains on pictures it makes itself" in capsys.readouterr().err
    assert main([*run, "--dry-run", "--lr", "1e39", "--out", str(tmp_path / "b")]) == 2
    assert "beyond 10" in capsys.readouterr().err
    assert main([*run, "--dry-run", "--style-weight", "1e300", "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "at step 1: lower the learning rate or the loss's weights (--style-weight), or check the data" in err, err
    gifs = tmp_path / "gifs"
    gifs.mkdir()
    for i in range(3):
        Image.new("RGB", (64, 64), (i * 60, 20, 90)).save(gifs / f"g{i}.gif")
    assert main([*run, "--content", str(gifs), "--style", str(gifs), "--out", str(tmp_path / "d")]) == 2
    assert "left out 3 GIF(s)" in capsys.readouterr().err  # (one folder given as both: counted once)


def test_adain_train_skips_fully_transparent_pictures(tmp_path):
    """(audit) A fully transparent style picture was trained on as a white square, uncounted (stylize, video and
    classify refuse such a picture)."""
    from brushwork.training.adain import ImagePool

    for i in range(3):
        Image.new("RGBA", (64, 64), (200, 10, 10, 0)).save(tmp_path / f"clear{i}.png")
    Image.new("RGB", (64, 64), (10, 200, 10)).save(tmp_path / "seen.png")
    pool = ImagePool(sorted(tmp_path.glob("*.png")), max_side=64, min_side=32)
    assert len(pool.images) == 1 and len(pool.skipped) == 3
    with pytest.raises(BrushworkError, match="3 fully transparent"):
        ImagePool(sorted(tmp_path.glob("clear*.png")), max_side=64, min_side=32)


def test_a_resumed_runs_log_counts_its_time_on(tmp_path):
    """(audit) log.csv's seconds started again from 0 at every resume, so a plot of a resumed run went back in time."""
    import csv

    from brushwork.cli import main

    run = ["adain", "train", "--dry-run", "--size", "32", "--batch", "2", "-q", "--out", str(tmp_path / "r")]
    assert main([*run, "--steps", "8"]) == 0
    assert main([*run, "--steps", "10"]) == 0  # (its one row: two steps' time after the first run's eight)
    with open(tmp_path / "r" / "log.csv", newline="") as fh:
        seconds = [float(r["seconds"]) for r in csv.DictReader(fh)]
    assert len(seconds) >= 2 and seconds == sorted(seconds), seconds


def test_a_checkpoint_write_stopped_half_way_leaves_no_temporary_file(tmp_path):
    """Ctrl-C (or a full disk) while a checkpoint file is written: the old file stays, and no ``.NAME.tmp`` beside."""
    from brushwork.training import engine

    target = tmp_path / "trainer_state.pt"
    target.write_bytes(b"the step before")

    def interrupted(p):
        Path(p).write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine._atomic_save(interrupted, target)
    assert target.read_bytes() == b"the step before" and sorted(tmp_path.iterdir()) == [target]


def test_adain_train_names_skipped_pictures_before_it_trains(tmp_path, monkeypatch, capsys):
    """(noticed) The note on unreadable or fully transparent pictures came after training, hours later."""
    from brushwork.training import adain as recipe

    for folder in ("photos", "art"):
        (tmp_path / folder).mkdir()
        for i in range(2):
            Image.fromarray(np.random.default_rng(i).integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(
                tmp_path / folder / f"p{i}.png")
    Image.new("RGBA", (48, 48), (200, 10, 10, 0)).save(tmp_path / "art" / "clear.png")
    said = []

    def fit(self):
        said.append(capsys.readouterr().err)
        raise KeyboardInterrupt

    monkeypatch.setattr(recipe.Trainer, "fit", fit)
    with pytest.raises(KeyboardInterrupt):
        train_adain([str(tmp_path / "photos")], [str(tmp_path / "art")], str(tmp_path / "run"), decoder_config=TINY,
                    progress=False, config=AdaINTrainConfig(size=32, batch=2, steps=2))
    assert said and "skipped 1 unreadable, too small or fully transparent image(s)" in said[0]


def test_a_resume_on_changed_folders_is_refused(tmp_path, capsys):
    """(training audit) Pictures removed from the folders since the run started: resuming is refused with the counts
    (it resumed on what was left, without a word)."""
    rng = np.random.default_rng(0)
    for part in ("content", "style"):
        (tmp_path / part).mkdir()
        for i in range(3):
            Image.fromarray((rng.random((48, 48, 3)) * 255).astype(np.uint8)).save(tmp_path / part / f"{i}.png")
    run = ["adain", "train", "--content", str(tmp_path / "content"), "--style", str(tmp_path / "style"), "--out",
           str(tmp_path / "run"), "--size", "32", "--batch", "2", "-q"]
    assert main([*run, "--steps", "1"]) == 0
    saved = json.loads((tmp_path / "run" / "checkpoint" / "config.json").read_text())
    assert "listing" in saved and "listing" not in saved["data"]  # (0.2.8 resumes only "data" with the keys it knows)
    (tmp_path / "style" / "2.png").unlink()
    capsys.readouterr()
    assert main([*run, "--steps", "2"]) == 2
    assert "trained on other pictures of these folders (6 then, 5 now" in capsys.readouterr().err
