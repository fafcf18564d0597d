"""GANs: the losses as written, DiffAugment, the models, training on the engine, sampling by seed,
interpolation, the collapse warning, CLI and bad input."""

import json
import math
import shutil
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork.cli import main
from brushwork.errors import BrushworkError
from brushwork.losses import d_loss, g_loss, r1_penalty
from brushwork.models.gan import GAN, Discriminator, GANConfig, Generator
from brushwork.pipelines.gan import interpolate, latents, load_gan, parse_seeds, sample, slerp
from brushwork.training.diffaugment import diff_augment
from brushwork.training.engine import Trainer, TrainerConfig
from brushwork.training.gan import COLLAPSE_FRACTION, GANTrainConfig, _CollapseCheck, _EMA, _generate, train_gan


def test_losses_match_the_formulas_with_logs_and_signs():
    real, fake = torch.tensor([2.0, -0.5, 0.3]), torch.tensor([-1.0, 0.7, 0.0])
    s = torch.sigmoid
    expected_d = -(torch.log(s(real)).mean()) - torch.log(1 - s(fake)).mean()
    assert d_loss(real, fake, "ns").item() == pytest.approx(expected_d.item(), rel=1e-6)
    assert g_loss(fake, "ns").item() == pytest.approx(-torch.log(s(fake)).mean().item(), rel=1e-6)
    assert d_loss(real, fake, "hinge").item() == pytest.approx(
        (torch.relu(1 - real).mean() + torch.relu(1 + fake).mean()).item())
    assert g_loss(fake, "hinge").item() == pytest.approx(-fake.mean().item())
    # stable where the naive form overflows
    assert math.isfinite(d_loss(torch.tensor([-200.0]), torch.tensor([200.0])).item())
    with pytest.raises(ValueError, match="unknown GAN loss"):
        d_loss(real, fake, "wasserstein")


def test_r1_is_the_squared_input_gradient():
    w = torch.randn(3 * 4 * 4)
    x = torch.randn(5, 3, 4, 4, requires_grad=True)
    logits = x.flatten(1) @ w  # a linear D: its input gradient is w for every image
    assert r1_penalty(logits, x).item() == pytest.approx(float(w.pow(2).sum()), rel=1e-5)


def test_diffaugment_shapes_gradients_and_policies():
    x = (torch.rand(6, 3, 16, 16) * 2 - 1).requires_grad_(True)
    g = torch.Generator().manual_seed(0)
    y = diff_augment(x, "color,translation,cutout", g)
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0  # differentiable: the generator learns through it
    ones = torch.ones(64, 3, 16, 16)
    cut = diff_augment(ones, "cutout", torch.Generator().manual_seed(1))
    zeros = (cut[:, 0] == 0).flatten(1).sum(1)
    assert zeros.max() == 8 * 8 and (zeros > 0).all()  # an 8 x 8 square (half the side), clipped at borders
    ramp = torch.arange(16.0).expand(8, 3, 16, 16).contiguous()
    shifted = diff_augment(ramp, "translation", torch.Generator().manual_seed(2))
    moved = [not torch.equal(shifted[i], ramp[i]) for i in range(8)]
    assert any(moved)
    for i in range(8):  # every kept pixel is a ramp value shifted by a whole number: no resampling
        row = shifted[i, 0, 8]
        assert set(row[row > 0].tolist()) <= set(range(16))
    assert torch.equal(diff_augment(ones, ""), ones)
    with pytest.raises(ValueError, match="policy"):
        diff_augment(ones, "zoom")


@pytest.mark.parametrize("size", [32, 64])
def test_models_shapes_widths_and_range(size):
    cfg = GANConfig(size=size, z_dim=16, width=8)
    assert len(cfg.widths()) == cfg.levels + 1 and cfg.widths()[0] >= cfg.widths()[-1]
    g, d = Generator(cfg), Discriminator(cfg)
    x = g(torch.randn(3, 16))
    assert x.shape == (3, 3, size, size) and x.min() >= -1 and x.max() <= 1
    assert d(x).shape == (3,)
    with pytest.raises(ValueError, match="size"):
        GANConfig(size=48)
    assert "base_width" not in cfg.to_dict()  # absent when unused: older brushwork still loads the config
    wide = GANConfig(size=size, z_dim=16, width=8, base_width=96)
    assert GANConfig.from_dict(wide.to_dict()) == wide and GANConfig.from_dict(cfg.to_dict()) == cfg
    assert wide.widths() == [96, *cfg.widths()[1:]]  # only the 4 x 4 level changes
    g, d = Generator(wide), Discriminator(wide)
    assert d(g(torch.randn(2, 16))).shape == (2,)
    assert g.stem[0].out_features == 96 * 16 and d.head.in_channels == 96
    with pytest.raises(ValueError, match="base_width"):
        GANConfig(size=size, base_width=0)


def test_seeds_latents_slerp_and_parse():
    assert parse_seeds("0-3,10") == [0, 1, 2, 3, 10]
    for bad in ("a-b", "5-2", "", "-3"):
        with pytest.raises(BrushworkError):
            parse_seeds(bad)
    torch.testing.assert_close(latents([5], 8)[0], latents([1, 2, 5], 8)[2])  # a seed's latent never changes
    a, b = torch.randn(32), torch.randn(32)
    torch.testing.assert_close(slerp(a, b, 0.0), a)
    torch.testing.assert_close(slerp(a, b, 1.0), b)
    mid = slerp(a, b, 0.5)
    assert mid.norm() > (0.5 * (a + b)).norm()  # keeps the norm a straight line loses


def _toy_folder(path, n=24, size=40, corrupt=True):
    rng = np.random.default_rng(0)
    path.mkdir(parents=True)
    for i in range(n):
        a = np.full((size, size, 3), 30, np.uint8)
        c = rng.integers(60, 255, 3)
        y, x = rng.integers(8, size - 8, 2)
        a[y - 6:y + 6, x - 6:x + 6] = c
        (path / f"sub{i % 2}").mkdir(exist_ok=True)
        Image.fromarray(a).save(path / f"sub{i % 2}" / f"{i}.png")
    if corrupt:
        (path / "broken.png").write_bytes(b"not an image")
    return path


