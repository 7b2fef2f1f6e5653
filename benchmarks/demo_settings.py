"""Choose the demo model's finetuning settings on ID validation alone (the demo row of the settings table).

    .venv/bin/python benchmarks/demo_settings.py --root /tmp/demo-settings

Finetunes the demo model with FLYP on the demo's training photos for every learning rate ×
batch size of the grid, `--epochs` epochs each with the engine's choice of the best epoch on
the validation photos, and prints the best ID validation accuracy and the epoch it came at.
The different-conditions sets (sketches, paintings) are not even given to these runs: the
choice cannot look at them. The paper's regime is a finetuning learning rate about 2% of the
pretraining one (the demo model was pretrained at 1e-3), so the grid stays at or below 10% of it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.demo.story import DEMO_SETTINGS, demo_paths, ensure_demo_data  # noqa: E402
from core.training.config import TrainConfig  # noqa: E402
from core.training.loop import train  # noqa: E402
from core.training.runs import RunDir  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-5, 2e-5, 5e-5, 1e-4])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64])
    parser.add_argument("--epochs", type=int, nargs="+", default=[10])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    paths = demo_paths(ensure_demo_data(args.root / "data"))
    rows = []
    grid = [(lr, b, e) for b in args.batch_sizes for lr in args.lrs for e in args.epochs]
    for lr, batch_size, epochs in grid:
        settings = DEMO_SETTINGS | {"lr": lr, "batch_size": batch_size, "epochs": epochs, "seed": args.seed}
        config = TrainConfig(train_dir=str(paths["train"]), val_dir=str(paths["val"]), model="demo",
                             device=args.device, **settings)
        started = time.monotonic()
        run_dir = args.root / "runs" / f"lr{lr:g}-b{batch_size}-e{epochs}"
        train(config, run_dir)
        history = [(r["epoch"], r["sets"]["id"]["accuracy"]) for r in RunDir(run_dir).read_metrics()
                   if r.get("type") == "eval" and r["step"] > 0]
        epoch, best = max(history, key=lambda h: (h[1], -h[0]))
        rows.append((lr, batch_size, epochs, best, epoch, history))
        print(f"lr {lr:g} batch {batch_size} epochs {epochs}: best ID val {best:.1%} at epoch {epoch:.1f} "
              f"({time.monotonic() - started:.0f} s)", flush=True)
    print("\n| lr | batch | epochs | best ID val | at epoch | ID val by epoch |\n|---|---|---|---|---|---|")
    for lr, batch_size, epochs, best, epoch, history in rows:
        curve = " ".join(f"{a:.0%}" for _, a in history)
        print(f"| {lr:g} | {batch_size} | {epochs} | {best:.1%} | {epoch:.1f} | {curve} |")
    lr, batch_size, epochs, best, _, _ = max(rows, key=lambda r: (r[3], -r[2], -r[0]))  # ties: shorter, gentler
    print(f"\nchosen on ID validation: lr {lr:g}, batch {batch_size}, {epochs} epochs ({best:.1%})")


if __name__ == "__main__":
    main()
