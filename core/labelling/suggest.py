"""Suggestions that improve as the user labels: a linear probe on the labelled images' features.

The probe is the linear-probe baseline's logistic regression (`core.training.linear_probe`)
fitted on the cached image features of every labelled image, over the classes that have any.
A class with few labelled images cannot be trusted to the probe alone, so each class's
probability is a blend: n/(n + `TRUST_AT`) of the probe's and the rest of the model's own
(zero-shot, or the run's head), n being the class's labelled images; rows are normalised again.
A class with no labels keeps the model's probability, and the model's suggestion stands until
two classes have labels.
"""

from __future__ import annotations

from typing import Sequence

import torch

TRUST_AT = 4   # labelled images at which a class trusts the probe and the model equally
PROBE_L2 = 1e-3  # ½·λ‖W‖² on unit-norm features: the middle of the linear probe's sweep


class Probe:
    """A probe fitted on labelled features; `blend` turns the model's probabilities into suggestions."""

    def __init__(self, features: torch.Tensor, labels: Sequence[int], n_classes: int, l2: float = PROBE_L2):
        from core.training.linear_probe import fit_logistic

        labels = torch.as_tensor(list(labels), dtype=torch.long)
        self.counts = torch.bincount(labels, minlength=n_classes)[:n_classes].float()
        self.present = (self.counts > 0).nonzero().flatten()
        self.weight = self.bias = None
        if len(self.present) >= 2:
            remap = torch.full((n_classes,), -1, dtype=torch.long)
            remap[self.present] = torch.arange(len(self.present))
            self.weight, self.bias, _ = fit_logistic(features.float(), remap[labels], len(self.present), l2)

    @property
    def fitted(self) -> bool:
        return self.weight is not None

    def blend(self, features: torch.Tensor, model_probs: torch.Tensor) -> torch.Tensor:
        """N×C suggestion probabilities for images with `features`, from the model's `model_probs`."""
        if not self.fitted:
            return model_probs
        probe = torch.zeros_like(model_probs)
        probe[:, self.present] = (features.float() @ self.weight.T + self.bias).softmax(dim=-1)
        trust = self.counts / (self.counts + TRUST_AT)
        mixed = trust * probe + (1 - trust) * model_probs
        return mixed / mixed.sum(dim=-1, keepdim=True).clamp(min=1e-12)
