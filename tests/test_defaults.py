"""The per-model-family defaults table: what a run starts from, and the settings flagged before it starts."""

import re
from pathlib import Path

import pytest

from core.training.config import TrainConfig
from core.training.defaults import FAMILIES, OTHER, check_bounds, default_settings, family_of


@pytest.mark.parametrize("model, family", [
    ("demo", "demo"), ("ViT-B-32", "vit-b-32"), ("ViT-B-32-quickgelu", "vit-b-32"),
    ("ViT-B-16-quickgelu", "vit-b-16"), ("hf-hub:timm/ViT-B-16-SigLIP", "vit-b-16"), ("RN50", "resnet"),
    ("RN101-quickgelu", "resnet"), ("ViT-L-14", "other"), ("flyp-tiny", "other")])
def test_each_model_finds_its_family(model, family):
    assert family_of(model).key == family


def test_a_small_training_set_caps_the_batch_so_an_epoch_has_steps():
    assert default_settings("ViT-B-32", train_images=None)["batch_size"] == 256
    assert default_settings("ViT-B-32", train_images=100)["batch_size"] == 8  # 100 // 8 = 12 → 8
    assert default_settings("demo", train_images=40)["batch_size"] == 4


def test_a_typo_in_the_learning_rate_is_flagged_with_the_family_range():
    config = TrainConfig(train_dir="x", model="demo", lr=1.0)
    (flag,) = check_bounds(config, train_images=1000)
    assert (flag.setting, flag.value, flag.typical) == ("lr", 1.0, family_of("demo").lr)
    assert flag.low <= family_of("demo").lr <= flag.high < 1.0


def test_a_batch_larger_than_the_data_and_absurd_epochs_are_flagged():
    config = TrainConfig(train_dir="x", model="ViT-B-32", pretrained="openai", batch_size=512, epochs=5000)
    assert {f.setting for f in check_bounds(config, train_images=300)} == {"batch_size", "epochs"}
    assert check_bounds(TrainConfig(train_dir="x", model="ViT-B-32", pretrained="openai"), train_images=300) == []


def test_the_batch_chosen_for_a_small_training_set_is_never_warned_about():
    """24 images: the demo family's batch of 64 becomes 2 (8 steps an epoch), below its usual
    range; the user gave no batch, so the app and the command line say nothing about one."""
    for images in (10, 24, 40, 100):
        config = TrainConfig(train_dir="x", model="demo", **default_settings("demo", images))
        assert check_bounds(config, train_images=images) == [], images


def test_random_weights_and_the_linear_probe_are_not_checked():
    assert check_bounds(TrainConfig(train_dir="x", model="flyp-tiny", pretrained="none", lr=0.5)) == []
    assert check_bounds(TrainConfig(train_dir="x", model="demo", method="lp", lr=0.5)) == []


def _sci(x: float) -> str:
    mantissa, exponent = f"{x:.0e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def test_the_readme_table_is_the_engine_table():
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| ([\w-]+) \|.*$", readme, re.M)}
    for family in (*FAMILIES, OTHER):
        cells = [c.strip() for c in rows[family.key].strip("|").split("|")]
        expected = [_sci(family.lr), str(family.batch_size), str(family.epochs),
                    "auto" if family.warmup is None else str(family.warmup),
                    f"{_sci(family.lr_range[0])} – {_sci(family.lr_range[1])}",
                    f"{family.batch_range[0]} – {family.batch_range[1]}",
                    f"{family.epochs_range[0]} – {family.epochs_range[1]}"]
        assert cells[2:] == expected, family.key
