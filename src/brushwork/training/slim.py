"""Slimming a trained classifier: global magnitude pruning with fine-tuning, int8 quantisation.

* pruning: ``torch.nn.utils.prune.global_unstructured`` with L1 magnitude over every conv and linear
  weight together (layers lose different fractions: the least important weights go first wherever
  they are), then a short fine-tune with the masks in place, then the masks are made permanent;
* dynamic int8 (``torch.ao.quantization.quantize_dynamic``): linear layers' weights in int8,
  activations quantised on the fly; nothing to calibrate;
* static int8 (FX graph mode, the x86 backend): weights and activations in int8, activation ranges
  calibrated on a few hundred training images; convolutions run in int8 too.
"""

from __future__ import annotations

import io
import time
import warnings

import numpy as np
import torch
from torch import nn
from torch.nn.utils import prune

__all__ = ["prune_global", "make_permanent", "sparsity", "quantize_dynamic", "quantize_static", "latency",
           "size_bytes"]


def _weights(model: nn.Module) -> list[tuple[nn.Module, str]]:
    return [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def prune_global(model: nn.Module, amount: float) -> nn.Module:
    """Mask the ``amount`` fraction of smallest-magnitude conv/linear weights, across all layers (in place)."""
    prune.global_unstructured(_weights(model), pruning_method=prune.L1Unstructured, amount=amount)
    return model


def make_permanent(model: nn.Module) -> nn.Module:
    """Fold the pruning masks into the weights (plain state dict again)."""
    for m, name in _weights(model):
        if prune.is_pruned(m) and hasattr(m, name + "_mask"):
            prune.remove(m, name)
    return model


def sparsity(model: nn.Module) -> float:
    """Fraction of exactly-zero conv/linear weights."""
    total = zeros = 0
    for m, _ in _weights(model):
        w = m.weight
        total += w.numel()
        zeros += int((w == 0).sum())
    return zeros / max(total, 1)


def quantize_dynamic(model: nn.Module) -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its successor
        from torch.ao.quantization import quantize_dynamic as qd

        return qd(model.eval(), {nn.Linear}, dtype=torch.qint8)


def quantize_static(model: nn.Module, calibration: torch.Tensor) -> nn.Module:
    """FX graph-mode static int8 for the x86 backend, calibrated on ``calibration`` (float images)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

        torch.backends.quantized.engine = "x86"
        prepared = prepare_fx(model.eval(), get_default_qconfig_mapping("x86"), (calibration[:1],))
        with torch.no_grad():
            for i in range(0, len(calibration), 64):
                prepared(calibration[i:i + 64])
        return convert_fx(prepared)


@torch.no_grad()
def latency(model: nn.Module, x: torch.Tensor, repeats: int = 20) -> float:
    """Median seconds per batch ``x`` after two warm-ups."""
    model.eval()
    for _ in range(2):
        model(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model(x)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def size_bytes(model: nn.Module, *, compressed: bool = False) -> int:
    """Bytes of the saved state dict (torch.save); pruned zeros take room unless ``compressed``
    (zlib level 6), where they mostly vanish. A model with pruning masks still attached counts as it
    will be saved (:func:`make_permanent`): one masked weight per layer, not the weight and its mask."""
    import zlib

    state = model.state_dict()
    for key in [k for k in state if k.endswith("_orig") and k[:-5] + "_mask" in state]:
        state[key[:-5]] = state.pop(key) * state.pop(key[:-5] + "_mask")
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    return len(zlib.compress(data, 6)) if compressed else len(data)
