"""Recipe: train an image classifier on a built-in dataset or a folder of class sub-folders.

Runs on the shared engine (``training/engine.py``): AdamW (weight decay = L2 on the weights,
decoupled), softmax cross-entropy with label smoothing, a cosine learning-rate schedule, augmentation
on the fly (small random affine warps; horizontal flips for photos, never for digits), AMP where the
device supports it, checkpoints and resume. After every epoch the validation split is scored; early
stopping ends training when the validation loss has not improved (by more than ``MIN_IMPROVEMENT``) for
``patience`` epochs and the best epoch's weights are restored (and saved as the final checkpoint).
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..datasets.fetch import SYSTEM_FOLDERS, gifs_under, leads_up, left_out_under
from ..errors import BrushworkError
from ..models.classifier import ARCHITECTURES, ClassifierConfig, build_classifier
from .engine import (Callback, Trainer, TrainerConfig, check_checkpoint_folder, load_model_state, refuse_foreign_files,
                     refuse_other_kind, save_model)

__all__ = ["ClassifyTrainConfig", "load_data", "load_folder", "train_classifier", "predict_proba",
           "EarlyStopping", "augment_batch", "stratified_split"]


@dataclass(frozen=True)
class ClassifyTrainConfig:
    """Hyperparameters (saved with the checkpoint)."""

    arch: str = "seed-cnn"
    epochs: int = 30
    batch: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    label_smoothing: float = 0.05
    dropout: float = 0.25
    augment: str = "auto"  # none | shift (digits, clothes) | photo (adds flips) | flip (flips only) | auto
    freeze_encoder: bool = False  # efficientnet-lite0: train the head only (a linear probe)
    patience: int = 5
    val_fraction: float = 0.1
    size: int | None = None  # input side; None: 28 for the built-in datasets, 64 for folders
    seed: int = 0


def stratified_split(y: np.ndarray, fraction: float, seed: int, groups: np.ndarray | None = None, *,
                     closest: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, val)``: ``fraction`` of every class (at least one image) goes to val.

    With ``groups``, whole groups go to val (a group's images stay on one side): in a shuffled order, each
    group that brings the class's val share closer to ``fraction`` (the smallest group when every one
    overshoots by more than its share), while at least one group stays in train. ``closest=False`` is the
    split of brushwork 0.2.2 and before, which took groups in order until the share was reached, so one
    large group could take most of a class (the split of models that did not record theirs).
    """
    rng = np.random.default_rng(seed)
    tr, va = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        if groups is not None and len(np.unique(groups[idx])) > 1:
            members: dict = {}
            for i in idx:  # (in the shuffled order)
                members.setdefault(groups[i], []).append(i)
            want = max(1, round(len(idx) * fraction))
            take: list[int] = []
            if closest:
                for m in members.values():
                    if len(take) + len(m) < len(idx) and abs(len(take) + len(m) - want) < abs(len(take) - want):
                        take += m
                if not take:
                    take = min(members.values(), key=len)
            else:
                for m in list(members.values())[:-1]:
                    if len(take) >= want:
                        break
                    take += m
            va.append(np.asarray(take, dtype=np.int64))
            tr.append(np.setdiff1d(idx, take))
            continue
        n = max(1, int(round(len(idx) * fraction))) if len(idx) > 1 else 0
        va.append(idx[:n])
        tr.append(idx[n:])
    return np.sort(np.concatenate(tr)), np.sort(np.concatenate(va))


def split_digest(y: np.ndarray, groups: np.ndarray | None) -> str:
    """A fingerprint of a folder's listing as a split sees it (labels and groups, in order): a model records it
    beside its validation images, so that they are found again only in the same listing."""
    h = hashlib.sha256(np.ascontiguousarray(y, dtype=np.int64).tobytes())
    if groups is not None:
        h.update("\n".join(map(str, groups)).encode("utf-8", "surrogatepass"))
    return h.hexdigest()[:16]


def image_fingerprints(x: np.ndarray) -> list[str]:
    """A short hash (8 bytes, hex) of each image ``x[i]`` as the model sees it (decoded, cropped, resized): a
    model records those it trained on, so that a copy of a training image is known in any other folder."""
    return [hashlib.blake2b(np.ascontiguousarray(a).tobytes(), digest_size=8).hexdigest() for a in x]


