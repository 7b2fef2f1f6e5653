"""Helpers for comparing gradients and trained weights that should agree up to float rounding."""

import pytest
import torch
import torch.nn.functional as F

CLASSES = ["red", "green", "blue"]


@pytest.fixture(autouse=True)
def one_thread():
    """Run on one thread: a tiny model's many small kernels are faster so, and on a busy machine
    two spinning threads per op made a micro-batched run 10× slower. Import it to use it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_batch(loaded, n: int = 12, seed: int = 0):
    """Random uint8 images, their labels (classes repeat, as in real batches) and caption tokens."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, loaded.image_size, loaded.image_size), dtype=torch.uint8, generator=g)
    labels = torch.arange(n) % len(CLASSES)
    tokens = loaded.tokenizer([f"a photo of a {CLASSES[i]}." for i in labels])
    return images, labels, tokens


def encoder(model):
    """`encode(images, tokens)` → normalised features, as the trainer encodes a batch."""
    def encode(images, tokens):
        pixels = (images.float() / 255 - 0.5) / 0.25
        return F.normalize(model.encode_image(pixels), dim=-1), F.normalize(model.encode_text(tokens), dim=-1)
    return encode


def gradients_of(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: p.grad.clone() for name, p in module.named_parameters() if p.grad is not None}


def assert_same_gradients(actual: dict, expected: dict) -> None:
    assert actual.keys() == expected.keys()
    for name, grad in expected.items():
        torch.testing.assert_close(actual[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def assert_same_weights(actual: dict, expected: dict, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    """Every tensor equal within tolerance, except the attention key biases.

    A key bias adds the same amount to every logit of a softmax row, so its gradient is
    mathematically zero and numerically rounding noise; AdamW divides that noise by its own
    magnitude, so the key biases random-walk by ~lr per step whatever the tolerance. They do
    not change any output, so they are left out of the comparison.
    """
    assert actual.keys() == expected.keys()
    for key, value in expected.items():
        a, b = actual[key], value
        if key.endswith("attn.in_proj_bias"):
            a, b = _without_key_third(a), _without_key_third(b)
        torch.testing.assert_close(a, b, rtol=rtol, atol=atol, msg=key)


def _without_key_third(bias: torch.Tensor) -> torch.Tensor:
    q, _, v = bias.chunk(3)
    return torch.cat([q, v])
