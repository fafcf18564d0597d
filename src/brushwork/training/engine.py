"""A generic trainer that knows nothing of the model it trains (in the spirit of minGPT's).

A recipe gives it a module, an optimizer and a ``step_fn(batch) -> (loss, logs)``; the trainer owns
the loop: device and precision (autocast, gradient scaling on CUDA fp16), gradient clipping,
progress bar, a CSV log, checkpoints (``model.safetensors`` + ``config.json`` for the model and
``trainer_state.pt`` for optimizer, scaler, step and RNG state) written atomically, resume,
callbacks (sample grids, early stopping) and Ctrl-C, which saves a checkpoint before stopping.

Under torchrun (``brushwork.distributed``) the recipe wraps its model in DDP and trains each process on
its slice of the global batch; the trainer keeps the unwrapped model, lets only rank 0 write (checkpoints,
``log.csv``, callbacks' files) and show progress, and stops every process when a callback on rank 0
says stop. Checkpoints are the same for any number of processes, so a run resumes on any number.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import distributed
from ..errors import BrushworkError, hint
from ..runtime import autocast, interrupts_deferred, resolve_device

__all__ = ["TrainerConfig", "Trainer", "Callback", "save_model", "load_model_state", "find_checkpoint",
           "read_config", "saved_precision", "saved_trainer_config", "same_source"]


@dataclass(frozen=True)
class TrainerConfig:
    """Loop settings. ``out_dir`` receives checkpoints, ``log.csv`` and whatever callbacks write."""

    out_dir: str
    steps: int
    device: str = "auto"
    precision: str = "fp32"
    grad_clip: float | None = 1.0
    log_every: int = 10
    checkpoint_every: int = 200
    seed: int = 0
    progress: bool = True
    time_limit: float | None = None  # seconds of this run; stops cleanly (with a checkpoint) when spent
    accumulate: int = 1  # micro-batches per optimizer step (gradient accumulation)
    tensorboard: bool = False  # also log scalars to out_dir/tensorboard (needs the tensorboard package)


class Callback:
    """Hooks; return True from ``on_step_end`` to stop training (early stopping)."""

    def on_step_end(self, trainer: Trainer, step: int, logs: dict[str, float]) -> bool | None:
        return None

    def on_train_end(self, trainer: Trainer) -> None:
        return None

    def on_checkpoint(self, trainer: Trainer) -> None:
        """Just before rank 0 writes a checkpoint (every ``checkpoint_every`` steps, at the end, on Ctrl-C)."""
        return None


#: what a checkpoint folder holds (and the temporary files of their atomic writes, named ``.NAME.tmp``)
CHECKPOINT_FILES = ("config.json", "model.safetensors", "trainer_state.pt")


def check_checkpoint_folder(out: Path, resume: bool) -> None:
    """Refuse what a training command would otherwise throw away: files of the user's in ``OUT/checkpoint`` (a new
    run removes that folder), and weights without their ``config.json`` (a run stopped while saving its first
    checkpoint) when asked to resume (it started over from random weights, removing them).

    Raises:
        BrushworkError: naming the folder and what to do.
    """
    ck = Path(out) / "checkpoint"
    if not ck.is_dir() or (resume and (ck / "config.json").is_file()):  # (a run that resumes removes nothing)
        return
    # (dot-files are the system's and the editors', .DS_Store, .ipynb_checkpoints; the atomic writes' .NAME.tmp too)
    theirs = sorted(f.name for f in ck.iterdir() if f.name not in CHECKPOINT_FILES and not f.name.startswith("."))
    if theirs:
        raise BrushworkError(f"'{ck}' holds {theirs[0]}" + (f" and {len(theirs) - 1} more" if len(theirs) > 1 else "")
                             + ", not a brushwork checkpoint's, which a new run would remove: use another --out, or "
                             "move them")
    if resume and not (ck / "config.json").is_file() and any((ck / f).is_file() for f in CHECKPOINT_FILES):
        raise BrushworkError(f"'{ck}' holds weights without their config.json (a run stopped while saving its first "
                             "checkpoint?), so it cannot be resumed: use --no-resume to start over, or another --out")


def foreign_files(out: Path, logs: Sequence[tuple[str, str]]) -> list[str]:
    """The files of ``logs`` (``(name, header)``) in ``out`` that a new run would replace and that are not a
    brushwork run's: with no checkpoint there, a ``log.csv`` not starting with its header is the user's own."""
    if (Path(out) / "checkpoint").exists():
        return []
    return [name for name, header in logs if (Path(out) / name).is_file() and not starts_with(Path(out) / name, header)]


def refuse_foreign_files(out: Path, logs: Sequence[tuple[str, str]], extra: Sequence[str] = ()) -> None:
    """Raise when a new run in ``out`` would replace files that are not a brushwork run's (:func:`foreign_files`;
    ``extra``: more such names the caller found).

    Raises:
        BrushworkError: naming them.
    """
    theirs = [*foreign_files(out, logs), *extra]
    if theirs:
        raise BrushworkError(f"'{out}' holds {' and '.join(theirs)}, not a brushwork run's, which a new run would "
                             "replace: use another --out, or move them")


def starts_with(path: Path, text: str) -> bool:
    """Whether the file begins with ``text`` (a log's header: the file is brushwork's own), or is empty."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            head = fh.read(len(text))
        return head in (text, "")  # (empty: a run killed before its first row)
    except OSError:
        return False


