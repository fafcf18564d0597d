"""The studio's strength-slider preview: latency of a 256 px AdaIN preview over HTTP on loopback.

A real `brushwork serve` process on this machine's CPU; the client sends what the page sends (the
content scaled to 512 px as PNG, a bundled style's name, a strength). Measured side by side in one run:

* slider moves: the same content, a new strength each time (the server reuses the encoder's
  features for that content and style: one blend and one decoder pass);
* new pictures: a different content image every time (decode, encode, blend, decode);
* the same request as a full `POST /api/stylize` job at 256 px (queue, watermark, recipe, gallery), polled
  to completion: what the slider would cost without the preview path.

Target (P7): a 256 px preview in under 300 ms on a 2-core CPU. Writes a section of BENCHMARKS.md.
Usage: ``python benchmarks/studio_preview.py [--n 30]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from PIL import Image, ImageEnhance

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import update_benchmarks_md  # noqa: E402

from brushwork.pipelines.stylize import sample_path  # noqa: E402


def _png(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=30, help="requests per kind")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    base_im = Image.open(sample_path("content")).convert("RGB")
    base_im.thumbnail((512, 512))
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        env = {**os.environ, "BRUSHWORK_GALLERY": str(Path(tmp) / "g.db")}
        server = subprocess.Popen([sys.executable, "-m", "brushwork", "serve", "--port", str(port), "--data", tmp],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            client = httpx.Client(timeout=120)
            content = _png(base_im)

            def preview(data: bytes, strength: float) -> float:
                t = time.perf_counter()
                r = client.post(base + "/api/preview", files={"content": ("c.png", data, "image/png")},
                                data={"style_name": "starry_night", "strength": f"{strength:.2f}"})
                r.raise_for_status()
                return time.perf_counter() - t

            preview(content, 0.5)  # warm-up: the models load once per server
            slider = [preview(content, (i % 20) / 20) for i in range(args.n)]
            fresh = [preview(_png(ImageEnhance.Brightness(base_im).enhance(0.8 + 0.4 * i / args.n)), 0.5)
                     for i in range(args.n)]
            full = []
            for i in range(max(5, args.n // 3)):
                t = time.perf_counter()
                r = client.post(base + "/api/stylize", files={"content": ("c.png", content, "image/png")},
                                data={"style_name": "starry_night", "size": "256", "strength": f"{i / 10:.2f}"})
                r.raise_for_status()
                job = r.json()["id"]
                while client.get(f"{base}/api/jobs/{job}").json()["status"] not in ("done", "failed", "cancelled"):
                    time.sleep(0.01)
                full.append(time.perf_counter() - t)
        finally:
            server.terminate()
            server.wait(timeout=30)

    def row(name: str, xs: list[float], ref: float) -> str:
        ms = np.array(xs) * 1000
        return (f"| {name} | {np.median(ms):.0f} | {np.percentile(ms, 95):.0f} | {np.max(ms):.0f} | "
                f"{np.median(ms) / ref:.2f}x |")

    ref = float(np.median(np.array(full) * 1000))
    lines = [
        "<!-- studio-preview:start -->",
        "## Studio preview latency (P7)",
        "",
        f"`python benchmarks/studio_preview.py --n {args.n}`, {dt.date.today().isoformat()}, {platform.machine()}, "
        f"{os.cpu_count()} cores, CPU, a real `brushwork serve` on loopback; 256 px AdaIN previews of a 512 px "
        "PNG upload with the bundled style. Target: under 300 ms.",
        "",
        "| request | median ms | p95 ms | max ms | vs a full stylize job |",
        "|---|---|---|---|---|",
        row("slider move (same picture, new strength)", slider, ref),
        row("new picture (features not cached)", fresh, ref),
        row("full `POST /api/stylize` job at 256 px, polled to done", full, ref),
        "<!-- studio-preview:end -->",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        update_benchmarks_md("studio-preview", text)


if __name__ == "__main__":
    main()
