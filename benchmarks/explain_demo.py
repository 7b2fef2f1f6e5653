"""Where the model looked, measured on the demo world, which knows where it drew every object:
the share of correctly classified validation photos whose heat-map peak falls on the object (not
on the distractor or the clutter), and on pictures of two shapes side by side, how often naming
each class moves the peak onto that shape — for each heat-map rule (`core.trust.explain.VIT_RULES`).

    .venv/bin/python benchmarks/explain_demo.py --run /tmp/explain26-demo/runs/flyp-seed0 [--alpha A]
        [--per-class 10] [--rules occlusion,grad_x_activation]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def peak_on(mask, peak, margin: int = 2) -> bool:
    """Whether `peak` ([x, y]) is on the mask, or within `margin` pixels of it (the map's 8-pixel cells)."""
    import numpy as np

    m = np.asarray(mask) > 127
    x, y = peak
    return bool(m[max(0, y - margin):y + margin + 1, max(0, x - margin):x + margin + 1].any())


def measure_photos(explainer, rule: str | None = None, seed: int = 0, per_class: int = 10) -> dict:
    """{"correct", "object", "distractor"}: the correctly classified validation photos, and the
    shares of them whose peak is on the object, and on the distractor (not the object)."""
    from core.demo import probes
    from core.demo.task import DEMO_CLASSES
    from core.trust.explain import explain

    on_object = on_distractor = correct = 0
    for name in DEMO_CLASSES:
        for index in range(per_class):
            layers = probes.located_split_image(seed, "val", name, index)
            e = explain(explainer, layers.image, rule=rule)
            if e.class_name != name:
                continue
            correct += 1
            on_object += peak_on(layers.object, e.peak)
            on_distractor += peak_on(layers.distractor, e.peak) and not peak_on(layers.object, e.peak)
    return {"correct": correct, "object": on_object / max(1, correct), "distractor": on_distractor / max(1, correct)}


def recognised_halves(explainer, pairs) -> list[bool]:
    """For each (left, right) pair's picture, whether the model names both halves shown alone."""
    from core.demo import probes
    from core.trust.explain import explain

    known = []
    for seed, (left, right) in enumerate(pairs):
        image, _, _ = probes.side_by_side(left, right, seed=seed)
        named = [explain(explainer, half).class_name for half in probes.halves(image)]
        known.append(named == [left, right])
    return known


def measure_pairs(explainer, pairs, rule: str | None = None) -> dict:
    """{"pairs", "moved", "left", "right"}: over side-by-side pictures of `pairs`, how many put the
    peak on the named object for both names (moved), for the left one and for the right one."""
    from core.demo import probes
    from core.trust.explain import explain

    moved, left_ok, right_ok = [], 0, 0
    for seed, (left, right) in enumerate(pairs):
        image, left_mask, right_mask = probes.side_by_side(left, right, seed=seed)
        on_left = peak_on(left_mask, explain(explainer, image, left, rule=rule).peak)
        on_right = peak_on(right_mask, explain(explainer, image, right, rule=rule).peak)
        moved.append(on_left and on_right)
        left_ok, right_ok = left_ok + on_left, right_ok + on_right
    return {"pairs": len(pairs), "moved": sum(moved), "left": left_ok, "right": right_ok, "each": moved}


def main() -> int:
    from core.demo import probes
    from core.trust.explain import VIT_RULE, VIT_RULES, open_explainer
    from core.weights.curve import best_alpha, run_curve

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--alpha", type=float)
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--rules", default=",".join(VIT_RULES))
    args = parser.parse_args()
    alpha = args.alpha if args.alpha is not None else best_alpha(run_curve(args.run))["alpha"]
    explainer = open_explainer(args.run, alpha)
    pairs = probes.shape_pairs()
    known = recognised_halves(explainer, pairs)
    print(f"α = {alpha:g}; {len(pairs)} side-by-side pictures, both halves named right alone in {sum(known)}")
    print("| rule | peak on the object | on the distractor | `--class` moves the peak (both names) "
          "| left name | right name | among pictures whose halves it names |")
    print("|---|---|---|---|---|---|---|")
    for rule in args.rules.split(","):
        photos = measure_photos(explainer, rule, per_class=args.per_class)
        side = measure_pairs(explainer, pairs, rule)
        among = sum(m and k for m, k in zip(side["each"], known))
        name = f"**{rule}**" if rule == VIT_RULE else rule
        print(f"| {name} | {photos['object']:.1%} of {photos['correct']} | {photos['distractor']:.1%} "
              f"| {side['moved']} of {side['pairs']} | {side['left']} | {side['right']} | {among} of {sum(known)} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
