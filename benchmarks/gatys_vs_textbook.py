"""brushwork's Gatys stylizer against the textbook algorithm, side by side in one run.

Same images, same size, same encoder (EfficientNet-Lite0). Quality is judged by a different network
(EfficientNet-Lite1, see metrics.py). Writes a table into BENCHMARKS.md and a contact sheet to
docs/images/gatys_contact_sheet.jpg, and measures the peak memory of a 2048 px stylization in a
separate process.

Usage: ``python benchmarks/gatys_vs_textbook.py [--size 384] [--skip-memory]``
(needs ``pip install -e .[bench]`` for the Lite1 judge and scikit-image's sample photo).
"""

from __future__ import annotations

import argparse
import datetime as dt
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
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from common import load_resized, quality_ratio_lines, update_benchmarks_md  # noqa: E402
from metrics import Judge  # noqa: E402
from textbook_gatys import textbook_gatys  # noqa: E402

from brushwork.imaging.io import from_tensor, save_image  # noqa: E402
from brushwork.imaging.resampling import fit_long_side, resize  # noqa: E402
from brushwork.models.encoders import ENCODERS  # noqa: E402
from brushwork.models.adain import AdaINNet  # noqa: E402
from brushwork.pipelines.adain import adain_transfer, match_styles  # noqa: E402
from brushwork.pipelines.gatys import (ADAIN_INIT_OVERRIDES, GATYS_PRESETS, adain_init_alpha, optimize,  # noqa: E402
                                       with_overrides)
from brushwork.pipelines.stylize import sample_path  # noqa: E402
from brushwork.weights import load_decoder, load_encoder  # noqa: E402

ENCODER = "efficientnet-lite0"


def _pairs():
    from skimage import data

    astronaut = data.astronaut()
    return [
        ("chelsea", sample_path("chelsea.jpg"), sample_path("starry_night.jpg")),
        ("coffee", sample_path("coffee.jpg"), sample_path("starry_night.jpg")),
        ("astronaut", astronaut, sample_path("starry_night.jpg")),
    ]



def quality(size: int, strength: float):
    enc = load_encoder(ENCODER)
    spec = ENCODERS[ENCODER]
    judge = Judge("efficientnet-lite1")
    adain_net = AdaINNet(enc, load_decoder())
    fast = with_overrides(GATYS_PRESETS[ENCODER], **ADAIN_INIT_OVERRIDES)
    rows, sheet = [], []
    for name, cp, sp in _pairs():
        c, s = load_resized(cp, size), load_resized(sp, size)
        t = time.perf_counter()
        base = textbook_gatys(enc, c, s, spec.style_taps, spec.content_taps)
        t_base = time.perf_counter() - t
        t = time.perf_counter()
        ours, _ = optimize(enc, c, [s], config=GATYS_PRESETS[ENCODER], strength=strength)
        t_ours = time.perf_counter() - t
        t = time.perf_counter()  # `--init adain`: the AdaIN picture, matched (--init-match full), then 20 evaluations
        plain_start = adain_transfer(adain_net, c, [s], alpha=adain_init_alpha(strength), tile=None)
        start = match_styles(plain_start, [s], alpha=adain_init_alpha(strength))[0]
        from_adain, _ = optimize(enc, c, [s], config=fast, strength=strength, init=start)
        t_adain = time.perf_counter() - t
        from_plain, _ = optimize(enc, c, [s], config=fast, strength=strength, init=plain_start)  # --init-match none
        mb, mo, ma = judge(base, c, s), judge(ours, c, s), judge(from_adain, c, s)
        rows.append({"pair": name, "base": mb, "ours": mo, "t_base": t_base, "t_ours": t_ours,
                     "adain": ma, "t_adain": t_adain, "adain_plain": judge(from_plain, c, s)})
        print(name, f"baseline {t_base:.1f}s {mb}", f"brushwork {t_ours:.1f}s {mo}",
              f"--init adain {t_adain:.1f}s {ma}", flush=True)
        sheet.append([c, s, base, ours])
    return rows, sheet


