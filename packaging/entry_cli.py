"""The frozen bundle's `flyp` executable: the command line, beside the app in the same folder."""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from core.cli import main

    sys.exit(main())
