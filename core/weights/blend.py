"""Weight ensembling of a finished run (WiSE-FT): any α, and the accuracy curve over α."""

from __future__ import annotations

import math

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from core.model.classifier import HEAD_KEYS, Classifier
from core.model.evaluate import Metrics, compute_metrics
from core.data.folders import load_run_datasets
from core.errors import FlypError
from core.words import first_names
from core.data.loader import EvalImages, weights_file_key
from core.model.loading import ModelSpec, load_model, read_state_dict
from core.progress import Progress, check_cancel, no_cancel, no_progress
from core.training.runs import RunDir
from core.trust.calibration import temperature_fit


@dataclass
class BlendedRun:
    """A run's zero-shot and finetuned weights, and a classifier that holds their blend."""

    run: RunDir
    info: dict
    classifier: Classifier
    zero_shot: dict[str, torch.Tensor]
    finetuned: dict[str, torch.Tensor]
    finetuned_key: tuple  # names the finetuned weights (`core.data.loader.weights_file_key`)
    alpha: float = 1.0

    def set_alpha(self, alpha: float) -> None:
        """Load θ(α) into the classifier (α = 0: zero-shot, α = 1: finetuned)."""
        if not 0.0 <= alpha <= 1.0:
            raise FlypError(f"«alpha» must be between 0 and 1 (got {alpha})")
        self.classifier.load_state_dict(blend_states(self.zero_shot, self.finetuned, alpha))
        self.alpha = alpha


def open_run(run_dir: str | Path, which: str = "best", device: torch.device | str = "cpu") -> BlendedRun:
    """Load a run's pretrained (zero-shot) model and its `best` or `last` finetuned weights."""
    run = RunDir(run_dir)
    info = run.read_info()
    spec = ModelSpec(**info["model"]["spec"])
    loaded = load_model(spec, device, seed=info["config"]["seed"])
    classifier = Classifier(loaded, info["class_names"], info["templates"])
    finetuned_key = weights_file_key(run.weights_file(which))  # before reading: a file replaced after names itself anew
    finetuned = {k: v.to(loaded.model.logit_scale.device) for k, v in read_state_dict(run.weights_file(which)).items()}
    zero_shot = {k: v.detach().clone() for k, v in loaded.model.state_dict().items()}
    if HEAD_KEYS[0] in finetuned:  # a CE run: its zero-shot end is the zero-shot linear head
        head = classifier.zero_shot_linear_head()
        zero_shot[HEAD_KEYS[0]], zero_shot[HEAD_KEYS[1]] = head.weight.detach().clone(), head.bias.detach().clone()
    check_weights(finetuned, zero_shot, run.weights_file(which))
    blended = BlendedRun(run, info, classifier, zero_shot, finetuned, finetuned_key)
    blended.set_alpha(1.0)
    return blended


def check_weights(state: dict[str, torch.Tensor], reference: dict[str, torch.Tensor], file: Path) -> None:
    """FlypError naming `file` when its weights are of another model (other keys or shapes than
    `reference`, the run's model) or hold NaN or infinite values (which would predict NaN)."""
    missing, extra = sorted(set(reference) - set(state)), sorted(set(state) - set(reference))
    if missing or extra:
        raise FlypError(f"{file}: weights of another model ({len(missing)} of the run's model's tensors missing, "
                        f"{len(extra)} unknown, e.g. {(missing or extra)[0]}); the file is left as it is")
    for key, value in state.items():
        if value.shape != reference[key].shape:
            raise FlypError(f"{file}: weights of another model ({key} is {tuple(value.shape)}, the run's model's "
                            f"{tuple(reference[key].shape)}); the file is left as it is")
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise FlypError(f"{file}: {key} holds NaN or infinite values; these weights cannot be blended or "
                            "exported (train again, or use the other checkpoint)")


RUN_JSON = "the run's run.json"  # where a run's folders are named, in messages


def check_run_classes(info: dict, found: list[str]) -> None:
    """FlypError unless the run's training folder still holds the classes its run.json lists,
    naming both: the folders may have changed since, or run.json may have been edited."""
    listed = list(info["classes"])
    if list(found) != listed:
        raise FlypError(f"{info['config']['train_dir']} holds the classes {first_names(found, 6)}, but {RUN_JSON} "
                        f"lists {first_names(listed, 6)}: the folders changed since the run was trained, or run.json "
                        "was edited")


def run_eval_sets(info: dict, cancel: Callable[[], bool] = no_cancel) -> dict[str, EvalImages]:
    """The run's ID validation and OOD sets, found again from its config (same split seed), at
    its model's input size and interpolation."""
    config, preprocess = info["config"], info["model"]["preprocess"]
    image_size = preprocess["size"] if isinstance(preprocess["size"], int) else preprocess["size"][0]
    interpolation = preprocess.get("interpolation", "bicubic")
    data = load_run_datasets(config, cancel=cancel, named_in=RUN_JSON)
    check_run_classes(info, data.classes)
    return {name: EvalImages(s, image_size, interpolation, cancel) for name, s in data.eval_sets().items() if s}


def run_test_images(info: dict, cancel: Callable[[], bool] = no_cancel) -> EvalImages | None:
    """The run's test set (`test_dir` or `test_fraction`), or None for a run trained without one.
    Never pass it to a choice (α, checkpoint): measure it at the α chosen on validation."""
    config = info["config"]
    if not (config.get("test_dir") or config.get("test_fraction")):
        return None
    preprocess = info["model"]["preprocess"]
    image_size = preprocess["size"] if isinstance(preprocess["size"], int) else preprocess["size"][0]
    data = load_run_datasets(config, with_ood=False, cancel=cancel, named_in=RUN_JSON)
    return EvalImages(data.test, image_size, preprocess.get("interpolation", "bicubic"), cancel) if data.test else None


