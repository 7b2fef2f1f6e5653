"""What `flyp` prints: usage errors and library noise as one line, names that cannot forge a line,
results on stdout and progress on stderr (a line every few seconds in a log file), versions and
help with examples; and the options that must not be ignored."""

import argparse
import json
import os
import pickle
import socket
import subprocess
import sys
import threading
from collections import OrderedDict
from pathlib import Path

import pytest

from cli_helpers import assert_one_line_error, run_cli
from conftest import TINY

TRAIN = ["train", "--model", TINY, "--pretrained", "none", "--epochs", "1", "--batch-size", "12", "--workers", "0"]


def flyp(*argv, env=None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "core.cli", *map(str, argv)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, **kwargs)


# Usage errors and versions -------------------------------------------------------------------

@pytest.mark.parametrize("argv, words", [
    (["train", "--batch-size", "abc"], ["argument --batch-size: must be a whole number from 2 to 65536", "'abc'", "flyp train --help"]),
    (["trian"], ["invalid choice: 'trian'"]),
    (["scan"], ["required: DIR", "flyp scan --help"]),
    (["predict", "--top-k", "2"], ["required: BUNDLE"]),
])
def test_a_usage_error_is_one_line_without_the_usage_block(capsys, argv, words):
    code, out, err = run_cli(capsys, *argv)
    assert_one_line_error(code, err, *words)
    assert err.count("\n") == 1 and "usage:" not in err and not out


def test_version_names_torch_cuda_and_open_clip():
    import open_clip
    import torch

    result = flyp("--version")
    assert result.returncode == 0
    line = result.stdout.strip()
    assert line.startswith("flyp ") and f"torch {torch.__version__}" in line and "CUDA" in line
    assert f"open_clip {open_clip.__version__}" in line


def test_every_option_has_help_and_every_command_an_example():
    from core.cli.parser import build_parser

    parser = build_parser()
    verbs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    for name, verb in {"flyp": parser, **verbs}.items():
        for action in verb._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue  # the list of commands: each has its help
            assert action.help, f"{name} {action.option_strings or action.dest} has no help text"
        assert "example: flyp" in verb.format_help(), name


# Library noise --------------------------------------------------------------------------------

def test_a_plain_pickle_is_refused_without_torchs_warning(tmp_path, colour_data):
    weights = tmp_path / "plain.bin"
    with open(weights, "wb") as f:
        pickle.dump(OrderedDict(a=1), f, protocol=4)
    result = flyp("zeroshot", "--model", TINY, "--pretrained", weights, "--data", colour_data["val"])
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"flyp: error: {weights}: refused")


class Unspeakable:
    """A TCP server on loopback that accepts connections and then drops them (`close`) or answers
    garbage (`garble`): a firewall or proxy that lets the connection through, not TLS."""

    def __init__(self, mode: str):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port, self.mode = self.server.getsockname()[1], mode
        self.connections = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                if self.mode == "garble":
                    conn.recv(1024)
                    conn.sendall(b"HTTP/1.1 200 OK\r\n\r\nthis is not TLS\x00\x01")


@pytest.mark.parametrize("mode", ["close", "garble"])
def test_a_hub_endpoint_that_fails_tls_fails_in_seconds_in_one_line(tmp_path, colour_data, mode):
    endpoint = Unspeakable(mode)
    try:
        result = flyp("zeroshot", "--model", "ViT-B-32", "--pretrained", "openai", "--data", colour_data["val"],
                      env={"HF_ENDPOINT": f"https://127.0.0.1:{endpoint.port}", "HF_HUB_OFFLINE": "0",
                           "HF_HUB_CACHE": str(tmp_path), "HF_HOME": str(tmp_path)}, timeout=120)
    finally:
        endpoint.server.close()
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "127.0.0.1 cannot be reached" in result.stderr and "--pretrained FILE" in result.stderr
    assert endpoint.connections == 1  # one probe, given up on: no retries (a hang fails the subprocess's timeout)


# Names that cannot forge a line ------------------------------------------------------------------

def test_a_newline_in_a_file_name_cannot_forge_an_output_line(tmp_path, colour_data):
    import shutil

    data = shutil.copytree(colour_data["val"], tmp_path / "data")
    (data / "red" / "x\nflyp: error: fake.png").write_text("not an image")
    result = flyp("scan", data)
    assert result.returncode == 0, result.stderr
    assert not [line for line in result.stdout.splitlines() if line.startswith("flyp: error: fake")]
    assert "x\\nflyp: error: fake.png: " in result.stdout
    missing = tmp_path / "some\nfolder"
    result = flyp("scan", missing)
    assert result.returncode == 2 and result.stderr == f"flyp: error: {tmp_path}/some\\nfolder: no such folder\n"


# Results on stdout, progress on stderr ---------------------------------------------------------

