"""Recipe: train an AdaIN decoder (Huang & Belongie 2017) on folders of photos and artworks.

Loss per batch (content crops c, style crops s, target t = AdaIN(f(c), f(s)) at the decoder's tap, or
with ``transform="wct"`` the whitening-colouring target WCT(f(c), f(s)) that the decoder will paint):

* content: ``||f(g(t)) - t||^2 / ||t||^2`` at the tap, and at the deep taps if the decoder reads any
  (the paper's content loss, relative);
* style: relative mean/std error of ``f(g(t))`` against ``f(s)`` at several taps (the paper's style
  loss, relative so that taps of different scale weigh alike), weighted by ``style_weight``;
* Gram (our addition, off by default): relative Gram-matrix error of ``f(g(t))`` against ``f(s)`` at the
  same taps, weighted by ``gram_weight``: AdaIN's loss matches each channel's mean and std only, while
  a style's look also lives in how channels co-vary, which Gatys' loss (and brushwork's judge) measure;
* reconstruction (our addition): ``|g(f(c)) - c|_1``, weighted by ``recon_weight``, so that strength
  0 gives the photo back; the paper's decoder is never asked to reconstruct.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..errors import BrushworkError
from ..functional import adain, gram_matrix, mean_std, wct
from ..imaging.decode import has_alpha, key_to_alpha, to_8bit, to_srgb
from ..losses import content_loss, gram_loss, mean_std_loss
from ..models.adain import TRANSFORMS, Decoder, DecoderConfig, decoder_features, join_taps
from .engine import (Callback, Trainer, TrainerConfig, check_checkpoint_folder, refuse_foreign_files,
                     refuse_other_kind)

__all__ = ["AdaINTrainConfig", "ImagePool", "train_adain"]

STYLE_TAPS = ("stem", "block1.expand", "block3.expand", "block5.expand", "block8.expand")


@dataclass(frozen=True)
class AdaINTrainConfig:
    """Hyperparameters of the recipe (saved with the checkpoint)."""

    size: int = 192
    batch: int = 8
    steps: int = 2000
    lr: float = 1e-3
    style_weight: float = 3.0
    recon_weight: float = 1.0
    gram_weight: float = 0.0
    style_taps: tuple[str, ...] = STYLE_TAPS
    gram_taps: tuple[str, ...] | None = None  # None: the style taps
    max_side: int = 768
    sample_every: int = 200
    seed: int = 0
    transform: str = "adain"  # the target the decoder learns to paint: "adain" or "wct"


class ImagePool:
    """Images held in memory (long side at most ``max_side``, unless that would leave the short side under
    ``min_side``: then the short side is ``min_side``) for random square crops.

    Large photos give many different crops: each crop first picks a random scale between "the
    crop covers the whole short side" and "native resolution", cuts that square and resizes it.
    Transparent pixels are composited over white. Unreadable, too small or fully transparent files are
    skipped and counted in ``skipped``. With ``device="cuda"`` the images live on the GPU and cropping costs
    the host nothing.
    """

    def __init__(self, files: Sequence[Path], *, max_side: int, min_side: int, device: str | torch.device = "cpu",
                 what: str = "images") -> None:
        from PIL import ImageOps

        self.images: list[torch.Tensor] = []
        self.skipped: list[str] = []
        small = blank = 0
        for f in files:
            try:
                with Image.open(f) as im:
                    im.draft("RGB", (max_side, max_side))  # JPEG: decode at reduced scale, fast
                    im = ImageOps.exif_transpose(im)  # a phone's photo upright, as stylize reads it
                    im = to_8bit(to_srgb(key_to_alpha(im)))  # a photo in Display P3 or Adobe RGB: its colours, as stylize reads them
                    w, h = im.size
                    if min(w, h) >= min_side > min(w, h) * max_side / max(w, h):  # (a wide photo: its long side at
                        s = min_side / min(w, h)  # max_side left its short side under the crops' size, and it was
                        im = im.resize((max(min_side, round(w * s)), max(min_side, round(h * s))),  # refused as "too
                                       Image.Resampling.LANCZOS)  # small": the short side is kept at min_side)
                    else:
                        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                    if min(im.size) < min_side:
                        small += 1
                        raise ValueError("too small")
                    if has_alpha(im):
                        rgba = im.convert("RGBA")
                        if rgba.getchannel("A").getextrema()[1] == 0:  # (nothing visible: a white square to learn)
                            blank += 1
                            raise ValueError("fully transparent")
                        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
                        im = Image.alpha_composite(white, rgba)
                    arr = np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
            except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
                self.skipped.append(str(f))
                continue
            self.images.append(torch.from_numpy(arr).permute(2, 0, 1).to(device))  # (3, H, W) uint8
        if not self.images:
            why = [f"{len(files) - small - blank} unreadable"] if small + blank < len(files) else []
            why += [f"{small} with a short side under {min_side} px (--size)"] if small else []
            why += [f"{blank} fully transparent"] if blank else []
            raise BrushworkError(f"no usable {what} among {len(files)} files ({', '.join(why)}): give readable images "
                                 f"of at least {min_side} px, or a smaller --size")

    def crops(self, n: int, size: int, gen: torch.Generator) -> torch.Tensor:
        """``(n, 3, size, size)`` float crops in [0, 1] on the pool's device (``gen`` is a CPU generator)."""
        out = []
        for _ in range(n):
            img = self.images[int(torch.randint(len(self.images), (1,), generator=gen))]
            h, w = img.shape[-2:]
            short = min(h, w)
            side = size + int(torch.randint(short - size + 1, (1,), generator=gen))  # the square cut, then resized
            top = int(torch.randint(h - side + 1, (1,), generator=gen))
            left = int(torch.randint(w - side + 1, (1,), generator=gen))
            crop = img[:, top:top + side, left:left + side].unsqueeze(0).float() / 255.0
            if side != size:
                crop = F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
            if float(torch.rand((), generator=gen)) < 0.5:
                crop = crop.flip(-1)
            out.append(crop)
        return torch.cat(out).clamp(0.0, 1.0)


