"""Exploring a trained GAN: sample by seed, interpolate between seeds, write images with their recipe.

A seed always gives the same latent vector (drawn alone from ``torch.Generator().manual_seed(seed)``,
whatever the other seeds asked for), so ``gan sample CKPT --seeds 42`` repeats an image seen in a
grid of ``--seeds 0-63``. Every written image records its seed, truncation and the checkpoint's
sha256 (a PNG text chunk ``brushwork``, JSON).
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Sequence

import numpy as np
import torch
from PIL import Image

from ..errors import BrushworkError, flag
from ..weights import keeps_rng

__all__ = ["latents", "load_gan", "sample", "slerp", "interpolate", "grid_image", "parse_seeds"]

MAX_SEEDS = 4096


def parse_seeds(text: str, at_most: int = MAX_SEEDS) -> list[int]:
    """``"0-63"``, ``"3,17,42"`` or a mix (``"0-3,10"``) -> a list of seeds.

    Raises:
        BrushworkError: malformed, negative, or more than ``at_most`` seeds (``MAX_SEEDS`` by default).
    """
    from ..errors import list_items

    seeds: list[int] = []
    for part in list_items(text, "seeds", "0-63 or 3,17,42"):
        lo, sep, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            raise BrushworkError(f"seeds {text!r} is not a list of seeds (0 or more): write e.g. 0-63 or 3,17,42") from None
        if a < 0 or b < a:
            raise BrushworkError(f"seeds range {part!r} is empty or negative: write e.g. 0-63")
        if b >= 2**63:
            raise BrushworkError(f"seeds {part!r}: a seed must be below 2**63")
        if len(seeds) + (b - a + 1) > at_most:  # checked before the range is built
            raise BrushworkError(f"the seeds ask for more than {at_most} images: split the request")
        seeds.extend(range(a, b + 1))
    if not seeds:
        raise BrushworkError("seeds is empty: write e.g. 0-63 or 3,17,42")
    return seeds


def latents(seeds: Iterable[int], z_dim: int) -> torch.Tensor:
    """``(len(seeds), z_dim)`` latent vectors, one independent draw per seed."""
    return torch.stack([torch.randn(z_dim, generator=torch.Generator().manual_seed(int(s))) for s in seeds])


#: The GAN shipped with brushwork (``gan sample`` without a checkpoint): its weights entry.
SHIPPED_GAN = "gan-sprites64"


@keeps_rng
def load_gan(folder: str | os.PathLike | None, device: torch.device | str = "cpu"):
    """``(gan, sha256 of its weights)`` from a checkpoint folder (``config.json`` + ``model.safetensors``,
    or a training run's folder); ``None`` for the GAN shipped with brushwork (sha256-checked).

    Raises:
        BrushworkError: missing files, not a GAN checkpoint, or weights that do not fit.
    """
    from ..models.gan import GANConfig, build_model
    from ..training.engine import find_checkpoint
    from ..weights import load_state_dict, sha256_file

    if folder is None:
        from ..weights import find_weights

        folder = find_weights(SHIPPED_GAN).parent
    p, raw = find_checkpoint(folder, "gan", "GAN", "gan train")
    try:
        gan = build_model(GANConfig.from_dict(raw["gan"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise BrushworkError(f"'{p / 'config.json'}' does not describe a GAN brushwork can build ({type(exc).__name__}: "
                             f"{exc}): restore the checkpoint from a copy") from None
    state = load_state_dict(p / "model.safetensors", what="GAN weights")
    try:
        if state and all(k.startswith("g_ema.") for k in state):  # a shipped, sampling-only file
            gan.g_ema.load_state_dict({k[len("g_ema."):]: v for k, v in state.items()})
        else:
            gan.load_state_dict(state)
    except RuntimeError:
        raise BrushworkError(f"the weights in '{p}' do not fit the GAN its config.json describes: the checkpoint "
                             "is damaged") from None
    from ..runtime import resolve_device

    return gan.to(resolve_device(device)).eval(), sha256_file(p / "model.safetensors")


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """``(B, C, H, W)`` in [-1, 1] -> ``(B, H, W, C)`` uint8 (C = 3 or 1 -> 3)."""
    x = ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    return np.repeat(x, 3, axis=3) if x.shape[3] == 1 else x


def _checked_seeds(gan, seeds: Sequence[int] | str) -> list[int]:
    """The Python API's common slips, in one line each: ``load_gan``'s pair, seeds written as text."""
    if isinstance(gan, tuple):
        raise BrushworkError("pass the GAN, not load_gan's (gan, sha256) pair: gan, sha = load_gan(...)")
    if isinstance(seeds, str):
        return parse_seeds(seeds)  # "0-7" as on the command line
    if isinstance(seeds, (torch.Tensor, np.ndarray)) and seeds.ndim == 0:
        seeds = seeds.item()
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        seeds = [seeds]  # one seed
    if not isinstance(seeds, Iterable):
        raise BrushworkError(f"seeds must be whole numbers (a list, a range, one number) or a text such as \"0-7\", "
                             f"got {seeds!r}")
    seeds = [int(s) if isinstance(s, torch.Tensor) and s.numel() == 1 and not s.is_floating_point() else s
             for s in seeds]  # (torch.arange(8) too)
    if not seeds:
        raise BrushworkError("no seeds given: pass e.g. [0, 1, 2] or \"0-7\"")
    if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and 0 <= s < 2**63 for s in seeds):
        raise BrushworkError(f"seeds must be whole numbers from 0 to 2**63 - 1, got {seeds[:8]}")
    return [int(s) for s in seeds]


@torch.no_grad()
def sample(gan, seeds: Sequence[int] | str, *, truncation: float = 1.0, batch: int = 1,
           progress: bool = False) -> np.ndarray:
    """Images ``uint8 (len(seeds), H, W, 3)`` from the EMA generator; ``truncation`` psi in (0, 1]
    scales each latent toward the mean (0): fewer odd samples, less variety.

    One image per pass by default: batched convolutions round differently for different batch
    sizes, and a seed's pixels must not depend on which other seeds were asked for.
    """
    if not isinstance(truncation, numbers.Real) or isinstance(truncation, bool) or not 0 < truncation <= 1:
        raise BrushworkError(f"{flag('--truncation')} must be a number in (0, 1], got {truncation!r}")
    seeds = _checked_seeds(gan, seeds)
    if not isinstance(batch, numbers.Integral) or batch < 1:
        raise BrushworkError(f"batch must be a whole number of at least 1, got {batch!r}")
    from .batch import _progress

    dev = next(gan.parameters()).device
    out = []
    with _progress(len(seeds), "samples", progress) as bar:
        for i in range(0, len(seeds), batch):
            z = latents(seeds[i:i + batch], gan.cfg.z_dim).to(dev) * truncation
            out.append(_to_uint8(gan.g_ema(z)))
            bar.update(len(z))
    return np.concatenate(out)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float) -> torch.Tensor:
    """Spherical interpolation between latent vectors (White 2016): stays where a Gaussian's mass is,
    which a straight line through the middle does not."""
    an, bn = a / a.norm(), b / b.norm()
    omega = torch.arccos(torch.clamp((an * bn).sum(), -1.0, 1.0))
    if omega.abs() < 1e-6:
        return (1 - t) * a + t * b
    so = torch.sin(omega)
    if so.abs() < 1e-6:  # opposite directions (any two seeds of opposite sign with --z-dim 1): no one great circle
        return (1 - t) * a + t * b
    return torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b


#: frames of one interpolation: two minutes at 30 fps, held in memory before the file is written
#: (about 700 MB at 256 px)
MAX_FRAMES = 3600


@torch.no_grad()
def interpolate(gan, seeds: Sequence[int], frames: int, *, truncation: float = 1.0, loop: bool = True,
                progress: bool = False) -> np.ndarray:
    """``frames`` images walking through the seeds' latents (back to the first when ``loop``), each seed's own
    sample on a frame (the seeds spread as evenly as whole frames allow)."""
    if not isinstance(truncation, numbers.Real) or isinstance(truncation, bool) or not 0 < truncation <= 1:
        raise BrushworkError(f"{flag('--truncation')} must be a number in (0, 1], got {truncation!r}")
    seeds = _checked_seeds(gan, seeds)
    if not isinstance(frames, numbers.Integral):
        raise BrushworkError(f"frames must be a whole number, got {frames!r}")
    if len(seeds) < 2:
        raise BrushworkError("interpolation needs at least two seeds, e.g. --seeds 3,17,42")
    if frames < len(seeds):
        raise BrushworkError(f"{flag('--frames', frames)} is fewer than the {len(seeds)} seeds: ask for more frames")
    if frames > MAX_FRAMES:  # every frame is held in memory before the file is written
        raise BrushworkError(f"{flag('--frames', frames)} is more than {MAX_FRAMES}: make several shorter walks")
    z = latents(seeds, gan.cfg.z_dim) * truncation
    stops = list(range(len(seeds))) + ([0] if loop else [])
    segments = len(stops) - 1
    # each seed on a frame of its own (evenly spread positions missed them unless the frames were a multiple of
    # the seeds: the walk went past seeds 1..n-1 without showing them)
    at = [round(k * (frames if loop else frames - 1) / segments) for k in range(segments + 1)]
    zs = []
    for f in range(frames):
        i = next((k for k in range(segments) if f < at[k + 1]), segments - 1)  # (the last frame: the last stop)
        zs.append(slerp(z[stops[i]], z[stops[i + 1]], (f - at[i]) / (at[i + 1] - at[i])))
    from .batch import _progress

    dev = next(gan.parameters()).device
    out = []
    with _progress(len(zs), "frames", progress) as bar:
        for z in zs:  # one per pass, as in sample()
            out.append(_to_uint8(gan.g_ema(z[None].to(dev))))
            bar.update(1)
    return np.concatenate(out)


def grid_image(images: torch.Tensor | np.ndarray, cols: int | None = None, pad: int = 2) -> Image.Image:
    """A grid of images (a tensor in [-1, 1] or ``uint8 (N, H, W, 3)``, or a list of ``uint8 (H, W, 3)`` pictures
    of one size), ``cols`` wide."""
    if isinstance(images, (list, tuple)) and images and not isinstance(images[0], torch.Tensor):
        if len({np.shape(a) for a in images}) != 1:
            raise BrushworkError(f"the pictures of a grid are of one size, got {sorted({np.shape(a) for a in images})}")
        images = np.stack([np.asarray(a) for a in images])
    if isinstance(images, torch.Tensor) and images.numel() and (images.dtype.is_floating_point and not (
            -1.01 <= float(images.min()) and float(images.max()) <= 1.01)):  # (clamped: a white sheet)
        raise BrushworkError(f"a grid's tensor is in [-1, 1] as the generator gives it, got values in "
                             f"[{float(images.min()):g}, {float(images.max()):g}]: for 0-255 values pass x / 127.5 - 1")
    if cols is not None and (isinstance(cols, bool) or not isinstance(cols, numbers.Integral) or cols < 1):
        raise BrushworkError(f"cols must be a whole number of columns, 1 or more (or None: as square as can be), got "
                             f"{cols!r}")
    arr = _to_uint8(images) if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8 or not len(arr):
        raise BrushworkError(f"a grid takes uint8 pictures (N, H, W, 3) or a tensor (N, 3, H, W) in [-1, 1], got "
                             f"{arr.dtype} {arr.shape}")
    n, h, w, _ = arr.shape
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    sheet = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        sheet[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = arr[i]
    return Image.fromarray(sheet)


# -- evaluation: FID and KID ------------------------------------------------------------------------
# Both compare the distributions of image features. FID (Heusel et al. 2017) fits a Gaussian to each
# set and takes the Frechet distance ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)); it is
# biased for small sets. KID (Binkowski et al. 2018) is the unbiased squared MMD with the kernel
# k(x, y) = (x.y / d + 1)^3, averaged over subsets; it is fair for the few hundred images of an
# artist's collection. The features are EfficientNet-Lite0's (offline ImageNet weights), pooled over
# its last block (320 numbers) at 224 px: the numbers are comparable between brushwork runs, not with
# papers that use Inception-v3.

FEATURE_TAP = "block15"
FEATURE_SIDE = 224


@torch.no_grad()
def features(images: np.ndarray | torch.Tensor, encoder=None, batch: int = 64, progress: str | None = None) -> np.ndarray:
    """Pooled Lite0 features ``(N, 320)`` of ``uint8 (N, H, W, 3)`` images (or a tensor in [-1, 1]); ``progress``: a
    progress bar with that description (5,000 images take a few minutes on a CPU)."""
    import torch.nn.functional as F

    from .batch import _progress

    if encoder is None:  # loaded once a process (an index of 500 images loaded it 8 times, once a batch of 64)
        from .stylize import _cached_encoder  # (keeps the caller's seeded stream as it was)

        encoder = _cached_encoder("efficientnet-lite0", None, "cpu", False, False)
    if isinstance(images, torch.Tensor):
        images = _to_uint8(images)
    out = []
    bar = None if progress is None else _progress(len(images), progress, True)  # (callers with their own bars: none)
    try:
        for i in range(0, len(images), batch):
            x = torch.from_numpy(np.array(images[i:i + batch])).permute(0, 3, 1, 2).float() / 255.0  # a copy: inputs may be read-only
            x = F.interpolate(x, size=(FEATURE_SIDE, FEATURE_SIDE), mode="bilinear", align_corners=False, antialias=True)
            out.append(encoder(x, [FEATURE_TAP])[FEATURE_TAP].mean(dim=(2, 3)).double().numpy())
            if bar is not None:
                bar.update(len(x))
    finally:
        if bar is not None:
            bar.close()
    return np.concatenate(out)


def fid(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to feature sets ``a`` and ``b`` ``(N, d)``."""
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s_a @ s_b)
    if not np.isfinite(covmean).all():  # nearly singular product: regularise (as the reference code does)
        eps = np.eye(len(s_a)) * 1e-6
        covmean = linalg.sqrtm((s_a + eps) @ (s_b + eps))
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2 * np.trace(covmean))


