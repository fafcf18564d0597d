"""Prepare the training images that benchmarks/adain_gpu_session.sh carries to a GPU machine.

A device call carries at most 64 MiB, so the packaged datasets are shrunk once, here: content photos
to a long side of 768 px, styles to 512 px (clip art composited over white, a seeded sample of 900
clip-art files), JPEG quality ``--quality`` (default 75; the shipped decoder trained on quality 90, 38 MB,
which no longer fits beside the repository's 14 MB and the 18 MB of encoder weights); images whose
short side ends up under 256 px (the crop size) are left out. The shipped decoder's MANIFEST.json lists
the counts this produced on 2026-11-28.
Usage: ``python benchmarks/adain_gpu_data.py [--out .gpu/data] [--quality 75]`` (fetches the datasets if needed).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from PIL import Image

from brushwork.datasets import fetch, list_images

CONTENT = ("mate-backgrounds", "plasma-wallpapers", "opencv-samples")
STYLE = ("wesnoth-art", "krita-patterns", "gimp-patterns", "openclipart")
SAMPLE = {"openclipart": 900}
CROP = 256


def pack(role: str, sources, max_side: int, out: Path, rng: random.Random, quality: int) -> dict[str, int]:
    folder = out / role
    folder.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name in sources:
        files = [f for f in list_images(fetch(name)) if "screenshot" not in f.name]  # plasma's previews
        if name in SAMPLE:
            files = rng.sample(files, SAMPLE[name])
        n = 0
        for f in files:
            try:
                with Image.open(f) as im:
                    im.draft("RGB", (max_side, max_side))
                    im.load()
                    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                        im = Image.alpha_composite(Image.new("RGBA", im.size, (255,) * 4), im.convert("RGBA"))
                    im = im.convert("RGB")
            except (OSError, SyntaxError, Image.DecompressionBombError):
                continue
            im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
            if min(im.size) < CROP:
                continue
            im.save(folder / f"{name}_{f.stem}.jpg", quality=quality)
            n += 1
        counts[name] = n
        print(role, name, n, flush=True)
    return counts


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=".gpu/data")
    ap.add_argument("--quality", type=int, default=75, help="JPEG quality (default 75: the device call's 64 MiB)")
    args = ap.parse_args(argv)
    rng = random.Random(0)
    Image.MAX_IMAGE_PIXELS = 200_000_000  # plasma's 5K wallpapers are trusted package files
    pack("content", CONTENT, 768, Path(args.out), rng, args.quality)
    pack("style", STYLE, 512, Path(args.out), rng, args.quality)


if __name__ == "__main__":
    main()