def _summary_writer(folder: Path | None):
    """TensorBoard's writer (imported only when asked for; ``None``: only check that it imports)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        from ..errors import BrushworkError

        raise BrushworkError("--tensorboard needs the tensorboard package: pip install tensorboard") from None
    return None if folder is None else SummaryWriter(str(folder))


def _atomic_save(write: Callable[[str], None], path: Path) -> None:
    """``write`` a checkpoint file under ``.NAME.tmp``, renamed when complete (Ctrl-C while writing, a full disk:
    no half-written file left beside the checkpoint)."""
    from ..files import write_atomically

    def written(tmp: Path) -> None:
        write(str(tmp))
        if os.name == "posix":  # as any file the user makes (safetensors writes 0600: a model others could not read)
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)

    write_atomically(path, written, ".tmp")


def _match_layout(optimizer: torch.optim.Optimizer) -> None:
    """Give each per-parameter state tensor its parameter's memory layout. ``load_state_dict`` keeps
    the saved strides, so moments saved for NCHW weights would meet channels_last ones (a run saved
    before training switched layout), and a fused optimizer reads memory in order: it would pair each
    weight with another weight's moments."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            for key, value in optimizer.state.get(p, {}).items():
                if torch.is_tensor(value) and value.shape == p.shape and value.stride() != p.stride():
                    optimizer.state[p][key] = torch.empty_like(p, dtype=value.dtype).copy_(value)


def same_source(was: str, now: str) -> bool:
    """Whether a run's recorded data source and the one given now name the same data: a dataset name as it is,
    a folder however it is spelled (a trailing slash, ``./``, an absolute path from the same folder)."""
    if was == now or os.path.normpath(was) == os.path.normpath(now):
        return True
    try:
        return Path(now).exists() and Path(was).resolve() == Path(now).resolve()
    except OSError:
        return False


def _truncate_log(path: Path, step: int) -> None:
    """Drop ``log.csv``'s rows of steps after ``step`` (logged after the checkpoint a run resumes from)."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or "step" not in rows[0]:
        return
    col = rows[0].index("step")
    keep = [r for r in rows[1:] if len(r) > col and r[col].isdigit() and int(r[col]) <= step]
    if len(keep) < len(rows) - 1:
        def write(p: str) -> None:
            with open(p, "w", newline="") as fh:
                csv.writer(fh).writerows([rows[0], *keep])

        _atomic_save(write, path)


def _last_seconds(path: Path) -> float:
    """The ``seconds`` of ``log.csv``'s last row (0 when there is none)."""
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
        return float(rows[-1]["seconds"]) if rows and rows[-1].get("seconds") else 0.0
    except (OSError, ValueError, KeyError):
        return 0.0


