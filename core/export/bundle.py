"""Loading an exported bundle and classifying images with it (`flyp predict`, the Try page)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from core.model.classifier import top_k
from core import checksums
from core.errors import FlypError, first_line
from core.file_fields import read_json
from core.data.transforms import Normalize, eval_file
from core.trust.novelty import as_predicted

BUNDLE_FORMAT = 1
# The weights under open_clip's own name, so that a bundle uploaded to the Hub loads as
# `hf-hub:ORG/NAME`; bundles written before were named OLD_MODEL_FILE and still load.
MODEL_FILE, HEAD_FILE, INFO_FILE, CONFIG_FILE, CARD_FILE, ONNX_FILE = (
    "open_clip_model.safetensors", "class_head.safetensors", "flyp.json", "open_clip_config.json", "README.md",
    "model.onnx")
OLD_MODEL_FILE = "model.safetensors"
TEXT_TOWER_DIR = "text_tower"  # a transformers text tower's config.json, when the model has one


def weights_file(folder: Path) -> Path:
    """A bundle's weights: open_clip's file name, or the name bundles had before it."""
    return folder / MODEL_FILE if (folder / MODEL_FILE).is_file() else folder / OLD_MODEL_FILE


@dataclass
class Bundle:
    """An exported classifier: CLIP image tower + a class head, ready to predict."""

    path: Path
    info: dict
    model: torch.nn.Module
    head: torch.Tensor   # C×D
    bias: torch.Tensor   # C
    scale: float

    @property
    def class_names(self) -> list[str]:
        return self.info["class_names"]

    def images(self, paths: Sequence[str | Path]) -> torch.Tensor:
        """The files as preprocessed uint8 tensors (N×3×S×S); FlypError names an unreadable one."""
        pre = self.info["preprocess"]
        size = pre["size"] if isinstance(pre["size"], int) else pre["size"][0]
        return torch.stack([eval_file(p, size, pre.get("interpolation", "bicubic")) for p in paths])

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        return Normalize(self.info["preprocess"]["mean"], self.info["preprocess"]["std"])(images)

    @torch.inference_mode()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """N×D normalised image features of preprocessed uint8 images."""
        device = next(self.model.parameters()).device
        return F.normalize(self.model.encode_image(self.normalize(images).to(device)).float(), dim=-1).cpu()

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return self.logits_from_features(self.features(images))

    def logits_from_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.scale * features @ self.head.T + self.bias

    @cached_property
    def novelty(self):
        """The novelty score the bundle carries (`core.trust.stored.read_novelty`), or None."""
        from core.trust.stored import read_novelty

        return read_novelty(self.path, self.info)

    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """N×C class probabilities as FLYP Studio gives them: softmax(logits / (T·g)), T the
        calibration temperature (1 without one) and g the novelty score's factor, above 1 for unusual
        images (1 for a bundle exported without it, `core.trust.lowering`)."""
        return self._lowered_logits(images).softmax(-1)

    def _lowered_logits(self, images: torch.Tensor) -> torch.Tensor:
        features = self.features(images)
        logits = self.logits_from_features(features)
        return as_predicted(logits, features, self.temperature, self.novelty)

    @property
    def temperature(self) -> float | None:
        """The temperature fitted on ID validation that predictions divide the logits by (flyp.json's
        `calibration`, `core.trust.temperature`); None for a bundle exported without one."""
        from core.trust.temperature import from_calibration

        return from_calibration(self.info.get("calibration"), self.path / INFO_FILE)

    def predict(self, paths: Sequence[str | Path], k: int = 5) -> list[list[tuple[str, float]]]:
        """The k most likely classes of each file, with their probabilities (`probabilities`)."""
        return top_k(self._lowered_logits(self.images(paths)), self.class_names, k)


def load_bundle(path: str | Path, device: torch.device | str = "cpu") -> Bundle:
    """Load a bundle folder written by `core.export.write`; FlypError names the part that is
    wrong with it (flyp.json, open_clip_config.json, the class head or the weights)."""
    import open_clip

    from core.model.loading import load_weights, weights_loaded_later

    path = Path(path).expanduser()
    weights = weights_file(path)
    for name in (weights.name if weights.is_file() else MODEL_FILE, HEAD_FILE, INFO_FILE, CONFIG_FILE):
        if not (path / name).is_file():
            raise FlypError(f"{path}: not a FLYP bundle (missing {name})")
    info = _read_info(path / INFO_FILE)
    features, text_cfg = _read_config(path / CONFIG_FILE)
    try:
        with weights_loaded_later():
            model = open_clip.create_model(f"local-dir:{path}", load_weights=False, pretrained_text=False,
                                           device="cpu", **_local_text_tower(path, text_cfg))
    except FlypError:
        raise
    except Exception as exc:
        raise FlypError(f"{path / CONFIG_FILE}: does not describe a model open_clip can build ({first_line(exc)}); "
                        "export the bundle again") from None
    head = _read_head(path / HEAD_FILE, len(info["class_names"]), features)
    try:
        load_weights(model, weights)
    except FlypError as exc:
        raise FlypError(f"{exc}; export the bundle again") from None
    model.to(device).eval()
    if _is_convolutional(model.visual):
        model.to(memory_format=torch.channels_last)
    return Bundle(path, info, model, head["weight"].float(), head["bias"].float(), float(head["scale"]))


def _is_convolutional(tower: torch.nn.Module) -> bool:
    """A ResNet or ConvNeXt image tower, not a ViT (whose one convolution cuts the patches).

    A bundle only predicts: its convolutional tower runs in channels-last memory layout, which
    the CPU's convolutions and pooling take faster (a small ResNet: 1.4× in batches)."""
    return sum(isinstance(m, torch.nn.Conv2d) for m in tower.modules()) > 1


