"""`flyp predict` speed: a folder classified in batches against one image at a time.

Makes a bundle and a folder of images once (under the temporary folder), then:
- start-up: `flyp predict BUNDLE one-image` in a fresh process (importing torch and open_clip,
  loading the bundle), three times;
- the folder classified four ways in this process, alternating, each `--repeats` times (median):
  *as before* (one file at a time, every pixel decoded by the exact transform: `flyp predict`
  when the issue asking for batches was filed), *one at a time* (`Bundle.predict` per file, with
  today's decoding), *--batch-size 1* (`classify_files` one file per batch, what `flyp predict
  --batch-size 1` runs) and *batched* (`classify_files` at `--batch-size`, what `flyp predict`
  runs), counting the images whose class differs from one at a time (none should);
- where the time goes: decoding alone (exact, and the fast path) and the model alone.

Models: `demo` (a bundle of a one-epoch FLYP run of the demo) or an open_clip architecture with
random weights (`ViT-B-32`: no download; a zero-shot head over the demo's classes). Images: the
demo's own 64-pixel PNGs (`--photos none`), or JPEG photos of `--photos W×H` made from them.

    python benchmarks/predict_speed.py [--model demo] [--images 3000] [--photos none|1600x1200]
                                       [--batch-size 64] [--repeats 2]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
FOLDER = Path(tempfile.gettempdir()) / "flyp-bench-predict"


def demo_folder() -> Path:
    """Where the demo's data, run, bundle and photos are kept: a folder per version of the demo model."""
    from core.model.loading import demo_model_dir

    digest = hashlib.blake2b(digest_size=8)
    for file in sorted(demo_model_dir().iterdir()):
        digest.update(file.read_bytes())
    return FOLDER / f"demo-{digest.hexdigest()}"


def demo_images(count: int) -> list[Path]:
    """`count` of the demo's images (its three folders, cycled when more are asked for)."""
    from core.demo.story import demo_paths, ensure_demo_data

    paths = demo_paths(ensure_demo_data(demo_folder() / "data"))
    found = sorted(p for d in [paths["val"], *paths["ood"], paths["train"]] for p in Path(d).rglob("*.png"))
    return [found[i % len(found)] for i in range(count)]


def photo_folder(count: int, size: tuple[int, int]) -> list[Path]:
    """`count` JPEG photos of `size`: demo images enlarged, with a camera's grain (so they
    compress like photos rather than like flat drawings), made once."""
    from PIL import Image

    folder = demo_folder() / f"photos-{size[0]}x{size[1]}"
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"{i:05d}.jpg" for i in range(count)]
    grain = Image.effect_noise(size, 24).convert("RGB")
    for source, file in zip(demo_images(count), files):
        if not file.is_file():
            picture = Image.open(source).convert("RGB").resize(size, Image.Resampling.BICUBIC)
            Image.blend(picture, grain, 0.15).save(file, quality=90)
    return files


def demo_bundle() -> Path:
    """A bundle of a one-epoch FLYP run of the demo, made once."""
    from core.demo.story import DEMO_SETTINGS, demo_paths, ensure_demo_data
    from core.export.write import export_bundle
    from core.training.config import TrainConfig
    from core.training.loop import train
    from core.weights.blend import open_run

    bundle = demo_folder() / "bundle"
    if not (bundle / "flyp.json").is_file():
        paths = demo_paths(ensure_demo_data(demo_folder() / "data"))
        run = demo_folder() / "runs" / "flyp-1epoch"
        if not (run / "run.json").is_file():
            config = TrainConfig(train_dir=str(paths["train"]), val_dir=str(paths["val"]),
                                 ood_dirs=[str(p) for p in paths["ood"]], model="demo", device="cpu",
                                 **(DEMO_SETTINGS | {"epochs": 1}))
            train(config, run)
        export_bundle(open_run(run, "best", "cpu"), bundle)
    return bundle


def random_bundle(architecture: str) -> Path:
    """A bundle of `architecture` with random weights and a zero-shot head over the demo's
    classes, written by the exporter's own writer (made once)."""
    from core.demo.task import DEMO_CLASSES
    from core.export import write
    from core.model.classifier import Classifier
    from core.model.loading import ModelSpec, load_model

    bundle = FOLDER / f"bundle-{architecture}"
    if not (bundle / "flyp.json").is_file():
        loaded = load_model(ModelSpec(architecture, "none"))
        classes = list(DEMO_CLASSES)
        run = SimpleNamespace(
            classifier=Classifier(loaded, classes, ["a photo of a {}."]), alpha=1.0, run=SimpleNamespace(path=bundle),
            info={"model": {"spec": loaded.spec.to_json(), "open_clip_name": loaded.open_clip_name},
                  "classes": classes, "config": {"method": "none (random weights)"}})
        staging = Path(tempfile.mkdtemp(dir=FOLDER))
        write._write(run, staging, {})
        shutil.rmtree(bundle, ignore_errors=True)
        staging.rename(bundle)
    return bundle


