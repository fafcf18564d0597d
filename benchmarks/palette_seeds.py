"""How much a palette depends on its seed: brushwork's coarse-to-fine fit against plain k-means starts.

On 30 photos (the JPEGs of mate-backgrounds and plasma-wallpapers, read at 512 px as the command does)
and seeds 0-5, k = 6:

* brushwork: ``extract_palette`` (12,000 pixels; six greedy k-means++ starts on every sixth pixel,
  the two best refined on all of them; docs/creative.md);
* plain: what it replaced, two k-means++ starts on 40,000 pixels (``kmeans(n_init=2)``), each
  refined by five k-medians steps, the lower mean distance kept.

Reports the time per palette (median), the error (mean OKLab distance of every pixel to its
nearest colour) of each method against the plain one, and the spread between a photo's best and
worst seed. Run: ``python benchmarks/palette_seeds.py`` (needs ``brushwork data fetch
mate-backgrounds plasma-wallpapers``).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import update_benchmarks_md  # noqa: E402

from brushwork.color.palette import extract_palette, kmeans, palette_error, palette_pixels  # noqa: E402
from brushwork.color.spaces import oklab_to_rgb  # noqa: E402
from brushwork.datasets import fetch, list_images  # noqa: E402
from brushwork.errors import BrushworkError  # noqa: E402
from brushwork.imaging.io import read_image  # noqa: E402

SEEDS = 6
PER_SET = {"mate-backgrounds": 16, "plasma-wallpapers": 14}


def plain(rgb: np.ndarray, seed: int) -> np.ndarray:
    lab, w = palette_pixels(rgb, sample=40_000, seed=seed)
    centers, _ = kmeans(lab, 6, weights=w, seed=seed, n_init=2, iters=15, medians=5)
    return np.clip(oklab_to_rgb(centers), 0.0, 1.0)


def photos() -> list[np.ndarray]:
    out = []
    for name, n in PER_SET.items():
        jpegs = [p for p in list_images(fetch(name)) if p.suffix.lower() in (".jpg", ".jpeg")]
        for path in jpegs[:n]:
            try:
                img = read_image(path, draft=512)
            except BrushworkError:
                continue
            if img.alpha is None:
                out.append(img.rgb)
    return out


def main() -> None:
    imgs = photos()
    err = {"plain": np.zeros((len(imgs), SEEDS)), "brushwork": np.zeros((len(imgs), SEEDS))}
    times: dict[str, list[float]] = {"plain": [], "brushwork": []}
    fits = {"plain": plain, "brushwork": lambda rgb, s: extract_palette(rgb, k=6, seed=s).rgb}
    for i, rgb in enumerate(imgs):
        for s in range(SEEDS):
            for name, fit in fits.items():
                t = time.perf_counter()
                colours = fit(rgb, s)
                times[name].append(time.perf_counter() - t)
                err[name][i, s] = palette_error(rgb, colours)
    ref = err["plain"].mean(1)
    lines = [
        "<!-- palette-seeds:start -->",
        "## Palettes: dependence on the seed",
        "",
        f"Measured {dt.date.today().isoformat()} by `python benchmarks/palette_seeds.py` on {platform.machine()}, "
        f"{os.cpu_count()} cores: {len(imgs)} photos (mate-backgrounds, plasma-wallpapers) at 512 px, k = 6, seeds "
        f"0-{SEEDS - 1}. Plain: two k-means++ starts on 40,000 pixels with k-medians steps (what brushwork did "
        "before); brushwork: six greedy starts on 2,000 pixels, the best two refined on 12,000 (docs/creative.md). "
        "Error relative to the plain method's mean over seeds on the same photo; spread = a photo's worst seed / best seed.",
        "",
        "| method | time per palette | error / plain (mean over photos) | spread, mean | spread, worst photo |",
        "|---|---|---|---|---|",
    ]
    for name in ("plain", "brushwork"):
        e = err[name]
        spread = e.max(1) / e.min(1)
        lines.append(f"| {name} | {statistics.median(times[name]) * 1e3:.1f} ms | {(e.mean(1) / ref).mean():.3f} | "
                     f"{(spread.mean() - 1) * 100:.1f}% | {(spread.max() - 1) * 100:.1f}% |")
    lines.append("<!-- palette-seeds:end -->")
    section = "\n".join(lines)
    update_benchmarks_md("palette-seeds", section)
    print(section)


if __name__ == "__main__":
    main()
