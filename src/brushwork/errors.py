"""The project's exceptions. Each message is one line that names the problem and the fix."""

from __future__ import annotations


class BrushworkError(ValueError):
    """A user-facing problem: bad input, a missing file, wrong weights.

    The CLI prints ``str(error)`` on one line and exits with code 2; it never shows a traceback for
    these. Subclassing ``ValueError`` keeps ``except ValueError`` working for API users.
    """


class ImageError(BrushworkError):
    """An image could not be read, is too small or too large, or could not be written."""


class WeightsError(BrushworkError):
    """Model weights are missing, corrupt, or of the wrong architecture."""