def start_up(bundle: Path, image: Path) -> float:
    """Seconds of `flyp predict BUNDLE IMAGE` in a fresh process (the median of three)."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "core.cli", "predict", str(bundle), str(image)], cwd=ROOT, check=True,
                       capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def where_time_goes(bundle, images: list[Path]) -> list[str]:
    """Decoding alone (one thread) the exact way and the fast way, and the model alone on one
    image per call and on batches of 64, in ms per image."""
    import torch

    from core.data.images import load_rgb
    from core.data.transforms import eval_file, eval_image

    size = bundle.info["preprocess"]["size"]
    size = size if isinstance(size, int) else size[0]
    sample = images[:min(len(images), 200)]

    def per_image(fn, items) -> float:
        fn(items[:8])
        start = time.perf_counter()
        fn(items)
        return 1000 * (time.perf_counter() - start) / len(items)

    exact = per_image(lambda items: [eval_image(load_rgb(p), size) for p in items], sample)
    fast = per_image(lambda items: [eval_file(p, size) for p in items], sample)
    pixels = torch.stack([eval_file(p, size) for p in sample[:64]])
    one = per_image(lambda items: [bundle.logits(items[i:i + 1]) for i in range(len(items))], pixels)
    many = per_image(lambda items: bundle.logits(items), pixels)
    return [f"decoding alone, one thread: exact {exact:.2f} ms per image, fast path (flyp predict's) {fast:.2f} ms",
            f"the model alone: {one:.2f} ms per image one at a time, {many:.2f} ms in a batch of {len(pixels)}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo", help="demo, or an open_clip architecture (random weights)")
    parser.add_argument("--images", type=int, default=3000)
    parser.add_argument("--photos", default="none", help="none (the demo's 64-pixel PNGs) or W×H JPEG photos")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import torch

    from core.data.images import load_rgb
    from core.data.transforms import eval_image
    from core.export.bundle import load_bundle
    from core.model.classifier import top_k
    from core.labelling.classify import classify_files
    from core.labelling.predictor import from_bundle

    bundle_dir = demo_bundle() if args.model == "demo" else random_bundle(args.model)
    if args.photos == "none":
        images = demo_images(args.images)
    else:
        images = photo_folder(args.images, tuple(int(v) for v in args.photos.lower().replace("×", "x").split("x")))
    load_before = os.getloadavg()[0]
    startup = start_up(bundle_dir, images[0])
    bundle = load_bundle(bundle_dir, "cpu")
    predictor = from_bundle(bundle)

    def classify(batch_size):
        return [p.label for batch in classify_files(images, predictor, batch_size=batch_size) for p in batch]

    def as_before(path):
        """One file the way `flyp predict` classified it when the issue was filed: the exact
        transform (every pixel decoded), the model on one image."""
        pixels = eval_image(load_rgb(path), size, bundle.info["preprocess"].get("interpolation", "bicubic"))
        return top_k(bundle.logits(pixels[None]), bundle.class_names, 1)[0][0][0]

    size = bundle.info["preprocess"]["size"]
    size = size if isinstance(size, int) else size[0]
    batched = f"batched ({args.batch_size})"
    ways = {"as before": lambda: [as_before(path) for path in images],
            "one at a time": lambda: [bundle.predict([path], 3)[0][0][0] for path in images],
            "--batch-size 1": lambda: classify(1), batched: lambda: classify(args.batch_size)}
    times, answers = {name: [] for name in ways}, {}
    for _ in range(args.repeats):
        for name, way in ways.items():
            start = time.perf_counter()
            answers[name] = way()
            times[name].append(time.perf_counter() - start)
    parts = where_time_goes(bundle, images)
    print(f"model {args.model} ({bundle_dir}), {len(images)} images "
          f"({'the demo PNGs, 64 px' if args.photos == 'none' else 'JPEG ' + args.photos}), "
          f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs, "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"start-up of flyp predict (one image, fresh process): {startup:.2f} s")
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, seconds in medians.items():
        same = sum(a == b for a, b in zip(answers[name], answers["one at a time"]))
        print(f"{name:>16}: {seconds:7.2f} s  {1000 * seconds / len(images):7.2f} ms per image  "
              f"{len(images) / seconds:7.1f} images/s  (the class of one at a time for {same} of {len(images)})")
    print(f"speed-up of batched: {medians['as before'] / medians[batched]:.1f}× over as before, "
          f"{medians['one at a time'] / medians[batched]:.1f}× over one at a time, "
          f"{medians['--batch-size 1'] / medians[batched]:.1f}× over --batch-size 1")
    print(f"with start-up, for {len(images)} images: as before {startup + medians['as before']:.1f} s, one at a time {startup + medians['one at a time']:.1f} s, "
          f"--batch-size 1 {startup + medians['--batch-size 1']:.1f} s, batched {startup + medians[batched]:.1f} s")
    print("\n".join(parts))


if __name__ == "__main__":
    main()