def test_training_runs_resumes_and_samples_reproducibly(tmp_path):
    data = _toy_folder(tmp_path / "imgs")
    cfg = GANTrainConfig(size=32, z_dim=16, width=8, batch=4, steps=4, sample_every=2, collapse_every=1000)
    t = train_gan(str(data), str(tmp_path / "run"), config=cfg, progress=False, collapse_check=False)
    assert t.step == 4 and t.skipped == 1 and all(math.isfinite(h["loss"]) and math.isfinite(h["d_loss"]) for h in t.history)
    assert (tmp_path / "run" / "samples" / "step_000002.png").is_file()
    ema_before = {k: v.clone() for k, v in t.model.g_ema.state_dict().items()}
    state = torch.load(tmp_path / "run" / "checkpoint" / "trainer_state.pt", weights_only=False)
    assert "discriminator" in state["extra_optimizers"]  # the D optimizer is checkpointed
    t2 = train_gan(str(data), str(tmp_path / "run"), config=GANTrainConfig(**{**cfg.__dict__, "steps": 6}),
                   progress=False, collapse_check=False)
    assert t2.step == 6 and len(t2.history) == 2
    assert t2.extra_optimizers["discriminator"].state_dict()["state"][0]["step"] == 6  # D's Adam resumed
    assert any(not torch.equal(ema_before[k], v) for k, v in t2.model.g_ema.state_dict().items())
    # resumed, the run goes on as an unbroken one: the same weights to the last bit (the data and augmentation
    # streams were reseeded from the step, so a stop changed the model; training audit)
    copy = shutil.copytree(data, tmp_path / "copy")
    whole = train_gan(str(copy), str(tmp_path / "whole"), config=GANTrainConfig(**{**cfg.__dict__, "steps": 6}),
                      progress=False, collapse_check=False)
    for k, v in whole.model.state_dict().items():
        assert torch.equal(v, t2.model.state_dict()[k]), k
    (copy / "sub0" / "0.png").unlink()  # the folder changed: resuming would train on (and index) other pictures
    with pytest.raises(BrushworkError, match=r"trained on other pictures of .*\(24 then, 23 now"):
        train_gan(str(copy), str(tmp_path / "whole"), config=GANTrainConfig(**{**cfg.__dict__, "steps": 8}),
                  progress=False, collapse_check=False)
    gan, sha = load_gan(tmp_path / "run")
    a, b = sample(gan, [7]), sample(gan, [3, 7, 9])[1:2]
    assert a.dtype == np.uint8 and np.array_equal(a, b) and len(sha) == 64
    frames = interpolate(gan, [3, 7], 6)
    assert frames.shape == (6, 32, 32, 3) and np.array_equal(frames[0], sample(gan, [3])[0])
    # every seed's own sample is a frame, whatever the count (7 frames through 3 seeds missed seeds 7 and 9)
    seeds = [3, 7, 9]
    for n, loop in ((7, True), (8, False), (31, True)):
        walk = interpolate(gan, seeds, n, loop=loop)
        assert all(any(np.array_equal(f, s) for f in walk) for s in sample(gan, seeds)), (n, loop)
    with pytest.raises(BrushworkError, match="other settings"):
        train_gan(str(data), str(tmp_path / "run"), config=GANTrainConfig(**{**cfg.__dict__, "lr_g": 1e-3}),
                  progress=False, collapse_check=False)
    with pytest.raises(BrushworkError, match="precision"):  # resumed in the precision it started in
        train_gan(str(data), str(tmp_path / "run"), config=GANTrainConfig(**{**cfg.__dict__, "steps": 7}),
                  precision="bf16", progress=False, collapse_check=False)
    assert train_gan(str(data), str(tmp_path / "run"), config=GANTrainConfig(**{**cfg.__dict__, "steps": 7}),
                     progress=False, collapse_check=False).step == 7  # (the same in fp32: resumed)
    # a run saved before a setting existed resumes (the setting counts as its default)
    saved = tmp_path / "run" / "checkpoint" / "config.json"
    raw = json.loads(saved.read_text())
    assert raw["precision"] == "fp32"  # recorded with the recipe
    raw["gan"].pop("max_width"), raw["train"].pop("r1_gamma")
    saved.write_text(json.dumps(raw))
    t3 = train_gan(str(data), str(tmp_path / "run"), config=GANTrainConfig(**{**cfg.__dict__, "steps": 7}),
                   progress=False, collapse_check=False)
    assert t3.step == 7
    # Adam moments saved for NCHW weights (before training switched to channels_last) take the weights' layout
    state_path = tmp_path / "run" / "checkpoint" / "trainer_state.pt"
    state = torch.load(state_path, weights_only=False)
    for opt in (state["optimizer"], *state["extra_optimizers"].values()):
        for st in opt["state"].values():
            for key in ("exp_avg", "exp_avg_sq"):
                st[key] = st[key].contiguous()
    torch.save(state, state_path)
    t4 = train_gan(str(data), str(tmp_path / "run"), config=GANTrainConfig(**{**cfg.__dict__, "steps": 8}),
                   progress=False, collapse_check=False)
    for opt in (t4.optimizer, t4.extra_optimizers["discriminator"]):
        for p in (q for g in opt.param_groups for q in g["params"]):
            assert all(opt.state[p][key].stride() == p.stride() for key in ("exp_avg", "exp_avg_sq"))
    # another kind of run in the folder is refused in one line, not a state-dict traceback
    cfg_path = tmp_path / "run" / "checkpoint" / "config.json"
    cfg_path.write_text(json.dumps({"classifier": {}, "train": {}}))
    with pytest.raises(BrushworkError, match="another kind"):
        train_gan(str(data), str(tmp_path / "run"), config=GANTrainConfig(**{**cfg.__dict__, "steps": 9}),
                  progress=False, collapse_check=False)


