"""`brushwork palette` against colorthief and Pylette on 14.7 MP photos, side by side in one run.

The photos: two of KDE Plasma's 5120 x 2880 wallpapers (`brushwork data fetch plasma-wallpapers`):
Altai (mountains) and SafeLanding (the most detailed: its JPEG is the largest), each saved once as a
baseline JPEG (what cameras write) and once as a progressive JPEG, quality 92.

* time as a user runs it: ``brushwork palette FILE -k 6 --json`` as a fresh process, start-up
  included (median of 5); also brushwork's decode + palette in this process, like the libraries:
  colorthief (quality=10) and Pylette (KMeans, MedianCut), decoding included (median of 5);
* quality: mean OKLab distance from every pixel of the full-resolution photo to its nearest
  palette colour (lower is better); Pylette's KMeans: the median error of its 5 runs;
* decode times of the file alone: full, and JPEG draft mode at 1/8 scale.

Also draws docs/images/crops_vs_smartcrop.jpg: brushwork's best 1:1 crop next to smartcrop.py's on
the same photos. Writes a section of BENCHMARKS.md.
Usage: ``python benchmarks/palette_vs_libraries.py`` (needs ``pip install -e .[bench]``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from common import update_benchmarks_md  # noqa: E402

from brushwork.color.palette import palette_error  # noqa: E402
from brushwork.datasets import fetch, list_images  # noqa: E402

RUNS = 5
COMMAND_RUNS = 11
SEEDS = 10


def _median_time(fn, runs: int = RUNS):
    times, results = [], []
    for _ in range(runs):
        t = time.perf_counter()
        results.append(fn())
        times.append(time.perf_counter() - t)
    return statistics.median(times), results


PHOTOS = {"Altai": "usr/share/wallpapers/Altai/contents/images/5120x2880.png",
          "SafeLanding": "usr/share/wallpapers/SafeLanding/contents/images/5120x2880.jpg"}


def _photo(tmp: Path, name: str) -> tuple[Path, Path, np.ndarray]:
    folder = fetch("plasma-wallpapers")
    manifest = json.loads((folder.parent / "manifest.json").read_text())
    src = folder / next(f["file"] for f in manifest["files"] if f["source"] == PHOTOS[name])
    Image.MAX_IMAGE_PIXELS = None
    im = Image.open(src).convert("RGB")
    base, prog = tmp / f"{name}_baseline.jpg", tmp / f"{name}_progressive.jpg"
    im.save(base, quality=92)
    im.save(prog, quality=92, progressive=True)
    return base, prog, np.asarray(im, np.float32) / 255.0


def _brushwork_in_process(path: Path) -> float:
    from brushwork.color.palette import extract_palette
    from brushwork.imaging.io import read_image

    def run():
        img = read_image(path, draft=512)
        return extract_palette(img.rgb, img.alpha, k=6)

    return _median_time(run)[0]


def _seed_errors(path: Path, pixels: np.ndarray) -> tuple[float, float]:
    """The lowest and highest error of brushwork's palette over seeds 0-9 (the command uses seed 0)."""
    from brushwork.color.palette import extract_palette
    from brushwork.imaging.io import read_image

    img = read_image(path, draft=512)
    errors = [palette_error(pixels, extract_palette(img.rgb, img.alpha, k=6, seed=s)) for s in range(SEEDS)]
    return min(errors), max(errors)


def _script(name: str) -> list[str]:
    """The console script a user types (``brushwork``, ``pylette``), installed beside this Python."""
    exe = Path(sys.executable).parent / name
    return [str(exe)] if exe.exists() else [sys.executable, "-m", name]


def _brushwork(path: Path) -> tuple[float, np.ndarray]:
    exe = [*_script("brushwork"), "palette", str(path), "-k", "6", "--json"]
    t, outs = _median_time(lambda: subprocess.run(exe, check=True, capture_output=True, text=True).stdout,
                           COMMAND_RUNS)
    colors = np.array([c["rgb"] for c in json.loads(outs[0])["colors"]]) / 255.0
    return t, colors


def _colorthief(path: Path) -> tuple[float, np.ndarray]:
    from colorthief import ColorThief

    t, outs = _median_time(lambda: ColorThief(str(path)).get_palette(color_count=6, quality=10))
    return t, np.array(outs[0][:6]) / 255.0


