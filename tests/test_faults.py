"""Faults during training: a killed process, a full disk, a NaN loss, GPU memory running out,
and cancelling at any moment. Each ends in one line that says what happened, with nothing lost."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file

from conftest import TINY
from core.training import loop as train_module
from core.data.captions import load_templates
from core.training.config import TrainConfig
from core.errors import Cancelled, FlypError
from core.progress import RunControl
from cli_helpers import run_cli
from core.training.runs import RunDir
from core.training.loop import train

ENOSPC = SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")


def cli_args(data) -> list[str]:
    """`flyp train` arguments whose config equals `straight_config` (2 epochs × 6 steps)."""
    return ["--model", TINY, "--pretrained", "none", "--train", str(data["train"]), "--val", str(data["val"]),
            "--epochs", "2", "--batch-size", "12", "--lr", "2e-3", "--workers", "0"]


def straight_config(data) -> TrainConfig:
    return TrainConfig(train_dir=str(data["train"]), val_dir=str(data["val"]), model=TINY, pretrained="none",
                       epochs=2, batch_size=12, lr=2e-3, workers=0, templates=load_templates(None))


@pytest.fixture(scope="module")
def straight(colour_data, tmp_path_factory) -> RunDir:
    """The run the interrupted ones must reproduce, trained without interruption."""
    out = tmp_path_factory.mktemp("straight") / "run"
    train(straight_config(colour_data), out)
    return RunDir(out)


def assert_same_weights(run: RunDir, expected: RunDir) -> None:
    for which in ("last_file", "best_file"):
        a, b = load_file(str(getattr(expected, which))), load_file(str(getattr(run, which)))
        for key in a:
            torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-6, msg=f"{which} {key}")


def state_step(run: RunDir) -> int:
    with safe_open(str(run.state_file), framework="pt") as f:
        return json.loads(f.metadata()["flyp"])["step"]


def logged_steps(run: RunDir) -> list[int]:
    return [r["step"] for r in run.read_metrics() if r["type"] == "step"]


def one_error_line(code: int, err: str, *words: str) -> str:
    assert code == 2 and "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("flyp: error:")]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def start_cli_training(data, out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "core.cli", "train", *cli_args(data), "--out", str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_step(process: subprocess.Popen, run: RunDir, step: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not any(s >= step for s in logged_steps(run)):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never reached the step"
        time.sleep(0.01)


# A killed process --------------------------------------------------------------------------

def test_a_killed_run_resumes_from_its_last_checkpoint_to_the_same_weights(colour_data, straight, tmp_path, capsys):
    run = RunDir(tmp_path / "run")
    process = start_cli_training(colour_data, run.path, "--checkpoint-every", "1")
    wait_for_step(process, run, 4)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert json.loads(run.config_file.read_text())["status"] == "running"  # it died mid-run: nothing had the time to say so
    assert run.read_info()["status"] == "cancelled"  # read back: its process is gone, so it can be resumed, not "training"
    assert 3 <= state_step(run) < 12
    half_written = [run.path / ".run.json.flyp-k1ll3d.tmp", run.path / "checkpoints" / ".last.safetensors.flyp-k1ll3d.tmp"]
    for leftover in half_written:  # what a kill in the middle of a write leaves
        leftover.write_bytes(b"half")
    (run.path / ".keepme.tmp").write_text("the user's own")
    assert json.loads((run.path / ".flyp.lock").read_text())["pid"] == process.pid  # the dead process's lock
    code, _, err = run_cli(capsys, "train", "--out", run.path, "--resume")
    assert code == 0, err
    assert run.read_info()["status"] == "finished"
    assert logged_steps(run) == list(range(1, 13))  # every step logged once
    assert_same_weights(run, straight)
    assert [p.name for p in run.path.rglob("*.tmp")] == [".keepme.tmp"]  # only what the killed writes left went
    assert not (run.path / ".flyp.lock").exists()  # the stale lock was taken over, and released at the end


# Two processes, one run folder --------------------------------------------------------------

def test_a_run_folder_in_use_is_refused_saying_who_holds_it(colour_data, tmp_path, capsys):
    import socket

    run = RunDir(tmp_path / "run")
    with run.held():  # as a `flyp train` running in another process would
        code, _, err = run_cli(capsys, "train", *cli_args(colour_data), "--out", run.path)
        one_error_line(code, err, str(run.path), f"process {os.getpid()} on {socket.gethostname()}",
                       "choose another --out")
        code, _, err = run_cli(capsys, "train", "--out", run.path, "--resume")
        one_error_line(code, err, "another flyp process is writing this run")
    assert not run.path.exists()  # the refused runs wrote nothing


@pytest.mark.parametrize("out", ["a-file", "a-file/run", "read-only/run"])
def test_an_unusable_out_folder_is_one_line(colour_data, tmp_path, capsys, monkeypatch, out):
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "read-only").mkdir()
    real_open = os.open

    def read_only(path, *args):  # also as root, who may write into a chmod 555 folder
        if str(path).startswith(str(tmp_path / "read-only")):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, *args)
    monkeypatch.setattr(os, "open", read_only)
    for verb in (["train", *cli_args(colour_data)], ["soup", "--runs", tmp_path]):
        code, _, err = run_cli(capsys, *verb, "--out", tmp_path / out)
        one_error_line(code, err, f"{tmp_path / out}: cannot be used as a run folder", "choose another --out")
    assert (tmp_path / "a-file").read_text() == "not a folder"


# Damaged or diverged weights ----------------------------------------------------------------

@pytest.fixture(scope="module")
def saved_twice(colour_data, tmp_path_factory) -> RunDir:
    """A run stopped at step 2, resumed and stopped again at step 3: its state is step 3's, the
    previous save step 2's."""
    out = tmp_path_factory.mktemp("twice") / "run"
    for config, step in ((straight_config(colour_data), 2), (None, 3)):
        control = RunControl()
        with pytest.raises(Cancelled):
            train(config, out, resume=config is None, control=control,
                  on_event=lambda e, step=step, control=control: e["type"] == "step" and e["step"] == step
                  and control.cancel())
    return RunDir(out)