def test_the_averaged_generator_paints_and_is_saved_with_its_own_statistics(tmp_path):
    """g_ema's batch-norm statistics are re-estimated for its averaged weights before it paints a grid
    or is saved, Ctrl-C included: not only every 500 steps, which left grids and interrupted checkpoints
    with statistics of older weights (before step 500, the initial 0 and 1)."""
    torch.manual_seed(0)
    gan = GAN(GANConfig(size=32, z_dim=16, width=8))
    bn = next(m for m in gan.g_ema.modules() if isinstance(m, torch.nn.BatchNorm2d))
    with torch.no_grad():
        for p in gan.g.parameters():
            p.add_(0.05 * torch.randn_like(p))
    gan.update_ema(0.5)
    assert gan.ema_stale and torch.all(bn.running_mean == 0)
    _generate(gan, latents([1], 16))
    fresh = bn.running_mean.clone()
    assert not gan.ema_stale and not torch.all(fresh == 0)
    gan.recalibrate_ema()
    torch.testing.assert_close(bn.running_mean, fresh)  # the same seeded estimate

    def step_fn(batch):  # moves the live generator, then Ctrl-C at the third step
        if trainer.step == 2:
            raise KeyboardInterrupt
        return (gan.g(latents([trainer.step], 16)) ** 2).mean(), {}

    opt = torch.optim.SGD(gan.g.parameters(), lr=0.5)
    trainer = Trainer(gan, {"gan": gan.cfg.to_dict()}, opt, step_fn, iter(lambda: None, 1),
                      TrainerConfig(out_dir=str(tmp_path / "run"), steps=10, checkpoint_every=1000, progress=False,
                                    device="cpu"), callbacks=[_EMA(0.5)])
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert not gan.ema_stale  # refreshed for the checkpoint written on the way out
    saved, _ = load_gan(tmp_path / "run")
    saved_bn = next(m for m in saved.g_ema.modules() if isinstance(m, torch.nn.BatchNorm2d))
    torch.testing.assert_close(saved_bn.running_mean, bn.running_mean)
    assert not torch.allclose(saved_bn.running_mean, fresh)  # re-estimated for the weights of step 2


def test_collapse_warning_fires_for_a_collapsed_generator(tmp_path, lite0):
    data = torch.from_numpy(np.stack([np.asarray(Image.open(p).convert("RGB").resize((32, 32))).transpose(2, 0, 1)
                                      for p in sorted(_toy_folder(tmp_path / "d", corrupt=False).rglob("*.png"))]))
    cfg = GANConfig(size=32, z_dim=16, width=8)
    check = _CollapseCheck(1, data, tmp_path, 16, 0)
    gan = GAN(cfg)
    with torch.no_grad():  # every latent gives the same image: the stem ignores z
        gan.g_ema.stem[0].weight.zero_()
    ratio, collapsed = check.check(gan)
    assert collapsed and ratio < COLLAPSE_FRACTION

    class T:
        model = gan
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        check.on_step_end(T, 1, {})
    assert any("collapsed" in str(x.message) for x in w)
    assert (tmp_path / "collapse.csv").read_text().splitlines()[1].endswith(",1")


