"""Blend page speed: the α curve against the forward passes it needs, and the Try page's re-evaluation.

Uses a FLYP run of the demo model on the demo folders (trained for one epoch unless --run
names a finished run, e.g. one written by `flyp demo`).

    python benchmarks/blend_speed.py
    python benchmarks/blend_speed.py --run ~/.local/share/FLYP\\ Studio/demo/runs/flyp-seed0

Prints:
- the α curve (11 points, ID + OOD sets) and the bare forward passes of the same images at
  fixed weights, 11 times: their ratio is the curve's work beyond the forward passes
  (blending the weights, the text head, the metrics);
- the Try page: re-classifying 8 images at a new α (blend the weights, encode, softmax).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def demo_run(folder: Path) -> Path:
    from core.training.config import TrainConfig
    from core.demo.story import DEMO_SETTINGS, demo_paths, ensure_demo_data
    from core.training.loop import train

    run = folder / "runs" / "flyp-1epoch"
    if not (run / "run.json").is_file():
        paths = demo_paths(ensure_demo_data(folder / "data"))
        config = TrainConfig(train_dir=str(paths["train"]), val_dir=str(paths["val"]),
                             ood_dirs=[str(p) for p in paths["ood"]], model="demo", device="cpu",
                             **(DEMO_SETTINGS | {"epochs": 1}))
        train(config, run)
    return run


def timed(fn, repeats: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a finished run (default: a one-epoch FLYP run of the demo, made once)")
    parser.add_argument("--try-images", type=int, default=8)
    args = parser.parse_args()

    import torch

    from core.weights.blend import alpha_curve, open_run, run_eval_sets
    from core.weights.curve import CURVE_ALPHAS

    run = Path(args.run) if args.run else demo_run(Path(tempfile.gettempdir()) / "flyp-bench-blend")
    opened = time.perf_counter()
    blended = open_run(run, "best", "cpu")
    open_s = time.perf_counter() - opened
    decode_s = timed(lambda: run_eval_sets(blended.info))
    sets = run_eval_sets(blended.info)
    images = sum(len(s) for s in sets.values())
    classifier = blended.classifier

    def forward_passes():
        return [classifier.features(s) for s in sets.values()]

    forward_passes()  # warm-up: the first pass sets up the kernels
    forward_s = timed(forward_passes, 3) * len(CURVE_ALPHAS)
    curve_s = timed(lambda: alpha_curve(blended, sets, CURVE_ALPHAS))
    blend_s = timed(lambda: (blended.set_alpha(0.37), classifier.text_head()), 5)

    few = next(iter(sets.values())).pixels[:args.try_images]
    rates = []
    for alpha in (0.2, 0.4, 0.6, 0.8, 0.5, 0.3, 0.7, 0.9):
        def reclassify(alpha=alpha):
            blended.set_alpha(alpha)
            with torch.inference_mode():
                classifier.logits_from_features(classifier.features(few)).softmax(-1)
        rates.append(timed(reclassify))

    print(f"run {run} ({blended.info['model']['spec']['name']} model, {len(classifier.class_names)} classes), "
          f"torch threads {torch.get_num_threads()}")
    print(f"open the run (model + both ends of the blend): {open_s:.2f} s; decode {images} evaluation images "
          f"once: {decode_s:.2f} s")
    print(f"α curve, {len(CURVE_ALPHAS)} points × {len(sets)} sets ({images} images): {curve_s:.2f} s; "
          f"the forward passes alone: {forward_s:.2f} s; ratio {curve_s / forward_s:.2f} "
          f"(blending the weights + text head: {blend_s * 1000:.0f} ms per point)")
    print(f"Try page, {len(few)} images at a new α: median {statistics.median(rates) * 1000:.0f} ms, "
          f"max {max(rates) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
