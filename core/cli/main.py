"""The `flyp` entry point: runs a verb and turns every outcome into one of four exit codes."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings

from core.cli.output import shown
from core.errors import Cancelled, FlypError, first_line, out_of_memory

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 130


def main(argv: list[str] | None = None) -> int:
    _escape_undecodable_names()
    from core.cli.parser import UsageError, build_parser

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return _error(str(exc))
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_OK
    with _library_chatter_muted():
        try:
            return args.handler(args) or EXIT_OK
        except FlypError as exc:
            return _error(_own_message(exc))
        except (Cancelled, KeyboardInterrupt):
            print("flyp: cancelled", file=sys.stderr)
            return EXIT_CANCELLED
        except Exception as exc:  # a bug: one line, and the traceback when asked for
            if os.environ.get("FLYP_DEBUG"):
                raise
            first = shown(first_line(exc)) if str(exc).strip() else ""
            if out_of_memory(exc):  # outside a training step
                return _error(f"out of memory ({first}); try a smaller --model, --batch-size or --micro-batch-size, "
                              "or --device cpu")
            print(f"flyp: internal error: {type(exc).__name__}: {first} (set FLYP_DEBUG=1 for the traceback)",
                  file=sys.stderr)
            return EXIT_INTERNAL


def _error(message: str) -> int:
    """`flyp: error: MESSAGE` on one line: control characters (a newline in a file name) are
    escaped, so that no name can start a line of its own."""
    print(f"flyp: error: {shown(message)}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _own_message(exc: FlypError) -> str:
    """The error's own message, also when it crossed a DataLoader worker, which re-raises it
    with the worker's traceback in front."""
    text = str(exc)
    marker = "\ncore.errors.FlypError: "
    return text.rpartition(marker)[2] if "Traceback (most recent call last)" in text and marker in text else text


@contextlib.contextmanager
def _library_chatter_muted():
    """Library warnings and log records (torch, open_clip, huggingface_hub's retries, onnxscript)
    are not for the user of a command line: `flyp` says what matters in its own words. They stay
    visible with FLYP_DEBUG=1. Worker processes inherit the setting through PYTHONWARNINGS."""
    if os.environ.get("FLYP_DEBUG"):
        yield
        return
    saved_env, saved_logging = os.environ.get("PYTHONWARNINGS"), logging.root.manager.disable
    os.environ["PYTHONWARNINGS"] = "ignore"
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(saved_logging)
        if saved_env is None:
            os.environ.pop("PYTHONWARNINGS", None)
        else:
            os.environ["PYTHONWARNINGS"] = saved_env


def _escape_undecodable_names() -> None:
    """Print file names that are not valid UTF-8 as `\\udcXX` escapes instead of failing.

    Python hands such names over with lone surrogates, which a strict UTF-8 stdout refuses.
    Escaped, they stay valid JSON, and `os.fsencode(json.loads(...))` gives the exact bytes back.
    """
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