def saved_trainer_config(out: str | os.PathLike) -> dict[str, Any]:
    """The loop settings (:class:`TrainerConfig` as a dict) in the trainer state of the run in ``out``: what runs
    saved before ``config.json`` recorded them (precision, accumulation) have only there; {} when it cannot be
    read (resume() says why in one line)."""
    try:
        state = torch.load(Path(out) / "checkpoint" / "trainer_state.pt", map_location="cpu", weights_only=False)
        return dict(state.get("trainer_config", {}))
    except Exception:  # noqa: BLE001 - no state, or a damaged one
        return {}


def saved_precision(out: str | os.PathLike, saved: dict[str, Any]) -> str:
    """The precision a run in ``out`` trains in: its ``config.json`` names it (``saved``); runs saved before it was
    written there have it in the trainer's state (fp32 when neither says)."""
    if "precision" in saved:
        return str(saved["precision"])
    return str(saved_trainer_config(out).get("precision", "fp32"))


def save_model(module: nn.Module, config: dict[str, Any], folder: str | os.PathLike) -> None:
    """Write ``config.json`` + ``model.safetensors`` (atomically) into ``folder``."""
    from safetensors.torch import save_file

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    _atomic_save(lambda p: save_file(state, p), out / "model.safetensors")
    _atomic_save(lambda p: Path(p).write_text(json.dumps(config, indent=1, sort_keys=True)), out / "config.json")


