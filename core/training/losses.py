"""Training objectives: FLYP's contrastive loss and the cross-entropy baseline."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def contrastive_logits(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    logit_scale: torch.Tensor,
) -> torch.Tensor:
    """Image-to-text logits `s · I · Tᵀ` for L2-normalised features (B×D each)."""
    return logit_scale * image_features @ text_features.T


def contrastive_loss(
    image_features: torch.Tensor,
    text_features: torch.Tensor,
    logit_scale: torch.Tensor,
    labels: torch.Tensor | None = None,
    mask_same_class: bool = False,
) -> torch.Tensor:
    """CLIP's symmetric InfoNCE loss over a batch of (image, caption) pairs.

    `logit_scale` is the scale itself (`exp` of the model's stored log). Other images of the
    same class are negatives, as in pretraining; `mask_same_class=True` (with `labels`) removes
    them from the softmax instead — the paper's collision ablation, which it found to hurt.
    """
    logits = contrastive_logits(image_features, text_features, logit_scale)
    if mask_same_class:
        if labels is None:
            raise ValueError("mask_same_class needs the batch's labels")
        same = labels[:, None] == labels[None, :]
        same.fill_diagonal_(False)
        logits = logits.masked_fill(same, float("-inf"))
    targets = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2
