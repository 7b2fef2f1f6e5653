"""The embedded offline demo: a downstream task with a distribution shift, and the tiny CLIP.

Real CLIP weights cannot be assumed offline, so FLYP Studio ships its own small CLIP,
pretrained contrastively on the generated world of `core.demo.world` (every shape, colour, style and
background), and a downstream task built from the same world: classify the shape. The
training and validation images are photos on plain or gradient backgrounds taken with a worn
camera (faded, soft, grainy) that pretraining never saw, so zero-shot accuracy on them is
modest and finetuning has something to learn. The out-of-distribution sets are clean
sketches and paintings on patterned backgrounds, which the pretrained model knows well but
the finetuning data do not show: finetuning on the photos alone loses some of that
knowledge, and blending the weights (WiSE-FT) keeps it, the situation FLYP is made for.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Callable

from core.demo import world
from core.atomic import atomic_path, save_safetensors, write_json
from core.errors import Cancelled, FlypError

DEMO_CLASSES: tuple[str, ...] = world.SHAPES
ID_SCENES: dict = {"style": "photo", "background": ("plain", "gradient")}
OOD_SHIFTS: dict[str, dict] = {
    "sketch": {"style": "sketch"},
    "painting": {"style": "painting", "background": ("striped", "dotted", "checkered")},
}
# How strongly the demo user's camera degrades its photos (see `worn_camera`).
CAMERA: dict[str, float] = {"fade": 0.55, "flatten": 0.25, "blur": 0.5, "grain": 0.15}
IMAGE_SIZE = 64
MODEL_CONFIG: dict = {
    "embed_dim": 128,
    # A ResNet tower (CLIP's "RN" design, tiny): on this data it learns shapes in a few
    # hundred steps where a ViT of the same cost stayed near chance (measured, 2 CPU cores).
    "vision_cfg": {"image_size": IMAGE_SIZE, "layers": [1, 1, 1, 1], "width": 16},
    # The token table is vocab × width (49408 × 64 ≈ 3.2 M of the 4.8 M parameters): a narrow
    # text tower keeps the shipped fp16 file small; the world has fewer than 100 words.
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 4},
}
PREPROCESS_CONFIG: dict = {
    "size": IMAGE_SIZE,
    "mean": [0.48145466, 0.4578275, 0.40821073],
    "std": [0.26862954, 0.26130258, 0.27577711],
    "interpolation": "bicubic",
    "resize_mode": "shortest",
}
DEFAULT_STEPS = 2500


def _no_progress(done: int, total: int) -> None:
    pass


def _never() -> bool:
    return False


# --- the downstream task --------------------------------------------------------------------

def split_scenes(split: str) -> dict:
    """The scene attributes of a demo split: "train", "val" or "ood-<shift>"."""
    if split in ("train", "val"):
        return dict(ID_SCENES)
    shift = split.removeprefix("ood-")
    if not split.startswith("ood-") or shift not in OOD_SHIFTS:
        known = ", ".join(["train", "val", *(f"ood-{s}" for s in OOD_SHIFTS)])
        raise FlypError(f"unknown demo split {split!r}; known splits: {known}")
    return dict(OOD_SHIFTS[shift])


def worn_camera(image, rng: random.Random, strength: float = 1.0):
    """The demo user's camera: faded colours, low contrast, soft focus and grain.

    Pretraining never saw it, so the pretrained model's zero-shot accuracy on its photos is
    modest, as a real CLIP's is on camera-trap or microscope images; finetuning learns it.
    Each photo varies a little around `CAMERA` (scaled by `strength`, 0 = untouched); the
    blur is in pixels of a 64-pixel image and scales with the image.
    """
    from PIL import Image, ImageChops, ImageEnhance, ImageFilter

    def amount(name: str) -> float:
        return CAMERA[name] * strength * rng.uniform(0.8, 1.2)

    image = ImageEnhance.Color(image).enhance(1 - amount("fade"))
    image = ImageEnhance.Contrast(image).enhance(1 - amount("flatten"))
    image = image.filter(ImageFilter.GaussianBlur(amount("blur") * image.width / IMAGE_SIZE))
    grain = Image.frombytes("L", image.size, rng.randbytes(image.width * image.height))
    scale = amount("grain")
    grain = grain.point(lambda v: int(128 + (v - 128) * scale)).convert("RGB")
    return ImageChops.add(image, grain, offset=-128)


def split_image(seed: int, split: str, classname: str, index: int, size: int = IMAGE_SIZE):
    """The `index`-th image of class `classname` in a demo split (a PIL RGB image).

    Each (seed, split, class) is its own stream of the world, so the splits never share an
    image and a split can be regenerated alone. Train and val photos go through the
    user's `worn_camera`; the shifted sets are clean scans of sketches and paintings.
    """
    stream = f"demo:{seed}:{split}:{classname}"
    image, _, _ = world.example(stream, index, size, shape=classname, **split_scenes(split))
    if split in ("train", "val"):
        image = worn_camera(image, random.Random(f"{stream}:camera:{index}"))
    return image


def demo_splits() -> list[str]:
    """The demo data's folder names: train, val, then one ood-<shift> per shift."""
    return ["train", "val", *(f"ood-{shift}" for shift in OOD_SHIFTS)]


