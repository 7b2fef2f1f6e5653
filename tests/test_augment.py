"""Augmentation presets for kinds of images: what each does to a training image, recorded in the
run and kept on resume, and never applied to evaluation."""

import random

import pytest
from PIL import Image

from conftest import tiny_config
from core.data.transforms import augmented
from core.training.config import AUGMENTATIONS

SIZE = 32


def marked_image() -> Image.Image:
    """Grey, with a red mark in the top-left corner: where the mark lands shows flips and turns."""
    image = Image.new("RGB", (64, 64), (128, 128, 128))
    image.paste((255, 0, 0), (0, 0, 20, 20))
    return image


def corners_with_the_mark(augment: str, draws: int = 80) -> set[str]:
    seen = set()
    for i in range(draws):
        out = augmented(marked_image(), SIZE, random.Random(i), augment=augment)
        for name, xy in {"top-left": (2, 2), "top-right": (SIZE - 3, 2), "bottom-left": (2, SIZE - 3),
                         "bottom-right": (SIZE - 3, SIZE - 3)}.items():
            r, g, _ = out.getpixel(xy)
            if r > 200 and g < 60:
                seen.add(name)
    return seen


def test_photos_and_documents_are_never_flipped_microscopy_is():
    assert corners_with_the_mark("photos") == {"top-left"}
    assert corners_with_the_mark("documents") <= {"top-left"}
    assert corners_with_the_mark("microscopy") == {"top-left", "top-right", "bottom-left", "bottom-right"}


def test_aerial_turns_by_any_angle_without_empty_corners():
    image = Image.new("RGB", (80, 60), (90, 160, 60))
    for i in range(20):
        out = augmented(image, SIZE, random.Random(i), augment="aerial")
        assert min(low for low, _ in out.getextrema()) > 40  # no black corners from the turn
    tilted = [augmented(marked_image(), SIZE, random.Random(i), augment="aerial") for i in range(20)]
    assert len({img.tobytes() for img in tilted}) == 20


def test_grayscale_has_no_colour_and_presets_are_seeded():
    out = augmented(marked_image(), SIZE, random.Random(3), augment="grayscale")
    red, green, blue = out.split()
    assert red.tobytes() == green.tobytes() == blue.tobytes()
    for name in AUGMENTATIONS:
        first, again = (augmented(marked_image(), SIZE, random.Random(5), augment=name) for _ in range(2))
        assert first.tobytes() == again.tobytes(), name


def test_the_preset_is_recorded_kept_on_resume_and_not_used_for_evaluation(colour_data, tmp_path, flyp_run):
    from core.errors import Cancelled
    from core.progress import RunControl
    from core.training.loop import train
    from core.training.runs import RunDir

    control = RunControl()
    with pytest.raises(Cancelled):
        train(tiny_config(colour_data, epochs=1, augment="microscopy"), tmp_path / "run", control=control,
              on_event=lambda e: e["type"] == "step" and e["step"] == 2 and control.cancel())
    train(tiny_config(colour_data, epochs=1), tmp_path / "run", resume=True)  # photos asked: the run keeps its own
    run = RunDir(tmp_path / "run")
    assert run.read_info()["status"] == "finished" and run.read_info()["config"]["augment"] == "microscopy"
    zero_shot = [r["sets"] for r in run.read_metrics() if r["type"] == "eval" and r["step"] == 0]
    baseline = [r["sets"] for r in RunDir(flyp_run).read_metrics() if r["type"] == "eval" and r["step"] == 0]
    assert zero_shot == baseline  # the same evaluation images as a run with the photos preset
