"""Demo images for checking trust in a prediction: where things are, and what the task is not.

The world knows where it drew every object, so the demo can measure whether a heat map points
at the object (`located_split_image`), and whether naming a class moves it onto that object
(`side_by_side`: two objects, one in each half); it can draw scenes that hold none of the
12 shapes (`write_foreign_folder`: the clutter and backgrounds of the task's photos, no object),
the "none of these classes" a model must recognise; and it can write a control task the shapes
project never trains (`write_colour_control`: the object's colour), to measure what finetuning
on shapes made the model forget. `write_digit_folders`: scikit-learn's handwritten digits as class
folders, another set of images none of the shapes.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Callable

from PIL import Image

from core.atomic import atomic_path
from core.demo import world
from core.demo.task import DEMO_CLASSES, DISTRACTOR, IMAGE_SIZE, split_scenes
from core.errors import Cancelled, FlypError
from core.progress import no_cancel, no_progress

COLOUR_CLASSES: tuple[str, ...] = tuple(world.COLOURS)
SIDE_BY_SIDE_SIZE = "small"  # each object of `side_by_side`: a small one fills a half as a large one a photo
# Captions for the colour control: each colour named on every shape, the way the world's captions
# name colours ("a photo of a red star"), averaged by the zero-shot head.
COLOUR_TEMPLATES: tuple[str, ...] = tuple(f"a photo of a {{}} {shape}." for shape in world.SHAPES)


def located_split_image(seed: int, split: str, classname: str, index: int, size: int = IMAGE_SIZE) -> world.Layers:
    """The demo split's image (the same pixels as `core.demo.task.split_image`) with the masks of
    its object and its distractor."""
    layers, _, _ = world.example_layers(f"demo:{seed}:{split}:{classname}", index, size, distractor=DISTRACTOR,
                                        shape=classname, **split_scenes(split))
    return layers


def side_by_side(left: str, right: str, seed: int = 0,
                 size: int = IMAGE_SIZE) -> tuple[Image.Image, Image.Image, Image.Image]:
    """A photo of two different shapes, `left` in the left half and `right` in the right half:
    (image, left mask, right mask). Each half is the middle of a photo of the world drawn as the
    task draws its validation photos (photo style, any of its backgrounds, a colour of its own),
    holding one object as large as fits in the half — as large, for the half, as the task's
    objects are for a whole photo; `halves(image)` shown alone, the model sees it at that scale.
    No clutter: the other object is the only thing beside it."""
    rng = random.Random(f"flyp-pair:{seed}:{left}:{right}")
    colours = rng.sample(COLOUR_CLASSES, 2)
    image, masks = Image.new("RGB", (size, size)), []
    half = size // 2
    for k, (shape, colour) in enumerate(((left, colours[0]), (right, colours[1]))):
        scene = world.Scene(shape, colour, SIDE_BY_SIDE_SIZE, "middle", rng.choice(world.BACKGROUNDS), "photo")
        layers = world.render_layers(scene, size, random.Random(rng.random()))
        box = (half // 2, 0, half // 2 + half, size)
        image.paste(layers.image.crop(box), (k * half, 0))
        mask = Image.new("L", (size, size), 0)
        mask.paste(layers.object.crop(box), (k * half, 0))
        masks.append(mask)
    return image, masks[0], masks[1]


def halves(image: Image.Image) -> tuple[Image.Image, Image.Image]:
    """The left and right halves of a `side_by_side` picture, each to be shown alone."""
    w, h = image.size
    return image.crop((0, 0, w // 2, h)), image.crop((w // 2, 0, w, h))


def shape_pairs(offsets: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)) -> list[tuple[str, str]]:
    """Ordered pairs of different shapes: each shape on the left with the one `offset` places on in
    `DEMO_CLASSES`, for each offset (all 132 by default; (5,) gives 12, each shape once per side)."""
    shapes = list(DEMO_CLASSES)
    return [(shapes[i], shapes[(i + k) % len(shapes)]) for k in offsets for i in range(len(shapes))]


def foreign_image(seed: int, index: int, size: int = IMAGE_SIZE) -> Image.Image:
    """A photo like the task's (background, clutter) with none of the shapes in it."""
    rng = random.Random(f"flyp-foreign:{seed}:{index}")
    scene = world.sample_scene(rng, **split_scenes("val"))
    return world.render_layers(scene, size, rng, empty=True).image


