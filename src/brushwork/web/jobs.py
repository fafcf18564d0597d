"""A bounded job queue for the long operations of the web service (stylize): a fixed number of worker
threads, a fixed number of waiting jobs (the API answers 429 beyond it), progress, cancellation.

Finished results live in files and in the gallery, so a restart loses only the in-memory job records,
never a finished picture.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Job", "JobQueue", "QueueFull", "Cancelled"]


class QueueFull(Exception):
    """Every worker is busy and the waiting line is full."""


def one_line(message: str, limit: int = 300) -> str:
    """An error as one line of at most ``limit`` characters: it may quote what the user sent."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in message).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Cancelled(Exception):
    """Raised inside a job's work when its cancellation was asked for."""


@dataclass
class Job:
    """One unit of work and what the API reports about it."""

    kind: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    status: str = "queued"  # queued, running, done, failed, cancelled
    progress: float = 0.0
    message: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    finished: float | None = None
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _version: int = 0

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def update(self, **changes: Any) -> None:
        with self._changed:
            for k, v in changes.items():
                setattr(self, k, v)
            self._version += 1
            self._changed.notify_all()

    def wait_change(self, seen: int, timeout: float) -> int:
        """Block until the job changes after version ``seen`` (or ``timeout``); returns the version."""
        with self._changed:
            self._changed.wait_for(lambda: self._version != seen, timeout=timeout)
            return self._version

    @property
    def done(self) -> bool:
        return self.status in ("done", "failed", "cancelled")

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "status": self.status, "progress": round(self.progress, 4),
                "message": self.message, "result": self.result, "created": self.created, "finished": self.finished}


class JobQueue:
    """``workers`` threads and at most ``max_waiting`` jobs waiting for one.

    Args:
        workers: jobs run at once (each may use several threads inside torch).
        max_waiting: jobs accepted beyond the running ones; :meth:`submit` raises :class:`QueueFull` past it.
        keep: finished job records kept in memory (oldest dropped first).
    """

    def __init__(self, workers: int = 1, max_waiting: int = 8, keep: int = 500) -> None:
        self.workers, self.max_waiting, self.keep = workers, max_waiting, keep
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="brushwork-job")
        self._jobs: dict[str, Job] = {}
        self._futures: dict[str, Any] = {}
        self._lock = threading.RLock()

    def active(self) -> int:
        with self._lock:
            return sum(1 for j in list(self._jobs.values()) if not j.done)

    def full(self) -> bool:
        """Whether :meth:`submit` would refuse a job now."""
        return self.active() >= self.workers + self.max_waiting

    def submit(self, kind: str, work: Callable[[Job], dict[str, Any]]) -> Job:
        """Queue ``work(job) -> result dict``; it may call ``job.update(progress=...)`` and should raise
        :class:`Cancelled` when ``job.cancel_requested``."""
        with self._lock:
            if self.full():
                raise QueueFull
            job = Job(kind)
            self._jobs[job.id] = job
            self._futures[job.id] = self._pool.submit(self._run, job, work)
            self._forget_old()
        return job

    def _run(self, job: Job, work: Callable[[Job], dict[str, Any]]) -> None:
        if job.cancel_requested:
            job.update(status="cancelled", message="cancelled before it started", finished=time.time())
            return
        job.update(status="running")
        try:
            result = work(job)
        except Cancelled:
            job.update(status="cancelled", message="cancelled", finished=time.time())
        except Exception as exc:  # noqa: BLE001 - reported to the client as the job's failure
            from ..errors import BrushworkError

            msg = one_line(str(exc)) if isinstance(exc, BrushworkError) else f"internal error ({type(exc).__name__})"
            job.update(status="failed", message=msg, finished=time.time())
        else:
            job.update(status="done", progress=1.0, result=result, finished=time.time())

    def _forget_old(self) -> None:
        finished = sorted((j for j in self._jobs.values() if j.done), key=lambda j: j.finished or 0)
        for j in finished[: max(0, len(finished) - self.keep)]:
            self._jobs.pop(j.id, None)
            self._futures.pop(j.id, None)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def cancel(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            fut = self._futures.get(job_id)
        if job is None:
            return None
        job._cancel.set()
        if fut is not None and fut.cancel():  # never started: it will not run
            job.update(status="cancelled", message="cancelled before it started", finished=time.time())
        return job

    def cancel_all(self) -> None:
        """Ask every unfinished job to stop (without waiting): their progress streams then end."""
        with self._lock:
            jobs = list(self._jobs.values())
        for j in jobs:
            if not j.done:
                j._cancel.set()

    def shutdown(self) -> None:
        self.cancel_all()
        self._pool.shutdown(wait=True, cancel_futures=True)
