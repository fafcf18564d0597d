"""The art-medium classifier: k-fold metrics of its recipe and a check on images from other packages.

* k-fold: ``brushwork classify eval RUN_DIR art-medium --kfold 5`` (folds grouped by source, see
  src/brushwork/datasets/medium.py) writes RUN_DIR/eval/kfold.json; this script reads it;
* outside check: the shipped classifier (``--model medium``) on images from packages it never saw,
  labelled by hand below: scikit-image's sample photos, textures and logo, scikit-learn's and
  matplotlib's sample photos and logo, and Dungeon Crawl's title paintings and 32 px tiles
  (``brushwork data fetch crawl-tiles skimage-samples``). None of these packages feeds art-medium.

Writes the "art-medium" section of BENCHMARKS.md.
Usage: ``python benchmarks/medium_benchmark.py --run-dir runs/medium``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import update_benchmarks_md  # noqa: E402

from brushwork.datasets import fetch  # noqa: E402
from brushwork.pipelines.classify import load_classifier, predict_images  # noqa: E402

# Hand labels (file name without the collection's numeric prefix). Images whose medium is unclear
# (diagrams, greyscale scientific images, cartoons between clip art and painting) are left out.
OUTSIDE = {
    "skimage-samples": {
        "photo": ["astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg"],
        "texture": ["brick.png", "grass.png", "gravel.png"],
        "clip-art": ["logo.png"],
    },
    "crawl-tiles": {  # title art: the picture below the "dungeon crawl" lettering
        "painting": ["title_Cws_Minotauros.png", "title_arbituhhh_tesu.png", "title_e_m_fields.png",
                     "title_kaonedong_ignis_the_dying_flame.png", "title_kaonedong_menkaure_prince_of_dust.png",
                     "title_nibiki_octopode.png", "title_froggy_goodgod_tengu_gold.png",
                     "title_froggy_natasha_and_boris.png", "title_white_noise_entering_the_dungeon.png",
                     "title_white_noise_grabbing_the_orb.png", "title_firemage.png", "title_omndra_zot_demon.png"],
    },
}
# Sample images inside PyPI wheels this project installs anyway (scikit-learn, matplotlib).
WHEEL_IMAGES = {
    "photo": [("sklearn", "datasets/images/china.jpg"), ("sklearn", "datasets/images/flower.jpg"),
              ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg")],
    "clip-art": [("matplotlib", "mpl-data/sample_data/logo2.png")],
}
TILE_SHEETS = ("main.png", "player.png")  # crawl's 32 px pixel-art tiles, cut from these sheets
TILES = 24


def _by_name(collection: str) -> dict[str, Path]:
    folder = fetch(collection)
    return {p.name.split("_", 1)[1]: p for p in folder.iterdir() if "_" in p.name}


def outside_set(tmp: Path) -> list[tuple[Path, str]]:
    items = []
    for collection, media in OUTSIDE.items():
        files = _by_name(collection)
        for medium, names in media.items():
            for n in names:
                p = files[n]
                if n.startswith("title_"):  # drop the lettering at the top
                    im = Image.open(p).convert("RGB")
                    p = tmp / n
                    im.crop((0, im.height // 5, im.width, im.height)).save(p)
                items.append((p, medium))
    import importlib

    for medium, entries in WHEEL_IMAGES.items():
        for module, rel in entries:
            items.append((Path(importlib.import_module(module).__file__).parent / rel, medium))
    files = _by_name("crawl-tiles")
    cells = []
    for sheet in TILE_SHEETS:
        im = Image.open(files[sheet]).convert("RGBA")
        for y in range(0, im.height - 31, 32):
            for x in range(0, im.width - 31, 32):
                cell = im.crop((x, y, x + 32, y + 32))
                if (np.asarray(cell)[..., 3] > 0).mean() > 0.3:
                    cells.append((sheet, x, y, cell))
    for i in np.linspace(0, len(cells) - 1, TILES).astype(int):
        sheet, x, y, cell = cells[i]
        p = tmp / f"tile_{Path(sheet).stem}_{x}_{y}.png"
        cell.save(p)
        items.append((p, "pixel-art"))
    return items


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", required=True, help="the training run (with eval/kfold.json)")
    ap.add_argument("--model", default="medium", help="classifier to check outside (default: the shipped one)")
    args = ap.parse_args(argv)
    run = Path(args.run_dir)
    kfold = json.loads((run / "eval" / "kfold.json").read_text())
    train_cfg = json.loads((run / "checkpoint" / "config.json").read_text())
    log = (run / "log.csv").read_text().strip().splitlines()
    train_s = float(log[-1].split(",")[-1])
    model, cfg = load_classifier(args.model)
    with tempfile.TemporaryDirectory() as tmp_s:
        items = outside_set(Path(tmp_s))
        preds = predict_images(model, cfg, [str(p) for p, _ in items], top_k=1)
    truth = [m for _, m in items]
    got = [p["top"][0]["label"] for p in preds]
    media = sorted(set(truth))
    per = {m: (sum(t == m and g == m for t, g in zip(truth, got)), truth.count(m)) for m in media}
    misses = [f"{Path(p).name} ({t} -> {g})" for (p, t), g in zip(items, got) if t != g]
    acc = float(np.mean([t == g for t, g in zip(truth, got)]))
    s = kfold["summary"]
    lines = [
        "<!-- medium-benchmark:start -->",
        "## Art-medium classifier (EfficientNet-Lite0 fine-tuned, shipped as `--model medium`)",
        "",
        f"Measured {dt.date.today().isoformat()} on {platform.machine()}, 2 cores, CPU. Data: `art-medium` "
        "(1,600 images, five media from Debian packages, normalised to one format and size range; "
        "the model measured is the one shipped, trained by that command; "
        "docs/classify.md). Recipe: `brushwork classify train art-medium --model efficientnet-lite0 --size "
        f"{train_cfg['train']['size']} --epochs {train_cfg['train']['epochs']} --batch {train_cfg['train']['batch']} "
        f"--lr {train_cfg['train']['lr']} --augment {train_cfg['train']['augment']}`, {train_s / 60:.1f} min of training.",
        "",
        f"{kfold['k']}-fold cross-validation of the recipe, folds grouped by source (no photo, painting, "
        "pattern, clip-art category or sprite faction on both sides), `brushwork classify eval RUN "
        f"art-medium --kfold {kfold['k']}`:",
        "",
        "| metric | mean | std |",
        "|---|---|---|",
        *(f"| {k} | {v['mean']:.4f} | {v['std']:.4f} |" for k, v in s.items()),
        "",
        f"Outside the training packages (hand-labelled, `python benchmarks/medium_benchmark.py`): **{acc:.1%}** "
        f"of {len(items)} images right: " + ", ".join(f"{m} {c}/{n}" for m, (c, n) in per.items()) + ".",
        "",
        "Missed: " + ("; ".join(misses) if misses else "none") + ".",
        "<!-- medium-benchmark:end -->",
    ]
    section = "\n".join(lines)
    update_benchmarks_md("medium-benchmark", section)
    print(section)


if __name__ == "__main__":
    main()
