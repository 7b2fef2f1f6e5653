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


def test_eos_pooling_keeps_the_end_token_when_it_is_also_the_padding():
    # A tokenizer that pads with its end-of-text id (0 here): trimming at the last non-padding
    # token would cut off the token the tower pools, and give another caption's features.
    cfg = copy.deepcopy(open_clip.get_model_config("flyp-tiny") or {})
    cfg["text_cfg"].update(pool_type="eos", eos_id=0, pad_id=0)
    model = open_clip.CLIP(cfg["embed_dim"], cfg["vision_cfg"], cfg["text_cfg"]).eval()
    assert can_trim(model)
    tokens = torch.zeros(2, cfg["text_cfg"]["context_length"], dtype=torch.long)
    tokens[0, :3] = torch.tensor([5, 6, 7])
    tokens[1, :2] = torch.tensor([8, 9])
    torch.testing.assert_close(encode_text(model, tokens), model.encode_text(tokens), atol=1e-5, rtol=0)
