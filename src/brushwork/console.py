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


def _stopping() -> int:
    """Ignore further Ctrl-C (the process is on its way out) and say so once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return EXIT_INTERRUPTED


def run() -> int:
    try:
        try:
            from .cli import main
        except KeyboardInterrupt:
            _stopping()
            sys.stderr.write("brushwork: interrupted\n")
            return EXIT_INTERRUPTED
        code = main()
    except KeyboardInterrupt:  # a second Ctrl-C while main() answered the first: it said so already
        return _stopping()
    if code == EXIT_INTERRUPTED:
        _stopping()
    if os.environ.get("WORLD_SIZE") and "torch" in sys.modules:  # a torchrun worker: see distributed.exit_process
        from .distributed import exit_process

        exit_process(code)
    return code
