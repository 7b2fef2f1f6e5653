"""The automatic mode on the demo data: trials chosen on ID validation, within the time budget."""

import time
from pathlib import Path

import pytest

from core.training.auto import auto_train
from core.training.config import TrainConfig
from core.training.runs import RunDir

BUDGET_S = 60.0
GRID = (1e-5, 1e-4, 1e-3)  # the paper's learning rate, the demo preset's, and ten times that


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory) -> Path:
    from core.demo.task import write_demo_data

    root = tmp_path_factory.mktemp("demo-small")
    write_demo_data(root, seed=0, train_per_class=8, val_per_class=4, ood_per_class=1)
    return root


def demo_config(data: Path, **settings) -> TrainConfig:
    return TrainConfig(train_dir=str(data / "train"), val_dir=str(data / "val"), ood_dirs=[str(data / "ood-sketch")],
                       model="demo", workers=0, **settings)


@pytest.fixture(scope="module")
def auto_run(demo_data, tmp_path_factory) -> tuple[Path, dict, float]:
    out = tmp_path_factory.mktemp("auto") / "auto run"
    events = []
    started = time.monotonic()
    info = auto_train(demo_config(demo_data), out, BUDGET_S, on_event=events.append)
    return out, info, time.monotonic() - started


def test_auto_reaches_the_best_of_a_fixed_grid_within_its_budget(auto_run, demo_data, tmp_path):
    from core.training.loop import train

    out, info, seconds = auto_run
    batch = info["auto"]["batch_size"]
    grid = {lr: train(demo_config(demo_data, lr=lr, epochs=3, batch_size=batch), tmp_path / f"lr{lr:g}")["best"]
            ["id_accuracy"] for lr in GRID}
    assert info["best"]["id_accuracy"] >= max(grid.values()), (info["auto"]["why"], grid)
    assert seconds <= BUDGET_S * 1.25, info["auto"]["trials"]


def test_every_trial_is_a_run_folder_and_the_final_run_says_why(auto_run):
    out, info, _ = auto_run
    auto = RunDir(out).read_info()["auto"]
    assert auto["role"] == "final" and len(auto["trials"]) >= 2
    for trial in auto["trials"]:
        trial_info = RunDir(out / trial["run"]).read_info()
        assert trial_info["status"] == "finished" and trial_info["auto"]["role"] == "trial"
        assert trial_info["config"]["lr"] == trial["lr"] and trial_info["best"]["id_accuracy"] == trial["score"]
    chosen = max(auto["trials"], key=lambda t: (t["score"], -t["lr"]))
    assert auto["chosen"]["lr"] == chosen["lr"] == info["config"]["lr"]
    assert f"Learning rate {chosen['lr']:g}" in auto["why"] and "validation folder" in auto["why"]


def test_trials_are_judged_on_id_validation_never_on_different_conditions(auto_run):
    out, info, _ = auto_run
    for trial in info["auto"]["trials"]:
        best = RunDir(out / trial["run"]).read_info()["best"]
        assert trial["score"] == best["sets"]["id"]["accuracy"]
        assert "ood-sketch" in best["sets"]  # scored, for the plots, but not chosen on
