"""The embedded offline demo: a downstream task with a distribution shift, and the tiny CLIP.

Real CLIP weights cannot be assumed offline, so FLYP Studio ships its own small CLIP,
pretrained contrastively on the generated world of `core.demo.world` (`core.demo.pretrain`),
and a downstream task built from the same world: name the shape (12 classes, some of them
confusable: circle, octagon, hexagon; pentagon, hexagon). Pretraining sees mostly single
objects in photos and cartoons, and rarely clutter, sketches or paintings, as the web is to
CLIP. The task's training and validation images are photos of an object among clutter, next to
a *distractor*: another of the shapes, nearly as large, drawn flat like a print on a box. Such
photos are common in pretraining, distractors never seen: zero-shot often names the wrong shape
of the two, and finetuning learns which one is the object. The out-of-distribution sets are the
same kind of scenes drawn as sketches and paintings, styles pretraining saw rarely. A little of
what finetuning learns carries over to them (blends at α 0.2–0.4 beat zero-shot there), but
finetuning all the way forgets more of the other styles than it teaches (42% → 32% on the mean
of the two over three seeds), which blending the weights (WiSE-FT) keeps: the situation FLYP is
made for (benchmarks/README.md).

The distractor's size (`DISTRACTOR`, 0.85 of the object's) was chosen on ID data alone: among
0.6–1.0, the largest — finetuning's gain grows with it — whose zero-shot ID accuracy stays at
least 55% on the validation photos of four data seeds (benchmarks/README.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from core.demo import world
from core.atomic import atomic_path
from core.errors import Cancelled, FlypError

DEMO_CLASSES: tuple[str, ...] = world.SHAPES
ID_SCENES: dict = {"style": "photo", "clutter": "cluttered", "size": "large"}
OOD_SHIFTS: dict[str, dict] = {
    "sketch": {"style": "sketch", "clutter": "cluttered", "size": "large"},
    "painting": {"style": "painting", "clutter": "cluttered", "size": "large"},
}
DISTRACTOR = 0.85  # every split's distractor, as a fraction of the object's size (`world.render`)
IMAGE_SIZE = 64
MODEL_CONFIG: dict = {
    "embed_dim": 128,
    # A small ViT (LayerNorm, no BatchNorm: finetuning moves no running statistics that no loss
    # controls): 64 px in 8-pixel patches, width 128, 4 layers. Chosen among candidates on ID
    # zero-shot accuracy (benchmarks/README.md); 1.6–1.9× the per-image cost of the BatchNorm
    # ResNet it replaced, so `flyp demo` stays a few minutes on two CPU cores.
    "vision_cfg": {"image_size": IMAGE_SIZE, "patch_size": 8, "width": 128, "layers": 4, "head_width": 32},
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


def split_image(seed: int, split: str, classname: str, index: int, size: int = IMAGE_SIZE):
    """The `index`-th image of class `classname` in a demo split (a PIL RGB image).

    Each (seed, split, class) is its own stream of the world, so the splits never share an
    image and a split can be regenerated alone. Every split is a cluttered scene of a large
    object beside a distractor (`ID_SCENES`, `OOD_SHIFTS`, `DISTRACTOR`): photos for train and
    val, sketches and paintings for the shifts.
    """
    stream = f"demo:{seed}:{split}:{classname}"
    image, _, _ = world.example(stream, index, size, distractor=DISTRACTOR, shape=classname,
                                **split_scenes(split))
    return image


def demo_splits() -> list[str]:
    """The demo data's folder names: train, val, then one ood-<shift> per shift."""
    return ["train", "val", *(f"ood-{shift}" for shift in OOD_SHIFTS)]


PARALLEL_FROM = 400  # images: below this, starting processes costs more than it saves
CHUNK = 24  # images per job of a worker process (a fraction of a second each)


def write_demo_data(
    out_dir: str | os.PathLike,
    seed: int = 0,
    train_per_class: int = 100,
    val_per_class: int = 40,
    ood_per_class: int = 40,
    size: int = IMAGE_SIZE,
    progress: Callable[[int, int], None] = _no_progress,
    cancel: Callable[[], bool] = _never,
    workers: int | None = None,
) -> dict[str, int]:
    """Write the demo task as labelled folders: `<split>/<class>/<nnnn>.png`.

    Splits are `train` and `val` (photos of an object among clutter, and a distractor) and
    `ood-sketch`, `ood-painting` (the same kind of scenes as sketches and paintings: the shifts);
    class folders are the shape names, so zero-shot captions work as they are. Each file is
    written atomically; rerunning rewrites the same pixels. Every image is drawn alone from its
    own stream, so `workers` processes draw them side by side, with the same pixels as one: by
    default one per free core for large sets where processes can be forked safely, else one.
    Returns the number of images per split. Raises Cancelled when `cancel()` turns true.
    """
    counts = {"train": train_per_class, "val": val_per_class}
    counts.update({split: ood_per_class for split in demo_splits()[2:]})
    out = Path(out_dir)
    jobs = [(split, classname, index) for split, per_class in counts.items()
            for classname in DEMO_CLASSES for index in range(per_class)]
    chunks = [jobs[i:i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    if workers is None:
        workers = _free_cores() if len(jobs) >= PARALLEL_FROM and _forks_safely() else 1
    done = 0

    def stop_if_cancelled():
        if cancel():
            raise Cancelled(f"demo data cancelled after {done} of {len(jobs)} images in {out}")

    if workers <= 1:
        for chunk in chunks:
            for job in chunk:
                stop_if_cancelled()
                done += _write_images(out, seed, size, [job])
                progress(done, len(jobs))
    else:
        import multiprocessing
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            pending = {pool.submit(_write_images, out, seed, size, chunk) for chunk in chunks}
            try:
                while pending:
                    finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    for future in finished:
                        done += future.result()
                        progress(done, len(jobs))
                    stop_if_cancelled()
            finally:
                for future in pending:
                    future.cancel()
    return {split: per_class * len(DEMO_CLASSES) for split, per_class in counts.items()}


def _write_images(out: Path, seed: int, size: int, jobs: list[tuple[str, str, int]]) -> int:
    """Draw and write the demo images `jobs` ((split, class, index) each); return how many."""
    for split, classname, index in jobs:
        image = split_image(seed, split, classname, index, size)
        with atomic_path(out / split / classname / f"{index:04d}.png") as tmp:
            image.save(tmp, format="PNG")
    return len(jobs)


def _forks_safely() -> bool:
    """Whether worker processes can be forked from this one: a POSIX system, no other thread (the
    app's, a library's) whose locks a child would inherit held, PyTorch not loaded."""
    import sys
    import threading

    return os.name == "posix" and threading.active_count() == 1 and "torch" not in sys.modules


def _free_cores() -> int:
    """The cores no other process keeps busy now (at least one)."""
    from core.cpu_waiting import busy_cores

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, round(cores - (busy_cores(cores=cores) or 0.0)))


ZERO_SHOT_TEMPLATES = ("a photo of a {}.",)  # the model's recorded profile (zero_shot.json)
# The demo task's captions (its runs and project): the world's phrasings for what the photos show.
# On ID validation every set tried is within 0.8 points (4 of 480 photos) of the best, one plain
# "a photo of a {}." (57.7%; these three 57.3%, benchmarks/README.md); several keep FLYP's
# captions from being CE's single label per class.
DEMO_TEMPLATES = ("a photo of a {}.", "a photo of a large {}.", "a photo of a {} among clutter.")


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