def write_foreign_folder(out_dir: str | os.PathLike, count: int = 200, seed: int = 0, size: int = IMAGE_SIZE,
                         progress: Callable[[int, int], None] = no_progress,
                         cancel: Callable[[], bool] = no_cancel) -> int:
    """Write `count` photos of none of the demo's classes as `out_dir/nnnn.png`; returns the count."""
    return _write(out_dir, [(Path(f"{i:04d}.png"), lambda i=i: foreign_image(seed, i, size)) for i in range(count)],
                  progress, cancel)


def colour_image(seed: int, colour: str, index: int, size: int = IMAGE_SIZE) -> Image.Image:
    """A photo of one object of `colour` (any shape), as the task's photos are drawn."""
    scenes = dict(split_scenes("val"), colour=colour)
    return world.example(f"demo-colour:{seed}:{colour}", index, size, distractor=DISTRACTOR, **scenes)[0]


def write_colour_control(out_dir: str | os.PathLike, per_class: int = 20, seed: int = 0, size: int = IMAGE_SIZE,
                         progress: Callable[[int, int], None] = no_progress,
                         cancel: Callable[[], bool] = no_cancel) -> int:
    """Write the colour control as class folders `out_dir/<colour>/nnnn.png` (for `flyp forgetting
    RUN --control DIR`, or the Blend page's "What it forgot"; `COLOUR_TEMPLATES` are the captions
    that fit it); returns the number of images."""
    jobs = [(Path(colour) / f"{i:04d}.png", lambda c=colour, i=i: colour_image(seed, c, i, size))
            for colour in COLOUR_CLASSES for i in range(per_class)]
    return _write(out_dir, jobs, progress, cancel)


def _write(out_dir, jobs, progress, cancel) -> int:
    out = Path(out_dir)
    for done, (name, draw) in enumerate(jobs, 1):
        if cancel():
            raise Cancelled(f"cancelled after {done - 1} of {len(jobs)} images in {out}")
        with atomic_path(out / name) as tmp:
            draw().save(tmp, format="PNG")
        progress(done, len(jobs))
    return len(jobs)


DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def write_digit_folders(root: str | os.PathLike, per_class: int | None = None, val_fraction: float = 0.2,
                        size: int = 64) -> dict[str, Path]:
    """Write load_digits as `train/<name>/` and `val/<name>/` PNGs; `per_class` keeps only the first
    images of each class (after a fixed shuffle). Returns the two folders."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise FlypError("the digits need scikit-learn: pip install scikit-learn") from None

    digits = load_digits()
    order = list(range(len(digits.target)))
    random.Random(0).shuffle(order)
    seen = {name: 0 for name in DIGIT_NAMES}
    for index in order:
        name = DIGIT_NAMES[int(digits.target[index])]
        if per_class is not None and seen[name] >= per_class:
            continue
        split = "val" if seen[name] % round(1 / val_fraction) == 0 else "train"
        seen[name] += 1
        ink = (255 - digits.images[index] * 255 / 16).clip(0, 255).astype("uint8")
        image = Image.fromarray(ink, mode="L").resize((size, size), Image.Resampling.BILINEAR).convert("RGB")
        with atomic_path(Path(root) / split / name / f"{index:04d}.png") as tmp:
            image.save(tmp, format="PNG")
    return {"train": Path(root) / "train", "val": Path(root) / "val"}
