"""The frozen bundle's `flyp-studio` executable (PyInstaller runs this file as __main__)."""

import multiprocessing
import sys

if __name__ == "__main__":
    # Data-loader workers started with "spawn" (Windows, macOS) re-run the executable; this
    # turns such a child into a worker instead of a second window.
    multiprocessing.freeze_support()
    from flyp_app.__main__ import main

    sys.exit(main())
