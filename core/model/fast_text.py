"""CLIP's text tower on the batch's real caption length instead of all 77 positions.

Captions are ~10 tokens. Under CLIP's causal mask, positions after the end-of-text token never
influence it, so running the tower on the longest caption of the batch (slicing token ids,
positional embeddings and the mask) gives the same features and skips most of the work.
This holds for causal towers pooled at the end-of-text token (open_clip's `CLIP`); others —
SigLIP-style towers without a causal mask, or pooled at the last position — run unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def can_trim(model) -> bool:
    from open_clip import CLIP

    return (isinstance(model, CLIP) and getattr(model, "attn_mask", None) is not None
            and getattr(model, "text_pool_type", None) in ("argmax", "eos"))


def caption_length(tokens: torch.Tensor, pad_id: int = 0, pooled: torch.Tensor | None = None) -> int:
    """Positions up to the last non-padding token of the longest caption, and at least up to
    every `pooled` position (where a tokenizer pads with its end-of-text id, that token looks
    like padding but is the one the tower pools)."""
    used = (tokens != pad_id).any(dim=0).nonzero()
    length = int(used[-1]) + 1 if len(used) else 1
    return max(length, int(pooled.max()) + 1) if pooled is not None and len(pooled) else length


def pooled_positions(tokens: torch.Tensor, pool_type: str, eos_id: int | None) -> torch.Tensor:
    """The position each caption is pooled at, as open_clip's `text_global_pool` picks it."""
    if pool_type == "eos":
        return (tokens == eos_id).int().argmax(dim=-1)
    return tokens.argmax(dim=-1)


def encode_text(model, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
    """`model.encode_text(tokens)`, computed on the batch's caption length where that is exact."""
    if not can_trim(model):
        return model.encode_text(tokens, normalize=normalize)
    from open_clip.transformer import text_global_pool

    eos_id = getattr(model, "text_eos_id", None)
    pooled = pooled_positions(tokens, model.text_pool_type, eos_id)
    length = caption_length(tokens, getattr(model, "pad_id", 0) or 0, pooled)
    tokens = tokens[:, :length]
    cast_dtype = model.transformer.get_cast_dtype()
    x = model.token_embedding(tokens).to(cast_dtype) + model.positional_embedding[:length].to(cast_dtype)
    x = model.transformer(x, attn_mask=model.attn_mask[:length, :length])
    x = model.ln_final(x)
    x = text_global_pool(x, tokens, model.text_pool_type, eos_token_id=eos_id)
    if model.text_projection is not None:
        x = model.text_projection(x) if isinstance(model.text_projection, torch.nn.Linear) else x @ model.text_projection
    return F.normalize(x, dim=-1) if normalize else x
