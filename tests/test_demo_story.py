"""`flyp demo`: the main job of the README's first command, end to end (one epoch per method here)."""

import contextlib
import io
import json

import pytest

from cli_helpers import assert_one_line_error, run_cli
from core.demo import story as demo_story
from core.demo.task import DEMO_CLASSES
from core.cli import main
from core.project import ProjectLock, load_project


@pytest.fixture(scope="module")
def story(tmp_path_factory):
    """What `flyp demo DIR --json` prints, with one epoch per method (the real demo trains four)."""
    root = tmp_path_factory.mktemp("demo")
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(io.StringIO()):
        patch.setitem(demo_story.DEMO_SETTINGS, "epochs", 1)
        assert main(["demo", str(root), "--json"]) == 0
    return root, json.loads(out.getvalue())


def test_the_demo_compares_zero_shot_and_every_method_on_id_and_ood(story):
    root, result = story
    methods = [row["method"] for row in result["table"]]
    assert methods[0] == "zero-shot"
    for label in demo_story.STORY.values():
        assert label in methods and f"{label} + best blend" in methods
    assert set(result["curves"]) == set(demo_story.STORY)
    for method, curve in result["curves"].items():
        assert [round(p["alpha"], 1) for p in curve] == [round(0.1 * i, 1) for i in range(11)]
        assert {"id", "ood-sketch", "ood-painting"} <= set(curve[0]["sets"]), method
        assert (root / "runs" / f"{method}-seed0" / "run.json").is_file()
    zero_shot = [c[0]["sets"]["id"]["accuracy"] for c in result["curves"].values()]
    assert len(set(zero_shot)) == 1 and zero_shot[0] >= 2 / len(DEMO_CLASSES)  # α = 0: the same model for all


def test_the_demo_table_rows_are_read_off_the_curves(story):
    _, result = story
    rows = {row["method"]: row for row in result["table"]}
    for method, label in demo_story.STORY.items():
        curve = result["curves"][method]
        assert rows[label]["id"] == curve[-1]["sets"]["id"]["accuracy"]
        best = rows[f"{label} + best blend"]
        assert best["id"] == max(p["sets"]["id"]["accuracy"] for p in curve)  # α chosen on ID, as the paper


def test_the_demo_runs_are_listed_in_the_demo_project_for_the_app(story):
    root, result = story
    project = load_project(result["project"])
    assert project.path == (root / "Demo.flyp.json").resolve()
    assert project.runs == [str(root / "runs" / f"{m}-seed0") for m in demo_story.STORY]
    assert project.current_run == project.runs[0] and project.model == "demo"


def test_a_second_demo_run_reuses_the_finished_runs(story, capsys):
    root, result = story
    before = {p: p.stat().st_mtime_ns for p in (root / "runs").rglob("checkpoints/*.safetensors")}
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(demo_story.DEMO_SETTINGS, "epochs", 1)
        code, out, _ = run_cli(capsys, "demo", "run", root)
    assert code == 0 and "| zero-shot |" in out and "| L2-SP |" in out
    assert "flyp-studio" in out  # where to see them
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert len(load_project(root / "Demo.flyp.json").runs) == len(demo_story.STORY)  # not listed twice


def test_a_demo_project_open_in_the_app_is_left_alone(story, capsys):
    root, _ = story
    lock = ProjectLock(root / "Demo.flyp.json")
    lock.acquire()
    try:
        before = (root / "Demo.flyp.json").read_bytes()
        with pytest.MonkeyPatch.context() as patch:
            patch.setitem(demo_story.DEMO_SETTINGS, "epochs", 1)
            code, out, _ = run_cli(capsys, "demo", root)
    finally:
        lock.release()
    assert code == 0 and "open in FLYP Studio" in out
    assert (root / "Demo.flyp.json").read_bytes() == before


def test_demo_rejects_an_unknown_action_with_a_directory(capsys, tmp_path):
    code, _, err = run_cli(capsys, "demo", "train", tmp_path)
    assert_one_line_error(code, err, "train", "run, data, pretrain")


def test_demo_pretrain_writes_the_model_and_how_it_was_made(capsys, tmp_path, monkeypatch):
    from core.demo import pretrain

    real = pretrain.pretrain_demo_model
    monkeypatch.setattr(pretrain, "pretrain_demo_model", lambda out, **kwargs: real(
        out, batch_size=8, pool_size=16, workers=1, measure_per_class=1, **kwargs))
    code, out, _ = run_cli(capsys, "demo", "pretrain", tmp_path / "model", "--steps", "2", "--device", "cpu")
    assert code == 0 and "model.stats.json" in out
    assert (tmp_path / "model" / "open_clip_model.safetensors").is_file()
    stats = json.loads((tmp_path / "model.stats.json").read_text())
    assert stats["steps"] == 2 and len(stats["loss_every_50_steps"]) == 1
    assert stats["made_on"]["cores"] >= 1 and stats["made_on"]["device"] == "cpu"
