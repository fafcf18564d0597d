"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from brushwork.imaging.io import read_image, to_tensor
from brushwork.imaging.resampling import fit_long_side, resize

ROOT = Path(__file__).resolve().parent.parent
# Benchmark outputs (and the CLI processes they time) stay out of the developer's gallery.
os.environ.setdefault("BRUSHWORK_GALLERY", "off")


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux; the machine type elsewhere): a speed is the machine's."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_resized(src, size: int) -> torch.Tensor:
    """An image (path or array) as ``(1, 3, H, W)`` with its long side at ``size``."""
    x = to_tensor(read_image(src).rgb)
    return resize(x, fit_long_side(x.shape[-1], x.shape[-2], size))


def update_benchmarks_md(name: str, section: str) -> None:
    """Replace (or append) the block between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``."""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else "# Benchmarks\n\nMeasured side by side; never part of the test suite.\n"
    pattern = re.compile(rf"<!-- {name}:start -->.*<!-- {name}:end -->", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    path.write_text(text)


def quality_ratio_lines(rows: list[dict], targets: dict[str, str]) -> list[str]:
    """Table rows "| measure | baseline mean | ours mean | ratio | target |" for the Lite1 measures.

    ``rows`` hold ``{"base": {...}, "ours": {...}}`` judge results; ``targets`` maps each of
    ``style``, ``content``, ``hf`` to its target text.
    """
    import numpy as np

    labels = {"style": ("style distance", ".4f"), "content": ("content distance", ".4f"),
              "hf": ("high-frequency energy", ".5f")}
    out = []
    for key, (label, fmt) in labels.items():
        b = float(np.mean([r["base"][key] for r in rows]))
        o = float(np.mean([r["ours"][key] for r in rows]))
        out.append(f"| {label} | {b:{fmt}} | {o:{fmt}} | {o / b:.2f} | {targets.get(key, '')} |")
    return out