def contact_sheet(sheet, path: Path, cell: int = 256) -> None:
    tiles = []
    for row in sheet:
        cells = []
        for img in row:
            w, h = fit_long_side(img.shape[-1], img.shape[-2], cell)
            im = from_tensor(resize(img, (w, h)))
            canvas = np.ones((cell, cell, 3), np.float32)
            y0, x0 = (cell - h) // 2, (cell - w) // 2
            canvas[y0:y0 + h, x0:x0 + w] = im
            cells.append(canvas)
        tiles.append(np.concatenate(cells, axis=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(np.concatenate(tiles, axis=0), path, quality=88)


def peak_memory(size: int) -> tuple[float, float]:
    """Peak RSS (GiB) and seconds of a default CLI stylization at ``size`` in a fresh process."""
    out = ROOT / "out" / f"bench_{size}.png"
    out.parent.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "brushwork", "stylize", "--sample-content", "--sample-style",
           "-o", str(out), "--size", str(size), "-q"]
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - t
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak_kib / 2**20, seconds


def _start_lines(rows) -> list[str]:
    """'| measure | textbook | matched start | ratio | unmatched start | ratio |' for the Lite1 measures."""
    out = []
    for key, label, fmt in (("style", "style distance", ".4f"), ("content", "content distance", ".4f"),
                            ("hf", "high-frequency energy", ".5f")):
        b, m, p = (float(np.mean([r[k][key] for r in rows])) for k in ("base", "adain", "adain_plain"))
        out.append(f"| {label} | {b:{fmt}} | {m:{fmt}} | {m / b:.2f} | {p:{fmt}} | {p / b:.2f} |")
    return out


def write_markdown(rows, size, strength, mem) -> str:
    t_b = float(np.mean([r["t_base"] for r in rows]))
    t_o = float(np.mean([r["t_ours"] for r in rows]))
    t_a = float(np.mean([r["t_adain"] for r in rows]))
    lines = [
        "<!-- gatys-benchmark:start -->",
        "## Gatys style transfer: brushwork vs the textbook algorithm",
        "",
        f"Measured {dt.date.today().isoformat()} by `python benchmarks/gatys_vs_textbook.py --size {size}` on "
        f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads. "
        f"Encoder for both: {ENCODER}; strength {strength}; {len(rows)} content photos with *The Starry Night*. "
        "Judge: EfficientNet-Lite1 (not the optimised network). Lower is better in every column but the ratio.",
        "",
        "| pair | method | style distance | content distance | HF energy | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        for label, side, tk in (("textbook", "base", "t_base"), ("brushwork", "ours", "t_ours"),
                                ("brushwork `--init adain`", "adain", "t_adain")):
            m = r[side]
            lines.append(f"| {r['pair']} | {label} | {m['style']:.4f} | {m['content']:.4f} | {m['hf']:.5f} | {r[tk]:.1f} |")
    lines += [
        "",
        "| mean over pairs | textbook | brushwork | brushwork / textbook | target |",
        "|---|---|---|---|---|",
        *quality_ratio_lines(rows, {"style": "<= 1.00", "content": "<= 1.00", "hf": "<= 0.70"}),
        f"| wall time (s) | {t_b:.1f} | {t_o:.1f} | {t_o / t_b:.2f} | <= 0.33 |",
        "",
        "`--init adain` (`brushwork stylize --init adain`): the same preset started from the shipped AdaIN "
        "decoder's picture (at twice the strength, at most 1) finished with the style's colours and detail "
        "(`--init-match full`, the default), one scale of 20 evaluations instead of 200 over three scales; its "
        "time includes the AdaIN pass. The last two columns start from the decoder's picture as it is "
        "(`--init-match none`, as before 2026-11-29):",
        "",
        "| mean over pairs | textbook | brushwork `--init adain` | ratio | `--init-match none` | ratio |",
        "|---|---|---|---|---|---|",
        *_start_lines(rows),
        f"| wall time (s) | {t_b:.1f} | {t_a:.1f} | {t_a / t_b:.2f} | | |",
    ]
    if mem is not None:
        gib, secs, msize = mem
        lines += ["", f"Peak memory (max RSS) of `brushwork stylize --sample-content --sample-style --size {msize}` "
                  f"(default settings, all scales, in a fresh process): **{gib:.2f} GiB** "
                  f"(target < 6 GB); it took {secs:.0f} s."]
    lines += ["", "Contact sheet (content, style, textbook, brushwork): "
              "[docs/images/gatys_contact_sheet.jpg](docs/images/gatys_contact_sheet.jpg)",
              "<!-- gatys-benchmark:end -->"]
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--strength", type=float, default=0.5)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--memory-size", type=int, default=2048)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    rows, sheet = quality(args.size, args.strength)
    contact_sheet(sheet, ROOT / "docs" / "images" / "gatys_contact_sheet.jpg")
    mem = None
    if not args.skip_memory:
        gib, secs = peak_memory(args.memory_size)
        mem = (gib, secs, args.memory_size)
        print(f"peak memory at {args.memory_size}px: {gib:.2f} GiB in {secs:.0f}s")
    section = write_markdown(rows, args.size, args.strength, mem)
    update_benchmarks_md("gatys-benchmark", section)
    print(section)


if __name__ == "__main__":
    main()
