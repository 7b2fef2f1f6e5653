"""What the command line prints: results (text or JSON), progress bars, and Ctrl-C handling."""

from __future__ import annotations

import json
import signal
import sys


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


def metrics_text(title: str, m: dict) -> str:
    lines = [title, f"  accuracy {m['accuracy']:.1%}   macro-F1 {m['macro_f1']:.3f}   images {m['n']}"]
    lines += [f"  {name:<24} {acc:6.1%}" for name, acc in m.get("per_class", {}).items()]
    return "\n".join(lines)


def bar(label: str, args):
    """A progress callable drawing a tqdm bar on a terminal (nothing in --json mode or in pipes)."""
    if getattr(args, "json", False) or not sys.stderr.isatty():
        return lambda done, total: None
    from tqdm import tqdm

    state = {}

    def progress(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, desc=label, file=sys.stderr, leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()
    return progress