def flip_a_bit(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x04
    path.write_bytes(bytes(data))


def test_a_flipped_bit_in_the_state_falls_back_to_the_previous_save(saved_twice, straight, tmp_path, capsys):
    import shutil

    run = RunDir(shutil.copytree(saved_twice.path, tmp_path / "run"))
    assert state_step(run) == 3 and run.previous_state_file.is_file()
    flip_a_bit(run.state_file)
    code, _, err = run_cli(capsys, "train", "--out", run.path, "--resume")
    assert code == 0, err
    assert "does not match its checksum; resuming from the previous save (step 2)" in err, err[:600]
    assert logged_steps(run) == list(range(1, 13))
    assert_same_weights(run, straight)


def test_a_flipped_bit_without_a_previous_save_is_one_line(saved_twice, tmp_path, capsys):
    import shutil

    run = RunDir(shutil.copytree(saved_twice.path, tmp_path / "run"))
    run.previous_state_file.unlink()
    flip_a_bit(run.state_file)
    before = run.state_file.read_bytes()
    code, _, err = run_cli(capsys, "train", "--out", run.path, "--resume")
    one_error_line(code, err, str(run.state_file), "does not match its checksum", "left as it is")
    assert run.state_file.read_bytes() == before


def test_a_flipped_bit_in_a_checkpoint_is_named(flyp_run, colour_data, tmp_path, capsys):
    import shutil

    run = RunDir(shutil.copytree(flyp_run, tmp_path / "run"))
    flip_a_bit(run.best_file)
    code, _, err = run_cli(capsys, "evaluate", "--run", run.path, "--data", colour_data["val"])
    one_error_line(code, err, str(run.best_file), "does not match its checksum")


def reshaped(tensors: dict, meta: dict):
    key = next(k for k in tensors if k.startswith("model.") and tensors[k].ndim == 2)
    return {**tensors, key: tensors[key].reshape(-1)}, meta


@pytest.mark.parametrize("change, words", [
    (lambda t, m: ({k: v for k, v in t.items() if k != "model.logit_scale"}, m), ["missing model.logit_scale"]),
    (reshaped, ["has shape"]),
    (lambda t, m: (t, {k: v for k, v in m.items() if k != "best_step"}), ["lacks best_step"]),
    (lambda t, m: ({k: (v[:1].clone() if k.endswith(".exp_avg") and v.ndim else v) for k, v in t.items()}, m),
     ["optim.", "has shape"]),
])
def test_a_state_of_the_wrong_structure_is_named(saved_twice, tmp_path, capsys, change, words):
    import shutil

    from core import atomic

    run = RunDir(shutil.copytree(saved_twice.path, tmp_path / "run"))
    tensors, meta = change(*run.load_state())
    atomic.save_safetensors(tensors, run.state_file, {"flyp": json.dumps(meta)})
    code, _, err = run_cli(capsys, "train", "--out", run.path, "--resume")
    one_error_line(code, err, str(run.state_file), *words, "left as it is")


def test_ctrl_c_stops_after_the_step_saves_and_exits_130(colour_data, tmp_path):
    run = RunDir(tmp_path / "run")
    process = start_cli_training(colour_data, run.path)
    wait_for_step(process, run, 2)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == "flyp: cancelled"
    assert "continue with the same command and --resume" in err
    assert run.read_info()["status"] == "cancelled" and state_step(run) == logged_steps(run)[-1]


# Cancelling at any moment ------------------------------------------------------------------

@pytest.mark.parametrize("moment, run_written", [
    ("Scanning images…", False),
    ("Loading", False),
    ("Preparing evaluation images…", False),  # stops while the evaluation images decode
    ("step 3", True),
])
def test_cancelling_at_any_moment_stops_cleanly(colour_data, tmp_path, moment, run_written):
    control, events = RunControl(), []

    def on_event(event):
        events.append(event)
        text = event.get("message", "") if event["type"] == "status" else f"{event['type']} {event.get('step')}"
        if text.startswith(moment):
            control.cancel()
    with pytest.raises(Cancelled):
        train(straight_config(colour_data), tmp_path / "run", on_event=on_event, control=control)
    run = RunDir(tmp_path / "run")
    assert run.exists() == run_written
    if run_written:
        assert run.read_info()["status"] == "cancelled"
    assert not [e for e in events if e["type"] == "step" and e["step"] > 3]


def test_a_run_cancelled_while_evaluating_evaluates_again_on_resume(colour_data, straight, tmp_path):
    control = RunControl()

    def stop_at_the_evaluation(event):
        if event["type"] == "step" and event["step"] == 6:  # the end of epoch 1: an evaluation follows
            control.cancel()
    with pytest.raises(Cancelled):
        train(straight_config(colour_data), tmp_path / "run", on_event=stop_at_the_evaluation, control=control)
    run = RunDir(tmp_path / "run")
    assert [r["step"] for r in run.read_metrics() if r["type"] == "eval"] == [0]  # the evaluation was cut short
    train(None, run.path, resume=True)
    assert [r["step"] for r in run.read_metrics() if r["type"] == "eval"] == [0, 6, 12]
    assert_same_weights(run, straight)


# A full disk -------------------------------------------------------------------------------

def fill_disk_for(monkeypatch, name: str, after: int = 0) -> dict:
    """Writing a file called `name` fails with ENOSPC, from its (`after` + 1)-th write on;
    `seen["before"]` holds the file's bytes as they were when the write failed."""
    import safetensors.torch

    seen = {"writes": 0}
    real_save, real_write = safetensors.torch.save_file, Path.write_bytes

    def failing(target: str) -> bool:
        if not Path(target).name.startswith(f".{name}."):
            return False
        seen["writes"] += 1
        if seen["writes"] <= after:
            return False
        final = Path(target).with_name(name)
        seen["before"] = final.read_bytes() if final.exists() else None
        return True

    def save_file(tensors, filename, metadata=None):
        if failing(filename):
            raise ENOSPC
        return real_save(tensors, filename, metadata=metadata)

    def write_bytes(self, data):
        if failing(str(self)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(self, data)
    monkeypatch.setattr(safetensors.torch, "save_file", save_file)
    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    return seen


@pytest.mark.parametrize("name, write", [
    ("run.json", lambda run: run.update_info(status="finished")),
    ("last.safetensors", lambda run: run.save_weights("last", {"w": torch.ones(3)}, {"step": 99})),
    ("state.safetensors", lambda run: run.save_state({"w": torch.ones(3)}, {"step": 99})),
])
def test_a_full_disk_keeps_the_previous_run_file(flyp_run, tmp_path, monkeypatch, name, write):
    import shutil

    run = RunDir(shutil.copytree(flyp_run, tmp_path / "run"))
    path = next(run.path.rglob(name))
    before = path.read_bytes()
    fill_disk_for(monkeypatch, name)
    with pytest.raises(FlypError) as error:
        write(run)
    assert str(error.value) == f"could not write {path}: No space left on device; the previous version is kept"
    assert path.read_bytes() == before
    assert not list(run.path.rglob("*.tmp"))  # no half-written leftovers


def test_a_full_disk_keeps_the_metrics_log(flyp_run, tmp_path, monkeypatch):
    import shutil

    from core.training import runs

    run = RunDir(shutil.copytree(flyp_run, tmp_path / "run"))
    before = run.metrics_file.read_bytes()

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(runs, "open", no_space, raising=False)
    with pytest.raises(FlypError, match=f"could not write {run.metrics_file}: No space left on device; "
                                        "the records before it are kept"):
        run.append_metrics({"type": "step", "step": 99})
    assert run.metrics_file.read_bytes() == before


def test_a_full_disk_during_export_keeps_the_previous_bundle(flyp_run, flyp_bundle, tmp_path, monkeypatch, capsys):
    import shutil

    out = shutil.copytree(flyp_bundle, tmp_path / "bundle")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    fill_disk_for(monkeypatch, "open_clip_model.safetensors")
    code, _, err = run_cli(capsys, "export", "--run", flyp_run, "--alpha", "1", "--out", out)
    one_error_line(code, err, f"could not write {out}: No space left on device (writing open_clip_model.safetensors); "
                              "the previous bundle is kept")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]  # the unfinished copy is gone


def test_a_full_disk_during_training_stops_in_one_line_and_the_run_resumes(colour_data, tmp_path, monkeypatch, capsys):
    run = RunDir(tmp_path / "run")
    seen = fill_disk_for(monkeypatch, "state.safetensors", after=1)  # the second save (step 12) fails
    code, _, err = run_cli(capsys, "train", *cli_args(colour_data), "--out", run.path)
    one_error_line(code, err, f"could not write {run.state_file}: No space left on device",
                   "the previous version is kept", "continue with --resume")
    assert run.state_file.read_bytes() == seen["before"] and state_step(run) == 6
    assert run.read_info()["status"] == "failed"
    monkeypatch.undo()
    assert run_cli(capsys, "train", "--out", run.path, "--resume")[0] == 0
    assert run.read_info()["status"] == "finished"


# A NaN loss --------------------------------------------------------------------------------

def test_a_nan_loss_stops_in_one_line_and_keeps_the_best_checkpoint(colour_data, tmp_path, monkeypatch, capsys):
    run, seen = RunDir(tmp_path / "run"), {}
    real_step = train_module._Trainer.train_step

    def diverging_step(self, *args):
        if self.step == 7:  # the 8th step: poison a weight, as an exploding update would
            seen["best"] = run.best_file.read_bytes()
            with torch.no_grad():
                self.clf.model.logit_scale.fill_(float("nan"))
        return real_step(self, *args)
    monkeypatch.setattr(train_module._Trainer, "train_step", diverging_step)
    code, _, err = run_cli(capsys, "train", *cli_args(colour_data), "--out", run.path)
    one_error_line(code, err, "the loss became nan at step 8", f"the best checkpoint (step 6) is kept in {run.path}",
                   "try a lower --lr")
    assert run.best_file.read_bytes() == seen["best"]
    assert all(torch.isfinite(t).all() for t in load_file(str(run.best_file)).values())
    info = run.read_info()
    assert info["status"] == "failed" and "nan" in info["error"] and state_step(run) == 6
    assert info["nan_loss"] is True  # the advice's "the loss became NaN" reads this field, not the message


def test_diverged_weights_never_become_the_best_checkpoint(colour_data, tmp_path, capsys, monkeypatch):
    run = RunDir(tmp_path / "run")  # an evaluation after every step: the first would have been "best"
    real_step = train_module._Trainer.train_step

    def exploding_step(self, *args):  # the options' bounds keep the learning rate sane: blow the weights up
        loss = real_step(self, *args)
        with torch.no_grad():
            for p in self.params:
                p.mul_(1e30)
        return loss
    monkeypatch.setattr(train_module._Trainer, "train_step", exploding_step)
    code, _, err = run_cli(capsys, "train", *cli_args(colour_data), "--evals-per-epoch", "6", "--out", run.path)
    one_error_line(code, err, "training diverged at step 1", "grew from", "no checkpoint had been saved yet",
                   "try a lower --lr")
    assert not run.best_file.exists() and not run.state_file.exists()
    assert run.read_info()["status"] == "failed" and "best" not in run.read_info()


# GPU memory running out --------------------------------------------------------------------

def test_out_of_memory_in_a_step_saves_the_run_and_says_what_batch_fits(colour_data, tmp_path, monkeypatch, capsys):
    run = RunDir(tmp_path / "run")
    real_step = train_module._Trainer.train_step

    def step_out_of_memory(self, *args):
        if self.step == 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(self, *args)
    monkeypatch.setattr(train_module._Trainer, "train_step", step_out_of_memory)
    code, _, err = run_cli(capsys, "train", *cli_args(colour_data), "--out", run.path)
    one_error_line(code, err, "out of CPU memory at step 4 with 12 images per pass", "the run is saved at step 3",
                   "--resume --micro-batch-size 8", "--batch-size 8")
    assert state_step(run) == 3 and run.read_info()["status"] == "failed"
    monkeypatch.undo()
    assert run_cli(capsys, "train", "--out", run.path, "--resume", "--micro-batch-size", "8")[0] == 0
    assert run.read_info()["status"] == "finished" and logged_steps(run) == list(range(1, 13))


@pytest.mark.parametrize("module", ["core.data.folders", "core.data.image_cache"])
def test_cancelling_stops_decoding_at_once_not_after_the_whole_folder(module, tmp_path, monkeypatch):
    import importlib

    from conftest import write_class_folders
    from core.data.folders import scan_folder
    from core.data.image_cache import decoded_images

    paths = sorted(write_class_folders(tmp_path / "d", 60, seed=0, classes=("red", "blue")).rglob("*.png"))
    monkeypatch.setenv("FLYP_CACHE_DIR", str(tmp_path / "cache"))
    target, decoded = importlib.import_module(module), []
    real_load = target.load_rgb

    def slow_load(path, **kwargs):
        decoded.append(path)
        time.sleep(0.02)
        return real_load(path, **kwargs)
    monkeypatch.setattr(target, "load_rgb", slow_load)
    with pytest.raises(Cancelled):
        if module == "core.data.folders":
            scan_folder(tmp_path / "d", cancel=lambda: True)
        else:
            decoded_images(paths, 32, cancel=lambda: True)
    assert len(decoded) < len(paths) // 2


def test_a_message_quotes_an_errors_first_line_and_out_of_memory_is_told_by_kind():
    """One home for both (core/errors.py): a multi-line error is quoted by its first line, a silent
    one by its kind; PyTorch's out-of-memory error is known by its type, on any device."""
    from core.errors import first_line, out_of_memory

    assert first_line(ValueError("  bad header\n  at byte 12\n")) == "bad header"
    assert first_line(KeyError()) == "KeyError"
    assert out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert out_of_memory(RuntimeError("MPS backend out of memory"))
    assert not out_of_memory(RuntimeError("size mismatch")) and not out_of_memory(ValueError("out of memory"))


class _WorkerSignals(torch.utils.data.Dataset):
    """Each item says, from inside the loader worker: its process, whether Ctrl-C is ignored
    there, and the signal it gets when its parent dies (Linux's PR_GET_PDEATHSIG)."""

    def __getitem__(self, key):
        import ctypes

        death = ctypes.c_int(0)
        if sys.platform.startswith("linux"):
            ctypes.CDLL(None).prctl(2, ctypes.byref(death))  # PR_GET_PDEATHSIG
        return torch.tensor([os.getpid(), signal.getsignal(signal.SIGINT) is signal.SIG_IGN, death.value])

    def __len__(self):
        return 4


@pytest.mark.skipif(not hasattr(os, "fork"), reason="loader workers are forked here")
def test_loader_workers_leave_ctrl_c_to_the_training_and_die_with_it():
    """A double Ctrl-C raised in every worker (their inherited handler) and a kill -9 of the
    training left orphaned workers that printed a traceback: workers ignore Ctrl-C, and on
    Linux the system kills them with their parent."""
    from core.cli.output import interrupt_cancels
    from core.data.loader import train_loader

    restore = interrupt_cancels(RunControl())  # what `flyp train` installs before the loader forks
    try:
        rows = [batch[0].tolist() for batch in train_loader(_WorkerSignals(), [[i] for i in range(4)], 2, False)]
    finally:
        restore()
    assert {pid for pid, _, _ in rows} - {os.getpid()}  # they ran in workers
    assert all(ignored for _, ignored, _ in rows)
    if sys.platform.startswith("linux"):
        assert all(death == signal.SIGKILL for _, _, death in rows)
