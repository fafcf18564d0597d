"""Plain helpers shared by tests (not fixtures)."""

import numpy as np
import torch
from PIL import Image


def pan_frames(path, n=8, width=96, height=64, step=2, noise=0.0, seed=0):
    """A slow pan across the bundled photo (``step`` px per frame), optional sensor noise."""
    im = np.asarray(Image.open(path).convert("RGB").resize((width + n * step, height)), np.float32) / 255
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        f = im[:, i * step:i * step + width] + rng.normal(0, noise, (height, width, 3))
        out.append(torch.from_numpy(np.clip(f, 0, 1).astype(np.float32)).permute(2, 0, 1)[None])
    return out
