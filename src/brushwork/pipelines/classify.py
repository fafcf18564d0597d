"""Evaluate and use trained classifiers: metrics (scikit-learn), confusion matrix, curves, predictions."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import BrushworkError
from ..weights import keeps_rng

__all__ = ["classification_metrics", "load_classifier", "write_confusion", "plot_curves", "predict_images",
           "match_ink"]


def holds_model(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a trained model (``config.json``, or the ``checkpoint/`` of a training run, or its
    ``best/`` alone)."""
    p = Path(folder)
    return (p / "config.json").is_file() or (p / "checkpoint" / "config.json").is_file() or only_best(p)


def only_best(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is a training run whose ``checkpoint/`` was deleted to keep its trained model alone
    (``best/``): that model is the run's (it was "holds no classifier checkpoint")."""
    f = Path(folder)
    return not (f / "checkpoint").exists() and not (f / "config.json").exists() and (
        f / "best" / "config.json").is_file()


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> dict:
    """Accuracy; per-class, macro and weighted precision, recall and F1; the confusion matrix (scikit-learn).

    A class with no image among those evaluated and never predicted has nothing to score: its per-class figures
    are None and it is left out of the averages (as scikit-learn's default does), rather than counted as 0."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    labels = list(range(len(classes)))
    seen = sorted(set(np.asarray(y_true).tolist()) | set(np.asarray(y_pred).tolist()))
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out = {"accuracy": float(accuracy_score(y_true, y_pred)),
           "per_class": {c: ({"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i])} if i in seen else
                             {"precision": None, "recall": None, "f1": None}) | {"support": int(support[i])}
                         for i, c in enumerate(classes)},
           "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist()}
    for avg in ("macro", "weighted"):
        ap, ar, af, _ = precision_recall_fscore_support(y_true, y_pred, labels=seen, average=avg, zero_division=0)
        out[avg] = {"precision": float(ap), "recall": float(ar), "f1": float(af)}
    return out


def write_confusion(matrix: list[list[int]], classes: list[str], csv_path: Path, png_path: Path | None) -> None:
    """The confusion matrix as CSV (rows: true class, columns: predicted) and as a PNG heat map."""
    with open(csv_path, "w", newline="", encoding="utf-8") as f:  # (class names in any script, on any system)
        w = csv.writer(f)
        w.writerow(["true \\ predicted", *classes])
        for c, row in zip(classes, matrix):
            w.writerow([c, *row])
    if png_path is None:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix)
    labels = _drawable(classes)
    fig, ax = plt.subplots(figsize=(1.2 + 0.55 * len(classes), 1.0 + 0.5 * len(classes)))
    ax.imshow(m, cmap="Blues")
    ax.set_xticks(range(len(classes)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), labels)
    ax.set_xlabel("predicted")
    numbered = any(lab != c and lab.endswith(f"#{i}") for i, (lab, c) in enumerate(zip(labels, classes), 1))
    ax.set_ylabel("true" if labels == list(classes) else "true (#N: row N of confusion.csv)" if numbered
                  else "true (whole names in confusion.csv)")
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if m[i, j] > m.max() / 2 else "black")
    import warnings

    with warnings.catch_warnings():  # (a class name in a script the font lacks shows as boxes, said once here)
        warnings.simplefilter("ignore", UserWarning)
        # (the canvas grows to hold the labels; tight_layout shrank the matrix to make room for them instead: three
        # long class names left it 20 px wide)
        fig.savefig(png_path, dpi=110, bbox_inches="tight")
    plt.close(fig)


#: the longest class name the confusion plot shows whole: a longer one is cut with an ellipsis (a 250-character name
#: squeezed the matrix into a corner of the picture); confusion.csv keeps the whole names
LABEL_CHARS = 28


def _drawable(classes: list[str]) -> list[str]:
    """The class names as the plot's font can draw them: a name with a character it lacks (Chinese, Arabic... in
    matplotlib's DejaVu Sans) is shown as ``#N`` (its row in confusion.csv, from 1), not as a row of boxes; one
    longer than ``LABEL_CHARS`` is cut (``#N`` added where two cut names would read the same)."""
    try:
        from matplotlib import font_manager, ft2font

        have = ft2font.FT2Font(font_manager.findfont(font_manager.FontProperties())).get_charmap()
        names = [c if all(ord(ch) in have for ch in c) else f"#{i}" for i, c in enumerate(classes, 1)]
    except Exception:  # noqa: BLE001 - no font to ask: the names as they are
        names = list(classes)
    cut = [n if len(n) <= LABEL_CHARS else n[:LABEL_CHARS - 1].rstrip() + "\u2026" for n in names]
    return [c if c == n or cut.count(c) == 1 else f"{c[:LABEL_CHARS - 5]}\u2026 #{i}"
            for i, (c, n) in enumerate(zip(cut, names), 1)]


def plot_curves(epochs: list[dict], png_path: Path) -> None:
    """Training and validation loss and validation accuracy per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    e = [r["epoch"] for r in epochs]
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4))
    a.plot(e, [r["train_loss"] for r in epochs], label="train")
    a.plot(e, [r["val_loss"] for r in epochs], label="validation")
    a.set_xlabel("epoch")
    a.set_ylabel("loss")
    a.legend()
    b.plot(e, [r["val_accuracy"] for r in epochs], color="C2")
    b.set_xlabel("epoch")
    b.set_ylabel("validation accuracy")
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)


#: Classifiers shipped with brushwork: the name ``classify predict --model`` takes -> weights entry.
SHIPPED = {"medium": "classifier-medium"}


@keeps_rng
def load_classifier(folder: str | os.PathLike, device: torch.device | str = "cpu"):
    """``(model, ClassifierConfig)`` from a folder with ``config.json`` + ``model.safetensors``, or a
    shipped classifier by name (``"medium"``: the art-medium classifier). A grey model's ``ink`` (see
    :func:`match_ink`) is ``model.ink``, which :func:`predict_images` follows.

    Raises:
        BrushworkError: missing files, not a classifier, or weights of another architecture.
    """
    from ..models.classifier import ClassifierConfig, build_classifier
    from ..training.engine import find_checkpoint
    from ..weights import load_state_dict

    if str(folder) in SHIPPED and not holds_model(folder):  # (a model folder of that name is the user's own)
        from ..weights import find_weights

        folder = find_weights(SHIPPED[str(folder)]).parent  # sha256-checked
    unfinished = stopped_run(folder)
    p, raw = find_checkpoint(Path(folder) / "best" if unfinished or only_best(folder) else folder, "classifier",
                             "classifier", "classify train")
    try:
        cfg = ClassifierConfig.from_dict(raw["classifier"])
        model = build_classifier(cfg)
    except (KeyError, TypeError, ValueError) as exc:
        raise BrushworkError(f"'{p / 'config.json'}' does not describe a classifier brushwork can build "
                             f"({type(exc).__name__}: {exc}): restore the checkpoint from a copy") from None
    try:
        model.load_state_dict(load_state_dict(p / "model.safetensors", what="classifier weights"))  # (fp16 -> fp32)
    except RuntimeError:
        raise BrushworkError(f"the weights in '{p}' do not fit a {cfg.arch} model: the checkpoint is damaged "
                             "or its config.json belongs to another model") from None
    from ..runtime import resolve_device

    data = raw.get("data")
    model.ink = data.get("ink") if isinstance(data, dict) else None  # (None: saved before 0.2.4, or colour)
    from ..datasets import ARRAY_SOURCES

    # a model of a square dataset's centred digits or garments sees a picture of another shape whole, padded with
    # its background (centre-cropped, a tall 7 lost its bar and read as 1); one trained on a folder, as trained
    model.framing = "pad" if isinstance(data, dict) and data.get("source") in ARRAY_SOURCES else "crop"
    model.unfinished = unfinished  # (the command says so)
    return model.to(resolve_device(device)).eval(), cfg


def stopped_run(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is a training run stopped before its end (Ctrl-C): its ``checkpoint/`` holds the last
    epoch's weights, not the best epoch's in ``best/``, which a finished run puts there; predictions and evaluations
    then take ``best/`` (they took the last epoch's without a word)."""
    from ..weights import sha256_file

    last, best = Path(folder) / "checkpoint" / "model.safetensors", Path(folder) / "best" / "model.safetensors"
    try:
        return (last.is_file() and best.is_file() and (best.parent / "config.json").is_file()
                and (last.stat().st_size != best.stat().st_size or sha256_file(last) != sha256_file(best)))
    except OSError:
        return False


def match_ink(arr: np.ndarray, ink: str | None) -> np.ndarray:
    """A grey image ``(H, W)`` uint8 turned to the model's ``ink`` (``"light"``: light marks on dark, as MNIST;
    ``"dark"``: dark ink on light paper; None, a model saved before 0.2.4: light), inverted when its own
    (its mean above or below mid-grey) is the other."""
    return 255 - arr if (arr.mean() > 127) != (ink == "dark") else arr


def predict_images(model, cfg, files: list[str], top_k: int = 3, max_pixels: int | None = None,
                   ink: str | None = None, skipped: list[tuple[str, str]] | None = None) -> list[dict]:
    """Top-k labels with probabilities for each image file (a list, or one path, array or PIL image; resized
    like the training images; a grey model's images turned to its ``ink``, see :func:`match_ink`: by default
    the ``model.ink`` that :func:`load_classifier` sets; a model of a square dataset such as mnist sees each image
    whole, padded to a square with its background: ``model.framing``). ``skipped``: a list that collects
    ``(file, why)`` for the images that cannot be classified, the others classified (their results, in the order
    given, hold ``{"image", "error"}`` for those); without it, the first such image raises."""
    import numbers

    if isinstance(model, tuple):  # (an AttributeError on the tuple's 'eval' after every image was read)
        raise BrushworkError("model is load_classifier's pair: unpack it, model, cfg = load_classifier(...)")
    if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or top_k < 1:
        raise BrushworkError(f"top_k must be a whole number of labels, 1 or more, got {top_k!r}")
    if ink not in (None, "light", "dark"):
        raise BrushworkError(f"ink must be 'light' (light marks on dark), 'dark' (dark ink on light) or None (the "
                             f"model's own), got {ink!r}")
    if isinstance(files, np.ndarray) and files.ndim == 4:
        files = list(files)  # a stack of images (N, H, W, C)
    elif isinstance(files, (str, os.PathLike, np.ndarray, Image.Image)):
        files = [files]  # one image, not its letters or rows
    files = list(files)
    if not files:
        raise BrushworkError("no images to classify: give one or more image files")
    out: list[dict] = []
    for start in range(0, len(files), PREDICT_CHUNK):  # (a chunk's pictures at a time: a folder of 100,000 photos)
        out += _predict_chunk(model, cfg, files[start:start + PREDICT_CHUNK], top_k, max_pixels, ink, skipped)
    return out


#: pictures read and classified at a time by :func:`predict_images` (memory stays a chunk's, whatever their number)
PREDICT_CHUNK = 256


def _predict_chunk(model, cfg, files: list, top_k: int, max_pixels: int | None, ink: str | None,
                   skipped: list | None) -> list[dict]:
    from ..imaging.io import fit_square, padded_square, read_image
    from ..training.classify import predict_proba

    xs, failed = [], {}
    for n, f in enumerate(files):
        try:
            img = read_image(f, what="image", **({} if max_pixels is None else {"max_pixels": max_pixels}))
            if img.alpha is not None and not (img.alpha > 0).any():  # (a white square, named a class with confidence)
                raise BrushworkError(f"image '{img.source}' is fully transparent: it has nothing to classify (use an "
                                     "image with visible content)")
        except BrushworkError as exc:  # with ``skipped``, the others are classified (a folder's Thumbs.db, notes.txt)
            if skipped is None:
                raise
            skipped.append((str(f), str(exc)))
            failed[n] = str(exc)
            continue
        pil = Image.fromarray((img.rgb * 255 + 0.5).astype(np.uint8)).convert("L" if cfg.in_channels == 1 else "RGB")
        if getattr(model, "framing", "crop") == "pad":
            pil = padded_square(pil)
        pil = fit_square(pil, cfg.size)
        arr = np.asarray(pil, np.uint8)
        if cfg.in_channels == 1:  # dark ink on light paper for a model of light marks on dark, or the reverse
            arr = match_ink(arr, ink if ink is not None else getattr(model, "ink", None))
        xs.append(arr[None] if cfg.in_channels == 1 else arr.transpose(2, 0, 1))
    probs = iter(predict_proba(model, np.stack(xs)) if xs else [])
    out = []
    for n, f in enumerate(files):  # (in the order given: a file that failed has its error where its result would be)
        name = str(f) if isinstance(f, (str, os.PathLike)) else f"<{type(f).__name__}>"
        if n in failed:
            out.append({"image": name, "error": failed[n]})
            continue
        p = next(probs)
        top = np.argsort(-p)[:top_k]
        out.append({"image": name, "top": [{"label": cfg.classes[i] if cfg.classes else str(i),
                                            "probability": float(p[i])} for i in top]})
    return out
