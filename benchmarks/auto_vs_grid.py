"""The automatic mode against a fixed grid of settings, on the demo folders (the longer version of
tests/test_auto.py).

    python benchmarks/auto_vs_grid.py                     # the demo folders, the default budget
    python benchmarks/auto_vs_grid.py --per-class 4       # 4-shot: 4 training images per class
    python benchmarks/auto_vs_grid.py --budget 3 --data DIR   # DIR holds train/ and val/

Prints one row per grid point (learning rate 1e-5, the paper's; 1e-4, the demo preset's; 1e-3;
each for --epochs epochs at the family's batch, capped for the data) and one for `--auto` with
its budget: best ID validation accuracy, seconds, and how auto chose. Choices are made on ID
validation only; the different-conditions sets are not used.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

GRID = (1e-5, 1e-4, 1e-3)


def few_shot(train: Path, per_class: int, seed: int, out: Path) -> Path:
    """A copy of `train` with `per_class` images of each class, drawn with `seed`."""
    rng = random.Random(seed)
    for folder in sorted(p for p in train.iterdir() if p.is_dir()):
        images = sorted(folder.iterdir())
        (out / folder.name).mkdir(parents=True)
        for image in rng.sample(images, min(per_class, len(images))):
            shutil.copy(image, out / folder.name / image.name)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="a folder with train/ and val/ (default: the demo folders)")
    parser.add_argument("--per-class", type=int, help="keep this many training images per class")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of each grid point (4, the demo preset's)")
    parser.add_argument("--budget", type=float, help="auto's budget in minutes (default: the suggested one)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from core.demo.story import default_root, ensure_demo_data
    from core.training.auto import auto_train, count_training_images
    from core.training.config import TrainConfig
    from core.training.defaults import default_settings
    from core.training.loop import train

    data = args.data or ensure_demo_data(default_root() / "data")
    work = Path(tempfile.mkdtemp(prefix="flyp-auto-"))
    train_dir = data / "train"
    if args.per_class:
        train_dir = few_shot(train_dir, args.per_class, args.seed, work / "train")
    base = TrainConfig(train_dir=str(train_dir), val_dir=str(data / "val"), model="demo", seed=args.seed)
    images = count_training_images(base)
    batch = default_settings("demo", images)["batch_size"]
    print(f"{images} training images, batch {batch}; load average {os.getloadavg()[0]:.1f}")
    print("| settings | best ID accuracy | seconds |\n|---|---|---|")
    best_grid = 0.0
    for lr in GRID:
        started = time.monotonic()
        config = TrainConfig(**{**base.to_json(), "lr": lr, "epochs": args.epochs, "batch_size": batch})
        accuracy = train(config, work / f"lr {lr:g}")["best"]["id_accuracy"]
        best_grid = max(best_grid, accuracy)
        print(f"| lr {lr:g}, {args.epochs} epochs | {accuracy:.1%} | {time.monotonic() - started:.0f} |", flush=True)
    started = time.monotonic()
    info = auto_train(base, work / "auto", args.budget * 60 if args.budget else None, train_images=images)
    seconds = time.monotonic() - started
    print(f"| auto, budget {info['auto']['budget_s'] / 60:.1f} min | {info['best']['id_accuracy']:.1%} | "
          f"{seconds:.0f} |")
    print(f"\nauto − best of the grid: {100 * (info['best']['id_accuracy'] - best_grid):+.1f} points\n"
          f"auto's choice: {info['auto']['why']}\n(runs in {work})")


if __name__ == "__main__":
    main()
