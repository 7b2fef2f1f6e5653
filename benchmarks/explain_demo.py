"""Where the model looked, measured on the demo world, which knows where it drew every object:
the share of correctly classified validation photos whose heat-map peak falls on the object (not
on the distractor or the clutter), and on pictures of two shapes side by side, how often naming
each class moves the peak onto that shape.

    .venv/bin/python benchmarks/explain_demo.py --run /tmp/novelty-bench/runs/flyp-seed0 [--alpha A] [--per-class 10]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def peak_on(mask, peak, margin: int = 2) -> bool:
    """Whether `peak` ([x, y]) is on the mask, or within `margin` pixels of it (the map's 8-pixel cells)."""
    import numpy as np

    m = np.asarray(mask) > 127
    x, y = peak
    return bool(m[max(0, y - margin):y + margin + 1, max(0, x - margin):x + margin + 1].any())


def measure(explainer, seed: int = 0, per_class: int = 10) -> dict:
    """{"object", "distractor", "correct"} shares over the correctly classified validation photos, and
    {"moved", "pairs"} over side-by-side pictures."""
    from core.demo import probes
    from core.demo.task import DEMO_CLASSES
    from core.trust.explain import explain

    on_object = on_distractor = correct = 0
    for name in DEMO_CLASSES:
        for index in range(per_class):
            layers = probes.located_split_image(seed, "val", name, index)
            e = explain(explainer, layers.image)
            if e.class_name != name:
                continue
            correct += 1
            on_object += peak_on(layers.object, e.peak)
            on_distractor += peak_on(layers.distractor, e.peak) and not peak_on(layers.object, e.peak)
    moved = pairs = 0
    shapes = list(DEMO_CLASSES)
    for i, left in enumerate(shapes):
        right = shapes[(i + 5) % len(shapes)]
        image, left_mask, right_mask = probes.side_by_side(left, right, seed=i)
        pairs += 1
        moved += (peak_on(left_mask, explain(explainer, image, left).peak)
                  and peak_on(right_mask, explain(explainer, image, right).peak))
    return {"correct": correct, "object": on_object / max(1, correct), "distractor": on_distractor / max(1, correct),
            "pairs": pairs, "moved": moved / pairs}


def main() -> int:
    from core.trust.explain import open_explainer
    from core.weights.curve import best_alpha, run_curve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--alpha", type=float)
    parser.add_argument("--per-class", type=int, default=10)
    args = parser.parse_args()
    alpha = args.alpha if args.alpha is not None else best_alpha(run_curve(args.run))["alpha"]
    result = measure(open_explainer(args.run, alpha), per_class=args.per_class)
    print(f"α = {alpha:g}: {result['correct']} correctly classified validation photos; peak on the object "
          f"{result['object']:.1%}, on the distractor {result['distractor']:.1%}; side by side, naming each class "
          f"puts the peak on it in {result['moved']:.1%} of {result['pairs']} pictures "
          f"(load average {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