def write_demo_data(
    out_dir: str | os.PathLike,
    seed: int = 0,
    train_per_class: int = 100,
    val_per_class: int = 40,
    ood_per_class: int = 40,
    size: int = IMAGE_SIZE,
    progress: Callable[[int, int], None] = _no_progress,
    cancel: Callable[[], bool] = _never,
) -> dict[str, int]:
    """Write the demo task as labelled folders: `<split>/<class>/<nnnn>.png`.

    Splits are `train` and `val` (photos on plain or gradient backgrounds, taken with the
    user's `worn_camera`) and `ood-sketch`, `ood-painting` (clean sketches and paintings on
    patterned backgrounds: the shifts); class folders are the shape names, so zero-shot
    captions work as they are. Each file is written atomically; rerunning rewrites the same pixels.
    Returns the number of images per split. Raises Cancelled when `cancel()` turns true.
    """
    counts = {"train": train_per_class, "val": val_per_class}
    counts.update({split: ood_per_class for split in demo_splits()[2:]})
    total = sum(counts.values()) * len(DEMO_CLASSES)
    done = 0
    out = Path(out_dir)
    for split, per_class in counts.items():
        for classname in DEMO_CLASSES:
            for index in range(per_class):
                if cancel():
                    raise Cancelled(f"demo data cancelled after {done} of {total} images in {out}")
                image = split_image(seed, split, classname, index, size)
                with atomic_path(out / split / classname / f"{index:04d}.png") as tmp:
                    image.save(tmp, format="PNG")
                done += 1
                progress(done, total)
    return {split: per_class * len(DEMO_CLASSES) for split, per_class in counts.items()}


ZERO_SHOT_TEMPLATES = ("a photo of a {}.",)


def zero_shot_accuracy(model, tokenizer, preprocess, split: str, seed: int = 0, per_class: int = 40,
                       templates: tuple[str, ...] = ZERO_SHOT_TEMPLATES) -> float:
    """Top-1 zero-shot accuracy of an open_clip model on a demo split, drawn in memory.

    Uses the first `per_class` images of each class of `split` for `seed` (the same images
    `write_demo_data` writes), classified against open_clip's zero-shot head for `templates`.
    """
    import open_clip
    import torch

    model.eval()
    with torch.no_grad():
        head = open_clip.build_zero_shot_classifier(model, tokenizer, DEMO_CLASSES, templates,
                                                    num_classes_per_batch=None, device="cpu")
        correct = 0
        for label, classname in enumerate(DEMO_CLASSES):
            images = torch.stack([preprocess(split_image(seed, split, classname, i)) for i in range(per_class)])
            features = model.encode_image(images, normalize=True)
            correct += int(((features @ head).argmax(dim=1) == label).sum())
    return correct / (per_class * len(DEMO_CLASSES))


def measure_zero_shot(model_dir: str | os.PathLike, seed: int = 1, per_class: int = 10,
                      templates: tuple[str, ...] = ZERO_SHOT_TEMPLATES) -> dict:
    """Load `model_dir` with plain open_clip and measure zero-shot accuracy on every eval split.

    Returns the sample's description and one accuracy per split ("val", "ood-…"), the
    record `zero_shot.json` keeps beside the shipped weights for the tests to reproduce.
    """
    import open_clip

    name = f"local-dir:{Path(model_dir)}"
    model, _, preprocess = open_clip.create_model_and_transforms(name)
    tokenizer = open_clip.get_tokenizer(name)
    accuracy = {split: zero_shot_accuracy(model, tokenizer, preprocess, split, seed, per_class, templates)
                for split in demo_splits()[1:]}
    return {"seed": seed, "per_class": per_class, "templates": list(templates), "accuracy": accuracy}


# --- pretraining ----------------------------------------------------------------------------

GROUP = 4  # pool images come in groups that differ only in shape (and size, position)


