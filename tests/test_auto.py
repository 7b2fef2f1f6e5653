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


def fake_auto_run(budget: float, tmp_path: Path, monkeypatch) -> tuple[dict, list[TrainConfig]]:
    """The automatic mode on the demo family's CPU figures, its runs faked: 192 images at 60
    images/s, an epoch is 3.2 s of work. Returns run.json's info and every run's config."""
    import core.training.auto as auto
    import core.training.loop as loop

    clock, configs, marks = WorkClock(), [], []

    def fake_train(config, run_dir, on_event=None, **kwargs):
        configs.append(config)
        for event in ({"type": "start", "batch_size": 16}, {"type": "eval", "step": 0, "sets": {"id": {"n": 96}}},
                      *({"type": "step"} for _ in range(12 * config.epochs))):
            on_event(event)
        return {"best": {"id_accuracy": 1 - abs(config.lr - 1e-4)}}

    class NoRunFiles:
        def __init__(self, path):
            pass

        exists = staticmethod(lambda: False)
        update_info = staticmethod(lambda **changes: {"auto": marks[-1], **changes})

    monkeypatch.setattr(loop, "train", fake_train)
    monkeypatch.setattr(auto, "RunDir", NoRunFiles)
    monkeypatch.setattr(auto, "_mark", lambda run, summary: marks.append(summary))
    config = TrainConfig(train_dir=str(tmp_path), val_dir=str(tmp_path), model="demo", workers=0, device="cpu")
    info = auto_train(config, tmp_path / "auto", budget, train_images=192, on_event=clock.event, clock=clock)
    return info, configs


@pytest.mark.parametrize("budget, levers_on", [(120, False), (12, True)])
def test_on_a_cpu_a_budget_of_too_few_epochs_trains_every_run_with_the_levers(budget, levers_on, tmp_path,
                                                                                monkeypatch):
    """120 s leave the final run many epochs, full FLYP; 12 s leave it about one of the family's 4,
    so trials and final run all train with the levers, and run.json's summary and its words say so.
    (The levers are set here, whatever the shipped table holds.)"""
    from core.training import levers

    AUTO_LEVERS = {"patch_dropout": 0.25, "frozen_blocks": 1}
    monkeypatch.setattr(levers, "AUTO_LEVERS", AUTO_LEVERS)
    monkeypatch.setattr(levers, "AUTO_SPEEDUP", {"patch_dropout": 1.2, "frozen_blocks": 1.2})
    info, configs = fake_auto_run(budget, tmp_path, monkeypatch)
    expected = AUTO_LEVERS if levers_on else {}
    for run in configs:  # every trial and the final run alike: their scores compare
        assert {name: getattr(run, name) for name in AUTO_LEVERS} == (
            AUTO_LEVERS if levers_on else {name: getattr(TrainConfig(), name) for name in AUTO_LEVERS})
    assert info["auto"]["levers"] == expected
    assert ("trained faster with" in info["auto"]["why"]) == levers_on


AMX = {"amx_bf16": True, "amx_tile": True, "amx_granted": True, "onednn_bf16": True}


@pytest.mark.parametrize("cpu, budget, bf16", [(AMX, 12, True), (AMX, 120, False), ({}, 12, False),
                                               ({"amx_tile": False, "onednn_bf16": True}, 12, False)])
def test_the_automatic_mode_trains_in_bf16_only_where_it_pays_and_epochs_would_be_few(cpu, budget, bf16, tmp_path,
                                                                                        monkeypatch):
    """bf16 in the table: a CPU with AMX and a budget of about one epoch of the family's 4 trains
    every run in bf16 and says so; with the budget to spare, or on an AVX2 or an AVX-512 CPU
    without AMX tiles (where bf16 is emulated or barely faster), every run stays fp32. (The demo
    family's figures stand in for a big model's here: `TOO_SMALL` is emptied.)"""
    from core.training import levers
    from flyp_app.words import levers_text

    monkeypatch.setattr(levers, "AUTO_LEVERS", {"precision": "bf16"})
    monkeypatch.setattr(levers, "TOO_SMALL", {})
    monkeypatch.setattr(levers, "_cpu_capabilities", lambda: dict(cpu))
    info, configs = fake_auto_run(budget, tmp_path, monkeypatch)
    assert {run.precision for run in configs} == ({"bf16"} if bf16 else {TrainConfig().precision})
    assert info["auto"]["levers"] == ({"precision": "bf16"} if bf16 else {})
    assert ("arithmetic (bf16)" in info["auto"]["why"]) == bf16
    if bf16:  # what the Train page shows of the final run (its run.json's "levers")
        words = levers_text({"levers": levers.used(configs[-1].to_json()), "auto": info["auto"]})
        assert "Arithmetic: bf16 while training (quicker, less precise)" in words and "automatic mode" in words


def test_the_automatic_mode_keeps_full_flyp_off_the_cpu_and_the_levers_the_user_set(monkeypatch):
    from core.training import levers
    from core.training.auto import _levers_for, _Speed
    from core.training.defaults import family_of

    AUTO_LEVERS = {"patch_dropout": 0.25, "frozen_blocks": 1}
    monkeypatch.setattr(levers, "AUTO_LEVERS", AUTO_LEVERS)
    few = dict(budget_s=12, speed=_Speed(3.2), family=family_of("demo"))
    assert _levers_for(TrainConfig(), "cuda", **few) == {}
    assert _levers_for(TrainConfig(), "cpu", **few) == AUTO_LEVERS
    assert "patch_dropout" not in _levers_for(TrainConfig(patch_dropout=0.5), "cpu", **few)
    monkeypatch.setattr(levers, "AUTO_LEVERS", {"precision": "bf16"})
    monkeypatch.setattr(levers, "_cpu_capabilities", lambda: dict(AMX))
    vit = dict(budget_s=60, speed=_Speed(400.0), family=family_of("ViT-B-32"))  # 2,000 images at 5/s: 400 s an epoch
    assert _levers_for(TrainConfig(), "cpu", **vit) == {"precision": "bf16"}
    assert _levers_for(TrainConfig(precision="fp32"), "cpu", **vit) == {}  # the user's fp32 stays
    # the demo model's small matrices: bf16 measured slower end to end there (benchmarks/README.md)
    assert _levers_for(TrainConfig(), "cpu", **few) == {}
