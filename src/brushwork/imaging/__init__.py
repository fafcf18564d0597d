"""Image I/O and resizing. Tensors are float ``(B, 3, H, W)`` RGB in [0, 1].

``imaging.io`` needs only numpy and Pillow, so torch-free commands (palette, compose) can use it;
``resize`` and ``fit_long_side`` (``imaging.resampling``, torch) are imported on first use.
"""

from .io import (
    LoadedImage,
    check_output_path,
    from_tensor,
    read_image,
    save_image,
    to_tensor,
)

__all__ = [
    "LoadedImage",
    "check_output_path",
    "fit_long_side",
    "from_tensor",
    "read_image",
    "resize",
    "save_image",
    "to_tensor",
]


def __getattr__(name: str):
    if name in ("fit_long_side", "resize"):
        from . import resampling

        return getattr(resampling, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
