"""The project's exceptions. Each message is one line that names the problem and the fix."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterable, Iterator

#: the options of the CLI command being run (None: called from Python), for messages that name a fix
_OPTIONS: contextvars.ContextVar[frozenset[str] | None] = contextvars.ContextVar("brushwork_cli_options", default=None)


class BrushworkError(ValueError):
    """A user-facing problem: bad input, a missing file, wrong weights.

    The CLI prints ``str(error)`` on one line and exits with code 2; it never shows a traceback for
    these. Subclassing ``ValueError`` keeps ``except ValueError`` working for API users.
    """


class ImageError(BrushworkError):
    """An image could not be read, is too small or too large, or could not be written."""


class WeightsError(BrushworkError):
    """Model weights are missing, corrupt, or of the wrong architecture."""


def list_items(text: str, what: str, example: str, *, spaces: bool = False) -> list[str]:
    """The items of a comma-separated list as people write them (``spaces``: separated by spaces too, as in
    ``'#f00 #0f0'``); a comma at either end is fine, an empty item between two is refused (``0,,3``: a value left
    out).

    Raises:
        BrushworkError: an empty item between commas.
    """
    parts = [t.strip() for t in text.strip().strip(",").split(",")]
    if len(parts) > 1 and not all(parts):
        raise BrushworkError(f"{what} {text!r} has an empty item between two commas: give the missing value or remove "
                             f"the comma (e.g. {example})")
    return [t for p in parts for t in (p.split() if spaces else [p]) if t]


@contextlib.contextmanager
def command_options(options: Iterable[str] | None) -> Iterator[None]:
    """Within it, :func:`hint` knows the running CLI command's options (``main`` sets them); None: none runs (the
    studio's requests, served from within `brushwork serve`, speak as the API does)."""
    token = _OPTIONS.set(None if options is None else frozenset(options))
    try:
        yield
    finally:
        _OPTIONS.reset(token)


def hint(option: str, cli: str, api: str = "") -> str:
    """``cli`` where the running command has ``option`` (``" or raise --max-pixels"``), ``api`` when called from
    Python, else nothing: a message never names an option its command lacks."""
    options = _OPTIONS.get()
    if options is None:
        return api
    return cli if option in options else ""


def tilde(path: object) -> str:
    """Advice for a path that starts with ``~`` (a shell expands it, Python's file functions do not), else ``""``."""
    return (": '~' is your home folder only to a shell: pass os.path.expanduser(path)"
            if str(path).startswith("~") else "")


def flag(option: str, value: object = None) -> str:
    """An option as the running command spells it (``--init-match colors``), or as the argument it is in Python and
    the studio (``init_match='colors'``): a message names what its reader typed."""
    if _OPTIONS.get() is not None:
        return option if value is None else f"{option} {value}"
    name = option.lstrip("-").replace("-", "_")
    return name if value is None else f"{name}={value!r}"
