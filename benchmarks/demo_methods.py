"""The demo's methods over several seeds: zero-shot, FLYP, CE, LP-FT and L2-SP, with their α curves.

Each seed finetunes the demo model with every method on the demo folders (the settings of
`flyp demo`, its seed replaced), and computes each run's weight-ensembling (WiSE-FT) curve.
Prints, per method, the mean ± sd over seeds of ID and OOD accuracy at α = 1 and at the α with
the best ID validation accuracy (chosen per seed, on ID only), each method's mean curve, and
every method's OOD accuracy on its mean curve at one matched ID accuracy. Nothing here is chosen
on the OOD sets.

    .venv/bin/python benchmarks/demo_methods.py --root /tmp/demo-methods --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.demo.story import STORY, demo_paths, demo_train_config, ensure_demo_data  # noqa: E402
from core.training.loop import train  # noqa: E402
from core.training.runs import RunDir  # noqa: E402
from core.weights.blend import run_eval_sets  # noqa: E402
from core.weights.curve import best_alpha, ood_mean, run_curve  # noqa: E402


def _id(point: dict) -> float:
    return point["sets"]["id"]["accuracy"]


def _ood(point: dict) -> float:
    return ood_mean(point["sets"])


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.1f} ± {100 * sd:.1f}"


def run_seeds(root: Path, seeds: list[int], methods: list[str], device: str = "cpu",
              overrides: dict | None = None) -> dict:
    """{method: [curve per seed]}, training whatever is not finished yet under `root`."""
    paths = demo_paths(ensure_demo_data(root / "data"))
    curves, sets = {method: [] for method in methods}, None
    for seed in seeds:
        for method in methods:
            run_dir = root / "runs" / f"{method}-seed{seed}"
            if not (run_dir / "run.json").is_file() or RunDir(run_dir).read_info().get("status") != "finished":
                started = time.monotonic()
                config = demo_train_config(paths, method, seed, device=device)
                train(dataclasses.replace(config, **(overrides or {})), run_dir)
                print(f"{method} seed {seed}: {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
            if sets is None:
                sets = run_eval_sets(RunDir(run_dir).read_info())
            curves[method].append(run_curve(run_dir, device, sets=sets))
    return curves


def mean_curve(curves: list[list[dict]]) -> list[tuple[float, float, float]]:
    """(α, mean ID, mean OOD) per α over the seeds' curves."""
    return [(points[0]["alpha"], statistics.mean(map(_id, points)), statistics.mean(map(_ood, points)))
            for points in zip(*curves)]


def ood_at_id(curve: list[tuple[float, float, float]], target: float) -> float | None:
    """OOD accuracy where the mean curve reaches `target` ID accuracy (linear between α steps)."""
    for (_, id0, ood0), (_, id1, ood1) in zip(curve, curve[1:]):
        if min(id0, id1) <= target <= max(id0, id1) and id0 != id1:
            return ood0 + (ood1 - ood0) * (target - id0) / (id1 - id0)
    return None


def report(curves: dict) -> str:
    first = next(iter(curves.values()))
    zero = [c[0] for c in first]
    lines = [f"seeds: {len(first)} (mean ± sd, %)", "",
             "| method | α | ID | OOD (mean of sketch, painting) |", "|---|---|---|---|",
             f"| zero-shot | 0 | {_mean_sd([_id(p) for p in zero])} | {_mean_sd([_ood(p) for p in zero])} |"]
    for method, per_seed in curves.items():
        ends = [c[-1] for c in per_seed]
        best = [best_alpha(c) for c in per_seed]
        alphas = ", ".join(f"{p['alpha']:.1f}" for p in best)
        lines.append(f"| {STORY[method]} | 1 | {_mean_sd([_id(p) for p in ends])} | {_mean_sd([_ood(p) for p in ends])} |")
        lines.append(f"| {STORY[method]} + best-ID blend | {alphas} | {_mean_sd([_id(p) for p in best])} | "
                     f"{_mean_sd([_ood(p) for p in best])} |")
    means = {method: mean_curve(per_seed) for method, per_seed in curves.items()}
    lines += ["", "Mean α curves (ID / OOD, %):", "",
              "| α | " + " | ".join(STORY[m] for m in means) + " |", "|---|" + "---|" * len(means)]
    for i, (alpha, _, _) in enumerate(next(iter(means.values()))):
        cells = [f"{100 * c[i][1]:.1f} / {100 * c[i][2]:.1f}" for c in means.values()]
        lines.append(f"| {alpha:.1f} | " + " | ".join(cells) + " |")
    matched = min(c[-1][1] for c in means.values())  # an ID accuracy every finetuned curve reaches
    cells = []
    for method, curve in means.items():
        value = ood_at_id(curve, matched)
        cells.append(f"{STORY[method]} {100 * value:.1f}" if value is not None else f"{STORY[method]} –")
    lines += ["", f"OOD at matched ID ({100 * matched:.1f}%, on the mean curves): " + ", ".join(cells)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/demo-methods"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(STORY), choices=list(STORY))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--lr", type=float, help="instead of the demo's setting (to try one chosen on ID validation)")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--templates", nargs="+", help="caption templates instead of the demo's (a lever to measure)")
    parser.add_argument("--no-report", action="store_true",
                        help="train the runs and cache their curves, print nothing (for launches in parallel)")
    parser.add_argument("--json", type=Path, help="also write the curves here")
    args = parser.parse_args()
    started = time.monotonic()
    overrides = {k: v for k, v in (("lr", args.lr), ("epochs", args.epochs), ("templates", args.templates))
                 if v is not None}
    curves = run_seeds(args.root, args.seeds, args.methods, args.device, overrides)
    if args.no_report:
        return 0
    print(report(curves))
    print(f"\n({time.monotonic() - started:.0f} s, load average {os.getloadavg()[0]:.1f})")
    if args.json:
        args.json.write_text(json.dumps(curves))
    return 0


if __name__ == "__main__":
    sys.exit(main())
