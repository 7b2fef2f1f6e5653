"""FLYP training speed: the engine against a plain reference loop, measured side by side.

The reference loop is written the plain way the official FLYP code works: an open_clip model,
every image decoded and resized with PIL every epoch, captions tokenized every step (77
positions), a standard DataLoader (2 workers), fp32. Both loops train the same model on the
same generated folder of 640×480 JPEGs, each in its own process (so peak memory is its own).

    python benchmarks/train_speed.py --model tiny           # the demo-sized CLIP, 64 px
    python benchmarks/train_speed.py --model ViT-B-32 --images 96 --phases idle

Each phase runs both loops: `idle` (nothing else running) and `busy` (beside one spinning `yes`,
as a browser or a second job would be). Prints images/s end to end (data loading included,
evaluation excluded) and the engine/reference ratio per phase with the load average before it,
then per-step compute, peak memory, and the training step's achieved FLOP/s as a share of this
machine's measured fp32 matrix-multiply peak. `--engine-env NAME=VALUE` runs the engine again
under that environment too (e.g. OMP_WAIT_POLICY=PASSIVE), beside the default, for comparisons.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

TINY = {  # flyp-spec §8: 64 px, width 128, 4 + 4 layers
    "embed_dim": 128,
    "vision_cfg": {"image_size": 64, "layers": 4, "width": 128, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 128, "heads": 2, "layers": 4},
}
TEMPLATES = ["a photo of a {}.", "a blurry photo of a {}.", "a close-up photo of the {}.", "art of the {}."]
CLASSES = ["cat", "dog", "car", "tree", "boat", "house", "bird", "flower"]


def model_name(model: str) -> str:
    if model != "tiny":
        return model
    import open_clip

    path = Path(tempfile.gettempdir()) / "flyp-bench-tiny.json"
    path.write_text(json.dumps(TINY))
    open_clip.add_model_config(path)
    return "flyp-bench-tiny"


def make_data(folder: Path, count: int) -> Path:
    """`count` realistic 640×480 JPEGs (noise, gradients, shapes) in class folders."""
    from PIL import Image, ImageDraw, ImageFilter

    marker = folder / f".done-{count}"
    if marker.exists():
        return folder
    rng = random.Random(0)
    for i in range(count):
        cls = CLASSES[i % len(CLASSES)]
        (folder / cls).mkdir(parents=True, exist_ok=True)
        image = Image.effect_noise((640, 480), 60).convert("RGB")
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x, y = rng.randrange(640), rng.randrange(480)
            draw.ellipse((x, y, x + rng.randrange(40, 200), y + rng.randrange(40, 200)),
                         fill=tuple(rng.randrange(256) for _ in range(3)))
        image.filter(ImageFilter.GaussianBlur(1)).save(folder / cls / f"{i:05d}.jpg", quality=90)
    marker.touch()
    return folder


# ---- the reference loop (official-code style) -------------------------------------------------

def reference(args) -> dict:
    import open_clip
    import torch
    from PIL import Image

    name = model_name(args.model)
    model, preprocess_train, _ = open_clip.create_model_and_transforms(name, pretrained=None)
    tokenizer = open_clip.get_tokenizer(name)
    files = sorted(Path(args.data).rglob("*.jpg"))

    class Folder(torch.utils.data.Dataset):
        def __len__(self):
            return len(files)

        def __getitem__(self, i):
            image = preprocess_train(Image.open(files[i]).convert("RGB"))
            return image, random.choice(TEMPLATES).format(files[i].parent.name)

    loader = torch.utils.data.DataLoader(Folder(), batch_size=args.batch_size, shuffle=True, num_workers=2,
                                         drop_last=True)
    loss_fn = open_clip.ClipLoss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.1)
    model.train()
    start, images, step_time = time.perf_counter(), 0, 0.0
    for _ in range(args.epochs):
        for pixels, captions in loader:
            step_start = time.perf_counter()
            tokens = tokenizer(list(captions))
            image_features = model.encode_image(pixels, normalize=True)
            text_features = model.encode_text(tokens, normalize=True)
            loss = loss_fn(image_features, text_features, model.logit_scale.exp())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step_time += time.perf_counter() - step_start
            images += len(pixels)
    return {"images": images, "seconds": time.perf_counter() - start, "step_seconds": step_time}


# ---- the engine ----------------------------------------------------------------------------

def engine(args) -> dict:
    from core.training.config import TrainConfig
    from core.training.loop import train

    name = model_name(args.model)
    marks = {}

    def on_event(event):
        if event["type"] == "status" and event["message"].startswith("Preparing training"):
            marks["start"] = time.perf_counter()
        elif event["type"] == "eval" and event["step"] > 0:
            marks["eval"] = marks.get("eval", 0.0) + event["seconds"]
        elif event["type"] == "step":
            marks.update(end=time.perf_counter(), images=marks.get("images", 0) + args.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FLYP_CACHE_DIR"] = tmp  # a cold image cache: building it counts
        config = TrainConfig(train_dir=args.data, model=name, pretrained="none", epochs=args.epochs,
                             batch_size=args.batch_size, val_fraction=0.05, templates=TEMPLATES,
                             workers=args.workers, device="cpu")
        train(config, Path(tmp) / "run", on_event=on_event)
    return {"images": marks["images"], "seconds": marks["end"] - marks["start"] - marks.get("eval", 0.0)}


# ---- per-step compute, FLOP/s and the machine's peak -------------------------------------------

def step_compute(args) -> dict:
    import open_clip
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from core.model.fast_text import encode_text
    from core.training.losses import contrastive_loss

    name = model_name(args.model)
    model = open_clip.create_model(name, pretrained=None).train()
    tokenizer = open_clip.get_tokenizer(name)
    size = model.visual.image_size[0] if isinstance(model.visual.image_size, tuple) else model.visual.image_size
    pixels = torch.randn(args.batch_size, 3, size, size)
    tokens = tokenizer([random.choice(TEMPLATES).format(random.choice(CLASSES)) for _ in range(args.batch_size)])
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    loss_fn = open_clip.ClipLoss()

    def plain():
        loss = loss_fn(model.encode_image(pixels, normalize=True), model.encode_text(tokens, normalize=True),
                       model.logit_scale.exp())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def fast():
        image = F.normalize(model.encode_image(pixels), dim=-1)
        text = F.normalize(encode_text(model, tokens), dim=-1)
        loss = contrastive_loss(image, text, model.logit_scale.exp())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    def timed(fn, repeats):
        fn()
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        return (time.perf_counter() - start) / repeats

    repeats = args.step_repeats
    times = {"reference_step_s": timed(plain, repeats), "engine_step_s": timed(fast, repeats)}
    with FlopCounterMode(display=False) as counter:
        fast()
    a = torch.randn(2048, 2048)
    mm = timed(lambda: torch.mm(a, a), 10)
    return times | {"engine_step_flops": counter.get_total_flops(), "peak_flops": 2 * 2048 ** 3 / mm}


def run_child(kind: str, args, env: dict | None = None) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--model", args.model, "--data", args.data,
               "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
               "--step-repeats", str(args.step_repeats)] + (["--workers", str(args.workers)] if args.workers is not None else [])
    out = subprocess.run(command, capture_output=True, text=True, check=True, env={**os.environ, **(env or {})}).stdout
    return json.loads(out.strip().splitlines()[-1])


def rate(result: dict) -> float:
    return result["images"] / result["seconds"]


def phase(name: str, args, variants: dict[str, dict]) -> dict[str, dict]:
    """Both loops (and each engine variant) in one phase: `idle`, or beside a spinning `yes`."""
    busy = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) if name == "busy" else None
    try:
        if busy:
            time.sleep(2)  # the spinner is running before anything is measured
        load = os.getloadavg()[0]
        results = {"reference": run_child("reference", args)}
        for label, env in variants.items():
            results[label] = run_child("engine", args, env)
    finally:
        if busy:
            busy.kill()
            busy.wait()
    results["load"] = load
    return results


def print_phases(phases: dict[str, dict], variants: dict[str, dict]) -> None:
    print(f"{'':<34}{'reference':>11}" + "".join(f" {label:>{max(21, len(label))}}" for label in variants))
    for name, results in phases.items():
        ref = rate(results["reference"])
        cells = "".join(f" {f'{rate(results[label]):.1f} ({rate(results[label]) / ref:.2f}×)':>{max(21, len(label))}}"
                        for label in variants)
        title = f"{name}, load {results['load']:.2f} before, images/s"
        print(f"{title:<34}{ref:>11.1f}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="tiny (demo-sized) or an open_clip architecture")
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=None,
                        help="engine DataLoader workers (default: the engine's own choice; reference: 2)")
    parser.add_argument("--step-repeats", type=int, default=5)
    parser.add_argument("--data", default=None)
    parser.add_argument("--phases", default="idle,busy", help="idle, busy (beside a spinning yes), or both")
    parser.add_argument("--engine-env", action="append", default=[], metavar="NAME=VALUE",
                        help="also run the engine under these variables, comma-separated (repeatable: one variant each)")
    parser.add_argument("--child", choices=["reference", "engine", "step"])
    args = parser.parse_args()
    if args.child:
        result = {"reference": reference, "engine": engine, "step": step_compute}[args.child](args)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result["children_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(json.dumps(result))
        return
    args.data = str(make_data(Path(args.data or Path(tempfile.gettempdir()) / f"flyp-bench-{args.images}"), args.images))
    variants = {"engine": {}} | {f"engine {spec}": dict(pair.split("=", 1) for pair in spec.split(","))
                                 for spec in args.engine_env}
    phases = {name: phase(name, args, variants) for name in args.phases.split(",")}
    step = run_child("step", args)
    ref, eng = next(iter(phases.values()))["reference"], next(iter(phases.values()))["engine"]
    flops = step["engine_step_flops"] / step["engine_step_s"]
    print(f"model {args.model}, {args.images} JPEGs 640×480, {args.epochs} epochs, batch {args.batch_size}, "
          f"{os.cpu_count()} CPU threads")
    print_phases(phases, variants)
    print(f"{'':<28}{'reference':>12}{'engine':>12}{'ratio':>8}")
    print(f"{'step only, images/s':<28}{args.batch_size / step['reference_step_s']:>12.1f}"
          f"{args.batch_size / step['engine_step_s']:>12.1f}{step['reference_step_s'] / step['engine_step_s']:>8.2f}")
    print(f"{'peak memory, MB (+workers)':<28}{ref['peak_rss_mb']:>7.0f}+{ref['children_peak_rss_mb']:<4.0f}"
          f"{eng['peak_rss_mb']:>7.0f}+{eng['children_peak_rss_mb']:<4.0f}")
    print(f"engine step: {flops / 1e9:.1f} GFLOP/s = {flops / step['peak_flops']:.0%} of the measured "
          f"fp32 matmul peak ({step['peak_flops'] / 1e9:.0f} GFLOP/s, 2048² torch.mm)")


if __name__ == "__main__":
    main()
