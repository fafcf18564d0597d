"""``brushwork.stylize``: paint a content image in the style of one or more style images."""

from __future__ import annotations

import functools
import math
import numbers
import os
import platform
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import BrushworkError, ImageError, flag, hint
from ..imaging.io import DEFAULT_MAX_PIXELS, LoadedImage, read_image, to_pil
from ..weights import keeps_rng

__all__ = ["StylizeResult", "stylize", "sample_path", "PRESERVE_COLOR"]

ImageLike = str | os.PathLike | Image.Image | np.ndarray
PRESERVE_COLOR = ("none", "luminance", "histogram", "stats", "palette")
METHODS = ("gatys", "adain")
#: AdaIN encodes style images at most this large (their statistics barely change above it).
ADAIN_STYLE_MAX_SIDE = 1024
#: The encoder's receptive field makes smaller images meaningless.
MIN_SIDE = 16

_SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


def sample_path(name: str) -> Path:
    """Path of a bundled sample image: ``"content"`` (a photo), ``"style"`` (a painting) or a file name."""
    files = {"content": "chelsea.jpg", "style": "starry_night.jpg"}
    return _SAMPLES / files.get(name, name)


def painted_colours(over_white: Any, alpha: Any) -> Any:
    """What is painted of a photo with transparency: ``over_white (1, 3, H, W)``, the photo as it looks over white,
    turned back into its own colours (``alpha (1, 1, H, W)``), fading to white where it is under half opaque.

    Not its look over white: the picture keeps the photo's alpha, which would whiten those colours a second time (a
    half-transparent photo came out washed out). A see-through pixel's own colour is noise, and a dark halo around a
    cut-out would be painted into the picture: hence the fade."""
    import torch

    own = torch.where(alpha > 0, (over_white - (1 - alpha)) / alpha.clamp_min(1e-6), over_white).clamp(0, 1)
    return (alpha / 0.5).clamp(0, 1) * (own - 1) + 1


@dataclass
class StylizeResult:
    """What :func:`stylize` returns.

    Attributes:
        image: the stylized RGB (or RGBA, when the content had alpha) image.
        params: every parameter that produced it (JSON-serialisable): the recipe.
        losses: loss per function evaluation.
        seconds: wall time of the optimisation.
        interrupted: True if stopped early (Ctrl-C); ``image`` is then the best so far.
        notes: things the user should know that were handled (e.g. a mask resized to the content).
        inputs: the files it was made from (content, styles, masks given as paths): :meth:`save` will not
            write over them.
    """

    image: Image.Image
    params: dict[str, Any]
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list, repr=False)

    def save(self, path: str | os.PathLike, recipe: dict | None | bool = True, sidecar: bool = False,
             watermark: bool = True, record: str | None = "stylize", exif: bytes | None = None) -> Path:
        """Write the image atomically with its recipe (``params``, or the ``recipe`` given; ``None``
        or ``False``: no metadata) in the file (PNG, JPEG, WebP, TIFF) and, with ``sidecar``, beside it.
        ``watermark`` adds brushwork's invisible mark to the file (``self.image`` stays unmarked);
        ``record`` names the operation in the user's gallery (None: not recorded); ``exif`` is written
        only when given (``brushwork.imaging.io.input_exif``: the user asked to keep the photo's).

        Raises:
            BrushworkError: ``path`` is one of the :attr:`inputs` (it would replace the photo), or cannot be written.
        """
        from ..imaging.io import not_an_input, save_image

        not_an_input([path], self.inputs)
        rec = self.params if recipe is True else (recipe or None)
        return save_image(self.image, path, recipe=rec, sidecar=sidecar, watermark=watermark, record=record, exif=exif)


def _weights_sha256(net: Any) -> dict[str, str]:
    """The sha256 of the weights files behind ``net`` (an encoder, or an AdaIN encoder + decoder)."""
    parts = {"encoder": getattr(net, "encoder", net), "decoder": getattr(net, "decoder", None)}
    return {k: m.weights_sha256 for k, m in parts.items() if getattr(m, "weights_sha256", None)}


def _stamp(*files: Path) -> tuple:
    """What tells a model file apart from the one cached under its name: each file's resolved path, size and
    modification time (a decoder retrained into the same folder, a path relative to another working folder)."""
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((str(f.resolve()), st.st_size, st.st_mtime_ns))
        except OSError:
            out.append((str(f), None, None))  # (the loader says what is wrong with it)
    return tuple(out)


def _cached_encoder(name: str, weights: str | None, device: Any, allow_download: bool, trust: bool):
    """:func:`weights.load_encoder`, loaded once a process for the same file: folders of images call stylize()
    once per file."""
    stamp = None if weights is None else _stamp(Path(weights).expanduser())
    return _load_encoder(name, weights, stamp, device, allow_download, trust)