def test_scores_at(blended: BlendedRun, alpha: float, cancel: Callable[[], bool] = no_cancel) -> dict | None:
    """The test set's accuracy, macro-F1, n, per-class accuracy, precision, recall and F1 of the blend
    at `alpha` (chosen beforehand on validation); None for a run without a test set."""
    images = run_test_images(blended.info, cancel)
    if images is None:
        return None
    return evaluate_blend(blended, {"test": images}, alpha, cancel)["test"].to_json(full=True)


MAX_ALPHAS = 1001  # a curve of more points takes hours and says nothing more (0.001 apart)


def parse_alphas(text: str) -> list[float]:
    """`0:1:0.1` (start:stop:step, stop included) or `0,0.5,1` → a list of at most MAX_ALPHAS α in [0, 1]."""
    try:
        if ":" in text:
            start, stop, step = (float(x) for x in text.split(":"))
            if not all(map(math.isfinite, (start, stop, step))) or step <= 0:
                raise ValueError
            count = int(round((stop - start) / step)) + 1 if stop >= start else 0
            if count > MAX_ALPHAS:
                raise FlypError(f"«alphas» {text!r}: {count:.3g} values; at most {MAX_ALPHAS} "
                                "(a step of 0.001 or more from 0 to 1)")
            alphas = [round(start + i * step, 10) for i in range(count)]
        else:
            alphas = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise FlypError(f"«alphas» {text!r}: expected start:stop:step (0:1:0.1) or a list (0,0.5,1)") from None
    if len(alphas) > MAX_ALPHAS:
        raise FlypError(f"«alphas» {text!r}: {len(alphas)} values; at most {MAX_ALPHAS}")
    if not alphas or any(not 0.0 <= a <= 1.0 for a in alphas):
        raise FlypError(f"«alphas» {text!r}: every α must lie between 0 and 1")
    return alphas


def blend_logits(blended: BlendedRun, sets: dict[str, EvalImages], alpha: float,
                 cancel: Callable[[], bool] = no_cancel) -> dict[str, torch.Tensor]:
    """The blend's N×C logits at α on each set: {set name: logits, in set order}."""
    if blended.alpha != alpha:
        blended.set_alpha(alpha)
    # The two ends' weights are known: their features may be kept with the images already (α = 0:
    # every run from this model; α = 1: the training that just evaluated this checkpoint).
    known_as = {0.0: blended.classifier.loaded.weights_key, 1.0: blended.finetuned_key}.get(alpha)
    results = {}
    for name, images in sets.items():
        check_cancel(cancel)
        features = blended.classifier.features_of(images, known_as, cancel=cancel)
        results[name] = blended.classifier.logits_from_features(features)
    check_cancel(cancel)
    return results


def evaluate_blend(blended: BlendedRun, sets: dict[str, EvalImages], alpha: float,
                   cancel: Callable[[], bool] = no_cancel, temperature: float | None = None) -> dict[str, Metrics]:
    """The blend at α on each set: {set name: metrics, with each image's prediction}. Each image's
    confidence is softmax(logits / `temperature`) (None: the raw softmax); the rest is the same."""
    names = blended.classifier.class_names
    return {name: compute_metrics(logits.float() / (temperature or 1.0), sets[name].labels, names)
            for name, logits in blend_logits(blended, sets, alpha, cancel).items()}


def alpha_curve(blended: BlendedRun, sets: dict[str, EvalImages], alphas: Sequence[float],
                progress: Progress = no_progress, cancel: Callable[[], bool] = no_cancel) -> list[dict]:
    """Accuracy and macro-F1 of every set at every α: [{"alpha": a, "sets": {name: metrics}}], and
    with an "id" set the temperature fitted on its logits alone at that α (`temperature` and
    `temperature_fit`, `core.trust.calibration.temperature_fit`): what predictions at α divide by."""
    names, curve = blended.classifier.class_names, []
    for i, alpha in enumerate(alphas):
        logits = blend_logits(blended, sets, alpha, cancel)
        scores = {name: compute_metrics(logits[name], sets[name].labels, names) for name in sets}
        point = {"alpha": alpha, "sets": {name: m.to_json(full=True) for name, m in scores.items()}}
        if "id" in sets and len(sets["id"].labels):
            point |= temperature_fit(logits["id"], sets["id"].labels)  # never fitted on the other sets
        curve.append(point)
        progress(i + 1, len(alphas))
    return curve


def blend_states(zero_shot: dict[str, torch.Tensor], finetuned: dict[str, torch.Tensor],
                 alpha: float) -> dict[str, torch.Tensor]:
    """WiSE-FT: θ(α) = (1 − α)·θ_zero-shot + α·θ_finetuned for every floating-point tensor.

    α = 0 and α = 1 give exact copies of the two ends' floating-point tensors; integer buffers
    (such as BatchNorm's step counter) always come from the zero-shot end, whatever α.
    """
    if set(zero_shot) != set(finetuned):
        raise ValueError(f"state dicts differ in keys: {sorted(set(zero_shot) ^ set(finetuned))[:4]}")
    out = {}
    for key, theta1 in finetuned.items():
        theta0 = zero_shot[key]
        if alpha == 0.0 or not theta1.is_floating_point():
            out[key] = theta0.clone()
        elif alpha == 1.0:
            out[key] = theta1.clone()
        else:
            out[key] = torch.lerp(theta0.float(), theta1.float(), alpha).to(theta1.dtype)
    return out

