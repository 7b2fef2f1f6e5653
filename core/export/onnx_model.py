"""ONNX export of a blended classifier: normalised pixels (N×3×S×S) → class logits, with a
novelty score (`core.trust.novelty`) also each image's novelty and whether it is known, and last
the class probabilities, softmax(logits / T) with the temperature fitted on ID validation
(`core.trust.temperature`; T = 1 without one), T multiplied for an unusual image by the novelty
score's factor (`core.trust.lowering`) — what FLYP Studio's own predictions give.

The graph's metadata carries what a user of the file needs to feed it and read its output:
class_names (JSON list, in logit order), input_size, mean and std (JSON lists) and interpolation,
temperature and calibrated ("true"/"false"), and with a novelty score novelty_method,
novelty_threshold and novelty_keep (and novelty_lowering, JSON edges and factors, when it lowers).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from core.errors import FlypError


class _ImageClassifier(torch.nn.Module):
    def __init__(self, visual: torch.nn.Module, head: torch.Tensor, bias: torch.Tensor, scale: float, novelty=None,
                 temperature: float = 1.0):
        super().__init__()
        self.temperature = float(temperature)
        self.visual = visual
        self.register_buffer("head", (scale * head).detach().clone())
        self.register_buffer("bias", bias.detach().clone())
        self.novelty = novelty
        for name, tensor in (novelty.tensors.items() if novelty is not None else ()):
            self.register_buffer(f"novelty_{name}", tensor.detach().float().clone())
        if novelty is not None and novelty.lowering is not None:  # the tail is taken among these scores
            self.register_buffer("novelty_validation", novelty.validation.detach().float().clone())

    def forward(self, pixels: torch.Tensor):
        features = F.normalize(self.visual(pixels), dim=-1)
        logits = features @ self.head.T + self.bias
        probabilities = (logits / self.temperature).softmax(dim=-1)
        if self.novelty is None:
            return logits, probabilities
        from core.trust.novelty import score

        tensors = {name: getattr(self, f"novelty_{name}") for name in self.novelty.tensors}
        novelty = score(self.novelty.method, tensors, features, logits)
        if self.novelty.lowering is not None:  # less sure of unusual images, as FLYP Studio's predictions
            from core.trust.lowering import tail

            factor = self.novelty.lowering.factor(tail(self.novelty_validation, novelty))
            probabilities = (logits / (self.temperature * factor[:, None])).softmax(dim=-1)
        return logits, novelty, novelty <= self.novelty.threshold, probabilities


def export_onnx(blended, path: Path, novelty=None, temperature: float | None = None) -> None:
    """Write the image tower and class head of `blended` at its α as one ONNX graph; with
    `novelty` (a `core.trust.novelty.NoveltyModel`) the graph also outputs `novelty` and `known`;
    last, `probabilities` divided by `temperature` (None: not calibrated, T = 1)."""
    try:
        import onnx  # noqa: F401  (the exporter needs it; say so clearly if missing)
    except ImportError:
        raise FlypError("«onnx» needs the onnx extra: pip install 'flyp-studio[onnx]'") from None
    clf = blended.classifier
    if clf.linear_head is not None:
        head, bias, scale = clf.linear_head.weight, clf.linear_head.bias, 1.0
    else:
        head = clf.text_head()
        bias, scale = torch.zeros(head.shape[0]), float(clf.model.logit_scale.detach().exp())
    module = _ImageClassifier(clf.model.visual, head.float().cpu(), bias.float().cpu(), scale, novelty,
                            1.0 if temperature is None else temperature).cpu().eval()
    size = clf.loaded.image_size
    example = torch.zeros(2, 3, size, size)
    outputs = ["logits"] + (["novelty", "known"] if novelty is not None else []) + ["probabilities"]
    with torch.no_grad():
        torch.onnx.export(module, (example,), str(path), input_names=["pixels"], output_names=outputs,
                          dynamic_shapes={"pixels": {0: torch.export.Dim("batch", min=1)}}, dynamo=True,
                          verbose=False, optimize=True, external_data=False)
    clf.model.to(clf.device)
    pre = clf.loaded.preprocess
    metadata = {"class_names": json.dumps(clf.class_names), "input_size": str(size),
                "mean": json.dumps(list(pre["mean"])), "std": json.dumps(list(pre["std"])),
                "interpolation": str(pre.get("interpolation", "bicubic")),
                "input": "pixels: N×3×S×S RGB scaled to 0–1, then (x − mean) / std",
                "temperature": repr(1.0 if temperature is None else float(temperature)),
                "calibrated": "false" if temperature is None else "true",
                "output": "logits: N×classes, in the order of class_names"}
    if novelty is not None:
        metadata |= {"novelty_method": novelty.method, "novelty_threshold": repr(novelty.threshold),
                     "novelty_keep": repr(novelty.keep),
                     **({"novelty_lowering": json.dumps(novelty.lowering.to_json())} if novelty.lowering else {}),
                     "output": metadata["output"] + "; novelty: N (higher: less like the training images); "
                               "known: N booleans, novelty <= novelty_threshold (false: none of these classes)"}
    metadata["output"] += ("; probabilities: N×classes, softmax(logits / temperature) (the temperature fitted on "
                           "the validation images; 1 when calibrated is false)"
                           + (", the temperature multiplied by a factor growing with novelty, above 1 for "
                              "unusual images (novelty_lowering: by the share of validation images at least as "
                              "novel)"
                              if novelty is not None and novelty.lowering is not None else ""))
    add_metadata(path, metadata)


def add_metadata(path: Path, values: dict[str, str]) -> None:
    import onnx

    model = onnx.load(str(path))
    for key, value in values.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def onnx_outputs(path: Path, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
    """Every output of the exported graph (logits; novelty and known where it has them;
    probabilities), by name."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    values = session.run(names, {"pixels": pixels.numpy().astype("float32")})
    return {name: torch.from_numpy(value) for name, value in zip(names, values)}
