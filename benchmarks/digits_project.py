"""A second project for `benchmarks/calibration_demo.py`: scikit-learn's handwritten digits as
`train/` and `val/` (`core.demo.probes.write_digit_folders`), the validation digits turned by 90°
as the different-conditions folder `ood-rotated/`, and a FLYP run of the demo model on them with
the demo's settings.

    .venv/bin/python benchmarks/digits_project.py --root /tmp/digits-project [--seed 0]
    .venv/bin/python benchmarks/calibration_demo.py --run /tmp/digits-project/runs/flyp-seed0 --alpha 1 --no-digits
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from PIL import Image

    from core.demo.probes import write_digit_folders
    from core.demo.story import DEMO_SETTINGS
    from core.training.config import TrainConfig
    from core.training.loop import train

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("/tmp/digits-project"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folders = write_digit_folders(args.root)
    rotated = args.root / "ood-rotated"
    for path in sorted(folders["val"].rglob("*.png")):
        out = rotated / path.parent.name / path.name
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.open(path).rotate(90).save(out)
    config = TrainConfig(train_dir=str(folders["train"]), val_dir=str(folders["val"]), ood_dirs=[str(rotated)],
                         model="demo", method="flyp", templates=["a photo of the digit {}."], device="cpu",
                         **(DEMO_SETTINGS | {"seed": args.seed}))
    train(config, args.root / "runs" / f"flyp-seed{args.seed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
