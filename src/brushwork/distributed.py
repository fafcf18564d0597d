"""Running on several processes: PyTorch DDP under torchrun, on CPUs (gloo) or GPUs (nccl).

Nothing here starts processes: ``torchrun --nproc-per-node N -m brushwork ...`` does, and sets
``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; brushwork reads them. Without torchrun every function is
a no-op for one process, so the same code runs either way.

The rules the training recipes follow:

- every process draws the same *global* batch from the same seeded generator and trains on its own
  slice of it (``shard_batch``), and DDP averages the gradients: the global batch and the seed give the
  same weights as one process (up to the order of floating-point sums);
- only rank 0 writes (checkpoints, logs, sample grids, the gallery) and prints progress;
- checkpoints hold the unwrapped model and are the same for any number of processes, so a run can
  resume on a different number of them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where it is used: info() and shard_list() serve torch-free commands
    import torch
    from torch import nn

__all__ = ["DistInfo", "info", "setup", "device_for", "is_main", "barrier", "wrap", "unwrap", "shard_batch",
           "shard_list", "global_sum", "global_mean", "any_flags", "any_true", "cleanup", "exit_process"]


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def info() -> DistInfo:
    """This process's place, from torchrun's environment (one process when it is not set)."""
    try:
        return DistInfo(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                        int(os.environ.get("LOCAL_RANK", 0)))
    except ValueError:
        return DistInfo()


def _initialized() -> bool:
    import sys

    if "torch" not in sys.modules:  # nothing can have started a process group without torch
        return False
    import torch

    return torch.distributed.is_available() and torch.distributed.is_initialized()


def setup(device: torch.device) -> DistInfo:
    """Join the process group when launched by torchrun (gloo on CPUs, nccl on CUDA GPUs; each process
    on GPU ``LOCAL_RANK``). Returns this process's :class:`DistInfo`."""
    import torch

    d = info()
    if not d.distributed or _initialized():
        return d
    if device.type == "cuda":
        torch.cuda.set_device(d.local_rank)
    torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return d


def device_for(device: torch.device) -> torch.device:
    """The device this process should use: its own GPU under torchrun on CUDA."""
    import torch

    d = info()
    if d.distributed and device.type == "cuda":
        return torch.device("cuda", d.local_rank)
    return device


def is_main() -> bool:
    return info().rank == 0


def barrier() -> None:
    if _initialized():
        import torch

        torch.distributed.barrier()


def wrap(model: nn.Module, **kwargs: Any) -> nn.Module:
    """``DistributedDataParallel(model)`` when running under torchrun, else ``model`` itself."""
    import torch

    if not _initialized() or torch.distributed.get_world_size() == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP

    dev = next(model.parameters()).device
    return DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None, **kwargs)


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (what checkpoints hold)."""
    return model.module if type(model).__name__ == "DistributedDataParallel" else model


def shard_batch(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """This process's contiguous slice of a global batch (every process holds the same global batch).

    The global batch size must divide evenly: unequal slices would weight the processes' gradients
    unequally when DDP averages them.
    """
    d = info()
    if not d.distributed:
        return tensors
    n = len(tensors[0])
    if n % d.world_size:
        from .errors import BrushworkError

        raise BrushworkError(f"the batch of {n} does not split evenly over {d.world_size} processes: choose a "
                             f"--batch that is a multiple of {d.world_size}")
    per = n // d.world_size
    return tuple(t[d.rank * per:(d.rank + 1) * per] for t in tensors)


def shard_list(items: list, key=str) -> list:
    """This process's share of ``items`` (a folder's files): those whose ``key`` hashes to this rank.

    By a hash of each item's key, not its place in a listing, so processes agree even when their
    listings differ (a file added mid-run). SHA-1, not CRC32: CRC32's low bits follow names that differ
    in one character too closely to split ``0.png``..``4.png`` evenly.
    """
    import hashlib

    d = info()
    if not d.distributed:
        return items
    return [it for it in items
            if int.from_bytes(hashlib.sha1(key(it).encode()).digest()[:8], "big") % d.world_size == d.rank]


def global_sum(x: torch.Tensor) -> torch.Tensor:
    """The sum of ``x`` over all processes (no gradient): e.g. the denominator of a relative loss, so
    that each process's share adds up to the global batch's ratio."""
    x = x.detach().clone()
    if _initialized():
        import torch

        torch.distributed.all_reduce(x, op=torch.distributed.ReduceOp.SUM)
    return x


def _collective_device():
    """Where a collective's small tensor must live: the process's GPU under NCCL, else the CPU."""
    import torch

    return torch.device("cuda", torch.cuda.current_device()) if torch.distributed.get_backend() == "nccl" else "cpu"


def global_mean(values: list[float]) -> list[float]:
    """Each value averaged over all processes (one collective): e.g. the loss each process logs, so that the
    log describes the whole batch, as one process's would."""
    if not _initialized() or not values:
        return list(values)
    import torch

    dev = _collective_device()
    t = torch.tensor(values, dtype=torch.float64, device=dev)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.SUM)
    return (t / torch.distributed.get_world_size()).tolist()


def any_flags(*flags: bool) -> tuple[bool, ...]:
    """Each flag True on every process when any process says True (one collective for all of them):
    e.g. early stopping decided on rank 0, or a failure on one process."""
    if not _initialized():
        return tuple(bool(f) for f in flags)
    import torch

    dev = _collective_device()
    t = torch.tensor([1 if f else 0 for f in flags], dtype=torch.int32, device=dev)
    torch.distributed.all_reduce(t, op=torch.distributed.ReduceOp.MAX)
    return tuple(bool(v) for v in t.tolist())


def main_then_share(fn: Callable[[], Any]) -> None:
    """Run ``fn`` (file work: clearing an old run's files, opening a log) on rank 0 only, then tell every process
    whether it failed: the others raise too, instead of waiting in the next collective for a process that has
    left (one process: ``fn`` runs, and its error is raised as it is)."""
    failure: BaseException | None = None
    if is_main():
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised below, after telling the others
            failure = exc
    if _initialized() and any_true(failure is not None) and failure is None:
        from .errors import BrushworkError

        raise BrushworkError("the main process (rank 0) stopped (its message is above)")
    if failure is not None:
        raise failure


def any_true(flag: bool) -> bool:
    """True on every process when any process says True."""
    return any_flags(flag)[0]


def cleanup() -> bool:
    """Leave the process group; returns whether there was one. (No barrier: a process leaving after an
    error must not wait for the others, which are elsewhere; they fail at once when it has gone.)"""
    if not _initialized():
        return False
    import torch

    torch.distributed.destroy_process_group()
    return True


def exit_process(code: int) -> None:
    """End a torchrun worker whose work is done: leave the group, flush, and exit without the
    interpreter's finalisation. During that finalisation gloo's threads sometimes abort the process
    ("terminate called without an active exception", SIGABRT) after a run that finished, about one run
    in ten on 2 cores, so torchrun reported a failure for finished work. ``atexit`` handlers do not run:
    close your own files and loggers first."""
    import sys

    cleanup()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
