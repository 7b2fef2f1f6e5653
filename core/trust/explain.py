"""Where the model looked: a heat map over the image for one class (`flyp explain`, Try).

ViT towers: occlusion. Each 2×2 square of the tower's patch grid (at most 8×8 cells, so at most
49 squares, and as many forward passes, for any tower) is painted over with the image's mean
colour; a cell's value is how much the class's logit drops, summed over the squares that cover
it (negatives cut). It asks the model the question the map answers — without this part, is it
still that class? — so naming another class moves the peak onto that object, which the
gradient rules (gradient × activation on the tokens, Grad-CAM, attention relevance:
`core.trust.gradient_maps`) mostly do not. Convolutional towers (open_clip's ResNets): Grad-CAM
on the last stage's feature map. The map is mapped back to the image's own pixels through the
eval transform (shorter side to the input size, centre crop). Every rule was measured on the
demo world, where every object's position is known: benchmarks/README.md, "Where the model
looked".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.errors import FlypError
from core.trust.gradient_maps import GRADIENT_RULES, gradient_map, is_vit, patch_grid

VIT_RULE = "occlusion"  # chosen among VIT_RULES in benchmarks/README.md, "Where the model looked"
OCCLUSION_RULES = ("occlusion", "contrast_occlusion", "contrast_occlusion_1x1", "occlusion_grey")
VIT_RULES = OCCLUSION_RULES + GRADIENT_RULES
MAX_CELLS = 8  # the occlusion grid's side at most: at most 49 painted copies for any tower


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


def explain(explainer: Explainer, image: Image.Image, class_name: str | None = None, path: Path | None = None,
            rule: str | None = None) -> Explanation:
    """The heat map of `class_name` (default: the predicted class) over `image`. `rule`: one of
    `VIT_RULES` for a ViT tower (default `VIT_RULE`; the benchmark compares them); convolutional
    towers always use Grad-CAM."""
    from core.data.transforms import eval_image

    rule = rule or VIT_RULE
    if rule not in VIT_RULES:
        raise FlypError(f"unknown heat-map rule {rule!r}; known: {', '.join(VIT_RULES)}")
    pixels = eval_image(image, explainer.image_size, explainer.interpolation)[None]
    target = class_index(explainer, class_name) if class_name is not None else None
    if rule in OCCLUSION_RULES and is_vit(explainer.visual):
        grid, logits = _occlusion_map(explainer, pixels, target, window=1 if rule.endswith("_1x1") else 2,
                                      contrast=rule.startswith("contrast"), grey=rule.endswith("_grey"))
    else:
        grid, logits = gradient_map(explainer, pixels, target, rule if rule in GRADIENT_RULES else "grad_x_activation")
    chosen = class_name if class_name is not None else explainer.class_names[int(logits.argmax())]
    heat = _to_image_pixels(grid, image.size, explainer.image_size)
    y, x = np.unravel_index(int(heat.argmax()), heat.shape)
    return Explanation(Path(path) if path else Path(""), chosen, (int(x), int(y)), heat, image)


def class_index(explainer: Explainer, class_name: str) -> int:
    if class_name not in explainer.class_names:
        shown = ", ".join(explainer.class_names[:8]) + (", …" if len(explainer.class_names) > 8 else "")
        raise FlypError(f"«class» {class_name!r} is not a class of this model ({shown})", setting="class")
    return explainer.class_names.index(class_name)


def _occlusion_map(explainer: Explainer, pixels: torch.Tensor, target: int | None, window: int = 2,
                   contrast: bool = False, grey: bool = False, chunk: int = 25) -> tuple[torch.Tensor, torch.Tensor]:
    """The cells×cells map (CPU) of the class `target` (None: the predicted one) and the image's
    logits: how much the class's score (its logit; `contrast`: less the other classes' mean) drops
    when each `window`×`window` square of cells is painted over with the image's mean colour
    (`grey`: the tower's, 0 after its normalisation), the drops of the squares covering a cell
    summed."""
    visual = explainer.visual
    device = next(visual.parameters()).device
    cells = min(patch_grid(visual), MAX_CELLS)
    size = pixels.shape[-1]
    edges = [round(k * size / cells) for k in range(cells + 1)]
    steps = cells - window + 1
    if grey:  # 0 after the tower's normalisation: the mean colour of what it was trained on
        image = explainer.normalize(pixels)
        fill = torch.zeros_like(image[..., :1, :1])
    else:
        image = pixels
        fill = pixels.float().mean(dim=(2, 3), keepdim=True).round().to(pixels.dtype)
    covered = [image]
    for i in range(steps):
        for j in range(steps):
            painted = image.clone()
            painted[..., edges[i]:edges[i + window], edges[j]:edges[j + window]] = fill
            covered.append(painted)
    was_training = visual.training
    visual.eval()
    weight, bias = explainer.weight.to(device), explainer.bias.to(device)

    def logits_of(part: torch.Tensor) -> torch.Tensor:
        features = visual((part if grey else explainer.normalize(part)).to(device))
        features = features[0] if isinstance(features, tuple) else features
        return explainer.scale * F.normalize(features.float(), dim=-1) @ weight.T + bias
    try:
        with torch.no_grad():
            logits = torch.cat([logits_of(part) for part in torch.cat(covered).split(chunk)]).cpu()
    finally:
        visual.train(was_training)
    target = int(logits[0].argmax()) if target is None else target
    score = logits[:, target]
    if contrast:
        score = score - (logits.sum(1) - score) / max(1, logits.shape[1] - 1)
    drops = (score[0] - score[1:]).reshape(steps, steps)
    grid = torch.zeros(cells, cells)
    for i in range(steps):
        for j in range(steps):
            grid[i:i + window, j:j + window] += drops[i, j]
    return grid.clamp(min=0), logits[0]


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


UNSEEN_SHADE = 0.4  # how bright what the model did not look at stays: dimmed, so the rest stands out


def overlay(explanation: Explanation, alpha: float = 0.5) -> Image.Image:
    """The image with its heat map laid over it: red to yellow where the model looked most, the
    parts it did not look at dimmed (so that the map reads on a thumbnail and on a light image)."""
    if not 0.0 <= alpha <= 1.0:
        raise FlypError(f"«alpha» for the overlay must be between 0 and 1 (got {alpha})")
    base = np.asarray(explanation.image.convert("RGB"), dtype=np.float32)
    heat = explanation.heat[..., None]
    colour = np.concatenate([np.ones_like(heat), heat, np.zeros_like(heat)], axis=-1) * 255  # red → yellow
    shaded = base * (UNSEEN_SHADE + (1 - UNSEEN_SHADE) * heat)
    mixed = shaded * (1 - alpha * heat) + colour * (alpha * heat)
    return Image.fromarray(mixed.clip(0, 255).astype(np.uint8))