def recorded_split(data_info: dict, y: np.ndarray, groups: np.ndarray | None) -> tuple[np.ndarray, np.ndarray] | None:
    """The ``(train, val)`` indices a model recorded (``data_info``: its config's ``data``), or None when it
    recorded none (brushwork 0.2.2 and before).

    Raises:
        BrushworkError: the listing is not the one the model split (images renamed, moved or replaced).
    """
    if "val_indices" not in data_info:
        return None
    if data_info.get("split_digest") != split_digest(y, groups):
        raise BrushworkError("the folder's images are not those the model trained on (renamed, moved or replaced), "
                             "so its validation images cannot be found again: evaluate on a separate folder of new "
                             "images, or train again")
    va = np.asarray(data_info["val_indices"], dtype=np.int64)
    return np.setdiff1d(np.arange(len(y)), va), va


def load_folder(folder: str | os.PathLike, size: int, channels: int = 3, classes: list[str] | None = None,
                framing: str = "crop", legacy: bool = False, skipped_files: list[str] | None = None):
    """Images under ``folder/<class>/...`` resized to ``size x size`` (aspect kept by centre crop; with
    ``framing="pad"`` each seen whole on a square of its background, as an mnist model's predictions see them).

    Returns ``(x uint8 (N, C, size, size), y int64 (N,), classes, skipped, groups)``: an image in a
    sub-folder of its class folder (``<class>/<group>/...``) belongs to that group, one directly in the
    class folder is a group of its own; k-fold and the validation split keep each group on one side.
    ``legacy``: the folder read as brushwork 0.2.8 read it (for a model or run recorded then: :data:`READER`);
    ``skipped_files``: a list that collects the pictures skipped (unreadable, or nothing to learn from), for a note.

    Raises:
        BrushworkError: not a folder, fewer than two non-empty class folders.
    """
    import functools

    from ..datasets import list_images as listing
    from ..imaging.io import read_square as reading

    list_images = functools.partial(listing, legacy=legacy)
    read_square = functools.partial(reading, legacy=legacy)

    root = Path(folder)
    if not root.is_dir():
        raise BrushworkError(f"'{folder}' is neither a folder of class folders nor a dataset name (mnist, fashion-mnist, art-medium)")
    class_dirs = _class_dirs(root, legacy)
    empty = [d.name for d in class_dirs if not list_images(d)]
    known = classes
    classes = [d.name for d in class_dirs if d.name not in empty]
    folder_of = {c: c for c in classes}  # a class's folder name (a model's class written in other Unicode: its folder)
    extra_skipped = 0
    if known is not None:  # a model's classes (eval, slim): its labels, whichever of them the folder holds
        import unicodedata

        nfc = {unicodedata.normalize("NFC", k): k for k in known}  # ('café' typed on macOS and on Linux differ)
        for c in classes:
            if c not in known and unicodedata.normalize("NFC", c) in nfc:
                target = nfc[unicodedata.normalize("NFC", c)]
                if folder_of.get(target, c) != c:  # (both spellings there: one would be dropped without a word)
                    raise BrushworkError(f"'{folder}' holds class '{target}' twice, in two Unicode spellings (folders "
                                         f"that look alike): move the pictures into one folder")
                folder_of[target] = c
        unknown = [c for c in classes if c not in known and unicodedata.normalize("NFC", c) not in nfc]
        for c in list(unknown):  # a folder of unreadable files only (__MACOSX) is no class of the data's
            files = list_images(root / c)
            if all(read_square(f, 8, 1) is None for f in files):
                unknown.remove(c)
                extra_skipped += len(files)
        if unknown:
            raise BrushworkError(f"the model knows classes {list(known)}, the folder '{folder}' also has "
                                 f"{unknown}: evaluate on data with the same classes")
        classes = list(known)
    elif len(classes) < 2:
        gifs = [e for e in empty if gifs_under(root / e)]
        raise BrushworkError(f"'{folder}' has {len(classes)} class folder(s) with images: a classifier needs at "
                             "least two (one sub-folder per class)" + (f"; empty: {', '.join(empty)}" if empty else "")
                             + (f" ({', '.join(gifs)} holds only GIFs, which training does not read: convert them to "
                                "PNG)" if gifs else ""))
    xs, ys, gs, skipped = [], [], [], extra_skipped
    for label, name in enumerate(classes):
        where = root / folder_of.get(name, name)
        for f in list_images(where) if where.is_dir() else []:
            rel = f.relative_to(where).parts
            arr = read_square(f, size, channels, framing)
            if arr is None:
                skipped += 1
                if skipped_files is not None:
                    skipped_files.append(str(f))
                continue
            xs.append(arr)
            ys.append(label)
            gs.append(f"{name}/{rel[0]}")
    if known is not None:
        if not ys:
            flat = bool(list_images(root, recursive=False))
            raise BrushworkError(f"'{folder}' has no readable image of the model's classes"
                                 + (" (its pictures lie in the folder itself: evaluating needs one sub-folder per "
                                    "class, named as the model's; `classify predict` classifies loose pictures)"
                                    if flat else ""))
        return np.stack(xs), np.asarray(ys, np.int64), classes, skipped, np.asarray(gs)
    if len(set(ys)) < 2:
        raise BrushworkError(f"'{folder}': fewer than two classes have readable images")
    kept = sorted(set(ys))  # a folder of unreadable files only (macOS's __MACOSX/._*) is no class
    if len(kept) < len(classes):
        renumber = {old: new for new, old in enumerate(kept)}
        ys = [renumber[v] for v in ys]
        classes = [classes[i] for i in kept]
    return np.stack(xs), np.asarray(ys, np.int64), classes, skipped, np.asarray(gs)


