"""Recipe: train a GAN on a folder of images (any sizes, recursive), on the shared engine.

Each step first updates the discriminator on a batch of real images and a batch of generated ones
(both through DiffAugment when it is on; R1 on the real ones every step when ``r1_gamma > 0``),
then returns the generator's loss to the engine, which steps the generator. The discriminator's
optimizer is the engine's "extra" optimizer, saved and restored with checkpoints. After every step
the generator's exponential moving average is updated; it is what samples come from.

Callbacks write a grid of fixed seeds every ``sample_every`` steps and check for mode collapse every
``collapse_every`` steps: when the mean pairwise distance between samples (in EfficientNet-Lite0
features) falls below ``COLLAPSE_FRACTION`` of the same distance between training images, a warning
says so and ``log.csv``/``collapse.csv`` record it.
"""

from __future__ import annotations

import csv
import numbers
import os
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import BrushworkError, flag
from ..losses import d_loss, g_loss, r1_penalty, vae_loss
from ..models.gan import GAN, GANConfig, build_model
from .diffaugment import diff_augment
from .engine import (Callback, Trainer, TrainerConfig, check_checkpoint_folder, refuse_foreign_files,
                     refuse_other_kind)

__all__ = ["GANTrainConfig", "train_gan", "load_images", "diversity", "COLLAPSE_FRACTION"]

#: Samples whose diversity is below this fraction of the data's count as collapsed.
COLLAPSE_FRACTION = 0.35


@dataclass(frozen=True)
class GANTrainConfig:
    model: str = "gan"  # gan | vae (lr_g is the VAE's learning rate; the GAN-only settings are refused with it)
    size: int = 64
    z_dim: int = 128
    width: int = 32
    batch: int = 32
    steps: int = 5000
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    loss: str = "ns"  # ns (non-saturating) | hinge
    r1_gamma: float = 0.0
    diffaugment: str = "color,translation,cutout"
    ema_decay: float = 0.999
    spectral_norm: bool = True
    sample_every: int = 500
    collapse_every: int = 500
    seed: int = 0
    base_width: int | None = None  # channels at 4 x 4 (None: the doubling rule; see GANConfig)
    flip: bool = True  # real images mirrored left-right at random (off for lettering, digits, one-way sprites)


#: the settings of the GAN's discriminator and its training (the option, the field), which a VAE has no use for
GAN_ONLY = (("--lr-d", "lr_d"), ("--loss", "loss"), ("--r1", "r1_gamma"), ("--diffaugment", "diffaugment"),
            ("--ema", "ema_decay"), ("--no-spectral-norm", "spectral_norm"))


def _evenly(n: int, limit: int | None) -> np.ndarray:
    """Indices of ``limit`` of ``n`` items, evenly spaced (all of them when ``limit`` is None or ``n`` or more)."""
    return np.arange(n) if limit is None or n <= limit else np.linspace(0, n - 1, limit).astype(int)


def _array_images(name: str, size: int, limit: int | None = None) -> torch.Tensor:
    """The training images of an array dataset (``mnist``, ``fashion-mnist``): 28 px greyscale,
    resized to ``size`` (bilinear, as torchvision's ``Resize`` does), ``uint8 (N, 1, size, size)``; ``limit``
    of them evenly spaced, if given."""
    import torch.nn.functional as F

    from ..datasets import load_arrays

    x = load_arrays(name)[0]
    x = torch.from_numpy(x[_evenly(len(x), limit)])[:, None]
    if x.shape[-1] == size:
        return x.contiguous()
    out = [F.interpolate(x[i:i + 4096].float(), size=(size, size), mode="bilinear", align_corners=False)
           for i in range(0, len(x), 4096)]
    return torch.cat(out).round_().clamp_(0, 255).to(torch.uint8)


