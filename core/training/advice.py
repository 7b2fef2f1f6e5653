"""Advice after a run, read from its own curves: what went wrong (or could go better) and what to change.

`advise(run_dir)` (or `advise_from(info, records)` on a run's `run.json` content and metrics
records) returns a list of `Advice`, most important first. Each says what the curves show in
plain words (`finding`) and, where one setting would fix it, the TrainConfig fields to change
(`change`), which each front end words its own way: flags on the command line, the labels of
the form in the app, where a button trains again with the change.

The rules, in order (the first three exclude each other; so do the next two):
- diverged: a NaN loss, a training loss that rose, or validation accuracy fallen below
  zero-shot without ever rising above it → a lower learning rate;
- barely moved from zero-shot, the training loss flat too → a higher learning rate (or more
  epochs, when the learning rate is already at the top of what works for the model); the loss
  fell, but validation did not follow → more (varied) images or a larger model, no setting;
- still rising at the end → more epochs;
- validation falling while the training loss falls (overfitting) → fewer epochs;
- too few validation images for the figure to mean much → say how many, and how uncertain;
- one class far below the others → its name, its captions, its images.
Differences are judged against the validation set's noise (the standard error of an accuracy
measured on n images), so that a few images more or less right never make advice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from core.training.config import TrainConfig
from core.training.defaults import family_of

FEW_VALIDATION_IMAGES = 200   # below this, a validation accuracy is uncertain by several points
LOSS_FELL = 0.1               # a training loss that fell by more than this share learned its images
                              # (the demo's FLYP loss: 7% at lr 1e-5, which a higher lr helps; 17% at 1e-4, which it does not)
WEAK_CLASS_GAP = 0.3          # a class this far below the mean of the others is called out
MAX_WEAK_CLASSES = 3


@dataclass(frozen=True)
class Advice:
    """One piece of advice: what the run's curves show, and the settings that would help."""

    kind: str                       # diverged, barely_moved, still_rising, overfitting, few_validation_images, weak_class
    finding: str                    # what the curves show, in words that name no setting
    change: dict = field(default_factory=dict)  # TrainConfig fields → new values ({}: no setting to change)
    hint: str = ""                  # what to do when it is not a setting ("check its captions")

    def to_json(self) -> dict:
        return {"kind": self.kind, "finding": self.finding, "change": dict(self.change), "hint": self.hint}


def advise(run_dir: str | Path) -> list[Advice]:
    """Advice for the run in `run_dir`, from its run.json and metrics (FlypError if unreadable)."""
    from core.training.runs import RunDir

    run = RunDir(run_dir)
    return advise_from(run.read_info(), run.read_metrics())


def advise_from(info: dict, records: list[dict]) -> list[Advice]:
    """Advice from a run's info (run.json's content) and its metrics records."""
    config = info.get("config") or {}
    if config.get("method") in ("lp", "soup"):
        return []  # no training curve to read
    curves = _Curves(info, records)
    advice = []
    for group in ((_diverged, _barely_moved), (_still_rising, _overfitting)):
        found = next((a for rule in group if (a := rule(curves, config)) is not None), None)
        if found is not None:
            advice.append(found)
            if found.kind == "diverged":
                break  # the other curves of a diverged run say nothing more
    if few := _few_validation_images(curves, config):
        advice.append(few)
    advice += _weak_classes(curves)
    return advice


def collapsed(info: dict) -> str | None:
    """Words saying that a finished run collapsed (its best checkpoint is below zero-shot on
    validation: finetuning made the model worse, so there is nothing to blend or export), or None."""
    best = info.get("best") if isinstance(info.get("best"), dict) else {}
    zero = ((info.get("zeroshot") or {}).get("id") or {}).get("accuracy")
    kept = best.get("id_accuracy")
    if zero is None or kept is None or kept >= zero:
        return None
    return (f"The run collapsed: its best checkpoint ({kept:.1%}) is below zero-shot ({zero:.1%}), so training made "
            "the model worse and blending or exporting it would not help; follow the advice and train again.")