def test_cli_train_sample_interpolate_and_bad_input(tmp_path, capsys):
    data = _toy_folder(tmp_path / "imgs")
    run = tmp_path / "run"
    assert main(["gan", "train", str(data), "--size", "32", "--steps", "2", "--batch", "4", "--z-dim", "16",
                 "--width", "8", "--out", str(run), "-q"]) == 0
    err = capsys.readouterr().err
    assert "skipped 1 unreadable" in err and "broken.png" in err  # (named: it was only counted)
    assert main(["gan", "sample", str(run), "--seeds", "0-3", "-o", str(tmp_path / "s")]) == 0
    recipe = json.loads(Image.open(tmp_path / "s" / "seed0002.png").text["brushwork"])
    assert recipe["seed"] == 2 and len(recipe["checkpoint_sha256"]) == 64
    assert main(["gan", "sample", str(run), "--seeds", "0-3", "--grid", "-o", str(tmp_path / "g.png")]) == 0
    assert main(["gan", "sample", str(run), "--seeds", "0-3", "-o", str(tmp_path / "one.png")]) == 2  # no folder s.png
    assert "add --grid for one PNG" in capsys.readouterr().err and not (tmp_path / "one.png").exists()
    for psi in ("2", "0", "nan"):
        assert main(["gan", "sample", str(run), "--seeds", "0", "--truncation", psi, "-o", str(tmp_path / "t")]) == 2
        assert "is outside (0, 1]" in capsys.readouterr().err
    assert main(["gan", "interpolate", str(run), "--seeds", "1,2,3", "--frames", "9", "-o", str(tmp_path / "w.gif")]) == 0
    assert Image.open(tmp_path / "w.gif").n_frames == 9
    capsys.readouterr()
    # -q as every long command takes it (the docs audit: sample, interpolate and eval refused it); one sample, said so
    assert main(["gan", "sample", str(run), "--seeds", "7", "-o", str(tmp_path / "q"), "-q"]) == 0
    assert "wrote 1 sample to" in capsys.readouterr().out
    assert main(["gan", "sample", str(run), "--seeds", "7,7,8,7", "-o", str(tmp_path / "q"), "-q"]) == 0
    said = capsys.readouterr()  # (it said "wrote 4 samples" of two files)
    assert "wrote 2 samples to" in said.out and "2 seed(s) given more than once: each is one file" in said.err
    assert main(["gan", "interpolate", str(run), "--seeds", "1,2", "--frames", "4", "-o", str(tmp_path / "q.gif"),
                 "-q"]) == 0
    assert main(["gan", "eval", str(run), "--data", str(data), "--samples", "10", "-q", "--no-gallery"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["samples"] == 10
    assert (run / "train_index.npz").is_file()  # gan train indexed its training images
    assert main(["gan", "sample", str(run), "--seeds", "0-2", "-o", str(tmp_path / "o1"), "--originality"]) == 0
    assert "originality against 24 training images: " in capsys.readouterr().out
    for argv, msg in [(["gan", "sample", "--seeds", "0", "-o", str(tmp_path / "o2"), "--originality"], "train_index"),
                      (["gan", "sample", str(run), "--grid", "-o", str(tmp_path / "o3.png"), "--originality"], "--grid")]:
        assert main(argv) == 2
        assert msg in capsys.readouterr().err
    bad = [
        (["gan", "train", str(tmp_path / "none"), "--out", str(tmp_path / "o")], "not a folder"),
        (["gan", "sample", str(run), "--seeds", "x", "-o", str(tmp_path / "s2")], "not a list of seeds"),
        (["gan", "sample", str(tmp_path), "-o", str(tmp_path / "s3")], "no GAN checkpoint"),
        (["gan", "sample", str(run), "--grid", "-o", str(tmp_path / "g.jpg")], ".png file"),
        (["gan", "interpolate", str(run), "--seeds", "4", "-o", str(tmp_path / "w2.gif")], "at least two seeds"),
        (["gan", "interpolate", str(run), "--seeds", "1,2", "-o", str(tmp_path / "w.avi")], ".gif or .mp4"),
        (["gan", "interpolate", str(run), "--seeds", "1,2", "--truncation", "0", "-o", str(tmp_path / "w3.gif")],
         "truncation"),
        (["gan", "train", str(data), "--diffaugment", "colour", "--out", str(tmp_path / "o2")], "--diffaugment"),
        (["gan", "train", str(data), "--ema", "1", "--out", str(tmp_path / "o3")], "--ema"),
        (["gan", "eval", str(run), "--data", str(data), "--samples", "1"], "too few"),
    ]
    for argv, msg in bad:
        assert main(argv) == 2, argv
        assert msg in capsys.readouterr().err
    assert not (tmp_path / "w2.gif").exists() and not (tmp_path / "s2").exists() and not (tmp_path / "w3.gif").exists()


def test_fid_and_kid_behave():
    from brushwork.pipelines.gan import fid, kid

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    shifted = rng.normal(size=(400, 8)) + 1.0
    assert fid(a, a) == pytest.approx(0.0, abs=1e-6)
    assert fid(a, b) < 0.5 < fid(a, shifted)
    assert fid(a, shifted) == pytest.approx(8.0, rel=0.2)  # ||mu difference||^2 = 8 for equal covariances
    k_same, _ = kid(a, b)
    k_far, _ = kid(a, shifted)
    assert abs(k_same) < 0.05 < k_far  # unbiased: about 0 for the same distribution
    # both sides within one subset, of different sizes: all of both, once (the unbiased estimate, no spread)
    x, y = a[:45], shifted[:60]
    k, spread = kid(x, y)
    kxx, kyy, kxy = (x @ x.T / 8 + 1) ** 3, (y @ y.T / 8 + 1) ** 3, (x @ y.T / 8 + 1) ** 3
    expected = ((kxx.sum() - np.trace(kxx)) / (45 * 44) + (kyy.sum() - np.trace(kyy)) / (60 * 59) - 2 * kxy.mean())
    assert spread is None and k == pytest.approx(expected)
    assert kid(a, shifted[:60])[1] is not None  # one side larger than a subset: subsets, with their spread


def test_gan_eval_command(tmp_path, capsys, lite0):
    data = _toy_folder(tmp_path / "imgs", corrupt=False)
    run = tmp_path / "run"
    assert main(["gan", "train", str(data), "--size", "32", "--steps", "1", "--batch", "4", "--z-dim", "16",
                 "--width", "8", "--out", str(run), "-q"]) == 0
    capsys.readouterr()
    assert main(["gan", "eval", str(run), "--data", str(data), "--samples", "24", "--nearest",
                 str(tmp_path / "near.png")]) == 0
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["fid"] is None and "FID not computed" in out  # 24 < 2048 images: KID only
    assert result["kid"] > 0 and result["real_images"] == 24 and len(result["checkpoint_sha256"]) == 64
    mem = result["memorisation"]
    assert 0 <= mem["copies"] <= 24 and -1 <= mem["median_similarity"] <= 1
    assert Image.open(tmp_path / "near.png").size[0] > 2 * 32  # sample | nearest training image, 8 rows
    assert main(["gan", "eval", str(run), "--data", str(data), "--nearest", str(tmp_path / "n.jpg")]) == 2
    assert main(["gan", "eval", str(run), "--data", str(data), "--samples", "12", "--max-real", "12"]) == 0
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["real_images"] == 12 and result["kid_std"] is None and "no spread" in out  # one subset: no +- 0
    # a sheet written over a training image, and too few real images after subsampling, are refused
    first = sorted(data.rglob("*.png"))[0]
    before = first.read_bytes()
    assert main(["gan", "eval", str(run), "--data", str(data), "--samples", "10", "--nearest", str(first)]) == 2
    assert "inside the data folder" in capsys.readouterr().err and first.read_bytes() == before
    assert main(["gan", "eval", str(run), "--data", str(data), "--samples", "10", "--max-real", "5"]) == 2
    assert "--max-real 5 is too few" in capsys.readouterr().err


def test_runs_keep_to_their_data_seeds_and_samples(tmp_path, capsys):
    data = _toy_folder(tmp_path / "imgs", corrupt=False)
    other = _toy_folder(tmp_path / "imgs2", corrupt=False)
    tiny = ["--size", "32", "--batch", "4", "--z-dim", "16", "--width", "8", "-q", "--no-index"]
    run = tmp_path / "run"
    # the largest seed trains and resumes (the seeds derived from it wrap around)
    def big(steps, spelled=str(data)):
        return ["gan", "train", spelled, *tiny, "--steps", str(steps), "--seed", str(2**64 - 1), "--sample-every", "1",
                "--out", str(run)]
    assert main(big(1)) == 0
    assert main(big(2, str(data) + "/")) == 0  # the same folder, spelled with a trailing slash: resumed
    # other data, at the same --out: refused, not trained on
    assert main(["gan", "train", str(other), *tiny, "--steps", "3", "--seed", str(2**64 - 1), "--sample-every", "1",
                 "--out", str(run)]) == 2
    assert "trained on" in capsys.readouterr().err
    # --out inside the data folder: a rerun would read its grids back as training images
    assert main(["gan", "train", str(data), *tiny, "--steps", "1", "--out", str(data / "run")]) == 2
    assert "inside the data folder" in capsys.readouterr().err and not (data / "run").exists()
    # --no-resume: the old run's grids go
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == ["step_000001.png", "step_000002.png"]
    assert main(["gan", "train", str(other), *tiny, "--steps", "1", "--sample-every", "5", "--out", str(run),
                 "--no-resume"]) == 0
    assert sorted(p.name for p in (run / "samples").glob("*.png")) == ["step_000001.png"]
    # sampling into a folder of another checkpoint's (or truncation's) samples is refused; the same again is fine
    picks = tmp_path / "picks"
    assert main(["gan", "sample", str(run), "--seeds", "0-1", "-o", str(picks), "--no-gallery"]) == 0
    assert main(["gan", "sample", str(run), "--seeds", "0-2", "-o", str(picks), "--no-gallery"]) == 0
    before = (picks / "seed0000.png").read_bytes()
    assert main(["gan", "sample", str(run), "--seeds", "0", "--truncation", "0.5", "-o", str(picks)]) == 2
    assert "samples of another checkpoint, truncation or watermark setting" in capsys.readouterr().err
    assert main(["gan", "sample", str(run), "--seeds", "0", "--no-watermark", "-o", str(picks)]) == 2  # (other pixels)
    assert (picks / "seed0000.png").read_bytes() == before


def test_memorisation_finds_copies_and_not_strangers(lite0):
    from brushwork.provenance.neighbors import EmbeddingIndex, embed, memorisation

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:48]
    train = np.stack([np.stack([(np.sin(xx / (3 + i)) * 120 + 128), (yy * 5 % 255), np.full_like(xx, 40 * i)], -1)
                      for i in range(6)]).astype(np.uint8)
    index = EmbeddingIndex(embed(train, lite0), [f"t{i}" for i in range(6)])
    copies = memorisation(embed(train[[4, 1]], lite0), index)
    assert copies["copies"] == 2 and copies["nearest"][0]["training_image"] == "t4"
    assert copies["max_similarity"] > 0.999
    noise = rng.integers(0, 256, (4, 48, 48, 3), dtype=np.uint8)
    strangers = memorisation(embed(noise, lite0), index)
    assert strangers["copies"] == 0 and strangers["median_similarity"] < copies["median_similarity"]
    sims, idx = index.query(index.vectors, 2, exclude_self=True)
    assert (idx[:, 0] != np.arange(6)).all() and (sims[:, 0] >= sims[:, 1]).all()


def test_vae_loss_is_the_elbo():
    from brushwork.losses import vae_loss

    x = torch.rand(2, 3, 4, 4)
    total, rec, kl = vae_loss(x, x, torch.zeros(2, 5), torch.zeros(2, 5))
    assert rec.item() == 0 and kl.item() == pytest.approx(0.0) and total.item() == pytest.approx(0.0)
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(4.0)]])
    _, _, kl = vae_loss(x[:1], x[:1], mu, logvar)
    closed = 0.5 * ((1 + 0 - 1 - 1) * -1 + (1 + math.log(4) - 0 - 4) * -1)  # -1/2 sum(1 + log s2 - mu2 - s2)
    assert kl.item() == pytest.approx(closed, rel=1e-6)


