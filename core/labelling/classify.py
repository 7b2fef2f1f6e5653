"""Classifying folders of new images in batches: the results, their CSV, and sorting into class folders.

`flyp predict` and the Try page's "Classify a folder…" share all of it. Images are decoded in
threads and encoded a batch at a time (`core.model.feature_cache.image_features`); an image that
cannot be used gets a row with the reason instead of stopping the rest.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from core import atomic
from core.data.images import is_image_name
from core.errors import FlypError, SettingError, file_reason
from core.labelling.files import check_writable, place
from core.progress import Progress, check_cancel, no_cancel, no_progress
from core.words import shown

UNCERTAIN = "_uncertain"  # the folder for images below --min-confidence (a leading _: not a class name)
UNKNOWN = "_unknown"      # the folder for images unlike every class's training images ("none of these")


@dataclass
class Prediction:
    """One image: its classes, most likely first, with probabilities; or why it was skipped.
    `novelty` (higher: less like the training images) and `known` (within the threshold set on
    ID validation) are None for a model without a novelty score (zero-shot); `lowered_by`, how much
    the novelty score lowered the top confidence (`core.trust.lowering`: below 0 where a very typical
    image is a little surer than the temperature alone says), is None too for a model without one."""

    path: Path
    top: list[tuple[str, float]] = field(default_factory=list)
    reason: str = ""
    novelty: float | None = None
    known: bool | None = None
    lowered_by: float | None = None

    @property
    def label(self) -> str:
        return self.top[0][0] if self.top else ""

    @property
    def confidence(self) -> float:
        return self.top[0][1] if self.top else 0.0

    def to_json(self) -> dict:
        if self.reason:
            return {"path": str(self.path), "reason": self.reason}
        return {"path": str(self.path), "class": self.label, "confidence": self.confidence,
                "known": self.known, "novelty": self.novelty, "confidence_lowered_by": self.lowered_by,
                "top_k": [{"class": c, "probability": p} for c, p in self.top]}


def image_files(items: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, and the image files inside folders (any depth, sorted); FlypError names a
    path that does not exist."""
    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            files += sorted(p for p in item.rglob("*") if is_image_name(p) and p.is_file())
        elif item.exists():
            files.append(item)
        else:
            raise FlypError(f"{item}: no such file or folder")
    return files


def classify_files(paths: Sequence[str | os.PathLike], predictor, *, top_k: int = 3, batch_size: int = 64,
                   cache=None, progress: Progress = no_progress,
                   cancel: Callable[[], bool] = no_cancel) -> Iterator[list[Prediction]]:
    """Yield the files' predictions a batch at a time, in order (see `image_features`), each with
    its novelty and verdict where the predictor has a novelty score (fitted first if need be)."""
    from core.model.feature_cache import image_features

    novelty = predictor.novelty_model()
    for batch in image_features(paths, predictor, cache=cache, batch_size=batch_size, progress=progress,
                                cancel=cancel):
        usable = [item for item in batch if item.features is not None]
        found = dict(zip(map(id, usable), _predict(predictor, novelty, usable, top_k))) if usable else {}
        yield [found.get(id(item)) or Prediction(item.path, reason=item.reason) for item in batch]


def _predict(predictor, novelty, items: list, top_k: int) -> list[Prediction]:
    import torch

    names = predictor.class_names
    features = torch.stack([item.features for item in items])
    raw = predictor.head(features).float()
    logits = predictor.calibrate(raw)
    scores = novelty.score(features, raw) if novelty is not None else None
    lowered = logits if scores is None else novelty.lowered(logits, scores)  # less sure of the unusual
    values, indices = lowered.softmax(dim=-1).topk(max(1, min(top_k, len(names))), dim=-1)
    drop = [None] * len(items)
    if scores is not None and novelty.lowering is not None:
        drop = (logits.softmax(-1).max(-1).values - values[:, 0]).tolist()
    scores = scores.tolist() if scores is not None else [None] * len(items)
    return [Prediction(item.path, [(names[i], float(p)) for p, i in zip(vs, ids)], item.reason, s,
                       None if s is None else s <= novelty.threshold, d)
            for item, vs, ids, s, d in zip(items, values.tolist(), indices.tolist(), scores, drop)]


