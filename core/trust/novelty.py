"""How unlike the training images of every class an image is: the novelty score and its threshold.

Every score reads the model's own output for the image — its normalised image features, or its
class logits — and grows with novelty. Those in the feature space are fitted on the training
images' features (at the α the model is used at):

- `mahalanobis`: the smallest Mahalanobis distance to a class mean, one covariance shared by
  the classes (Lee et al., 2018);
- `relative_mahalanobis`: that distance less the distance to one Gaussian of all training
  features (Ren et al., 2021), which discounts what every image has in common;
- `knn`: one minus the cosine similarity to the k-th nearest training feature (Sun et al., 2022);
- `prototype`: one minus the cosine similarity to the nearest class mean.

Those on the logits need nothing fitted: `energy` (−logsumexp, Liu et al., 2020), `max_logit`
and `max_probability` (the softmax's top, the usual baseline). Which one FLYP Studio uses was
chosen by measurement on the demo (benchmarks/README.md, "None of these classes").

The threshold keeps a share (`keep`, 95%) of the ID validation images: a score above it is
*none of these*. The sorted validation scores are kept too: the share of them at least as novel
as an image says how unusual it is (`NoveltyModel.tail`), which lowers its confidence: a factor
on the temperature per band of tails, fitted on the same validation images (`core.trust.lowering`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.errors import FlypError
from core.trust import lowering as lowering_rule

FEATURE_METHODS = ("mahalanobis", "relative_mahalanobis", "knn", "prototype")
LOGIT_METHODS = ("energy", "max_logit", "max_probability")
METHODS = FEATURE_METHODS + LOGIT_METHODS
DEFAULT_METHOD = "mahalanobis"
KEEP = 0.95          # the share of ID validation images the threshold keeps
KNN_K = 10           # the k of `knn`
MAX_REFERENCE = 20_000  # training features `knn` keeps (an even sample beyond): the bundle stays small
SHRINK = 1e-3        # added to the shrunk covariance's diagonal (times its mean variance): never singular
# The tensors each method needs, by name (what a bundle's novelty.safetensors holds besides `validation`).
TENSORS = {"mahalanobis": ("means", "precision"), "relative_mahalanobis": ("means", "precision", "centre",
                                                                           "background"),
           "knn": ("reference",), "prototype": ("prototypes",),
           "energy": (), "max_logit": (), "max_probability": ()}


@dataclass
class NoveltyModel:
    """A fitted novelty score with its threshold. `tensors` holds what `method` needs (`TENSORS`);
    `validation` the ID validation images' scores, sorted; `warnings` what the user is told about
    the images it was fitted on (a run's training folder that changed since the run, say);
    `lowering` how much less sure an unusual image is (`core.trust.lowering`; None: not at all);
    `temperature` the one fitted on the same ID validation images, at the same α (None without their
    labels): what a run's predictions divide by where nothing else keeps one for that α (its α
    curve not computed yet, `core.labelling.predictor.Predictor.novelty_model`). A bundle keeps its
    own in flyp.json, so this is not written into it."""

    method: str
    tensors: dict[str, torch.Tensor]
    threshold: float
    keep: float
    validation: torch.Tensor
    warnings: tuple[str, ...] = ()
    lowering: lowering_rule.Lowering | None = None
    temperature: float | None = None

    def score(self, features: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """N novelty scores of N×D normalised features and their N×C logits (higher: more novel)."""
        return score(self.method, self.tensors, features.float(), logits.float())

    def known(self, scores: torch.Tensor) -> torch.Tensor:
        """Whether each score is within the threshold (an image like the training images)."""
        return scores <= self.threshold

    def tail(self, scores: torch.Tensor) -> torch.Tensor:
        """The share of ID validation images at least as novel as each score (1: as typical as any)."""
        return lowering_rule.tail(self.validation, scores.float())

    def factor(self, scores: torch.Tensor) -> torch.Tensor:
        """Each score's factor on the temperature (predictions give softmax(logits / (T·factor)));
        1 everywhere without a lowering (a bundle exported before it existed)."""
        if self.lowering is None:
            return torch.ones_like(scores, dtype=torch.float32)
        return self.lowering.factor(self.tail(scores))

    def lowered(self, logits: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """N×C `logits` (divided by T already, or raw) divided by each image's factor: what the softmax
        of a prediction takes, less sure of the unusual images (as they are without a lowering)."""
        return logits / self.factor(scores)[:, None].to(logits.dtype)

    def to_tensors(self) -> dict[str, torch.Tensor]:
        return {**{k: v.contiguous() for k, v in self.tensors.items()}, "validation": self.validation.contiguous()}

    def to_json(self) -> dict:
        lowering = {} if self.lowering is None else {"lowering": self.lowering.to_json()}
        return {"method": self.method, "threshold": self.threshold, "keep": self.keep} | lowering


def fit_reference(method: str, features: torch.Tensor, labels: torch.Tensor, classes: int) -> dict[str, torch.Tensor]:
    """What `method` needs from the training images' N×D normalised features and their labels."""
    if method not in METHODS:
        raise FlypError(f"«novelty» {method!r}: choose one of {', '.join(METHODS)}")
    features, labels = features.float(), torch.as_tensor(labels, dtype=torch.long)
    if method in LOGIT_METHODS:
        return {}
    if method == "knn":
        step = max(1, math.ceil(len(features) / MAX_REFERENCE))
        return {"reference": F.normalize(features[::step], dim=-1)}
    means = torch.stack([features[labels == c].mean(0) if (labels == c).any() else torch.zeros(features.shape[1])
                         for c in range(classes)])
    if method == "prototype":
        return {"prototypes": F.normalize(means, dim=-1)}
    centred = features - means[labels]
    tensors = {"means": means, "precision": _precision(centred)}
    if method == "relative_mahalanobis":
        centre = features.mean(0)
        tensors |= {"centre": centre, "background": _precision(features - centre)}
    return tensors


