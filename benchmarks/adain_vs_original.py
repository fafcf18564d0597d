"""brushwork's AdaIN (EfficientNet-Lite0 + shipped decoder) against the original AdaIN network.

Side by side in one run on the CPU:

* speed per 512 px image: brushwork's default (the model, then the picture's colours and detail matched to
  the style's, ``--match full``) vs the original architecture (normalised VGG-19 to relu4_1 + mirrored
  decoder, eager fp32, random weights: only timing is asked of it);
* quality on the same pairs as benchmarks/gatys_vs_textbook.py (judged by EfficientNet-Lite1),
  against the textbook Gatys baseline; the same model with ``--transform wct`` (whitening-colouring
  in place of AdaIN) beside it, and both with ``--match none`` (the decoder's picture as it is);
* decoder reconstruction (strength 0) PSNR on photos held out of training (scikit-image's);
* peak memory of a 4096 x 4096 stylization in a fresh process (tiled, global statistics).

Writes a section of BENCHMARKS.md. Usage: ``python benchmarks/adain_vs_original.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from common import cpu_name, load_resized, quality_ratio_lines, update_benchmarks_md  # noqa: E402
from metrics import Judge  # noqa: E402
from textbook_gatys import textbook_gatys  # noqa: E402

from brushwork.functional import adain  # noqa: E402
from brushwork.imaging.resampling import resize  # noqa: E402
from brushwork.models.adain import AdaINNet  # noqa: E402
from brushwork.models.encoders import ENCODERS  # noqa: E402
from brushwork.models.vgg_adain import VGGAdaINDecoder, VGGNormalisedEncoder  # noqa: E402
from brushwork.pipelines.adain import adain_transfer, match_styles  # noqa: E402
from brushwork.pipelines.stylize import sample_path  # noqa: E402
from brushwork.weights import load_decoder, load_encoder  # noqa: E402



def _time_blocks(fns: dict, rounds: int, calls: int = 3) -> dict[str, list[float]]:
    """Seconds per call of each function: ``rounds`` rounds, in each a block per function of one
    warm-up call and ``calls`` timed calls. Blocks, because a user's run repeats one model (VGG's
    2.5 s of work leaves the small model's caches cold: one call after it is ~1.5x slower);
    rounds, so that a slow spell of this shared 2-core VM hits every model alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            fn()
            for _ in range(calls):
                t = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t)
    return times


def reference_layout(net: AdaINNet, c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """The original network as its published code runs it: PyTorch's default (NCHW) memory layout throughout,
    not the channels-last layout brushwork's :class:`AdaINNet` gives every network's convolutions."""
    fc, fs = (net.encoder(x, [net.tap])[net.tap] for x in (c, s))
    return torch.nn.Sequential.forward(net.decoder, adain(fc, fs)).clamp(0.0, 1.0)


@torch.no_grad()
def speed(rounds: int) -> dict:
    ours = AdaINNet(load_encoder("efficientnet-lite0"), load_decoder())
    torch.manual_seed(0)
    orig = AdaINNet(VGGNormalisedEncoder().eval(), VGGAdaINDecoder().eval())
    c = load_resized(sample_path("coffee.jpg"), 512)  # 512 x 341
    c = resize(c, (512, 512))
    s = load_resized(sample_path("starry_night.jpg"), 512)
    t = _time_blocks({"ours": lambda: match_styles(ours(c, s), [s])[0], "original": lambda: orig(c, s),
                      "wct": lambda: match_styles(ours(c, s, 1.0, "wct"), [s])[0],
                      "plain": lambda: ours(c, s), "original_nchw": lambda: reference_layout(orig, c, s)}, rounds)
    return {**{k: float(np.median(v)) for k, v in t.items()},
            "decoder_params": sum(p.numel() for p in ours.decoder.parameters())}


def speed_in_processes(rounds: int, processes: int) -> dict:
    """:func:`speed` in fresh processes, medians over them: on this VM one process's small-model
    time lands anywhere from 0.12 to 0.25 s (the same code, nothing else running), VGG's within 5 %."""
    runs = []
    for _ in range(processes):
        run = subprocess.run([sys.executable, __file__, "--speed-only", "--rounds", str(rounds)],
                             capture_output=True, text=True)
        if run.returncode != 0:
            raise SystemExit(f"a speed run failed:\n{run.stderr[-3000:]}")
        runs.append(json.loads(run.stdout.strip().splitlines()[-1]))
        print("speed run", runs[-1], flush=True)
    med = {k: float(np.median([r[k] for r in runs])) for k in ("ours", "original", "wct", "plain", "original_nchw")}
    ratios = {k: sorted(r["original"] / r[k] for r in runs) for k in ("ours", "wct", "plain")}  # each process's
    return {**med, "ratio": {k: med["original"] / med[k] for k in ("ours", "wct", "plain")}, "spread": ratios,
            "rounds": rounds, "processes": processes, "decoder_params": runs[0]["decoder_params"]}


RECON_PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "immunohistochemistry", "motorcycle_left")


