"""The `flyp` command line: the engine for scripts, servers and clusters.

Exit codes: 0 success, 2 bad input (one line naming the file or option), 1 internal error,
130 cancelled (what was saved stays saved). Every verb takes `--json`.
"""

from core.cli.main import main

__all__ = ["main"]