def _pylette(path: Path, mode: str) -> tuple[float, list[np.ndarray]]:
    from pylette import extract_colors

    def run():
        pal = extract_colors(image=str(path), palette_size=6, mode=mode)
        return np.array([c.rgb for c in pal.colors]) / 255.0

    return _median_time(run)


def _pylette_command(path: Path) -> float:
    """Pylette's own command (``pylette FILE --mode KMeans --palette-size 6``), start-up included."""
    with tempfile.TemporaryDirectory() as tmp:  # it writes a CSV unless asked not to
        exe = [*_script("pylette"), str(path), "--mode", "KMeans", "--palette-size", "6", "--no-stdout",
               "--out-filename", str(Path(tmp) / "palette.json")]
        return _median_time(lambda: subprocess.run(exe, check=True, capture_output=True, cwd=tmp))[0]


def _decode(path: Path) -> tuple[float, float]:
    def full():
        with Image.open(path) as im:
            im.load()

    def draft():
        with Image.open(path) as im:
            im.draft("RGB", (im.width // 8, im.height // 8))
            im.load()

    def ours():  # brushwork's read_image: for a progressive JPEG at 1/8, only what that scale reads
        from brushwork.imaging.io import read_image

        read_image(path, draft=512)

    return _median_time(full)[0], _median_time(draft)[0], _median_time(ours)[0]


def palettes(photo: str, base: Path, prog: Path, pixels: np.ndarray) -> list[dict]:
    rows = []
    for label, path in (("baseline", base), ("progressive", prog)):
        t_full, t_draft, t_ours = _decode(path)
        row = {"file": f"{photo}, {label}", "decode": t_full, "decode_draft": t_draft, "decode_ours": t_ours,
               "in_process": _brushwork_in_process(path)}
        row["brushwork"] = (lambda t, c: (t, palette_error(pixels, c)))(*_brushwork(path))
        row["seeds"] = _seed_errors(path, pixels)
        row["colorthief"] = (lambda t, c: (t, palette_error(pixels, c)))(*_colorthief(path))
        t, pals = _pylette(path, "KMeans")
        errors = [palette_error(pixels, p) for p in pals]
        row["pylette_kmeans"] = (t, statistics.median(errors))
        row["pylette_runs"] = (min(errors), max(errors))
        row["pylette_command"] = _pylette_command(path)
        t, pals = _pylette(path, "MedianCut")
        row["pylette_mediancut"] = (t, palette_error(pixels, pals[0]))
        rows.append(row)
        print(label, row, flush=True)
    return rows


def crop_sheet(out: Path) -> None:
    """Best 1:1 crop by brushwork (yellow) and by smartcrop.py (cyan) on the same photos."""
    import smartcrop

    from brushwork.composition import suggest_crops
    from brushwork.imaging.io import read_image
    from brushwork.pipelines.stylize import sample_path

    files = [sample_path("chelsea.jpg"), sample_path("coffee.jpg")]
    files += [f for f in list_images(fetch("mate-backgrounds")) if f.stem.split("_", 1)[1] in ("LadyBird", "TwoWings",
                                                                                              "YellowFlower")]
    tiles = []
    for f in files:
        img = read_image(f, draft=640)
        pil = Image.fromarray((img.rgb * 255 + 0.5).astype(np.uint8))
        pil.thumbnail((480, 480))
        rgb = np.asarray(pil, np.float32) / 255
        ours = suggest_crops(rgb, ["1:1"])[0].box
        side = min(pil.size)
        sc = smartcrop.SmartCrop().crop(pil, side, side)["top_crop"]
        theirs = (sc["x"], sc["y"], sc["x"] + sc["width"], sc["y"] + sc["height"])
        draw = ImageDraw.Draw(pil)
        draw.rectangle([ours[0], ours[1], ours[2] - 1, ours[3] - 1], outline=(255, 214, 10), width=4)
        draw.rectangle([theirs[0] + 4, theirs[1] + 4, theirs[2] - 5, theirs[3] - 5], outline=(0, 200, 255), width=4)
        tiles.append(pil)
    w = sum(t.width for t in tiles) + 8 * (len(tiles) - 1)
    sheet = Image.new("RGB", (w, max(t.height for t in tiles)), "white")
    x = 0
    for t in tiles:
        sheet.paste(t, (x, 0))
        x += t.width + 8
    sheet.save(out, quality=88)


def write(rows: list[dict]) -> str:
    lines = [
        "<!-- palette-benchmark:start -->",
        "## Palettes: `brushwork palette` vs colorthief and Pylette",
        "",
        f"Measured {dt.date.today().isoformat()} by `python benchmarks/palette_vs_libraries.py` on {platform.machine()}, "
        f"{os.cpu_count()} cores: two 5120 x 2880 photos (14.7 MP; plasma-wallpapers' Altai and SafeLanding), k = 6, "
        f"median of {RUNS} runs ({COMMAND_RUNS} for the brushwork command: a start-up-bound time is noisy). "
        "brushwork is timed as a fresh `brushwork palette --json` process (start-up included), and Pylette's "
        "KMeans both as its own command (`pylette FILE --mode KMeans --palette-size 6`, start-up included) and "
        "in-process; the libraries in-process include decoding, not start-up. brushwork's read_image decodes a progressive JPEG's DC "
        "scans (and chroma's AC scans) only, the same pixels as Pillow's 1/8 draft (docs/creative.md). Error: mean OKLab distance from every pixel to its "
        "nearest palette colour (lower is better).",
        "",
        "| photo, JPEG | decode (full / Pillow draft 1/8 / brushwork's read_image) | brushwork command | brushwork in-process | colorthief (quality 10) "
        "| Pylette KMeans | Pylette MedianCut |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [f"{r[k][0]:.3f} s, {r[k][1]:.4f}" for k in ("colorthief", "pylette_kmeans", "pylette_mediancut")]
        lines.append(f"| {r['file']} | {r['decode']:.3f} / {r['decode_draft']:.3f} / {r['decode_ours']:.3f} s | {r['brushwork'][0]:.3f} s, "
                     f"{r['brushwork'][1]:.4f} | {r['in_process']:.3f} s | " + " | ".join(cells) + " |")
    lines += ["", "| photo, JPEG | command time (target: baseline < 0.25 s; progressive < draft decode + 0.15 s) | "
              "Pylette KMeans command / brushwork command (target >= 5x) | Pylette KMeans in-process / brushwork "
              "command (/ brushwork in-process) | error vs Pylette KMeans (target <= 1.00) | error range: brushwork "
              f"seeds 0-{SEEDS - 1} / Pylette KMeans {RUNS} runs |", "|---|---|---|---|---|---|"]
    for r in rows:
        limit = 0.25 if "baseline" in r["file"] else r["decode_draft"] + 0.15
        lines.append(f"| {r['file']} | {r['brushwork'][0]:.3f} s (limit {limit:.3f} s) | "
                     f"{r['pylette_command']:.2f} s / {r['brushwork'][0]:.3f} s = "
                     f"{r['pylette_command'] / r['brushwork'][0]:.1f}x | "
                     f"{r['pylette_kmeans'][0] / r['brushwork'][0]:.1f}x ({r['pylette_kmeans'][0] / r['in_process']:.1f}x) | "
                     f"{r['brushwork'][1] / r['pylette_kmeans'][1]:.2f} | {r['seeds'][0]:.4f}-{r['seeds'][1]:.4f} / "
                     f"{r['pylette_runs'][0]:.4f}-{r['pylette_runs'][1]:.4f} |")
    lines += [
        "",
        "Crops: docs/images/crops_vs_smartcrop.jpg shows brushwork's best 1:1 crop (yellow) and smartcrop.py's "
        "(cyan) on the same photos.",
        "<!-- palette-benchmark:end -->",
    ]
    return "\n".join(lines)


def main() -> None:
    # The timed commands start from bytecode, as after `pip install` (which compiles it). An editable
    # install whose sources changed since the last run, with PYTHONDONTWRITEBYTECODE set, would otherwise
    # recompile every changed module in every timed run (22 ms for cli.py alone).
    import compileall

    import brushwork

    compileall.compile_dir(str(Path(brushwork.__file__).parent), quiet=1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in PHOTOS:
            base, prog, pixels = _photo(Path(tmp), name)
            rows += palettes(name, base, prog, pixels)
    crop_sheet(ROOT / "docs" / "images" / "crops_vs_smartcrop.jpg")
    section = write(rows)
    update_benchmarks_md("palette-benchmark", section)
    print(section)


if __name__ == "__main__":
    main()
