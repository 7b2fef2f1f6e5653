"""What a short trial of the automatic mode spends outside its training steps.

    python benchmarks/trial_overhead.py                 # the demo model on the demo folders
    python benchmarks/trial_overhead.py --trials 3      # several trials in one process, as `--auto` runs them

Runs one-epoch trials the way the automatic mode does (one evaluation per epoch, no patience,
what the runs of one search share kept for the next: `core.training.shared`), in one process,
each into a new folder — the first trial prepares everything, the next reuse it — and splits each trial's wall time into: preparing (scan,
model load, evaluation images), the zero-shot evaluation, the training steps, the evaluations
after training, writing weights and state, and the rest. Prints seconds and shares per trial:
the training steps are the work, everything else the fixed cost of a trial.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PHASES = ("prepare", "zero-shot evaluation", "training steps", "evaluation", "writing weights", "rest")


class Timings:
    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.depth = 0

    def reset(self) -> None:
        self.seconds.clear()

    @contextmanager
    def phase(self, name: str):
        if self.depth:  # nested (a write inside an evaluation): counted by the outer phase
            yield
            return
        self.depth += 1
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start
            self.depth -= 1


def timed(owner, attribute: str, timings: Timings, name) -> None:
    """Wrap `owner.attribute` so that its time counts as `name` (a string, or a function of the call)."""
    original = getattr(owner, attribute)

    def wrapper(*args, **kwargs):
        with timings.phase(name(*args, **kwargs) if callable(name) else name):
            return original(*args, **kwargs)

    setattr(owner, attribute, wrapper)


def instrument(timings: Timings) -> None:
    from core.training import loop, runs

    timed(loop, "prepare", timings, "prepare")
    timed(loop, "_evaluate", timings, lambda *a, **k: "zero-shot evaluation" if k.get("step", a[1] if len(a) > 1 else None) == 0 else "evaluation")
    timed(loop._Trainer, "train_step", timings, "training steps")
    timed(runs.RunDir, "save_weights", timings, "writing weights")
    timed(runs.RunDir, "save_state", timings, "writing weights")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="demo folders (written there if missing)")
    parser.add_argument("--model", default="demo")
    parser.add_argument("--trials", type=int, default=2)
    args = parser.parse_args()

    from core.demo.story import demo_paths, ensure_demo_data
    from core.training.config import TrainConfig
    from core.training.loop import train
    from core.training.shared import Shared

    paths = demo_paths(ensure_demo_data(Path(args.data or Path(tempfile.gettempdir()) / "flyp-demo-data")))
    config = TrainConfig(model=args.model, train_dir=str(paths["train"]), val_dir=str(paths["val"]),
                         ood_dirs=[str(p) for p in paths["ood"]], epochs=1, evals_per_epoch=1, patience=None)
    print(f"model {args.model}, {paths['train'].parent}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} before")
    print(f"{'trial':<6}" + "".join(f"{name:>22}" for name in PHASES) + f"{'total':>9}")
    timings, shared = Timings(), Shared()
    instrument(timings)
    with tempfile.TemporaryDirectory() as out:
        for trial in range(args.trials):
            timings.reset()
            start = time.perf_counter()
            train(replace(config, lr=1e-5 * 3 ** trial), Path(out) / f"trial {trial}", shared=shared)
            total = time.perf_counter() - start
            timings.seconds["rest"] = total - sum(timings.seconds.values())
            cells = "".join(f"{timings.seconds[name]:>8.2f} s ({timings.seconds[name] / total:>4.0%})  "
                            for name in PHASES)
            print(f"{trial + 1:<6}{cells}{total:>7.1f} s")


if __name__ == "__main__":
    main()
