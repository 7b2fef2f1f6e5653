"""`check_folders`: the label checks of a project's folders, as one report.

The training folder's images get out-of-fold predictions and a confident-learning ranking
(`core.checks.labels`); every folder's images are compared for near-duplicates
(`core.checks.duplicates`) and measured for blur, exposure and size (`core.checks.quality`);
class sizes, imbalance and zero-shot accuracy give warnings, each with one line of advice. Image features go through `core.model.feature_cache`: computed once per file
and model, shared with the Label page, the Try page and `flyp predict`. Nothing is changed on disk
except the feature cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Collection, Sequence

import torch

from core.checks import duplicates, labels, quality as image_quality, shortcuts as concept_shortcuts
from core.data.folders import excluded_key, scan_folder
from core.errors import FlypError
from core.progress import Progress, check_cancel, no_cancel, no_progress

FEW_IMAGES = 10        # a class with fewer training images gets a warning
IMBALANCE = 5.0        # largest / smallest class above this gets a warning
NEAR_CHANCE = 1.5      # zero-shot accuracy of a class below this × chance gets a warning
TRUSTED = 0.5          # out-of-fold accuracy below this (or NEAR_CHANCE × chance): the ranking is a guess
TRAIN = "train"


@dataclass
class Suspicious:
    path: str
    label: str
    likely: str
    score: float

    def to_json(self) -> dict:
        return {"path": self.path, "label": self.label, "likely": self.likely, "score": round(self.score, 4)}

    def score_text(self) -> str:
        """The score to two decimals, "> 0.99" where that would read 1.00: the folder's class is
        never wholly ruled out, and a column of 1.00 reads as no ranking at all."""
        return "> 0.99" if self.score >= 0.995 else f"{self.score:.2f}"


@dataclass
class Duplicate:
    a: str
    b: str
    similarity: float
    kind: str

    def to_json(self) -> dict:
        return {"a": self.a, "b": self.b, "similarity": round(self.similarity, 4), "kind": self.kind}


@dataclass
class ClassWarning:
    kind: str      # few-images, imbalance, near-chance
    message: str
    advice: str
    classes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"kind": self.kind, "message": self.message, "advice": self.advice, "classes": self.classes}


@dataclass
class CheckReport:
    suspicious: list[Suspicious]
    near_duplicates: list[Duplicate]
    warnings: list[ClassWarning]
    model: str
    images: int
    kept: int = 0  # suspicious images the user chose to keep as they are (not listed again)
    agreement: float | None = None  # how many training labels the out-of-fold predictions agree with
    classes: int = 2
    quality: list[image_quality.QualityIssue] = field(default_factory=list)  # blurred, dark… (`core.checks.quality`)
    shortcuts: list[concept_shortcuts.Shortcut] = field(default_factory=list)  # `core.checks.shortcuts`

    @property
    def trusted(self) -> bool:
        """Whether the suspicious labels' ranking means anything: with a model that agrees with
        fewer than half the labels (or barely above chance), it is a guess and its scores are not shown."""
        return self.agreement is None or self.agreement >= max(TRUSTED, NEAR_CHANCE / max(2, self.classes))

    def ranking_note(self) -> str:
        """Why the suspicious labels are no ranking, in words; empty when they are one."""
        if self.trusted:
            return ""
        return (f"the model agrees with only {self.agreement:.0%} of the training labels, even when it learns from "
                "the other images: it barely knows these classes, so this list is a guess, not a ranking (no "
                "scores shown); check again with a trained model, or give the classes clearer names")

    def to_json(self) -> dict:
        return {"suspicious": [s.to_json() for s in self.suspicious],
                "near_duplicates": [d.to_json() for d in self.near_duplicates],
                "warnings": [w.to_json() for w in self.warnings],
                "quality": [q.to_json() for q in self.quality],
                "shortcuts": [c.to_json() for c in self.shortcuts],
                "model": self.model, "images": self.images, "kept": self.kept,
                "agreement": None if self.agreement is None else round(self.agreement, 4),
                "ranking_trusted": self.trusted}


@dataclass
class _Image:
    path: Path
    set: str      # "train", "validation" or a different-conditions folder's name
    label: str    # its class folder


def check_folders(train_dir: str | os.PathLike, predictor, *, val_dir: str | os.PathLike | None = None,
                  ood_dirs: Sequence[str | os.PathLike] = (), exclude: Collection[str] = (),
                  kept: Collection[str] = (), zero_shot: bool = False, threshold: float = duplicates.THRESHOLD,
                  concepts: Sequence[str] = (),
                  cache_root: str | os.PathLike | None = None, progress: Progress = no_progress,
                  cancel: Callable[[], bool] = no_cancel) -> CheckReport:
    """Check the folders with `predictor` (`core.labelling.predictor.Predictor`; `zero_shot`: its
    head is zero-shot, so per-class accuracy near chance is worth a warning). Images in
    `exclude` are left out; those in `kept` are not listed as suspicious again, nor a pair of
    near-duplicates both of which are kept. `concepts`: the user's own shortcut concepts, beside
    `core.checks.shortcuts.CONCEPTS` (shortcuts need the model's text tower: none for a bundle)."""
    from core.labelling.suggest import AnchoredProbe, affine_head
    from core.model.feature_cache import FeatureCache, all_features

    scan = scan_folder(train_dir, exclude=exclude, cancel=cancel)
    scan.check_usable()
    missing = [c for c in scan.classes if c not in predictor.class_names]
    if missing:
        raise FlypError(f"{train_dir}: class folder(s) {', '.join(missing[:5])} are not classes of {predictor.description}")
    images = [_Image(s.path, TRAIN, scan.classes[s.label]) for s in scan.samples]
    for name, folder in _eval_folders(val_dir, ood_dirs):
        other = scan_folder(folder, exclude=exclude, cancel=cancel)
        images += [_Image(s.path, name, other.classes[s.label]) for s in other.samples]
    total = 3 * len(images) + labels.FOLDS
    model_items = all_features([i.path for i in images], predictor, cache=FeatureCache(predictor.key, cache_root),
                               progress=lambda d, _: progress(d, total), cancel=cancel)
    thumbs = all_features([i.path for i in images], duplicates.Thumbnails(),
                          cache=FeatureCache(duplicates.Thumbnails.key, cache_root),
                          progress=lambda d, _: progress(len(images) + d, total), cancel=cancel)
    measures = image_quality.image_measures([i.path for i in images], cache_root=cache_root, cancel=cancel,
                                            progress=lambda d, _: progress(2 * len(images) + d, total))
    bad = image_quality.issues_of([str(i.path) for i in images], measures)
    usable = [k for k, (m, t) in enumerate(zip(model_items, thumbs)) if m.features is not None and t.features is not None]
    images = [images[k] for k in usable]
    model_x = torch.stack([model_items[k].features for k in usable]).float()
    thumb_x = torch.stack([thumbs[k].features for k in usable]).float()

    train = [k for k, image in enumerate(images) if image.set == TRAIN]
    index = {name: i for i, name in enumerate(predictor.class_names)}
    y = [index[images[k].label] for k in train]
    prior = affine_head(predictor.head, model_x.shape[1])
    probs = labels.out_of_fold(model_x[train], y, prior, cancel=cancel,
                               progress=lambda d, _: progress(3 * len(images) + d, total))
    ranking = labels.confident_learning(probs, y)
    keep = {excluded_key(p) for p in kept}
    suspicious = [Suspicious(str(images[train[i]].path), images[train[i]].label,
                             predictor.class_names[ranking.likely[i]], ranking.score[i]) for i in ranking.order()]
    listed = [s for s in suspicious if excluded_key(s.path) not in keep]
    check_cancel(cancel)
    pairs = [Duplicate(str(images[p.a].path), str(images[p.b].path), p.similarity,
                       duplicates.pair_kind(images[p.a].set, images[p.b].set, images[p.a].label, images[p.b].label,
                                            TRAIN))
             for p in duplicates.similar_pairs(thumb_x, threshold, cancel)
             if not {excluded_key(images[p.a].path), excluded_key(images[p.b].path)} <= keep]
    zero_shot_probs = AnchoredProbe(*prior).probabilities(model_x[train]) if zero_shot else None
    warnings = class_warnings(scan.counts(), y, zero_shot_probs, predictor.class_names)
    agreement = float((probs.argmax(dim=1) == torch.as_tensor(y)).float().mean())
    found = concept_shortcuts.find_shortcuts(model_x[train], y, [str(images[k].path) for k in train], predictor,
                                             own_concepts=concepts, cancel=cancel) if predictor.text else []
    return CheckReport(listed, pairs, warnings, predictor.description, len(images), len(suspicious) - len(listed),
                       agreement, len(scan.classes), [q for q in bad if excluded_key(q.path) not in keep], found)


def _eval_folders(val_dir, ood_dirs) -> list[tuple[str, Path]]:
    folders = [("validation", Path(val_dir))] if val_dir else []
    for folder in ood_dirs:
        name, n = Path(folder).name or str(folder), 2
        while name in dict(folders) or name == TRAIN:
            name, n = f"{Path(folder).name} ({n})", n + 1
        folders.append((name, Path(folder)))
    return folders


def class_warnings(counts: dict[str, int], y: list[int], zero_shot_probs: torch.Tensor | None,
                   class_names: list[str]) -> list[ClassWarning]:
    """Few images, imbalance, and (with zero-shot probabilities) classes zero-shot barely finds."""
    warnings = []
    few = [c for c, n in counts.items() if n < FEW_IMAGES]
    if few:
        warnings.append(ClassWarning(
            "few-images", f"{_names(few, counts)}: fewer than {FEW_IMAGES} training images",
            f"add images to {'this class' if len(few) == 1 else 'these classes'}: 10 is a minimum, "
            "50 or more per class is better", few))
    largest, smallest = max(counts, key=counts.get), min(counts, key=counts.get)
    if counts[smallest] and counts[largest] / counts[smallest] > IMBALANCE:
        warnings.append(ClassWarning(
            "imbalance", f"classes are imbalanced: {largest!r} has {counts[largest]} images, {smallest!r} "
                         f"{counts[smallest]} ({counts[largest] / counts[smallest]:.0f}×)",
            "add images to the small classes (or remove some from the large ones): the model will "
            "otherwise favour the large classes", [largest, smallest]))
    if zero_shot_probs is not None:
        chance = 1.0 / len(counts)
        predicted = zero_shot_probs.argmax(dim=1)
        target = torch.as_tensor(y)
        weak = []
        for c, name in enumerate(class_names):
            members = target == c
            if members.any() and (predicted[members] == c).float().mean() < NEAR_CHANCE * chance:
                weak.append((name, float((predicted[members] == c).float().mean())))
        if weak:
            warnings.append(ClassWarning(
                "near-chance", "zero-shot barely recognises " + ", ".join(f"{n!r} ({a:.0%})" for n, a in weak)
                               + f" (chance: {chance:.0%})",
                "give these classes clearer names (the captions are made from them), or more descriptive "
                "templates; finetuning will also have to learn them from scratch", [n for n, _ in weak]))
    return warnings


def _names(classes: list[str], counts: dict[str, int]) -> str:
    return ", ".join(f"{c!r} ({counts[c]})" for c in classes[:8]) + (" …" if len(classes) > 8 else "")
