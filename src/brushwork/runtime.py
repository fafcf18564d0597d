"""Device resolution, seeding and autocast: the only place that picks a device."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from .errors import BrushworkError

__all__ = ["resolve_device", "make_generator", "autocast", "resolve_dtype", "interrupts_deferred"]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"`` into a usable device.

    ``"auto"`` (or ``None``) prefers CUDA, then Apple's MPS, then the CPU. Asking for a device that
    is not present is a :class:`BrushworkError`, not a silent fallback.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise BrushworkError(
            f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BrushworkError("device 'cuda' was asked for but no CUDA GPU is available: use --device cpu")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise BrushworkError("device 'mps' was asked for but MPS is not available: use --device cpu")
    return dev


def available_memory() -> int | None:
    """Bytes of memory the system can give without swapping (Linux's ``MemAvailable``); None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def make_generator(seed: int | None, device: torch.device | str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed`` (a fresh random seed when None).

    All randomness in brushwork flows through such a generator, never the global RNG, so the same
    seed, inputs and device give the same output.
    """
    gen = torch.Generator(device=torch.device(device))
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(wrap_seed(seed))
    return gen


def wrap_seed(seed: int) -> int:
    """``seed`` folded into torch's seed range [0, 2**64): seeds derived from a user's (``seed + 1``, ``seed +
    7919 * step``) may pass its top."""
    return int(seed) % 2**64


_DTYPES = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16,
           "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}


def resolve_dtype(precision: str) -> torch.dtype:
    """Map ``"fp32"``, ``"bf16"`` or ``"fp16"`` to a torch dtype."""
    try:
        return _DTYPES[precision]
    except KeyError:
        raise BrushworkError(
            f"unknown precision {precision!r}: use one of fp32, bf16, fp16"
        ) from None


@contextlib.contextmanager
def autocast(device: torch.device, precision: str = "fp32") -> Iterator[None]:
    """Mixed-precision context for ``device``; ``"fp32"`` is a no-op (and always works on the CPU)."""
    dtype = resolve_dtype(precision)
    if dtype == torch.float32:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


@contextlib.contextmanager
def interrupts_deferred(what: str = "step") -> Iterator[None]:
    """Ctrl-C waits until the block is done, then stops as usual: a training step, or a frame handed to ffmpeg,
    is whole or not begun when a run stops and saves its state. The first Ctrl-C says so ("stopping after this
    ``what``"); a second one stops at once. An error raised in the block is not replaced. In the main thread only
    (where Python handles signals), and a no-op inside another such block or under another SIGINT handler."""
    import signal
    import sys
    import threading

    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is not \
            signal.default_int_handler:
        yield
        return
    got: list[int] = []

    def later(signum, frame) -> None:
        if got:  # asked twice: now
            raise KeyboardInterrupt
        got.append(signum)
        sys.stderr.write(f"\nbrushwork: stopping after this {what} (Ctrl-C again to stop now)\n")

    signal.signal(signal.SIGINT, later)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if got:
        raise KeyboardInterrupt
