"""The `flyp` entry point: runs a verb and turns every outcome into one of four exit codes."""

from __future__ import annotations

import os
import sys

from core.errors import Cancelled, FlypError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 130


def main(argv: list[str] | None = None) -> int:
    _escape_undecodable_names()
    from core.cli.parser import build_parser

    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_OK
    try:
        return args.handler(args) or EXIT_OK
    except FlypError as exc:
        # One line, even when the error crossed a DataLoader worker (which prepends a traceback).
        lines = [line for line in str(exc).strip().splitlines() if line.strip()]
        print(f"flyp: error: {lines[-1].removeprefix('core.errors.FlypError: ') if lines else exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (Cancelled, KeyboardInterrupt):
        print("flyp: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except Exception as exc:  # a bug: one line, and the traceback when asked for
        if os.environ.get("FLYP_DEBUG"):
            raise
        if type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc):  # outside a training step
            print(f"flyp: error: out of memory ({str(exc).splitlines()[0]}); try a smaller --model, "
                  "--batch-size or --micro-batch-size, or --device cpu", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"flyp: internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
              "(set FLYP_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


def _escape_undecodable_names() -> None:
    """Print file names that are not valid UTF-8 as `\\udcXX` escapes instead of failing.

    Python hands such names over with lone surrogates, which a strict UTF-8 stdout refuses.
    Escaped, they stay valid JSON, and `os.fsencode(json.loads(...))` gives the exact bytes back.
    """
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
