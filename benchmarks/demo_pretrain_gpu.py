"""Pretrain candidate demo models side by side on one GPU, and pick one on ID data alone.

    python benchmarks/demo_pretrain_gpu.py --out /tmp/candidates --budget-s 240

Renders one pool of world images (all CPU cores), then trains every candidate of CANDIDATES in
its own process on the same GPU for about `--budget-s` seconds (the number of steps is fixed
after a short calibration, so the learning-rate schedule is a plain warmup + cosine that
`flyp demo pretrain --steps N --device cuda` repeats). Each candidate is written as an open_clip
folder with its stats, and its zero-shot accuracy measured on 40 images per class of every
demo split. With `--finetune`, each candidate is then finetuned as `flyp demo` finetunes the
shipped model (FLYP, the demo's settings and captions, on its training photos) and its best ID
validation accuracy recorded: the headroom finetuning has, which the demo issue asks to be at
least 15 points. The choice uses the ID validation split only (RULE below, fixed before any
run); the sketch and painting figures are printed, never used.

The `-p4` candidates cut the same 64-pixel images into 4-pixel patches (256 tokens instead of
64): the shipped model's small shapes span only 2–3 of its 8-pixel patches, which is where its
finetuning stalls (benchmarks/README.md). Measured training speed on the 2-core CPU (batch 256):
the shipped vit128 (8-px patches) 278 images/s, vit64-p4 122, vit128-p4 47 — `flyp demo`'s four
finetunings (2 min 47 s today, under 3 minutes asked) grow with it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from core.demo import pretrain  # noqa: E402
from core.demo.task import MODEL_CONFIG, measure_zero_shot  # noqa: E402

VIT = {"image_size": 64, "patch_size": 8, "head_width": 32}
CANDIDATES = {  # name: (vision tower, share of cluttered views)
    "vit96-c03": ({**VIT, "width": 96, "layers": 4}, 0.03),
    "vit96-c10": ({**VIT, "width": 96, "layers": 4}, 0.10),
    "vit96-c25": ({**VIT, "width": 96, "layers": 4}, 0.25),
    "vit128-c10": ({**VIT, "width": 128, "layers": 4}, 0.10),
    "vit128-p4-c10": ({**VIT, "patch_size": 4, "width": 128, "layers": 4}, 0.10),
    "vit64-p4-c10": ({**VIT, "patch_size": 4, "width": 64, "layers": 4}, 0.10),
    "convnext-c10": ({"timm_model_name": "test_convnext3", "timm_model_pretrained": False, "timm_pool": "avg",
                      "timm_proj": "linear", "image_size": 64}, 0.10),
}
RULE = ("zero-shot ID (val, 40 per class) within [55%, 80%]; among those, with --finetune, the largest gain of "
        "FLYP's best ID validation accuracy over zero-shot (to the point), then a ViT before the ConvNeXt, the "
        "narrower ViT first, then the ID closest to 67.5%; if none is in range, the ID closest to the range")


def choose(results: dict) -> str:
    def key(name: str):
        accuracy = results[name]["zero_shot_40"]["val"]
        outside = max(0.0, 0.55 - accuracy, accuracy - 0.80)
        gain = results[name].get("finetune", {}).get("gain", 0.0)
        vision = CANDIDATES[name][0]
        return (outside, -round(gain, 2), "timm_model_name" in vision, vision.get("width", 0), abs(accuracy - 0.675))
    return min(results, key=key)


def finetune_gain(model_dir: Path, out: Path, device: str) -> dict:
    """FLYP on the demo's training photos from `model_dir`, as `flyp demo` runs it from the shipped
    model: the zero-shot and best ID validation accuracy (the OOD folders are not given to the run)."""
    import dataclasses

    from core.demo.story import demo_paths, demo_train_config, ensure_demo_data
    from core.training.loop import train

    paths = demo_paths(ensure_demo_data(out / "demo-data"))
    config = dataclasses.replace(demo_train_config(paths, "flyp", seed=0, device=device),
                                 model=f"local-dir:{model_dir}", ood_dirs=[])
    info = train(config, out / f"{model_dir.name}-flyp")
    zero_shot, best = info["zeroshot"]["id"]["accuracy"], info["best"]["id_accuracy"]
    return {"zero_shot": zero_shot, "best": best, "gain": best - zero_shot, "seconds": info.get("seconds")}


def train_candidate(name: str, pool_file: Path, out: Path, budget_s: float, batch_size: int, lr: float,
                    seed: int, device: str, finetune: bool) -> None:
    import torch

    vision, clutter = CANDIDATES[name]
    config = {**MODEL_CONFIG, "vision_cfg": vision}
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // len(CANDIDATES)))  # the candidates share the cores
    pool = pretrain.Pool(**torch.load(pool_file, weights_only=True))
    started = time.perf_counter()
    calibration = 100
    timing = pretrain.pretrain_demo_model(out / f"{name}-calibration", seed=seed, steps=calibration,
                                          batch_size=batch_size, lr=lr, clutter=clutter, device=device,
                                          model_config=config, pool=pool, measure_per_class=1)
    per_step = timing["train_s"] / calibration  # training alone: start-up and measuring come once more below
    overhead = time.perf_counter() - started - timing["train_s"]
    steps = max(500, int((budget_s - (time.perf_counter() - started) - overhead) / per_step / 100) * 100)
    stats = pretrain.pretrain_demo_model(out / name, seed=seed, steps=steps, batch_size=batch_size, lr=lr,
                                         clutter=clutter, device=device, model_config=config, pool=pool)
    stats["zero_shot_40"] = measure_zero_shot(out / name, seed=1, per_class=40)["accuracy"]
    if finetune:
        stats["finetune"] = finetune_gain(out / name, out, device)
    (out / f"{name}.stats.json").write_text(json.dumps(stats, indent=1))
    shutil.rmtree(out / f"{name}-calibration")
    print(name, "steps", steps, "zero-shot (40/class)", stats["zero_shot_40"], "finetuned", stats.get("finetune"),
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--budget-s", type=float, default=240, help="training time per candidate (they run at once)")
    parser.add_argument("--pool-size", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda", help="cpu for a dry run")
    parser.add_argument("--only", nargs="*", default=list(CANDIDATES))
    parser.add_argument("--finetune", action="store_true", help="also finetune each candidate on the demo (ID only)")
    parser.add_argument("--candidate", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pool_file = args.out / "pool.pt"
    if args.candidate:
        train_candidate(args.candidate, pool_file, args.out, args.budget_s, args.batch_size, args.lr, args.seed,
                        args.device, args.finetune)
        return
    import torch

    started = time.perf_counter()
    pool = pretrain.render_pool(args.seed, args.pool_size, os.cpu_count() or 1)
    torch.save({"images": pool.images, "tokens": pool.tokens, "cluttered": pool.cluttered}, pool_file)
    print(f"pool of {args.pool_size} rendered and saved in {time.perf_counter() - started:.0f} s", flush=True)
    children = [subprocess.Popen([sys.executable, __file__, "--candidate", name, "--out", str(args.out),
                                  "--budget-s", str(args.budget_s), "--batch-size", str(args.batch_size),
                                  "--lr", str(args.lr), "--seed", str(args.seed), "--device", args.device,
                                  *(["--finetune"] if args.finetune else [])]) for name in args.only]
    for child in children:
        child.wait()
    pool_file.unlink()
    results = {}
    for name in args.only:
        stats_file = args.out / f"{name}.stats.json"
        if stats_file.is_file():
            results[name] = json.loads(stats_file.read_text())
    for name, stats in results.items():
        z = stats["zero_shot_40"]
        print(f"{name}: {stats['steps']} steps in {stats['train_s']:.0f} s, final loss {stats['loss_every_50_steps'][-1]:.3f}, "
              f"zero-shot ID {z['val']:.1%} | sketch {z['ood-sketch']:.1%} | painting {z['ood-painting']:.1%}"
              + (f" | FLYP on the demo: ID {stats['finetune']['zero_shot']:.1%} → {stats['finetune']['best']:.1%}"
                 if "finetune" in stats else ""))
    chosen = choose(results) if results else None
    print(f"rule: {RULE}\nchosen: {chosen}")
    (args.out / "selection.json").write_text(json.dumps({"rule": RULE, "chosen": chosen, "results": {
        name: {k: stats[k] for k in ("zero_shot_40", "zero_shot", "steps", "train_s", "clutter", "vision_cfg", "finetune")
               if k in stats}
        for name, stats in results.items()}}, indent=1))


if __name__ == "__main__":
    main()
