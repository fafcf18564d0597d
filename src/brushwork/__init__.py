"""brushwork: neural tools for artists, offline on your own machine.

Importing the package is cheap: torch and the models load only when a function that needs them is
called. The public API::

    import brushwork
    result = brushwork.stylize("photo.jpg", "painting.jpg", strength=0.7)
    result.save("out.png")  # with its recipe and the watermark (result.image is the PIL image)
"""

from __future__ import annotations

__version__ = "0.2.11"

__all__ = ["__version__", "stylize", "StylizeResult", "BrushworkError"]

from .errors import BrushworkError


def __getattr__(name: str) -> object:
    # Lazy so that `import brushwork` (and `brushwork --help`) never imports torch (nor typing: a Ctrl-C in
    # the console script's first milliseconds, before brushwork.console answers it, prints a traceback).
    if name in ("stylize", "StylizeResult"):
        from .pipelines import stylize as module

        return getattr(module, name)
    raise AttributeError(f"module 'brushwork' has no attribute {name!r}")


def __dir__() -> list[str]:  # (tab completion and help() list the lazy names too)
    return sorted({*globals(), *__all__})
