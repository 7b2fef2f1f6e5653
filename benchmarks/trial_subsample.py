"""Would the automatic mode choose the same learning rate if its trials were scored on a subsample?

    python benchmarks/trial_subsample.py --root /tmp/trial-subsample     # the demo and the digits

A trial of the automatic mode ends with an evaluation on the whole ID validation set (a quarter
of a one-epoch demo trial: benchmarks/README.md). Scoring trials on a fixed share of it would cut
that cost; it is worth it only if the learning rate chosen stays the same. This trains, for each
dataset and seed, one-epoch trials at the three learning rates the automatic mode tries first
(the family's and one rung on either side), keeps each validation image's correctness, and then,
for fixed random subsamples of each share (drawn once per search, stratified by class, as an
implementation would), counts how often the trial chosen on the subsample is the one chosen on
the whole set (ties to the smaller rate, as `core.training.auto._best`), and how many points of
full-validation accuracy a wrong choice costs. It counts choices, not seconds: the figures do not
depend on the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

SHARES = (0.25, 0.5)
DRAWS = 2000


def correctness(root: Path, dataset: str, seed: int, lrs: list[float]) -> dict:
    """{lr: [0/1 per validation image]} of one-epoch trials (cached in root/results.json)."""
    from core.demo.story import demo_paths, demo_train_config, ensure_demo_data
    from core.training.loop import train
    from core.weights.blend import evaluate_blend, open_run, run_eval_sets

    if dataset == "demo":
        paths = demo_paths(ensure_demo_data(root / "demo-data"))
    else:
        from core.demo.probes import write_digit_folders

        digits = root / "digits"
        if not (digits / "train").is_dir():
            write_digit_folders(digits)
        paths = {"train": digits / "train", "val": digits / "val", "ood": []}
    out = {}
    for lr in lrs:
        run = root / "runs" / f"{dataset}-seed{seed}-lr{lr:g}"
        config = demo_train_config(paths, "flyp", seed)
        config.epochs, config.lr, config.evals_per_epoch, config.patience = 1, lr, 1, None
        if not (run / "best.safetensors").is_file():
            train(config, run)
        blended = open_run(run, "best")
        sets = run_eval_sets(blended.info)
        metrics = evaluate_blend(blended, {"id": sets["id"]}, 1.0)["id"]
        out[lr] = {"correct": [int(p == y) for p, y in zip(metrics.predictions, metrics.labels)],
                   "labels": list(metrics.labels)}
    return out


def chosen(scores: dict[float, float]) -> float:
    return max(scores, key=lambda lr: (scores[lr], -lr))


def stratified(labels: list[int], share: float, rng: random.Random) -> list[int]:
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    picked = []
    for members in by_class.values():
        picked += rng.sample(members, max(1, round(share * len(members))))
    return picked


def agreement(trials: dict, share: float, draws: int, seed: int) -> tuple[float, float]:
    """(share of draws choosing the full set's learning rate, mean points lost when not)."""
    labels = next(iter(trials.values()))["labels"]
    full = {lr: sum(t["correct"]) / len(labels) for lr, t in trials.items()}
    best = chosen(full)
    rng = random.Random(seed)
    same, lost = 0, []
    for _ in range(draws):
        picked = stratified(labels, share, rng)
        sub = {lr: sum(t["correct"][i] for i in picked) / len(picked) for lr, t in trials.items()}
        choice = chosen(sub)
        same += choice == best
        if choice != best:
            lost.append(100 * (full[best] - full[choice]))
    return same / draws, (sum(lost) / len(lost) if lost else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/trial-subsample"))
    parser.add_argument("--seeds", type=int, default=2)
    args = parser.parse_args()
    from core.training.auto import _lr_of
    from core.training.defaults import family_of

    import math

    rung = round(2 * math.log10(family_of("demo").lr))
    lrs = [_lr_of(rung - 1), _lr_of(rung), _lr_of(rung + 1)]
    args.root.mkdir(parents=True, exist_ok=True)
    print(f"learning rates {lrs}; one-epoch FLYP trials of the demo model; {DRAWS} subsamples per share")
    print("| data | seed | full-set accuracy per lr | " + " | ".join(f"{s:.0%}: same choice, points lost" for s in SHARES) + " |")
    print("|---|---|---|" + "---|" * len(SHARES))
    rows = []
    for dataset in ("demo", "digits"):
        for seed in range(args.seeds):
            trials = correctness(args.root, dataset, seed, lrs)
            n = len(next(iter(trials.values()))["labels"])
            accuracy = ", ".join(f"{lr:g}: {100 * sum(t['correct']) / n:.1f}%" for lr, t in trials.items())
            cells = [agreement(trials, share, DRAWS, seed) for share in SHARES]
            rows.append({"data": dataset, "seed": seed, "n": n, "cells": cells})
            print(f"| {dataset} ({n} val) | {seed} | {accuracy} | "
                  + " | ".join(f"{same:.0%}, {lost:.1f}" for same, lost in cells) + " |")
    (args.root / "agreement.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
