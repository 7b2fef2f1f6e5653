"""The automatic mode on the demo data: trials chosen on ID validation, within the time budget."""

from pathlib import Path

import pytest

from core.training.auto import auto_train
from core.training.config import TrainConfig
from core.training.runs import RunDir

GRID = (1e-5, 1e-4, 1e-3)  # the paper's learning rate, the demo preset's, and ten times that
GRID_EPOCHS = 3


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory) -> Path:
    from core.demo.task import write_demo_data

    root = tmp_path_factory.mktemp("demo-small")
    write_demo_data(root, seed=0, train_per_class=16, val_per_class=8, ood_per_class=1)
    return root


def demo_config(data: Path, **settings) -> TrainConfig:
    return TrainConfig(train_dir=str(data / "train"), val_dir=str(data / "val"), ood_dirs=[str(data / "ood-sketch")],
                       model="demo", workers=0, **settings)


class WorkClock:
    """Seconds counted in work, not read off the wall: each training image costs 1/60 s (the demo
    family's CPU figure), each evaluated image a tenth of that. Fed by a run's events, so the
    automatic mode sees the same time pass on an idle and on a busy machine."""

    TRAIN_IMAGE_S, EVAL_IMAGE_S = 1 / 60, 1 / 600

    def __init__(self):
        self.now, self.batch = 0.0, 0

    def __call__(self) -> float:
        return self.now

    def event(self, event: dict) -> None:
        kind = event.get("type")
        if kind == "start":
            self.batch = event["batch_size"]
        elif kind == "step":
            self.now += self.batch * self.TRAIN_IMAGE_S
        elif kind == "eval":
            self.now += sum(s["n"] for s in event["sets"].values()) * self.EVAL_IMAGE_S


@pytest.fixture(scope="module")
def grid(demo_data, tmp_path_factory) -> tuple[dict, float]:
    """Best ID accuracy of each grid point (the family's batch), and the work the grid took."""
    from core.training.defaults import default_settings
    from core.training.loop import train

    batch = default_settings("demo", 80)["batch_size"]
    clock = WorkClock()
    scores = {lr: train(demo_config(demo_data, lr=lr, epochs=GRID_EPOCHS, batch_size=batch),
                        tmp_path_factory.mktemp("grid") / "run", on_event=clock.event)["best"]["id_accuracy"]
              for lr in GRID}
    return scores, clock()


@pytest.fixture(scope="module")
def auto_run(demo_data, grid, tmp_path_factory) -> tuple[Path, dict, float, float]:
    """The automatic mode with the grid's work as its budget, on a clock that counts work: the
    machine's speed (a busy CI machine) changes neither its choices nor its result."""
    budget = grid[1]
    out = tmp_path_factory.mktemp("auto") / "auto run"
    clock = WorkClock()
    info = auto_train(demo_config(demo_data), out, budget, on_event=clock.event, clock=clock)
    return out, info, clock(), budget


def test_auto_reaches_the_best_of_a_fixed_grid_within_its_budget(auto_run, grid):
    out, info, seconds, budget = auto_run
    # Within two of the 96 validation photos: on the demo, the grid's good settings differ by a few
    # images, and the automatic mode must land among them, never on a bad one (1e-3: ~10%).
    assert info["best"]["id_accuracy"] >= max(grid[0].values()) - 2 / info["data"]["val"], (info["auto"]["why"], grid)
    assert seconds <= budget * 1.25, info["auto"]["trials"]


def test_every_trial_is_a_run_folder_and_the_final_run_says_why(auto_run):
    out, info, _, _ = auto_run
    auto = RunDir(out).read_info()["auto"]
    assert auto["role"] == "final" and len(auto["trials"]) >= 1
    for trial in auto["trials"]:
        trial_info = RunDir(out / trial["run"]).read_info()
        assert trial_info["status"] == "finished" and trial_info["auto"]["role"] == "trial"
        assert trial_info["config"]["lr"] == trial["lr"] and trial_info["best"]["id_accuracy"] == trial["score"]
    from core.weights.compare import run_row

    first = out / auto["trials"][0]["run"]
    assert run_row(first)["name"] == f"auto run › {first.name}"  # grouped under its search in every list
    chosen = max(auto["trials"], key=lambda t: (t["score"], -t["lr"]))
    assert auto["chosen"]["lr"] == chosen["lr"] == info["config"]["lr"]
    assert f"Learning rate {chosen['lr']:g}" in auto["why"] and "validation folder" in auto["why"]