def _clipart_category(name: str) -> list[Path]:
    """The files of one openclipart category (``openclipart:animals``), from the fetched manifest."""
    import json

    from ..datasets import fetch

    category = name.split(":", 1)[1]
    folder = fetch("openclipart")
    manifest = json.loads((folder.parent / "manifest.json").read_text())
    by_cat: dict[str, list[Path]] = {}
    for f in manifest["files"]:
        by_cat.setdefault(f["source"].split("/")[4], []).append(folder / f["file"])
    if category not in by_cat:
        raise BrushworkError(f"openclipart has no category '{category}': use one of {', '.join(sorted(by_cat))}")
    return by_cat[category]


def image_folder(data: str) -> Path | None:
    """The folder that ``data`` names: itself, or a packaged folder dataset (fetched, e.g.
    ``wesnoth-sprites``); None for the array datasets and openclipart categories, which are no folder."""
    from ..datasets import ARRAY_SOURCES, SOURCES, fetch

    root = Path(data)
    if root.exists():
        return root
    if data in ARRAY_SOURCES or data.startswith("openclipart:"):
        return None
    return fetch(data) if data in SOURCES else root


def load_images(folder: str, size: int, stats: dict | None = None,
                limit: int | None = None) -> tuple[torch.Tensor, int]:
    """Every readable image under ``folder`` (recursive), centre-cropped and resized to ``size``, as
    ``uint8 (N, C, size, size)`` (C = 3; 1 for the greyscale datasets); unreadable files are skipped
    and counted. ``folder`` may also name a dataset: a folder dataset of ``brushwork data list`` (e.g.
    ``wesnoth-sprites``), ``mnist`` or ``fashion-mnist`` (their 60,000 training images), or one
    openclipart category (``openclipart:animals``). Pictures whose shorter side is below ``size`` are
    enlarged (nearest-neighbour: pixel art keeps its hard edges); ``stats["enlarged"]`` counts them.
    ``limit``: read only that many of the images, evenly spaced (``stats["total"]``: how many there are).

    Raises:
        BrushworkError: not a folder or dataset, or fewer than 2 readable images.
    """
    from ..datasets import ARRAY_SOURCES, list_images
    from ..imaging.io import read_square

    root = image_folder(folder)
    if root is None and folder in ARRAY_SOURCES:
        x = _array_images(folder, size, limit)
        if stats is not None:
            from ..datasets import load_arrays

            stats["total"] = len(load_arrays(folder)[0])
        return x, 0
    if root is None:
        files = _clipart_category(folder)
    else:
        if not root.is_dir():
            raise BrushworkError(f"'{folder}' is not a folder of images: give a folder (searched recursively) or a "
                                 "dataset name (brushwork data list; openclipart:CATEGORY)")
        files = list_images(root)
    if stats is not None:
        stats["total"] = len(files)
    files = [files[i] for i in _evenly(len(files), limit)]
    from PIL import Image

    xs, skipped, enlarged = [], 0, 0
    for f in files:
        try:
            with Image.open(f) as im:
                enlarged += min(im.size) < size
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            pass  # read_square below says None and the file is counted as skipped
        arr = read_square(f, size)
        if arr is None:
            skipped += 1
            if stats is not None:  # (named in the command's note)
                stats.setdefault("skipped_files", []).append(str(f))
        else:
            xs.append(arr)
    if stats is not None:
        stats["enlarged"] = enlarged
    if len(xs) < 2:
        from ..datasets import gifs_under

        gifs = gifs_under(root) if root is not None else 0
        raise BrushworkError(f"'{folder}' has {len(xs)} readable image(s)" + (f" ({skipped} unreadable)" if skipped else "")
                             + (f" and {gifs} GIF(s), which training leaves out (convert them to PNG)" if gifs else "")
                             + ": a GAN needs a folder of many images")
    return torch.from_numpy(np.stack(xs)), skipped


def _digest(images: torch.Tensor) -> str:
    """A fingerprint of the training pictures as the GAN sees them (uint8, in order): a resumed run checks it."""
    import hashlib

    return hashlib.blake2b(np.ascontiguousarray(images.cpu().numpy()).tobytes(), digest_size=8).hexdigest()


