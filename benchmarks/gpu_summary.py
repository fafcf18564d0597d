"""The GPU figures of the AdaIN (P2) and GAN (P5) benchmarks in one table, each recipe beside the
reference architecture measured in the same run (P8's "scaling out" summary).

Reads what the GPU scripts saved: the newest ``benchmarks/gpu/adain_gpu_*.json`` (``adain_gpu.py``) and
``benchmarks/gpu/gan_gpu_*.json`` (``gan_vs_dcgan.py --gpu-only``); measures
nothing itself. A recipe without GPU figures yet says so. Writes a section of BENCHMARKS.md.
Usage: ``python benchmarks/gpu_summary.py [--no-write]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import update_benchmarks_md  # noqa: E402


def _best(times: dict[str, float], prefix: str) -> tuple[str, float] | None:
    """The fastest variant whose name starts with ``prefix: `` (``brushwork: ...``, ``original: ...``)."""
    found = [(k.split(": ", 1)[1], v) for k, v in times.items() if k.startswith(prefix + ": ")]
    return min(found, key=lambda kv: kv[1]) if found else None


def adain_rows(path: Path | None) -> list[str]:
    if path is None:
        return ["| AdaIN, 512 px image, batch 16 | ms per image | not yet measured | | | |"]
    d = json.loads(path.read_text())
    times = d["ms_per_image"]
    rows = []
    for label, ours_prefix in (("AdaIN, 512 px image, batch 16", "brushwork"),
                               ("AdaIN, 512 px image, batch 16, one style for the batch", "brushwork, style cached")):
        ours, ref = _best(times, ours_prefix), _best(times, "original")
        if ours is None or ref is None:
            continue
        rows.append(f"| {label} | ms per image | {ours[1]:.3f} ({ours[0]}) | {ref[1]:.3f} ({ref[0]}) | "
                    f"{ref[1] / ours[1]:.1f}x | {d['device']}, torch {d['torch']}, `{path.relative_to(HERE.parent)}` |")
    eager = times.get("brushwork: eager fp32"), times.get("original: eager fp32")
    if all(eager):
        rows.append(f"| AdaIN, 512 px image, batch 16, eager fp32 | ms per image | {eager[0]:.3f} | {eager[1]:.3f} | "
                    f"{eager[1] / eager[0]:.1f}x | the same run |")
    return rows


def gan_rows(path: Path | None) -> list[str]:
    gpu = json.loads(path.read_text()) if path is not None else None
    if not gpu or gpu.get("device") != "cuda":
        return ["| GAN training, 64 px, batch 128 | images/s | not yet measured (`python benchmarks/gan_vs_dcgan.py "
                "--gpu-only` on a CUDA machine) | | | |"]
    refs = [r for r in gpu["rows"] if r["model"] == "reference DCGAN"]
    ref = max(refs, key=lambda r: r["images_per_s"])
    rows = []
    for r in gpu["rows"]:
        if r["model"] == "reference DCGAN":
            continue
        rows.append(f"| GAN training, 64 px, batch 128: {r['model'].removeprefix('brushwork GAN, ')} "
                    f"({r['params'] / 1e6:.2f} M parameters) | images/s | {r['images_per_s']:.0f} ({r['precision']}) | "
                    f"{ref['images_per_s']:.0f} ({ref['precision']}, {ref['params'] / 1e6:.2f} M) | "
                    f"{r['images_per_s'] / ref['images_per_s']:.2f}x | {gpu['name']}, {gpu.get('date', '')} |")
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = ap.parse_args(argv)
    adain = sorted((HERE / "gpu").glob("adain_gpu_*.json"))
    gan = sorted((HERE / "gpu").glob("gan_gpu_*.json"))
    lines = [
        "<!-- gpu-summary:start -->",
        "## GPU summary: each recipe against its reference architecture (P8)",
        "",
        "`python benchmarks/gpu_summary.py` gathers the GPU figures that the AdaIN and GAN benchmarks measured, "
        "brushwork and the reference in the same run (their sections above give every variant). Speed-up: "
        "the reference's time over brushwork's (AdaIN), brushwork's images/s over the reference's (GAN); each "
        "side at its fastest measured setting.",
        "",
        "| work | unit | brushwork | reference | speed-up | run |",
        "|---|---|---|---|---|---|",
        *adain_rows(adain[-1] if adain else None),
        *gan_rows(gan[-1] if gan else None),
        "<!-- gpu-summary:end -->",
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        update_benchmarks_md("gpu-summary", section)


if __name__ == "__main__":
    main()
