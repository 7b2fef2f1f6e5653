"""`python -m core.cli`: the `flyp` command (torchrun starts it this way)."""

import sys

from core.cli.main import main

sys.exit(main())
