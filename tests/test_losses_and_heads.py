"""The engine's loss and zero-shot head agree with open_clip's own implementations."""

import open_clip
import torch
import torch.nn.functional as F

from core.model.evaluate import zero_shot_head
from core.training.losses import contrastive_loss


def test_contrastive_loss_equals_open_clip_clip_loss():
    torch.manual_seed(0)
    image = F.normalize(torch.randn(16, 32), dim=-1)
    text = F.normalize(torch.randn(16, 32), dim=-1)
    scale = torch.tensor(14.3)
    expected = open_clip.ClipLoss()(image, text, scale)
    torch.testing.assert_close(contrastive_loss(image, text, scale), expected)


def test_masking_same_class_negatives_changes_only_collisions():
    torch.manual_seed(0)
    image, text = F.normalize(torch.randn(6, 8), dim=-1), F.normalize(torch.randn(6, 8), dim=-1)
    scale = torch.tensor(10.0)
    distinct = torch.arange(6)
    assert torch.equal(contrastive_loss(image, text, scale, distinct, mask_same_class=True),
                       contrastive_loss(image, text, scale))
    same = torch.tensor([0, 0, 1, 1, 2, 2])
    masked = contrastive_loss(image, text, scale, same, mask_same_class=True)
    assert masked < contrastive_loss(image, text, scale)  # fewer negatives, lower loss


def test_zero_shot_head_equals_open_clip(tiny_model):
    names, templates = ["red", "green", "blue"], ["a photo of a {}.", "a {} thing.", "art of the {}."]
    ours = zero_shot_head(tiny_model.model, tiny_model.tokenizer, names, templates)
    theirs = open_clip.build_zero_shot_classifier(
        tiny_model.model, tiny_model.tokenizer, names, [lambda c, t=t: t.format(c) for t in templates],
        num_classes_per_batch=None, device="cpu")
    torch.testing.assert_close(ours, theirs.T)
