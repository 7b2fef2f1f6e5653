"""Models from the Hugging Face Hub by their `hf-hub:` names, from a cache built on disk, offline."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cli_helpers import assert_one_line_error, run_cli
from conftest import TINY, tiny_config
from core.atomic import save_safetensors
from core.errors import Cancelled, FlypError
from core.model import hub
from core.model.loading import ModelSpec, load_model
from hub_cache import COMMIT, add_repo, open_clip_files

NAME = "hf-hub:test-org/tiny-clip"
MEAN, STD = [0.5, 0.4, 0.3], [0.2, 0.25, 0.3]


@pytest.fixture(scope="session")
def hub_weights(tmp_path_factory):
    """The tiny CLIP with weights no default seed gives, and their file."""
    model = load_model(ModelSpec(TINY, "none"), seed=7)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_safetensors(model.model.state_dict(), path)
    return model, path


@pytest.fixture
def hub_cache(tmp_path, monkeypatch, hub_weights):
    model, weights = hub_weights
    cache = tmp_path / "hf" / "hub"
    add_repo(cache, NAME.removeprefix("hf-hub:"), open_clip_files(model.model_cfg, weights, {"mean": MEAN, "std": STD}))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


def test_a_hub_model_loads_from_the_cache_by_its_name(hub_cache, hub_weights):
    loaded = load_model(ModelSpec(NAME))
    expected = hub_weights[0].model.state_dict()
    assert all(torch.equal(loaded.model.state_dict()[k], v) for k, v in expected.items())
    assert list(loaded.preprocess["mean"]) == MEAN and list(loaded.preprocess["std"]) == STD
    assert loaded.open_clip_name == NAME and loaded.model_cfg == hub_weights[0].model_cfg
    assert loaded.tokenizer(["a red thing"]).shape == (1, 32)


@pytest.mark.parametrize("variable, cache", [("HF_HOME", "hf-home/hub"), ("HF_HUB_CACHE", "hub-cache")])
def test_the_real_cache_folder_is_named_when_a_model_is_missing(tmp_path, monkeypatch, variable, cache):
    from flyp_app.words import error_text

    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv(variable, str(tmp_path / cache.removesuffix("/hub")))
    with pytest.raises(FlypError) as caught:
        load_model(ModelSpec("hf-hub:imageomics/bioclip"))
    target = tmp_path / cache / "models--imageomics--bioclip"
    command_line, app = str(caught.value), error_text(caught.value)
    for message in (command_line, app):  # what to copy, from where, to where
        assert f"({tmp_path / cache})" in message and f"copy the folder models--imageomics--bioclip" in message
        assert message.endswith(f"to {target} here") and "hf download imageomics/bioclip" in message
    assert "offline mode (HF_HUB_OFFLINE) is on" in command_line
    assert "HF_" not in app and "offline mode (no downloads on this computer) is on" in app


def test_training_from_a_hub_model_records_its_name_and_resumes_from_it(hub_cache, colour_data, tmp_path):
    from core.training.loop import train
    from core.training.runs import RunDir
    from core.weights.blend import open_run

    train(tiny_config(colour_data, model=NAME, pretrained=None, epochs=1), tmp_path / "run")
    info = RunDir(tmp_path / "run").read_info()
    assert info["status"] == "finished" and info["model"]["spec"]["name"] == NAME
    assert open_run(tmp_path / "run").classifier.loaded.spec.name == NAME  # blending reloads it from the cache


def test_the_command_line_takes_hub_and_folder_models(capsys, hub_cache, colour_data, tmp_path):
    code, out, err = run_cli(capsys, "zeroshot", "--model", NAME, "--data", colour_data["val"], "--json")
    assert code == 0, err
    snapshot = next((hub_cache / "models--test-org--tiny-clip" / "snapshots").iterdir())
    code, out, err = run_cli(capsys, "zeroshot", "--model", f"local-dir:{snapshot}", "--data", colour_data["val"])
    assert code == 0, err
    code, _, err = run_cli(capsys, "zeroshot", "--model", f"local-dir:{tmp_path}", "--data", colour_data["val"])
    assert_one_line_error(code, err, "--model", str(tmp_path), "no open_clip_config.json")
    code, _, err = run_cli(capsys, "zeroshot", "--model", "hf-hub:just-a-name", "--data", colour_data["val"])
    assert_one_line_error(code, err, "--model", "hf-hub:ORG/NAME")
    code, _, err = run_cli(capsys, "zeroshot", "--model", NAME, "--pretrained", "openai", "--data", colour_data["val"])
    assert_one_line_error(code, err, "--pretrained", "leave --pretrained out")


def test_a_transformers_text_tower_without_the_package_names_the_extra(tmp_path, monkeypatch, hub_weights):
    cfg = dict(hub_weights[0].model_cfg, text_cfg={"hf_model_name": "org/bert", "hf_tokenizer_name": "org/bert"})
    add_repo(tmp_path, "org/biomed", open_clip_files(cfg, hub_weights[1]))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setitem(sys.modules, "transformers", None)  # as if not installed
    with pytest.raises(FlypError, match=r"transformers.*pip install 'flyp-studio\[hf\]'"):
        load_model(ModelSpec("hf-hub:org/biomed"))


def test_a_text_tower_missing_from_the_cache_is_named(tmp_path, monkeypatch, hub_weights):
    pytest.importorskip("transformers")
    cfg = dict(hub_weights[0].model_cfg, text_cfg={"hf_model_name": "org/bert", "hf_tokenizer_name": "org/bert"})
    add_repo(tmp_path, "org/biomed", open_clip_files(cfg, hub_weights[1]))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(FlypError, match=r"text tower org/bert.*hf download org/bert.*models--org--bert"):
        load_model(ModelSpec("hf-hub:org/biomed"))


def test_a_transformers_text_tower_trains_from_the_cache(colour_data, tmp_path):
    pytest.importorskip("transformers")
    tests = Path(__file__).parent
    env = dict(os.environ, HF_HUB_CACHE=str(tmp_path / "hub"), HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join([str(tests), str(tests.parent), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, str(tests / "hub_text_tower.py"), tmp_path / "hub", colour_data["train"],
                           colour_data["val"], tmp_path / "run"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["status"] == "finished" and info["model"]["spec"]["name"] == "hf-hub:test-org/tiny-biomed"
    bundle = tmp_path / "run-bundle"  # the bundle carries the tokenizer open_clip reads from a folder
    source = tmp_path / "hub" / "models--test-org--tiny-bert" / "snapshots" / COMMIT / "tokenizer.json"
    vocab = [json.loads(file.read_text())["model"]["vocab"] for file in (bundle / "tokenizer.json", source)]
    assert vocab[0] == vocab[1]
    # On another computer, offline, with nothing in its cache: the bundle still builds its model.
    image = sorted((colour_data["val"] / "red").iterdir())[0]
    done = subprocess.run([sys.executable, "-m", "core.cli", "predict", str(bundle), str(image), "--json"],
                          env=dict(env, HF_HUB_CACHE=str(tmp_path / "empty-cache")), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["predictions"][0]["class"] in ("red", "green", "blue")


def test_download_progress_reaches_the_caller_and_cancel_stops_it():
    seen = []
    cancel = {"now": False}
    bar = hub.progress_bar(lambda done, total: seen.append((done, total)), lambda: cancel["now"])(total=300)
    bar.update(100)
    bar.update(100)
    cancel["now"] = True
    with pytest.raises(Cancelled):
        bar.update(100)
    bar.close()
    assert seen == [(100, 300), (200, 300)]


def served(hub_weights, tmp_path, mode: str) -> dict:
    tests = Path(__file__).parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tests), str(tests.parent), os.environ.get("PYTHONPATH", "")]))
    env.pop("HF_HUB_OFFLINE", None)
    done = subprocess.run([sys.executable, str(tests / "hub_server.py"), tmp_path / "hub", hub_weights[1],
                           json.dumps(hub_weights[0].model_cfg), mode], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_download_from_the_hub_reports_progress_and_fills_the_cache(hub_weights, tmp_path):
    result = served(hub_weights, tmp_path, "load")
    size = hub_weights[1].stat().st_size
    assert {"open_clip_config.json", "open_clip_model.safetensors"} <= set(result["files"])
    assert [done for done, total in result["events"] if total == size][-1] == size  # the weights, to the last byte


def test_a_download_stops_when_cancelled(hub_weights, tmp_path):
    result = served(hub_weights, tmp_path, "cancel")
    assert result["cancelled"] and len(result["events"]) == 1
    assert not list((tmp_path / "hub").rglob("open_clip_model.safetensors"))
