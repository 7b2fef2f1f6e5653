"""FLYP on a GPU end to end: real JPEG folders through the engine, against its step alone.

    python benchmarks/gpu_end_to_end.py                              # ViT-B-16, bf16, 4,096 JPEGs
    python benchmarks/gpu_end_to_end.py --compile                    # with torch.compile
    python benchmarks/gpu_end_to_end.py --model flyp-tiny --device cpu --images 128 --batch-size 16 --epochs 2  # dry run

Writes a folder of 640×480 JPEGs (benchmarks/train_speed.py's), trains on it with `flyp train`'s
own code (the decode-once image cache built in the first epoch, DataLoader workers of the
engine's choice, the towers under the engine's autocast), and reports the images/s of the last
epoch (the cache warm: what a long run sees) beside the images/s of the same step on tensors
already on the GPU (`benchmarks/gpu_step.py`, run in the same session). The two should be within
10%: more means the input pipeline, not the GPU, sets the pace. With two GPUs, run the same
training under `torchrun --standalone --nproc_per_node=2 -m core.cli train …` (NCCL) too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from train_speed import TEMPLATES, make_data, model_name  # noqa: E402


def end_to_end(args) -> dict:
    """Images/s of the engine's last training epoch (evaluation excluded)."""
    from core.training.config import TrainConfig
    from core.training.loop import train

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FLYP_CACHE_DIR"] = tmp  # a cold image cache: the first epoch builds it
        config = TrainConfig(train_dir=args.data, model=model_name(args.model), pretrained="none", epochs=args.epochs,
                             batch_size=args.batch_size, val_fraction=0.02, templates=TEMPLATES, device=args.device,
                             compile=args.compile, evals_per_epoch=1)
        steps: list[float] = []
        train(config, Path(tmp) / "run", on_event=lambda e: e["type"] == "step" and steps.append(time.perf_counter()))
    per_epoch = len(steps) // args.epochs
    last = steps[-per_epoch:]  # the last epoch, cache warm (its first step's wait is the epoch boundary)
    return {"last_epoch_images_s": (len(last) - 1) * args.batch_size / (last[-1] - last[0]), "steps": len(steps)}


def step_only(args) -> dict:
    command = [sys.executable, str(HERE / "gpu_step.py"), "--model", model_name(args.model), "--batch-size",
               str(args.batch_size), "--device", args.device, "--json"] + (["--compile"] if args.compile else [])
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ViT-B-16")
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--data", default=None)
    args = parser.parse_args()
    args.data = str(make_data(Path(args.data or Path(tempfile.gettempdir()) / f"flyp-bench-{args.images}"), args.images))
    whole, step = end_to_end(args), step_only(args)
    ratio = whole["last_epoch_images_s"] / step["images_s"]
    print(f"model {args.model}, {args.images} JPEGs 640×480, batch {args.batch_size}, {args.device}, "
          f"compile {args.compile}, {os.cpu_count()} CPU threads, load {os.getloadavg()[0]:.2f}")
    print(f"end to end (last epoch, cache warm): {whole['last_epoch_images_s']:.0f} images/s")
    print(f"step only (gpu_step.py):             {step['images_s']:.0f} images/s, MFU {step['mfu'] or float('nan'):.0%}")
    print(f"end to end / step only:              {ratio:.2f} (within 10% is the goal)")


if __name__ == "__main__":
    main()