@functools.lru_cache(maxsize=4)
@keeps_rng
def _load_encoder(name: str, weights: str | None, stamp: tuple | None, device: Any, allow_download: bool, trust: bool):
    import torch

    from ..weights import load_encoder

    with torch.inference_mode(False):  # (a model first loaded in a caller's inference mode: kept for autograd too)
        return load_encoder(name, weights, device=device, allow_download=allow_download, trust_weights=trust)


def _cached_decoder(source: str | None, device: Any):
    """:func:`weights.load_decoder`, loaded once a process for the same files."""
    if source is None:
        return _load_decoder(None, None, device)
    from ..weights import decoder_file

    file = decoder_file(Path(source).expanduser())
    return _load_decoder(source, _stamp(file, file.parent / "config.json"), device)


@functools.lru_cache(maxsize=4)
@keeps_rng
def _load_decoder(source: str | None, stamp: tuple | None, device: Any):
    import torch

    from ..weights import load_decoder

    with torch.inference_mode(False):
        return load_decoder(source, device=device)


def check_default_dtype() -> None:
    """brushwork paints in float32; under ``torch.set_default_dtype(torch.float64)`` (a notebook's science) its
    tensors would meet float64 ones mid-way, in a RuntimeError.

    Raises:
        BrushworkError: torch's default dtype is not float32.
    """
    import torch

    if torch.get_default_dtype() != torch.float32:
        raise BrushworkError(f"torch's default dtype is {str(torch.get_default_dtype()).removeprefix('torch.')}, and "
                             "brushwork paints in float32: call torch.set_default_dtype(torch.float32) first")


#: AdaIN's tile size by default: on a CPU 512 px (the decoder's full-size layers of a 1024 px tile outgrow the
#: caches: a 2048 px picture took 1.70 s in 1024 px tiles, 0.69 s in 512 px ones, on 2 cores; adain_tiles.py),
#: elsewhere 1024 px
TILE, CPU_TILE = 1024, 512


def default_tile(tile: Any, device: Any) -> Any:
    """``tile``, with ``"auto"`` (the default) made the size for ``device``'s type (:data:`CPU_TILE` on a CPU)."""
    if isinstance(tile, str) and tile == "auto":
        return CPU_TILE if str(device).split(":")[0] == "cpu" else TILE
    return tile


def checked_tile(tile: Any) -> int | str | None:
    """``tile`` as a plain int (numpy numbers too: a recipe is JSON), ``"auto"``, or None.

    Raises:
        BrushworkError: not a whole number of at least 64 pixels (stylize's and video's tiles alike).
    """
    if isinstance(tile, str) and tile == "auto":
        return tile
    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, numbers.Integral) or tile < 64):
        raise BrushworkError(f"{flag('--tile')} must be a whole number of at least 64 pixels"
                             + ("" if flag("--tile") == "--tile" else ", 'auto' or None") + f", got {tile!r}")
    return None if tile is None else int(tile)


_STYLE_MEMO: dict[tuple, tuple] = {}  # (kind, models' ids, settings, pixels' sha256) -> (models, value), newest last
_STYLE_MEMO_SIZE = 8
_STYLE_MEMO_LOCK = threading.Lock()


def _style_memo(kind: str, models: tuple, tensors: Sequence[Any], settings: Any, compute: Callable[[], Any]) -> Any:
    """``compute()`` once for the same style pixels, models and settings: a folder run (or a notebook's loop) over
    many photos with one style encoded the style again for every photo (about 60 ms each, 18 % of a folder run of
    small photos). Keyed by the pixels' sha256; the models by identity (the cached ones: a value is used only with
    the very models it was computed with)."""
    import hashlib

    h = hashlib.sha256()
    for t in tensors:
        h.update(b"-" if t is None else repr((tuple(t.shape), str(t.dtype))).encode() + t.detach().cpu().numpy().tobytes())
    key = (kind, tuple(id(m) for m in models), repr(settings), h.hexdigest())
    with _STYLE_MEMO_LOCK:
        hit = _STYLE_MEMO.pop(key, None)
        if hit is not None and all(a is b for a, b in zip(hit[0], models)):
            _STYLE_MEMO[key] = hit  # (newest last)
            return hit[1]
    value = compute()
    with _STYLE_MEMO_LOCK:
        _STYLE_MEMO[key] = (models, value)
        while len(_STYLE_MEMO) > _STYLE_MEMO_SIZE:
            _STYLE_MEMO.pop(next(iter(_STYLE_MEMO)))
    return value


def read_style(source: Any, **kwargs: Any) -> LoadedImage:
    """A style image, read as :func:`read_image` reads it; one with no pixel at least half opaque is refused (it
    has no colours to paint with). ``stylize`` and ``video`` read their styles here."""
    img = read_image(source, min_side=MIN_SIDE, what="style image", **kwargs)
    if img.alpha is not None and not (img.alpha >= 0.5).any():
        raise BrushworkError(f"style image '{img.source}' has no pixel at least half opaque: it has no colours to "
                             "paint with; use an image with visible pixels")
    return img


