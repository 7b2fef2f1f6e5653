"""Label checks on the full demo folders with the demo model: how well the figures in
`core/checks/labels.py` and `core/checks/duplicates.py` hold, over several seeds.

- flipped labels (the demo project's captions): 5% of the 1,200 training images filed under another class at random; the share
  of them in the first 2× (number flipped) of the suspicious list, per seed;
- near-duplicates: the highest thumbnail similarity between two distinct demo images (train,
  validation and both different-conditions folders: 2,640), and the share of 100 planted copies
  (resized ×1.5, recompressed as JPEG quality 70, or shrunk to 48 px and saved as JPEG quality 80)
  found at the default threshold.

    python benchmarks/label_checks.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    import torch
    from PIL import Image

    from core.checks import duplicates
    from core.checks.report import check_folders
    from core.data.folders import scan_folder
    from core.demo.task import DEMO_TEMPLATES, write_demo_data
    from core.labelling.predictor import zero_shot
    from core.model.feature_cache import FeatureCache, all_features
    from core.model.loading import ModelSpec, load_model
    from test_checks import flipped_copy

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["FLYP_CACHE_DIR"] = str(root / "cache")
        write_demo_data(root / "demo", seed=0)
        classes = scan_folder(root / "demo" / "train", verify=False).classes
        predictor = zero_shot(load_model(ModelSpec("demo", None), "cpu"), classes, list(DEMO_TEMPLATES))
        held = []
        for seed in range(args.seeds):
            flipped = flipped_copy(root / "demo" / "train", root / f"flipped-{seed}", seed)
            report = check_folders(root / f"flipped-{seed}", predictor)
            top = {s.path for s in report.suspicious[:2 * len(flipped)]}
            held.append(len(top & flipped) / len(flipped))
            print(f"seed {seed}: {held[-1]:.0%} of the flipped images in the first {2 * len(flipped)} "
                  f"({len(report.suspicious)} listed)")
        print(f"flipped labels found: mean {statistics.mean(held):.1%} (min {min(held):.0%}, max {max(held):.0%})")

        files = sorted((root / "demo").rglob("*.png"))
        thumbs = duplicates.Thumbnails()
        x = torch.stack([i.features for i in all_features(files, thumbs, cache=FeatureCache(thumbs.key))])
        sims = x @ x.T
        sims.fill_diagonal_(-1)
        print(f"highest similarity between two distinct demo images: {sims.max():.4f} "
              f"(threshold {duplicates.THRESHOLD})")
        picks = random.Random(0).sample(files, 100)
        copies = []
        for i, path in enumerate(picks):
            image = Image.open(path).convert("RGB")
            copy = root / "planted" / f"{i}.{'png' if i % 3 == 0 else 'jpg'}"
            copy.parent.mkdir(exist_ok=True)
            if i % 3 == 0:
                image.resize((image.width * 3 // 2,) * 2, Image.BICUBIC).save(copy)
            elif i % 3 == 1:
                image.save(copy, quality=70)
            else:
                image.resize((48, 48), Image.BILINEAR).save(copy, quality=80)
            copies.append(copy)
        y = torch.stack([i.features for i in all_features(copies, thumbs)])
        found = ((y * x[[files.index(p) for p in picks]]).sum(dim=1) >= duplicates.THRESHOLD).float().mean()
        print(f"planted copies found: {found:.0%}")
        shutil.rmtree(root / "planted")


if __name__ == "__main__":
    main()
