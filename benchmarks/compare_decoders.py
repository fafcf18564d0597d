"""Compare trained AdaIN decoders side by side, as benchmarks/adain_vs_original.py judges the shipped one.

For each decoder folder (config.json + model.safetensors; any encoder tap): reconstruction PSNR at
strength 0 on scikit-image photos held out of training (512 px), and style/content distance judged by
EfficientNet-Lite1 on the Gatys benchmark's three pairs (384 px), as ratios to the textbook Gatys
baseline computed once in the same run. Prints a Markdown table (no file is written).
Usage: ``python benchmarks/compare_decoders.py DIR [DIR ...] [--transform wct]`` (``shipped`` names
the decoder shipped with brushwork).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from adain_vs_original import RECON_PHOTOS, quality_pairs, recon_image  # noqa: E402
from metrics import Judge  # noqa: E402
from textbook_gatys import textbook_gatys  # noqa: E402

from brushwork.models.adain import AdaINNet  # noqa: E402
from brushwork.models.encoders import ENCODERS  # noqa: E402
from brushwork.pipelines.adain import adain_transfer  # noqa: E402
from brushwork.weights import load_decoder, load_encoder  # noqa: E402


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("decoders", nargs="+")
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--transform", default="adain", choices=["adain", "wct"], help="the feature transform judged")
    args = ap.parse_args(argv)
    enc = load_encoder("efficientnet-lite0")
    spec = ENCODERS["efficientnet-lite0"]
    judge = Judge("efficientnet-lite1")
    pairs = quality_pairs(args.size)
    base = [judge(textbook_gatys(enc, c, s, spec.style_taps, spec.content_taps), c, s) for _, c, s in pairs]
    photos = [recon_image(n, 512) for n in RECON_PHOTOS]
    print(f"transform: {args.transform}")
    print("| decoder | tap | recon PSNR (dB) | style ratio | content ratio |")
    print("|---|---|---|---|---|")
    for d in args.decoders:
        dec = load_decoder(None if d == "shipped" else d)
        net = AdaINNet(enc, dec)
        with torch.no_grad():
            psnr = [10 * np.log10(1 / float((adain_transfer(net, c, [c], alpha=0.0, tile=None) - c).pow(2).mean()))
                    for c in photos]
            scores = [judge(adain_transfer(net, c, [s], alpha=1.0, tile=None, transform=args.transform), c, s)
                      for _, c, s in pairs]
        # ratio of means over the pairs, as BENCHMARKS.md reports it
        style = np.mean([o["style"] for o in scores]) / np.mean([b["style"] for b in base])
        content = np.mean([o["content"] for o in scores]) / np.mean([b["content"] for b in base])
        print(f"| {d} | {'+'.join(dec.config.taps)} | {np.mean(psnr):.2f} | {style:.2f}x | {content:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
