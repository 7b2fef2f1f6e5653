"""Heat maps from one backward pass: Grad-CAM for convolutional towers (open_clip's ResNets, what
`core.trust.explain` uses for them), and the gradient rules measured against occlusion for ViT
towers (benchmarks/README.md, "Where the model looked").

The ViT rules differ in the score they differentiate and in what they weigh:
- score: the class's logit; `contrast_`: less the other classes' mean; `softmax_`: its
  log-softmax; `rival_`: less the strongest other class.
- `*_x_activation`: each patch token entering the last block times its gradient, summed over
  channels (Grad-CAM on tokens; the block's own output tokens never reach the class token, so
  their gradient is zero); `_block3`: the block before it. `*gradcam`: one weight per channel,
  the gradient's mean over the patches. `*relevance`: the attention of every block, weighted by
  its gradient, rolled out to the class token (Chefer et al., CVPR 2021). `similarity`: each
  output patch token through ln_post and proj, as the class token is read, against the class's
  head row less the mean row.
"""

from __future__ import annotations

import threading

import torch
import torch.nn.functional as F

from core.errors import FlypError

GRADIENT_RULES = ("grad_x_activation", "contrast_x_activation", "softmax_x_activation", "rival_x_activation",
                  "contrast_x_activation_block3", "gradcam", "contrast_gradcam", "relevance", "contrast_relevance",
                  "similarity")


def gradient_map(explainer, pixels: torch.Tensor, target: int | None,
                 rule: str = "grad_x_activation") -> tuple[torch.Tensor, torch.Tensor]:
    """The map (CPU, at the tower's grid) of class `target` (None: the predicted one) over the
    eval-transformed uint8 `pixels` (1×3×S×S), and the image's logits. `explainer`: a
    `core.trust.explain.Explainer`. A ResNet tower always gets Grad-CAM of the score."""
    visual = explainer.visual
    device = next(visual.parameters()).device
    vit = is_vit(visual)
    layer = visual.transformer.resblocks[-2 if rule.endswith("_block3") else -1] if vit else visual.layer4
    kept, caller, attentions = {}, threading.get_ident(), []

    def keep(key, value) -> None:  # this call's forward only: another thread may run the same tower meanwhile
        if threading.get_ident() == caller:
            kept[key] = value
    if vit:  # the block's input: its patch tokens still reach the class token (the last block's output's do not)
        handles = [layer.register_forward_pre_hook(lambda module, inputs: keep("a", inputs[0])),
                   visual.transformer.register_forward_hook(lambda module, inputs, output: keep("out", output))]
        if rule.endswith("relevance"):
            handles += [_keep_attention(block, lambda a: threading.get_ident() == caller and attentions.append(a))
                        for block in visual.transformer.resblocks]
    else:
        handles = [layer.register_forward_hook(lambda module, inputs, output: keep("a", output))]
    was_training = visual.training
    visual.eval()
    weight = explainer.weight.to(device)
    try:
        with torch.enable_grad():
            features = visual(explainer.normalize(pixels).to(device))
            features = features[0] if isinstance(features, tuple) else features
            logits = explainer.scale * F.normalize(features.float(), dim=-1) @ weight.T + explainer.bias.to(device)
            target = int(logits.argmax()) if target is None else target
            score = _score(logits[0], target, rule)
            gradient, *attention_grads = torch.autograd.grad(score, [kept["a"], *attentions])
    finally:
        for handle in handles:
            handle.remove()
        visual.train(was_training)
    activation = kept["a"]
    if not vit:
        weights = gradient[0].mean(dim=(1, 2), keepdim=True)  # Grad-CAM: channel weights
        grid = (weights * activation[0]).sum(0).clamp(min=0)
        return grid.detach().float().cpu(), logits.detach().cpu()[0]
    tokens, grads = activation[0], gradient[0]           # L×D, batch first
    prefix = tokens.shape[0] - patch_grid(visual) ** 2
    tokens, grads = tokens[prefix:], grads[prefix:]
    if attentions:  # relevance rolled through the blocks: R += mean over heads of (∇A ⊙ A)⁺ · R
        relevance = torch.eye(attentions[0].shape[-1], device=device)
        for a, g in zip(attentions, attention_grads):
            relevance = relevance + (g[0] * a[0]).clamp(min=0).mean(0) @ relevance
        cam = relevance[0, prefix:]
    elif rule == "similarity":
        out = visual.ln_post(kept["out"][0, prefix:].detach())
        out = out @ visual.proj if visual.proj is not None else out
        cam = (F.normalize(out.float(), dim=-1) @ (weight[target] - weight.mean(0))).clamp(min=0)
    else:
        if rule.endswith("gradcam"):  # one weight per channel: the mean gradient over the patches
            grads = grads.mean(0, keepdim=True)
        cam = (tokens * grads).sum(-1).clamp(min=0)
    side = patch_grid(visual)
    return cam.detach().float().cpu().reshape(side, side), logits.detach().cpu()[0]


def _score(logits: torch.Tensor, target: int, rule: str) -> torch.Tensor:
    others = torch.cat([logits[:target], logits[target + 1:]])
    if rule.startswith("contrast"):
        return logits[target] - others.mean()
    if rule.startswith("rival"):
        return logits[target] - others.max()
    if rule.startswith("softmax"):
        return torch.log_softmax(logits, dim=-1)[target]
    return logits[target]


def _keep_attention(block, keep):
    """Run `block`'s attention (batch-first, unmasked, as open_clip's image towers are) by hand,
    so that its per-head weights are on the autograd graph, and hand them to `keep`; returns a
    handle whose `remove()` restores the module's own forward."""
    attn = block.attn

    def forward(query, key=None, value=None, **_):
        batch, length, width = query.shape
        heads = attn.num_heads
        q, k, v = F.linear(query, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
        q, k, v = (t.reshape(batch, length, heads, width // heads).transpose(1, 2) for t in (q, k, v))
        weights = torch.softmax(q @ k.transpose(-1, -2) / (width // heads) ** 0.5, dim=-1)
        keep(weights)
        return attn.out_proj((weights @ v).transpose(1, 2).reshape(batch, length, width)), None

    attn.forward = forward

    class Handle:
        def remove(self):
            del attn.forward
    return Handle()


def is_vit(visual: torch.nn.Module) -> bool:
    """Whether the tower is a ViT heat maps can read (else a ResNet); FlypError for neither."""
    if hasattr(visual, "transformer") and hasattr(visual.transformer, "resblocks"):
        if not getattr(visual.transformer, "batch_first", True):
            raise FlypError("heat maps need a batch-first ViT tower (open_clip 2.23 or later)")
        return True
    if hasattr(visual, "layer4"):
        return False
    raise FlypError("heat maps need a ViT or ResNet image tower; this model has neither")


def patch_grid(visual) -> int:
    """The side of a ViT tower's patch grid."""
    grid = getattr(visual, "grid_size", None)
    return int(grid[0]) if grid else 0