def _leads_back(d: Path, root: Path) -> bool:
    """Whether the class folder ``d`` is a link to the data folder or above it (all the classes again)."""
    return leads_up(os.path.realpath(d), os.path.realpath(root))


def _class_dirs(root: Path, legacy: bool = False) -> list[Path]:
    """The class folders of ``root``: not hidden or system ones (.thumbnails, __MACOSX), nor a link back into it
    (``legacy``: as brushwork 0.2.8 took them, every folder but hidden ones)."""
    return sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")
                  and (legacy or (d.name not in SYSTEM_FOLDERS and not _leads_back(d, root))))


#: how a folder is read (:func:`load_folder`), recorded with a model: 2 since brushwork 0.2.9 (symlinked folders
#: followed, .jfif/.avif read, system folders and pictures with nothing to learn from left out); a model recorded
#: without it (1) is evaluated, slimmed and resumed on its folder as 0.2.8 read it, or its split would not be found
READER = 2


def legacy_reader(data_info: dict | None, data: str | os.PathLike | None = None) -> bool:
    """Whether ``data`` is a model's (or run's) own training folder, recorded (``data_info``) by brushwork 0.2.8's
    folder reader: read again as it was, its recorded split is found; any other folder is read as today's reader
    reads it (``data`` None: the recorded one)."""
    from ..datasets import ARRAY_SOURCES
    from .engine import same_source

    if not (isinstance(data_info, dict) and "reader" not in data_info
            and data_info.get("source") not in (*ARRAY_SOURCES, "<arrays>", None)):
        return False
    if data is None:
        return True
    recorded = [str(v) for v in (data_info.get("source"), data_info.get("folder")) if v]
    return any(same_source(r, str(data)) for r in recorded)


def folder_notes(folder: str | os.PathLike) -> list[str]:
    """What training leaves out of a folder of class folders, in words: images lying in no class folder, class
    folders with no image it reads, and links back into the folder (the GIFs and HEIC files: :func:`gifs_in`)."""
    from ..datasets import list_images

    root = Path(folder)
    notes = []
    loose = list_images(root, recursive=False)
    if loose:
        notes.append(f"{len(loose)} image(s) directly in '{folder}' are in no class folder, so they were not used: "
                     "put each in its class's folder")
    empty = [d.name for d in _class_dirs(root) if not list_images(d)]
    if empty:
        notes.append(f"{', '.join(empty)}: no image training reads, so not a class")
    back = [d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith(".") and _leads_back(d, root)]
    if back:
        notes.append(f"{', '.join(back)}: a link back into the data folder, so not a class")
    return notes


def gifs_in(folder: Path) -> list[dict[str, int]]:
    """The pictures training leaves out in ``folder``'s class folders (GIFs, HEIC, raw...: :func:`left_out_under`),
    walked as training walks them, one count per class folder, so that they are counted and named."""
    return [left_out_under(d) for d in _class_dirs(folder)]