class _Curves:
    """The parts of a run's records the rules read."""

    def __init__(self, info: dict, records: list[dict]):
        self.info = info
        self.losses = [r["loss"] for r in records if r.get("type") == "step" and "loss" in r]
        evals = [r for r in records if r.get("type") == "eval" and "id" in r.get("sets", {})]
        self.evals = [(r["step"], r.get("epoch", 0.0), r["sets"]["id"]) for r in evals]
        zero = (info.get("zeroshot") or {}).get("id")
        self.zero_shot = zero["accuracy"] if zero else (self.evals[0][2]["accuracy"] if self.evals else None)
        self.n = (zero or (self.evals[0][2] if self.evals else {})).get("n", 0)
        trained = [e for e in self.evals if e[0] > 0]
        self.trained = trained
        self.best = max(trained, key=lambda e: e[2]["accuracy"]) if trained else None
        self.last = trained[-1] if trained else None
        self.nan = any(not math.isfinite(x) for x in self.losses) or info.get("nan_loss") is True

    def accuracy(self) -> float:
        return max(self.zero_shot or 0.0, self.best[2]["accuracy"] if self.best else 0.0)

    def noise(self) -> float:
        """Half the width of the 95% interval of the accuracy on the validation images (at least
        one point): Wilson's, which holds at 0% and 100% and on a handful of images too."""
        low, high = wilson_interval(self.accuracy(), self.n)
        return max(0.01, (high - low) / 2)

    def loss_first_and_last(self) -> tuple[float | None, float | None]:
        """The mean training loss over the first and the last fifth of the steps."""
        return self.loss_at(0.0, 0.2), self.loss_at(0.8, 1.0)

    def loss_at(self, start: float, stop: float) -> float | None:
        """Mean finite training loss over a share [start, stop) of the steps."""
        count = len(self.losses)
        part = [x for x in self.losses[int(start * count):max(int(start * count) + 1, int(stop * count))]
                if math.isfinite(x)]
        return sum(part) / len(part) if part else None


def _lower_lr(config: dict, factor: float) -> dict:
    """`factor` times lower; the family's usual learning rate when that is still above its range."""
    family = family_of(config.get("model", ""))
    lower = config.get("lr", family.lr) / factor
    return {"lr": family.lr if lower > family.lr_range[1] else float(f"{lower:.1g}")}


def _diverged(c: _Curves, config: dict) -> Advice | None:
    if c.nan:
        return Advice("diverged", "The training loss became NaN (not a number): the learning rate is too high "
                                  "for this model.", _lower_lr(config, 10))
    first, end = c.loss_first_and_last()
    if first is not None and end is not None and len(c.losses) >= 10 and end > first * 1.05:
        return Advice("diverged", f"The training loss rose ({first:.3g} at the start, {end:.3g} at the end) "
                                  "instead of falling: the learning rate is too high.", _lower_lr(config, 10))
    if c.best is not None and c.zero_shot is not None:
        best, final = c.best[2]["accuracy"], c.last[2]["accuracy"]
        if best <= c.zero_shot + c.noise() / 2 and final < c.zero_shot - c.noise():
            return Advice("diverged", f"Validation accuracy fell from {c.zero_shot:.1%} (zero-shot) to {final:.1%} "
                                      "and never rose above zero-shot: the learning rate is too high.",
                          _lower_lr(config, 10))
    return None


def _barely_moved(c: _Curves, config: dict) -> Advice | None:
    if c.best is None or c.zero_shot is None:
        return None
    best = c.best[2]["accuracy"]
    if best - c.zero_shot > c.noise():
        return None
    first, end = c.loss_first_and_last()
    if first is not None and end is not None and len(c.losses) >= 20 and end < first * (1 - LOSS_FELL):
        return Advice("barely_moved", f"Validation accuracy barely moved from zero-shot ({c.zero_shot:.1%} → best "
                                      f"{best:.1%}) although the training loss fell ({first:.3g} → {end:.3g}): the "
                                      "model learned your training images, but that did not carry over to the "
                                      "validation images.",
                      hint="More labelled images, as varied as the ones you will classify, or a larger model "
                           "would help more than other settings.")
    finding = (f"Validation accuracy barely moved from zero-shot ({c.zero_shot:.1%} → best {best:.1%}) and the "
               "training loss hardly fell: the model hardly learned from your images.")
    lr, high = config.get("lr", 1e-5), family_of(config.get("model", "")).lr_range[1]
    if lr * 3 <= high:
        return Advice("barely_moved", finding, {"lr": float(f"{lr * 3:.1g}")})
    return Advice("barely_moved", finding, {"epochs": int(config.get("epochs", 10)) * 2})