def _read_json(file: Path) -> dict:
    data = read_json(file, "export the bundle again")
    if not isinstance(data, dict):
        raise FlypError(f"{file}: damaged (not a JSON object); export the bundle again")
    return data


def _read_info(file: Path) -> dict:
    info = _read_json(file)
    if info.get("format") != BUNDLE_FORMAT:
        raise FlypError(f"{file}: not a bundle of this FLYP Studio version")
    return check_bundle_info(info, file)


def check_bundle_info(info: dict, file: Path) -> dict:
    """Every field of flyp.json that loading and predicting read, checked (type and range): the
    one place to add a new key's check. FlypError names the file and the field."""
    from core.file_fields import Fields, is_number

    fields = Fields(file, "export the bundle again")
    fields.names("class_names", info.get("class_names"), unique=False)
    fields.preprocess("preprocess", info.get("preprocess"))
    if info.get("alpha") is not None:
        fields.need("alpha", info["alpha"], lambda v: is_number(v, 0.0, 1.0), "a number from 0 to 1")
    if info.get("metrics") is not None:
        fields.need("metrics", info["metrics"], lambda v: isinstance(v, dict), "an object")
    return info


def _read_config(file: Path) -> tuple[int, dict]:
    """The feature size and text tower settings of the model `open_clip_config.json` describes."""
    model_cfg = _read_json(file).get("model_cfg")
    if not isinstance(model_cfg, dict) or not _is_int(model_cfg.get("embed_dim")):
        raise FlypError(f"{file}: damaged: model_cfg with the model's embed_dim is missing; export the bundle again")
    text_cfg = model_cfg.get("text_cfg")
    return model_cfg["embed_dim"], text_cfg if isinstance(text_cfg, dict) else {}


def _local_text_tower(path: Path, text_cfg: dict) -> dict:
    """open_clip's text_cfg pointing a transformers text tower at the bundle's own copy of its
    config instead of its Hub name; {} for other models, and for bundles written before they
    carried that copy (their tower's config then comes from the Hugging Face cache or the Hub)."""
    if not text_cfg.get("hf_model_name"):
        return {}
    try:
        import transformers  # noqa: F401
    except ImportError:
        from core.model.hub import HF_EXTRA

        raise FlypError(f"{path}: the bundle's text tower ({text_cfg['hf_model_name']}) comes from Hugging Face "
                        f"transformers, which is not installed; install the hf extra: {HF_EXTRA}") from None
    local = path / TEXT_TOWER_DIR
    if not (local / "config.json").is_file():
        return {}
    return {"text_cfg": dict(text_cfg, hf_model_name=str(local), hf_model_pretrained=False)}  # weights: the bundle's


def _read_head(file: Path, classes: int, features: int) -> dict[str, torch.Tensor]:
    head, _ = checksums.read_verified(file)
    weight, bias, scale = (head.get(key) for key in ("weight", "bias", "scale"))
    if weight is None or bias is None or scale is None or weight.ndim != 2 or scale.numel() != 1:
        raise FlypError(f"{file}: damaged: it should hold weight, bias and scale; export the bundle again")
    if weight.shape[0] != classes or bias.shape != (classes,):
        raise FlypError(f"{file}: holds a head for {weight.shape[0]} classes, but the bundle has {classes}; "
                        "export the bundle again")
    if weight.shape[1] != features:
        raise FlypError(f"{file}: its head takes {weight.shape[1]} features, but the model gives {features}; "
                        "export the bundle again")
    for key, value in head.items():
        if not bool(torch.isfinite(value.float()).all()):
            raise FlypError(f"{file}: its {key} holds NaN or infinite values; export the bundle again")
    return head


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
