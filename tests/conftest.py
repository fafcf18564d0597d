"""Shared fixtures: small real images (the bundled samples, downscaled) and synthetic ones."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from brushwork.pipelines.stylize import sample_path

# Outputs made by tests stay out of the user's gallery; the gallery tests point it at a temporary file.
os.environ["BRUSHWORK_GALLERY"] = "off"


@pytest.fixture(autouse=True)
def _quiet_torch():
    torch.set_num_threads(min(2, torch.get_num_threads()))
    yield


@pytest.fixture(scope="session")
def content_path() -> Path:
    return sample_path("content")


@pytest.fixture(scope="session")
def style_path() -> Path:
    return sample_path("style")


@pytest.fixture
def small_images(tmp_path: Path) -> tuple[Path, Path]:
    """The bundled photo and painting downscaled to 96 px (long side)."""
    out = []
    for name in ("content", "style"):
        im = Image.open(sample_path(name)).convert("RGB")
        im.thumbnail((96, 96))
        p = tmp_path / f"{name}.png"
        im.save(p)
        out.append(p)
    return out[0], out[1]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def lite0():
    from brushwork.weights import load_encoder

    return load_encoder("efficientnet-lite0")


@pytest.fixture(scope="session")
def random_decoder_dir(tmp_path_factory):
    """A saved AdaIN decoder with seeded random weights (for plumbing, not for looks)."""
    from brushwork.models.adain import Decoder, DecoderConfig
    from brushwork.training.engine import save_model

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("dec")
    save_model(Decoder(), {"decoder": DecoderConfig().to_dict()}, folder)
    return folder