def _still_rising(c: _Curves, config: dict) -> Advice | None:
    if len(c.trained) < 2 or c.best is not c.last:
        return None
    before, last = c.trained[-2][2]["accuracy"], c.last[2]["accuracy"]
    if last - before < c.noise() / 2:
        return None
    epochs = int(config.get("epochs", 10))
    more = min(epochs * 2, family_of(config.get("model", "")).epochs_range[1])
    if more <= epochs:
        return None
    return Advice("still_rising", f"Validation accuracy was still rising at the end ({before:.1%} → {last:.1%} "
                                  "over the last evaluations): more epochs would likely help.", {"epochs": more})


def _overfitting(c: _Curves, config: dict) -> Advice | None:
    if c.best is None or c.best is c.last:
        return None
    best, final = c.best[2]["accuracy"], c.last[2]["accuracy"]
    share_at_best = c.best[0] / max(1, c.last[0])
    loss_at_best, loss_end = c.loss_at(max(0.0, share_at_best - 0.1), share_at_best), c.loss_at(0.9, 1.0)
    if final > best - c.noise() or loss_at_best is None or loss_end is None or loss_end >= loss_at_best:
        return None
    epochs = max(1, math.ceil(c.best[1]))
    if epochs >= int(config.get("epochs", 10)):
        return None
    return Advice("overfitting", f"Validation accuracy peaked at {best:.1%} in epoch {c.best[1]:.3g}, then fell to "
                                f"{final:.1%} while the training loss kept falling: the model learned these "
                                "images by heart. The best checkpoint is kept; a shorter run gets there sooner.",
                  {"epochs": epochs})


def wilson_interval(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion `p` measured on `n` items ((0, 1) for none)."""
    if n <= 0:
        return 0.0, 1.0
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _few_validation_images(c: _Curves, config: dict) -> Advice | None:
    if not c.n or c.n >= FEW_VALIDATION_IMAGES:
        return None
    low, high = wilson_interval(c.accuracy(), c.n)
    finding = (f"The validation accuracy rests on only {c.n} image{'s' if c.n != 1 else ''} (fewer than "
               f"{FEW_VALIDATION_IMAGES}): {c.accuracy():.0%} measured there means anywhere from {low:.0%} to "
               f"{high:.0%} (95% interval), so differences smaller than that between runs or blends mean little.")
    if config.get("val_dir"):
        return Advice("few_validation_images", finding, hint="Add images to the validation folder.")
    share = config.get("val_fraction", TrainConfig.val_fraction)
    if share < 0.3:
        return Advice("few_validation_images", finding, {"val_fraction": 0.3},
                      hint="Add a validation folder, or hold out a larger share of the training images.")
    return Advice("few_validation_images", finding, hint="Add a validation folder, or more images.")


def _weak_classes(c: _Curves) -> list[Advice]:
    per_class = (c.best[2] if c.best else {}).get("per_class") or {}
    if len(per_class) < 3:
        return []
    found = []
    for name, accuracy in sorted(per_class.items(), key=lambda item: item[1]):
        others = [a for n, a in per_class.items() if n != name]
        mean = sum(others) / len(others)
        if mean - accuracy < WEAK_CLASS_GAP or len(found) == MAX_WEAK_CLASSES:
            break
        found.append(Advice("weak_class", f"Class “{name}” is at {accuracy:.0%} on validation while the others "
                                          f"average {mean:.0%}.",
                            hint=f"Check the name “{name}” and its captions (a clearer name often helps), "
                                 "and look at its images: mislabelled or unusual ones?"))
    return found