def test_trials_are_judged_on_id_validation_never_on_different_conditions(auto_run):
    out, info, _, _ = auto_run
    for trial in info["auto"]["trials"]:
        best = RunDir(out / trial["run"]).read_info()["best"]
        assert trial["score"] == best["sets"]["id"]["accuracy"]
        assert "ood-sketch" in best["sets"]  # scored, for the plots, but not chosen on


@pytest.mark.parametrize("peak, tried", [
    (1e-4, [1e-4, 3e-4, 3e-5]),                   # the family's learning rate is best: one rung each way
    (1e-3, [1e-4, 3e-4, 3e-5, 1e-3, 3e-3]),       # better upwards: on until a trial is worse (or the range ends)
    (1e-5, [1e-4, 3e-4, 3e-5, 1e-5, 3e-6]),       # better downwards
])
def test_the_search_walks_the_learning_rate_ladder_towards_the_best(peak, tried):
    import math

    from core.training.auto import Trial, _lr_search
    from core.training.defaults import family_of

    seen = []

    def trial(lr):  # a score that peaks at `peak`, a decade wide
        seen.append(lr)
        return Trial(lr, Path("x"), score=1 - abs(math.log10(lr / peak)) / 10)

    _lr_search(family_of("demo"), trial, room=lambda: True)
    assert seen == tried


def test_the_search_stops_when_the_time_for_trials_is_spent():
    from core.training.auto import Trial, _lr_search
    from core.training.defaults import family_of

    seen = []
    _lr_search(family_of("demo"), lambda lr: seen.append(lr) or Trial(lr, Path("x"), score=lr),
               room=lambda: len(seen) < 2)
    assert seen == [1e-4, 3e-4]


def test_a_diverged_trial_scores_nothing_and_ties_go_to_the_smaller_learning_rate():
    from core.training.auto import Trial, _best

    trials = [Trial(3e-4, Path("a"), None), Trial(1e-4, Path("b"), 0.8), Trial(3e-5, Path("c"), 0.8)]
    assert _best(trials).lr == 3e-5
    assert _best([Trial(1e-3, Path("d"), None)]) is None


@pytest.mark.parametrize("slowdown", [1, 3])
def test_a_busy_machine_runs_fewer_trials_of_the_same_length_not_shorter_ones(slowdown, tmp_path, monkeypatch):
    """Trials are compared at equal work: a machine `slowdown` times slower (a busy one) gets the
    same epochs per trial, and fewer trials or final epochs — never trials too short to judge."""
    import core.training.auto as auto
    import core.training.loop as loop

    clock, calls = WorkClock(), []

    class NoRunFiles:  # the search's bookkeeping in run.json is not what this test is about
        def __init__(self, path):
            pass

        exists = staticmethod(lambda: False)
        update_info = staticmethod(lambda **changes: {"auto": auto_summary[-1], **changes})

    def fake_train(config, run_dir, on_event=None, **kwargs):  # 192 images: 12 steps of 16 an epoch
        calls.append((config.lr, config.epochs))
        for event in ({"type": "start", "batch_size": 16}, {"type": "eval", "step": 0, "sets": {"id": {"n": 96}}},
                      *({"type": "step"} for _ in range(12 * config.epochs * slowdown))):
            on_event(event)
        return {"best": {"id_accuracy": 1 - abs(config.lr - 1e-4)}}

    auto_summary = []
    monkeypatch.setattr(loop, "train", fake_train)
    monkeypatch.setattr(auto, "RunDir", NoRunFiles)
    monkeypatch.setattr(auto, "_mark", lambda run, summary: auto_summary.append(summary))
    config = TrainConfig(train_dir=str(tmp_path), val_dir=str(tmp_path), model="demo", workers=0)
    info = auto_train(config, tmp_path / "auto", 120, train_images=192, on_event=clock.event, clock=clock)
    trial_epochs = {epochs for lr, epochs in calls[:len(info["auto"]["trials"])]}
    assert trial_epochs == {info["auto"]["trial_epochs"]} == {2}  # the same work per trial, busy or not
    assert len(info["auto"]["trials"]) == (3 if slowdown == 1 else 2)
