"""An adversarial corpus for the options and the special files: every numeric option of every
verb is tried with 0, negative, NaN, inf, huge and non-numbers, and must stop at parse time with
one line that says its range; pipes, devices, links to them and huge sparse files are skipped
with their true reason, never read. A new option or verb gets the same treatment by being in
the parser."""

import math
import os
import stat

import pytest

from cli_helpers import assert_one_line_error, run_cli
from core.cli.parser import build_parser
from core.data.folders import scan_folder
from core.data.images import read_image_bytes
from core.errors import FlypError
from core.weights.blend import MAX_ALPHAS, parse_alphas

HOSTILE = ["0", "-1", "nan", "inf", "-inf", "1e308", str(2**70), "abc", "", "1e-320"]


def numeric_options():
    """(verb, option, converter) of every option whose value is a number."""
    parser = build_parser()
    verbs = next(a for a in parser._actions if a.dest == "==SUPPRESS==" or hasattr(a, "choices") and
                 isinstance(a.choices, dict))
    for verb, sub in verbs.choices.items():
        for action in sub._actions:
            if action.option_strings and action.type is not None and action.type not in (str,):
                yield verb, action.option_strings[0], action.type


def test_no_numeric_option_is_unbounded():
    found = list(numeric_options())
    assert len(found) > 20  # train's settings, predict's, blend's…
    unbounded = [(verb, option) for verb, option, convert in found
                 if convert in (int, float) or not (hasattr(convert, "bounds") or convert.__name__ == "device_name")]
    assert not unbounded


@pytest.mark.parametrize("value", HOSTILE)
def test_every_numeric_option_refuses_values_outside_its_range(value):
    import argparse

    for verb, option, convert in numeric_options():
        if not hasattr(convert, "bounds"):
            continue
        kind, low, high = convert.bounds
        try:
            parsed = convert(value)
        except argparse.ArgumentTypeError as exc:
            assert f"{high:{'d' if kind is int else 'g'}}" in str(exc), (verb, option, str(exc))  # the bound is in the message
            continue
        assert isinstance(parsed, kind) and math.isfinite(parsed) and low <= parsed <= high, (verb, option, value)


@pytest.mark.parametrize("argv, words", [
    (["--epochs", "1000000000000"], ["--epochs", "10000"]),
    (["--workers", "1000000000"], ["--workers", "256"]),
    (["--seed", str(2**70)], ["--seed", "4294967295"]),
    (["--device", ""], ["--device", "expected auto"]),
    (["--auto", "--budget", "nan"], ["--budget", "10080"]),
    (["--auto", "--budget", "inf"], ["--budget"]),
    (["--auto", "--budget", "1e308"], ["--budget"]),
    (["--lr", "nan"], ["--lr"]),
    (["--val-fraction", "5"], ["--val-fraction"]),
    (["--batch-size", "1e9"], ["--batch-size"]),
])
def test_train_refuses_bombs_at_parse_time_with_the_bound(capsys, tmp_path, argv, words):
    code, _, err = run_cli(capsys, "train", "--train", tmp_path, "--out", tmp_path / "run", *argv)
    assert_one_line_error(code, err, *words)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv", [["predict", "B", "x.png", "--batch-size", "1e12"],
                                  ["predict", "B", "x.png", "--top-k", "-1"],
                                  ["predict", "B", "x.png", "--min-confidence", "nan"],
                                  ["evaluate", "--run", "R", "--data", "D", "--alpha", "inf"],
                                  ["demo", "data", "D", "--seed", "-3"],
                                  ["check", "D", "--threshold", "2"]])
def test_other_verbs_refuse_bad_numbers_in_one_line(capsys, argv):
    code, _, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, argv[-2])


@pytest.mark.parametrize("text", ["0:1:1e-12", "0:inf:1", "0:1:nan", "0:1:0", "0:1:-0.1", "nan", "0,inf", "-1:1:0.5",
                                  ",".join(["0.5"] * (MAX_ALPHAS + 1))])