#: peak memory of a CPU training step per pixel of the crops it holds (the shipped decoder's size; 2.0 KB measured:
#: peak resident memory of `adain train` at batch 4 and 16 of 192 px crops, 0.71 and 1.62 GB)
CPU_BYTES_PER_CROP_PIXEL = 2000


def _check_memory(config: AdaINTrainConfig, dev: torch.device, processes: int) -> None:
    """On the CPU, a batch that cannot fit is refused before the run: the system would otherwise give memory until
    it stops the process without a word (a GPU says "out of memory" itself, which is reported as such)."""
    from ..runtime import available_memory

    free = available_memory()
    if dev.type != "cpu" or free is None:
        return
    here = int(os.environ.get("LOCAL_WORLD_SIZE", processes))  # (torchrun's processes on this machine share it)
    per_crop = config.size ** 2 * CPU_BYTES_PER_CROP_PIXEL
    need = config.batch // processes * here * per_crop
    if need > free:
        fits = free // (per_crop * here) * processes  # (a multiple of the processes, as --batch must be)
        raise BrushworkError(f"--batch {config.batch} of {config.size} px crops needs about {need / 2**30:.1f} GiB to "
                             f"train on the CPU, and {free / 2**30:.1f} GiB is free: "
                             + (f"use --batch {fits} or less" if fits else "use a smaller --size"))


