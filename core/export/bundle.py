"""Loading an exported bundle and classifying images with it (`flyp predict`, the Try page)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
import torch.nn.functional as F

from core.model.classifier import top_k
from core.errors import FlypError
from core.data.images import load_rgb
from core.data.transforms import Normalize, eval_image

BUNDLE_FORMAT = 1
MODEL_FILE, HEAD_FILE, INFO_FILE, CONFIG_FILE, CARD_FILE, ONNX_FILE = (
    "model.safetensors", "class_head.safetensors", "flyp.json", "open_clip_config.json", "README.md", "model.onnx")


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
        return torch.stack([eval_image(load_rgb(p), size, pre.get("interpolation", "bicubic")) for p in paths])

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        return Normalize(self.info["preprocess"]["mean"], self.info["preprocess"]["std"])(images)

    @torch.inference_mode()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        device = next(self.model.parameters()).device
        pixels = self.normalize(images).to(device)
        features = F.normalize(self.model.encode_image(pixels).float(), dim=-1).cpu()
        return self.scale * features @ self.head.T + self.bias

    def predict(self, paths: Sequence[str | Path], k: int = 5) -> list[list[tuple[str, float]]]:
        return top_k(self.logits(self.images(paths)), self.class_names, k)


def load_bundle(path: str | Path, device: torch.device | str = "cpu") -> Bundle:
    """Load a bundle folder written by `core.export.write`; FlypError names what is wrong with it."""
    import open_clip
    from safetensors.torch import load_file

    path = Path(path).expanduser()
    for name in (MODEL_FILE, HEAD_FILE, INFO_FILE, CONFIG_FILE):
        if not (path / name).is_file():
            raise FlypError(f"{path}: not a FLYP bundle (missing {name})")
    info = _read_info(path / INFO_FILE)
    try:
        head = load_file(str(path / HEAD_FILE))
    except Exception as exc:
        raise FlypError(f"{path / HEAD_FILE}: damaged ({_first_line(exc)}); export the bundle again") from None
    if not {"weight", "bias", "scale"} <= set(head) or head["weight"].shape[:1] != (len(info["class_names"]),):
        raise FlypError(f"{path / HEAD_FILE}: does not hold a head for the bundle's {len(info['class_names'])} "
                        "classes; export the bundle again")
    try:
        model = open_clip.create_model(f"local-dir:{path}", device="cpu", weights_only=True)
    except Exception as exc:
        raise FlypError(f"{path / MODEL_FILE}: cannot be loaded ({_first_line(exc)}); export the bundle again") from None
    model.to(device).eval()
    return Bundle(path, info, model, head["weight"].float(), head["bias"].float(), float(head["scale"]))


def _read_info(file: Path) -> dict:
    try:
        info = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: JSONDecodeError and UnicodeDecodeError
        raise FlypError(f"{file}: damaged ({_first_line(exc)}); export the bundle again") from None
    if not isinstance(info, dict) or info.get("format") != BUNDLE_FORMAT:
        raise FlypError(f"{file}: not a bundle of this FLYP Studio version")
    missing = [key for key in ("class_names", "preprocess") if not isinstance(info.get(key), (list, dict))]
    if missing:
        raise FlypError(f"{file}: damaged, it lacks {', '.join(missing)}; export the bundle again")
    return info


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
