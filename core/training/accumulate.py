"""Large batches in the memory of small ones: feature-cached gradient accumulation.

FLYP's batch size is its number of negatives, so a large batch cannot be emulated by summing
the gradients of small independent batches (each would only see its own negatives). Instead,
as open_clip's `accum_freq` and the GradCache technique (Gao et al., 2021) do:

1. encode every micro-batch without gradients and keep only the features (B×D, small);
2. compute the contrastive loss over the whole batch from those features and backpropagate it
   to the features (and to the temperature) — this needs the B×B logits, not the towers;
3. encode each micro-batch again, with gradients, and backpropagate the cached feature
   gradients of its rows through the towers.

The parameter gradients equal those of the full batch (up to float rounding) while the towers'
activations are only ever held for one micro-batch; the price is a second forward pass.
Random layers (dropout, patch dropout) replay the same random numbers in both passes. Batch
norm (the ResNet CLIP towers) normalises per micro-batch, as it does in open_clip.

With several processes, `ranks` gathers the features of every rank (with gradients) so that
the contrastive matrix spans the global batch; see `core.training.distributed`.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from core.training.distributed import Ranks
from core.training.losses import contrastive_loss

Encode = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def micro_batches(n: int, size: int | None) -> list[slice]:
    """Consecutive slices of at most `size` rows covering `n` rows (one slice when `size` is None)."""
    size = n if not size else min(size, n)
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def flyp_backward(encode: Encode, logit_scale: torch.Tensor, images: torch.Tensor, tokens: torch.Tensor,
                  labels: torch.Tensor, *, micro_batch: int | None = None, ranks: Ranks = Ranks(),
                  mask_same_class: bool = False) -> torch.Tensor:
    """Backpropagate FLYP's contrastive loss over the (global) batch; return the loss, detached.

    `encode(images, tokens)` returns L2-normalised (image, text) features of some rows;
    `logit_scale` is the scale itself (`exp` of the stored log), with its graph. Gradients
    accumulate into the parameters' `.grad` as after `loss.backward()` on the full batch.
    """
    parts = micro_batches(len(images), micro_batch)
    if len(parts) == 1:  # the plain path: no second forward pass
        image, text = encode(images, tokens)
        loss = global_contrastive_loss(image, text, logit_scale, labels, ranks, mask_same_class)
        loss.backward()
        return loss.detach()
    rng_states, cached = [], []
    with torch.no_grad():
        for part in parts:
            rng_states.append(_rng_state(images.device))
            cached.append(encode(images[part], tokens[part]))
    image = torch.cat([i for i, _ in cached]).requires_grad_()
    text = torch.cat([t for _, t in cached]).requires_grad_()
    del cached
    loss = global_contrastive_loss(image, text, logit_scale, labels, ranks, mask_same_class)
    loss.backward()  # → image.grad, text.grad (this rank's rows) and the temperature's gradient
    for part, state in zip(parts, rng_states):
        with _replayed_rng(state, images.device):
            part_image, part_text = encode(images[part], tokens[part])
        # A frozen tower (flyp-frozen-text) builds no graph: only what has one is backpropagated.
        pairs = [(f, g[part]) for f, g in ((part_image, image.grad), (part_text, text.grad)) if f.requires_grad]
        torch.autograd.backward([f for f, _ in pairs], [g for _, g in pairs])
    return loss.detach()


def global_contrastive_loss(image: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor,
                            labels: torch.Tensor, ranks: Ranks, mask_same_class: bool) -> torch.Tensor:
    """The contrastive loss over the features of every rank (this rank's rows keep their graph).

    Every rank computes the same full loss. Gathering with gradients sends each rank the sum,
    over ranks, of the gradients of its rows: `size` times the true gradient, which the mean
    of `Ranks.average_gradients` turns back into exactly the single-process gradient (the
    temperature's gradient is the same on every rank, and the mean keeps it).
    """
    if ranks.size > 1:
        image, text = ranks.gather(image), ranks.gather(text)
        if mask_same_class:
            labels = ranks.gather(labels)
    return contrastive_loss(image, text, logit_scale, labels, mask_same_class)


def ce_backward(logits_of: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, labels: torch.Tensor,
                *, micro_batch: int | None = None) -> torch.Tensor:
    """Backpropagate the batch's mean cross-entropy, one micro-batch at a time; return it, detached.

    Cross-entropy is a mean over images, so no feature cache is needed: each micro-batch adds
    its share (its summed loss over the batch size) to the gradient.
    """
    total = torch.zeros((), device=images.device)
    for part in micro_batches(len(images), micro_batch):
        loss = F.cross_entropy(logits_of(images[part]), labels[part], reduction="sum") / len(images)
        loss.backward()
        total += loss.detach()
    return total


def _rng_state(device: torch.device) -> tuple:
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), cuda


@contextlib.contextmanager
def _replayed_rng(state: tuple, device: torch.device) -> Iterator[None]:
    """Run the block with the RNG as it was for the cached pass, then restore the current one."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type if devices else "cuda"):
        torch.set_rng_state(state[0])
        if state[1] is not None:
            torch.cuda.set_rng_state(state[1], device)
        yield
