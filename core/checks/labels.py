"""Suspicious labels: out-of-fold predictions, ranked by confident learning.

Each image's class probabilities come from a linear probe that never saw it: the images are
split into `FOLDS` stratified folds, and the probe (`core.labelling.suggest.AnchoredProbe`, started at
the model's own head and pulled back towards it) is fitted on the other folds' cached features.
An image of a class with fewer than `FOLDS` images keeps the model's own (zero-shot) opinion:
there are too few of its kind to learn from. The probes separate their few hundred training
features perfectly, so their logits are far too sure: on small folders (20 demo images a class)
the top of the list all read 1.00, its order set by the fourth decimal. One temperature, fitted on the out-of-fold
logits against the folders' labels (they are held out: `core.trust.calibration.fit_temperature`,
as for validation), brings the probabilities back to how often the probes are right; the scores
then spread over the list (0.998, 0.99, 0.96, …), and the ranking holds as many flipped labels
(82% in the first 2× on seeds 0–2 of the measurement below, before and after).

Confident learning (Northcutt et al., 2021, what `cleanlab` implements) then sets each class's
threshold to the mean probability the probe gives that class on the images filed under it. An
image is suspicious when some other class reaches its own threshold and is the most probable of
the classes that do (the evidence points to that class: "likely"), or when another class is
simply the most probable. Suspicious images are ranked by how little probability their folder's
class gets (self-confidence, cleanlab's default ranking), most suspicious first.

Measured on the demo's 1,200 training images with 5% of the labels flipped at random (demo model
and the demo's captions, 5 seeds, `benchmarks/label_checks.py`): the first 2× (number flipped) of
the ranking hold 81% of the flipped images on average (78–85%). The demo model is weak (its
zero-shot accuracy on these photos is about 57%), so nearly half the images are listed: the
ranking, not the list's length, is what to read.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from core.labelling.suggest import AnchoredProbe
from core.progress import Progress, check_cancel, no_cancel, no_progress
from core.trust.calibration import fit_temperature

FOLDS = 5
L2 = 1e-4  # the probe's pull towards the model's head: weaker than the Label page's, with every image labelled


def stratified_folds(labels: list[int], folds: int = FOLDS, seed: int = 0) -> list[int]:
    """A fold number per image; each class's images dealt round the folds in a seeded order."""
    rng = random.Random(seed)
    fold = [0] * len(labels)
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(label, []).append(i)
    start = 0
    for members in by_class.values():
        rng.shuffle(members)
        for k, i in enumerate(members):
            fold[i] = (start + k) % folds
        start += len(members)
    return fold


def out_of_fold(features: torch.Tensor, labels: list[int], prior: tuple[torch.Tensor, torch.Tensor],
                folds: int = FOLDS, seed: int = 0, l2: float = L2, progress: Progress = no_progress,
                cancel=no_cancel) -> torch.Tensor:
    """N×C probabilities, each row from a probe fitted without that image, calibrated by one
    temperature fitted on them all (see the module)."""
    y = torch.as_tensor(labels, dtype=torch.long)
    head = AnchoredProbe(*prior)
    logits = head.logits(features)
    counts = torch.bincount(y, minlength=prior[0].shape[0])
    learnable = counts[y] >= folds
    fold = torch.as_tensor(stratified_folds(labels, folds, seed))
    for k in range(folds):
        check_cancel(cancel)
        test = (fold == k) & learnable
        if test.any():
            train = fold != k
            probe = AnchoredProbe(*prior, features[train], y[train].tolist(), l2=l2)
            logits[test] = probe.logits(features[test])
        progress(k + 1, folds)
    return (logits / fit_temperature(logits, labels)).softmax(dim=-1)


@dataclass
class Ranking:
    """Per image: the class the evidence points to, how suspicious it is (0–1), and whether
    confident learning flags it."""

    likely: list[int]
    score: list[float]
    flagged: list[bool]

    def order(self) -> list[int]:
        """The flagged images, most suspicious first."""
        return sorted((i for i, f in enumerate(self.flagged) if f), key=lambda i: -self.score[i])


def confident_learning(probs: torch.Tensor, labels: list[int]) -> Ranking:
    y = torch.as_tensor(labels, dtype=torch.long)
    classes = probs.shape[1]
    thresholds = torch.ones(classes)  # a class with no images cannot be confidently likely
    for c in range(classes):
        members = y == c
        if members.any():
            thresholds[c] = probs[members, c].mean()
    confident = probs >= thresholds
    masked = torch.where(confident, probs, torch.full_like(probs, -1.0))
    likely = masked.argmax(dim=1)
    confidently_other = confident.any(dim=1) & (likely != y)
    likely = torch.where(confidently_other, likely, probs.argmax(dim=1))
    flagged = likely != y
    score = 1.0 - probs.gather(1, y[:, None])[:, 0]
    return Ranking(likely.tolist(), score.tolist(), flagged.tolist())
