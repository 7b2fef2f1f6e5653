"""Loading models: local files without pickles, clear words when weights are missing."""

import pickle

import pytest
import torch

from core.errors import FlypError
from core.model.loading import ModelSpec, load_model, read_state_dict, select_device


class Payload:
    def __reduce__(self):
        return (exec, ("open('/tmp/flyp-pwned', 'w').write('x')",))


def test_pickle_payload_is_refused_without_running_it(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"weight": Payload()}, f)
    with pytest.raises(FlypError, match="refused"):
        read_state_dict(path)
    import os
    assert not os.path.exists("/tmp/flyp-pwned")


def test_local_state_dict_files_load(tmp_path, tiny_model):
    state = tiny_model.model.state_dict()
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, tmp_path / "w.pt")
    loaded = load_model(ModelSpec("flyp-tiny", str(tmp_path / "w.pt")), seed=123)
    for key, value in state.items():
        assert torch.equal(loaded.model.state_dict()[key], value)


def test_wrong_architecture_and_damaged_files_are_named(tmp_path):
    torch.save({"something": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(FlypError, match="do not fit this architecture"):
        load_model(ModelSpec("flyp-tiny", str(tmp_path / "other.pt")))
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00garbage")
    with pytest.raises(FlypError, match="bad.safetensors: damaged"):
        load_model(ModelSpec("flyp-tiny", str(tmp_path / "bad.safetensors")))


def test_missing_hub_weights_fail_at_once_with_a_way_out(monkeypatch, tmp_path):
    import socket

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    connections = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connections.append(a) or socket.socket())
    with pytest.raises(FlypError, match="--pretrained FILE"):
        load_model(ModelSpec("RN50", "openai"))
    assert connections == []  # offline (as in tests): nothing is tried, nothing is waited for


def test_unknown_names_and_tags():
    with pytest.raises(FlypError, match="not an open_clip architecture"):
        load_model(ModelSpec("ViT-Q-99", "none"))
    with pytest.raises(FlypError, match="not a known tag"):
        load_model(ModelSpec("RN50", "no-such-tag"))
    with pytest.raises(FlypError, match="needs --pretrained"):
        load_model(ModelSpec("RN50", None))


def test_device_auto_selection():
    assert select_device("auto").type in ("cpu", "cuda", "mps")
    assert select_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(FlypError, match="no CUDA GPU"):
            select_device("cuda")
