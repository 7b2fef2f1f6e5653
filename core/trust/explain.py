"""Where the model looked: a heat map over the image for one class (`flyp explain`, Try).

ViT towers: gradient × activation on the patch tokens entering the last transformer block (each
token's activation times the gradient of the class logit, summed over channels, negatives cut:
Grad-CAM applied to tokens; the block's own output tokens never reach the class token, so their
gradient is zero); convolutional towers (open_clip's ResNets): Grad-CAM on
the last stage's feature map. The map is at the tower's grid (8×8 for the demo), mapped back to
the image's own pixels through the eval transform (shorter side to the input size, centre crop).
Which variant was measured on the demo world, where every object's position is known:
benchmarks/README.md, "Where the model looked".
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.errors import FlypError

VIT_RULE = "grad_x_activation"  # or "gradcam" (channel weights); measured in benchmarks/README.md


@dataclass
class Explainer:
    """An image tower with its class head, in a form gradients can flow through."""

    visual: torch.nn.Module
    normalize: object              # uint8 pixels → the tower's input
    weight: torch.Tensor           # C×D
    bias: torch.Tensor             # C
    scale: float
    class_names: list[str]
    image_size: int
    interpolation: str


@dataclass
class Explanation:
    path: Path
    class_name: str
    peak: tuple[int, int]          # [x, y] in the image's own pixels
    heat: np.ndarray               # H×W in [0, 1], at the image's own size
    image: Image.Image

    def to_json(self, map_path: Path | None = None) -> dict:
        return {"path": str(self.path), "class": self.class_name, "peak": list(self.peak),
                "map": str(map_path) if map_path is not None else None}


def open_explainer(path: str | os.PathLike, alpha: float | None = None, device="cpu") -> Explainer:
    """A bundle folder, or a run folder at `alpha` (default 1), ready to explain."""
    path = Path(path).expanduser()
    if (path / "run.json").is_file():
        from core.weights.blend import open_run

        blended = open_run(path, "best", device)
        blended.set_alpha(1.0 if alpha is None else alpha)
        return explainer_of(blended)
    if alpha is not None:
        raise FlypError(f"«alpha»: {path} is a bundle, blended when it was exported; give a run folder to choose α",
                        setting="alpha")
    from core.export.bundle import load_bundle

    bundle = load_bundle(path, device)
    pre = bundle.info["preprocess"]
    size = pre["size"] if isinstance(pre["size"], int) else pre["size"][0]
    return Explainer(bundle.model.visual, bundle.normalize, bundle.head.clone(), bundle.bias.clone(), bundle.scale,
                     list(bundle.class_names), size, pre.get("interpolation", "bicubic"))


def explainer_of(blended) -> Explainer:
    """A run's blend (`core.weights.blend.BlendedRun`) at its current α, ready to explain; it
    shares the blend's weights, so the caller keeps α there until it is done (the app: the
    session's lock)."""
    return classifier_explainer(blended.classifier, list(blended.info["classes"]))


def classifier_explainer(clf, class_names: list[str]) -> Explainer:
    """A `core.model.classifier.Classifier` (zero-shot, or a run's blend) over `class_names`, ready
    to explain; it shares the classifier's weights."""
    if clf.linear_head is not None:
        weight, bias, scale = clf.linear_head.weight.detach(), clf.linear_head.bias.detach(), 1.0
    else:
        weight = clf.text_head().detach()
        bias, scale = torch.zeros(len(weight)), float(clf.model.logit_scale.detach().exp())
    pre = clf.loaded.preprocess
    return Explainer(clf.model.visual, clf.normalize, weight.float().cpu().clone(), bias.float().cpu().clone(), scale,
                     list(class_names), clf.loaded.image_size, pre.get("interpolation", "bicubic"))


def explain(explainer: Explainer, image: Image.Image, class_name: str | None = None, path: Path | None = None) -> Explanation:
    """The heat map of `class_name` (default: the predicted class) over `image`."""
    from core.data.transforms import eval_image

    pixels = eval_image(image, explainer.image_size, explainer.interpolation)[None]
    grid, logits = _grid_map(explainer, pixels, class_name)
    chosen = class_name if class_name is not None else explainer.class_names[int(logits.argmax())]
    heat = _to_image_pixels(grid, image.size, explainer.image_size)
    y, x = np.unravel_index(int(heat.argmax()), heat.shape)
    return Explanation(Path(path) if path else Path(""), chosen, (int(x), int(y)), heat, image)


def class_index(explainer: Explainer, class_name: str) -> int:
    if class_name not in explainer.class_names:
        shown = ", ".join(explainer.class_names[:8]) + (", …" if len(explainer.class_names) > 8 else "")
        raise FlypError(f"«class» {class_name!r} is not a class of this model ({shown})", setting="class")
    return explainer.class_names.index(class_name)


