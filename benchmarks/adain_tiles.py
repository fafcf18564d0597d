"""AdaIN's tile size on the CPU: time to stylize a large picture in tiles of each size, side by side in one run.

The shipped decoder's full-size layers (16 channels at the picture's own resolution) are bound by memory
traffic; a 1024 px tile's activations (64 MB a layer in float32) outgrow a CPU's caches where a 512 px tile's
(16 MB) do not, so smaller tiles run faster per pixel even though their overlaps (128 px) are a larger share.
This measures ``adain_transfer`` alone (the model: encoding for the global statistics, the blend, decoding and
the blend of the overlaps; no file reading or writing, no colour match), on the bundled coffee photo enlarged to
each size and the Starry Night, with the torch threads the machine gives (2 on CI's machines). Rounds alternate
the tile sizes; the table gives each one's fastest round, and its ratio to 1024 px tiles (brushwork 0.2.10's
default; 0.2.11's on a CPU is 512 px). It also gives the largest difference from the untiled picture at 1024 px.

Usage: ``python benchmarks/adain_tiles.py [--rounds 3]``. Writes a section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import cpu_name, load_resized, update_benchmarks_md  # noqa: E402

from brushwork.models.adain import AdaINNet  # noqa: E402
from brushwork.weights import load_decoder, load_encoder  # noqa: E402
from brushwork.pipelines.adain import adain_transfer  # noqa: E402
from brushwork.pipelines.stylize import CPU_TILE, TILE, sample_path  # noqa: E402

TILES = (None, 1024, 768, 512, 384)  # None: one pass over the whole picture


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sizes", default="1024,2048,4096")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    net = AdaINNet(load_encoder("efficientnet-lite0"), load_decoder()).eval()
    style = load_resized(sample_path("starry_night.jpg"), 512)
    times: dict[tuple[int, int | None], list[float]] = {}
    diffs: dict[int | None, float] = {}
    with torch.no_grad():
        for size in sizes:
            photo = load_resized(sample_path("coffee.jpg"), size)
            tiles = [t for t in TILES if not (t is None and size > 2048)]  # (one pass over 4096 px: 4+ GB, minutes)
            for _ in range(args.rounds if size <= 2048 else 1):
                for tile in tiles:
                    t0 = time.perf_counter()
                    out = adain_transfer(net, photo, [style], alpha=1.0, tile=tile)
                    times.setdefault((size, tile), []).append(time.perf_counter() - t0)
                    if size == min(sizes) and tile not in diffs:  # (the smallest size: its one pass is cheap)
                        diffs[tile] = float(out.sub(adain_transfer(net, photo, [style], alpha=1.0,
                                                                   tile=None)).abs().max()) * 255
                    print(f"{size} px, tile {tile}: {times[(size, tile)][-1]:.2f} s", flush=True)
    lines = [
        "<!-- adain-tiles:start -->",
        "## AdaIN tile size on the CPU",
        "",
        f"Measured {dt.date.today().isoformat()} by `python benchmarks/adain_tiles.py` on {cpu_name()}, "
        f"{os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads: `adain_transfer` "
        "alone (the shipped decoder, strength 1, no colour match, no file reading or writing), the fastest of "
        f"{args.rounds} alternating rounds (one at 4096 px). brushwork's default tile on a CPU: {CPU_TILE} px "
        f"(elsewhere {TILE} px; 1024 px on every device before 0.2.11).",
        "",
        "| picture | " + " | ".join("one pass" if t is None else f"{t} px tiles" for t in TILES) + " |",
        "|---|" + "---|" * len(TILES),
    ]
    for size in sizes:
        base = min(times[(size, 1024)])
        cells = []
        for tile in TILES:
            if (size, tile) not in times:
                cells.append("-")
                continue
            best = min(times[(size, tile)])
            cells.append(f"{best:.2f} s ({base / best:.2f}x)")
        lines.append(f"| {size} x {size} | " + " | ".join(cells) + " |")
    lines += ["", f"(x: speed relative to 1024 px tiles.) Largest difference from the one-pass picture at "
              f"{min(sizes)} px, in 0-255 levels: " + ", ".join(f"{t} px tiles {diffs[t]:.1f}" for t in TILES
                                                               if t is not None and t in diffs),
              "<!-- adain-tiles:end -->"]
    update_benchmarks_md("adain-tiles", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