def test_alphas_that_would_grow_without_bound_are_refused(text):
    with pytest.raises(FlypError, match="alphas"):
        parse_alphas(text)


def test_a_fine_but_bounded_alpha_grid_is_accepted():
    assert len(parse_alphas("0:1:0.001")) == MAX_ALPHAS


def test_workers_beyond_the_cores_are_capped(monkeypatch):
    from core.data import loader

    seen = {}
    monkeypatch.setattr(loader.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(loader.torch.utils.data, "DataLoader", lambda *a, **k: seen.update(k))
    loader.train_loader([], [], 200, False)
    assert seen["num_workers"] == 2


@pytest.fixture
def special(tmp_path):
    """A class folder with a FIFO, a link to /dev/zero and a sparse 2 GiB file, each named as an image."""
    folder = tmp_path / "data" / "cat"
    folder.mkdir(parents=True)
    from PIL import Image

    for i in range(2):
        Image.new("RGB", (8, 8), (200, 10 * i, 10)).save(folder / f"ok{i}.png")
    os.mkfifo(folder / "pipe.png")
    os.symlink("/dev/zero", folder / "zero.png")
    with open(folder / "sparse.png", "wb") as f:
        f.truncate(2 << 30)
    return folder


def test_scan_skips_pipes_devices_and_huge_files_with_their_true_reason(special):
    report = scan_folder(special.parent)
    reasons = {os.path.basename(p.path): p.reason for p in report.skipped}
    assert "pipe (FIFO)" in reasons["pipe.png"]
    assert "symbolic link to a device" in reasons["zero.png"]
    assert "too large" in reasons["sparse.png"] and "GiB" in reasons["sparse.png"]
    assert len(report.samples) == 2


@pytest.mark.parametrize("name, words", [("pipe.png", "pipe"), ("zero.png", "device"), ("sparse.png", "too large")])
def test_reading_a_special_file_says_so_and_never_blocks(special, name, words):
    with pytest.raises(FlypError, match=words):
        read_image_bytes(special / name)
    assert stat.S_ISFIFO(os.stat(special / "pipe.png").st_mode)  # nothing was swapped or removed


def test_predict_skips_dev_zero_a_fifo_and_a_sparse_file_with_their_reason(capsys, flyp_bundle, special):
    code, out, err = run_cli(capsys, "predict", flyp_bundle, "/dev/zero", special / "pipe.png",
                             special / "sparse.png", special / "ok0.png", "--json")
    assert code == 2 and "Traceback" not in err
    import json

    report = json.loads(out)
    reasons = {os.path.basename(s["path"]): s["reason"] for s in report["skipped"]}
    assert "device" in reasons["zero"] and "pipe" in reasons["pipe.png"] and "too large" in reasons["sparse.png"]
    assert [os.path.basename(p["path"]) for p in report["predictions"]] == ["ok0.png"]


@pytest.mark.parametrize("name, words", [("pipe.png", "pipe (FIFO)"), ("zero.png", "symbolic link to a device"),
                                         ("gone.png", "no such file"), ("dangling.png", "broken symbolic link")])
def test_newer_verbs_name_a_special_file_for_what_it_is(capsys, flyp_run, special, tmp_path, name, words):
    """flyp search --image and flyp explain said "no such file" of a pipe or a device."""
    os.symlink(special / "nowhere", special / "dangling.png")
    for argv in (["search", special.parent, "--image", special / name, "--model", "demo"],
                 ["explain", flyp_run, special / name, "--out", tmp_path / "maps"]):
        code, _, err = run_cli(capsys, *argv)
        assert_one_line_error(code, err, name, words)


def test_search_over_a_folder_of_special_files_ranks_the_images_only(capsys, special):
    import json

    code, out, err = run_cli(capsys, "search", special.parent, "--text", "red", "--model", "demo", "--json")
    assert code == 0 and "Traceback" not in err
    assert sorted(os.path.basename(m["path"]) for m in json.loads(out)) == ["ok0.png", "ok1.png"]
