"""What the training methods besides plain FLYP change in a training step (flyp-spec §5).

- `ce`, `lp-ft`, `l2sp`: the image encoder and a linear head on its normalised features train
  with cross-entropy (wise-ft's FT recipe). The head starts from the zero-shot head (`ce`,
  `l2sp`) or from the linear probe's solution (`lp-ft`, see `core.training.linear_probe`). `l2sp` adds
  λ·‖θ − θ_pretrained‖² over the image encoder, in place of weight decay there (L2-SP, Li et
  al. 2018: the pretrained layers are pulled towards their start, the new head towards zero).
- `flyp-frozen-text`: FLYP with the text tower left out of the optimiser (the paper's ablation).
- `ce-both`: cross-entropy over classes with logits s·image·textᵀ, where each class's text
  embedding comes from one random template per class, redrawn every step; both towers train.
- `lp` does not train in steps at all: `core.training.linear_probe.run_linear_probe`.
"""

from __future__ import annotations

import random
from typing import Callable

import torch

from core.training.accumulate import ce_backward
from core.training.config import HEAD_METHODS, TrainConfig
from core.errors import FlypError

# open_clip's CLIP keeps its text tower at the top level; CustomTextCLIP keeps it under `text`.
TEXT_TOWER = ("token_embedding", "positional_embedding", "transformer", "ln_final", "text_projection", "text")
ONE_PROCESS = ("lp", "lp-ft")  # the linear probe is fitted by the process that evaluates


def uses_linear_head(method: str) -> bool:
    """True for methods that classify with a trained linear head (saved as `flyp_head.*`)."""
    return method in HEAD_METHODS


def check_supported(config: TrainConfig, processes: int) -> None:
    """Refuse, in words, what a method cannot do (several processes for the linear probe)."""
    if processes > 1 and config.method in ONE_PROCESS:
        raise FlypError(f"«method» {config.method}: its linear probe is fitted in one process; "
                        "start it without torchrun (or with --nproc_per_node=1)")


def text_tower_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The text encoder's parameters: token and position embeddings, transformer, final norm, projection."""
    return [p for name, p in model.named_parameters() if name.split(".", 1)[0] in TEXT_TOWER]


def param_groups(classifier, config: TrainConfig) -> list[dict]:
    """The optimiser's parameter groups for `config.method` (the head must already be in place).

    For `flyp-frozen-text` this also marks the text tower as not requiring gradients, so that
    no graph is built through it (and `core.training.accumulate` backpropagates the image side only).
    """
    model, method = classifier.model, config.method
    if uses_linear_head(method):
        head = list(classifier.linear_head.parameters())
        if method == "l2sp":  # the image encoder is regularised towards its start instead of zero
            return [{"params": list(model.visual.parameters()), "weight_decay": 0.0}, {"params": head}]
        return [{"params": list(model.visual.parameters()) + head}]
    if method == "flyp-frozen-text":
        frozen = {id(p) for p in text_tower_parameters(model)}
        for p in text_tower_parameters(model):
            p.requires_grad_(False)
        return [{"params": [p for p in model.parameters() if id(p) not in frozen]}]
    return [{"params": list(model.parameters())}]  # flyp, ce-both: everything trains


class L2SP:
    """λ·‖θ − θ₀‖² over `module`'s parameters, θ₀ being their values when this is created."""

    def __init__(self, module: torch.nn.Module, lam: float):
        self.lam = lam
        self.params = [p for p in module.parameters() if p.requires_grad]
        self.anchors = [p.detach().clone() for p in self.params]

    @torch.no_grad()
    def add_gradient(self) -> float:
        """Add the penalty's gradient 2λ(θ − θ₀) to each `.grad`; return the penalty."""
        penalty = 0.0
        for p, anchor in zip(self.params, self.anchors):
            delta = p - anchor
            penalty += float(delta.pow(2).sum())
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            p.grad.add_(delta, alpha=2 * self.lam)
        return self.lam * penalty

    def distance(self) -> float:
        """‖θ − θ₀‖ (for tests and reports)."""
        with torch.no_grad():
            return sum(float((p - a).pow(2).sum()) for p, a in zip(self.params, self.anchors)) ** 0.5


def class_templates(seed: int, step: int, n_classes: int, n_templates: int) -> list[int]:
    """The template each class uses at `step` (`ce-both`): seeded by step, so resume is exact."""
    rng = random.Random(f"ce-both/{seed}/{step}")
    return [rng.randrange(n_templates) for _ in range(n_classes)]


def ce_both_backward(encode_images: Callable[[torch.Tensor], torch.Tensor],
                     encode_texts: Callable[[torch.Tensor], torch.Tensor], logit_scale: Callable[[], torch.Tensor],
                     images: torch.Tensor, labels: torch.Tensor, class_tokens: torch.Tensor,
                     *, micro_batch: int | None = None) -> torch.Tensor:
    """Backpropagate the mean cross-entropy of s·image·textᵀ over classes; return it, detached.

    `encode_images` / `encode_texts` return L2-normalised features; `class_tokens` holds one
    caption per class. The class embeddings are encoded once, with their graph; micro-batches
    of images send their gradients to a detached copy, which is then backpropagated through
    the text tower once — the whole batch's gradient, with image activations held for one
    micro-batch at a time.
    """
    text = encode_texts(class_tokens)
    detached = text.detach().requires_grad_()
    loss = ce_backward(lambda part: logit_scale() * encode_images(part) @ detached.T, images, labels,
                       micro_batch=micro_batch)
    text.backward(detached.grad)
    return loss
