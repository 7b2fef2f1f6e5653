"""Big models on a CPU: each lever's training speed and ID accuracy against full FLYP, over seeds.

Each lever (`core.training.levers`, `core.training.acceleration`) keeps FLYP's loss and changes
how much of the towers a step computes. For every dataset and seed this trains full FLYP and then
each lever, one after the other in the same process (so a change of the machine's load touches
them alike), with the demo model's settings, and prints per lever:

- images/s over the training steps (evaluations left out, the first steps too: compiling is
  paid there), as a ratio against full FLYP of the same seed measured in the same run;
- best ID validation accuracy (the checkpoint is chosen on ID validation only), mean ± spread
  (the sample standard deviation) over seeds, and its difference from full FLYP;
- the "different conditions" accuracy of that same checkpoint (reported, never chosen on).

    .venv/bin/python benchmarks/cpu_levers.py [--seeds 3] [--root /tmp/cpu-levers]
    .venv/bin/python benchmarks/cpu_levers.py --quick      # the demo, 1 seed, small: a few minutes

Datasets: the demo (`flyp demo data`) and scikit-learn's digits (`benchmarks/demo_digits.py`;
it has no "different conditions" set). Results are written as they come to
ROOT/results-DATASETS.json; run again, the script goes on where it stopped.
Timings are only meaningful on a quiet machine; the load average is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# name → TrainConfig changes. The demo model is a 64 px ViT, patch 8, 4 + 4 blocks.
LEVERS = {
    "full FLYP": {},
    "patch dropout 0.5": {"patch_dropout": 0.5},
    "patch dropout 0.25": {"patch_dropout": 0.25},
    "2 of 4 blocks frozen": {"frozen_blocks": 2},
    "1 of 4 blocks frozen": {"frozen_blocks": 1},
    "train at 48 px (of 64)": {"train_size": 48},
    "bf16 autocast": {"precision": "bf16"},
    "torch.compile": {"compile": True},
}
SKIP_STEPS = 3  # steps left out of the speed: the first ones warm up (and compile)


def dataset_folders(root: Path, name: str, quick: bool) -> dict:
    """The TrainConfig folders of the demo or the digits, written under `root` once."""
    from core.demo.probes import write_digit_folders
    from core.demo.task import write_demo_data

    if name == "digits":
        digits = root / "digits"
        if not (digits / "val").is_dir():
            write_digit_folders(digits)
        return {"train_dir": str(digits / "train"), "val_dir": str(digits / "val")}
    demo = root / ("demo-quick" if quick else "demo")
    if not (demo / "val").is_dir():
        write_demo_data(demo, seed=0, **({"train_per_class": 40, "val_per_class": 16, "ood_per_class": 16}
                                         if quick else {}))
    return {"train_dir": str(demo / "train"), "val_dir": str(demo / "val"),
            "ood_dirs": [str(demo / "ood-sketch"), str(demo / "ood-painting")]}


def train_one(folders: dict, lever: dict, seed: int, epochs: int | None, run_dir: Path) -> dict:
    """One run: its best ID accuracy, the other sets at that checkpoint, images/s and wall time."""
    import shutil

    from core.demo.story import DEMO_SETTINGS
    from core.training.config import TrainConfig
    from core.training.loop import train
    from core.training.runs import RunDir

    shutil.rmtree(run_dir, ignore_errors=True)
    settings = DEMO_SETTINGS | {"seed": seed} | ({"epochs": epochs} if epochs else {})
    config = TrainConfig(model="demo", method="flyp", **folders, **settings, **lever)
    started = time.monotonic()
    batch = []
    info = train(config, run_dir, on_event=lambda e: batch.append(e["batch_size"]) if e["type"] == "start" else None)
    steps = [r for r in RunDir(run_dir).read_metrics() if r["type"] == "step"]
    first, last = steps[min(SKIP_STEPS, len(steps) - 2)], steps[-1]
    # Each step record's rate is images since the start over training seconds (evaluations left out).
    seconds = [r["step"] * batch[0] / r["images_per_s"] for r in (first, last)]
    best = info["best"]
    return {"id": best["id_accuracy"], "rate": (last["step"] - first["step"]) * batch[0] / (seconds[1] - seconds[0]),
            "other": {k: v["accuracy"] for k, v in best["sets"].items() if k != "id"},
            "wall_s": time.monotonic() - started}


def summary(results: list[dict], dataset: str) -> list[str]:
    """The table of one dataset: speed ratio and accuracies per lever, over the seeds done."""
    rows = [r for r in results if r["dataset"] == dataset]
    reference = {r["seed"]: r for r in rows if r["lever"] == "full FLYP"}
    lines = [f"{dataset}: lever | images/s vs full FLYP | ID accuracy (mean ± sd) | Δ ID | different conditions | "
             "seeds", ]
    full_id = statistics.mean(r["id"] for r in reference.values()) if reference else float("nan")
    for lever in LEVERS:
        done = [r for r in rows if r["lever"] == lever and r["seed"] in reference]
        if not done:
            continue
        ratios = [r["rate"] / reference[r["seed"]]["rate"] for r in done]
        ids = [r["id"] for r in done]
        spread = statistics.stdev(ids) if len(ids) > 1 else 0.0
        other = [statistics.mean(r["other"].values()) for r in done if r["other"]]
        ood = f"{statistics.mean(other):.1%}" if other else "—"
        lines.append(f"  {lever:24s} | {statistics.mean(ratios):5.2f}× ({min(ratios):.2f}–{max(ratios):.2f}) | "
                     f"{statistics.mean(ids):6.1%} ± {spread:.1%} | {100 * (statistics.mean(ids) - full_id):+5.1f} pt | "
                     f"{ood} | {len(done)}")
    return lines


def main() -> int:
    from core.training.levers import cpu_bf16

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/cpu-levers"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="the demo only, small, 1 seed, 2 epochs")
    parser.add_argument("--levers", nargs="*", help="lever names (default: all; on a CPU where bf16 does not "
                        "pay (no AMX, levers.cpu_bf16), all but bf16: emulated, it was 10× slower on AVX2)")
    parser.add_argument("--datasets", nargs="*", default=["demo", "digits"], help="demo, digits (default: both)")
    args = parser.parse_args()
    seeds, epochs = (1, 2) if args.quick else (args.seeds, None)
    if args.levers is None:
        args.levers = [name for name in LEVERS if cpu_bf16() or LEVERS[name].get("precision") != "bf16"]
    args.root.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()}; bf16 pays on this CPU (AMX): {cpu_bf16()}", flush=True)
    tag = "quick" if args.quick else "-".join(args.datasets)
    out = args.root / f"results-{tag}.json"
    # A run stopped half-way continues: what is in its results file is not trained again.
    results = json.loads(out.read_text()) if out.is_file() and not args.quick else []
    done = {(r["dataset"], r["seed"], r["lever"]) for r in results}
    for dataset in ["demo"] if args.quick else args.datasets:
        folders = dataset_folders(args.root, dataset, args.quick)
        for seed in range(seeds):
            for lever in [name for name in LEVERS if name in args.levers or name == "full FLYP"]:
                if (dataset, seed, lever) in done:
                    continue
                result = train_one(folders, LEVERS[lever], seed, epochs, args.root / "runs" / tag)
                results.append({"dataset": dataset, "seed": seed, "lever": lever, **result,
                                "load": os.getloadavg()[0]})
                print(f"{dataset} seed {seed} {lever}: ID {result['id']:.1%}, {result['rate']:.1f} images/s, "
                      f"{result['wall_s']:.0f} s, load {os.getloadavg()[0]:.1f}", flush=True)
                out.write_text(json.dumps(results, indent=1))
        print("\n".join(summary(results, dataset)), flush=True)
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
