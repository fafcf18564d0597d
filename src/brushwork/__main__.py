import os
import sys

from .cli import main

code = main()
if os.environ.get("WORLD_SIZE") and "torch" in sys.modules:  # a torchrun worker: see distributed.exit_process
    from .distributed import exit_process

    exit_process(code)
raise SystemExit(code)
