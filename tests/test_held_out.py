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


def test_the_test_share_is_stratified_disjoint_and_the_same_for_every_seed(tmp_path):
    train_dir = write_class_folders(tmp_path / "train", 20, seed=0)
    runs = [load_datasets(train_dir, None, test_fraction=0.2, seed=seed) for seed in (0, 3)]
    for data in runs:
        test, rest = {s.path for s in data.test}, {s.path for s in data.train + data.val}
        assert len(test) == 3 * 4 and not test & rest  # 20 % of each class, seen by nothing else
        assert sorted({s.label for s in data.test}) == [0, 1, 2]
        assert data.summary()["test"] == 12 and data.summary()["train"] + data.summary()["val"] == 48
    assert {s.path for s in runs[0].test} == {s.path for s in runs[1].test}  # the seed moves validation only
    assert {s.path for s in runs[0].val} != {s.path for s in runs[1].val}


def test_flyp_train_test_fraction_tests_the_best_checkpoint_once_never_during_training(capsys, tmp_path, colour_data):
    from cli_helpers import run_cli

    code, out, err = run_cli(capsys, "train", "--model", "demo", "--train", colour_data["train"], "--val",
                             colour_data["val"], "--test-fraction", "0.25", "--epochs", "2", "--workers", "0",
                             "--out", tmp_path / "r")
    assert code == 0, err
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    test = info["best"]["sets"]["test"]
    assert test["n"] == info["data"]["test"] == 3 * 6 and set(test) == {"accuracy", "macro_f1", "n", "per_class"}
    assert 0 <= test["accuracy"] <= 1 and set(test["per_class"]) == set(info["classes"])
    assert info["data"]["train"] == 3 * 18
    records = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert all("test" not in r.get("sets", {}) for r in records)  # no evaluation a choice reads sees it
    assert "test" in out.lower()


def test_a_test_folder_and_a_test_share_together_are_refused_in_one_line(capsys, tmp_path, colour_data):
    from cli_helpers import assert_one_line_error, run_cli

    code, _, err = run_cli(capsys, "train", "--model", "demo", "--train", colour_data["train"], "--test",
                           colour_data["val"], "--test-fraction", "0.2", "--out", tmp_path / "r")
    assert_one_line_error(code, err, "--test-fraction")
    assert not (tmp_path / "r").exists()


def test_export_quotes_the_test_figure_at_the_exported_alpha_and_an_older_run_says_it_has_none(
        capsys, tmp_path, colour_data, flyp_run):
    from cli_helpers import run_cli

    run = tmp_path / "tested"
    train(tiny_config({k: str(v) for k, v in colour_data.items()}, epochs=1, test_fraction=0.25), run)
    code, out, err = run_cli(capsys, "export", "--run", run, "--alpha", "1", "--out", tmp_path / "b")
    assert code == 0, err
    metrics = json.loads((tmp_path / "b" / "flyp.json").read_text())["metrics"]
    best_test = json.loads((run / "run.json").read_text())["best"]["sets"]["test"]
    assert list(metrics)[0] == "test" and metrics["test"]["n"] == best_test["n"] == 18
    assert abs(metrics["test"]["accuracy"] - best_test["accuracy"]) < 1e-6  # α = 1 is the best checkpoint
    card = (tmp_path / "b" / "README.md").read_text()
    assert "test (held out from every choice: the figure to quote)" in card and "Measured before" not in card

    code, _, err = run_cli(capsys, "export", "--run", flyp_run, "--alpha", "1", "--out", tmp_path / "old")
    assert code == 0, err
    assert "test" not in json.loads((tmp_path / "old" / "flyp.json").read_text())["metrics"]
    assert "Measured before a test split" in (tmp_path / "old" / "README.md").read_text()
