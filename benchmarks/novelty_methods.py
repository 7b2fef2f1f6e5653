"""Which novelty score says "none of these classes" best: every method of core.trust.novelty on the demo.

For the demo model zero-shot and for FLYP runs of the demo task (one per seed, at α = 1 and at the
best α on ID validation), each score is fitted on the training photos' features, its threshold set
to keep 95% of the ID validation photos, and then shown images of none of the 12 shapes:

- `scenes`: the world's cluttered photos with their object left out (`core.demo.probes`);
- `digits`: scikit-learn's handwritten digits (`load_digits`, enlarged to 64 px).

It prints, per model and method, the AUROC (validation photos against each foreign set) and the
share of each foreign set accepted as known, and the share of the sketches and paintings (other
conditions of the same classes: not foreign, reported only) kept. Nothing is chosen on the
foreign or different-conditions images here: the table is what the choice of DEFAULT_METHOD read.

    .venv/bin/python benchmarks/novelty_methods.py --root /tmp/novelty [--seeds 0,1]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def folder_samples(folder: Path, classes: list[str]) -> list:
    from core.data.folders import Sample

    index = {c: i for i, c in enumerate(classes)}
    return [Sample(p, index.get(p.parent.name, -1)) for p in sorted(folder.rglob("*.png"))]


def measure(predictor, sets: dict[str, list], train: list) -> list[dict]:
    """One row per method: AUROC and accepted share per foreign set, kept share per other set."""
    import torch

    from core.trust import novelty
    from core.trust.fitting import features_and_logits

    computed = {name: features_and_logits(predictor, [s.path for s in samples])[:2]
                for name, samples in {"train": train, **sets}.items()}
    labels = torch.tensor([s.label for s in train])
    rows = []
    for method in novelty.METHODS:
        tensors = novelty.fit_reference(method, computed["train"][0], labels, len(predictor.class_names))
        scores = {name: novelty.score(method, tensors, f, logits) for name, (f, logits) in computed.items()}
        threshold = novelty.threshold_for(scores["val"])
        row = {"method": method}
        for name, s in scores.items():
            if name in ("train", "val"):
                continue
            row[f"{name} kept"] = float((s <= threshold).float().mean())
            row[f"{name} AUROC"] = novelty.auroc(scores["val"], s)
        rows.append(row)
    return rows


def print_table(title: str, rows: list[dict]) -> None:
    keys = [k for k in rows[0] if k != "method"]
    print(f"\n{title}\n| method | " + " | ".join(keys) + " |\n|---|" + "---|" * len(keys))
    for row in rows:
        print(f"| {row['method']} | " + " | ".join(f"{row[k]:.3f}" for k in keys) + " |")


def main() -> int:
    from core.demo import probes
    from core.demo.probes import write_digit_folders
    from core.demo.story import demo_paths, demo_train_config, ensure_demo_data
    from core.demo.task import DEMO_CLASSES, DEMO_TEMPLATES
    from core.labelling.predictor import from_run, zero_shot
    from core.model.loading import ModelSpec, load_model
    from core.training.loop import train
    from core.training.runs import RunDir
    from core.weights.blend import open_run
    from core.weights.curve import best_alpha, run_curve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/novelty-bench"))
    parser.add_argument("--seeds", default="0")
    args = parser.parse_args()
    paths = demo_paths(ensure_demo_data(args.root / "data"))
    if not (args.root / "scenes").is_dir():
        probes.write_foreign_folder(args.root / "scenes", count=240)
    digits = write_digit_folders(args.root / "digits")["val"]
    classes = sorted(DEMO_CLASSES)
    sets = {"val": folder_samples(paths["val"], classes),
            **{p.name: folder_samples(p, classes) for p in paths["ood"]},
            "scenes": folder_samples(args.root / "scenes", classes), "digits": folder_samples(digits, classes)}
    train_samples = folder_samples(paths["train"], classes)
    loaded = load_model(ModelSpec("demo"))
    print_table("zero-shot (α = 0)", measure(zero_shot(loaded, classes, list(DEMO_TEMPLATES)), sets, train_samples))
    for seed in (int(s) for s in args.seeds.split(",")):
        run_dir = args.root / "runs" / f"flyp-seed{seed}"
        if not RunDir(run_dir).exists():
            train(demo_train_config(paths, "flyp", seed, device="cpu"), run_dir)
        best = best_alpha(run_curve(run_dir, "cpu"))["alpha"]
        blended = open_run(run_dir)
        for alpha in sorted({best, 1.0}):
            rows = measure(from_run(blended, alpha), sets, train_samples)
            print_table(f"FLYP seed {seed} at α = {alpha:g}", rows)
    print(f"\nload average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