def _pool_example(seed: int, index: int, size: int):
    """The `index`-th pretraining image: a member of a group sharing colour, style, background.

    Colour and style are easy to see; a random batch can be matched to its captions by them
    alone, and the model would learn shapes last. A batch made of whole groups can only be
    matched by also reading the shapes, which the downstream task is about.
    """
    group = random.Random(f"demo-pool:{seed}:{index // GROUP}")
    shared = world.sample_scene(group)
    shape = group.sample(world.SHAPES, GROUP)[index % GROUP]
    return world.example(seed, index, size, shape=shape, colour=shared.colour,
                         style=shared.style, background=shared.background)


def _render_chunk(job: tuple[int, int, int, int]) -> tuple[bytes, list[world.Scene]]:
    """Render pool examples [start, start + count) as raw RGB bytes (runs in a worker)."""
    seed, start, count, size = job
    pixels, scenes = io.BytesIO(), []
    for index in range(start, start + count):
        image, _, scene = _pool_example(seed, index, size)
        pixels.write(image.tobytes())
        scenes.append(scene)
    return pixels.getvalue(), scenes


def _render_pool(seed: int, count: int, size: int, workers: int, report: Callable[[int], None],
                 cancel: Callable[[], bool]):
    """Render `count` world images into a uint8 N×3×S×S tensor, with their scenes.

    Rendering costs about as much as a training step per image, so it is done once, in
    parallel, and the pool is reused for several epochs with fresh captions each time.
    """
    import concurrent.futures
    import multiprocessing

    import torch

    chunk = 500
    jobs = [(seed, start, min(chunk, count - start), size) for start in range(0, count, chunk)]
    images, scenes = torch.empty((count, 3, size, size), dtype=torch.uint8), []
    # Like torch's DataLoader: fork on Linux (the workers only run Pillow, never torch);
    # spawn elsewhere, where the caller's script needs the usual `if __name__ == "__main__"`.
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with contextlib.ExitStack() as stack:
        pool = None
        if workers > 1:
            pool = stack.enter_context(concurrent.futures.ProcessPoolExecutor(workers, mp_context=context))
        for pixels, chunk_scenes in (pool.map if pool else map)(_render_chunk, jobs):
            if cancel():
                if pool:  # drop the queued chunks rather than wait for them
                    pool.shutdown(wait=False, cancel_futures=True)
                raise Cancelled("demo pretraining cancelled while rendering its images")
            chunk_images = torch.frombuffer(bytearray(pixels), dtype=torch.uint8).view(-1, size, size, 3)
            images[len(scenes):len(scenes) + len(chunk_scenes)] = chunk_images.permute(0, 3, 1, 2)
            scenes.extend(chunk_scenes)
            report(len(chunk_scenes))
    return images, scenes


def _param_groups(model, weight_decay: float) -> list[dict]:
    """open_clip's grouping: no decay on gains, biases and the temperature."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        skip = p.ndim < 2 or "bn" in name or "ln" in name or "bias" in name or "logit_scale" in name
        (no_decay if skip else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def _lr_at(step: int, steps: int, lr: float, warmup: int) -> float:
    """Linear warmup, then cosine decay to zero."""
    if step < warmup:
        return lr * (step + 1) / warmup
    return 0.5 * lr * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))


def normalise(images, mean=PREPROCESS_CONFIG["mean"], std=PREPROCESS_CONFIG["std"]):
    """uint8 N×3×H×W → float, normalised exactly as open_clip's preprocessing does."""
    import torch

    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    return (images.float() / 255 - m) / s


def _train(model, images, scenes, seed: int, steps: int, batch_size: int, lr: float,
           report: Callable[[int], None], cancel: Callable[[], bool]) -> list[float]:
    """Contrastive pretraining on the pool; each view of an image gets a fresh caption."""
    import open_clip
    import torch

    from core.training.losses import contrastive_loss

    tokenizer = open_clip.SimpleTokenizer(context_length=MODEL_CONFIG["text_cfg"]["context_length"])
    optimizer = torch.optim.AdamW(_param_groups(model, 0.1), lr=lr, betas=(0.9, 0.98), eps=1e-6)
    order = torch.Generator().manual_seed(seed)
    groups, per_batch = len(scenes) // GROUP, batch_size // GROUP
    permutation, cursor, losses = torch.randperm(groups, generator=order), 0, []
    warmup = max(1, steps // 20)
    model.train()
    for step in range(steps):
        if cancel():
            raise Cancelled(f"demo pretraining cancelled at step {step} of {steps}")
        if cursor + per_batch > groups:  # a new epoch: a new order of whole groups
            permutation, cursor = torch.randperm(groups, generator=order), 0
        index = (permutation[cursor:cursor + per_batch, None] * GROUP + torch.arange(GROUP)).flatten()
        cursor += per_batch
        rng = random.Random(f"demo-pretrain:{seed}:{step}")
        texts = tokenizer([world.describe(scenes[i], rng) for i in index.tolist()])
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, steps, lr, warmup)
        image_features, text_features, logit_scale = model(normalise(images[index]), texts)
        loss = contrastive_loss(image_features, text_features, logit_scale)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # as open_clip's trainer: the scale stays at most 100
            model.logit_scale.clamp_(0, math.log(100))
        losses.append(loss.item())
        report(batch_size)
    model.eval()
    return losses


