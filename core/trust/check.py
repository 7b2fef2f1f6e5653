"""The export's self-check of the novelty score: the reloaded bundle and its ONNX graph give the
same novelty, and the same verdict, as the model in memory (`core.export.write.verify_bundle`)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from core.errors import FlypError
from core.trust.stored import read_novelty

TOLERANCE = 1e-3  # relative to the score's size: float32 matrix products in another order


def verify_novelty(novelty, folder: Path, bundle, pixels: torch.Tensor, features: torch.Tensor,
                   logits: torch.Tensor, onnx_outputs: dict | None = None) -> dict:
    """Compare `novelty`'s scores of the check images with the reloaded bundle's (and the ONNX
    graph's outputs, when given); FlypError when they differ, so that nothing is written."""
    reloaded = read_novelty(folder, bundle.info)
    if reloaded is None:
        raise FlypError("the exported bundle lost its novelty score; nothing was written")
    expected = novelty.score(features.float(), logits.float())
    with torch.inference_mode():
        device = next(bundle.model.parameters()).device
        got_features = F.normalize(bundle.model.encode_image(bundle.normalize(pixels).to(device)).float(), dim=-1).cpu()
    got = reloaded.score(got_features, bundle.scale * got_features @ bundle.head.T + bundle.bias)
    report = {"novelty_max_difference": _relative(expected, got)}
    worst = report["novelty_max_difference"]
    if onnx_outputs is not None:
        report["onnx_novelty_max_difference"] = _relative(got, onnx_outputs["novelty"])
        worst = max(worst, report["onnx_novelty_max_difference"])
        clear = (got - reloaded.threshold).abs() > TOLERANCE * (1 + got.abs())  # verdicts off the boundary
        if not bool((onnx_outputs["known"].bool() == reloaded.known(got))[clear].all()):
            raise FlypError("the exported ONNX model's known/unknown verdicts differ from the bundle's; nothing was written")
    if reloaded.threshold != novelty.threshold or worst > TOLERANCE:
        raise FlypError(f"the exported bundle does not reproduce the novelty score (max relative difference "
                        f"{worst:.2g}); nothing was written")
    return report


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a.double() - b.double()).abs() / (1 + a.double().abs())).max())
