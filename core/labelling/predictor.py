"""The model that classifies new images: an exported bundle, a run blended at α, or zero-shot.

A `Predictor` splits classification in two, image features and the class head, so that features
can be cached (`core.model.feature_cache`) and a linear probe can be fitted on them
(`core.labelling.suggest`). Its `key` names the image tower and preprocessing: a run's key
holds its weights' size and time and the α, so new weights or another α never reuse features.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from core.errors import FlypError
from core.export.bundle import weights_file


@dataclass
class Predictor:
    """Image features → class logits, for one model over `class_names`."""

    key: str
    description: str  # what the user reads: "zero-shot (demo)", "run flyp at α = 0.60", "bundle …"
    class_names: list[str]
    image_size: int
    interpolation: str
    encode: Callable[[torch.Tensor], torch.Tensor]   # uint8 N×3×S×S → N×D normalised features
    head: Callable[[torch.Tensor], torch.Tensor]     # N×D features → N×C logits
    device: str = "cpu"                              # where `encode` runs: "cpu", "cuda"…
    # The novelty score ("none of these classes", core.trust.novelty): a bundle carries it, a run
    # fits it on first use (`fit_novelty`); None where there are no training images to compare with.
    novelty: object = field(default=None, repr=False)
    fit_novelty: Callable[[], object] | None = field(default=None, repr=False)
    # The text tower, for search and shortcuts (`core.explore.search`, `core.checks.shortcuts`):
    # (names, templates) → N×D normalised mean caption embeddings, as the zero-shot head is made;
    # None where the model has no text tower (an exported bundle keeps only its head).
    text: Callable[[list[str], list[str]], torch.Tensor] | None = field(default=None, repr=False)
    templates: list[str] = field(default_factory=lambda: ["a photo of a {}."])
    caption_names: list[str] | None = None  # the names captions use, by class (default: class_names)
    # The temperature fitted on ID validation (`core.trust.temperature`): probabilities are
    # softmax(logits / T); None where none was fitted for this model (the raw softmax).
    temperature: float | None = None
    # Said with the warnings when the predictions are raw (no temperature, even after the novelty fit)
    uncalibrated: str = ""

    @property
    def calibrated(self) -> bool:
        return self.temperature is not None

    def calibrate(self, logits: torch.Tensor) -> torch.Tensor:
        """`logits` divided by the temperature (as they are without one): what the softmax takes."""
        return logits if self.temperature is None else logits / self.temperature

    def text_features(self, names: list[str], templates: list[str] | None = None) -> torch.Tensor:
        """N×D normalised text embeddings of `names` through `templates` (default: the model's);
        FlypError when the model has no text tower."""
        if self.text is None:
            raise FlypError(f"{self.description} has no text encoder (an exported bundle keeps only its class "
                            "head): use the run it came from, or a pretrained model")
        return self.text(list(names), list(templates or self.templates)).float().cpu()

    def features(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.encode(pixels).float().cpu()

    def probabilities(self, features: torch.Tensor) -> torch.Tensor:
        return self.calibrate(self.head(features).float()).softmax(dim=-1)

    def novelty_model(self):
        """The novelty score (`core.trust.novelty.NoveltyModel`), fitted on first use; or None.
        Fitting it fits a temperature on the same ID validation images at the same α: a run's
        predictions without one yet (no α curve computed) are calibrated by it from then on."""
        if self.novelty is None and self.fit_novelty is not None:
            self.novelty, self.fit_novelty = self.fit_novelty(), None
            if self.temperature is None:
                self.temperature = getattr(self.novelty, "temperature", None)
        return self.novelty

    def warnings(self) -> list[str]:
        """What the user is told once about these predictions: e.g. that a run's training folder
        changed since the run (its novelty score then fitted on the run's own classes only), or that
        its confidence is not calibrated at this α yet."""
        novelty = self.novelty_model()  # first: fitting it may bring the temperature
        raw = [self.uncalibrated] if self.uncalibrated and self.temperature is None else []
        return list(getattr(novelty, "warnings", ())) + raw


def from_classifier(classifier, key: str, description: str) -> Predictor:
    """A `core.model.classifier.Classifier` (zero-shot, or a run's at some α) as a Predictor."""
    from core.model.evaluate import zero_shot_head

    loaded = classifier.loaded

    @torch.inference_mode()
    def text(names: list[str], templates: list[str]) -> torch.Tensor:
        was_training = classifier.model.training
        classifier.model.eval()
        try:
            return zero_shot_head(classifier.model, loaded.tokenizer, names, templates, classifier.device)
        finally:
            classifier.model.train(was_training)

    return Predictor(key, description, list(classifier.class_names), loaded.image_size,
                     loaded.preprocess.get("interpolation", "bicubic"),
                     lambda pixels: classifier.features(pixels, batch_size=len(pixels)),
                     classifier.logits_from_features, classifier.device.type, text=text,
                     templates=list(classifier.templates), caption_names=list(classifier.class_names))


def zero_shot(loaded, class_names: list[str], templates: list[str], display_names: list[str] | None = None) -> Predictor:
    """The pretrained model with the zero-shot head of `templates` (captions from `display_names`)."""
    from core.model.classifier import Classifier

    classifier = Classifier(loaded, display_names or class_names, templates)
    predictor = from_classifier(classifier, f"pretrained|{loaded.spec}", f"zero-shot ({loaded.spec})")
    predictor.class_names = list(class_names)
    return predictor


def from_bundle(bundle) -> Predictor:
    """An exported bundle (`core.export.bundle.Bundle`)."""
    pre = bundle.info["preprocess"]
    size = pre["size"] if isinstance(pre["size"], int) else pre["size"][0]
    weights = weights_file(bundle.path).stat()

    @torch.inference_mode()
    def encode(pixels: torch.Tensor) -> torch.Tensor:
        device = next(bundle.model.parameters()).device
        return F.normalize(bundle.model.encode_image(bundle.normalize(pixels).to(device)).float(), dim=-1).cpu()

    return Predictor(f"bundle|{bundle.path.resolve()}|{weights.st_size}|{weights.st_mtime_ns}",
                     f"bundle {bundle.path.name}", list(bundle.class_names), size,
                     pre.get("interpolation", "bicubic"), encode,
                     lambda features: bundle.scale * features @ bundle.head.T + bundle.bias,
                     next(bundle.model.parameters()).device.type, novelty=bundle.novelty,
                     temperature=bundle.temperature)


def from_run(blended, alpha: float) -> Predictor:
    """A run (`core.weights.blend.BlendedRun`) blended at `alpha`; the caller holds the weights there.
    Calibrated by `core.trust.temperature.run_temperature`: the temperature its run.json keeps when
    that was measured at `alpha`, else its cached α curve's at `alpha`; without either, by the one
    fitted on its ID validation images at `alpha` with its novelty score (`novelty_model`); raw
    only where those images are gone."""
    from core.trust.temperature import run_temperature
    from core.weights.curve import weights_stamp

    blended.set_alpha(alpha)
    stamp = weights_stamp(blended.run.path)
    key = f"run|{Path(blended.run.path).resolve()}|{stamp[0]}|{stamp[1]}|{alpha:.4f}"
    name = Path(blended.run.path).name
    predictor = from_classifier(blended.classifier, key, f"run {name} at α = {alpha:.2f}")
    predictor.class_names = list(blended.info["classes"])
    predictor.temperature = run_temperature(blended.run.path, alpha)  # else the novelty fit's, when it runs
    predictor.uncalibrated = (f"the confidence is the raw softmax: no temperature could be fitted at α = {alpha:g} "
                              "(the run's validation images are not usable)")
    predictor.fit_novelty = lambda: _fit_run_novelty(blended, alpha, predictor)
    return predictor


def _fit_run_novelty(blended, alpha: float, predictor: Predictor):
    """The run's novelty score at `alpha`, fitted on its training and validation images of the
    run's own classes (their features cached on disk under the predictor's key, as prediction's
    are), carrying the warning when the training folder changed since the run."""
    from dataclasses import replace

    from core.trust.fitting import fit_for_predictor, run_samples

    if blended.alpha != alpha:  # the run may have been blended elsewhere meanwhile (the app shares it)
        blended.set_alpha(alpha)
    try:
        train, val, warnings = run_samples(blended.info)
        return replace(fit_for_predictor(predictor, train, val), warnings=tuple(warnings))
    except FlypError:  # its image folders are gone or unusable: predictions carry no novelty then
        return None


def open_predictor(path: str | Path, alpha: float | None = None, device: torch.device | str = "cpu") -> Predictor:
    """A bundle folder, or a run folder at `alpha` (default 1, the finetuned end).

    FlypError when the folder is neither, or when `alpha` is given for a bundle (its α was
    fixed at export).
    """
    path = Path(path).expanduser()
    if (path / "run.json").is_file():
        from core.weights.blend import open_run

        return from_run(open_run(path, "best", device), 1.0 if alpha is None else alpha)
    if alpha is not None:
        raise FlypError(f"«alpha»: {path} is a bundle, blended at α = {_bundle_alpha(path)} when it was exported; "
                        "give a run folder to choose α", setting="alpha")
    from core.export.bundle import load_bundle

    if path.is_dir() and not (path / "flyp.json").exists() and not weights_file(path).exists():
        raise FlypError(f"{path}: not a FLYP bundle or run folder (no flyp.json or run.json in it)")
    return from_bundle(load_bundle(path, device))


def _bundle_alpha(path: Path) -> str:
    try:
        return f"{json.loads((path / 'flyp.json').read_text(encoding='utf-8'))['alpha']:g}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its export"
