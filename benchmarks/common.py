"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import re
from pathlib import Path

import torch

from brushwork.imaging.io import read_image, to_tensor
from brushwork.imaging.resize import fit_long_side, resize

ROOT = Path(__file__).resolve().parent.parent


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
