"""What a run is measured on: never an image it trained on, and a test split no choice sees."""

import json
import shutil

from core.data.folders import load_datasets
from core.training.loop import train
from conftest import tiny_config, write_class_folders


def _with_copy_in_val(tmp_path, colour_data) -> tuple[dict, str]:
    data = {name: tmp_path / name for name in ("train", "val", "ood")}
    for name, folder in data.items():
        shutil.copytree(colour_data[name], folder)
    copy = data["val"] / "red" / "leaked.png"
    shutil.copy(data["train"] / "red" / "red_000.png", copy)
    return data, str(copy)


def test_validation_images_identical_to_training_images_are_not_evaluated(tmp_path, colour_data):
    data, copy = _with_copy_in_val(tmp_path, colour_data)
    datasets = load_datasets(data["train"], data["val"], [data["ood"]])
    assert copy not in {str(s.path) for s in datasets.val}
    assert any(p.path == copy and "left out of validation" in p.reason for p in datasets.problems)

    out = tmp_path / "run"
    train(tiny_config({k: str(v) for k, v in data.items()}, epochs=1), out)
    info = json.loads((out / "run.json").read_text())
    n_val = sum(1 for _ in data["val"].rglob("*.png")) - 1  # all but the leaked copy
    assert info["data"]["val"] == n_val
    assert info["best"]["sets"]["id"]["n"] == n_val
    assert info["zeroshot"]["id"]["n"] == n_val


def test_a_different_conditions_image_identical_to_a_training_image_is_left_out(tmp_path):
    train_dir = write_class_folders(tmp_path / "train", 4, seed=0)
    ood = write_class_folders(tmp_path / "ood", 4, seed=9)
    shutil.copy(train_dir / "red" / "red_001.png", ood / "red" / "same.png")
    datasets = load_datasets(train_dir, None, [ood], val_fraction=0.25)
    assert str(ood / "red" / "same.png") not in {str(s.path) for s in datasets.ood["ood"]}
    assert len(datasets.ood["ood"]) == 4 * 3
