"""``brushwork reproduce``: run an image's recipe again and compare the pixels.

The recipe's command is run in this process with its inputs found by sha256 (at the relative path it
recorded, else anywhere under the folders given), its output written to a temporary folder, and
torch's thread count set to the recorded one (a different count changes the order of floating-point
sums, and so the last bits). On the same torch version and CPU instruction set the pixels are
bit-identical; elsewhere the largest difference is reported along with what differs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import BrushworkError
from .recipe import environment, file_sha256, read_recipe

__all__ = ["Reproduction", "find_input", "reproduce"]

_ENV_KEYS = ("brushwork", "torch", "threads", "cpu_capability", "machine", "numpy")


@dataclass
class Reproduction:
    identical: bool
    max_difference: int  # in 0-255 units
    differing_pixels: int
    pixels: int
    same_bytes: bool
    environment_differences: list[str] = field(default_factory=list)
    kept: Path | None = None

    def summary(self) -> str:
        if self.identical:
            head = "bit-identical pixels" + (" and file bytes" if self.same_bytes else "")
        else:
            head = (f"differs: largest pixel difference {self.max_difference}/255, {self.differing_pixels} of "
                    f"{self.pixels} pixels")
        if self.environment_differences:
            head += " (recorded on another setup: " + "; ".join(self.environment_differences) + ")"
        return head


def find_input(entry: dict, search: list[Path]) -> Path:
    """The file with the recorded sha256: at its recorded relative path, else under ``search``
    (recursively; only files of the recorded size are hashed).

    Raises:
        BrushworkError: not found; the message names the file and what to pass.
    """
    want, size = entry.get("sha256"), entry.get("bytes")
    rel = entry.get("path")
    if rel and Path(rel).is_file() and file_sha256(rel) == want:
        return Path(rel)
    for root in search:
        for dirpath, _, files in os.walk(root):
            for name in sorted(files):
                p = Path(dirpath) / name
                try:
                    if size is not None and p.stat().st_size != size:
                        continue
                except OSError:
                    continue
                if file_sha256(p) == want:
                    return p
    where = ", ".join(f"'{r}'" for r in search) if search else "no folder"
    raise BrushworkError(f"input '{entry.get('name')}' (sha256 {str(want)[:12]}...) is not at its recorded path nor in "
                         f"{where}: pass --inputs DIR with a folder that holds it")


def _pixels(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im.seek(0)
        return np.asarray(im.convert("RGBA"), dtype=np.int16)


def reproduce(image: str | os.PathLike, inputs: list[str | os.PathLike] | None = None,
              keep: str | os.PathLike | None = None) -> Reproduction:
    """Re-run the recipe of ``image`` and compare; ``keep`` copies the new output there.

    Raises:
        BrushworkError: no recipe, inputs missing, or the command fails.
    """
    path = Path(image)
    if not path.is_file():
        raise BrushworkError(f"'{path}' does not exist: check the path")
    try:
        recipe, _ = read_recipe(path)
    except OSError:
        raise BrushworkError(f"'{path}' is not an image brushwork can read") from None
    if recipe is None:
        raise BrushworkError(f"'{path}' carries no brushwork recipe (written with --no-metadata, or by another "
                             "program; a NAME.EXT.json sidecar beside it is read too)")
    cmd = recipe.get("command")
    if not isinstance(cmd, list) or not cmd:
        raise BrushworkError(f"the recipe in '{path}' has no command (made through the Python API): only images "
                             "made by the brushwork command can be reproduced")
    search = [Path(p) for p in (inputs or [])]
    for s in search:
        if not s.is_dir():
            raise BrushworkError(f"--inputs '{s}' is not a folder")
    found = [find_input(e, search) for e in recipe.get("inputs", [])]
    env = recipe.get("environment", {})
    with tempfile.TemporaryDirectory(prefix="brushwork-reproduce-") as tmp_s:
        tmp = Path(tmp_s)
        out_file = tmp / "out" / path.name
        out_dir = tmp / "out_dir"
        argv: list[str] = []
        for i, tok in enumerate(cmd):
            tok = str(tok)
            if tok.startswith("{input:") and tok.endswith("}"):
                argv.append(str(found[int(tok[7:-1])]))
            elif tok == "{output}":
                out_file.parent.mkdir(exist_ok=True)
                argv.append(str(out_file))
            elif tok == "{output_dir}":
                argv.append(str(out_dir))
                out_file = out_dir / recipe.get("output", path.name)
            elif tok.startswith("{scratch:") and tok.endswith("}"):
                argv.append(str(tmp / f"scratch{i}{tok[9:-1]}"))
            else:
                argv.append(tok)
        if "threads" in env:
            import torch

            torch.set_num_threads(int(env["threads"]))
        from ..cli import main

        rc = main(argv)
        if rc != 0 or not out_file.is_file():
            raise BrushworkError(f"running the recipe again failed (exit code {rc}; see above): brushwork "
                                 f"{' '.join(argv)}")
        a, b = _pixels(path), _pixels(out_file)
        now = environment()
        diffs = [f"{k} {env.get(k)} here {now.get(k)}" for k in _ENV_KEYS
                 if k in env and k in now and env.get(k) != now.get(k)]
        if a.shape != b.shape:
            raise BrushworkError(f"the rerun made a {b.shape[1]}x{b.shape[0]} image, not {a.shape[1]}x{a.shape[0]}"
                                 + (f" ({'; '.join(diffs)})" if diffs else ""))
        d = np.abs(a - b)
        kept = None
        if keep is not None:
            kept = Path(keep)
            shutil.copyfile(out_file, kept)
        return Reproduction(identical=not d.any(), max_difference=int(d.max()), differing_pixels=int(d.any(-1).sum()),
                            pixels=int(d.shape[0] * d.shape[1]), same_bytes=path.read_bytes() == out_file.read_bytes(),
                            environment_differences=diffs, kept=kept)