def save_model_dir(model, out_dir: str | os.PathLike) -> None:
    """Write an open_clip local-dir folder: `open_clip_config.json` + fp16 safetensors.

    fp16 halves the shipped file; open_clip copies the weights into fp32 parameters on load.
    Integer buffers (batch-norm step counters) keep their type.
    """
    out = Path(out_dir)
    state = {k: v.detach().half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    save_safetensors(state, out / "open_clip_model.safetensors", metadata={"format": "pt"})
    write_json(out / "open_clip_config.json", {"model_cfg": MODEL_CONFIG, "preprocess_cfg": PREPROCESS_CONFIG})


def _load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the system has none): other work slows pretraining."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _machine() -> dict:
    """Where a pretraining ran: the weights depend on the torch build, the time on the machine."""
    import platform

    import open_clip
    import torch

    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "system": platform.system(),
            "device": "cpu, one torch thread", "python": platform.python_version(), "torch": torch.__version__,
            "open_clip": open_clip.__version__}


def pretrain_demo_model(
    out_dir: str | os.PathLike,
    seed: int = 0,
    steps: int = DEFAULT_STEPS,
    batch_size: int = 128,
    pool_size: int = 40_000,
    lr: float = 1e-3,
    workers: int | None = None,
    measure_per_class: int = 10,
    progress: Callable[[int, int], None] = _no_progress,
    cancel: Callable[[], bool] = _never,
) -> dict:
    """Pretrain the demo CLIP from `seed` and write it to `out_dir` as an open_clip local-dir.

    Random init, then `steps` AdamW steps (warmup + cosine) of CLIP's contrastive loss on
    (image, caption) pairs of the world, `pool_size` images rendered once and re-captioned at
    every view. Training runs on one thread, so the same seed and steps give the same weights
    on any machine with the same torch build. The folder also
    gets `zero_shot.json`: the model's zero-shot accuracy per demo split on a small sample
    (`measure_per_class` images per class), which the tests reproduce. progress(done, total)
    counts images rendered plus images trained on. Returns losses, timings and accuracies.
    Raises Cancelled when `cancel()` turns true (nothing is written then).
    With the defaults it took 14.5 minutes on an idle 2-core machine (65 s rendering, 0.32 s
    per step); rendering the pool peaks at about 1.2 GB of memory.
    """
    import open_clip
    import torch

    if steps < 1 or batch_size < 2 * GROUP or pool_size < batch_size or batch_size % GROUP or pool_size % GROUP:
        raise FlypError(f"pretraining needs steps ≥ 1, pool_size ≥ batch_size ≥ {2 * GROUP}, both multiples "
                        f"of {GROUP} (got steps={steps}, batch_size={batch_size}, pool_size={pool_size})")
    total, done = pool_size + steps * batch_size, 0

    def report(n: int) -> None:
        nonlocal done
        done += n
        progress(done, total)

    load_before = _load_average()
    started = time.perf_counter()
    images, scenes = _render_pool(seed, pool_size, IMAGE_SIZE, workers or os.cpu_count() or 1, report, cancel)
    rendered = time.perf_counter()
    torch.manual_seed(seed)
    model = open_clip.CLIP(**MODEL_CONFIG)
    threads = torch.get_num_threads()
    # One thread: the weights then depend on the seed only, not on how many cores split each
    # reduction; and for a model this small one thread was faster than two (measured).
    torch.set_num_threads(1)
    try:
        losses = _train(model, images, scenes, seed, steps, batch_size, lr, report, cancel)
    finally:
        torch.set_num_threads(threads)
    trained = time.perf_counter()
    save_model_dir(model, out_dir)
    zero_shot = measure_zero_shot(out_dir, per_class=measure_per_class)
    write_json(Path(out_dir) / "zero_shot.json", zero_shot)
    return {
        "zero_shot": zero_shot["accuracy"],
        "seed": seed, "steps": steps, "batch_size": batch_size, "pool_size": pool_size, "lr": lr,
        "render_s": rendered - started, "train_s": trained - rendered,
        "made_on": _machine(), "load_average": {"before": load_before, "after": _load_average()},
        "first_loss": losses[0], "final_loss": sum(losses[-50:]) / len(losses[-50:]), "losses": losses,
    }