def test_train_prints_its_result_on_stdout_and_progress_lines_on_stderr(tmp_path, colour_data):
    result = flyp(*TRAIN, "--train", colour_data["train"], "--val", colour_data["val"], "--evals-per-epoch", "2",
                  "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"finished: best ID accuracy {_best(tmp_path / 'run')} at step "
                                          f"{json.loads((tmp_path / 'run' / 'run.json').read_text())['best']['step']}; "
                                          f"run saved in {tmp_path / 'run'}"]
    err = result.stderr.splitlines()
    assert [line for line in err if line.startswith("step      3 (epoch 0.50): id ")]  # evaluations: stderr
    assert [line for line in err if line.startswith("step 1/6: loss ")]  # a plain line, not a bar, in a file


def _best(run: Path) -> str:
    return f"{json.loads((run / 'run.json').read_text())['best']['id_accuracy']:.1%}"


def test_train_counts_the_data_problems_and_forgets_those_class_names_answer(tmp_path, colour_data, capsys):
    import shutil

    train = shutil.copytree(colour_data["train"], tmp_path / "train")
    (train / "red").rename(train / "___")
    (train / "green" / "broken.png").write_text("not an image")
    names = tmp_path / "names.txt"
    names.write_text("___=red\n")
    code, _, err = run_cli(capsys, *TRAIN, "--train", train, "--val-fraction", "0.25", "--class-names", names,
                           "--out", tmp_path / "run")
    assert code == 0, err
    assert f"1 problem(s) with the data (files skipped, duplicates, classes left out): listed in {tmp_path / 'run'}" \
        in err
    problems = json.loads((tmp_path / "run" / "run.json").read_text())["data"]["problems"]
    assert [Path(p["path"]).name for p in problems] == ["broken.png"]  # no "___ leaves no class name"


# Options that must not be ignored ----------------------------------------------------------------

def test_the_demo_model_refuses_a_pretrained_tag_and_loads_a_weights_file(tmp_path, colour_data, capsys):
    import torch
    from safetensors.torch import save_file

    from core.model.loading import ModelSpec, load_model

    code, _, err = run_cli(capsys, "zeroshot", "--model", "demo", "--pretrained", "openai", "--data", colour_data["val"])
    assert_one_line_error(code, err, "--pretrained openai", "demo model has no pretrained tags")
    demo = load_model(ModelSpec("demo")).model.state_dict()
    changed = {k: (v + 1 if k == "logit_scale" else v).contiguous() for k, v in demo.items()}
    save_file(changed, tmp_path / "mine.safetensors")
    loaded = load_model(ModelSpec("demo", str(tmp_path / "mine.safetensors"))).model.state_dict()
    assert torch.equal(loaded["logit_scale"], demo["logit_scale"] + 1)


def test_a_template_with_a_format_spec_is_refused_before_the_run_starts(tmp_path, colour_data, capsys):
    templates = tmp_path / "t.txt"
    templates.write_text("a photo of a {:>5000000000}.\n")
    code, _, err = run_cli(capsys, *TRAIN, "--train", colour_data["train"], "--templates", templates,
                           "--out", tmp_path / "run")
    assert_one_line_error(code, err, "t.txt: template 1", "bare {}")
    assert not (tmp_path / "run").exists()


# File modes ----------------------------------------------------------------------------------

def test_runs_and_bundles_get_the_users_normal_permissions(tmp_path, colour_data):
    script = (f"import sys; from core.cli import main; "
              f"sys.exit(main({[*TRAIN, '--train', str(colour_data['train']), '--val', str(colour_data['val']), '--out', str(tmp_path / 'run')]!r}) "
              f"or main(['export', '--run', {str(tmp_path / 'run')!r}, '--out', {str(tmp_path / 'bundle')!r}]))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            preexec_fn=lambda: os.umask(0o022))
    assert result.returncode == 0, result.stderr
    modes = {str(p.relative_to(tmp_path)): oct(p.stat().st_mode & 0o777)
             for folder in ("run", "bundle") for p in [tmp_path / folder, *(tmp_path / folder).rglob("*")]}
    assert "run/checkpoints/best.safetensors" in modes and "bundle/open_clip_model.safetensors" in modes
    assert {name: mode for name, mode in modes.items()
            if mode != (oct(0o755) if (tmp_path / name).is_dir() else oct(0o644))} == {}


WAITING = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")


@pytest.mark.parametrize("users", [None, "ACTIVE"])
def test_how_torch_threads_wait_is_chosen_as_torch_loads_and_a_users_setting_wins(users):
    """The OpenMP library reads the setting once, when torch loads it: the choice must be made by
    then (not at `import core`, which the app's window makes before torch), and left alone when the
    user set it."""
    env = {k: v for k, v in os.environ.items() if k not in WAITING} | ({"OMP_WAIT_POLICY": users} if users else {})
    code = ("import sys, os, core.cli; names = " + repr(WAITING) + "\n"
            "before = [os.environ.get(n) for n in names]; import torch\n"
            "print(before, [os.environ.get(n) for n in names], 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    before, after = result.stdout.rsplit("] [", 1)
    if users:
        assert result.stdout.strip() == "['ACTIVE', None, None] ['ACTIVE', None, None] True"
    else:
        assert before == "[None, None, None" and ("'PASSIVE'" in after or "'3000000'" in after)
