"""Load on loopback: 20 concurrent AdaIN stylize requests at 512 px against a real `brushwork serve`
process on the CPU. Each is accepted (202) and finishes, or is refused with 429; none is lost; the
server's peak memory stays under 3 GB."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

from brushwork.pipelines.stylize import sample_path


def _peak_rss_gib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    raise AssertionError("no VmHWM")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads peak memory from /proc (Linux)")
def test_twenty_concurrent_stylize_requests(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "BRUSHWORK_GALLERY": str(tmp_path / "gallery.db")}
    server = subprocess.Popen([sys.executable, "-m", "brushwork", "serve", "--port", str(port), "--data",
                               str(tmp_path / "studio"), "--workers", "1", "--queue", "8"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.time()
        while True:
            try:
                if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.time() - t0 < 60, server.stdout.read().decode()[-2000:]
            time.sleep(0.2)
        im = Image.open(sample_path("content")).convert("RGB")
        im.thumbnail((640, 640))
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=90)
        photo = buf.getvalue()

        def submit(i: int) -> httpx.Response:
            return httpx.post(base + "/api/stylize", files={"content": (f"p{i}.jpg", photo, "image/jpeg")},
                              data={"style_name": "starry_night", "size": "512", "strength": str(0.5 + i / 100)},
                              timeout=60)

        with ThreadPoolExecutor(20) as pool:
            responses = list(pool.map(submit, range(20)))
        codes = [r.status_code for r in responses]
        assert set(codes) <= {202, 429}, codes
        accepted = [r.json()["id"] for r in responses if r.status_code == 202]
        assert len(accepted) >= 9  # one running + eight waiting, at least
        assert all("busy" in r.json()["error"] for r in responses if r.status_code == 429)
        done = {}
        t0 = time.time()
        while len(done) < len(accepted):
            assert time.time() - t0 < 300, f"{len(done)} of {len(accepted)} finished"
            for j in accepted:
                if j not in done:
                    st = httpx.get(f"{base}/api/jobs/{j}", timeout=10).json()
                    if st["status"] in ("done", "failed", "cancelled"):
                        done[j] = st
            time.sleep(0.2)
        assert all(st["status"] == "done" for st in done.values()), [st["message"] for st in done.values()]
        items = httpx.get(base + "/api/gallery?limit=100", timeout=10).json()["items"]
        assert len(items) == len(accepted)  # every accepted request is in the gallery: none lost
        for st in done.values():
            assert httpx.get(base + st["result"]["image_url"], timeout=10).status_code == 200
        peak = _peak_rss_gib(server.pid)
        print(f"accepted {len(accepted)}, refused {codes.count(429)}, server peak {peak:.2f} GiB")
        assert peak < 3.0, peak
    finally:
        server.terminate()
        server.wait(timeout=30)
