"""Evaluation: the zero-shot head from the text encoder, image features, and metrics."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from core.data.captions import captions_for
from core.model.scores import class_scores
from core.model.fast_text import encode_text
from core.progress import Progress, check_cancel, no_cancel, no_progress

PREDICTION_COLUMNS = ("path", "label", "predicted", "confidence")


@torch.inference_mode()
def zero_shot_head(model, tokenizer, class_names: Sequence[str], templates: Sequence[str],
                   device: torch.device | str = "cpu", batch_size: int = 256) -> torch.Tensor:
    """C×D head: for each class, the normalised mean of its normalised caption embeddings.

    The same computation as `open_clip.build_zero_shot_classifier`, returned row-per-class.
    """
    captions = [c for name in class_names for c in captions_for(name, list(templates))]
    chunks = []
    for start in range(0, len(captions), batch_size):
        tokens = tokenizer(captions[start:start + batch_size]).to(device)
        chunks.append(F.normalize(encode_text(model, tokens).float(), dim=-1))
    per_caption = torch.cat(chunks).view(len(class_names), len(templates), -1)
    return F.normalize(per_caption.mean(dim=1), dim=-1)


@torch.inference_mode()
def encode_images(model, images: Callable[[int], torch.Tensor] | torch.Tensor, count: int, normalize,
                  device: torch.device | str = "cpu", batch_size: int = 128,
                  progress: Progress = no_progress, cancel: Callable[[], bool] = no_cancel) -> torch.Tensor:
    """N×D L2-normalised image features of `count` uint8 images (a tensor, or a batch getter)."""
    features = []
    for start in range(0, count, batch_size):
        check_cancel(cancel)
        stop = min(count, start + batch_size)
        batch = images[start:stop] if isinstance(images, torch.Tensor) else images(start, stop)
        pixels = normalize(batch.to(device, non_blocking=True))
        features.append(F.normalize(model.encode_image(pixels).float(), dim=-1).cpu())
        progress(stop, count)
    if not features:
        return torch.zeros(0, 0)
    return torch.cat(features)


@dataclass
class Metrics:
    """Scores of one evaluation set; `predictions` and `scores` are per image, in set order."""

    accuracy: float
    macro_f1: float
    per_class: dict[str, float]
    confusion: list[list[int]]
    n: int
    labels: list[int] = field(repr=False)
    predictions: list[int] = field(repr=False)
    confidences: list[float] = field(repr=False, default_factory=list)
    class_names: list[str] = field(repr=False, default_factory=list)  # every class, in label order

    def cells(self) -> dict[tuple[int, int], list[int]]:
        """The images of each non-empty cell of the confusion matrix: {(true, predicted): indices in
        set order}; the counts are `confusion[true][predicted]`."""
        cells: dict[tuple[int, int], list[int]] = {}
        for i, cell in enumerate(zip(self.labels, self.predictions)):
            cells.setdefault(cell, []).append(i)
        return cells

    def to_json(self, full: bool = False) -> dict:
        out = {"accuracy": self.accuracy, "macro_f1": self.macro_f1, "n": self.n}
        if full:
            out |= {"per_class": self.per_class, "confusion": self.confusion,
                    "per_class_scores": class_scores(self.confusion, self.class_names)}
        return out


def compute_metrics(logits: torch.Tensor, labels: Sequence[int], class_names: Sequence[str]) -> Metrics:
    """Top-1 accuracy, per-class accuracy (recall), macro-F1 and the confusion matrix.

    Classes with no images in the set are left out of per-class accuracy and macro-F1.
    """
    n_classes = len(class_names)
    y = torch.as_tensor(list(labels), dtype=torch.long)
    probs = logits.float().softmax(dim=-1)
    confidence, pred = probs.max(dim=-1)
    confusion = torch.zeros(n_classes, n_classes, dtype=torch.long)
    confusion.index_put_((y, pred), torch.ones_like(y), accumulate=True)
    support, predicted, correct = confusion.sum(1), confusion.sum(0), confusion.diag()
    present = support > 0
    recall = correct.double() / support.clamp(min=1)
    precision = correct.double() / predicted.clamp(min=1)
    f1 = torch.where(precision + recall > 0, 2 * precision * recall / (precision + recall), torch.zeros_like(recall))
    return Metrics(
        accuracy=float(correct.sum()) / max(1, len(y)),
        macro_f1=float(f1[present].mean()) if present.any() else 0.0,
        per_class={class_names[i]: float(recall[i]) for i in range(n_classes) if present[i]},
        confusion=confusion.tolist(),
        n=len(y),
        labels=y.tolist(),
        predictions=pred.tolist(),
        confidences=confidence.tolist(),
        class_names=list(class_names),
    )


def predictions_csv(rows: Sequence[dict]) -> str:
    """A CSV of images and their predictions: a header `path,label,predicted,confidence`, then one
    row per image (`rows`: dicts with those keys; the label is the image's class folder)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(PREDICTION_COLUMNS)
    writer.writerows([row["path"], row["label"], row["predicted"], f"{row['confidence']:.4f}"] for row in rows)
    return buffer.getvalue()


def classify(features: torch.Tensor, head: torch.Tensor, scale: float = 100.0) -> torch.Tensor:
    """Logits of normalised image features against a C×D head (cosine × `scale`)."""
    return scale * features @ head.to(features.dtype).T
