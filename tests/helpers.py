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


def p3_icc_profile() -> bytes:
    """A minimal ICC v2 RGB profile with Display P3's primaries (D50-adapted, as Apple's profile lists them) and a
    2.2 gamma: a wide-gamut photo's colour space, for tests (no ICC file ships with the system)."""
    import struct

    def s15(v: float) -> bytes:
        return struct.pack(">i", round(v * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + b"\0" * 4 + s15(x) + s15(y) + s15(z)

    desc_text = b"Display P3 (test)\0"
    desc = b"desc" + b"\0" * 4 + struct.pack(">I", len(desc_text)) + desc_text + b"\0" * 8 + b"\0" * 3 + b"\0" * 67
    curve = b"curv" + b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">H", 0x0233) + b"\0\0"
    tags = [(b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249)), (b"rXYZ", xyz(0.5151, 0.2412, -0.0011)),
            (b"gXYZ", xyz(0.2920, 0.6922, 0.0419)), (b"bXYZ", xyz(0.1571, 0.0666, 0.7841)),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"\0" * 4 + struct.pack(">I", 0x02100000) + b"mntrRGB XYZ " + b"\0" * 12
              + b"acsp" + b"\0" * 24 + struct.pack(">I", 0) + s15(0.9642) + s15(1.0) + s15(0.8249) + b"\0" * 48)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data
