"""brushwork's GAN against the pytorch/examples DCGAN on Fashion-MNIST at 32 px, side by side in one run.

* Throughput (images/s) of each recipe's training step on this machine, each alone with every core,
  after a warm-up, with the parameter counts of both (the target asks for >= 1.5x at equal or larger size).
* Quality at equal time: for each seed, both train at once, one core each (``torch.set_num_threads(1)``,
  so the two runs share the machine evenly), for ``--minutes`` of wall-clock time; then KID (and FID) of
  2,048 samples against 2,048 Fashion-MNIST test images on EfficientNet-Lite0 features (not comparable
  with Inception-based numbers). brushwork's run uses its own defaults (EMA generator, spectral norm,
  DiffAugment, the collapse check every 500 steps) at ``--width``, ``--base-width`` and ``--z-dim``
  (default: width 16, 192 channels at 4 x 4, z 512: more parameters than the reference); the reference samples as its script
  does (batch statistics, batches of 64).
* ``--gpu-only``: training throughput at 64 px, batch 128, on CUDA, and nothing else (minutes, for a
  short GPU session): the reference in fp32 and bf16 autocast, brushwork in bf16 with channels_last and
  torch.compile at each of ``--gpu-models`` (default: the quality runs' model, and one larger than the
  reference at 64 px). It rewrites only the GPU table inside the section and keeps the figures in
  ``benchmarks/gpu/gan_gpu_DATE.json`` (for gpu_summary.py). ``--gpu`` measures the same after
  the quality runs. Without CUDA, ``--gpu-smoke`` runs the same code on the CPU at 32 px for a few steps
  (to test the script) and the GPU rows keep saying "not yet measured".

The reference is rewritten in benchmarks/dcgan_reference.py (its script imports torchvision, which does
not import beside brushwork's torch). Writes a section of BENCHMARKS.md and benchmarks/results/gan_vs_dcgan.json.
Usage: ``python benchmarks/gan_vs_dcgan.py [--minutes 30] [--seeds 0,1,2]`` (needs the fashion-mnist
dataset: ``brushwork data fetch fashion-mnist``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import ROOT, update_benchmarks_md  # noqa: E402
from dcgan_reference import DCGAN  # noqa: E402

from brushwork.training.gan import GANTrainConfig, load_images, train_gan  # noqa: E402

SIZE, BATCH, EVAL_N = 32, 64, 2048


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


DIFFAUGMENT = GANTrainConfig.diffaugment


#: brushwork's model in the quality runs: (--width, --base-width, --z-dim); main() sets MODEL from its options
DEFAULT_MODEL = (16, 192, 512)
MODEL = DEFAULT_MODEL


def _ours_config(model: tuple[int, int | None, int], seed: int, steps: int = 10**9) -> GANTrainConfig:
    width, base, z = model
    return GANTrainConfig(size=SIZE, width=width, base_width=base, z_dim=z, batch=BATCH, steps=steps, seed=seed,
                          diffaugment=DIFFAUGMENT)


def _model_name(model: tuple[int, int | None, int]) -> str:
    width, base, z = model
    return f"width {width}" + (f", 4 x 4 width {base}" if base else "") + f", z {z}"


def _forward_flops(g: torch.nn.Module, d: torch.nn.Module, z: torch.Tensor) -> float:
    """FLOPs of one generator and one discriminator forward pass per image (torch's flop counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    was = g.training, d.training
    g.eval(), d.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        d(g(z))
    g.train(was[0]), d.train(was[1])
    return float(counter.get_total_flops())


def _ref_batches(data: torch.Tensor, seed: int):
    """Like the script's DataLoader(shuffle=True): every image once per epoch, in a seeded order."""
    gen = torch.Generator().manual_seed(seed)
    while True:
        perm = torch.randperm(len(data), generator=gen)
        for i in range(0, len(perm), BATCH):
            yield data[perm[i:i + BATCH]].float() / 127.5 - 1.0


def train_ref(data: torch.Tensor, seed: int, seconds: float, out: Path) -> dict:
    torch.manual_seed(seed)
    model = DCGAN(SIZE, nc=data.shape[1])
    batches = _ref_batches(data, seed)
    t0, c0, steps = time.perf_counter(), _cpu_seconds(), 0
    while time.perf_counter() - t0 < seconds:
        model.step(next(batches))
        steps += 1
    wall = time.perf_counter() - t0
    torch.save(model.g.state_dict(), out / "netG.pth")
    return {"steps": steps, "images": steps * BATCH, "wall_s": wall, "cpu_s": _cpu_seconds() - c0,
            "params": model.parameters()}


def train_ours(data: torch.Tensor, seed: int, seconds: float, out: Path, model: tuple) -> dict:
    t0, c0 = time.perf_counter(), _cpu_seconds()
    trainer = train_gan(data, str(out), config=_ours_config(model, seed), progress=False, time_limit=seconds,
                        resume=False)  # a fresh run, like the reference's, even where --runs holds an old one
    wall = time.perf_counter() - t0
    gan = trainer.model
    params = sum(p.numel() for p in gan.g.parameters()) + sum(p.numel() for p in gan.d.parameters())
    return {"steps": trainer.step, "images": trainer.step * BATCH, "wall_s": wall, "cpu_s": _cpu_seconds() - c0,
            "params": params}


def worker(args: argparse.Namespace) -> None:
    """One training run in its own process (so each has its own thread count)."""
    torch.set_num_threads(args.threads)
    data = load_images("fashion-mnist", SIZE)[0]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seconds = args.minutes * 60
    res = train_ref(data, args.seed, seconds, out) if args.worker == "ref" else train_ours(data, args.seed, seconds, out,
                                                                                          MODEL)
    (out / "result.json").write_text(json.dumps(res))


@functools.lru_cache(maxsize=1)
def _throughput_data() -> torch.Tensor:
    return load_images("fashion-mnist", SIZE)[0][:8192]


def throughput(kind: str, model: tuple | None, seconds: float, warmup: int = 5) -> dict:
    """Images/s of one recipe's training, alone on the machine (all cores)."""
    data = _throughput_data()
    if kind == "ref":
        model = DCGAN(SIZE, nc=1)
        batches = _ref_batches(data, 0)
        for _ in range(warmup):
            model.step(next(batches))
        t0, steps = time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            model.step(next(batches))
            steps += 1
        return {"images_per_s": steps * BATCH / (time.perf_counter() - t0), "params": model.parameters(),
                "flops": _forward_flops(model.g, model.d, torch.randn(1, model.nz, 1, 1))}
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:  # the real recipe: engine, EMA, DiffAugment, logging
        trainer = train_gan(data, tmp, config=_ours_config(model, 0, warmup + 100_000), progress=False,
                            collapse_check=False, time_limit=seconds + 1)  # (+ the warm-up, about a second)
        h = trainer.history
        # time_limit counts from the first step; measure from the end of the warm-up instead
        t, n = h[-1]["seconds"] - h[warmup - 1]["seconds"], len(h) - warmup
        gan = trainer.model
        params = sum(p.numel() for p in gan.g.parameters()) + sum(p.numel() for p in gan.d.parameters())
        return {"images_per_s": n * BATCH / t, "params": params, "flops": _forward_flops(gan.g, gan.d, torch.randn(1, gan.cfg.z_dim))}


def interleaved(recipes: dict[str, tuple[str, tuple | None]], seconds: float, rounds: int = 5) -> dict[str, dict]:
    """Each recipe's throughput as the median of ``rounds`` turns of ``seconds / rounds``, the recipes
    taking turns: the machine's speed drifts by 10-20% over minutes, and turns spread the drift evenly."""
    runs: dict[str, list[dict]] = {name: [] for name in recipes}
    for _ in range(rounds):
        for name, (kind, model) in recipes.items():
            runs[name].append(throughput(kind, model, seconds / rounds))
    out = {}
    for name, rs in runs.items():
        ips = sorted(r["images_per_s"] for r in rs)
        out[name] = {**rs[0], "images_per_s": ips[len(ips) // 2], "turns": [r["images_per_s"] for r in rs]}
    return out


def _real_test_images(n: int) -> np.ndarray:
    import torch.nn.functional as F

    from brushwork.datasets import load_arrays

    x = torch.from_numpy(load_arrays("fashion-mnist")[2][:n])[:, None].float()
    x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False).round().clamp(0, 255)
    return np.repeat(x.to(torch.uint8).permute(0, 2, 3, 1).numpy(), 3, axis=3)


def _samples_ref(path: Path, n: int) -> np.ndarray:
    from dcgan_reference import NetG

    g = NetG(SIZE, nc=1)
    g.load_state_dict(torch.load(path, weights_only=True))
    g.train()  # as the script samples: batch statistics
    gen = torch.Generator().manual_seed(12345)
    out = []
    with torch.no_grad():
        for i in range(0, n, 64):
            x = g(torch.randn(min(64, n - i), 100, 1, 1, generator=gen))
            out.append(((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy())
    return np.repeat(np.concatenate(out), 3, axis=3)


def _samples_ours(folder: Path, n: int) -> np.ndarray:
    from brushwork.pipelines.gan import load_gan, sample

    gan, _ = load_gan(folder)
    return sample(gan, list(range(10_000, 10_000 + n)), batch=256)


def evaluate(run_dirs: dict[str, Path]) -> dict:
    from brushwork.pipelines.gan import features, fid, kid
    from brushwork.weights import load_encoder

    encoder = load_encoder("efficientnet-lite0")
    f_real = features(_real_test_images(EVAL_N), encoder)
    out = {}
    for name, d in run_dirs.items():
        imgs = _samples_ref(d / "netG.pth", EVAL_N) if name.startswith("ref") else _samples_ours(d, EVAL_N)
        f = features(imgs, encoder)
        k, k_std = kid(f_real, f, subsets=100, subset_size=1000)
        out[name] = {"kid": k, "kid_std": k_std, "fid": fid(f_real, f)}
        print(name, out[name], flush=True)
    return out


def gpu_throughput(device: str, size: int, batch: int, steps: int,
                   models: list[tuple[int, int | None, int]]) -> list[dict]:
    """Training images/s at ``size`` px: the reference fp32 and bf16, brushwork bf16 + channels_last + compile
    at each ``(width, base_width, z_dim)`` of ``models``."""

    rows = []
    dev = torch.device(device)
    real = torch.rand(batch, 3, size, size, device=dev) * 2 - 1

    def timed(step) -> float:
        for _ in range(5):
            step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(steps):
            step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        return batch * steps / (time.perf_counter() - t)

    for prec in ("fp32", "bf16"):
        ref = DCGAN(size, nc=3, device=device)
        if prec == "bf16":
            ref.crit = _bce_fp32  # CUDA's autocast refuses BCELoss; the networks still run in bf16

        def ref_step():
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=prec == "bf16"):
                ref.step(real)

        rows.append({"model": "reference DCGAN", "precision": prec, "images_per_s": timed(ref_step),
                     "params": ref.parameters()})
        print(json.dumps(rows[-1]), flush=True)
    for model in models:
        rows.append(_gpu_ours(dev, size, batch, model, real, timed))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def _bce_fp32(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The reference's BCELoss outside autocast, in fp32 (what autocast's error message advises)."""
    with torch.autocast(out.device.type, enabled=False):
        return torch.nn.functional.binary_cross_entropy(out.float(), target.float())


def _gpu_ours(dev: torch.device, size: int, batch: int, model: tuple[int, int | None, int], real: torch.Tensor,
              timed) -> dict:
    from brushwork.losses import d_loss, g_loss
    from brushwork.models.gan import GAN, GANConfig
    from brushwork.training.diffaugment import diff_augment

    cfg = GANConfig(size=size, width=model[0], base_width=model[1], z_dim=model[2])
    gan = GAN(cfg).to(dev).to(memory_format=torch.channels_last)
    opt_g = torch.optim.Adam(gan.g.parameters(), lr=2e-4, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(gan.d.parameters(), lr=2e-4, betas=(0.0, 0.99))
    g_fwd = torch.compile(gan.g) if dev.type == "cuda" else gan.g
    d_fwd = torch.compile(gan.d) if dev.type == "cuda" else gan.d
    real_cl = real.contiguous(memory_format=torch.channels_last)

    def ours_step():
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            fake = g_fwd(torch.randn(batch, cfg.z_dim, device=dev))
            loss_d = d_loss(d_fwd(diff_augment(real_cl, "translation,cutout")),
                            d_fwd(diff_augment(fake.detach(), "translation,cutout")))
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            loss_g = g_loss(d_fwd(diff_augment(fake, "translation,cutout")))
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        gan.update_ema(0.999)

    params = sum(p.numel() for p in gan.g.parameters()) + sum(p.numel() for p in gan.d.parameters())
    return {"model": f"brushwork GAN, {_model_name(model)}", "precision": "bf16, channels_last"
            + (", compiled" if dev.type == "cuda" else ""), "images_per_s": timed(ours_step), "params": params}


def gpu_block(res: dict) -> str:
    """The GPU table, between its own markers (``--gpu-only`` replaces just this)."""
    gpu = res.get("gpu")
    if gpu is None:  # a CPU rerun keeps the last GPU measurement
        saved = sorted((HERE / "gpu").glob("gan_gpu_*.json"))
        gpu = json.loads(saved[-1].read_text()) if saved else None
    lines = ["<!-- gan-gpu:start -->"]
    if not gpu or gpu["device"] != "cuda":
        lines.append("GPU (64 px, batch 128; target >= 3x the reference's 9,000 fp32 / 12,000 bf16 images/s on an "
                     "H200): not yet measured (`--gpu-only` on a CUDA machine).")
    else:
        refs = [r for r in gpu["rows"] if r["model"] == "reference DCGAN"]
        best = max(r["images_per_s"] for r in refs)
        ref_params = refs[0]["params"]
        lines += [f"GPU, measured {gpu.get('date', res['date'])} ({gpu['name']}, torch {gpu.get('torch', res['torch'])}), "
                  "64 px, batch 128, training images/s after a warm-up; ratio to the reference's faster precision:",
                  "", "| model | precision | parameters (G + D) | images/s | ratio |", "|---|---|---|---|---|"]
        lines += [f"| {r['model']} | {r['precision']} | {r['params'] / 1e6:.2f} M | {r['images_per_s']:.0f} | "
                  f"{r['images_per_s'] / best:.2f}x |" for r in gpu["rows"]]
        ours = [r for r in gpu["rows"] if r["model"] != "reference DCGAN"]
        at_size = [r for r in ours if r["params"] >= ref_params]
        ratio = max((r["images_per_s"] for r in ours), default=0.0) / best
        ratio_size = max((r["images_per_s"] for r in at_size), default=0.0) / best
        lines += ["", f"Target, >= 3x the reference: {'met' if ratio >= 3 else 'not met'} ({ratio:.2f}x; "
                  f"at equal or larger size {ratio_size:.2f}x)."]
    lines.append("<!-- gan-gpu:end -->")
    return "\n".join(lines)


def throughput_block(res: dict) -> str:
    """The throughput table, between its own markers (``--throughput-only`` replaces just this)."""
    tp = res["throughput"]
    ref_tp, our_tp = tp["ref"], tp["ours"]
    lines = [
        "<!-- gan-throughput:start -->",
        f"Training throughput, measured {res['date']} (`--throughput-seconds {res['throughput_seconds']:g}`), each alone "
        f"with every core, the median of 5 turns of {res['throughput_seconds'] / 5:g} s, the recipes taking turns:",
        "",
        "| recipe | parameters (G + D) | forward MFLOPs per image (G + D) | images/s | ratio |",
        "|---|---|---|---|---|",
    ]
    rows = [("reference DCGAN", ref_tp), (f"brushwork GAN, {res['model_name']} (the quality runs' model)", our_tp)]
    rows += [(f"brushwork GAN, {e['name']}", e) for e in tp.get("others", [])]
    for name, r in rows:
        lines.append(f"| {name} | {r['params'] / 1e6:.2f} M | {r['flops'] / 1e6:.0f} | {r['images_per_s']:.0f} | "
                     f"{r['images_per_s'] / ref_tp['images_per_s']:.2f}x |")
    at_size = [r for r in (our_tp, *tp.get("others", [])) if r["params"] >= ref_tp["params"]]
    ratio = max((r["images_per_s"] for r in at_size), default=0.0) / ref_tp["images_per_s"]
    lines += ["", f"Target, throughput >= 1.5x the reference at equal or larger size: "
              f"{'met' if ratio >= 1.5 else 'not met'} ({ratio:.2f}x; the reference has {ref_tp['params'] / 1e6:.2f} M "
              "parameters).", "<!-- gan-throughput:end -->"]
    return "\n".join(lines)


def write(res: dict) -> str:
    seeds = res["seeds"]
    lines = [
        "<!-- gan-benchmark:start -->",
        "## GANs: brushwork vs the pytorch/examples DCGAN (Fashion-MNIST, 32 px)",
        "",
        f"Measured {res['date']} by `python benchmarks/gan_vs_dcgan.py --minutes {res['minutes']:g}` on "
        f"{res['machine']}, {res['cores']} cores, torch {res['torch']}. The reference is the script's networks, "
        "initialisation, loss and training step at 32 px (benchmarks/dcgan_reference.py); brushwork runs "
        f"`train_gan` with its defaults at {res['model_name']} (EMA generator, spectral norm, DiffAugment "
        f"'{res['diffaugment']}', non-saturating loss, the collapse check every 500 steps), batch 64 like the "
        "reference. KID and FID: 2,048 samples against 2,048 Fashion-MNIST test images, EfficientNet-Lite0 pooled "
        "features at 224 px (not comparable with Inception-based numbers); KID over 100 subsets of 1,000.",
        "",
        throughput_block(res),
    ]
    lines += [
        "",
        f"Quality after {res['minutes']:g} minutes of training per run, both runs of a seed at once with one core each "
        "(steps, KID +- its spread over subsets, FID; lower is better):",
        "",
        "| seed | reference: steps, KID, FID | brushwork: steps, KID, FID |",
        "|---|---|---|",
    ]
    kr, ko = [], []
    for s in seeds:
        r, o = s["ref"], s["ours"]
        kr.append(r["kid"])
        ko.append(o["kid"])
        lines.append(f"| {s['seed']} | {r['steps']}, {r['kid']:.3f} +- {r['kid_std']:.3f}, {r['fid']:.1f} | "
                     f"{o['steps']}, {o['kid']:.3f} +- {o['kid_std']:.3f}, {o['fid']:.1f} |")
    lines += [f"| mean KID | {np.mean(kr):.3f} | {np.mean(ko):.3f} (ratio {np.mean(ko) / np.mean(kr):.2f}; "
              "target < 1.00) |", ""]
    lines += [f"Target, KID below the reference's at equal time: {'met' if np.mean(ko) < np.mean(kr) else 'not met'} "
              f"({np.mean(ko) / np.mean(kr):.2f}x, {sum(o < r for o, r in zip(ko, kr))} of {len(kr)} seeds).", ""]
    lines.append(gpu_block(res))
    lines.append("<!-- gan-benchmark:end -->")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0, help="training time per run (wall clock, one core)")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--width", type=int, default=DEFAULT_MODEL[0], help="brushwork's --width for the quality runs")
    ap.add_argument("--base-width", type=int, default=DEFAULT_MODEL[1], help="brushwork's --base-width (0: the doubling rule)")
    ap.add_argument("--z-dim", type=int, default=DEFAULT_MODEL[2], help="brushwork's --z-dim")
    ap.add_argument("--also", default="16:0:128",
                    help="also time these models, WIDTH:BASE:Z,... (BASE 0: the doubling rule; '' for none)")
    ap.add_argument("--throughput-seconds", type=float, default=60.0)
    ap.add_argument("--throughput-only", action="store_true",
                    help="measure and rewrite only the throughput table (no 30-minute quality runs)")
    ap.add_argument("--runs", default=str(ROOT / "runs" / "gan_vs_dcgan"), help="where the trained runs go")
    ap.add_argument("--gpu", action="store_true", help="also measure GPU throughput (CUDA)")
    ap.add_argument("--gpu-only", action="store_true", help="measure only GPU throughput and rewrite only its table")
    ap.add_argument("--gpu-models", default="16:192:512,32:384:512",
                    help="brushwork models for the GPU table, WIDTH:BASE:Z,... (BASE 0: the doubling rule)")
    ap.add_argument("--gpu-smoke", action="store_true", help="run the GPU measurement on the CPU, tiny (a test)")
    ap.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    ap.add_argument("--diffaugment", default=GANTrainConfig.diffaugment, help="brushwork's DiffAugment policy ('' for none)")
    ap.add_argument("--worker", choices=["ref", "ours"], help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    global DIFFAUGMENT, MODEL
    DIFFAUGMENT = args.diffaugment
    MODEL = (args.width, args.base_width or None, args.z_dim)
    if args.worker:
        return worker(args)
    gpu_models = [(int(w), int(b) or None, int(z)) for w, b, z in (m.split(":") for m in args.gpu_models.split(",") if m)]
    if args.gpu_smoke:
        print(json.dumps(gpu_throughput("cpu", 32, 8, 2, gpu_models), indent=1))
        return
    if args.gpu_only:
        if not torch.cuda.is_available():
            raise SystemExit("--gpu-only needs CUDA (--gpu-smoke tries the code on the CPU)")
        saved = HERE / "results" / "gan_vs_dcgan.json"
        full = json.loads(saved.read_text()) if saved.is_file() else {"date": dt.date.today().isoformat(),
                                                                      "torch": torch.__version__}
        full["gpu"] = {"device": "cuda", "name": torch.cuda.get_device_name(), "date": dt.date.today().isoformat(),
                       "torch": torch.__version__, "rows": gpu_throughput("cuda", 64, 128, 200, gpu_models)}
        block = gpu_block(full)
        print(block)
        if not args.no_write:
            update_benchmarks_md("gan-gpu", block)
            saved.parent.mkdir(exist_ok=True)
            saved.write_text(json.dumps(full, indent=1))
            # kept in the repository, as the AdaIN GPU runs are (benchmarks/results/ is not): gpu_summary.py reads it
            (HERE / "gpu" / f"gan_gpu_{full['gpu']['date']}.json").write_text(json.dumps(full["gpu"], indent=1))
        return
    res = {"date": dt.date.today().isoformat(), "machine": platform.machine(), "cores": os.cpu_count(),
           "torch": torch.__version__, "minutes": args.minutes, "width": args.width, "model": list(MODEL),
           "model_name": _model_name(MODEL),
           "throughput_seconds": args.throughput_seconds,
           "diffaugment": args.diffaugment}
    torch.set_num_threads(os.cpu_count() or 1)
    recipes = {"ref": ("ref", None), "ours": ("ours", MODEL)}
    others = [(int(w), int(b) or None, int(z)) for w, b, z in (m.split(":") for m in args.also.split(",") if m)]
    recipes.update({_model_name(m): ("ours", m) for m in others})
    found = interleaved(recipes, args.throughput_seconds)
    res["throughput"] = {"ref": found["ref"], "ours": found["ours"],
                         "others": [{"name": _model_name(m), **found[_model_name(m)]} for m in others]}
    print(json.dumps(res["throughput"]), flush=True)
    if args.throughput_only:  # refresh the throughput table inside the section, keep the quality rows
        saved = HERE / "results" / "gan_vs_dcgan.json"
        full = json.loads(saved.read_text()) if saved.is_file() else None
        if full is not None and full.get("model") != list(MODEL):
            raise SystemExit(f"the quality rows were measured with {full.get('model_name', 'another model')}: "
                             "give the same --width, --base-width and --z-dim (or run the full benchmark)")
        block = throughput_block(res)
        print(block)
        if not args.no_write:
            update_benchmarks_md("gan-throughput", block)
            if full is not None:  # the last full run's record, with this throughput in place of its own
                full.update(throughput=res["throughput"], throughput_seconds=res["throughput_seconds"],
                            throughput_date=res["date"])
                saved.write_text(json.dumps(full, indent=1))
        return
    runs = Path(args.runs)
    res["seeds"] = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        dirs = {"ref": runs / f"ref_seed{seed}", "ours": runs / f"ours_w{args.width}_b{args.base_width}_z{args.z_dim}_seed{seed}"}
        procs = []
        for kind, d in dirs.items():
            cmd = [sys.executable, __file__, "--worker", kind, "--seed", str(seed), "--threads", "1",
                   "--minutes", str(args.minutes), "--width", str(args.width), "--base-width", str(args.base_width),
                   "--z-dim", str(args.z_dim), "--out", str(d),
                   "--diffaugment", args.diffaugment]
            procs.append(subprocess.Popen(cmd))
        if any(p.wait() != 0 for p in procs):
            raise SystemExit(f"a training run of seed {seed} failed")
        quality = evaluate(dirs)
        row = {"seed": seed}
        for kind, d in dirs.items():
            row[kind] = {**json.loads((d / "result.json").read_text()), **quality[kind]}
        res["seeds"].append(row)
        print(json.dumps(row), flush=True)
        (runs / "partial.json").write_text(json.dumps(res, indent=1))  # a crash later keeps the seeds done
    if args.gpu and torch.cuda.is_available():
        res["gpu"] = {"device": "cuda", "name": torch.cuda.get_device_name(), "date": res["date"],
                      "torch": torch.__version__, "rows": gpu_throughput("cuda", 64, 128, 200, gpu_models)}
    section = write(res)
    print(section)
    if not args.no_write:
        out = HERE / "results" / "gan_vs_dcgan.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(res, indent=1))
        update_benchmarks_md("gan-benchmark", section)


if __name__ == "__main__":
    main()