def kid(a: np.ndarray, b: np.ndarray, *, subsets: int = 50, subset_size: int = 100,
        seed: int = 0) -> tuple[float, float | None]:
    """Kernel inception distance on feature sets: ``(mean, std)`` of the unbiased MMD^2 over subsets of
    ``subset_size`` from each side. When both sets fit in one subset, the estimate uses all of both (of their own
    sizes) once, and the spread is None: subsets drawn from so few would repeat the same features."""
    rng = np.random.default_rng(seed)
    d = a.shape[1]
    if min(len(a), len(b)) < 2:
        raise ValueError(f"KID needs at least 2 features on each side, got {len(a)} and {len(b)}")
    whole = len(a) <= subset_size and len(b) <= subset_size
    m = min(subset_size, len(a), len(b))
    vals = []
    for _ in range(1 if whole else subsets):
        x, y = (a, b) if whole else (a[rng.choice(len(a), m, replace=False)], b[rng.choice(len(b), m, replace=False)])
        p, q = len(x), len(y)
        kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
        vals.append((kxx.sum() - np.trace(kxx)) / (p * (p - 1)) + (kyy.sum() - np.trace(kyy)) / (q * (q - 1))
                    - 2 * kxy.mean())
    return float(np.mean(vals)), None if whole else float(np.std(vals))
