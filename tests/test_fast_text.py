"""Running the text tower on the captions' real length gives CLIP's features, and its gradients."""

import copy

import open_clip
import torch

from core.model.fast_text import can_trim, encode_text


def test_trimmed_text_tower_matches_the_full_one(tiny_model):
    model = copy.deepcopy(tiny_model.model).train()
    tokens = tiny_model.tokenizer(["a photo of a red.", "a long caption about a blue thing that is in the sky."])
    full = model.encode_text(tokens)
    trimmed = encode_text(model, tokens)
    torch.testing.assert_close(trimmed, full, atol=1e-5, rtol=0)
    full.sum().backward()
    grad_full = model.token_embedding.weight.grad.clone()
    model.zero_grad()
    encode_text(model, tokens).sum().backward()
    scale = grad_full.abs().max()
    torch.testing.assert_close(model.token_embedding.weight.grad, grad_full, atol=1e-4 * scale, rtol=1e-3)


def test_towers_without_a_causal_mask_keep_their_full_length():
    cfg = open_clip.get_model_config("flyp-tiny") or {}
    cfg = copy.deepcopy(cfg)
    cfg["text_cfg"].update(no_causal_mask=True, pool_type="last")
    model = open_clip.CLIP(cfg["embed_dim"], cfg["vision_cfg"], cfg["text_cfg"])
    assert not can_trim(model)
    tokens = torch.randint(1, 1000, (2, 32))
    torch.testing.assert_close(encode_text(model, tokens), model.encode_text(tokens))
