"""GPU throughput of AdaIN: brushwork's default model and the original architecture.

For each model: eager fp32 (TF32 allowed), bf16 autocast + channels_last, and the same under
``torch.compile(mode="max-autotune")`` (CUDA graphs included). Reports milliseconds per 512 px image
at batch 16 and writes them to ``$OUT/adain_gpu.json`` (or ./adain_gpu.json).

Without a GPU it runs a smoke test on the CPU at 64 px, batch 2, eager only, so the script itself
stays tested; BENCHMARKS.md then keeps its GPU figures marked "not yet measured".
Usage: ``python benchmarks/adain_gpu.py [--size 512] [--batch 16] [--no-compile]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from brushwork.models.adain import AdaINNet, Decoder
from brushwork.models.vgg_adain import VGGAdaINDecoder, VGGNormalisedEncoder
from brushwork.weights import load_decoder, load_encoder


def _models(device):
    try:
        ours = AdaINNet(load_encoder("efficientnet-lite0"), load_decoder())
    except Exception:  # no shipped decoder: time the same architecture with random weights
        ours = AdaINNet(load_encoder("efficientnet-lite0"), Decoder().eval())
    torch.manual_seed(0)
    orig = AdaINNet(VGGNormalisedEncoder().eval(), VGGAdaINDecoder().eval())
    return {"brushwork": ours.to(device), "original": orig.to(device)}


def _bench(fn, x, s, iters, device) -> float:
    for _ in range(3):
        fn(x, s)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(iters):
        fn(x, s)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / iters


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args(argv)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    size, batch, iters = (args.size, args.batch, args.iters) if cuda else (64, 2, 2)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    results: dict = {"device": torch.cuda.get_device_name() if cuda else "cpu (smoke test)", "size": size,
                     "batch": batch, "ms_per_image": {}}
    x = torch.rand(batch, 3, size, size, device=device)
    s = torch.rand(batch, 3, size, size, device=device)
    for name, net in _models(device).items():
        variants = {"eager fp32": (net, torch.float32, False)}
        if cuda:
            variants["eager bf16 channels_last"] = (net, torch.bfloat16, True)
            if not args.no_compile:
                variants["compiled bf16 channels_last"] = (
                    torch.compile(net, mode="max-autotune"), torch.bfloat16, True)
        for label, (fn, dtype, cl) in variants.items():
            xi = x.contiguous(memory_format=torch.channels_last) if cl else x
            si = s.contiguous(memory_format=torch.channels_last) if cl else s
            if cl:
                net.to(memory_format=torch.channels_last)

            def run(a, b, fn=fn, dtype=dtype):
                with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
                    return fn(a, b)

            sec = _bench(run, xi, si, iters, device)
            results["ms_per_image"][f"{name}: {label}"] = 1000 * sec / batch
            print(f"{name:10s} {label:30s} {1000 * sec / batch:8.3f} ms/image", flush=True)
    out = Path(os.environ.get("OUT", ".")) / "adain_gpu.json"
    out.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