def load_model_state(folder: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read ``model.safetensors`` and ``config.json`` from ``folder``.

    Raises:
        BrushworkError: either file is damaged (the message names it).
    """
    from ..weights import load_state_dict

    folder = Path(folder)
    return load_state_dict(folder / "model.safetensors", what="checkpoint weights"), read_config(folder)


_KINDS = {"gan": "a GAN's", "decoder": "an AdaIN decoder's", "classifier": "a classifier's"}


def refuse_other_kind(out: Path, key: str) -> None:
    """Refuse ``out`` when its checkpoint is another recipe's (its config lacks ``key``: ``"gan"``, ``"decoder"``
    or ``"classifier"``), whether the run would resume or start over: starting over deletes that checkpoint."""
    from ..errors import BrushworkError

    if (out / "config.json").is_file() and (out / "model.safetensors").is_file():
        raise BrushworkError(f"'{out}' is a run's checkpoint folder (its run is '{out.parent}'): give the run folder "
                             "to resume it, or another --out")
    if not (out / "checkpoint" / "config.json").is_file():
        return
    saved = read_config(out / "checkpoint")
    if key not in saved:
        was = next((f" ({v})" for k, v in _KINDS.items() if k in saved), "")
        raise BrushworkError(f"'{out}' holds a run of another kind{was}, not {_KINDS[key]}: use another --out "
                             "(starting over would delete it)")


def read_config(folder: Path) -> dict[str, Any]:
    """``folder/config.json`` as a dict; a damaged one is a one-line :class:`BrushworkError`."""
    from ..errors import BrushworkError

    try:
        raw = json.loads((folder / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:  # (nested too deep to parse)
        raise BrushworkError(f"'{folder / 'config.json'}' is damaged ({type(exc).__name__}): restore the "
                             "checkpoint from a copy, or train again") from None
    if not isinstance(raw, dict):
        raise BrushworkError(f"'{folder / 'config.json'}' is not a checkpoint's config: restore it from a copy")
    return raw


def find_checkpoint(folder: str | os.PathLike, kind: str, what: str, command: str) -> tuple[Path, dict[str, Any]]:
    """``(checkpoint folder, its config)`` for ``folder``: a run's ``--out`` folder or the checkpoint
    itself, whose ``config.json`` must have the section ``kind`` (``"classifier"``, ``"gan"``...).

    Raises:
        BrushworkError: no ``config.json`` + ``model.safetensors`` there, or a checkpoint of another kind;
            the message names the command (``command``) that makes the right one.
    """
    from ..errors import BrushworkError

    p = Path(folder)
    if not p.exists():
        raise BrushworkError(f"'{folder}' does not exist: give the --out folder of 'brushwork {command}'")
    if (p / "checkpoint" / "model.safetensors").is_file():
        p = p / "checkpoint"
    if not (p / "model.safetensors").is_file() or not (p / "config.json").is_file():
        raise BrushworkError(f"'{folder}' holds no {what} checkpoint (config.json + model.safetensors): give the "
                             f"--out folder of 'brushwork {command}'")
    raw = read_config(p)
    if kind not in raw:
        other = next((k for k in ("classifier", "gan", "decoder") if k in raw), "different")
        raise BrushworkError(f"'{folder}' is not a {what} checkpoint (it holds a {other} model): give the --out "
                             f"folder of 'brushwork {command}'")
    return p, raw


class Trainer:
    """Runs ``step_fn`` over batches from ``batches`` for ``config.steps`` optimizer steps.

    Args:
        model: the trainable module (saved in checkpoints; a DDP wrapper is unwrapped: ``step_fn`` is
            what calls the wrapper).
        model_config: JSON-serialisable dict that rebuilds ``model`` (saved as config.json).
        optimizer: over ``model``'s trainable parameters.
        step_fn: ``batch -> (loss, logs)``; runs under autocast.
        batches: an endless iterator of batches (already on the device).
        config: loop settings.
        callbacks: sample grids, early stopping...
        extra_state: JSON-able state that callbacks keep across resume (e.g. early stopping's best).
        scheduler: optional learning-rate scheduler, stepped per optimizer step, saved with checkpoints.
        extra_optimizers: optimizers that ``step_fn`` steps itself (a GAN's discriminator), named;
            saved with checkpoints and restored on resume like the main one.
    """

    def __init__(
        self,
        model: nn.Module,
        model_config: dict[str, Any],
        optimizer: torch.optim.Optimizer,
        step_fn: Callable[[Any], tuple[torch.Tensor, dict[str, float]]],
        batches: Iterator[Any],
        config: TrainerConfig,
        callbacks: list[Callback] | None = None,
        extra_state: dict[str, Any] | None = None,
        scheduler: Any | None = None,
        extra_optimizers: dict[str, torch.optim.Optimizer] | None = None,
        generators: dict[str, torch.Generator] | None = None,
    ) -> None:
        self.model = distributed.unwrap(model)
        self._ddp = model if model is not self.model else None  # for no_sync() while accumulating
        self._multi = False
        self.model_config = model_config
        self.optimizer = optimizer
        self.step_fn = step_fn
        self.batches = batches
        self.config = config
        self.callbacks = callbacks or []
        self.extra_state = extra_state or {}
        self.scheduler = scheduler  # a torch LR scheduler stepped after every optimizer step
        self.extra_optimizers = extra_optimizers or {}
        # a recipe's own random streams (a GAN's data and augmentation draws): saved and restored as torch's is
        self.generators = generators or {}
        self.restored_generators: set[str] = set()
        self.device = resolve_device(config.device)
        if self.device.type == "cpu" and config.precision in ("fp16", "float16"):  # (before its folder is made)
            from ..errors import BrushworkError, flag

            # float16 needs loss scaling, which PyTorch does on CUDA only: on the CPU small gradients underflow
            raise BrushworkError(f"{flag('--precision', 'fp16')} trains on a GPU (its loss scaling is CUDA's): on the "
                                 f"CPU use {flag('--precision', 'bf16')} or fp32")
        self.out = Path(config.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.step = 0
        self.resumed = False  # set by resume(); a run that did not resume starts over in fit()
        use_scaler = self.device.type == "cuda" and config.precision in ("fp16", "float16")
        self.scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
        self.history: list[dict[str, float]] = []
        if config.accumulate < 1:
            from ..errors import BrushworkError

            raise BrushworkError(f"accumulate must be at least 1, got {config.accumulate}")
        if config.accumulate > 1 and self.extra_optimizers:
            from ..errors import BrushworkError

            raise BrushworkError("gradient accumulation is for recipes with one optimizer (classify, adain): a GAN "
                                 "steps its discriminator on every batch")
        if config.tensorboard:
            _summary_writer(None)  # every process fails here, together, when tensorboard is missing

    # -- checkpoints -------------------------------------------------------------------------
    def save_checkpoint(self) -> Path:
        ckpt = self.out / "checkpoint"
        if not distributed.is_main():
            return ckpt  # every process holds the same weights: rank 0 writes them
        for cb in self.callbacks:
            cb.on_checkpoint(self)
        # The trainer's state carries the weights of its step too, and is one file replaced at once: a run killed
        # between this and model.safetensors resumes from a step, weights and optimizer that belong together (it
        # had resumed new weights with an older step and optimizer). model.safetensors is the model to use.
        ckpt.mkdir(parents=True, exist_ok=True)
        state = {"step": self.step, "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
                 "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
                 "rng": torch.get_rng_state(), "trainer_config": asdict(self.config), "extra": self.extra_state,
                 "cuda_rng": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None,
                 "extra_optimizers": {k: o.state_dict() for k, o in self.extra_optimizers.items()},
                 "generators": {k: g.get_state() for k, g in self.generators.items()},
                 "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()}}
        _atomic_save(lambda p: torch.save(state, p), ckpt / "trainer_state.pt")
        save_model(self.model, self.model_config, ckpt)
        return ckpt

    def resume(self, fast_forward: bool = False) -> bool:
        """Load ``out_dir/checkpoint`` if present; returns whether it did.

        ``fast_forward`` draws (and drops) the batches the checkpoint's steps used, for a data stream
        that a seed makes the same every run: training then continues exactly where it stopped, on any
        number of processes."""
        ckpt = self.out / "checkpoint"
        if not (ckpt / "trainer_state.pt").is_file():
            if (ckpt / "model.safetensors").is_file() or (ckpt / "config.json").is_file():
                from ..errors import BrushworkError

                # (weights alone: copied without it, or a write cut short) starting over would lose them silently
                raise BrushworkError(f"'{ckpt}' holds weights but no trainer_state.pt (optimizer and step), so the run "
                                     "cannot resume: pass --no-resume to start over, or train into another --out")
            return False
        weights, _ = load_model_state(ckpt)  # (checked even when the state has its own copy: the model to use)
        try:
            state = torch.load(ckpt / "trainer_state.pt", map_location="cpu", weights_only=False)
            if not isinstance(state, dict) or "optimizer" not in state:
                raise ValueError("not a trainer state")
        except Exception as exc:  # noqa: BLE001 - pickle and torch raise many types for a damaged file
            from ..errors import BrushworkError

            raise BrushworkError(f"'{ckpt / 'trainer_state.pt'}' is damaged ({type(exc).__name__}), so the run "
                                 "cannot resume: restore the checkpoint from a copy, or train into a new --out "
                                 "folder") from None
        own = state.get("model")  # the weights of the state's own step (states saved before 0.2.5 hold none)
        if isinstance(own, dict) and {k: tuple(v.shape) for k, v in own.items()} != {
                k: tuple(v.shape) for k, v in weights.items()}:
            from ..errors import BrushworkError

            raise BrushworkError(f"the weights in '{ckpt}' do not fit its config.json (model.safetensors is another "
                                 "model than its trainer_state.pt holds): restore the checkpoint from a copy, or pass "
                                 "--no-resume to start over")
        try:
            self.model.load_state_dict(own if isinstance(own, dict) else weights)
        except RuntimeError as exc:  # (missing, unexpected or mis-shaped tensors: weights copied from another run)
            from ..errors import BrushworkError

            first = next((line.strip() for line in str(exc).splitlines()[1:] if line.strip()), str(exc))[:160]
            raise BrushworkError(f"the weights in '{ckpt}' do not fit its config.json ({first}): restore the "
                                 "checkpoint from a copy, or pass --no-resume to start over") from None
        self.optimizer.load_state_dict(state["optimizer"])
        if state["scaler"] and self.scaler.is_enabled():  # (a run resumed in another precision starts a fresh scaler)
            self.scaler.load_state_dict(state["scaler"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        for k, o in self.extra_optimizers.items():
            if k in state.get("extra_optimizers", {}):
                o.load_state_dict(state["extra_optimizers"][k])
        for o in (self.optimizer, *self.extra_optimizers.values()):
            _match_layout(o)
        torch.set_rng_state(state["rng"])
        if state.get("cuda_rng") is not None and self.device.type == "cuda":  # dropout on a GPU draws from this one
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        rank = distributed.info().rank
        if rank:  # the checkpoint holds rank 0's stream: the others derive their own, so that their draws
            # (dropout masks, latents) stay apart instead of all repeating rank 0's
            import hashlib

            digest = hashlib.sha256(state["rng"].numpy().tobytes() + rank.to_bytes(4, "big")).digest()
            torch.manual_seed(int.from_bytes(digest[:8], "big") >> 1)
        for name, g in self.generators.items():  # (checkpoints of 0.2.8 and before have none: the recipe reseeds)
            saved = (state.get("generators") or {}).get(name)
            if saved is not None:
                g.set_state(saved)
                self.restored_generators.add(name)
        self.step = int(state["step"])
        self.resumed = True
        self.extra_state.update(state.get("extra", {}))
        if fast_forward:
            for _ in range(self.step * self.config.accumulate):
                next(self.batches)
        return True

    # -- loop --------------------------------------------------------------------------------
    def _accumulated_backward(self, cfg: TrainerConfig) -> tuple[torch.Tensor, dict[str, float]]:
        """Backward over ``cfg.accumulate`` micro-batches (each loss divided by their number, so the
        gradient is the mean over all of them); under DDP the gradients are averaged across processes
        once, on the last micro-batch. Returns the mean loss and the last micro-batch's logs."""
        import contextlib

        total = 0.0
        logs: dict[str, float] = {}
        for i in range(cfg.accumulate):
            last = i == cfg.accumulate - 1
            sync = contextlib.nullcontext() if last or self._ddp is None else self._ddp.no_sync()
            with sync:
                batch = next(self.batches)
                with autocast(self.device, cfg.precision):
                    loss, logs = self.step_fn(batch)
                bad = not math.isfinite(float(loss.detach()))
                # (steps counted from 1, as log.csv counts them; at the first step the loss's own weights or the
                # data may be the cause as much as the learning rate)
                fix = ("lower the learning rate" if self.step > 0 else
                       "lower the learning rate" + hint("--style-weight", " or the loss's weights (--style-weight)")
                       + ", or check the data")
                if self._multi and distributed.any_true(bad) and not bad:  # all processes stop together
                    raise FloatingPointError(f"the loss became NaN or infinite on another process at step "
                                             f"{self.step + 1}: {fix}")
                if bad:
                    raise FloatingPointError(f"loss became {float(loss.detach())} at step {self.step + 1}: {fix}")
                self.scaler.scale(loss / cfg.accumulate).backward()
            total += float(loss.detach())
        return torch.tensor(total / cfg.accumulate), logs

    def fit(self) -> list[dict[str, float]]:
        cfg = self.config
        main = distributed.is_main()
        multi = self._multi = distributed.info().distributed
        log_path = self.out / "log.csv"
        new_log = not log_path.exists() or self.step == 0 or log_path.stat().st_size == 0  # (a run that logged nothing)
        log_file: Any = open(os.devnull, "w") if not main else None
        earlier = [0.0]  # the seconds a resumed run had logged: its log's time goes on from them

        def prepare() -> None:  # rank 0's files; a failure here stops every process (distributed.main_then_share)
            nonlocal log_file
            if not self.resumed and (self.out / "checkpoint").exists():
                import shutil  # a new run over an old one (--no-resume): stopped before its first checkpoint, it

                shutil.rmtree(self.out / "checkpoint")  # must not leave the old run's to be resumed beside its log
            if not new_log:
                _truncate_log(log_path, self.step)  # rows logged after the checkpoint (a run killed since): again
            log_file = open(log_path, "w" if new_log else "a", newline="")
            earlier[0] = 0.0 if new_log else _last_seconds(log_path)

        try:
            distributed.main_then_share(prepare)
        except BaseException:
            if log_file is not None:
                log_file.close()
            raise
        bar = None
        if cfg.progress and main:
            from tqdm.auto import tqdm

            bar = tqdm(total=cfg.steps, initial=self.step, unit="step", desc="train", disable=None)
        writer: csv.DictWriter | None = None
        logged = self.step  # the last step with a row in log.csv

        def log_row(row: dict[str, Any]) -> None:
            nonlocal writer, logged
            if writer is None:
                writer = csv.DictWriter(log_file, fieldnames=list(row))
                if new_log:
                    writer.writeheader()
            writer.writerow(row)
            log_file.flush()
            logged = int(row["step"])

        tb = _summary_writer(self.out / "tensorboard") if cfg.tensorboard and main else None
        t0 = time.perf_counter()
        stop = False
        try:
            self.model.train()
            # a run a callback stopped (early stopping) is finished: running its command again trains no further
            while self.step < cfg.steps and not stop and "stopped_at_step" not in self.extra_state:
                # Ctrl-C waits for the end of the step (its update, log row, callbacks and checkpoint): the
                # run then stops at a step boundary, its checkpoint holds the RNG state before the next
                # step's dropout and latents, and a resumed run goes on exactly as an unbroken one
                with interrupts_deferred():
                    self.optimizer.zero_grad(set_to_none=True)
                    loss, logs = self._accumulated_backward(cfg)
                    if cfg.grad_clip:
                        self.scaler.unscale_(self.optimizer)
                        nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
                    self.scaler.step(self.optimizer)
                    self.scaler.update()
                    if self.scheduler is not None:
                        self.scheduler.step()
                    self.step += 1
                    logs = {"loss": float(loss.detach()), **logs}
                    if multi:  # the whole batch's figures, as one process would log them (not rank 0's share)
                        keys = [k for k, v in logs.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
                        logs.update(zip(keys, distributed.global_mean([float(logs[k]) for k in keys])))
                    logs = {"step": self.step, **logs, "seconds": earlier[0] + time.perf_counter() - t0}
                    self.history.append(logs)  # (with its step: a stop right after it logs it)
                    if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                        log_row(logs)
                        if tb is not None:
                            for k, v in logs.items():
                                if k not in ("step", "seconds") and isinstance(v, (int, float)):
                                    tb.add_scalar(k, v, self.step)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{logs['loss']:.4g}", refresh=False)
                    failure: BaseException | None = None
                    if main:  # callbacks write files (samples, best weights): rank 0's business
                        try:
                            for cb in self.callbacks:
                                stop = bool(cb.on_step_end(self, self.step, logs)) or stop
                        except Exception as exc:  # noqa: BLE001 - re-raised below, after telling the others
                            failure = exc
                    if multi:  # every process stops (or fails) at the same step
                        stop, failed = distributed.any_flags(stop, failure is not None)
                        if failed and failure is None:
                            from ..errors import BrushworkError

                            raise BrushworkError(f"the main process (rank 0) stopped at step {self.step} (its message "
                                                 "is above)")
                    if failure is not None:
                        raise failure
                    if stop:
                        self.extra_state["stopped_at_step"] = self.step
                    if self.step % cfg.checkpoint_every == 0:  # (a failure on rank 0 stops every process)
                        distributed.main_then_share(self.save_checkpoint)
                    if cfg.time_limit is not None:
                        over = time.perf_counter() - t0 > cfg.time_limit
                        if distributed.any_true(over) if multi else over:  # all processes stop together
                            break
        except KeyboardInterrupt:
            self.save_checkpoint()
            raise
        finally:
            if self.history and logged < self.step == self.history[-1]["step"]:  # stopped between rows (Ctrl-C,
                log_row(self.history[-1])  # the time limit, a callback): the checkpoint's step is logged too
            log_file.close()
            if tb is not None:
                tb.close()
            if bar is not None:
                bar.close()

        def finish() -> None:
            if self.history or not self.resumed:  # ("nothing to do": the checkpoint stays as it was, settings too)
                self.save_checkpoint()
            for cb in self.callbacks:
                cb.on_train_end(self)

        # on rank 0; the others wait for its files to be complete, and stop with one line if it failed (they
        # had waited in a barrier that the failed process had left: a traceback)
        distributed.main_then_share(finish)
        self.model.eval()
        return self.history
