"""FLYP finetuning: it learns, its run folder is complete, and resume is exact."""

import threading

import pytest
import torch
from safetensors.torch import load_file

from conftest import tiny_config, train_until_cancelled
from core.progress import RunControl
from core.training.runs import RunDir
from core.training.loop import train


def test_short_flyp_run_raises_accuracy_well_above_chance(flyp_run):
    run = RunDir(flyp_run)
    info = run.read_info()
    evals = [r for r in run.read_metrics() if r["type"] == "eval"]
    assert info["status"] == "finished"
    assert evals[0]["step"] == 0  # the zero-shot baseline is logged first
    assert info["best"]["id_accuracy"] >= 0.8 > evals[0]["sets"]["id"]["accuracy"] + 0.2
    assert set(evals[-1]["sets"]) == {"id", "ood"}
    steps = [r for r in run.read_metrics() if r["type"] == "step"]
    assert len(steps) == 4 * (24 * 3 // 12) and all(r["loss"] > 0 for r in steps)
    lrs = [r["lr"] for r in steps]
    assert max(lrs) == pytest.approx(2e-3, rel=0.05) and lrs[-1] < lrs[len(lrs) // 2]  # warmup, then cosine
    assert run.best_file.is_file() and run.last_file.is_file() and run.state_file.is_file()


def test_both_towers_and_logit_scale_train(flyp_run, tiny_model):
    finetuned = load_file(str(RunDir(flyp_run).last_file))
    start = tiny_model.model.state_dict()
    for key in ("visual.conv1.weight", "token_embedding.weight", "text_projection", "logit_scale"):
        assert not torch.equal(finetuned[key], start[key]), key


def test_resume_after_interruption_gives_the_same_weights(colour_data, tmp_path):
    config = tiny_config(colour_data, epochs=2)
    train(config, tmp_path / "straight")

    train_until_cancelled(config, tmp_path / "interrupted", 7)
    assert RunDir(tmp_path / "interrupted").read_info()["status"] == "cancelled"
    info = train(None, tmp_path / "interrupted", resume=True)
    assert info["status"] == "finished"
    a = load_file(str(RunDir(tmp_path / "straight").last_file))
    b = load_file(str(RunDir(tmp_path / "interrupted").last_file))
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-6, msg=key)
    steps = [r["step"] for r in RunDir(tmp_path / "interrupted").read_metrics() if r["type"] == "step"]
    assert steps == list(range(1, 13))  # no step logged twice after the resume


def test_pause_waits_and_resume_continues(colour_data, tmp_path):
    control, seen = RunControl(), []

    def on_event(event):
        seen.append(event["type"])
        if event["type"] == "step" and event["step"] == 2:
            control.pause()
            threading.Timer(0.3, control.resume).start()
    info = train(tiny_config(colour_data, epochs=1), tmp_path / "run", on_event=on_event, control=control)
    assert info["status"] == "finished"
    assert seen.index("paused") < seen.index("resumed")


def test_ce_baseline_trains_a_head_and_keeps_the_text_tower(colour_data, tmp_path, tiny_model):
    info = train(tiny_config(colour_data, method="ce", epochs=3), tmp_path / "ce")
    weights = load_file(str(RunDir(tmp_path / "ce").last_file))
    assert weights["flyp_head.weight"].shape == (3, 64)
    assert torch.equal(weights["token_embedding.weight"], tiny_model.model.state_dict()["token_embedding.weight"])
    assert info["best"]["id_accuracy"] > 0.6


def test_select_by_macro_f1_keeps_the_checkpoint_with_the_best_validation_macro_f1(capsys, colour_data, tmp_path):
    from cli_helpers import run_cli

    code, _, _ = run_cli(capsys, "train", "--model", "flyp-tiny", "--pretrained", "none", "--train",
                         str(colour_data["train"]), "--val", str(colour_data["val"]), "--epochs", "3",
                         "--batch-size", "12", "--lr", "2e-3", "--workers", "0", "--select-by", "macro_f1",
                         "--out", str(tmp_path / "run"), "--json")
    assert code == 0
    run = RunDir(tmp_path / "run")
    info = run.read_info()
    assert info["config"]["select_by"] == "macro_f1"
    evals = [r for r in run.read_metrics() if r["type"] == "eval"]
    best = max(evals, key=lambda r: r["sets"]["id"]["macro_f1"])
    assert info["best"]["selected_by"] == "macro_f1"
    assert info["best"]["score"] == best["sets"]["id"]["macro_f1"]
    assert info["best"]["step"] == best["step"]