def _batches(content: ImagePool, style: ImagePool, cfg: AdaINTrainConfig, device: torch.device,
             gen: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    while True:
        yield (content.crops(cfg.batch, cfg.size, gen).to(device, non_blocking=True),
               style.crops(cfg.batch, cfg.size, gen).to(device, non_blocking=True))


class SampleGrid(Callback):
    """Every ``every`` steps, write ``samples/step_NNNNNN.png``: rows of content | style | result."""

    def __init__(self, encoder, decoder: Decoder, content: torch.Tensor, style: torch.Tensor, every: int, out: Path,
                 transform=adain):
        self.encoder, self.decoder, self.every, self.out = encoder, decoder, every, out / "samples"
        self.content, self.style, self.transform = content, style, transform

    def on_step_end(self, trainer, step, logs):
        if self.every > 0 and step % self.every == 0:
            self._write(step)
        return None

    def on_train_end(self, trainer):
        if self.every > 0 and trainer.step % self.every:  # the final weights, unless just written
            self._write(trainer.step)

    @torch.no_grad()
    def _write(self, step: int) -> None:
        from ..imaging.io import save_image

        self.decoder.eval()
        cfg = self.decoder.config
        c = decoder_features(self.encoder, self.content, cfg)
        s = decoder_features(self.encoder, self.style, cfg)
        y = self.decoder(self.transform(c, s)).clamp(0, 1)
        rows = torch.cat([torch.cat([a, b, d], dim=-1) for a, b, d in zip(self.content, self.style, y)], dim=-2)
        self.out.mkdir(parents=True, exist_ok=True)
        save_image(rows.permute(1, 2, 0).cpu().numpy(), self.out / f"step_{step:06d}.png")
        self.decoder.train()


def _files(sources: Sequence[str]) -> list[Path]:
    from ..datasets import SOURCES, fetch, list_images

    files: list[Path] = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            found = list_images(p)
        elif s in SOURCES:
            found = list_images(fetch(s))
        else:
            raise BrushworkError(f"'{s}' is neither a folder nor a dataset name ({', '.join(SOURCES)})")
        if not found:
            raise BrushworkError(f"folder '{s}' holds no images (.png, .jpg, .webp, ...)")
        files += found
    return files


def _dry_run_pool(seed: int, size: int) -> ImagePool:
    # A handful of synthetic images (gradients + noise): exercises the whole recipe offline in seconds.
    # The pool holds them in memory, so their folder goes once it is read.
    import tempfile

    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory(prefix="brushwork-dry-run-") as tmp:
        files = []
        for i in range(4):
            yy, xx = np.mgrid[0:size * 2, 0:size * 2] / (size * 2)
            base = np.stack([xx, yy, (xx + yy) / 2], axis=2) * rng.uniform(0.3, 1.0, 3)
            arr = np.clip(base + rng.normal(0, 0.1, base.shape), 0, 1)
            f = Path(tmp) / f"{i}.png"
            Image.fromarray((arr * 255).astype(np.uint8)).save(f)
            files.append(f)
        return ImagePool(files, max_side=size * 2, min_side=size)


def _train_dict(config: AdaINTrainConfig) -> dict:
    """``config`` as saved in ``config.json`` (JSON types; no ``gram_taps`` when unset and no ``transform`` at
    ``adain``, as before they existed, so older brushwork still resumes such runs)."""
    d = {**asdict(config), "style_taps": list(config.style_taps)}
    if config.transform == "adain":
        d.pop("transform")
    if config.gram_taps is None:
        d.pop("gram_taps")
    else:
        d["gram_taps"] = list(config.gram_taps)
    return d


def _check_resumable(out: Path, config: AdaINTrainConfig, decoder_config: DecoderConfig, accumulate: int,
                     data: dict, precision: str = "fp32", init: str | None = None) -> dict | None:
    """A run in ``out`` may continue only with the same decoder, settings, precision and data (more steps are fine;
    the same ``accumulate`` too, as the crops a step takes depend on it), and without ``init`` (which starts a new
    run). Returns the run's saved config (None: no run there)."""
    from .engine import read_config, same_source, saved_precision

    saved_file = out / "checkpoint" / "config.json"
    if not saved_file.is_file():
        return None
    saved = read_config(saved_file.parent)
    if "train" not in saved:  # (another recipe's run is refused before: refuse_other_kind)
        raise BrushworkError(f"'{out}' holds a run of another kind, not an AdaIN decoder's: use another --out")
    try:  # settings added since the run started count as their defaults
        same_decoder = DecoderConfig.from_dict({**DecoderConfig().to_dict(), **saved["decoder"]}) == decoder_config
    except (TypeError, ValueError):  # settings this version does not know
        same_decoder = False
    free = ("steps", "sample_every")
    if "accumulate" not in saved["train"]:  # 1, or a run saved before config.json recorded it
        saved["train"]["accumulate"] = _saved_accumulate(out)
    before = {k: v for k, v in {**_train_dict(AdaINTrainConfig()), **saved["train"],
                                "precision": saved_precision(out, saved)}.items() if k not in free}
    now = {k: v for k, v in {**_train_dict(config), "accumulate": accumulate, "precision": precision}.items()
           if k not in free}
    if not same_decoder or before != now:
        changed = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
        changed += [] if same_decoder else ["the decoder's taps or widths"]
        raise BrushworkError(f"'{out}' holds a decoder run with other settings ({', '.join(changed)}): "
                             "use --no-resume to start over, or another --out")
    recorded = saved.get("init")
    same_init = (init in ("", "shipped") and recorded in ("", "shipped")) or (
        init and recorded not in (None, "", "shipped") and same_source(str(recorded), init))
    if init is not None and not same_init:  # (the same --init again: the run's own command, resumed)
        started = {None: "random weights", "": "the shipped decoder"}.get(recorded, recorded)
        raise BrushworkError(f"'{out}' holds a run to resume (started from {started}); --init starts a new one: "
                             "add --no-resume to start over from it, or drop --init to continue")
    was = {k: v for k, v in saved.get("data", {}).items() if k != "skipped"}

    def same(a: dict, b: dict) -> bool:  # folders however they are spelled (a trailing slash, an absolute path)
        if a.keys() != b.keys():
            return False
        for k in a:
            x, y = a[k], b[k]
            if isinstance(x, list) and isinstance(y, list):
                if len(x) != len(y) or not all(same_source(str(i), str(j)) for i, j in zip(x, y)):
                    return False
            elif x != y:
                return False
        return True

    if was and not same(was, {k: v for k, v in data.items() if k != "skipped"}):  # (runs saved before "data": not checked)
        def what(d: dict) -> str:
            return "synthetic crops (--dry-run)" if d.get("dry_run") else f"--content {d.get('content')} --style {d.get('style')}"
        raise BrushworkError(f"'{out}' holds a decoder run trained on {what(was)}, not {what(data)}: use --no-resume "
                             "to start over, or another --out")
    listing = saved.get("listing")  # (recorded since 0.2.9)
    if listing is not None and not data.get("dry_run"):
        now = _listing(_files(data["content"]), _files(data["style"]))
        if now["digest"] != listing["digest"]:
            raise BrushworkError(f"'{out}' holds a decoder run trained on other pictures of these folders "
                                 f"({listing.get('images', '?')} then, {now['images']} now: added, removed or replaced "
                                 "since): use --no-resume to start over, or another --out")
    return saved


def _listing(content: Sequence[Path], style: Sequence[Path]) -> dict:
    """The pictures a run trains on, as a resumed run checks them: their count and a digest of their names and
    sizes (each folder's pictures in order)."""
    import hashlib

    h = hashlib.blake2b(digest_size=8)
    for part, files in (("content", content), ("style", style)):
        h.update(part.encode())
        for f in files:
            h.update(f"\0{f.name}\0{f.stat().st_size}".encode("utf-8", "surrogatepass"))
    return {"images": len(content) + len(style), "digest": h.hexdigest()}


def _saved_accumulate(out: Path) -> int:
    """The run's ``accumulate``: config.json has it when it is not 1; runs saved before it was written
    there have it in the trainer's state."""
    from .engine import saved_trainer_config

    return int(saved_trainer_config(out).get("accumulate", 1))


def _describe(c: DecoderConfig) -> str:
    return f"{c.encoder} {'+'.join(c.taps)} with widths {','.join(map(str, c.widths))}"


def _widens(start: DecoderConfig, target: DecoderConfig) -> bool:
    """``target`` is ``start`` with deep taps added (same tap and widths)."""
    return (not start.deep_taps and bool(target.deep_taps) and start.encoder == target.encoder
            and start.tap == target.tap and start.widths == target.widths)


def _widened_state(start: Decoder, target: Decoder) -> dict[str, torch.Tensor]:
    """``start``'s weights in ``target``, the deep taps' input weights zero: it paints as ``start`` did."""
    state = start.state_dict()
    first = target.net[0].weight  # the 1x1 reduction
    w = torch.zeros_like(first)
    w[:, : state["net.0.weight"].shape[1]] = state["net.0.weight"]
    state["net.0.weight"] = w
    return state


def train_adain(
    content: Sequence[str],
    style: Sequence[str],
    out_dir: str,
    *,
    config: AdaINTrainConfig = AdaINTrainConfig(),
    decoder_config: DecoderConfig = DecoderConfig(),
    device: str = "auto",
    precision: str = "fp32",
    resume: bool = True,
    dry_run: bool = False,
    progress: bool = True,
    init: str | None = None,
    time_limit: float | None = None,
    accumulate: int = 1,
    tensorboard: bool = False,
) -> Trainer:
    """Train (or resume training) a decoder; the result is ``out_dir/checkpoint``.

    ``init`` starts a new run from a decoder folder's weights ("" for the shipped decoder): its architecture must match
    ``decoder_config``, or be the same decoder without ``decoder_config``'s deep taps (their weights then start at
    zero); ``time_limit`` (seconds) ends the run early, checkpointed, when spent. Resuming needs the same settings
    (but ``steps`` and ``sample_every``).
    """
    from ..runtime import make_generator, resolve_device
    from ..weights import load_encoder

    from .. import distributed

    dev = distributed.device_for(resolve_device(device))
    world = distributed.setup(dev)  # under torchrun: join the process group (one process: nothing)
    if config.batch % world.world_size:
        raise BrushworkError(f"--batch {config.batch} does not split evenly over {world.world_size} processes: "
                             f"use a multiple of {world.world_size}")
    if config.transform not in TRANSFORMS:
        raise BrushworkError(f"transform must be one of {', '.join(TRANSFORMS)}, got {config.transform!r}")
    if config.size < 32:  # the tap (stride 8) needs a few rows for the decoder's padding and the statistics
        raise BrushworkError(f"--size {config.size} is too small to train on: use 32 or more (default 192)")
    if config.max_side < config.size:
        raise BrushworkError(f"--max-side {config.max_side} is below --size {config.size}: images are shrunk to "
                             f"{config.max_side} px, too small for {config.size} px crops: use --max-side "
                             f"{config.size} or more")
    if config.transform == "wct" and decoder_config.deep_taps:
        raise BrushworkError("--transform wct trains one-tap decoders only: drop --deep-taps")
    # folders recorded where they are, so that the run resumes from any working directory
    data = {"dry_run": True} if dry_run else {k: [str(Path(s).resolve()) if Path(s).is_dir() else s for s in v]
                                             for k, v in (("content", content), ("style", style))}
    refuse_other_kind(Path(out_dir), "decoder")
    distributed.main_then_share(lambda: check_checkpoint_folder(Path(out_dir), resume))
    saved = (_check_resumable(Path(out_dir), config, decoder_config, accumulate, data, precision, init)
             if resume else None)
    # the weights continue the saved run (from its checkpoint): it names where they started
    started_from = saved.get("init") if saved is not None else init
    if saved is not None:
        init = None  # (the checkpoint's weights continue; --init, the same as the run's, is not read again)
    elif init and Path(init).exists():
        started_from = str(Path(init).resolve())  # (where it is, so that the same --init matches from anywhere)
    started_from = "shipped" if started_from == "" else started_from  # (recorded as "" before)
    encoder = load_encoder(decoder_config.encoder, device=dev)
    # crops must fall on every tap's grid, or the decoder paints a picture of another size than the crop; and
    # the deepest tap needs two rows at least, for the decoder's reflection padding
    align = max(encoder.tap_shape(t)[1] for t in decoder_config.taps)
    if config.size % align or config.size < 2 * align:
        raise BrushworkError(f"--size {config.size} does not suit the deepest tap (stride {align}): use a multiple "
                             f"of {align} of at least {2 * align}, e.g. {max(2 * align, config.size // align * align)}")
    _check_memory(config, dev, world.world_size)
    torch.manual_seed(config.seed)
    gen = make_generator(config.seed)  # every process draws the same global batch of crops
    listing = None
    if dry_run:
        c_pool = s_pool = _dry_run_pool(config.seed, config.size)
    else:
        pool_dev = dev if dev.type == "cuda" else "cpu"  # on a GPU, crops are cut there
        c_files, s_files = _files(content), _files(style)
        listing = _listing(c_files, s_files)  # (recorded: a resumed run checks its pictures are these)
        c_pool = ImagePool(c_files, max_side=config.max_side, min_side=config.size, device=pool_dev,
                           what="content images")
        s_pool = ImagePool(s_files, max_side=config.max_side, min_side=config.size, device=pool_dev,
                           what="style images")
    skipped = len(c_pool.skipped) + (0 if s_pool is c_pool else len(s_pool.skipped))
    if skipped and distributed.is_main():  # said before training (hours), not after it
        print(f"brushwork: note: skipped {skipped} unreadable, too small or fully transparent image(s)",
              file=sys.stderr)
    decoder = Decoder(decoder_config)
    if init is not None:
        from ..weights import load_decoder

        start = load_decoder(init or None)  # "" (or None): the decoder shipped with brushwork
        if start.config == decoder_config:
            decoder.load_state_dict(start.state_dict())
        elif _widens(start.config, decoder_config):
            decoder.load_state_dict(_widened_state(start, decoder))
        else:
            raise BrushworkError(f"--init decoder '{init or 'shipped'}' is {_describe(start.config)}, not "
                                 f"{_describe(decoder_config)}: pick a matching decoder")
    decoder = decoder.to(dev)
    ddp_decoder = distributed.wrap(decoder)  # DDP averages the processes' gradients
    gram_taps = config.style_taps if config.gram_taps is None else config.gram_taps
    taps = list(dict.fromkeys([*config.style_taps, *(gram_taps if config.gram_weight > 0 else ()), *decoder_config.taps]))

    def share(loss: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
        # The losses are relative (a sum over the batch divided by the target's sum). Under DDP each
        # process holds half the batch: rescale its ratio to (its numerator) / (the global denominator)
        # x processes, so that DDP's average of the gradients is the global batch's gradient exactly.
        if not world.distributed:
            return loss
        return loss * (denominator / distributed.global_sum(denominator).clamp_min(1e-12) * world.world_size)

    transform = wct if config.transform == "wct" else adain  # per sample: each crop with its style

    def step_fn(batch):
        c, s = distributed.shard_batch(*batch)  # this process's slice of the global batch
        with torch.no_grad():
            fc = decoder_features(encoder, c, decoder_config)
            fs = encoder(s, taps)
            t = transform(fc, join_taps(fs, decoder_config))
            s_stats = {k: mean_std(fs[k]) for k in config.style_taps}
            s_grams = {k: gram_matrix(fs[k]) for k in gram_taps} if config.gram_weight > 0 else {}
        y = ddp_decoder(t)
        fy = encoder(y, taps)
        l_content = share(content_loss(join_taps(fy, decoder_config), t), t.pow(2).sum())
        l_style = sum(share(mean_std_loss(fy[k], *s_stats[k]), s_stats[k][0].pow(2).sum() + s_stats[k][1].pow(2).sum())
                      for k in config.style_taps) / len(config.style_taps)
        loss = l_content + config.style_weight * l_style
        logs = {"content": float(l_content.detach()), "style": float(l_style.detach())}
        if config.gram_weight > 0:
            l_gram = sum(share(gram_loss(fy[k], s_grams[k]), s_grams[k].pow(2).sum())
                         for k in gram_taps) / len(gram_taps)
            loss = loss + config.gram_weight * l_gram
            logs["gram"] = float(l_gram.detach())
        if config.recon_weight > 0:
            l_recon = (ddp_decoder(fc) - c).abs().mean()
            loss = loss + config.recon_weight * l_recon
            logs["recon"] = float(l_recon.detach())
        return loss, logs

    sample_gen = make_generator(config.seed + 1)
    samples = SampleGrid(encoder, decoder, c_pool.crops(3, config.size, sample_gen).to(dev),
                         s_pool.crops(3, config.size, sample_gen).to(dev), config.sample_every, Path(out_dir),
                         transform)
    # accumulate only when it is not 1, so that older brushwork still resumes such runs (see _train_dict)
    model_config = {"decoder": decoder_config.to_dict(),
                    "train": {**_train_dict(config), **({"accumulate": accumulate} if accumulate != 1 else {})},
                    "data": {**data, "skipped": skipped},
                    # (beside "data", not in it: brushwork 0.2.8 resumes a run only when "data" has the keys it knows)
                    **({"listing": listing} if listing is not None else {}),
                    "init": started_from, "precision": precision}
    trainer = Trainer(
        ddp_decoder, model_config, torch.optim.Adam(decoder.parameters(), lr=config.lr),
        step_fn, _batches(c_pool, s_pool, config, dev, gen),
        TrainerConfig(out_dir=out_dir, steps=config.steps, device=str(dev), precision=precision,
                      checkpoint_every=max(1, min(500, config.steps)), progress=progress, time_limit=time_limit,
                      accumulate=accumulate, tensorboard=tensorboard),
        callbacks=[samples],
    )
    trainer.skipped = skipped  # type: ignore[attr-defined]
    if saved is not None:
        trainer.resume(fast_forward=True)  # the crops continue where the checkpoint left them
    def forget_later_grids() -> None:  # an earlier run's grids (or those written after the checkpoint) would pass
        for f in (Path(out_dir) / "samples").glob("step_*.png"):  # for this run's
            n = f.stem.removeprefix("step_")
            if not n.isdigit() or int(n) > trainer.step:
                f.unlink()

    if saved is None:  # no run here: a log.csv may be the user's own (it was replaced)
        distributed.main_then_share(lambda: refuse_foreign_files(Path(out_dir), (("log.csv", "step,"),)))
    distributed.main_then_share(forget_later_grids)  # (rank 0's files; its failure stops the others too)
    trainer.fit()
    return trainer