def _to_model(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 127.5 - 1.0


def _batches(data: torch.Tensor, batch: int, gen: torch.Generator, device: torch.device,
             flip: bool = True) -> Iterator[torch.Tensor]:
    """Random batches of ``data`` in [-1, 1]; with ``flip``, each image mirrored left-right with probability 1/2
    (the draw is made either way, so the batches' images are the same with and without it)."""
    data = data.to(device)
    while True:
        idx = torch.randint(0, len(data), (batch,), generator=gen).to(device)
        x = _to_model(data[idx]).contiguous(memory_format=torch.channels_last)
        mirror = (torch.rand(batch, generator=gen) < 0.5).to(device)
        yield torch.where(mirror[:, None, None, None], x.flip(-1), x) if flip else x


@torch.no_grad()
def diversity(images: torch.Tensor, encoder) -> float:
    """Mean pairwise distance between the L2-normalised, pooled EfficientNet-Lite0 features of
    ``images`` (in [-1, 1]); about 0 for identical images."""
    x = (images.float().cpu() + 1) / 2
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    f = encoder(x, ["block8"])["block8"].mean(dim=(2, 3))
    f = torch.nn.functional.normalize(f, dim=1)
    d = torch.cdist(f, f)
    n = len(f)
    return float(d.sum() / (n * (n - 1)))


@torch.no_grad()
def _generate(gan, z: torch.Tensor) -> torch.Tensor:
    """The sampling generator's images for ``z`` in eval mode, its training mode restored after (a
    VAE's ``g_ema`` is its decoder, which is still training)."""
    if hasattr(gan, "refresh_ema"):  # a GAN's batch-norm statistics for its averaged weights
        gan.refresh_ema()
    was = gan.g_ema.training
    gan.g_ema.eval()
    imgs = gan.g_ema(z.to(next(gan.parameters()).device))
    gan.g_ema.train(was)
    return imgs


def ema_decay(decay: float, step: int) -> float:
    """The averaging rate at ``step``: ``min(decay, (1 + step) / (10 + step))``. A fixed 0.999 would
    average over the last ~1,000 steps from the start, so for the first few thousand steps the average
    would hold the early, poor generators (on Fashion-MNIST after 1,600 steps: KID 14.2 against 7.0 for
    the raw generator); the ramp keeps the average over the last ~10 % of training until it reaches
    ``decay``."""
    return min(decay, (1 + step) / (10 + step))


class _EMA(Callback):
    """Updates the averaged generator every step (:func:`ema_decay`); its batch-norm statistics are
    re-estimated for the averaged weights before it paints or is saved (:meth:`GAN.refresh_ema`)."""

    def __init__(self, decay: float) -> None:
        self.decay = decay

    def on_step_end(self, trainer, step, logs):
        trainer.model.update_ema(ema_decay(self.decay, step))

    def on_checkpoint(self, trainer):
        trainer.model.refresh_ema()


class _Samples(Callback):
    """A grid of the EMA generator's images for 16 fixed seeds, every ``every`` steps and at the end."""

    def __init__(self, every: int, out: Path, z_dim: int) -> None:
        from ..pipelines.gan import latents

        self.every, self.out = every, out / "samples"
        self.z = latents(range(16), z_dim)

    def on_step_end(self, trainer, step, logs):
        if step % self.every == 0:
            self._write(trainer, step)

    def on_train_end(self, trainer):
        self._write(trainer, trainer.step)

    def _write(self, trainer, step):
        from ..pipelines.gan import grid_image

        imgs = _generate(trainer.model, self.z).cpu()
        self.out.mkdir(parents=True, exist_ok=True)
        grid_image(imgs, 4).save(self.out / f"step_{step:06d}.png")


class _CollapseCheck(Callback):
    def __init__(self, every: int, data: torch.Tensor, out: Path, z_dim: int, seed: int) -> None:
        from ..weights import load_encoder

        self.every, self.out, self.z_dim = every, out, z_dim
        self.encoder = load_encoder("efficientnet-lite0")
        g = torch.Generator().manual_seed(seed)
        pick = torch.randperm(len(data), generator=g)[:64]
        self.data_div = diversity(_to_model(data[pick]), self.encoder)

    def check(self, gan: GAN) -> tuple[float, bool]:
        from ..pipelines.gan import latents

        imgs = _generate(gan, latents(range(1000, 1064), self.z_dim))
        ratio = diversity(imgs, self.encoder) / max(self.data_div, 1e-12)
        return ratio, ratio < COLLAPSE_FRACTION

    def on_step_end(self, trainer, step, logs):
        if step % self.every:
            return None
        ratio, collapsed = self.check(trainer.model)
        path = self.out / "collapse.csv"
        new = not path.exists()
        with open(path, "a", newline="") as fh:
            w = csv.writer(fh)
            if new:
                w.writerow(["step", "diversity_ratio", "collapsed"])
            w.writerow([step, f"{ratio:.4f}", int(collapsed)])
        if collapsed:
            warnings.warn(f"step {step}: the samples look alike (diversity {ratio:.2f} of the data's, below "
                          f"{COLLAPSE_FRACTION}): the GAN may have collapsed; try --diffaugment, a lower --lr-g "
                          "or an earlier checkpoint", stacklevel=1)
        return None


def _forget_after(out: Path, step: int) -> None:
    """Remove the sample grids and collapse checks of steps after ``step`` (all of them for a new run, and the
    index of an earlier run's training images, which `gan sample --originality` would check against)."""
    if step == 0:
        (out / "train_index.npz").unlink(missing_ok=True)
    for f in (out / "samples").glob("step_*.png"):
        n = f.stem.removeprefix("step_")
        if n.isdigit() and int(n) > step:
            f.unlink()
    path = out / "collapse.csv"
    if path.is_file():
        with open(path, newline="") as fh:
            rows = list(csv.reader(fh))
        keep = [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) <= step]
        if not keep:
            path.unlink()
        elif len(keep) < len(rows) - 1:
            with open(path, "w", newline="") as fh:
                csv.writer(fh).writerows([rows[0], *keep])


