"""Untrusted and damaged files: refused or reported in one line, never executed, never overwritten;
and hub weights that are not there fail at once with a way out."""

import json
import pickle
import shutil

import pytest

from cli_helpers import run_cli
from core.training.runs import RunDir


def one_error_line(code: int, err: str, *words: str) -> None:
    assert code == 2 and "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("flyp: error:")]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], (word, lines[0])


class Payload:
    """Unpickling this runs code: it writes the file `marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('ran')",))


def test_a_checkpoint_carrying_code_is_refused_without_running_it(tmp_path, colour_data, capsys):
    marker = tmp_path / "the payload ran"
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"visual.conv1.weight": Payload(marker)}, f)
    code, _, err = run_cli(capsys, "zeroshot", "--model", "flyp-tiny", "--pretrained", tmp_path / "evil.pt",
                           "--data", colour_data["val"])
    one_error_line(code, err, "evil.pt", "refused", "pickled Python objects", ".safetensors")
    assert not marker.exists()


# Damaged bundles ---------------------------------------------------------------------------

def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def edit_json(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def flip_a_bit(path, at: float = 0.5):
    data = bytearray(path.read_bytes())
    data[int(len(data) * at)] ^= 0x10
    path.write_bytes(bytes(data))


def narrow_head(bundle):
    from safetensors.torch import load_file, save_file

    head = load_file(bundle / "class_head.safetensors")
    save_file({**head, "weight": head["weight"][:, :7].contiguous()}, bundle / "class_head.safetensors")


@pytest.mark.parametrize("damage, words", [
    (lambda b: truncate(b / "open_clip_model.safetensors"), ["open_clip_model.safetensors", "damaged",
                                                              "export the bundle again"]),
    (lambda b: flip_a_bit(b / "open_clip_model.safetensors"), ["open_clip_model.safetensors",
                                                                "does not match its checksum"]),
    (lambda b: (b / "flyp.json").write_text("{ not json"), ["flyp.json", "damaged", "export the bundle again"]),
    (lambda b: (b / "flyp.json").write_text('{"format": 1}'), ["flyp.json", "field 'class_names' should be a list"]),
    (lambda b: (b / "class_head.safetensors").unlink(), ["not a FLYP bundle", "missing class_head.safetensors"]),
    (lambda b: truncate(b / "class_head.safetensors"), ["class_head.safetensors", "damaged"]),
    (narrow_head, ["class_head.safetensors", "takes 7 features", "export the bundle again"]),
    (lambda b: edit_json(b / "flyp.json", lambda i: i.update(preprocess={})), ["flyp.json", "field 'preprocess.size' should be"]),
    (lambda b: edit_json(b / "flyp.json", lambda i: i.update(class_names={n: n for n in i["class_names"]})),
     ["flyp.json", "field 'class_names' should be a list", "not {"]),
    (lambda b: (b / "open_clip_config.json").write_text('{"model_cfg": {"embed_dim": '),
     ["open_clip_config.json", "damaged", "export the bundle again"]),
    (lambda b: edit_json(b / "open_clip_config.json", lambda c: c["model_cfg"].pop("text_cfg")),
     ["open_clip_config.json", "does not describe a model"]),
])
def test_flyp_predict_names_what_is_damaged_in_a_bundle(flyp_bundle, colour_data, tmp_path, capsys, damage, words):
    bundle = shutil.copytree(flyp_bundle, tmp_path / "bundle")
    damage(bundle)
    code, _, err = run_cli(capsys, "predict", bundle, colour_data["val"] / "red" / "red_000.png")
    one_error_line(code, err, *words)


# Damaged run files -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stopped_run(colour_data, tmp_path_factory):
    """A run stopped after 3 of its 6 steps: there is something left to resume."""
    from conftest import tiny_config
    from core.errors import Cancelled
    from core.progress import RunControl
    from core.training.loop import train

    control = RunControl()
    out = tmp_path_factory.mktemp("stopped") / "run"
    with pytest.raises(Cancelled):
        train(tiny_config(colour_data, epochs=1, ood_dirs=[]), out, control=control,
              on_event=lambda e: e["type"] == "step" and e["step"] == 3 and control.cancel())
    return out


def files_of(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name, damage, words", [
    ("run.json", lambda p: p.write_text('{"format": 1, "status": "canc'), ["run.json", "damaged", "left as it is"]),
    ("run.json", lambda p: p.write_text('{"format": 1, "status": "cancelled"}'), ["run.json", "lacks config"]),
    ("state.safetensors", truncate, ["state.safetensors", "damaged (", "left as it is"]),
])
def test_resuming_a_damaged_run_reports_the_file_and_changes_nothing(stopped_run, tmp_path, capsys, name, damage, words):
    run = shutil.copytree(stopped_run, tmp_path / "run")
    damage(run / name)
    before = files_of(run)
    code, _, err = run_cli(capsys, "train", "--out", run, "--resume")
    one_error_line(code, err, *words)
    assert files_of(run) == before
    code, _, err = run_cli(capsys, "train", "--model", "flyp-tiny", "--pretrained", "none", "--train", tmp_path,
                           "--out", run)
    assert files_of(run) == before  # starting over into it is refused too


def test_a_damaged_run_json_is_reported_by_evaluate_blend_and_export(stopped_run, colour_data, tmp_path, capsys):
    run = shutil.copytree(stopped_run, tmp_path / "run")
    (run / "run.json").write_bytes(b"\xff\xfe garbage")
    for argv in (["evaluate", "--data", colour_data["val"]], ["blend"], ["export", "--out", tmp_path / "b"]):
        code, _, err = run_cli(capsys, *argv, "--run", run)
        one_error_line(code, err, str(run / "run.json"), "damaged")
    assert (run / "run.json").read_bytes() == b"\xff\xfe garbage"


def test_a_damaged_metrics_log_is_kept_aside_and_the_run_resumes(stopped_run, tmp_path, capsys):
    run = RunDir(shutil.copytree(stopped_run, tmp_path / "run"))
    lines = run.metrics_file.read_bytes().splitlines(keepends=True)
    damaged = b"".join(lines[:2] + [b"\x00\x00 garbage \xff\n"] + lines[2:])
    run.metrics_file.write_bytes(damaged)
    code, _, err = run_cli(capsys, "train", "--out", run.path, "--resume")
    assert code == 0, err
    copies = list(run.path.glob("metrics.damaged-*.jsonl"))
    assert len(copies) == 1 and copies[0].read_bytes() == damaged
    assert f"{run.metrics_file} had damaged lines" in err and copies[0].name in err
    assert [r["step"] for r in run.read_metrics() if r["type"] == "step"] == [1, 2, 3, 4, 5, 6]


def test_a_log_torn_by_a_crash_is_simply_continued(stopped_run, tmp_path, capsys):
    run = RunDir(shutil.copytree(stopped_run, tmp_path / "run"))
    with open(run.metrics_file, "ab") as f:
        f.write(b'{"type": "step", "step": 4, "lo')  # killed in the middle of a line
    assert run_cli(capsys, "train", "--out", run.path, "--resume")[0] == 0
    assert not list(run.path.glob("metrics.damaged-*"))
    assert [r["step"] for r in run.read_metrics() if r["type"] == "step"] == [1, 2, 3, 4, 5, 6]


# Hub weights that are not there ------------------------------------------------------------

def test_uncached_hub_weights_without_network_fail_at_once_and_say_how_to_provide_them(
        colour_data, tmp_path, monkeypatch, capsys):
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))  # an empty cache…
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))  # …also for the already imported hub client
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # not offline mode: the network is just not there
    monkeypatch.setenv("HF_ENDPOINT", "https://192.0.2.1")  # TEST-NET-1: never routed anywhere
    import socket

    from core.model.loading import NETWORK_TIMEOUT_S

    tries, connect = [], socket.create_connection
    monkeypatch.setattr(socket, "create_connection", lambda address, timeout=None, *a, **k: tries.append(
        (address, timeout)) or connect(address, timeout, *a, **k))
    code, _, err = run_cli(capsys, "zeroshot", "--model", "ViT-B-32", "--pretrained", "openai",
                           "--data", colour_data["val"])
    assert tries == [(("192.0.2.1", 443), NETWORK_TIMEOUT_S)]  # one probe with a deadline; no hub client retries
    one_error_line(code, err, "ViT-B-32 (openai)", f"not in this computer's Hugging Face cache ({tmp_path})",
                   "192.0.2.1 cannot be reached", "models--timm--vit_base_patch32_clip_224.openai",
                   "--pretrained FILE", "Hugging Face cache")
