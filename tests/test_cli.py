"""Every `flyp` verb: exit code 2 and one line naming the culprit on bad input; JSON output."""

import json
import subprocess
import sys

import pytest

from cli_helpers import assert_one_line_error, run_cli




@pytest.mark.parametrize("argv, words", [
    (["scan", "{tmp}/missing"], ["missing", "no such folder"]),
    (["zeroshot", "--model", "flyp-tiny", "--pretrained", "none", "--data", "{tmp}/missing"], ["missing"]),
    (["zeroshot", "--model", "flyp-tiny", "--pretrained", "none", "--data", "{train}", "--templates", "bogus"],
     ["--templates", "bogus"]),
    (["train", "--model", "flyp-tiny", "--pretrained", "none", "--train", "{train}", "--epochs", "0",
      "--out", "{tmp}/r"], ["--epochs"]),
    (["train", "--model", "nope", "--pretrained", "none", "--train", "{train}", "--out", "{tmp}/r"], ["--model", "nope"]),
    (["train", "--out", "{tmp}/r"], ["--train"]),
    (["train", "--out", "{tmp}/never", "--resume"], ["never", "not a FLYP run folder"]),
    (["train", "--train", "{train}", "--auto", "--lr", "1e-4", "--out", "{tmp}/r"], ["--lr", "--auto"]),
    (["train", "--train", "{train}", "--budget", "3", "--out", "{tmp}/r"], ["--budget", "--auto"]),
    (["train", "--train", "{train}", "--auto", "--budget", "0", "--out", "{tmp}/r"], ["--budget", "from 0.01"]),
    (["evaluate", "--run", "{tmp}", "--data", "{train}"], ["not a FLYP run folder"]),
    (["blend", "--run", "{run}", "--alphas", "0:2:x"], ["--alphas"]),
    (["export", "--run", "{tmp}/missing", "--out", "{tmp}/b"], ["missing"]),
    (["predict", "{tmp}", "x.png"], ["not a FLYP bundle"]),
])
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, colour_data, flyp_run, argv, words):
    argv = [a.format(tmp=tmp_path, train=colour_data["train"], run=flyp_run) for a in argv]
    code, _, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, *[w.format(tmp=tmp_path) for w in words])


def test_scan_json_lists_classes_and_skipped_files(capsys, tmp_path, colour_data):
    import shutil
    shutil.copytree(colour_data["train"], tmp_path / "d")
    (tmp_path / "d" / "red" / "broken.jpg").write_bytes(b"\xff\xd8\xff")
    code, out, _ = run_cli(capsys, "scan", tmp_path / "d", "--json")
    data = json.loads(out)
    assert code == 0 and data["usable"]
    assert data["classes"] == {"blue": 24, "green": 24, "red": 24} and data["images"] == 72
    assert data["skipped"][0]["path"].endswith("broken.jpg") and data["skipped"][0]["reason"]


def test_scan_of_a_single_class_folder_exits_2(capsys, colour_data):
    code, out, err = run_cli(capsys, "scan", colour_data["train"] / "red")
    assert_one_line_error(code, err, "at least two class folders")


def test_zeroshot_evaluate_and_blend_print_json(capsys, colour_data, flyp_run):
    code, out, _ = run_cli(capsys, "zeroshot", "--model", "flyp-tiny", "--pretrained", "none",
                           "--data", colour_data["val"], "--json")
    zs = json.loads(out)
    assert code == 0 and 0 <= zs["accuracy"] <= 1 and zs["n"] == 24 and set(zs["per_class"]) == {"red", "green", "blue"}
    code, out, _ = run_cli(capsys, "evaluate", "--run", flyp_run, "--data", colour_data["val"], "--json")
    assert code == 0 and json.loads(out)["accuracy"] >= 0.8
    code, out, _ = run_cli(capsys, "blend", "--run", flyp_run, "--alphas", "0,1", "--json")
    curve = json.loads(out)["curve"]
    assert [p["alpha"] for p in curve] == [0, 1] and set(curve[0]["sets"]) == {"id", "ood"}


def test_predict_reports_unreadable_images_and_exits_2(capsys, flyp_run, colour_data, tmp_path):
    assert run_cli(capsys, "export", "--run", flyp_run, "--alpha", "1", "--out", tmp_path / "b")[0] == 0
    (tmp_path / "bad.png").write_text("nope")
    code, out, err = run_cli(capsys, "predict", tmp_path / "b", colour_data["val"] / "red" / "red_000.png",
                             tmp_path / "bad.png", "--json")
    assert json.loads(out)["predictions"][0]["top_k"][0]["class"] in {"red", "green", "blue"}
    assert_one_line_error(code, err, "bad.png")


def test_entry_point_exit_code_and_help():
    result = subprocess.run([sys.executable, "-m", "core.cli", "scan", "/nonexistent/folder"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    helped = subprocess.run([sys.executable, "-m", "core.cli", "train", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "--mask-same-class" in helped.stdout


def test_a_learning_rate_far_off_is_flagged_the_run_starts_and_advice_follows(capsys, tmp_path, colour_data):
    """The issue's lr 1 typo: a warning before the run, the run anyway, and advice naming the fix."""
    code, out, err = run_cli(capsys, "train", "--model", "demo", "--train", colour_data["train"], "--val",
                             colour_data["val"], "--lr", "1", "--epochs", "1", "--workers", "0", "--out", tmp_path / "r")
    assert code == 0 and (tmp_path / "r" / "run.json").is_file()
    warning = err.splitlines()[0]
    assert warning.startswith("flyp: warning: --lr 1 is far outside") and "usually 0.0001" in warning
    assert any(line.startswith("advice:") and "--lr 0.0001" in line for line in err.splitlines())


def test_unset_settings_come_from_the_model_family(capsys, tmp_path, colour_data):
    from core.training.defaults import family_of, fit_batch

    code, out, _ = run_cli(capsys, "train", "--model", "demo", "--train", colour_data["train"], "--val",
                           colour_data["val"], "--epochs", "1", "--workers", "0", "--out", tmp_path / "r", "--json")
    config = json.loads((tmp_path / "r" / "run.json").read_text())["config"]
    demo = family_of("demo")
    assert config["lr"] == demo.lr and config["batch_size"] == fit_batch(demo.batch_size, 72) == 8
    assert config["epochs"] == 1  # given: kept
    assert code == 0 and isinstance(json.loads(out)["advice"], list)


def test_train_without_auto_on_the_family_defaults_says_auto_is_for_a_new_folder(capsys, tmp_path, colour_data):
    code, _, err = run_cli(capsys, "train", "--model", "demo", "--train", colour_data["train"], "--val",
                           colour_data["val"], "--workers", "0", "--out", tmp_path / "r")
    assert code == 0, err
    note = next(line for line in err.splitlines() if line.startswith("note: trained with the model family's default"))
    assert "for a new folder, --auto chooses the learning rate and epochs" in note
    code, _, err = run_cli(capsys, "train", "--model", "demo", "--train", colour_data["train"], "--val",
                           colour_data["val"], "--epochs", "1", "--workers", "0", "--out", tmp_path / "given")
    assert code == 0 and "note: trained with the model family's default" not in err  # settings of one's own


def test_train_help_says_which_to_use_for_a_new_folder(capsys):
    with pytest.raises(SystemExit):
        run_cli(capsys, "train", "--help")
    assert "for a new folder" in " ".join(capsys.readouterr().out.split())
