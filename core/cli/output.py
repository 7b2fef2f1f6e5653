"""What the command line prints: results (text or JSON), progress bars, and Ctrl-C handling."""

from __future__ import annotations

import json
import signal
import sys
import time

from core.words import shown  # noqa: F401 — the command line's verbs import it from here


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
    if scores := m.get("per_class_scores"):
        lines.append(f"  {'class':<24} {'precision':>9} {'recall':>7} {'F1':>6} {'images':>6}")
        lines += [f"  {shown(name):<24} {s['precision']:9.1%} {s['recall']:7.1%} {s['f1']:6.3f} {s['n']:6d}"
                  for name, s in scores.items()]
    else:
        lines += [f"  {shown(name):<24} {acc:6.1%}" for name, acc in m.get("per_class", {}).items()]
    return "\n".join(lines)


LINE_EVERY_S = 5.0  # progress written to a file or a pipe: a plain line this often


def bar(label: str, args):
    """A progress callable: a tqdm bar on a terminal, a plain line every few seconds when stderr
    goes to a file or a pipe, nothing in --json mode."""
    if getattr(args, "json", False):
        return lambda done, total: None
    if not sys.stderr.isatty():
        return _plain_progress(label)
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


def _plain_progress(label: str):
    last = [time.monotonic()]  # the first line after a few seconds: quick work prints none

    def progress(done: int, total: int) -> None:
        if done < total and time.monotonic() - last[0] >= LINE_EVERY_S:
            last[0] = time.monotonic()
            print(f"{label}: {done}/{total}", file=sys.stderr, flush=True)
    return progress
