"""Micro-batches with a feature cache: the full batch's loss and gradients in less memory."""

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from conftest import TINY, tiny_config
from core.training.accumulate import ce_backward, flyp_backward, micro_batches
from core.cli import main
from core.training.config import TrainConfig
from core.errors import FlypError
from core.model.loading import ModelSpec, load_model
from core.training.runs import RunDir
from core.training.loop import train
from gradients import assert_same_gradients, assert_same_weights, encoder, gradients_of, tiny_batch
from gradients import one_thread  # noqa: F401 (an autouse fixture: tiny models run fastest on one thread)


def flyp_gradients(model, batch, **kwargs):
    model.zero_grad(set_to_none=True)
    images, labels, tokens = batch
    loss = flyp_backward(encoder(model), model.logit_scale.exp(), images, tokens, labels, **kwargs)
    return loss, gradients_of(model)


def test_micro_batches_cover_the_batch_in_order():
    assert micro_batches(10, 4) == [slice(0, 4), slice(4, 8), slice(8, 10)]
    assert micro_batches(10, None) == micro_batches(10, 32) == [slice(0, 10)]


@pytest.mark.parametrize("micro", [1, 5])
@pytest.mark.parametrize("mask_same_class", [False, True])
def test_micro_batched_flyp_gives_the_full_batch_loss_and_gradients(micro, mask_same_class):
    loaded = load_model(ModelSpec(TINY, "none"))
    model = loaded.model.train()
    batch = tiny_batch(loaded)
    full_loss, full = flyp_gradients(model, batch, mask_same_class=mask_same_class)
    loss, grads = flyp_gradients(model, batch, micro_batch=micro, mask_same_class=mask_same_class)
    torch.testing.assert_close(loss, full_loss)
    assert_same_gradients(grads, full)
    assert full["logit_scale"].abs() > 0 and full["visual.conv1.weight"].abs().sum() > 0


def test_micro_batches_keep_the_whole_batch_as_negatives():
    """Summing the gradients of independent small batches (plain accumulation) is not the same."""
    loaded = load_model(ModelSpec(TINY, "none"))
    model = loaded.model.train()
    images, labels, tokens = batch = tiny_batch(loaded)
    _, full = flyp_gradients(model, batch)
    model.zero_grad(set_to_none=True)
    for part in micro_batches(len(images), 4):  # each part its own batch: 3 negatives, not 11
        flyp_backward(encoder(model), model.logit_scale.exp(), images[part], tokens[part], labels[part])
    plain = model.visual.conv1.weight.grad / 3
    assert not torch.allclose(plain, full["visual.conv1.weight"], rtol=1e-2, atol=1e-6)


def test_random_layers_replay_the_same_draws_in_both_passes():
    """With patch dropout the recomputed micro-batches must see the patches of the cached pass."""
    import open_clip

    loaded = load_model(ModelSpec(TINY, "none"))
    model = open_clip.create_model(TINY, force_patch_dropout=0.5).train()
    model.load_state_dict(loaded.model.state_dict())
    images, labels, tokens = batch = tiny_batch(loaded)
    torch.manual_seed(7)  # reference: micro-batches encoded in turn with gradients, one loss
    parts = micro_batches(len(images), 4)
    features = [encoder(model)(images[p], tokens[p]) for p in parts]
    reference = flyp_reference(model, features)
    torch.manual_seed(7)
    _, grads = flyp_gradients(model, batch, micro_batch=4)
    assert_same_gradients(grads, reference)


def flyp_reference(model, features):
    from core.training.losses import contrastive_loss

    model.zero_grad(set_to_none=True)
    image, text = torch.cat([i for i, _ in features]), torch.cat([t for _, t in features])
    contrastive_loss(image, text, model.logit_scale.exp()).backward()
    return gradients_of(model)


def test_micro_batched_cross_entropy_gives_the_full_batch_gradients():
    loaded = load_model(ModelSpec(TINY, "none"))
    model = loaded.model.train()
    head = torch.nn.Linear(64, 3)
    images, labels, _ = tiny_batch(loaded)

    def logits_of(x):
        return head(F.normalize(model.encode_image((x.float() / 255 - 0.5) / 0.25), dim=-1))

    def gradients(micro):
        model.zero_grad(set_to_none=True)
        head.zero_grad(set_to_none=True)
        loss = ce_backward(logits_of, images, labels, micro_batch=micro)
        named = list(model.visual.named_parameters()) + list(head.named_parameters())
        return loss, {name: p.grad.clone() for name, p in named}
    full_loss, full = gradients(None)
    loss, grads = gradients(5)
    torch.testing.assert_close(full_loss, F.cross_entropy(logits_of(images), labels))
    torch.testing.assert_close(loss, full_loss)
    assert_same_gradients(grads, full)


def test_a_run_with_micro_batches_ends_with_the_same_weights(colour_data, flyp_run, tmp_path):
    info = train(tiny_config(colour_data, micro_batch_size=5), tmp_path / "micro")
    assert info["config"]["micro_batch_size"] == 5
    expected, actual = RunDir(flyp_run), RunDir(tmp_path / "micro")
    losses = [r["loss"] for r in actual.read_metrics() if r["type"] == "step"]
    assert losses == pytest.approx([r["loss"] for r in expected.read_metrics() if r["type"] == "step"], abs=1e-5)
    assert_same_weights(load_file(str(actual.last_file)), load_file(str(expected.last_file)))


def test_micro_batch_size_must_be_positive(colour_data, tmp_path, capsys):
    with pytest.raises(FlypError, match="--micro-batch-size"):
        TrainConfig(train_dir="x", micro_batch_size=0)
    code = main(["train", "--model", TINY, "--pretrained", "none", "--train", str(colour_data["train"]),
                 "--micro-batch-size", "0", "--out", str(tmp_path / "r")])
    assert code == 2 and "--micro-batch-size" in capsys.readouterr().err