def quality_pairs(size: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """The Gatys benchmark's pairs: (name, content, style) at ``size``."""
    from skimage import data

    style = load_resized(sample_path("starry_night.jpg"), size)
    return [(name, load_resized(cp, size), style)
            for name, cp in (("chelsea", sample_path("chelsea.jpg")), ("coffee", sample_path("coffee.jpg")),
                             ("astronaut", data.astronaut()))]


def recon_image(name: str, size: int) -> torch.Tensor:
    """A scikit-image photo held out of decoder training, at ``size``."""
    from skimage import data

    return load_resized(getattr(data, name)() if name != "motorcycle_left" else data.stereo_motorcycle()[0], size)


def quality(size: int):
    enc = load_encoder("efficientnet-lite0")
    net = AdaINNet(enc, load_decoder())
    spec = ENCODERS["efficientnet-lite0"]
    judge = Judge("efficientnet-lite1")
    rows = []
    for name, c, s in quality_pairs(size):
        base = textbook_gatys(enc, c, s, spec.style_taps, spec.content_taps)
        with torch.no_grad():
            plain = adain_transfer(net, c, [s], alpha=1.0, tile=None)
            wct_plain = adain_transfer(net, c, [s], alpha=1.0, tile=None, transform="wct")
            ours, wct = match_styles(plain, [s])[0], match_styles(wct_plain, [s])[0]  # the default: --match full
        rows.append({"pair": name, "base": judge(base, c, s), "ours": judge(ours, c, s), "wct": judge(wct, c, s),
                     "plain": judge(plain, c, s), "wct_plain": judge(wct_plain, c, s)})
        print(name, rows[-1], flush=True)
    return rows


@torch.no_grad()
def reconstruction(size: int) -> list[tuple[str, float]]:
    net = AdaINNet(load_encoder("efficientnet-lite0"), load_decoder())
    out = []
    for name in RECON_PHOTOS:
        c = recon_image(name, size)
        y = adain_transfer(net, c, [c], alpha=0.0, tile=None)
        mse = float((y - c).pow(2).mean())
        out.append((name, 10 * np.log10(1.0 / mse)))
    return out


def memory_4096() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        from PIL import Image

        big = Path(tmp) / "big.png"
        Image.open(sample_path("coffee.jpg")).resize((4096, 4096), Image.Resampling.BICUBIC).save(big)
        cmd = [sys.executable, "-m", "brushwork", "stylize", str(big), str(sample_path("starry_night.jpg")),
               "--method", "adain", "--size", "4096", "-o", str(Path(tmp) / "out.png"), "-q"]
        t = time.perf_counter()
        proc = subprocess.Popen(cmd)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's peak alone (RUSAGE_CHILDREN: the largest child so far)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
        if proc.returncode != 0:
            raise SystemExit(f"the 4096 px stylization failed (exit code {proc.returncode})")
        return usage.ru_maxrss / 2**20, time.perf_counter() - t


def write(sp, rows, recon, mem) -> str:
    lines = [
        "<!-- adain-benchmark:start -->",
        "## AdaIN: brushwork's default model vs the original AdaIN network",
        "",
        f"Measured {dt.date.today().isoformat()} by `python benchmarks/adain_vs_original.py` on {cpu_name()} "
        f"({platform.machine()}), "
        f"{os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads, CPU fp32 eager.",
        "",
        f"| per 512 x 512 image (median over {sp['processes']} fresh processes, each {sp['rounds']} rounds of 3 calls "
        "per model) | seconds | speed-up (of the medians; each process's) | target |",
        "|---|---|---|---|",
        f"| original AdaIN (VGG-19 to relu4_1 + mirrored decoder, random weights) | {sp['original']:.3f} | 1.0x | |",
        f"| the same in PyTorch's default NCHW layout, as its published code runs it | {sp['original_nchw']:.3f} | "
        f"{sp['original'] / sp['original_nchw']:.2f}x (brushwork's default is {sp['original_nchw'] / sp['ours']:.1f}x "
        "faster than it) | |",
        f"| brushwork's default (EfficientNet-Lite0 + {sp['decoder_params'] / 1e6:.2f} M-parameter decoder, then "
        f"`--match full`) | {sp['ours']:.3f} | "
        f"{sp['ratio']['ours']:.1f}x ({', '.join(f'{r:.1f}' for r in sp['spread']['ours'])}) | >= 10x |",
        f"| the same with `--transform wct` (whitening-colouring in place of AdaIN) | {sp['wct']:.3f} | "
        f"{sp['ratio']['wct']:.1f}x ({', '.join(f'{r:.1f}' for r in sp['spread']['wct'])}) | |",
        f"| the model alone (`--match none`: the decoder's picture as it is) | {sp['plain']:.3f} | "
        f"{sp['ratio']['plain']:.1f}x ({', '.join(f'{r:.1f}' for r in sp['spread']['plain'])}) | |",
        "",
        "Every model runs its convolutions in channels-last memory layout, as brushwork runs them (oneDNN's own "
        "layout; `conv_layout` in `models/adain.py`); the ratios are to the original network run the same way. "
        "Fresh processes, because on the 2-core VM where this was written a whole process ran the small model at "
        "one of two speeds in the default layout (0.12 s or 0.22-0.25 s per image on 2026-11-29, the same code with "
        "nothing else running): each process's ratio is listed.",
        "",
        "Quality at 384 px, strength 1, the same three pairs as the Gatys benchmark, judged by EfficientNet-Lite1 "
        "(lower is better); brushwork's default, `--match full`: the decoder's picture with its colours and the "
        "contrast of its detail at each scale matched to the style's (docs/adain.md):",
        "",
        "| mean over pairs | textbook Gatys | brushwork AdaIN | ratio | target |",
        "|---|---|---|---|---|",
        *quality_ratio_lines(rows, {"style": "<= 1.00", "content": "<= 1.00"}),
        "",
        "The same decoder with `--transform wct`: the content's features whitened and coloured with the style's "
        "covariance (Li et al. 2017) instead of AdaIN's per-channel mean and std:",
        "",
        "| mean over pairs | textbook Gatys | brushwork WCT | ratio | |",
        "|---|---|---|---|---|",
        *quality_ratio_lines([{"base": r["base"], "ours": r["wct"]} for r in rows], {}),
        "",
        "Both with `--match none`, the decoder's picture as it is (the default before 2026-11-29):",
        "",
        "| mean over pairs | textbook Gatys | AdaIN, unmatched | ratio | WCT, unmatched | ratio |",
        "|---|---|---|---|---|---|",
        *_unmatched_lines(rows),
        "",
        "Decoder reconstruction at strength 0 (PSNR, 512 px, scikit-image photos held out of training): "
        + ", ".join(f"{n} {p:.1f} dB" for n, p in recon)
        + f"; mean **{np.mean([p for _, p in recon]):.1f} dB** (target >= 18 dB).",
    ]
    if mem is not None:
        lines += ["", f"Peak memory (max RSS) of a 4096 x 4096 `--method adain` stylization in a fresh process: "
                  f"**{mem[0]:.2f} GiB** (target < 4 GB), {mem[1]:.0f} s."]
    lines += ["", *gpu_lines(), "<!-- adain-benchmark:end -->"]
    return "\n".join(lines)


def _unmatched_lines(rows) -> list[str]:
    a = quality_ratio_lines([{"base": r["base"], "ours": r["plain"]} for r in rows], {})
    w = quality_ratio_lines([{"base": r["base"], "ours": r["wct_plain"]} for r in rows], {})
    # each line: "| name | base | ours | ratio | target |": keep AdaIN's cells, add WCT's value and ratio
    out = []
    for la, lw in zip(a, w):
        ca, cw = la.strip("|").split("|"), lw.strip("|").split("|")
        out.append("|" + "|".join(ca[:4] + cw[2:4]) + "|")
    return out


def gpu_lines() -> list[str]:
    """The newest GPU run of benchmarks/adain_gpu.py saved under benchmarks/gpu/ (measured there, not here)."""

    runs = sorted((HERE / "gpu").glob("adain_gpu_*.json"))
    if not runs:
        return ["GPU figures (benchmarks/adain_gpu.py): not yet measured."]
    r = json.loads(runs[-1].read_text())
    ms = r["ms_per_image"]
    lines = [f"GPU, from `{runs[-1].relative_to(ROOT)}` (`python benchmarks/adain_gpu.py` on an {r['device']}, "
             f"torch {r['torch']}, {r['size']} px, batch {r['batch']}; ms per image; inference):", "",
             "| variant | " + " | ".join(k.split(": ")[0] for k in ms if k.endswith("eager fp32")) + " |",
             "|---|" + "---|" * sum(k.endswith("eager fp32") for k in ms)]
    models = [k.split(": ")[0] for k in ms if k.endswith("eager fp32")]
    variants = list(dict.fromkeys(k.split(": ", 1)[1] for k in ms))
    for v in variants:
        cells = [f"{ms[f'{m}: {v}']:.3f}" if f"{m}: {v}" in ms else "" for m in models]
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    lines += ["", *(f"* {m}: {note}" for m, note in r.get("notes", {}).items())]
    return lines


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--processes", type=int, default=3,
                    help="time the models in this many fresh processes and report the medians")
    ap.add_argument("--speed-only", action="store_true", help="time the models in this process, print JSON, write nothing")
    args = ap.parse_args(argv)
    if args.speed_only:
        print(json.dumps(speed(args.rounds)), flush=True)
        return
    sp = speed_in_processes(args.rounds, args.processes)
    print("speed", sp, flush=True)
    recon = reconstruction(512)
    print("recon", recon, flush=True)
    rows = quality(args.size)
    mem = None if args.skip_memory else memory_4096()
    section = write(sp, rows, recon, mem)
    update_benchmarks_md("adain-benchmark", section)
    print(section)


if __name__ == "__main__":
    main()
