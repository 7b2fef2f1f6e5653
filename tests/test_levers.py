"""Levers for big models on a CPU (core.training.levers): each changes what it says, and only that."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from conftest import tiny_config, train_until_cancelled
from core.errors import FlypError, SettingError
from core.training.loop import train
from core.training.runs import RunDir


def watch_inputs(module: torch.nn.Module, seen: list) -> torch.utils.hooks.RemovableHandle:
    """Record (training?, input shape) of every call of `module`."""
    return module.register_forward_pre_hook(lambda m, args: seen.append((m.training, tuple(args[0].shape))))


def test_patch_dropout_drops_tokens_only_while_training(colour_data, tmp_path, monkeypatch):
    seen = []
    from core.training import levers

    apply = levers.apply

    def apply_and_watch(model, config, tokens):  # the training loop's own model, once its levers are on
        cache = apply(model, config, tokens)
        watch_inputs(model.visual.transformer, seen)
        return cache

    monkeypatch.setattr(levers, "apply", apply_and_watch)
    train(tiny_config(colour_data, epochs=1, patch_dropout=0.5), tmp_path / "run")
    # The tiny model: 32 px in patches of 8 → 16 patches and the class token.
    assert {shape[1] for training, shape in seen if training} == {1 + 8}
    assert {shape[1] for training, shape in seen if not training} == {1 + 16}  # evaluation sees every patch
    assert RunDir(tmp_path / "run").read_info()["levers"] == {"patch_dropout": 0.5}


def test_frozen_blocks_get_no_gradient_and_keep_their_weights_bitwise(colour_data, tmp_path, tiny_model):
    train(tiny_config(colour_data, epochs=2, frozen_blocks=1), tmp_path / "run")
    trained, start = load_file(str(RunDir(tmp_path / "run").last_file)), tiny_model.model.state_dict()
    frozen = [k for k in start if k.startswith(("visual.transformer.resblocks.0.", "transformer.resblocks.0.",
                                                "visual.conv1", "visual.ln_pre", "token_embedding"))]
    frozen += ["positional_embedding", "visual.positional_embedding", "visual.class_embedding"]
    for key in frozen:
        assert torch.equal(trained[key], start[key]), key
    for key in ("visual.transformer.resblocks.1.attn.in_proj_weight", "transformer.resblocks.1.mlp.c_fc.weight",
                "visual.proj", "text_projection", "logit_scale"):
        assert not torch.equal(trained[key], start[key]), key  # what is above them trains


def test_frozen_blocks_leave_the_optimiser_and_build_no_graph(tiny_model):
    import copy

    from core.training import levers, methods
    from core.training.config import TrainConfig

    model = copy.deepcopy(tiny_model.model)
    config = TrainConfig(model="flyp-tiny", frozen_blocks=1)
    tokens = tiny_model.tokenizer(["a photo of a red.", "a photo of a blue."]).view(2, 1, -1)
    cache = levers.apply(model, config, tokens)
    groups = levers.trainable(methods.param_groups(type("C", (), {"model": model})(), config))
    kept = {id(p) for g in groups for p in g["params"]}
    assert id(model.visual.transformer.resblocks[0].mlp.c_fc.weight) not in kept
    assert id(model.visual.transformer.resblocks[1].mlp.c_fc.weight) in kept
    # The cached text path equals open_clip's own encode_text (the peer), and its gradient stops
    # above the frozen block.
    flat = tokens.view(2, -1)
    torch.testing.assert_close(cache(flat), model.encode_text(flat), rtol=1e-5, atol=1e-5)
    cache(flat).sum().backward()
    assert model.transformer.resblocks[0].mlp.c_fc.weight.grad is None
    assert model.transformer.resblocks[1].mlp.c_fc.weight.grad is not None


def test_a_lower_resolution_trains_at_that_size_and_evaluates_at_the_models(colour_data, tmp_path, monkeypatch):
    seen = []
    from core.training import levers

    apply = levers.apply
    monkeypatch.setattr(levers, "apply", lambda model, config, tokens: (watch_inputs(model.visual.conv1, seen),
                                                                       apply(model, config, tokens))[1])
    info = train(tiny_config(colour_data, epochs=1, train_size=16), tmp_path / "run")
    assert {shape[-1] for training, shape in seen if training} == {16}
    assert {shape[-1] for training, shape in seen if not training} == {32}
    assert info["levers"] == {"train_size": 16}


def test_the_resized_positional_embedding_is_open_clips_at_the_models_own_size(tiny_model):
    import copy

    from core.training import levers
    from core.training.config import TrainConfig

    model = copy.deepcopy(tiny_model.model).eval()
    images = torch.rand(3, 3, 32, 32)
    expected = model.encode_image(images)
    levers.apply(model, TrainConfig(model="flyp-tiny", train_size=16), torch.zeros(1, 1, 4, dtype=torch.long))
    torch.testing.assert_close(model.encode_image(images), expected, rtol=0, atol=0)
    small = model.encode_image(torch.rand(3, 3, 16, 16), normalize=True)
    small.sum().backward()  # the interpolated embedding's gradient reaches the stored one
    assert small.shape == expected.shape and model.visual.positional_embedding.grad.abs().sum() > 0


def test_resume_gives_the_same_weights_with_the_levers_on(colour_data, tmp_path):
    config = tiny_config(colour_data, epochs=2, patch_dropout=0.5, frozen_blocks=1, train_size=16)
    train(config, tmp_path / "straight")
    train_until_cancelled(config, tmp_path / "interrupted", 7)
    train(None, tmp_path / "interrupted", resume=True)
    a = load_file(str(RunDir(tmp_path / "straight").last_file))
    b = load_file(str(RunDir(tmp_path / "interrupted").last_file))
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-6, msg=key)


@pytest.mark.parametrize("lever, words", [
    ({"frozen_blocks": 2}, "the image tower has 2 blocks"),
    ({"train_size": 20}, "a multiple of the patch size 8 up to the model's 32 pixels"),
    ({"train_size": 64}, "a multiple of the patch size 8 up to the model's 32 pixels"),
])
def test_a_lever_the_model_cannot_take_is_refused_before_anything_is_written(colour_data, tmp_path, lever, words):
    with pytest.raises(FlypError, match=words):
        train(tiny_config(colour_data, epochs=1, **lever), tmp_path / "run")
    assert not RunDir(tmp_path / "run").exists()


@pytest.mark.parametrize("name, value", [("patch_dropout", 1.0), ("patch_dropout", -0.1), ("frozen_blocks", -1),
                                         ("train_size", 8)])
def test_lever_settings_out_of_bounds_are_refused(name, value):
    from core.training.config import TrainConfig

    with pytest.raises(SettingError) as caught:
        TrainConfig(**{name: value})
    assert caught.value.setting == name


def test_full_flyp_uses_no_lever_and_the_model_card_names_those_used():
    from core.export.card import model_card
    from core.training.config import TrainConfig
    from core.training.levers import used

    assert used(TrainConfig().to_json()) == {}
    config = TrainConfig(patch_dropout=0.5, frozen_blocks=2).to_json()
    flyp = {"model": {"name": "demo"}, "class_names": ["a"], "templates": ["{}"], "alpha": 0.5, "method": "flyp",
            "metrics": {}, "provenance": {"flyp_studio": "0", "config": config}}
    card = model_card(flyp)
    assert "patch dropout while training: 50%" in card and "lowest 2 blocks of both towers frozen" in card
    plain = model_card(flyp | {"provenance": {"flyp_studio": "0", "config": TrainConfig().to_json()}})
    assert "Trained faster" not in plain


def test_the_app_words_the_levers_a_run_used_in_its_own_labels():
    from flyp_app.words import levers_text

    assert levers_text({"levers": {}}) == ""
    text = levers_text({"levers": {"patch_dropout": 0.25, "frozen_blocks": 1}, "auto": {"levers": {"frozen_blocks": 1}}})
    assert text.startswith("Trained faster, with the same FLYP loss")
    assert "Patch dropout: 25% of the image patches" in text and "Frozen lower blocks: 1" in text
    assert "automatic mode" in text and "patch_dropout" not in text


AMX = {"amx_bf16": True, "amx_tile": True, "amx_granted": True, "onednn_bf16": True}


@pytest.mark.parametrize("capabilities, pays", [
    (AMX, True),                                                         # Xeon from Sapphire Rapids on
    ({"amx_bf16": False, "amx_tile": False, "onednn_bf16": True}, False),  # AVX-512 (BF16) only: Skylake, Zen 4
    (AMX | {"amx_granted": False}, False),                                # a kernel before 5.16 withholds the tiles
    (AMX | {"onednn_bf16": False}, False),                                # a torch built without oneDNN
    ({}, False),                                                         # AVX2: torch says nothing of bf16
])
def test_bf16_counts_as_paying_only_on_a_cpu_with_amx(capabilities, pays, monkeypatch):
    from core.training import levers

    monkeypatch.setattr(levers, "_cpu_capabilities", lambda: dict(capabilities))
    assert levers.cpu_bf16() is pays
    assert levers.pays_here("precision", "vit-b-32") is pays and levers.pays_here("patch_dropout")
    assert levers.pays_here("precision", "demo") is False  # its matrices too small for the tiles to pay


def test_avx512_bf16_without_amx_tiles_is_not_counted_whatever_onednn_says(monkeypatch):
    """torch's own bf16 test is True on any AVX-512 CPU; the CPU flags torch reports decide."""
    from core.training import levers

    zen4 = {"avx512_f": True, "avx512_bf16": True, "amx_bf16": False, "amx_tile": False}
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: zen4, raising=False)  # torch 2.8 on
    assert levers.cpu_bf16() is False
    amx = zen4 | {"amx_bf16": True, "amx_tile": True}
    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_init_amx", lambda: False, raising=False)  # the kernel refused the tiles
    assert levers.cpu_bf16() is False


def test_bf16_is_worded_for_the_user_on_the_model_card_and_the_train_page():
    from core.export.card import model_card
    from core.training.config import TrainConfig
    from core.training.levers import used
    from flyp_app.words import levers_text

    config = TrainConfig(precision="bf16").to_json()
    flyp = {"model": {"name": "demo"}, "class_names": ["a"], "templates": ["{}"], "alpha": 0.5, "method": "flyp",
            "metrics": {}, "provenance": {"flyp_studio": "0", "config": config}}
    card = model_card(flyp)
    assert "less precise arithmetic (bf16) in the towers while training, evaluation in full precision" in card
    assert levers_text({"levers": used(config)}) == (
        "Trained faster, with the same FLYP loss — Arithmetic: bf16 while training (quicker, less precise).")
