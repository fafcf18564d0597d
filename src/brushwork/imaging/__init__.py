"""Image I/O and resizing. Tensors are float ``(B, 3, H, W)`` RGB in [0, 1].

Everything here is imported on first use: ``imaging.decode`` needs only Pillow (so a command can
decode in a thread while numpy imports), ``imaging.io`` numpy and Pillow (torch-free commands such as
palette and compose use it), ``resize`` and ``fit_long_side`` (``imaging.resampling``) torch.
"""

_IO = ("LoadedImage", "check_output_path", "from_tensor", "read_image", "save_image", "to_tensor")

__all__ = [*_IO, "fit_long_side", "resize"]


def __getattr__(name: str):
    if name in _IO:
        from . import io

        return getattr(io, name)
    if name in ("fit_long_side", "resize"):
        from . import resampling

        return getattr(resampling, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
