"""The ``brushwork`` console script: :func:`brushwork.cli.main`, with Ctrl-C answered in one line wherever it comes.

``main`` answers a Ctrl-C during a command itself. This wrapper, imported before the CLI's own modules, also
answers one during those imports (the first tenth of a second) and a second Ctrl-C while the first is being
answered or the interpreter shuts down (torch's exit handlers): each printed a traceback.
"""

from __future__ import annotations

import os
import signal
import sys

EXIT_INTERRUPTED = 130  # (as brushwork.cli's; not imported from there: a Ctrl-C may come before it is)


def _stopping() -> None:
    """Ignore further Ctrl-C: the process is on its way out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _interrupted() -> int:
    _stopping()
    if not getattr(sys.modules.get("brushwork.cli"), "interrupt_said", False):  # (main() may have said it)
        sys.stderr.write("brushwork: interrupted\n")
    return EXIT_INTERRUPTED


def run() -> int:
    try:
        from .cli import main

        code = main()
        if code == EXIT_INTERRUPTED:
            _stopping()
    except KeyboardInterrupt:  # while the CLI's modules loaded or it read its options, or a second one
        return _interrupted()
    if os.environ.get("WORLD_SIZE") and "torch" in sys.modules:  # a torchrun worker: see distributed.exit_process
        from .distributed import exit_process

        exit_process(code)
    return code
