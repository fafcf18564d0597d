"""brushwork: neural tools for artists, offline on your own machine.

Importing the package is cheap: torch and the models load only when a function that needs them is
called. The public API::

    import brushwork
    result = brushwork.stylize("photo.jpg", "painting.jpg", strength=0.7)
    result.image.save("out.png")
"""

from __future__ import annotations

from typing import Any

__version__ = "0.2.5"

__all__ = ["__version__", "stylize", "BrushworkError"]

from .errors import BrushworkError


def __getattr__(name: str) -> Any:
    # Lazy so that `import brushwork` (and `brushwork --help`) never imports torch.
    if name == "stylize":
        from .pipelines.stylize import stylize

        return stylize
    raise AttributeError(f"module 'brushwork' has no attribute {name!r}")