def _precision(centred: torch.Tensor) -> torch.Tensor:
    """The inverse of the covariance of `centred` rows, shrunk towards its mean variance by
    Ledoit and Wolf's rule (2004; scikit-learn's `ledoit_wolf` with `assume_centered`): few images
    in many dimensions, or a tower whose features fill few directions, would otherwise give a
    near-singular covariance whose inverse turns rounding into novelty."""
    x = centred.double()
    n, d = x.shape
    covariance = x.T @ x / max(1, n)
    mu = float(covariance.diagonal().mean())
    squares = x * x
    beta_ = float((squares.T @ squares).sum())
    delta_ = float((covariance * covariance).sum())  # sum((XᵀX)²) / n²
    beta = (beta_ / max(1, n) - delta_) / (d * max(1, n))
    delta = (delta_ - 2 * mu * float(covariance.diagonal().sum()) + d * mu * mu) / d
    shrinkage = 0.0 if delta <= 0 else min(beta, delta) / delta
    shrunk = (1 - shrinkage) * covariance + (shrinkage * mu + SHRINK * mu + 1e-12) * torch.eye(d, dtype=x.dtype)
    return torch.linalg.inv(shrunk).float()


def score(method: str, tensors: dict[str, torch.Tensor], features: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """The novelty score of `method` (see the module's docstring); written with matrix products
    only, so that the ONNX graph computes the same (`core.export.onnx_model`)."""
    if method == "energy":
        return -torch.logsumexp(logits, dim=-1)
    if method == "max_logit":
        return -logits.max(dim=-1).values
    if method == "max_probability":
        return -logits.softmax(dim=-1).max(dim=-1).values
    if method == "knn":
        similarity = features @ tensors["reference"].T
        k = min(KNN_K, similarity.shape[1])
        return 1.0 - similarity.topk(k, dim=-1).values[:, -1]
    if method == "prototype":
        return 1.0 - (features @ tensors["prototypes"].T).max(dim=-1).values
    distance = _mahalanobis(features, tensors["means"], tensors["precision"]).min(dim=-1).values
    if method == "relative_mahalanobis":
        distance = distance - _mahalanobis(features, tensors["centre"][None], tensors["background"])[:, 0]
    return distance


def _mahalanobis(features: torch.Tensor, means: torch.Tensor, precision: torch.Tensor) -> torch.Tensor:
    """N×C squared Mahalanobis distances (f − μ)·P·(f − μ), from the differences themselves: the
    expanded f·P·f − 2·f·P·μ + μ·P·μ loses every digit in float32 when P is large."""
    difference = features[:, None, :] - means[None, :, :]
    return ((difference @ precision) * difference).sum(-1)


def threshold_for(scores: torch.Tensor, keep: float = KEEP) -> float:
    """The smallest score that keeps at least `keep` of `scores` (ID validation images)."""
    if not 0.0 < keep <= 1.0:
        raise FlypError(f"«keep» must be above 0 and at most 1 (got {keep})")
    if not len(scores):
        raise FlypError("no validation images to set the novelty threshold on")
    ordered = scores.float().sort().values
    return float(ordered[min(len(ordered) - 1, math.ceil(keep * len(ordered)) - 1)])


def fit_novelty(method: str, train_features: torch.Tensor, train_labels, classes: int,
                val_features: torch.Tensor, val_logits: torch.Tensor, keep: float = KEEP,
                val_labels=None) -> NoveltyModel:
    """A novelty score fitted on the training images' features, its threshold set on the ID
    validation images' (their features and logits) to keep `keep` of them; with `val_labels`,
    also how much less sure an unusual image should be (`core.trust.lowering`, on top of the
    temperature fitted on the same validation images)."""
    from core.trust.calibration import fit_temperature

    tensors = fit_reference(method, train_features, train_labels, classes)
    scores = score(method, tensors, val_features.float(), val_logits.float())
    lowering = temperature = None
    if val_labels is not None and len(scores):
        temperature = fit_temperature(val_logits, val_labels)
        lowering = lowering_rule.fit_lowering(scores, val_logits, val_labels, temperature)
    return NoveltyModel(method, tensors, threshold_for(scores, keep), keep, scores.sort().values, lowering=lowering,
                        temperature=temperature)


def from_tensors(info: dict, tensors: dict[str, torch.Tensor], where: str,
                 info_where: str = "flyp.json") -> NoveltyModel:
    """A NoveltyModel from a bundle's flyp.json `novelty` entry and its tensors; FlypError names
    `where` when something is missing or of the wrong shape, `info_where` (flyp.json) when the
    entry's lowering is damaged."""
    method = info.get("method")
    if method not in METHODS:
        raise FlypError(f"{where}: damaged: unknown novelty method {method!r}; export the bundle again")
    missing = [name for name in (*TENSORS[method], "validation") if name not in tensors]
    if missing:
        raise FlypError(f"{where}: damaged: the novelty score lacks {', '.join(missing)}; export the bundle again")
    return NoveltyModel(method, {k: tensors[k].float() for k in TENSORS[method]}, float(info["threshold"]),
                        float(info["keep"]), tensors["validation"].float(),
                        lowering=lowering_rule.from_json(info.get("lowering"), info_where))


def as_predicted(logits: torch.Tensor, features: torch.Tensor, temperature: float | None, novelty) -> torch.Tensor:
    """logits / (T·g): what the softmax of FLYP Studio's predictions takes, T the calibration
    temperature (1 without one) and g each image's factor from `novelty` (a NoveltyModel, or None:
    1), above 1 for unusual images."""
    calibrated = logits / (temperature or 1.0)
    return calibrated if novelty is None else novelty.lowered(calibrated, novelty.score(features, logits))


def auroc(known_scores: torch.Tensor, foreign_scores: torch.Tensor) -> float:
    """The chance that a foreign image scores as more novel than a known one (ties count half)."""
    known, foreign = known_scores.double()[:, None], foreign_scores.double()[None, :]
    return float(((foreign > known).double() + 0.5 * (foreign == known).double()).mean())
