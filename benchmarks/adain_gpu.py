"""GPU throughput of AdaIN: brushwork's default model and the original architecture, side by side.

For each model (and brushwork's with the style's statistics computed once and reused, as for a folder
or a video with one style), at batch 16 and 512 px (milliseconds per image, inference):

* eager fp32 (TF32 allowed), and the colour and detail match that finishes brushwork's pictures by default
  (``--match full``) on its own;
* eager bf16 autocast + channels_last;
* the same captured once as a CUDA graph and replayed (no per-kernel launch cost, no compilation);
* ``torch.compile(mode="reduce-overhead")`` of the bf16 channels_last model (Inductor's fused kernels
  replayed as CUDA graphs; no autotuning, to keep compilation short), only while ``--budget``
  seconds remain.

Each figure is appended to ``$OUT/adain_gpu.json`` (or ./adain_gpu.json) as soon as it is measured,
so a run cut short keeps what it measured. Without a GPU it runs a smoke test on the CPU at 64 px,
batch 2, eager only, so the script itself stays tested; BENCHMARKS.md then keeps its GPU figures
marked "not yet measured".
Usage: ``python benchmarks/adain_gpu.py [--size 512] [--batch 16] [--budget 150] [--no-compile]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from brushwork.functional import mean_std
from brushwork.models.adain import AdaINNet, Decoder, DecoderConfig
from brushwork.models.vgg_adain import VGGAdaINDecoder, VGGNormalisedEncoder
from brushwork.weights import load_decoder, load_encoder

enc_name = "efficientnet-lite0"


def _models(device, taps):
    try:
        ours = AdaINNet(load_encoder("efficientnet-lite0"), load_decoder())
    except Exception:  # no shipped decoder: time the same architecture with random weights
        ours = AdaINNet(load_encoder("efficientnet-lite0"), Decoder().eval())
    torch.manual_seed(0)
    models = {"brushwork": ours, "original": AdaINNet(VGGNormalisedEncoder(), VGGAdaINDecoder())}
    for tap in taps:  # other encoder depths, random decoder weights (timing only)
        enc = load_encoder("efficientnet-lite0")
        models[f"brushwork@{tap}"] = AdaINNet(enc, Decoder(DecoderConfig.for_tap(enc_name, tap, *enc.tap_shape(tap))))
    return {k: m.to(device).eval() for k, m in models.items()}


class CachedStyle(torch.nn.Module):
    """brushwork's model with the style's AdaIN statistics computed once (a folder or a video with one
    style encodes it once); called like the others, ``net(content, style)``, the style is ignored."""

    def __init__(self, net: AdaINNet, style: torch.Tensor) -> None:
        super().__init__()
        self.net = net
        with torch.no_grad():
            mean, std = net.stats(style)
        self.register_buffer("s_mean", mean)
        self.register_buffer("s_std", std)

    def forward(self, content: torch.Tensor, style: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
        c = self.net.features(content)
        c_mean, c_std = mean_std(c)
        t = c + alpha * ((c - c_mean) / c_std * self.s_std + self.s_mean - c)
        return self.net.decoder(t).clamp(0.0, 1.0)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _bench(fn, iters: int, device) -> float:
    """Mean seconds per call over ``iters`` calls after 3 warm-ups (synchronised before and after)."""
    for _ in range(3):
        fn()
    _sync(device)
    t = time.perf_counter()
    for _ in range(iters):
        fn()
    _sync(device)
    return (time.perf_counter() - t) / iters


def _graphed(fn, device):
    """Capture ``fn()`` (static inputs) as a CUDA graph; returns a replay function."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        fn()
    return graph.replay


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--budget", type=float, default=150.0, help="seconds; compiled variants start only within it")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--compile-mode", default="reduce-overhead",
                    help="torch.compile mode (default reduce-overhead; max-autotune also autotunes the convolutions)")
    ap.add_argument("--compile", default="brushwork,cached,original",
                    help="models to compile, in order: brushwork, cached (style statistics reused), original")
    ap.add_argument("--no-eager", action="store_true", help="skip the eager and CUDA-graph figures")
    ap.add_argument("--taps", default="",
                    help="other decoder taps to time (random weights), comma-separated; '' for none")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    size, batch, iters = (args.size, args.batch, args.iters) if cuda else (64, 2, 2)
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    out = Path(os.environ.get("OUT", ".")) / "adain_gpu.json"
    results: dict = {"device": torch.cuda.get_device_name() if cuda else "cpu (smoke test)",
                     "torch": torch.__version__, "size": size, "batch": batch, "ms_per_image": {}}
    models = _models(device, [t for t in args.taps.split(",") if t])
    x = torch.rand(batch, 3, size, size, device=device)
    s = torch.rand(batch, 3, size, size, device=device)
    x_cl, s_cl = (t.contiguous(memory_format=torch.channels_last) for t in (x, s))
    models = {"brushwork": models["brushwork"], "brushwork, style cached": CachedStyle(models["brushwork"], s).eval(),
              **{k: v for k, v in models.items() if k != "brushwork"}}

    def record(key: str, measure) -> None:
        try:
            results["ms_per_image"][key] = 1000 * measure() / batch
            print(f"{key:55s} {results['ms_per_image'][key]:9.4f} ms/image", flush=True)
        except Exception as exc:  # keep going: one variant failing must not lose the others
            results.setdefault("errors", {})[key] = f"{type(exc).__name__}: {exc}"[:500]
            print(f"{key}: FAILED {results['errors'][key]}", flush=True)
        out.write_text(json.dumps(results, indent=1))

    def call(net, a, b, dtype):
        def run():
            with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
                return net(a, b)
        return run

    for name, net in models.items():
        if args.no_eager and cuda:
            break
        record(f"{name}: eager fp32", lambda: _bench(call(net, x, s, torch.float32), iters, device))
    # brushwork's default finishes each picture with the style's colours and detail (--match full): its own
    # cost, per image, eager fp32 (one style for the batch: its distributions estimated once per call)
    from brushwork.pipelines.adain import match_styles

    with torch.no_grad():
        painted = models["brushwork"](x, s)
    record("brushwork: --match full alone (eager fp32)",
           lambda: _bench(lambda: match_styles(painted, [s[:1]]), iters, device))
    if not cuda:
        return results
    for name, net in models.items():
        net.to(memory_format=torch.channels_last)
        if args.no_eager:
            continue
        fn = call(net, x_cl, s_cl, torch.bfloat16)
        record(f"{name}: eager bf16 channels_last", lambda: _bench(fn, iters, device))
        record(f"{name}: CUDA graph bf16 channels_last", lambda: _bench(_graphed(fn, device), iters, device))
    if args.no_compile:
        return results
    aliases = {"brushwork": "brushwork", "cached": "brushwork, style cached", "original": "original"}
    for name in (aliases[k] for k in args.compile.split(",") if k):
        net = models[name]
        if time.perf_counter() - t_start > args.budget:
            print(f"{name}: compiled variant skipped (budget spent)", flush=True)
            continue

        def measure(net=net, name=name):
            t = time.perf_counter()
            fn = call(torch.compile(net, mode=args.compile_mode), x_cl, s_cl, torch.bfloat16)
            fn()
            _sync(device)
            results.setdefault("compile_seconds", {})[name] = time.perf_counter() - t
            return _bench(fn, iters, device)

        record(f"{name}: compiled ({args.compile_mode}) bf16 channels_last", measure)
    return results


if __name__ == "__main__":
    main()
