"""Heat maps on towers other than the demo's: a ResNet keeps Grad-CAM, and a ViT with a finer
patch grid than 8×8 still costs at most 49 painted copies of the image (small random towers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from core.errors import FlypError
from core.trust.explain import Explainer, explain


def _explainer(visual, size: int, dim: int) -> Explainer:
    torch.manual_seed(0)
    return Explainer(visual.eval(), lambda x: x.float() / 255, torch.randn(3, dim), torch.zeros(3), 10.0,
                     ["red", "green", "blue"], size, "bicubic")


def _picture(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height), (200, 200, 200))
    image.paste((200, 30, 30), (width // 8, height // 4, width // 2, height // 2))
    return image


def test_a_resnet_tower_gets_a_map_for_each_class_named():
    from open_clip.modified_resnet import ModifiedResNet

    torch.manual_seed(0)
    explainer = _explainer(ModifiedResNet(layers=(1, 1, 1, 1), output_dim=16, heads=2, image_size=64, width=16), 64, 16)
    image = _picture(80, 64)
    maps = [explain(explainer, image, name) for name in ("red", "blue")]
    for e, name in zip(maps, ("red", "blue")):
        assert e.class_name == name and e.heat.shape == (64, 80) and 0 <= e.heat.min() and e.heat.max() <= 1
        assert 0 <= e.peak[0] < 80 and 0 <= e.peak[1] < 64
    assert np.abs(maps[0].heat - maps[1].heat).mean() > 0.01  # each class its own map
    with pytest.raises(FlypError, match="banana"):
        explain(explainer, image, "banana")


def test_a_vit_with_a_fine_patch_grid_is_painted_over_at_most_49_times():
    from open_clip.transformer import VisionTransformer

    torch.manual_seed(0)
    visual = VisionTransformer(image_size=112, patch_size=8, width=32, layers=1, heads=2, mlp_ratio=2.0,
                               output_dim=16)  # a 14×14 grid
    seen = []
    visual.register_forward_hook(lambda module, inputs, output: seen.append(len(inputs[0])))
    e = explain(_explainer(visual, 112, 16), _picture(112, 150))
    assert sum(seen) <= 1 + 49, sum(seen)
    assert e.heat.shape == (150, 112) and e.heat.max() > 0.9  # a map, at the image's own size


def test_the_overlay_dims_what_the_model_did_not_look_at_and_colours_where_it_did():
    """On a light grey picture (where a tint alone barely shows) the cells the map leaves out are
    dimmed and its peak turns warm: the map reads on a thumbnail."""
    from core.trust.explain import Explanation, overlay

    heat = np.zeros((8, 8), dtype=np.float32)
    heat[2, 5] = 1.0
    picture = Image.new("RGB", (8, 8), (200, 200, 200))
    shown = np.asarray(overlay(Explanation(Path("x.png"), "a", (5, 2), heat, picture)), dtype=np.int32)
    assert (shown[0, 0] < 100).all()  # not looked at: dimmed well below the picture's 200
    red, green, blue = shown[2, 5]
    assert red > 200 and blue < 120 and red > blue + 100  # the peak: red to yellow, not grey
