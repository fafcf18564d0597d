"""Sweep Gatys settings on the offline default encoder and print the quality measures of each.

Used to choose ``GATYS_PRESETS["efficientnet-lite0"]``; the table it printed is in
docs/style-transfer.md. Usage: ``python benchmarks/tune_gatys.py [--size 384] [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metrics import Judge  # noqa: E402

from brushwork.imaging.io import read_image, to_tensor  # noqa: E402
from brushwork.imaging.resampling import fit_long_side, resize  # noqa: E402
from brushwork.pipelines.gatys import GATYS_PRESETS, optimize  # noqa: E402
from brushwork.pipelines.stylize import sample_path  # noqa: E402
from brushwork.weights import load_encoder  # noqa: E402

BASE = GATYS_PRESETS["efficientnet-lite0"]
STAGES = ("stage1", "stage2", "stage3", "stage4", "stage5")
B1DW = ("stem", "block1.dw", "block3.expand", "block5.expand", "block8.expand")


# Round 1 varied one thing at a time around the untuned start (expand taps, no TV, 100+100 evals,
# style weight 10); round 2 refined around the best of round 1 (TV 1) for speed and style match.
START = replace(BASE, tv_weight=0.0, range_weight=0.0, style_weight=10.0, steps=100, coarse_steps=100, scales=2)
# The chosen preset is round 7's "range100-tv3-sw50-3scales-80+80+40".
ROUNDS = {
    1: {
        "stage-outputs": dict(style_taps=STAGES, content_taps=("stage4",)),
        "expand (start)": {},
        "expand-1scale-200": dict(scales=1, steps=200),
        "expand-tv1": dict(tv_weight=1.0),
        "expand-tv10": dict(tv_weight=10.0),
        "expand-sw30": dict(style_weight=30.0),
        "expand-3scales": dict(scales=3, steps=60, coarse_steps=80),
        "expand-meanstd": dict(style_loss="gram+meanstd"),
        "expand-adam": dict(optimizer="adam", lr=0.02),
        "expand-c-block5": dict(content_taps=("block5.expand",)),
        "dw-taps": dict(style_taps=("stem", "block1.dw", "block3.dw", "block5.dw", "block8.dw"),
                        content_taps=("block8.dw",)),
    },
    2: {
        "tv1-sw20": dict(tv_weight=1.0, style_weight=20.0),
        "tv1-sw20-120+60": dict(tv_weight=1.0, style_weight=20.0, coarse_steps=120, steps=60),
        "tv2-sw20-120+60": dict(tv_weight=2.0, style_weight=20.0, coarse_steps=120, steps=60),
        "tv1-sw15-150+50": dict(tv_weight=1.0, style_weight=15.0, coarse_steps=150, steps=50),
        "tv1-sw20-3scales-100+50": dict(tv_weight=1.0, style_weight=20.0, scales=3, coarse_steps=100, steps=50),
        "stages-tv1-sw20-120+60": dict(style_taps=STAGES, content_taps=("stage4",), tv_weight=1.0,
                                       style_weight=20.0, coarse_steps=120, steps=60),
    },
    3: {
        "tv2-sw30-120+60": dict(tv_weight=2.0, style_weight=30.0, coarse_steps=120, steps=60),
        "tv3-sw30-120+60": dict(tv_weight=3.0, style_weight=30.0, coarse_steps=120, steps=60),
        "tv2-sw20-3scales-80+50": dict(tv_weight=2.0, style_weight=20.0, scales=3, coarse_steps=80, steps=50),
        "tv2-sw30-3scales-80+50": dict(tv_weight=2.0, style_weight=30.0, scales=3, coarse_steps=80, steps=50),
    },
    # Round 4 (three pairs: + astronaut): a stronger style weight, and block1.dw (96 ch at /4)
    # instead of block1.expand (96 ch at /2), whose Gram matrix alone cost a quarter of each evaluation.
    4: {
        "tv3-sw50-120+60": dict(tv_weight=3.0, style_weight=50.0, coarse_steps=120, steps=60),
        "tv3-sw50-100+50": dict(tv_weight=3.0, style_weight=50.0, coarse_steps=100, steps=50),
        "b1dw-tv3-sw50-120+60": dict(style_taps=B1DW, tv_weight=3.0, style_weight=50.0, coarse_steps=120, steps=60),
        "b1dw-tv3-sw50-100+50": dict(style_taps=B1DW, tv_weight=3.0, style_weight=50.0, coarse_steps=100, steps=50),
        "b1dw-tv4-sw70-100+50": dict(style_taps=B1DW, tv_weight=4.0, style_weight=70.0, coarse_steps=100, steps=50),
    },
    # Round 5: most evaluations at the cheap coarse scale, strong style weights.
    5: {
        "tv4-sw80-150+50": dict(tv_weight=4.0, style_weight=80.0, coarse_steps=150, steps=50),
        "tv5-sw100-150+50": dict(tv_weight=5.0, style_weight=100.0, coarse_steps=150, steps=50),
        "tv4-sw80-200+40": dict(tv_weight=4.0, style_weight=80.0, coarse_steps=200, steps=40),
        "tv4-sw80-3scales-100+100+40": dict(tv_weight=4.0, style_weight=80.0, scales=3, coarse_steps=100, steps=40),
    },
    # Round 6: TV on the unclamped image plus a penalty outside [0, 1] (against stuck, saturated
    # pixels), and a one-matmul Gram backward (faster evaluations).
    6: {
        "range100-tv3-sw50-120+60": dict(range_weight=100.0, tv_weight=3.0, style_weight=50.0, coarse_steps=120, steps=60),
        "range100-tv3-sw50-3scales-100+100+50": dict(range_weight=100.0, tv_weight=3.0, style_weight=50.0, scales=3,
                                                     coarse_steps=100, steps=50),
        "range100-tv4-sw80-3scales-100+100+40": dict(range_weight=100.0, tv_weight=4.0, style_weight=80.0, scales=3,
                                                     coarse_steps=100, steps=40),
        "range10-tv3-sw50-3scales-100+100+50": dict(range_weight=10.0, tv_weight=3.0, style_weight=50.0, scales=3,
                                                    coarse_steps=100, steps=50),
    },
    # Round 7: the same with fewer evaluations, to fit a third of the textbook's time.
    7: {
        "range100-tv3-sw50-3scales-80+80+40": dict(range_weight=100.0, tv_weight=3.0, style_weight=50.0, scales=3,
                                                   coarse_steps=80, steps=40),
        "range100-tv3-sw50-150+40": dict(range_weight=100.0, tv_weight=3.0, style_weight=50.0, coarse_steps=150,
                                         steps=40),
    },
}


def variants(round_: int):
    return {name: replace(START, **kw) for name, kw in ROUNDS[round_].items()}


def pairs(round_: int):
    p = [(sample_path("chelsea.jpg"), sample_path("starry_night.jpg")),
         (sample_path("coffee.jpg"), sample_path("starry_night.jpg"))]
    if round_ >= 4:  # noqa: PLR2004
        from skimage import data

        p.append((data.astronaut(), sample_path("starry_night.jpg")))
    return p


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--strength", type=float, default=0.5)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--round", type=int, default=7, choices=sorted(ROUNDS))
    ap.add_argument("--save", type=Path)
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    enc = load_encoder("efficientnet-lite0")
    judge = Judge()
    rows = []
    for name, cfg in variants(args.round).items():
        if args.only and name not in args.only:
            continue
        agg = {"style": 0.0, "content": 0.0, "hf": 0.0, "seconds": 0.0}
        ps = pairs(args.round)
        for i, (cp, sp) in enumerate(ps):
            c = to_tensor(read_image(cp).rgb)
            c = resize(c, fit_long_side(c.shape[-1], c.shape[-2], args.size))
            s = to_tensor(read_image(sp).rgb)
            s = resize(s, fit_long_side(s.shape[-1], s.shape[-2], args.size))
            t = time.perf_counter()
            out, info = optimize(enc, c, [s], config=cfg, strength=args.strength)
            dt = time.perf_counter() - t
            m = judge(out, c, s)
            for k in ("style", "content", "hf"):
                agg[k] += m[k] / len(ps)
            agg["seconds"] += dt / len(ps)
            if args.save:
                from brushwork.imaging.io import from_tensor, save_image
                args.save.mkdir(parents=True, exist_ok=True)
                save_image(from_tensor(out), args.save / f"{name}-{i}.png")
        row = {"variant": name, **{k: round(v, 4) for k, v in agg.items()}}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


if __name__ == "__main__":
    main()
