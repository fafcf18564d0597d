"""Image I/O and resizing. Tensors are float ``(B, 3, H, W)`` RGB in [0, 1]."""

from .io import (
    LoadedImage,
    check_output_path,
    from_tensor,
    read_image,
    save_image,
    to_tensor,
)
from .resize import fit_long_side, resize

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