def _grid_map(explainer: Explainer, pixels: torch.Tensor, class_name: str | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The g×g map (CPU) of the class and the image's logits."""
    visual = explainer.visual
    device = next(visual.parameters()).device
    layer, is_vit = _target_layer(visual)
    kept, caller = {}, threading.get_ident()

    def keep(value) -> None:  # this call's forward only: another thread may run the same tower meanwhile
        if threading.get_ident() == caller:
            kept["a"] = value
    if is_vit:  # the last block's input: its patch tokens still reach the class token (its output's do not)
        handle = layer.register_forward_pre_hook(lambda module, inputs: keep(inputs[0]))
    else:
        handle = layer.register_forward_hook(lambda module, inputs, output: keep(output))
    was_training = visual.training
    visual.eval()
    try:
        with torch.enable_grad():
            features = visual(explainer.normalize(pixels).to(device))
            features = features[0] if isinstance(features, tuple) else features
            logits = explainer.scale * F.normalize(features.float(), dim=-1) @ explainer.weight.to(device).T
            logits = logits + explainer.bias.to(device)
            target = class_index(explainer, class_name) if class_name is not None else int(logits.argmax())
            activation = kept["a"]
            gradient, = torch.autograd.grad(logits[0, target], activation)
    finally:
        handle.remove()
        visual.train(was_training)
    if is_vit:
        tokens, grads = activation[0], gradient[0]           # L×D, batch first
        prefix = tokens.shape[0] - _patches(visual)
        tokens, grads = tokens[prefix:], grads[prefix:]
        if VIT_RULE == "gradcam":  # one weight per channel: the mean gradient over the patches
            grads = grads.mean(0, keepdim=True)
        cam = (tokens * grads).sum(-1).clamp(min=0)
        side = int(round(cam.numel() ** 0.5))
        grid = cam.reshape(side, side)
    else:
        weights = gradient[0].mean(dim=(1, 2), keepdim=True)  # Grad-CAM: channel weights
        grid = (weights * activation[0]).sum(0).clamp(min=0)
    return grid.detach().float().cpu(), logits.detach().cpu()[0]


def _target_layer(visual: torch.nn.Module) -> tuple[torch.nn.Module, bool]:
    if hasattr(visual, "transformer") and hasattr(visual.transformer, "resblocks"):
        if not getattr(visual.transformer, "batch_first", True):
            raise FlypError("heat maps need a batch-first ViT tower (open_clip 2.23 or later)")
        return visual.transformer.resblocks[-1], True
    if hasattr(visual, "layer4"):
        return visual.layer4, False
    raise FlypError("heat maps need a ViT or ResNet image tower; this model has neither")


def _patches(visual) -> int:
    grid = getattr(visual, "grid_size", None)
    return int(grid[0] * grid[1]) if grid else 0


def _to_image_pixels(grid: torch.Tensor, image_size: tuple[int, int], size: int) -> np.ndarray:
    """The map over the image's own pixels: the centre crop it saw, scaled back; 0 outside it."""
    width, height = image_size
    scale = size / min(width, height)
    crop_w, crop_h = size / scale, size / scale              # the crop in the image's pixels
    left, top = (width - crop_w) / 2, (height - crop_h) / 2
    peak = float(grid.max())
    normalised = (grid / peak).numpy() if peak > 0 else np.zeros(grid.shape, dtype=np.float32)
    cells = Image.fromarray((normalised * 255).astype(np.uint8), mode="L")
    inside = np.asarray(cells.resize((max(1, round(crop_w)), max(1, round(crop_h))), Image.Resampling.BILINEAR),
                        dtype=np.float32) / 255
    heat = np.zeros((height, width), dtype=np.float32)
    x0, y0 = int(round(left)), int(round(top))
    h, w = min(inside.shape[0], height - y0), min(inside.shape[1], width - x0)
    heat[y0:y0 + h, x0:x0 + w] = inside[:h, :w]
    return heat


def overlay(explanation: Explanation, alpha: float = 0.5) -> Image.Image:
    """The image with its heat map laid over it (red where the model looked most)."""
    if not 0.0 <= alpha <= 1.0:
        raise FlypError(f"«alpha» for the overlay must be between 0 and 1 (got {alpha})")
    base = np.asarray(explanation.image.convert("RGB"), dtype=np.float32)
    heat = explanation.heat[..., None]
    colour = np.concatenate([np.ones_like(heat), heat, np.zeros_like(heat)], axis=-1) * 255  # red → yellow
    mixed = base * (1 - alpha * heat) + colour * (alpha * heat)
    return Image.fromarray(mixed.clip(0, 255).astype(np.uint8))
