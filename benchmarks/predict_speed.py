"""`flyp predict` speed: classifying a folder in batches against the old one-image-at-a-time path.

Uses a bundle exported from a one-epoch FLYP run of the demo model (made once under the temporary
folder, unless --bundle names one) and classifies the demo's validation and different-conditions
images (1,200 files) both ways, alternating, in one process:
- per image: decode, preprocess and run the model on one image at a time (what `flyp predict`
  did before it classified in batches; `Bundle.predict([path])`);
- batched: `core.labelling.classify.classify_files` (files read and decoded in threads while the
  model encodes the previous batch), as `flyp predict` runs now.

    python benchmarks/predict_speed.py [--bundle BUNDLE] [--batch-size 64] [--repeats 2]
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


def demo_bundle(folder: Path) -> tuple[Path, list[Path]]:
    """A bundle of a one-epoch FLYP run of the demo, and the demo images it has not trained on."""
    from core.demo.story import DEMO_SETTINGS, demo_paths, ensure_demo_data
    from core.export.write import export_bundle
    from core.training.config import TrainConfig
    from core.training.loop import train
    from core.weights.blend import open_run

    paths = demo_paths(ensure_demo_data(folder / "data"))
    images = sorted(p for d in [paths["val"], *paths["ood"]] for p in Path(d).rglob("*.png"))
    bundle = folder / "bundle"
    if not (bundle / "flyp.json").is_file():
        run = folder / "runs" / "flyp-1epoch"
        if not (run / "run.json").is_file():
            config = TrainConfig(train_dir=str(paths["train"]), val_dir=str(paths["val"]),
                                 ood_dirs=[str(p) for p in paths["ood"]], model="demo", device="cpu",
                                 **(DEMO_SETTINGS | {"epochs": 1}))
            train(config, run)
        export_bundle(open_run(run, "best", "cpu"), bundle)
    return bundle, images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", help="a bundle folder (default: the demo's, made once)")
    parser.add_argument("--images", nargs="*", help="image files (default: the demo's evaluation images)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import torch

    from core.export.bundle import load_bundle
    from core.labelling.classify import classify_files
    from core.labelling.predictor import from_bundle

    folder = Path(tempfile.gettempdir()) / "flyp-bench-predict"
    bundle_dir, images = demo_bundle(folder) if not args.bundle else (Path(args.bundle), [])
    images = [Path(p) for p in args.images] if args.images else images
    bundle = load_bundle(bundle_dir, "cpu")
    predictor = from_bundle(bundle)

    def per_image():
        return [bundle.predict([path], 3)[0][0][0] for path in images]

    def batched():
        return [p.label for batch in classify_files(images, predictor, batch_size=args.batch_size) for p in batch]

    assert per_image()[:64] == batched()[:64]  # warm-up, and the same answers both ways
    times = {"per image": [], "batched": []}
    for _ in range(args.repeats):
        for name, fn in (("per image", per_image), ("batched", batched)):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    one, many = statistics.median(times["per image"]), statistics.median(times["batched"])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{len(images)} images, bundle {bundle_dir}, torch threads {torch.get_num_threads()}, "
          f"load average {load:.1f}")
    print(f"per image: {one:.2f} s ({1000 * one / len(images):.1f} ms per image)")
    print(f"batched ({args.batch_size} per batch): {many:.2f} s ({1000 * many / len(images):.1f} ms per image)")
    print(f"speed-up: {one / many:.1f}×")


if __name__ == "__main__":
    main()