def test_vae_trains_samples_and_interpolates(tmp_path, capsys):
    data = _toy_folder(tmp_path / "imgs", corrupt=False)
    run = tmp_path / "vae"
    assert main(["gan", "train", str(data), "--model", "vae", "--size", "32", "--steps", "40", "--batch", "8",
                 "--z-dim", "16", "--width", "8", "--lr-g", "2e-3", "--out", str(run), "-q"]) == 0
    assert "reconstruction" in capsys.readouterr().out
    log = [line.split(",") for line in (run / "log.csv").read_text().splitlines()]
    head, rows = log[0], log[1:]
    loss = [float(r[head.index("loss")]) for r in rows]
    assert loss[-1] < 0.7 * loss[0]  # the ELBO improves
    gan, _ = load_gan(run)
    assert gan.cfg.model == "vae" and sample(gan, [1, 2]).shape == (2, 32, 32, 3)
    assert main(["gan", "interpolate", str(run), "--seeds", "1,2", "--frames", "4", "-o", str(tmp_path / "v.gif")]) == 0
    # (the docs audit) the GAN-only options were taken and did nothing; a resume called the VAE run "a GAN run"
    small = ["--size", "32", "--steps", "2", "--batch", "8", "--z-dim", "16", "--width", "8", "-q"]
    capsys.readouterr()
    assert main(["gan", "train", str(data), "--model", "vae", *small, "--loss", "hinge", "--r1", "5",
                 "--out", str(tmp_path / "v2")]) == 2
    err = capsys.readouterr().err
    assert "--loss, --r1: they are for the GAN's discriminator, which the VAE has not: leave them out" in err
    assert not (tmp_path / "v2").exists()
    assert main(["gan", "train", str(data), "--model", "vae", *small, "--seed", "3", "--out", str(run)]) == 2
    assert "holds a VAE run with other settings" in capsys.readouterr().err
    with pytest.raises(BrushworkError, match="r1_gamma, spectral_norm: they are for the GAN"):
        train_gan(str(data), str(tmp_path / "v3"), config=GANTrainConfig(model="vae", r1_gamma=1.0, spectral_norm=False))