def csv_text(predictions: Sequence[Prediction], top_k: int) -> str:
    """A header, then one row per image: path, class, confidence (a fraction), known (true, or
    false for "none of these"; empty without a novelty score), novelty, the next classes and their
    confidences, and the reason for an image that was skipped."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = ["path", "class", "confidence", "known", "novelty"]
    for rank in range(2, top_k + 1):
        header += [f"class_{rank}", f"confidence_{rank}"]
    writer.writerow(header + ["skipped"])
    for p in predictions:  # names escaped (\\n, \\x00…): one line per image, whatever a file is called
        cells = [shown(p.path)]
        for rank in range(top_k):
            cells += [shown(p.top[rank][0]), f"{p.top[rank][1]:.6f}"] if rank < len(p.top) else ["", ""]
            if rank == 0:
                cells += ["" if p.known is None else str(p.known).lower(),
                          "" if p.novelty is None else f"{p.novelty:.6g}"]
        writer.writerow(cells + [shown(p.reason)])
    return buffer.getvalue()


def write_csv(predictions: Sequence[Prediction], out: str | os.PathLike, top_k: int) -> None:
    """`csv_text` written atomically to `out` (WriteError names it when it cannot be written)."""
    atomic.write_text(out, csv_text(predictions, top_k))


@dataclass
class SortReport:
    """What `sort_into` copied: per class folder (and `UNCERTAIN`), and the files it could not copy."""

    folder: Path
    copied: Counter = field(default_factory=Counter)
    failed: list[tuple[str, str]] = field(default_factory=list)
    placed: list[Path] = field(default_factory=list)  # the copies made, in order (what `unsort` removes)
    made: list[Path] = field(default_factory=list)    # the folders made

    def to_json(self) -> dict:
        return {"folder": str(self.folder), "copied": dict(self.copied),
                "failed": [{"path": p, "reason": r} for p, r in self.failed]}


def sort_into(predictions: Sequence[Prediction], folder: str | os.PathLike, min_confidence: float = 0.5, *,
              progress: Progress = no_progress, cancel: Callable[[], bool] = no_cancel) -> SortReport:
    """Copy each classified image into `folder/<class>/` (under a new name when one is taken;
    nothing is overwritten), into `folder/_unknown/` when it is like none of the classes' training
    images, or into `folder/_uncertain/` below `min_confidence`. Images that
    were skipped are not copied. A file that cannot be copied is reported and the rest go on;
    FlypError up front when `folder` cannot be written at all."""
    folder = Path(folder).expanduser()
    if not 0.0 <= min_confidence <= 1.0:
        raise SettingError("min_confidence", "between 0 and 1", min_confidence)
    report = SortReport(folder)
    if not folder.exists():
        report.made.append(folder)
    check_writable(folder)
    todo = [p for p in predictions if not p.reason]
    for i, p in enumerate(todo, 1):
        check_cancel(cancel)
        confident = p.known is not False and p.confidence >= min_confidence
        target = p.label if confident else UNKNOWN if p.known is False else UNCERTAIN
        class_folder = folder / (_safe_folder_name(target) if confident else target)  # a class never lands in _unknown
        if not class_folder.exists():
            report.made.append(class_folder)
        try:
            report.placed.append(place(p.path, class_folder, complete=True))
            report.copied[target] += 1
        except FlypError as exc:
            report.failed.append((str(p.path), file_reason(exc)))
        progress(i, len(todo))
    return report


def unsort(report: SortReport) -> None:
    """Remove the copies `sort_into` made, and the folders it made once they are empty again."""
    for path in reversed(report.placed):
        path.unlink(missing_ok=True)
    for folder in reversed(report.made):
        try:
            folder.rmdir()
        except OSError:
            pass  # not empty: the user put something there meanwhile


MAX_FOLDER_BYTES = 200  # file systems take 255 bytes a name; room is left for " (2)" and the like


def _safe_folder_name(name: str) -> str:
    """A class name as a folder name every file system takes: no path separator, control
    character (a NUL, a newline) or character Windows refuses; no leading dot (nothing hidden,
    nothing that escapes `folder`); at most MAX_FOLDER_BYTES bytes, a long name cut and told apart
    by a short digest of the whole; and never UNCERTAIN or UNKNOWN, the folders of the images
    below the confidence asked and of those like none of the classes."""
    import hashlib

    cleaned = "".join("_" if ch in '/\\<>:"|?*' or ord(ch) < 32 or ord(ch) == 127 else ch for ch in name)
    cleaned = cleaned.lstrip(".").strip() or "_"
    if len(cleaned.encode("utf-8", "surrogateescape")) > MAX_FOLDER_BYTES:
        digest = hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
        cut = cleaned.encode("utf-8", "surrogateescape")[:MAX_FOLDER_BYTES - 9].decode("utf-8", "ignore")
        cleaned = f"{cut}-{digest}"
    return f"{cleaned} (class)" if cleaned.casefold() in (UNCERTAIN, UNKNOWN) else cleaned
