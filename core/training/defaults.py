"""Settings that work, per model family: the one table the command line, the app and `--auto` read.

Each family (the embedded demo model, OpenAI's ViT-B/32 and ViT-B/16, the CLIP ResNets, and a
fallback for every other model) has the learning rate, batch size, epochs and warmup a run
starts from, the range outside which a setting is flagged before a run starts (a warning, never
a refusal), and a rough training speed per device from which the automatic mode's default time
budget is planned. README's "Settings per model family" shows this table; keep them together.

The demo row belongs to the embedded demo model (`resources/models/demo`): change its numbers
when that model changes.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Family:
    """What works for one family of models (the FLYP method; the baselines with a head share it)."""

    key: str
    label: str                          # in words, as the app and the CLI show it
    pattern: str                        # regular expression on the model name (case-insensitive)
    lr: float
    batch_size: int
    epochs: int
    warmup: int | None                  # steps; None: 10% of all steps, at most 500
    lr_range: tuple[float, float]       # outside it a run is flagged before it starts
    batch_range: tuple[int, int]
    epochs_range: tuple[int, int]
    images_per_s: dict[str, float] = field(default_factory=dict)  # rough training speed by device type

    def settings(self) -> dict:
        """The TrainConfig fields this family sets."""
        return {name: getattr(self, name) for name in FAMILY_SETTINGS}


FAMILIES: tuple[Family, ...] = (
    # The embedded demo model: a tiny CLIP, far from its optimum at the paper's 1e-5.
    Family("demo", "the built-in demo model", r"demo", lr=1e-4, batch_size=64, epochs=4, warmup=None,
           lr_range=(1e-6, 3e-3), batch_range=(8, 1024), epochs_range=(1, 200),
           images_per_s={"cpu": 60, "cuda": 3000, "mps": 600}),
    # OpenAI's ViTs: the FLYP paper's recipe (lr 1e-5, weight decay 0.1, batch 256 on WILDS, 10–20 epochs).
    Family("vit-b-32", "ViT-B/32 (e.g. OpenAI's)", r"vit-b-32", lr=1e-5, batch_size=256, epochs=10, warmup=None,
           lr_range=(1e-7, 2e-4), batch_range=(8, 65536), epochs_range=(1, 100),
           images_per_s={"cpu": 5, "cuda": 600, "mps": 40}),
    Family("vit-b-16", "ViT-B/16 (e.g. OpenAI's)", r"vit-b-16", lr=1e-5, batch_size=256, epochs=10, warmup=None,
           lr_range=(1e-7, 2e-4), batch_range=(8, 65536), epochs_range=(1, 100),
           images_per_s={"cpu": 1.5, "cuda": 250, "mps": 12}),
    # The CLIP ResNets (RN50, RN101, RN50x4, …): batch-norm towers, the same small learning rate.
    Family("resnet", "a CLIP ResNet (RN50, RN101, …)", r"^rn\d", lr=1e-5, batch_size=128, epochs=10, warmup=None,
           lr_range=(1e-7, 2e-4), batch_range=(8, 65536), epochs_range=(1, 100),
           images_per_s={"cpu": 4, "cuda": 500, "mps": 30}),
)
# Any other model: the paper's settings with a batch that fits a small GPU.
OTHER = Family("other", "this model", r"", lr=1e-5, batch_size=32, epochs=10, warmup=None,
               lr_range=(1e-7, 1e-3), batch_range=(4, 65536), epochs_range=(1, 100),
               images_per_s={"cpu": 2, "cuda": 200, "mps": 15})

FAMILY_SETTINGS = ("lr", "batch_size", "epochs", "warmup")  # the TrainConfig fields a family sets
MIN_STEPS_PER_EPOCH = 8   # a batch is capped so that an epoch of a small training set still has these steps
AUTO_PASSES = 20          # image passes the automatic mode's default budget pays for (trials and final run)
AUTO_MINUTES = (2.0, 8 * 60.0)  # its default budget is clamped to this range


def family_of(model: str) -> Family:
    """The family a model name belongs to (`hf-hub:`/`local-dir:` names by their last part)."""
    name = re.split(r"[:/\\]", model.strip())[-1].lower()
    return next((f for f in FAMILIES if re.search(f.pattern, name)), OTHER)


def fit_batch(batch_size: int, train_images: int | None) -> int:
    """`batch_size`, capped (to a power of two) so that each epoch of `train_images` has at least
    MIN_STEPS_PER_EPOCH steps; at least 2, a contrastive batch's smallest."""
    if not train_images:
        return batch_size
    cap = 2 ** int(math.log2(max(2, train_images // MIN_STEPS_PER_EPOCH)))
    return max(2, min(batch_size, cap))


def default_settings(model: str, train_images: int | None = None) -> dict:
    """The family's lr, batch (capped for small training sets), epochs and warmup for `model`."""
    settings = family_of(model).settings()
    settings["batch_size"] = fit_batch(settings["batch_size"], train_images)
    return settings


def default_budget_s(model: str, device_type: str, train_images: int) -> float:
    """The automatic mode's default time budget in seconds: AUTO_PASSES passes over the training
    images at the family's rough speed on this device, within AUTO_MINUTES."""
    family = family_of(model)
    speed = family.images_per_s.get(device_type) or family.images_per_s.get("cpu", 1.0)
    low, high = AUTO_MINUTES
    return min(high, max(low, AUTO_PASSES * train_images / speed / 60)) * 60


@dataclass(frozen=True)
class OutOfBounds:
    """A setting far outside what works for the model: which, its value, the family's range and default."""

    setting: str      # a TrainConfig field: lr, batch_size or epochs
    value: float
    low: float
    high: float
    typical: float
    family: str       # the family's label

    def text(self) -> str:
        """The warning, with the setting as «name» for each front end to word."""
        return (f"«{self.setting}» {self.value:g} is far outside what works for {self.family} "
                f"({self.low:g} to {self.high:g}; usually {self.typical:g})")


def check_bounds(config, train_images: int | None = None) -> list[OutOfBounds]:
    """The settings of `config` (a TrainConfig) far outside its model family's ranges.

    Nothing is checked for a model with random weights (`pretrained none`: training from
    scratch, not finetuning) or for the linear probe (no steps). A batch larger than the
    training set is flagged too: the last partial batch is dropped, so no step would run. The
    batch chosen automatically for a small training set (`fit_batch`) is within range.
    """
    if (config.pretrained or "").lower() == "none" or config.method == "lp":
        return []
    family = family_of(config.model)
    found = []
    for setting, (low, high), typical in (("lr", family.lr_range, family.lr),
                                          ("batch_size", family.batch_range, family.batch_size),
                                          ("epochs", family.epochs_range, family.epochs)):
        if setting == "batch_size" and train_images:  # the automatic choice for a small set is never flagged
            typical = fit_batch(typical, train_images)
            low, high = min(low, typical), min(high, train_images)
        value = getattr(config, setting)
        if not low <= value <= high:
            found.append(OutOfBounds(setting, value, low, high, typical, family.label))
    return found