def load_data(data: str, size: int | None = None, channels: int | None = None, classes: list[str] | None = None,
              framing: str = "crop", legacy: bool = False, skipped_files: list[str] | None = None):
    """``(x_train, y_train, x_test | None, y_test | None, classes, skipped, channels, groups | None)``
    for a built-in dataset name (``mnist``, ``fashion-mnist``, ``art-medium``) or a folder of class
    folders (folders have no separate test set; ``groups`` as in :func:`load_folder`). ``channels``: what a model
    takes (1 or 3; a folder is read in that many, a greyscale dataset repeated to 3); None: the data's own.
    ``classes``: a model's classes, the labels a folder is read with (a class it lacks is allowed); ``framing``:
    how a folder's pictures are made square (``model.framing``: ``"pad"`` for a model of mnist or fashion-mnist)."""
    from ..datasets import ARRAY_SOURCES, load_arrays

    if data in ARRAY_SOURCES:
        xtr, ytr, xte, yte, classes = load_arrays(data)
        if size not in (None, 28):
            raise BrushworkError(f"{data} images are 28 x 28, not {size} px: train without --size, and evaluate "
                                 "a model trained on 28 px images")
        reps = 3 if channels == 3 else 1
        return (np.repeat(xtr[:, None], reps, 1), ytr, np.repeat(xte[:, None], reps, 1), yte, classes, 0, reps, None)
    if data == "art-medium":
        from ..datasets.medium import medium_folder

        data = str(medium_folder())
    x, y, classes, skipped, groups = load_folder(data, size or 64, channels or 3, classes, framing, legacy,
                                                 skipped_files)
    return x, y, None, None, classes, skipped, channels or 3, groups


def augment_batch(x: torch.Tensor, kind: str, gen: torch.Generator) -> torch.Tensor:
    """Random affine warps (rotation +-10 deg, scale 0.9-1.1, shift +-8 %), plus flips for photos;
    ``flip``: horizontal flips alone (exact: no resampling blurs hard pixel edges)."""
    if kind == "none":
        return x
    if kind == "flip":
        flip = torch.rand(x.shape[0], generator=gen) < 0.5
        return torch.where(flip[:, None, None, None], x.flip(-1), x)
    b = x.shape[0]
    angle = (torch.rand(b, generator=gen) * 2 - 1) * math.radians(10)
    scale = 1 + (torch.rand(b, generator=gen) * 2 - 1) * 0.1
    shift = (torch.rand(b, 2, generator=gen) * 2 - 1) * 0.16  # normalised coords: 0.16 = 8 % of the side
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    if kind == "photo":
        flip = torch.rand(b, generator=gen) < 0.5
        theta[flip, 0, :2] *= -1
    grid = F.affine_grid(theta.to(x), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border" if kind == "photo" else "zeros",
                         align_corners=False)


@torch.no_grad()
def predict_proba(model: nn.Module, x: np.ndarray | torch.Tensor, *, batch: int = 512,
                  device: torch.device | str = "cpu") -> np.ndarray:
    """Softmax probabilities ``(N, classes)`` for uint8 ``(N, C, H, W)`` images (or floats in [0, 1])."""
    model.eval()
    out = []
    for i in range(0, len(x), batch):
        xb = torch.as_tensor(x[i:i + batch]).to(device)
        xb = xb.float() / 255.0 if xb.dtype == torch.uint8 else xb.float()
        out.append(torch.softmax(model(xb).float(), 1).cpu())
    return torch.cat(out).numpy()


#: how much lower than the best so far an epoch's validation loss must be to count as better (Keras' ``min_delta``):
#: an epoch that creeps lower by less is a plateau, and neither becomes the best nor resets the patience
MIN_IMPROVEMENT = 1e-4