def _as_list(x: Any) -> list:
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _check_range(name: str, value: float | None, lo: float, hi: float | None = None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise BrushworkError(f"{name} must be a number, got {value!r}")
    if not (value >= lo and (hi is None or value <= hi)) or value != value or value == float("inf"):
        bound = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise BrushworkError(f"{name} must be {bound}, got {value}")


def check_init_match(method: str, init: str, init_match: str | None) -> None:
    """BrushworkError unless ``init_match`` is None or a match for the AdaIN start of Gatys' ``init="adain"``."""
    from ..color.transport import MATCHES

    if init_match is None:
        return
    if init_match not in MATCHES:
        raise BrushworkError(f"init_match must be one of {', '.join(MATCHES)}, got {init_match!r}")
    if method != "gatys":
        raise BrushworkError(f"{flag('--init-match', init_match)} finishes the AdaIN start of {flag('--method', 'gatys')} "
                             f"{flag('--init', 'adain')}; an AdaIN picture takes {flag('--match', init_match)}")
    if init != "adain":
        raise BrushworkError(f"{flag('--init-match', init_match)} finishes the AdaIN start of {flag('--init', 'adain')}: "
                             f"add {flag('--init', 'adain')} or drop {flag('--init-match')}")


def _outside_inference_mode(fn):
    """Run ``fn`` outside a caller's ``torch.inference_mode()`` (a notebook's habit): Gatys optimises a picture by
    autograd, which inference tensors refuse (a bare RuntimeError); ``torch.no_grad()`` was always fine."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        import torch

        with torch.inference_mode(False):
            return fn(*args, **kwargs)

    return run


#: peak memory of a Gatys optimisation on the CPU per output pixel with the default encoder (1.7 KB measured: peak
#: resident memory at 384 x 256 and 768 x 512, 0.50 and 0.97 GiB); a larger encoder (VGG) needs more
GATYS_CPU_BYTES_PER_PIXEL = 1700


def _check_gatys_memory(out_w: int, out_h: int, size: int | None, source: str) -> None:
    """Refuse a Gatys picture that cannot fit in the memory the system has free: it was given memory until the system
    stopped the process without a word (a 5.6K photo at full size needs about 28 GiB)."""
    from .. import runtime

    free = runtime.available_memory()
    need = out_w * out_h * GATYS_CPU_BYTES_PER_PIXEL
    if free is None or need <= free:
        return
    fits = int(max(out_w, out_h) * (free / need) ** 0.5) // 16 * 16
    at = f"at {flag('--size', size)}" if size else "at full size"
    raise ImageError(f"content image '{source}': {at} ({out_w}x{out_h}) Gatys needs about {need / 2**30:.1f} GiB on the "
                     f"CPU and {free / 2**30:.1f} GiB is free: use {flag('--size', fits)} or less, or "
                     f"{flag('--method', 'adain')} (a few hundred bytes a pixel)")


@_outside_inference_mode
def stylize(
    content: ImageLike,
    style: ImageLike | Sequence[ImageLike],
    *,
    method: str = "gatys",
    strength: float = 0.5,
    style_weights: Sequence[float] | None = None,
    masks: Sequence[ImageLike | None] | None = None,
    size: int | None = 512,
    preserve_color: str = "none",
    init: str = "content",
    seed: int = 0,
    encoder: str = "efficientnet-lite0",
    weights: str | os.PathLike | None = None,
    allow_download: bool = False,
    trust_weights: bool = False,
    steps: int | None = None,
    scales: int | None = None,
    optimizer: str | None = None,
    content_weight: float | None = None,
    style_weight: float | None = None,
    tv_weight: float | None = None,
    decoder: str | os.PathLike | None = None,
    tile: int | str | None = "auto",
    transform: str = "adain",
    match: str | None = None,
    init_match: str | None = None,
    device: str = "auto",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    progress: bool = False,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> StylizeResult:
    """Stylize ``content`` with one or more ``style`` images.

    Args:
        content: path, PIL image or array of the photo to paint.
        style: one or several style images.
        method: ``"gatys"`` (optimisation, slow, best quality) or ``"adain"`` (one forward pass
            through a trained decoder, fast).
        strength: a in [0, 1]: 0 keeps the content (for AdaIN, as its decoder paints it back), 1 is the most
            stylized (for AdaIN, the blend ``C + a (AdaIN(C, S) - C)`` of the encoder features; for Gatys, the
            weights of :func:`~brushwork.pipelines.gatys.strength_weights`).
        style_weights: blend weights, one per style (default equal).
        masks: one mask image per style (white = apply that style, black = not; greyscale is soft);
            pixels that no mask covers keep the content. None applies every style everywhere.
        size: long side of the output in pixels (None keeps the content's size).
        preserve_color: ``"none"``, ``"luminance"`` (keep the content's colours: only luminance is
            stylized, Gatys et al. 2016), ``"histogram"`` (match the style's colours to the
            content's before optimising), or a recolouring of the result towards the content's
            colours afterwards: ``"stats"`` (OKLab mean/std) or ``"palette"`` (palette mapping).
        init: Gatys: start from ``"content"``, ``"noise"`` or ``"adain"`` (the feed-forward AdaIN result at
            twice the strength, at most 1: the optimisation then needs far fewer steps, and runs one scale
            of 20 evaluations unless ``steps``/``scales`` say otherwise; docs/style-transfer.md).
        seed: seeds the noise (and any other randomness); None draws one, which the recipe records.
        encoder: feature encoder name (see ``brushwork encoders``).
        weights: weights file for the encoder (required for VGG/ResNet offline).
        allow_download / trust_weights: see :func:`brushwork.weights.find_weights`.
        steps, scales, optimizer, content_weight, style_weight, tv_weight: expert overrides of the
            encoder's tuned preset.
        decoder: AdaIN, and Gatys with ``init="adain"``: a saved decoder folder (default: the decoder
            shipped with brushwork).
        tile: AdaIN (and Gatys' ``init="adain"`` start): tile size for large images (None: always one pass;
            ``"auto"``, the default: 512 px on a CPU, 1024 px on a GPU, :data:`CPU_TILE`).
        transform: AdaIN method: ``"adain"`` (match each channel's mean and std: the AdaIN paper) or
            ``"wct"`` (whitening-colouring: match the channels' covariance too; a closer style, a
            little less of the photo; docs/adain.md).
        match: AdaIN: how the decoder's picture is finished: ``"full"`` (the default: its colours, and the
            contrast of its detail at each scale, mapped to the style's distributions), ``"colors"`` (the
            colours only) or ``"none"`` (the decoder's picture as it is). Gatys: None or ``"none"`` (the
            optimisation matches the style itself). docs/adain.md.
        init_match: Gatys with ``init="adain"``: how the AdaIN start is finished, as ``match`` finishes an AdaIN
            picture (None: ``"full"``, the AdaIN default; a matched start reaches a closer style in the same
            evaluations, docs/style-transfer.md). Recipes made before it record none and rerun with ``"none"``.
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        max_pixels: refuse larger input images.
        progress: show a progress bar with the loss.
        should_stop: polled during optimisation; True stops early and keeps the best image so far.
        on_progress: called as ``(done, total)`` function evaluations during optimisation (Gatys).

    Returns:
        StylizeResult with the image and the recipe.

    Raises:
        BrushworkError: bad input (the message says what and how to fix it).
    """
    import torch

    from .. import runtime
    from ..color import match_histograms, transfer_luminance
    from ..color.spaces import from_over_white
    from ..imaging.io import from_tensor, to_tensor
    from ..imaging.resampling import fit_long_side, resize
    from ..models.encoders import ENCODERS
    from ..provenance.recipe import input_sha256 as sha256_file  # (remembers the path for the gallery)
    from .gatys import ADAIN_INIT_OVERRIDES, adain_init_alpha, gatys_config_for, optimize, with_overrides

    tile = checked_tile(tile)
    check_default_dtype()

    if method not in METHODS:
        raise BrushworkError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    if strength is None:
        raise BrushworkError("strength must be a number in [0, 1], got None")
    _check_range("strength", strength, 0.0, 1.0)
    strength = float(strength)
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, numbers.Real) or not max_pixels >= 1:  # (1e8, inf)
        raise BrushworkError(f"max_pixels must be a whole number of pixels (default {DEFAULT_MAX_PIXELS:,}), got "
                             f"{max_pixels!r}")
    for name, fn in (("should_stop", should_stop), ("on_progress", on_progress)):
        if fn is not None and not callable(fn):  # (it failed at the first step, after the models had loaded)
            raise BrushworkError(f"{name} must be a function (or None), got {fn!r}"
                                 + (": pass lambda: True" if isinstance(fn, bool) and name == "should_stop" else ""))
    if preserve_color not in PRESERVE_COLOR:
        raise BrushworkError(f"preserve_color must be one of {', '.join(PRESERVE_COLOR)}, got {preserve_color!r}")
    if init not in ("content", "noise", "adain"):
        raise BrushworkError(f"init must be 'content', 'noise' or 'adain', got {init!r}")
    from ..models.adain import TRANSFORMS

    if transform not in TRANSFORMS:
        raise BrushworkError(f"transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")
    if method != "adain" and transform != "adain":
        raise BrushworkError(f"{flag('--transform', transform)} applies to {flag('--method', 'adain')}: add "
                             f"{flag('--method', 'adain')} or drop {flag('--transform')}")
    from ..color.transport import MATCHES

    if match is not None and match not in MATCHES:
        raise BrushworkError(f"match must be one of {', '.join(MATCHES)}, got {match!r}")
    if method != "adain" and match not in (None, "none"):
        if init == "adain":
            raise BrushworkError(f"{flag('--match', match)} applies to {flag('--method', 'adain')}; the AdaIN start of "
                                 f"{flag('--init', 'adain')} takes {flag('--init-match', match)} (matched by default)")
        raise BrushworkError(f"{flag('--match', match)} applies to {flag('--method', 'adain')} (Gatys matches the style "
                             f"itself): add {flag('--method', 'adain')} or drop {flag('--match')}")
    from .adain import default_match

    match = default_match(method, match)
    check_init_match(method, init, init_match)
    init_match = init_match or "full"
    if decoder is not None and method != "adain" and init != "adain":
        raise BrushworkError(f"{flag('--decoder')} applies to {flag('--method', 'adain')} and to {flag('--init', 'adain')} "
                             f"(the AdaIN start): add one of them or drop {flag('--decoder')}")
    if method == "adain" and init != "content":
        raise BrushworkError(f"{flag('--init', init)} applies to {flag('--method', 'gatys')} (AdaIN has no starting "
                             f"image): drop {flag('--init')}")
    if method == "adain":  # the optimisation's settings: AdaIN is one pass and would ignore them
        for option, value in (("--steps", steps), ("--scales", scales), ("--optimizer", optimizer),
                              ("--content-weight", content_weight), ("--style-weight", style_weight),
                              ("--tv-weight", tv_weight)):
            if value is not None:
                raise BrushworkError(f"{flag(option)} applies to {flag('--method', 'gatys')} (AdaIN is one pass, with no "
                                     f"optimisation to set): drop {flag(option)}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < MIN_SIDE):
        raise BrushworkError(f"{flag('--size')} must be a whole number of at least {MIN_SIDE} pixels, got {size!r}: use "
                             f"{MIN_SIDE} or more")
    size = None if size is None else int(size)
    for name, v in (("seed", seed), ("steps", steps), ("scales", scales)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Integral)):
            raise BrushworkError(f"{name} must be a whole number, got {v!r}")
    seed, steps, scales = (None if v is None else int(v) for v in (seed, steps, scales))
    if seed is not None and not 0 <= seed < 2**64:  # (None: a fresh random seed)
        raise BrushworkError(f"seed must be from 0 to 2**64 - 1, got {seed}")
    if seed is None:  # drawn here, so that the recipe names it and the picture can be made again
        import secrets

        seed = secrets.randbits(63)
    if steps is not None and steps < 1:
        raise BrushworkError(f"steps must be at least 1, got {steps}")
    if scales is not None and not 1 <= scales <= 6:
        raise BrushworkError(f"scales must be between 1 and 6, got {scales}")
    if optimizer is not None and optimizer not in ("lbfgs", "adam"):
        raise BrushworkError(f"optimizer must be lbfgs or adam, got {optimizer!r}")
    for name, v in (("content_weight", content_weight), ("style_weight", style_weight), ("tv_weight", tv_weight)):
        _check_range(name, v, 0.0)
    content_weight, style_weight, tv_weight = (None if v is None else float(v)
                                               for v in (content_weight, style_weight, tv_weight))
    if encoder not in ENCODERS:
        raise BrushworkError(f"unknown encoder {encoder!r}: choose one of {', '.join(ENCODERS)}")
    if content is None or isinstance(content, (int, float, torch.Tensor)):
        raise BrushworkError(f"content must be an image: a path, a PIL image or an (H, W, 3) array, got "
                             f"{type(content).__name__}")
    styles_in = _as_list(style)
    if not styles_in:
        raise BrushworkError("at least one style image is needed")
    if style_weights is not None and (isinstance(style_weights, (str, dict, numbers.Number))
                                      or not hasattr(style_weights, "__len__")):
        raise BrushworkError(f"style_weights must be a list of numbers, one per style, such as [0.7, 0.3], got "
                             f"{style_weights!r}")
    if style_weights is not None:
        if len(style_weights) != len(styles_in):
            raise BrushworkError(
                f"{len(styles_in)} style image(s) but {len(style_weights)} style weight(s): give one weight per style"
            )
        if not all(isinstance(w, numbers.Real) and not isinstance(w, (bool, np.bool_)) for w in style_weights):
            raise BrushworkError(f"style_weights must be numbers such as [0.7, 0.3], got {list(style_weights)!r}")
        style_weights = [float(w) for w in style_weights]  # (numpy numbers too, recorded as plain ones)
        if not all(math.isfinite(w) and w >= 0 for w in style_weights) or sum(style_weights) <= 0:
            raise BrushworkError("style weights must be finite, non-negative and not all zero")
    masks_in = _as_list(masks)
    if masks_in and len(masks_in) != len(styles_in):
        raise BrushworkError(
            f"{len(styles_in)} style image(s) but {len(masks_in)} mask(s): give one mask per style"
        )

    dev = runtime.resolve_device(device)
    tile = default_tile(tile, dev)
    # (read at twice the output's size at least, where that is cheap: a 17.5 MP photo stylized at 512 px held
    # 0.9 GB of full-size float copies and took 0.75 s more to read; the picture is resampled to the output anyway)
    c_img = read_image(content, max_pixels=max_pixels, min_side=MIN_SIDE, what="content image",
                       draft=None if size is None else 2 * size)
    s_imgs = [read_style(s, max_pixels=max_pixels) for s in styles_in]
    m_imgs: list[LoadedImage | None] = [
        None if m is None else read_image(m, max_pixels=max_pixels, min_side=2, what="mask image")
        for m in masks_in
    ]

    if c_img.alpha is not None and not (c_img.alpha > 0).any():
        raise ImageError(f"content image '{c_img.source}' is fully transparent: there is nothing to paint; use an "
                             "image with visible pixels")
    if preserve_color in ("stats", "palette") and c_img.alpha is not None and not (c_img.alpha >= 0.5).any():
        raise ImageError(f"content image '{c_img.source}' has no pixel at least half opaque to take colours from "
                             f"for --preserve-color {preserve_color}: use luminance, or an image with visible pixels")
    cw, ch = c_img.picture_size  # (the photo's own size: a reduced read's is smaller)
    out_w, out_h = (cw, ch) if size is None else fit_long_side(cw, ch, size)
    if min(out_w, out_h) < MIN_SIDE:
        at = hint("--size", f"at --size {size}", f"at size={size}") or f"at {size} px"
        fix = hint("--size", "raise --size or crop", "raise size or crop") or "crop"
        # (an ImageError naming the picture: a folder run skips it and goes on; it stopped there, every rerun too)
        raise ImageError(f"content image '{c_img.source}': {at} the output would be {out_w}x{out_h} pixels: its short "
                         f"side must be at least {MIN_SIDE}; {fix} the picture to a less extreme shape")
    if out_w * out_h > max_pixels:
        raise ImageError(
            f"content image '{c_img.source}': output {out_w}x{out_h} exceeds "
            + (hint("--max-pixels", f"--max-pixels {max_pixels}: lower --size or raise --max-pixels")
               or f"max_pixels {max_pixels}: lower size or raise max_pixels"))
    if method == "gatys" and dev.type == "cpu":
        _check_gatys_memory(out_w, out_h, size, c_img.source)
    weights_key = None if weights is None else str(weights)  # hashable, for the model cache
    start_net = None  # Gatys with init="adain": the network of its start (none at strength 0: nothing is optimised)
    if method == "adain":
        from ..models.adain import AdaINNet

        dec = _cached_decoder(None if decoder is None else str(decoder), dev)
        if encoder != dec.config.encoder and encoder != "efficientnet-lite0":
            raise BrushworkError(
                f"this decoder was trained on {dec.config.encoder} features, not {encoder}: drop --encoder "
                "or give a --decoder trained for that encoder"
            )
        encoder = dec.config.encoder
        net = AdaINNet(_cached_encoder(encoder, weights_key, dev, allow_download, trust_weights), dec)
        style_side = min(max(out_w, out_h), ADAIN_STYLE_MAX_SIDE)
    else:
        net = _cached_encoder(encoder, weights_key, dev, allow_download, trust_weights)
        spec = ENCODERS[encoder]
        if init == "adain":  # a stylized start needs one scale and few steps (unless asked otherwise)
            steps = ADAIN_INIT_OVERRIDES["steps"] if steps is None else steps
            scales = ADAIN_INIT_OVERRIDES["scales"] if scales is None else scales
        config = with_overrides(
            gatys_config_for(encoder, spec.style_taps, spec.content_taps),
            steps=steps, scales=scales, optimizer=optimizer, content_weight=content_weight,
            style_weight=style_weight, tv_weight=tv_weight,
        )
        style_side = max(out_w, out_h)
        if init == "adain" and strength > 0:  # the start: the AdaIN picture (its decoder's encoder: Lite0 if shipped)
            from ..models.adain import AdaINNet

            dec = _cached_decoder(None if decoder is None else str(decoder), dev)
            start_enc = net if dec.config.encoder == encoder else _cached_encoder(
                dec.config.encoder, None, dev, allow_download, trust_weights)
            start_net = AdaINNet(start_enc, dec)

    c_t = c_over_white = resize(to_tensor(c_img.rgb, dev), (out_w, out_h))
    if c_img.alpha is not None:
        c_t = painted_colours(c_t, c_img.alpha_tensor((out_w, out_h), dev))
    s_ts, s_as = [], []  # the styles at their working size, and their alphas (None: opaque)
    photo_colours = c_img.rgb  # what the styles' histograms go to: the colours painted (see c_t above)
    if preserve_color == "histogram" and c_img.alpha is not None:
        opaque = c_img.alpha >= 0.5
        own = from_over_white(c_img.rgb, c_img.alpha)
        photo_colours = own[opaque][None] if opaque.any() else c_img.rgb  # (1, N, 3): its opaque pixels' own colours
    for s in s_imgs:
        rgb = s.rgb
        if preserve_color == "histogram" and s.alpha is not None:  # the drawing's colours, not its backdrop's
            shown = s.alpha >= 0.5  # (the white backdrop took the photo's light quantiles: a darkened drawing)
            own = from_over_white(s.rgb, s.alpha)
            own[shown] = match_histograms(own[shown][None], photo_colours)[0]
            rgb = (own * s.alpha[..., None] + (1.0 - s.alpha[..., None])).astype(np.float32)  # (over white again)
        elif preserve_color == "histogram":
            rgb = match_histograms(rgb, photo_colours).astype(np.float32)
        sw_, sh_ = fit_long_side(*s.size, style_side)
        s_ts.append(resize(to_tensor(rgb, dev), (sw_, sh_)))
        s_as.append(None if s.alpha is None else s.alpha_tensor((sw_, sh_), dev).clamp(0, 1))
    notes: list[str] = []
    m_ts: list[torch.Tensor | None] = []
    for m in m_imgs:
        if m is None:
            m_ts.append(None)
            continue
        if m.size != c_img.picture_size:
            notes.append(f"mask '{m.source}' is {m.size[0]}x{m.size[1]}, the content {cw}x{ch}: resized to fit")
        # white applies the style; a see-through pixel counts by its own colour (not as it looks over white) and alpha
        grey = m.rgb.mean(axis=2) if m.alpha is None else from_over_white(m.rgb, m.alpha).mean(axis=2) * m.alpha
        if 0 < float(grey.max()) <= 1.5 / 255:  # only 0 and 1 (of 255): a 0/1 label map, as numpy saves one
            grey = grey * 255.0
            notes.append(f"mask '{m.source}' holds only 0 and 1 (of 255): read as black and white")
        mt = torch.from_numpy(np.ascontiguousarray(grey))[None, None].to(dev, torch.float32)
        # (antialiased, as the photo is: a mask at the photo's full size painted with fine detail was point-sampled)
        m_ts.append(torch.nn.functional.interpolate(mt, size=(out_h, out_w), mode="bilinear", align_corners=False,
                                                    antialias=True).clamp(0, 1))

    # A mask is the styled picture's opacity over the photo, as a layer mask in an image editor: where masks cover
    # a pixel the styles are painted at full strength (mixed in proportion to their masks and weights), and the
    # paste-back below fades them by the cover. Handing AdaIN the masks as they are would fade a grey pixel twice,
    # once in the features and again at the paste-back (a 50 % grey mask gave a quarter of the style).
    cover = None
    paint_masks = None  # (every mask '-': the styles everywhere, as with no masks)
    if masks_in and any(m is not None for m in m_ts):
        cover = torch.zeros_like(c_t[:, :1])
        for i, m in enumerate(m_ts):
            if style_weights is None or style_weights[i] > 0:
                cover = cover + (torch.ones_like(cover) if m is None else m)
        paint_masks = [torch.where(cover > 0, (torch.ones_like(cover) if m is None else m) / cover.clamp_min(1e-12),
                                   0.0).clamp(0, 1) for m in m_ts]  # a '-' (everywhere) too: the mix keeps its ratios
        most = float(cover.max())
        if most <= 0:  # (minutes of work for the photo as it is)
            raise BrushworkError("the masks (of the styles with a weight) cover no pixel, so the picture would be the "
                                 "photo as it is: paint white where a style should go")
        if most < 0.05:
            notes.append(f"the masks cover at most {most:.1%} of any pixel, so the picture is nearly the photo (paint "
                         "white where a style should go)")

    bar = None
    if progress and (method == "gatys" or (tile is not None and max(out_w, out_h) > tile)):
        from tqdm.auto import tqdm

        # (off when not a TTY; AdaIN's counts its tiles: a picture of many, 8000 px, took 2.5 minutes in silence)
        bar = tqdm(total=1, unit="eval" if method == "gatys" else "tile", desc="stylize", leave=False, disable=None)

    def on_tile(done: int, total: int) -> None:
        if bar is not None:
            bar.total, bar.n = total, done
            bar.refresh()

    def on_step(done: int, total: int, loss: float) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
            bar.refresh()
        if on_progress is not None:
            on_progress(done, total)

    gen = runtime.make_generator(seed, "cpu")
    torch_threads = torch.get_num_threads()

    def finish(picture: torch.Tensor, how: str, alpha: float) -> torch.Tensor:
        """An AdaIN picture finished with the styles' colours and detail (``match``): each style's from its
        opaque pixels, matched on the photo's."""
        if how == "none":
            return picture
        from ..color.transport import style_target
        from .adain import match_styles

        targets = [_style_memo("target", (), (t, a), max(t.shape[-2:]) / max(li.size),
                               lambda t=t, a=a, li=li: style_target(t, where=a, enlarged=max(t.shape[-2:]) / max(li.size)))
                   for t, a, li in zip(s_ts, s_as, s_imgs)]
        return match_styles(picture, s_ts, match=how, alpha=alpha, style_weights=style_weights,
                            masks=paint_masks, targets=targets,
                            opaque=c_img.alpha_tensor((out_w, out_h), dev))[0]

    t0 = time.perf_counter()
    try:
        if method == "adain":
            from .adain import adain_transfer

            out_t = adain_transfer(net, c_t, s_ts, alpha=strength, style_weights=style_weights,
                                   masks=paint_masks, tile=tile, transform=transform, on_tile=on_tile,
                                   style_stats=[_style_memo("stats", (net.encoder, net.decoder), (t, a), transform,
                                                            lambda t=t, a=a: net.stats(t, transform, where=a))
                                                for t, a in zip(s_ts, s_as)])
            out_t = finish(out_t, match, strength)
            info = {"losses": [], "evaluations": 0, "interrupted": False,
                    "config": {"decoder": net.decoder.config.to_dict(), "tile": tile, "transform": transform,
                               "match": match}}
        else:
            start: str | torch.Tensor = "content" if init == "adain" else init
            if start_net is not None:
                from .adain import adain_transfer

                start = adain_transfer(start_net, c_t, s_ts, alpha=adain_init_alpha(strength),
                                       style_weights=style_weights, masks=paint_masks, tile=tile,
                                       style_stats=[start_net.stats(t, where=a) for t, a in zip(s_ts, s_as)])
                start = finish(start, init_match, adain_init_alpha(strength))
            out_t, info = optimize(
                net, c_t, s_ts, config=config, strength=strength, style_weights=style_weights,
                masks=m_ts if masks_in else None, style_alphas=s_as, init=start, generator=gen,
                on_step=on_step if bar is not None or on_progress is not None else None,
                should_stop=should_stop,
            )
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0

    alpha = None
    if c_img.alpha is not None:
        alpha = c_img.alpha_tensor((out_w, out_h))[0, 0].numpy()
    out = from_tensor(out_t)
    del out_t  # (a whole picture in floats: 0.7 GiB at 8000 px)
    # the photo in floats, only where it is used (it was made every time: another whole picture)
    photo = from_tensor(c_t) if preserve_color in ("luminance", "stats", "palette") or (
        alpha is None and (cover is not None or (method == "gatys" and strength == 0))) else None
    if preserve_color == "luminance":
        out = transfer_luminance(out, photo)
    elif preserve_color in ("stats", "palette"):
        from ..color.recolor import recolor

        if alpha is None:
            out = recolor(out, method=preserve_color, reference=photo, seed=seed)
        else:  # recolor takes pictures as they look over white, and estimates the colours of the opaque pixels only
            a = alpha[..., None]
            out = from_over_white(recolor(out * a + (1 - a), method=preserve_color, reference=photo * a + (1 - a),
                                          seed=seed, alpha=alpha, reference_alpha=alpha), alpha)
    # Painted pixels are written as painted, in the photo's own colours; the photo's pixels that stay (no mask of a
    # style with a weight covers them, or Gatys at strength 0 returns the photo) get its own colours back exactly.
    keep = None
    if method == "gatys" and strength == 0:
        keep = np.ones(out.shape[:2] + (1,), np.float32)
    elif cover is not None:  # after the colours: where no mask (of a style with a weight) covers a pixel, the
        keep = 1 - from_tensor(cover.clamp(0, 1))  # content stays; a grey mask lets that much of the photo through
    if keep is not None:
        own = photo if alpha is None else from_over_white(from_tensor(c_over_white), alpha)
        out = (1 - keep) * out + keep * own
    image = to_pil(out, alpha)

    def _src(x: Any, loaded: LoadedImage) -> dict[str, Any]:
        src = loaded.source  # a relative path as given; an absolute one may name the user: its file name only
        d: dict[str, Any] = {"source": Path(src).name if os.path.isabs(src) else src}
        if isinstance(x, (str, os.PathLike)):
            d["sha256"] = sha256_file(x)
        return d

    params = {
        "operation": "stylize",
        "method": method,
        "content": _src(content, c_img),
        "styles": [_src(s, li) for s, li in zip(styles_in, s_imgs)],
        "masks": [None if m is None else _src(m, li) for m, li in zip(masks_in, m_imgs)] if masks_in else None,
        "strength": strength,
        "style_weights": list(style_weights) if style_weights is not None else None,
        "size": [out_w, out_h],
        "preserve_color": preserve_color,
        "init": init,
        **({"init_decoder": {"config": start_net.decoder.config.to_dict(), **_weights_sha256(start_net)},
            "init_match": init_match} if start_net is not None else {}),
        "seed": seed,
        "encoder": encoder,
        "weights_sha256": _weights_sha256(net),
        method: info["config"],
        "evaluations": info["evaluations"],
        **({"interrupted": True} if info["interrupted"] else {}),  # stopped early: its command would run on
        "device": str(dev),
        "dtype": "float32",
        "torch": torch.__version__,
        "threads": torch_threads,
        "machine": platform.machine(),
        "brushwork": __import__("brushwork").__version__,
    }
    given = [content, *styles_in, *masks_in]
    return StylizeResult(image=image, params=params, losses=info["losses"], seconds=seconds,
                         interrupted=info["interrupted"], notes=notes,
                         inputs=[os.path.abspath(f) for f in given if isinstance(f, (str, os.PathLike))])
