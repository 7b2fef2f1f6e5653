"""The engine's fast training step computes what the plain open_clip step computes.

The plain path is the official FLYP code's: `encode_image` / `encode_text` on all 77 caption
positions, normalised features and open_clip's `ClipLoss`. The engine's step trims captions
to their real length, reads uint8 images and may use micro-batches, gradient checkpointing,
bf16 autocast or torch.compile; on the same seeded batch, its loss and gradients must match.
"""

import shutil

import open_clip
import pytest
import torch
import torch.nn.functional as F

from conftest import tiny_config
from core.data.loader import TrainImages
from core.progress import RunControl
from core.training.loop import _Trainer, prepare
from gradients import gradients_of
from gradients import one_thread  # noqa: F401 (an autouse fixture: tiny models run fastest on one thread)

EXACT = {"rtol": 1e-4, "atol": 1e-6}


def engine_step(colour_data, tmp_path, **options):
    """The loss and gradients of the engine's first training step (lr 0: the weights stay)."""
    config = tiny_config(colour_data, **options)
    session = prepare(config, tmp_path / "run", lambda e: None, RunControl())
    trainer = _Trainer(session)
    session.classifier.model.train()
    loaded = session.classifier.loaded
    dataset = TrainImages(session.data.train, loaded.image_size, len(session.classifier.templates), config.seed,
                          loaded.preprocess["interpolation"])
    images, labels, template_ids = (torch.stack([torch.as_tensor(x) for x in column])
                                    for column in zip(*(dataset[(0, i)] for i in range(config.batch_size))))
    loss = trainer.train_step(images, labels, template_ids, lr=0.0)
    captions = [session.classifier.templates[t].format(session.classifier.class_names[c])
                for c, t in zip(labels.tolist(), template_ids.tolist())]
    return loss, gradients_of(session.classifier.model), session.classifier, images, captions


def plain_step(classifier, images, captions):
    """The official code's step on the same batch: full-length captions, open_clip's ClipLoss."""
    model = classifier.model
    model.zero_grad(set_to_none=True)
    image = model.encode_image(classifier.normalize(images), normalize=True)
    text = model.encode_text(classifier.loaded.tokenizer(captions), normalize=True)
    loss = open_clip.ClipLoss()(image, text, model.logit_scale.exp())
    loss.backward()
    return loss.item(), gradients_of(model)


def assert_close_gradients(actual, expected, rtol, atol):
    assert actual.keys() == expected.keys()
    scale = max(g.abs().max() for g in expected.values())
    for name, grad in expected.items():
        torch.testing.assert_close(actual[name], grad, rtol=rtol, atol=atol * scale, msg=name)


@pytest.mark.parametrize("options", [{}, {"micro_batch_size": 5}, {"grad_checkpointing": True}],
                         ids=["default", "micro-batches", "grad-checkpointing"])
def test_the_engine_step_equals_the_plain_open_clip_step(colour_data, tmp_path, options):
    loss, grads, classifier, images, captions = engine_step(colour_data, tmp_path, **options)
    plain_loss, plain_grads = plain_step(classifier, images, captions)
    assert loss == pytest.approx(plain_loss, rel=1e-5)
    assert_close_gradients(grads, plain_grads, rtol=1e-3, atol=1e-5)
    assert plain_grads["visual.conv1.weight"].abs().sum() > 0 and plain_grads["token_embedding.weight"].abs().sum() > 0


def test_bf16_autocast_changes_the_loss_by_rounding_only(colour_data, tmp_path):
    loss, grads, classifier, images, captions = engine_step(colour_data, tmp_path, precision="bf16")
    plain_loss, plain_grads = plain_step(classifier, images, captions)
    assert loss != plain_loss  # bf16 really ran …
    assert loss == pytest.approx(plain_loss, rel=2e-2)  # … and only rounded (bf16 keeps 8 bits)
    cosine = F.cosine_similarity(torch.cat([g.flatten() for g in grads.values()]),
                                 torch.cat([g.flatten() for g in plain_grads.values()]), dim=0)
    assert cosine > 0.99


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None, reason="torch.compile needs a C compiler")
def test_compiled_towers_give_the_uncompiled_loss_and_gradients(colour_data, tmp_path, monkeypatch):
    import torch._inductor.config

    monkeypatch.setattr(torch._inductor.config, "compile_threads", 1)  # no compile pool left running
    loss, grads, *_ = engine_step(colour_data, tmp_path / "plain")
    torch._dynamo.reset()
    try:
        compiled_loss, compiled_grads, classifier, *_ = engine_step(colour_data, tmp_path / "compiled", compile=True)
    finally:
        torch._dynamo.reset()
    assert "_orig_mod" not in "".join(classifier.state_dict())  # checkpoints keep their keys
    assert compiled_loss == pytest.approx(loss, rel=1e-5)
    assert_close_gradients(compiled_grads, grads, rtol=1e-3, atol=1e-5)


def test_compile_without_a_c_compiler_says_so_before_writing_anything(colour_data, tmp_path, monkeypatch, capsys):
    from cli_helpers import assert_one_line_error, run_cli

    monkeypatch.setattr(shutil, "which", lambda name: None)
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", "--model", "flyp-tiny", "--pretrained", "none", "--train",
                           colour_data["train"], "--epochs", "1", "--compile", "--out", out)
    assert_one_line_error(code, err, "--compile", "C compiler")
    assert not out.exists()


def test_precision_auto_is_bf16_only_on_gpus_that_support_it(monkeypatch):
    from core.training.acceleration import autocast_dtype
    from core.errors import FlypError

    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    assert autocast_dtype("auto", cpu) is None and autocast_dtype("fp32", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert autocast_dtype("auto", gpu) is torch.bfloat16 and autocast_dtype("fp32", gpu) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)  # a GPU from before Ampere
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "Tesla V100")
    assert autocast_dtype("auto", gpu) is None
    with pytest.raises(FlypError, match="V100.*does not support bf16"):
        autocast_dtype("bf16", gpu)