class EarlyStopping(Callback):
    """After every epoch: validation loss and accuracy; stop after ``patience`` epochs without a new
    best loss (lower by more than ``MIN_IMPROVEMENT``); the best epoch's weights are kept in ``out/best`` and
    restored at the end."""

    def __init__(self, x_val, y_val, steps_per_epoch: int, patience: int, out: Path, device) -> None:
        self.x_val, self.y_val = x_val, torch.as_tensor(y_val)
        self.every, self.patience, self.out, self.device = steps_per_epoch, patience, out, device
        self.epochs: list[dict] = []

    def on_step_end(self, trainer, step, logs):
        st = trainer.extra_state  # (checkpointed: an epoch that spans a Ctrl-C and a resume averages all its steps)
        total, n = st.get("epoch_loss", (0.0, 0))
        st["epoch_loss"] = (total + float(logs["loss"]), n + 1)
        if step % self.every:
            return None
        probs = torch.as_tensor(predict_proba(trainer.model, self.x_val, device=self.device))
        trainer.model.train()
        val_loss = float(F.nll_loss(torch.log(probs.clamp_min(1e-12)), self.y_val))
        acc = float((probs.argmax(1) == self.y_val).float().mean())
        epoch = step // self.every
        total, n = st.pop("epoch_loss")
        train_loss = total / n
        row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "val_accuracy": acc}
        self.epochs.append(row)
        new = not (self.out / "epochs.csv").exists()
        with open(self.out / "epochs.csv", "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)
        if val_loss < st.get("best_loss", float("inf")) - MIN_IMPROVEMENT:
            st.update(best_loss=val_loss, best_epoch=epoch, bad_epochs=0)
            save_model(trainer.model, trainer.model_config, self.out / "best")
        else:
            st["bad_epochs"] = st.get("bad_epochs", 0) + 1
        return st["bad_epochs"] >= self.patience

    def on_train_end(self, trainer):
        if (self.out / "best" / "model.safetensors").is_file():
            weights, _ = load_model_state(self.out / "best")
            current = trainer.model.state_dict()
            # A rerun with nothing to do leaves the checkpoint as it was, unless it lacks the best weights: a run
            # stopped (Ctrl-C, a kill) after its last step's checkpoint but before they were restored
            restored = all(torch.equal(current[k].detach().cpu(), v.cpu()) for k, v in weights.items() if k in current)
            trainer.model.load_state_dict(weights)
            if trainer.history or not trainer.resumed or not restored:
                trainer.save_checkpoint()


def _epochs_before(path: Path, last: int) -> list[dict]:
    """The rows of ``epochs.csv`` up to epoch ``last`` (the checkpoint's); the file is rewritten with them, so an
    epoch logged after the checkpoint (a run killed in between) is not listed twice when it is done again. Rows
    a kill cut short are dropped."""
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            try:
                row = {"epoch": int(r["epoch"]), **{k: float(v) for k, v in r.items() if k != "epoch"}}
            except (TypeError, ValueError, KeyError):
                continue
            if row["epoch"] <= last:
                rows.append(row)
    from .. import distributed

    if distributed.is_main():
        if not rows:  # the next epoch's row writes the header
            path.unlink()
            return rows
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return rows


def _batches(x: torch.Tensor, y: torch.Tensor, batch: int, augment: str, gen: torch.Generator,
             device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    n = len(x)
    if n < batch:  # one short batch of all the images, split evenly over the processes (torchrun)
        from .. import distributed

        world = distributed.info().world_size
        batch = n - n % world
        if batch == 0:
            raise BrushworkError(f"{n} training image(s) cannot be shared among {world} processes: add images or "
                                 "run fewer processes")
    while True:
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n - batch + 1, batch):
            idx = perm[i:i + batch]
            xb = x[idx].float() / 255.0
            yield augment_batch(xb, augment, gen).to(device), y[idx].to(device)


def train_classifier(
    data: str | tuple,
    out_dir: str,
    *,
    config: ClassifyTrainConfig = ClassifyTrainConfig(),
    device: str = "auto",
    precision: str = "fp32",
    resume: bool = True,
    progress: bool = True,
    model: nn.Module | None = None,
    accumulate: int = 1,
    tensorboard: bool = False,
) -> tuple[Trainer, dict]:
    """Train on ``data`` (a dataset name, a folder, or ``(x, y, classes, channels[, groups])`` arrays).

    ``model`` continues training a given model (e.g. fine-tuning after pruning) instead of a new one.
    ``accumulate`` batches make one optimizer step (gradient accumulation: an epoch has fewer, larger
    steps); ``tensorboard`` also logs to ``out_dir/tensorboard``.

    Returns the trainer (its model holds the best weights) and a summary: classes, data sizes,
    epochs run, best epoch, and the held-out arrays for evaluation (``x_test``/``y_test`` when the
    data has a test set).
    """
    from ..runtime import make_generator, resolve_device, wrap_seed

    if config.arch not in ARCHITECTURES:
        raise BrushworkError(f"unknown model '{config.arch}': choose one of {', '.join(ARCHITECTURES)}")
    if not 0.0 < config.val_fraction < 1.0:  # (1.5 trained on one image a class and validated on the rest)
        raise BrushworkError(f"val_fraction must be between 0 and 1 (the share of each class held out for "
                             f"validation; 0.1 is the default), got {config.val_fraction!r}")
    if config.size is not None and config.size > 1024:  # (every image is held in memory at that size)
        raise BrushworkError(f"--size {config.size} is too large for a classifier's input: use 1024 or less (64 for "
                             "folders is the default; 224 suits efficientnet-lite0)")
    skipped_files: list[str] = []  # (the pictures skipped, named in the command's note)
    if isinstance(data, tuple):
        x, y, classes, channels, *rest = data
        groups = rest[0] if rest else None
        x_test = y_test = None
        skipped, legacy = 0, False
    else:
        saved = Path(out_dir) / "checkpoint" / "config.json"
        legacy = False
        if resume and saved.is_file():  # a run started by 0.2.8 goes on reading its folder as it did
            from .engine import read_config

            try:
                legacy = legacy_reader(read_config(saved.parent).get("data"), data)
            except BrushworkError:
                legacy = False  # (a damaged config: the resume below says so)
        x, y, x_test, y_test, classes, skipped, channels, groups = load_data(data, config.size, legacy=legacy,
                                                                             skipped_files=skipped_files)
    size = int(x.shape[-1])
    if size < 16:
        raise BrushworkError(f"images of {size} px are too small for the models (three 2x poolings): use --size 16 or more")
    out = Path(out_dir)
    refuse_other_kind(out, "classifier")
    from .. import distributed

    before = None  # a run to resume keeps its split (one saved before splits were recorded: the split of then)
    if resume and (out / "checkpoint" / "config.json").is_file():
        from .engine import read_config

        before = read_config(out / "checkpoint").get("data", {})
    try:
        split = None if before is None else recorded_split(before, y, groups)
    except BrushworkError:
        from .engine import same_source

        was = before.get("source")
        if was is None or isinstance(data, tuple) or same_source(str(was), str(data)):
            raise BrushworkError(f"'{out_dir}' holds a run trained on another listing of this data (images added, "
                                 "removed or renamed since), so its held-out images cannot be found again: use "
                                 "--no-resume to start over, or another --out") from None
        split = None  # (other data altogether: the resume check below names it)
    if split is None:
        split = stratified_split(y, config.val_fraction, config.seed, groups,
                                 closest=before is None or "val_indices" in before)
    tr, va = split
    ungrouped = ungrouped_classes(y, groups, classes)
    twice = in_two_classes(x, y)
    if twice and distributed.is_main():  # (said before training, not after it: copies were learnt without a word)
        print(f"brushwork: note: {twice} picture(s) lie in two or more class folders (the same pixels): each is "
              "learnt under every one of its labels; keep each in one class", file=sys.stderr)
    if not len(va):  # before any epoch is trained: nothing to measure it with would lose the run at its end
        raise BrushworkError("no class has 2 or more images, so there is nothing to validate on: give each class "
                             "at least 2 images (10 or more to learn anything)")
    dev = distributed.device_for(resolve_device(device))
    world = distributed.setup(dev)  # under torchrun: join the process group (one process: nothing)
    distributed.main_then_share(lambda: check_checkpoint_folder(out, resume))  # (after setup: every rank hears)
    if config.batch % world.world_size:
        raise BrushworkError(f"--batch {config.batch} does not split evenly over {world.world_size} processes: "
                             f"use a multiple of {world.world_size}")
    torch.manual_seed(config.seed)
    gen = make_generator(config.seed)
    cfg = ClassifierConfig(arch=config.arch, num_classes=len(classes), in_channels=channels, size=size,
                           dropout=config.dropout, classes=tuple(classes))
    if model is None:
        model = build_classifier(cfg, pretrained=config.arch == "efficientnet-lite0")
    if config.freeze_encoder:
        if not hasattr(model, "encoder"):
            raise BrushworkError(f"--freeze-encoder is for efficientnet-lite0 (a pretrained encoder), not {config.arch}")
        for p in model.encoder.parameters():
            p.requires_grad_(False)
    model = model.to(dev)
    if world.distributed and dev.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)  # global batch statistics (CUDA only)
    ddp_model = distributed.wrap(model)  # DDP averages the gradients of the processes' slices
    torch.manual_seed(wrap_seed(config.seed + 104729 * world.rank))  # dropout masks: drawn per process (same init above)
    augment = config.augment if config.augment != "auto" else ("shift" if channels == 1 else "photo")
    steps_per_epoch = max(1, len(tr) // (config.batch * accumulate))
    total = steps_per_epoch * config.epochs
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.lr,
                            weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total, pct_start=0.15)
    xt, yt = torch.from_numpy(x[tr]), torch.from_numpy(y[tr])

    def step_fn(batch):
        # Every process drew the same global batch (same generator, same augmentation): train on its slice.
        xb, yb = distributed.shard_batch(*batch)
        logits = ddp_model(xb)
        loss = F.cross_entropy(logits.float(), yb, label_smoothing=config.label_smoothing)
        return loss, {"accuracy": float((logits.argmax(1) == yb).float().mean())}

    stopper = EarlyStopping(x[va], y[va], steps_per_epoch, config.patience, out, dev)
    model_config = {"classifier": cfg.to_dict(), "train": {**asdict(config), "accumulate": accumulate},
                    "data": {"source": str(data) if isinstance(data, (str, os.PathLike)) else "<arrays>",
                             **({} if legacy else {"reader": READER}),  # (how its folder was read: see READER)
                             "folder": str(Path(data).resolve()) if isinstance(data, (str, os.PathLike))
                             and Path(data).is_dir() else None,  # (where it is, however it was spelled)
                             "train": int(len(tr)),
                             "val": int(len(va)), "skipped": skipped,
                             "grouped_split": groups is not None and len(np.unique(groups)) < len(groups),
                             "split_digest": split_digest(y, groups), "val_indices": va.tolist(),
                             # (images from a folder, a named one such as art-medium too: arrays have a test set)
                             **({"trained": image_fingerprints(x[tr])} if isinstance(data, (str, os.PathLike))
                                and x_test is None else {}),
                             # grey images: light marks on dark (MNIST) or dark ink on light; predict and eval
                             # turn other images to match
                             **({"ink": "dark" if float(x[tr].mean()) > 127 else "light"} if channels == 1 else {})},
                    "precision": precision}
    trainer = Trainer(ddp_model, model_config, opt, step_fn, _batches(xt, yt, config.batch, augment, gen, dev),
                      TrainerConfig(out_dir=out_dir, steps=total, device=str(dev), precision=precision,
                                    checkpoint_every=steps_per_epoch, progress=progress, grad_clip=None,
                                    accumulate=accumulate, tensorboard=tensorboard),
                      callbacks=[stopper], scheduler=sched)
    if resume and (out / "checkpoint" / "config.json").is_file():
        from .engine import read_config, same_source, saved_precision

        saved = read_config(out / "checkpoint")
        def settings(d: dict) -> dict:  # (accumulate changes the schedule; --size as the default's value is the default)
            return {**{k: v for k, v in d.items() if k != "patience"}, "size": d.get("size") or size}

        same = saved.get("classifier") == cfg.to_dict() and settings(
            {"accumulate": 1, **saved.get("train", {})}) == settings(model_config["train"]) and (
            saved_precision(out, saved) == precision)
        if not same:
            raise BrushworkError(f"'{out_dir}' holds a run with other settings (model, size, epochs, precision or "
                                 "other hyperparameters): use --no-resume to start over, or another --out")
        was, now = saved.get("data", {}).get("source"), model_config["data"]["source"]
        if was is not None and not same_source(was, now):  # (a run saved before it was recorded: not checked)
            raise BrushworkError(f"'{out_dir}' holds a run trained on {was}, not {now}: use --no-resume to start "
                                 "over, or another --out")
        trained = before.get("trained") if before is not None else None
        if isinstance(trained, list) and len(trained) == len(tr):  # (names and labels alike: are the pictures?)
            changed = sum(a != b for a, b in zip(trained, image_fingerprints(x[tr])))
            if changed:
                raise BrushworkError(f"'{out_dir}' holds a run trained on other pictures under these names ({changed} "
                                     f"of its {len(tr)} training images differ: edited, or class folders swapped): use "
                                     "--no-resume to start over, or another --out")
        trainer.resume(fast_forward=True)  # the data stream continues where the checkpoint left it
        if (out / "epochs.csv").is_file():  # the epochs before the resume, for the summary and the curves
            stopper.epochs = _epochs_before(out / "epochs.csv", trainer.step // steps_per_epoch)
    else:  # a new run: the old run's logs and best weights (restored at the end) are not its own
        from ..pipelines.classify import only_best

        if resume and only_best(out):
            # (checkpoint/ deleted to keep the trained model alone: the new run replaced it without a word)
            raise BrushworkError(f"'{out_dir}' holds a trained model (best/) and no checkpoint/ to resume its run "
                                 "from: a new run would replace it; use another --out, or --no-resume to replace it")

        def clear() -> None:
            if not (out / "checkpoint").exists():  # no run here: files of these names may be the user's own
                best = out / "best"
                refuse_foreign_files(out, (("log.csv", "step,"), ("epochs.csv", "epoch,")),
                                     ["best/"] * (best.is_dir() and any(best.iterdir())
                                                  and not (best / "config.json").is_file()))
            for f in ("epochs.csv", "log.csv"):
                (out / f).unlink(missing_ok=True)
            if (out / "best").is_dir():
                import shutil

                shutil.rmtree(out / "best")

        distributed.main_then_share(clear)  # (rank 0's files; its failure stops the others too)
    finished_before = "stopped_at_step" in trainer.extra_state  # (fit then trains no further)
    trainer.fit()
    stopped = trainer.extra_state.get("stopped_at_step")
    summary = {"stopped_early_at_epoch": None if stopped is None else stopped // steps_per_epoch,
               "finished_before": finished_before, "trained_now": bool(trainer.history),
               "classes": classes, "train": int(len(tr)), "val": int(len(va)), "skipped": skipped,
               "skipped_files": skipped_files,
               "epochs": stopper.epochs, "best_epoch": trainer.extra_state.get("best_epoch"),
               "x_val": x[va], "y_val": y[va], "x_test": x_test, "y_test": y_test, "config": cfg,
               "ungrouped": ungrouped,
               "unvalidated": [classes[c] for c in np.unique(y[tr]) if not (y[va] == c).any()]}
    return trainer, summary


def in_two_classes(x: np.ndarray, y: np.ndarray) -> int:
    """How many pictures (the same pixels, as the model sees them) lie in more than one class: each is learnt under
    every one of its labels, and a copy may be validated against another class's training picture."""
    labels: dict[str, set] = {}
    for f, label in zip(image_fingerprints(x), y.tolist()):
        labels.setdefault(f, set()).add(label)
    return sum(1 for v in labels.values() if len(v) > 1)


def ungrouped_classes(y: np.ndarray, groups: np.ndarray | None, classes: Sequence[str]) -> list[str]:
    """Classes whose images all sit in one group while the folder has groups elsewhere: their validation
    images are split one by one (:func:`stratified_split` cannot keep a group aside and train on the
    class too), so near-duplicates within the group may sit on both sides."""
    if groups is None or len(np.unique(groups)) < 2:
        return []
    return [classes[c] for c in np.unique(y) if len(np.unique(groups[y == c])) == 1 and (y == c).sum() > 1]



def folds(y: np.ndarray, k: int, seed: int, groups: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k-fold ``(train, test)`` index pairs, shuffled by seed (scikit-learn's StratifiedKFold,
    or StratifiedGroupKFold when ``groups`` has groups of several images: a group is never split)."""
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    if k < 2:
        raise BrushworkError(f"--kfold needs at least 2 folds, got {k}")
    counts = np.bincount(y)
    if counts[counts > 0].min() < k:
        few = int(counts[counts > 0].min())
        raise BrushworkError(f"the smallest class has {few} image{'s' if few != 1 else ''}, fewer than --kfold {k}: "
                             "use fewer folds")
    if groups is not None and len(np.unique(groups)) < len(groups):
        fewest = min(len(np.unique(groups[y == c])) for c in np.unique(y))
        if fewest < k:
            raise BrushworkError(f"a class has only {fewest} group(s) (sub-folders), fewer than --kfold {k}: "
                                 "use fewer folds")
        return list(StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y, groups))
    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