def test_a_sampling_only_checkpoint_loads(tmp_path):
    from safetensors.torch import save_file

    cfg = GANConfig(size=32, z_dim=16, width=8)
    gan = GAN(cfg).eval()
    (tmp_path / "config.json").write_text(json.dumps({"gan": cfg.to_dict()}))
    save_file({f"g_ema.{k}": v.half() for k, v in gan.g_ema.state_dict().items()}, str(tmp_path / "model.safetensors"))
    loaded, _ = load_gan(tmp_path)
    a, b = sample(gan, [0, 1]), sample(loaded, [0, 1])
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 2  # float16 storage: within a couple of levels


def test_the_shipped_gan_samples_out_of_the_box(tmp_path, capsys):
    from brushwork.weights import find_weights, sha256_file

    file = find_weights("gan-sprites64")  # sha256-checked
    assert main(["gan", "sample", "--seeds", "4,5", "-o", str(tmp_path / "s")]) == 0
    recipe = json.loads(Image.open(tmp_path / "s" / "seed0005.png").text["brushwork"])
    assert recipe["checkpoint_sha256"] == sha256_file(file)
    img = np.asarray(Image.open(tmp_path / "s" / "seed0005.png"))
    assert img.shape == (64, 64, 3) and img.std() > 10  # a picture, not a flat field
    again = tmp_path / "again"
    assert main(["gan", "sample", "--seeds", "5", "-o", str(again)]) == 0
    assert np.array_equal(np.asarray(Image.open(again / "seed0005.png")), img)  # same seed, same image


def test_dataset_names_greyscale_arrays_and_clipart_categories(tmp_path, monkeypatch, capsys):
    import brushwork.datasets as datasets
    from brushwork.training.gan import load_images

    digits = np.zeros((6, 28, 28), np.uint8)
    digits[:, 10:18, 10:18] = 255
    monkeypatch.setattr(datasets, "load_arrays", lambda name: (digits, None, None, None, []))
    x, skipped = load_images("fashion-mnist", 32)  # greyscale: one channel, resized like torchvision's Resize
    assert x.shape == (6, 1, 32, 32) and x.dtype == torch.uint8 and skipped == 0
    assert x[0, 0, 16, 16] == 255 and x[0, 0, 0, 0] == 0 and 0 < x[0, 0, 11, 16] <= 255

    folder = tmp_path / "openclipart" / "images"
    folder.mkdir(parents=True)
    files = []
    for i, cat in enumerate(["animals", "animals", "animals", "food"]):
        drawn = np.random.default_rng(i).integers(0, 255, (30, 40, 4), dtype=np.uint8)
        drawn[..., 3] = 255
        Image.fromarray(drawn).save(folder / f"{i:05d}.png")
        files.append({"file": f"{i:05d}.png", "source": f"usr/share/openclipart/png/{cat}/x{i}.png"})
    (folder.parent / "manifest.json").write_text(json.dumps({"files": files}))
    monkeypatch.setattr(datasets, "fetch", lambda name: folder)
    x, _ = load_images("openclipart:animals", 32)
    assert x.shape == (3, 3, 32, 32)
    with pytest.raises(BrushworkError, match="no category 'cats'.*animals, food"):
        load_images("openclipart:cats", 32)
    # (the docs audit) a category's GAN had no originality index, without a word: its files are indexed; an array
    # dataset, which has no files, says so
    small = ["--size", "32", "--steps", "1", "--batch", "2", "--z-dim", "8", "--width", "4", "-q"]
    assert main(["gan", "train", "openclipart:animals", *small, "--out", str(tmp_path / "clip")]) == 0
    from brushwork.provenance.originality import ReferenceIndex

    index = ReferenceIndex.load(tmp_path / "clip" / "train_index.npz")
    assert sorted(index.names) == ["00000.png", "00001.png", "00002.png"]
    capsys.readouterr()
    assert main(["gan", "train", "fashion-mnist", *small, "--out", str(tmp_path / "arr")]) == 0
    assert "no originality index for `gan sample --originality`: fashion-mnist is an array" in capsys.readouterr().err


def test_small_pictures_are_enlarged_and_counted(tmp_path, capsys):
    data = _toy_folder(tmp_path / "imgs", n=6, corrupt=False)  # 40 px pictures
    assert main(["gan", "train", str(data), "--size", "64", "--steps", "1", "--batch", "2", "--z-dim", "8",
                 "--width", "4", "--out", str(tmp_path / "run"), "-q"]) == 0
    assert "6 image(s) smaller than --size 64 were enlarged" in capsys.readouterr().err


def test_api_slips_are_one_line_errors_and_slerp_survives_opposites():
    from brushwork.pipelines.gan import latents, load_gan, sample, slerp
    from brushwork.training.gan import GANTrainConfig, train_gan

    z = latents(range(6), 1)
    a, b = z[0], next(v for v in z[1:] if float(v) * float(z[0]) < 0)  # opposite signs: opposite directions
    mid = slerp(a, b, 0.5)
    assert torch.isfinite(mid).all() and float(mid.abs()) <= max(float(a.abs()), float(b.abs()))
    gan, _ = load_gan(None)
    assert sample(gan, 42).shape[0] == 1  # one seed as a number
    assert sample(gan, torch.tensor(3)).shape[0] == 1 and sample(gan, (s for s in range(2))).shape[0] == 2
    with pytest.raises(BrushworkError, match="truncation"):
        sample(gan, [1], truncation="0.5")
    cfg = GANTrainConfig(size=32, batch=4, steps=1, z_dim=16, width=8)
    for bad in (torch.rand(8, 3, 32, 32), torch.zeros(8, 32, 32, dtype=torch.uint8),
                torch.zeros(8, 32, 32, 3, dtype=torch.uint8)):
        with pytest.raises(BrushworkError, match="uint8 tensor"):
            train_gan(bad, "unused-folder", config=cfg, progress=False)