def train_gan(data: str | torch.Tensor, out_dir: str, *, config: GANTrainConfig = GANTrainConfig(),
              device: str = "auto", precision: str = "fp32", resume: bool = True, progress: bool = True,
              collapse_check: bool = True, time_limit: float | None = None, tensorboard: bool = False) -> Trainer:
    """Train (or resume) a GAN on a folder of images (or a ``uint8 (N, C, H, W)`` tensor)."""
    from ..runtime import make_generator, resolve_device, wrap_seed

    if config.loss not in ("ns", "hinge"):
        raise BrushworkError(f"unknown --loss {config.loss!r}: use ns or hinge")
    if config.model not in ("gan", "vae"):
        raise BrushworkError(f"unknown --model {config.model!r}: use gan or vae")
    if config.model == "vae":  # (they were taken and did nothing, and then counted as other settings on a resume)
        default = GANTrainConfig()
        gan_only = [o if flag(o) == o else k for o, k in GAN_ONLY if getattr(config, k) != getattr(default, k)]
        if gan_only:
            raise BrushworkError(f"{', '.join(gan_only)}: {'it is' if len(gan_only) == 1 else 'they are'}"
                                 f" for the GAN's discriminator, which the VAE has not: leave "
                                 f"{'it' if len(gan_only) == 1 else 'them'} out (--lr-g is the VAE's learning rate)")
    for name in ("size", "z_dim", "width", "batch", "steps", "sample_every", "collapse_every"):
        v = getattr(config, name)
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise BrushworkError(f"{name} must be a whole number of at least 1, got {v!r}")
    if config.base_width is not None and (not isinstance(config.base_width, numbers.Integral) or config.base_width < 1):
        raise BrushworkError(f"base_width must be None or a whole number of at least 1, got {config.base_width!r}")
    config = replace(config, **{name: int(getattr(config, name)) for name in (  # (numpy integers: plain, for JSON)
        "size", "z_dim", "width", "batch", "steps", "sample_every", "collapse_every")},
        base_width=None if config.base_width is None else int(config.base_width))
    if not (config.lr_g > 0 and config.lr_d > 0 and config.r1_gamma >= 0 and 0 <= config.ema_decay < 1):
        raise BrushworkError(f"lr_g and lr_d must be above 0, r1_gamma at least 0 and ema_decay in [0, 1); got "
                             f"{config.lr_g}, {config.lr_d}, {config.r1_gamma}, {config.ema_decay}")
    if not isinstance(data, (str, os.PathLike, torch.Tensor)):
        raise BrushworkError(f"data must be a folder, a dataset name or a uint8 tensor (N, C, H, W), got "
                             f"{type(data).__name__} (a numpy array: torch.from_numpy(a))")
    if precision in ("fp16", "float16"):
        raise BrushworkError("GAN training uses fp32 or bf16 (fp16 would need a gradient scaler per network)")
    try:
        diff_augment(torch.zeros(1, 3, 8, 8), config.diffaugment)  # fails early on an unknown policy
    except ValueError as exc:
        raise BrushworkError(f"--diffaugment: {exc}") from None
    refuse_other_kind(Path(out_dir), "gan")
    load_stats: dict = {}
    if isinstance(data, torch.Tensor):
        if data.dtype != torch.uint8 or data.dim() != 4 or data.shape[1] not in (1, 3):
            raise BrushworkError(f"images must be a uint8 tensor (N, C, H, W) with C 1 or 3, got {data.dtype} "
                                 f"{tuple(data.shape)}: scale floats in [0, 1] by 255 and .to(torch.uint8); put channels "
                                 "second (x.permute(0, 3, 1, 2))")
        if len(data) < 2 or data.shape[-1] != data.shape[-2]:
            raise BrushworkError(f"images must be at least 2 square pictures, got a tensor of shape {tuple(data.shape)}"
                                 ": crop them square (brushwork.imaging.io.read_square does)")
        images, skipped = data, 0
    else:
        images, skipped = load_images(str(data), config.size, load_stats)
    if images.shape[-1] != config.size:
        raise BrushworkError(f"images are {images.shape[-1]} px, the model is {config.size} px")
    from .. import distributed

    dev = distributed.device_for(resolve_device(device))
    world = distributed.setup(dev)  # under torchrun: join the process group (one process: nothing)
    if config.batch % world.world_size:
        raise BrushworkError(f"--batch {config.batch} does not split evenly over {world.world_size} processes: "
                             f"use a multiple of {world.world_size}")
    # The data batch is global (same generator everywhere, each process trains on its slice); latents and
    # augmentations are drawn per process, so the processes' fakes differ.
    torch.manual_seed(wrap_seed(config.seed + 104729 * world.rank))
    gen = make_generator(config.seed)
    cfg = GANConfig(size=config.size, z_dim=config.z_dim, channels=int(images.shape[1]), width=config.width,
                    spectral_norm=config.spectral_norm, model=config.model, base_width=config.base_width)
    # channels_last: oneDNN's (and cuDNN's) preferred layout for convolutions
    gan = build_model(cfg).to(dev, memory_format=torch.channels_last)
    if world.distributed and dev.type == "cuda":  # batch norm over the global batch (SyncBatchNorm needs CUDA)
        if config.model == "vae":
            gan = nn.SyncBatchNorm.convert_sync_batchnorm(gan)
        else:  # the training generator only: the EMA copy is recalibrated on rank 0 alone
            gan.g = nn.SyncBatchNorm.convert_sync_batchnorm(gan.g)
    aug_gen = make_generator(config.seed + 1 + 104729 * world.rank)
    # DDP wrappers average gradients; the generator's loss goes through the plain discriminator (frozen
    # there), and the discriminator learns from the wrapped generator's batch, detached.
    train_g = distributed.wrap(gan) if config.model == "vae" else distributed.wrap(gan.g)
    train_d = None if config.model == "vae" else distributed.wrap(gan.d)
    # fused Adam: one kernel for every parameter instead of several ops per tensor
    fused = {"fused": True} if dev.type in ("cpu", "cuda") else {}
    if config.model == "vae":
        opt_g = torch.optim.Adam(gan.parameters(), lr=config.lr_g, **fused)
        opt_d = None
    else:
        opt_g = torch.optim.Adam(gan.g.parameters(), lr=config.lr_g, betas=(0.0, 0.99), **fused)
        opt_d = torch.optim.Adam(gan.d.parameters(), lr=config.lr_d, betas=(0.0, 0.99), **fused)

    def aug(x):
        return diff_augment(x, config.diffaugment, aug_gen) if config.diffaugment else x

    def vae_step(real):
        (real,) = distributed.shard_batch(real)
        recon, mu, logvar = train_g(real)
        loss, rec, kl = vae_loss(recon, real, mu, logvar)
        return loss, {"reconstruction": float(rec.detach()), "kl": float(kl.detach())}

    def step_fn(real):
        (real,) = distributed.shard_batch(real)
        n = real.shape[0]
        gan.d.requires_grad_(True)
        # one generator pass per step, as in the DCGAN reference: the discriminator learns from these
        # images detached, then the generator's loss is taken on the same images after its update
        fake_g = train_g(torch.randn(n, cfg.z_dim, device=dev))
        fake = fake_g.detach()
        real = real.detach().requires_grad_(config.r1_gamma > 0)
        if config.r1_gamma > 0:  # R1's double backward needs the real images' pass only
            real_logits, fake_logits = train_d(aug(real)), train_d(aug(fake))
        else:  # one pass over both halves (no batch norm in D: the same function), larger matrix products
            real_logits, fake_logits = train_d(torch.cat([aug(real), aug(fake)])).split([n, len(fake)])
        loss_d = d_loss(real_logits, fake_logits, config.loss)
        logs = {}
        if config.r1_gamma > 0:
            r1 = r1_penalty(real_logits, real)
            loss_d = loss_d + config.r1_gamma / 2 * r1
            logs["r1"] = float(r1.detach())
        # d_real and d_fake from the same pass, the one the discriminator learns from (d_fake was the generator's
        # pass through the updated discriminator, with another augmentation)
        logs.update({"d_loss": float(loss_d.detach()), "d_real": float(torch.sigmoid(real_logits.detach()).mean()),
                     "d_fake": float(torch.sigmoid(fake_logits.detach()).mean())})
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        gan.d.requires_grad_(False)  # the generator's step must not touch the discriminator
        fake_logits = gan.d(aug(fake_g))
        loss_g = g_loss(fake_logits, config.loss)
        return loss_g, logs

    out = Path(out_dir)
    checkpoint_every = max(1, min(500, config.steps))
    callbacks: list[Callback] = [_Samples(config.sample_every, out, cfg.z_dim)]
    if config.model == "gan":
        callbacks.insert(0, _EMA(config.ema_decay))
    if collapse_check:  # callbacks run on rank 0 only; its failure (an encoder's file missing) stops every process
        distributed.main_then_share(lambda: callbacks.append(
            _CollapseCheck(config.collapse_every, images, out, cfg.z_dim, config.seed)))
    source = "<tensor>" if isinstance(data, torch.Tensor) else str(data)
    model_config = {"gan": cfg.to_dict(), "train": asdict(config),
                    "data": {"source": source, "images": int(len(images)),
                             "skipped": skipped, "digest": _digest(images)},
                    "precision": precision}
    trainer = Trainer(gan, model_config, opt_g, vae_step if config.model == "vae" else step_fn,
                      _batches(images, config.batch, gen, dev, config.flip),
                      TrainerConfig(out_dir=out_dir, steps=config.steps, device=str(dev), precision=precision,
                                    grad_clip=None, checkpoint_every=checkpoint_every,
                                    progress=progress, time_limit=time_limit, tensorboard=tensorboard),
                      callbacks=callbacks,
                      extra_optimizers={"discriminator": opt_d} if opt_d is not None else None,
                      generators={"data": gen, "augment": aug_gen})
    trainer.skipped = skipped  # type: ignore[attr-defined]
    trainer.skipped_files = load_stats.get("skipped_files", [])  # type: ignore[attr-defined]
    trainer.enlarged = load_stats.get("enlarged", 0)  # type: ignore[attr-defined]
    resumed = False
    distributed.main_then_share(lambda: check_checkpoint_folder(out, resume))
    if resume and (out / "checkpoint" / "config.json").is_file():
        from .engine import read_config, same_source, saved_precision

        saved = read_config(out / "checkpoint")
        if "train" not in saved:
            raise BrushworkError(f"'{out_dir}' holds a run of another kind, not a GAN's: use another --out")
        # settings added since a run started count as their defaults (more --steps or --minutes continue); a VAE's
        # GAN-only settings (taken, unused, before 0.2.11) do not count
        before = {**asdict(GANTrainConfig()), **saved["train"]}
        kind = "VAE" if before.get("model") == "vae" else "GAN"
        unused = {"steps", *(k for _, k in GAN_ONLY)} if kind == "VAE" and config.model == "vae" else {"steps"}
        try:
            same_model = GANConfig.from_dict({**GANConfig().to_dict(), **saved["gan"], **(
                {"spectral_norm": cfg.spectral_norm} if "spectral_norm" in unused else {})}) == cfg
        except (TypeError, ValueError):  # settings this version does not know
            same_model = False
        if not same_model or saved_precision(out, saved) != precision or {
                k: v for k, v in before.items() if k not in unused} != {
                k: v for k, v in asdict(config).items() if k not in unused}:
            raise BrushworkError(f"'{out_dir}' holds a {kind} run with other settings (or precision): use --no-resume "
                                 "to start over, or another --out")
        was = saved.get("data", {}).get("source")  # (a run saved before it was recorded: not checked)
        if was is not None and not same_source(was, source):
            raise BrushworkError(f"'{out_dir}' holds a {kind} run trained on {was}, not {source}: use --no-resume to "
                                 "start over, or another --out")
        digest = saved.get("data", {}).get("digest")  # (recorded since 0.2.9)
        if digest is not None and digest != model_config["data"]["digest"]:
            raise BrushworkError(f"'{out_dir}' holds a {kind} run trained on other pictures of {source} ("
                                 f"{saved['data'].get('images', '?')} then, {len(images)} now: added, removed or edited "
                                 "since; its originality index would no longer hold what it learnt from): use "
                                 "--no-resume to start over, or another --out")
        resumed = trainer.resume()
        if resumed and "data" in trainer.restored_generators:  # where it stopped: the run goes on as an unbroken one
            if world.rank:  # (the checkpoint holds rank 0's augmentation stream: the others take their own)
                aug_gen.manual_seed(wrap_seed(config.seed + 1 + 7919 * trainer.step + 104729 * world.rank))
        elif resumed:  # a checkpoint of 0.2.8 or before: fresh random streams, not a replay of the first ones
            gen.manual_seed(wrap_seed(config.seed + 7919 * trainer.step))  # the data: the same on every process
            aug_gen.manual_seed(wrap_seed(config.seed + 1 + 7919 * trainer.step + 104729 * world.rank))  # per process
            torch.manual_seed(wrap_seed(config.seed + 7919 * trainer.step + 104729 * world.rank))  # latents: per process
    if not resumed:  # no run here: a log.csv or collapse.csv may be the user's own (it was replaced)
        distributed.main_then_share(lambda: refuse_foreign_files(out, (("log.csv", "step,"), ("collapse.csv", "step,"))))
    # an earlier run's grids and checks (or those logged after the checkpoint) would pass for this run's
    distributed.main_then_share(lambda: _forget_after(out, trainer.step if resumed else 0))
    trainer.fit()
    return trainer
