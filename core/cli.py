"""The `flyp` command line: the engine for scripts, servers and clusters.

Exit codes: 0 success, 2 bad input (one line naming the file or option), 1 internal error,
130 cancelled (what was saved stays saved). Every verb takes `--json`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from core.errors import Cancelled, FlypError

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 130


def main(argv: list[str] | None = None) -> int:
    _escape_undecodable_names()
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


def build_parser() -> argparse.ArgumentParser:
    from core import __version__

    parser = argparse.ArgumentParser(
        prog="flyp", description="FLYP Studio's engine: finetune CLIP on folders of labelled images.")
    parser.add_argument("--version", action="version", version=f"flyp {__version__}")
    verbs = parser.add_subparsers(title="commands", metavar="COMMAND")
    from core import cli_commands as c

    def verb(name, func, help_text):
        p = verbs.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(handler=func)
        p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")
        return p

    p = verb("scan", c.scan, "check a folder of class folders and list every problem found")
    p.add_argument("dir", metavar="DIR")

    p = verb("zeroshot", c.zeroshot, "zero-shot accuracy of a model on a labelled folder")
    _model_args(p)
    p.add_argument("--data", required=True, metavar="DIR", help="folder of class folders to evaluate on")
    _caption_args(p)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or mps (default: auto)")

    p = verb("train", c.train, "finetune with FLYP (or a baseline) and save a resumable run")
    c.add_train_args(p, _model_args, _caption_args)

    p = verb("evaluate", c.evaluate, "accuracy of a run's model (at weight-ensembling α) on a labelled folder")
    _run_args(p)
    p.add_argument("--data", required=True, metavar="DIR")
    p.add_argument("--alpha", type=float, default=1.0, help="0 = zero-shot, 1 = finetuned (default: 1)")

    p = verb("blend", c.blend, "the weight-ensembling curve: ID and OOD accuracy for each α")
    _run_args(p)
    p.add_argument("--alphas", default="0:1:0.1", help="start:stop:step or a list a,b,c (default: 0:1:0.1)")

    p = verb("export", c.export, "write a self-checking bundle of a run's model at α")
    _run_args(p)
    p.add_argument("--alpha", type=float, default=None, help="default: the α with the best ID accuracy")
    p.add_argument("--out", required=True, metavar="BUNDLE", help="bundle folder to write")
    p.add_argument("--onnx", action="store_true", help="also write model.onnx (needs the onnx extra)")

    p = verb("predict", c.predict, "classify images (files or folders) with an exported bundle")
    p.add_argument("bundle", metavar="BUNDLE")
    p.add_argument("images", metavar="IMAGE", nargs="+")
    p.add_argument("--top-k", type=int, default=3, help="how many classes to show (default: 3)")
    p.add_argument("--device", default="auto")

    p = verb("models", c.models, "list the open_clip architectures and their pretrained tags")

    from core import cli_compare

    p = verb("soup", cli_compare.soup, "average the weights of finetuned runs of one model into a new run")
    p.add_argument("--runs", required=True, nargs="+", metavar="RUN_DIR", help="run folders to average")
    p.add_argument("--out", required=True, metavar="SOUP_RUN", help="run folder to write the soup into")
    p.add_argument("--greedy", action="store_true",
                   help="greedy soup: add runs, best first, only while ID validation accuracy does not drop "
                        "(default: uniform, every run)")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best", help="weights of each run (best)")
    p.add_argument("--device", default="auto")

    p = verb("compare", cli_compare.compare, "runs side by side: method, settings, ID and OOD accuracy, best α, time")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folders (or a folder of runs, e.g. a project's NAME-runs)")
    p.add_argument("--cached-only", action="store_true",
                   help="use the α curves already cached in the run folders; compute none")
    p.add_argument("--device", default="auto")

    p = verb("demo", c.demo, "the embedded demo: `flyp demo` runs the whole story on the CPU")
    p.add_argument("action", nargs="?", default="run", metavar="{run,data,pretrain}",
                   help="run [DIR] (default): the whole story (`flyp demo DIR` also runs it); data DIR: write "
                        "the demo folders; pretrain DIR: re-create the demo model from its seed")
    p.add_argument("dir", nargs="?", metavar="DIR")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    return parser


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="demo",
                   help="'demo' (the embedded model) or an open_clip architecture such as ViT-B-32 (default: demo)")
    p.add_argument("--pretrained", metavar="TAG|FILE",
                   help="open_clip pretrained tag (e.g. openai), a weights file, or 'none' for random weights")


def _caption_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--templates", metavar="PRESET|FILE",
                   help="caption templates: a preset (simple, openai-imagenet-7, openai-imagenet-80, …) "
                        "or a file with one template per line, {} for the class name (default: simple)")
    p.add_argument("--class-names", metavar="FILE",
                   help="display names for class folders: JSON {\"folder\": \"name\"} or lines folder=name")


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="a run folder written by `flyp train`")
    p.add_argument("--checkpoint", choices=["best", "last"], default="best",
                   help="finetuned weights to use (default: best on ID validation)")
    p.add_argument("--device", default="auto")


def emit(args, data, human: str) -> None:
    """Print `data` as JSON with --json, else the human-readable text."""
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(human)


def interrupt_cancels(control):
    """First Ctrl-C (or SIGTERM) asks the engine to stop at the next step, saving; a second one
    kills. Returns a function that puts the previous handlers back."""
    def handler(signum, frame):
        if control.cancelled():
            raise KeyboardInterrupt
        print("\nflyp: stopping after this step (Ctrl-C again to abort)…", file=sys.stderr)
        control.cancel()
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    return lambda: [signal.signal(sig, old) for sig, old in previous.items()]


if __name__ == "__main__":
    sys.exit(main())
