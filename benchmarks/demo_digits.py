"""A useful start for users' own images: FLYP from the demo model on handwritten digits it never saw.

scikit-learn's `load_digits` (1,797 scans of handwritten digits, 8×8 pixels, 10 classes) is
written as class folders ("zero" … "nine"), dark ink on white, enlarged to the demo model's
64 px: 80% for training, 20% for validation (a fixed shuffle). The demo model is then finetuned
with FLYP and the demo model's default settings, and the validation accuracy is printed: zero-shot
first (the world has no digits: about chance) and after finetuning.

    .venv/bin/python benchmarks/demo_digits.py --root /tmp/digits [--epochs N --lr LR --batch-size B]

Needs scikit-learn (`pip install scikit-learn`, or the project's `test` extra).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from core.demo.probes import write_digit_folders
    from core.demo.story import DEMO_SETTINGS
    from core.training.config import TrainConfig
    from core.training.loop import train
    from core.training.runs import RunDir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/demo-digits"))
    for option in ("epochs", "batch_size", "lr"):
        parser.add_argument(f"--{option.replace('_', '-')}", type=type(DEMO_SETTINGS[option]), default=DEMO_SETTINGS[option])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folders = write_digit_folders(args.root / "data")
    config = TrainConfig(train_dir=str(folders["train"]), val_dir=str(folders["val"]), model="demo", method="flyp",
                         **(DEMO_SETTINGS | {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                                             "seed": args.seed}))
    run_dir = args.root / f"flyp-e{args.epochs}-b{args.batch_size}-lr{args.lr:g}-s{args.seed}"
    started = time.monotonic()
    train(config, run_dir)
    evals = [r for r in RunDir(run_dir).read_metrics() if r["type"] == "eval"]
    best = RunDir(run_dir).read_info()["best"]
    print(f"digits, FLYP from the demo model (epochs {args.epochs}, batch {args.batch_size}, lr {args.lr:g}, "
          f"seed {args.seed}): validation accuracy zero-shot {evals[0]['sets']['id']['accuracy']:.1%}, "
          f"best {best['id_accuracy']:.1%} (step {best['step']}), last {evals[-1]['sets']['id']['accuracy']:.1%}; "
          f"{time.monotonic() - started:.0f} s, load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