def test_runs_of_other_kinds_stale_indexes_and_sizes_beyond_memory(tmp_path, capsys, monkeypatch):
    """--no-resume into another recipe's run (it deleted a classifier's checkpoint) and --out naming a run's
    checkpoint/ are refused; a new run removes an earlier run's training index (sample --originality checked
    against the old images), and a VAE writes one too; weights that do not fit config.json, a --batch beyond
    memory, and out of memory at the first step are one line each, and leave no new run folder behind."""
    data = _toy_folder(tmp_path / "imgs", n=8, corrupt=False)
    small = ["--size", "32", "--steps", "1", "--batch", "2", "--z-dim", "8", "--width", "4", "-q"]
    other = tmp_path / "cls" / "checkpoint"
    other.mkdir(parents=True)
    (other / "config.json").write_text(json.dumps({"classifier": {}, "train": {}}))
    assert main(["gan", "train", str(data), *small, "--out", str(tmp_path / "cls"), "--no-resume"]) == 2
    assert "another kind (a classifier's)" in capsys.readouterr().err and (other / "config.json").is_file()
    run = tmp_path / "run"
    assert main(["gan", "train", str(data), *small, "--out", str(run)]) == 0 and (run / "train_index.npz").is_file()
    assert main(["gan", "train", str(data), *small, "--out", str(run / "checkpoint")]) == 2
    assert "checkpoint folder" in capsys.readouterr().err
    assert main(["gan", "train", str(data), *small, "--out", str(run), "--no-resume", "--no-index"]) == 0
    assert not (run / "train_index.npz").exists()  # the earlier run's, of what may be other images
    vae = tmp_path / "vae"
    assert main(["gan", "train", str(data), *small, "--model", "vae", "--out", str(vae)]) == 0
    assert (vae / "train_index.npz").is_file()
    wider = tmp_path / "wider"  # a run whose weights are another width's
    assert main(["gan", "train", str(data), *small[:-2], "8", "-q", "--out", str(wider)]) == 0
    (run / "checkpoint" / "model.safetensors").write_bytes((wider / "checkpoint" / "model.safetensors").read_bytes())
    capsys.readouterr()
    assert main(["gan", "train", str(data), *small[:2], "--steps", "2", *small[4:], "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert "do not fit its config.json" in err and len(err.strip().splitlines()) == 1
    assert main(["gan", "train", str(data), *small, "--batch", "100000", "--out", str(tmp_path / "huge")]) == 2
    assert "more than 4,096" in capsys.readouterr().err and not (tmp_path / "huge").exists()

    def no_memory(*args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you "
                           "tried to allocate 8000000000000 bytes")

    monkeypatch.setattr("brushwork.training.gan.g_loss", no_memory)
    assert main(["gan", "train", str(data), *small, "--out", str(tmp_path / "oom")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("brushwork: error: out of memory") and "--batch" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "oom").exists()


def test_flips_gif_rates_eval_reads_and_api_settings(tmp_path, capsys, monkeypatch):
    """--no-flip keeps every real image as it is (they were mirrored half the time, digits and lettering too);
    a GIF asked for 60 fps is written at 50 with a note (browsers play 10 ms delays at 100 ms); `gan eval`
    decodes only the --max-real images it compares with; the Python API names bad settings in one line."""
    from brushwork.training import gan as gan_mod

    x = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    x[..., :4] = 255  # white on the left
    gen = torch.Generator().manual_seed(0)
    mirrored = next(gan_mod._batches(x, 64, gen, torch.device("cpu")))
    kept = next(gan_mod._batches(x, 64, torch.Generator().manual_seed(0), torch.device("cpu"), flip=False))
    assert 10 < int((mirrored[..., 0] < 0).all(-1).all(-1).sum()) < 54  # some have it on the right
    assert bool((kept[..., :4] > 0).all() and (kept[..., 4:] < 0).all())
    data = _toy_folder(tmp_path / "imgs", n=30, corrupt=False)
    run = tmp_path / "run"
    assert main(["gan", "train", str(data), "--size", "32", "--steps", "1", "--batch", "2", "--z-dim", "8",
                 "--width", "4", "-q", "--no-flip", "--out", str(run)]) == 0
    assert json.loads((run / "checkpoint" / "config.json").read_text())["train"]["flip"] is False
    capsys.readouterr()
    assert main(["gan", "interpolate", str(run), "--seeds", "1,2", "--frames", "4", "--fps", "60", "-o",
                 str(tmp_path / "fast.gif")]) == 0
    assert "at most 50 fps" in capsys.readouterr().err
    with Image.open(tmp_path / "fast.gif") as im:
        assert im.info["duration"] == 20
    import brushwork.imaging.io as io_mod

    read, original = [], io_mod.read_square
    monkeypatch.setattr(io_mod, "read_square", lambda *a, **k: read.append(1) or original(*a, **k))
    assert main(["gan", "eval", str(run), "--data", str(data), "--samples", "10", "--max-real", "12"]) == 0
    assert len(read) == 12 and "12 of the data's 30 images" in capsys.readouterr().err
    imgs = torch.zeros(4, 3, 32, 32, dtype=torch.uint8)
    for bad, said in ((dict(batch=0), "batch must be"), (dict(ema_decay=1.5), "ema_decay in [0, 1)")):
        with pytest.raises(BrushworkError, match=said.replace("[", r"\[").replace(")", r"\)")):
            train_gan(imgs, str(tmp_path / "api"), config=GANTrainConfig(size=32, steps=1, width=4, **bad))
    with pytest.raises(BrushworkError, match="at least 2 square pictures"):
        train_gan(torch.zeros(4, 3, 16, 32, dtype=torch.uint8), str(tmp_path / "api"), config=GANTrainConfig(size=32))
    with pytest.raises(BrushworkError, match="torch.from_numpy"):
        train_gan(np.zeros((4, 3, 32, 32), np.uint8), str(tmp_path / "api"), config=GANTrainConfig(size=32))


def test_training_on_flat_images_ends_well_without_an_index(tmp_path, capsys):
    """Flat-colour images train, yet the originality index (which skips blank images) found none: the trained
    run exited 2 with "holds no readable images (24 unreadable)"."""
    data = tmp_path / "flat"
    data.mkdir()
    for i in range(8):
        Image.new("RGB", (32, 32), (30 * i, 200 - 20 * i, 90)).save(data / f"f{i}.png")
    run = tmp_path / "run"
    assert main(["gan", "train", str(data), "--size", "32", "--batch", "4", "--z-dim", "16", "--width", "8", "-q",
                 "--steps", "1", "--out", str(run)]) == 0
    err = capsys.readouterr().err
    assert "no originality index" in err and "8 blank (one flat colour)" in err, err
    assert (run / "checkpoint").is_dir() and not (run / "train_index.npz").exists()


def test_gan_names_the_gifs_it_leaves_out(tmp_path, capsys):
    """Pixel-art sprites saved as GIFs vanished from the GAN's data ("has 0 readable image(s)", or nothing said
    in a mixed folder) and from the index."""
    gifs = tmp_path / "gifs"
    gifs.mkdir()
    for i in range(4):
        Image.new("RGB", (32, 32), (60 * i, 20, 200)).convert("P").save(gifs / f"g{i}.gif")
    tiny = ["--size", "32", "--batch", "4", "--z-dim", "16", "--width", "8", "-q", "--steps", "1"]
    assert main(["gan", "train", str(gifs), *tiny, "--out", str(tmp_path / "r1")]) == 2
    assert "and 4 GIF(s), which training leaves out (convert them to PNG)" in capsys.readouterr().err
    data = _toy_folder(tmp_path / "mixed", corrupt=False)
    for i in range(2):
        Image.new("RGB", (32, 32), (60 * i, 20, 200)).convert("P").save(data / f"g{i}.gif")
    assert main(["gan", "train", str(data), *tiny, "--out", str(tmp_path / "r2")]) == 0
    assert "left out 2 GIF(s): training reads PNG" in capsys.readouterr().err
    assert main(["index", "build", str(gifs), "-o", str(tmp_path / "i.npz")]) == 2
    assert "4 GIF(s), which folders are read without" in capsys.readouterr().err


def test_samples_reproduce_from_anywhere_without_their_index(tmp_path, monkeypatch, capsys):
    """`gan sample runs/g1 ...` reran only from the folder it was run in ('runs/g1' does not exist), and a sample
    made with --originality needed the index, which does not change its pixels (a new run removes it)."""
    from brushwork.provenance.reproduce import reproduce

    work = tmp_path / "work"
    work.mkdir()
    _toy_folder(work / "sprites", corrupt=False)
    monkeypatch.chdir(work)
    assert main(["gan", "train", "sprites", "--size", "32", "--batch", "4", "--z-dim", "16", "--width", "8", "-q",
                 "--steps", "1", "--out", "runs/g1"]) == 0
    assert (work / "runs" / "g1" / "train_index.npz").is_file()
    assert main(["gan", "sample", "runs/g1", "--seeds", "0-1", "-o", "picks", "--originality"]) == 0
    (work / "runs" / "g1" / "train_index.npz").unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    res = reproduce(work / "picks" / "seed0001.png")  # (the run is found from the picture's folder's parent)
    assert res.identical and not res.environment_differences
    capsys.readouterr()


def test_grid_image_takes_a_list_and_names_a_wrong_shape():
    """grid_image([a, b]) was an AttributeError, grid_image(one picture) an unpacking error."""
    from brushwork.errors import BrushworkError
    from brushwork.pipelines.gan import grid_image

    a = np.zeros((8, 8, 3), np.uint8)
    assert grid_image([a, a], pad=2).size == (22, 12)
    with pytest.raises(BrushworkError, match=r"uint8 pictures \(N, H, W, 3\)"):
        grid_image(a)
    with pytest.raises(BrushworkError, match="of one size"):
        grid_image([a, np.zeros((4, 4, 3), np.uint8)])


def test_a_new_run_never_replaces_the_users_own_log(tmp_path, capsys):
    """gan train (and adain train) --out a folder holding the user's own log.csv replaced it with its log, exit 0
    (classify train refused already)."""
    data = _toy_folder(tmp_path / "imgs", corrupt=False)
    for argv in (["gan", "train", str(data), "--size", "32", "--batch", "4", "--z-dim", "16", "--width", "8", "-q",
                  "--no-index", "--steps", "1"],
                 ["adain", "train", "--dry-run", "--size", "32", "--batch", "2", "-q"]):
        out = tmp_path / f"mine_{argv[0]}"
        out.mkdir()
        (out / "log.csv").write_text("date,title\n2026-11-30,my notes\n")
        assert main([*argv, "--out", str(out)]) == 2
        assert "holds log.csv, not a brushwork run's" in capsys.readouterr().err
        assert (out / "log.csv").read_text().startswith("date,title")
        assert not (out / "checkpoint").exists()


def test_a_run_folder_named_like_the_command_stays_the_command(tmp_path, monkeypatch):
    """reproduce looked every word of the command up as a model folder: with the run in a folder named 'gan', the
    subcommand became a path ('invalid choice')."""
    from brushwork.provenance.reproduce import reproduce

    work = tmp_path / "proj"
    (work / "samples").mkdir(parents=True)
    _toy_folder(work / "sprites", corrupt=False)
    monkeypatch.chdir(work)
    assert main(["gan", "train", "sprites", "--size", "32", "--batch", "4", "--z-dim", "16", "--width", "8", "-q",
                 "--steps", "1", "--no-index", "--out", "gan"]) == 0
    assert main(["gan", "sample", "gan", "--seeds", "0-1", "--grid", "-o", "samples/grid.png"]) == 0
    assert main(["gan", "sample", "--sidecar", "gan", "--seeds", "1", "-o", "samples/after_a_flag"]) == 0
    monkeypatch.chdir(work / "samples")
    assert reproduce("grid.png").identical
    assert reproduce("after_a_flag/seed0001.png").identical  # (review: a positional after a flag was taken for its value)
