"""The settings of a training run, with defaults from the FLYP paper's official code."""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, Callable

from core.errors import FlypError, SettingError

METHODS = {
    "flyp": "FLYP: contrastive loss between images and their class captions, both encoders trained",
    "ce": "FT baseline: image encoder + linear head (initialised from the zero-shot head), cross-entropy",
    "lp": "Linear probe: logistic regression on frozen image features, its L2 strength chosen on validation",
    "lp-ft": "LP-FT: the linear probe's head first, then the image encoder and head finetuned with cross-entropy",
    "l2sp": "L2-SP: cross-entropy finetuning, the image encoder pulled back towards its pretrained weights",
    "flyp-frozen-text": "Ablation: FLYP with the text encoder frozen (only the image side and temperature train)",
    "ce-both": "Ablation: cross-entropy against class captions (one random template per class), both encoders trained",
}
# Training augmentation presets, for kinds of images (core.data.transforms.augmented): each is
# FLYP's random crop plus what does not change a class in that kind of image.
AUGMENTATIONS = {
    "photos": "Natural photos: a random crop (FLYP's own augmentation)",
    "microscopy": "Microscopy and slides: the crop, plus flips and quarter turns (cells have no up or left)",
    "aerial": "Aerial and satellite images: the crop, plus a turn by any angle and flips (north need not be up)",
    "documents": "Documents and scans: the crop, plus a slight tilt as a scanner gives; never flipped",
    "grayscale": "Grayscale sources (X-ray, CT, infrared): the crop, in shades of grey",
}
# Methods that classify with a trained linear head on image features (stored as flyp_head.*).
HEAD_METHODS = ("ce", "lp", "lp-ft", "l2sp")
CONTRASTIVE_METHODS = ("flyp", "flyp-frozen-text")  # the FLYP loss, where --mask-same-class applies
PRECISIONS = ("auto", "fp32", "bf16")  # the towers' arithmetic (core.training.acceleration)
# What picks the kept ("best") checkpoint on ID validation: accuracy, or macro-F1 (the paper's choice
# for iWildCam, whose classes are very unequal in size).
SELECTION_METRICS = ("accuracy", "macro_f1")
# How a run is computed, not what it learns: `--resume` takes these from the new command line
# (a run may continue on a smaller GPU, or on the CPU). The command-line options have these names.
# The range of each numeric setting, checked wherever a value comes from (an option, a project
# file, a run's run.json): beyond these no run is meaningful, and some values would never end
# (10¹² epochs) or take the machine down (10⁹ image loading processes).
MAX_SEED = 2**32 - 1  # what numpy's and Python's seeding accept everywhere
MAX_BUDGET_MINUTES = 7 * 24 * 60  # the automatic mode's time: a week at most
BOUNDS: dict[str, tuple[float, float]] = {
    "epochs": (1, 10_000), "batch_size": (2, 65_536), "micro_batch_size": (1, 65_536), "lr": (1e-12, 10.0),
    "weight_decay": (0.0, 100.0), "warmup": (0, 10_000_000), "seed": (0, MAX_SEED),
    "l2sp_lambda": (0.0, 1e6), "evals_per_epoch": (1, 1_000), "patience": (1, 1_000_000), "workers": (0, 256),
    "checkpoint_every": (1, 10_000_000), "checkpoint_minutes": (0.01, 10_000.0), "test_fraction": (0.0, 0.999),
    "patch_dropout": (0.0, 0.95), "frozen_blocks": (0, 1_000), "train_size": (16, 4_096),
}
RUN_OPTIONS = ("device", "workers", "micro_batch_size", "checkpoint_every", "precision", "compile",
               "grad_checkpointing")


@dataclass(frozen=True)
class Setting:
    """How a TrainConfig field meets the user: its label in the app, its help text (the command
    line's `--help` and the app's tooltip), and whether the command line has an option for it."""

    label: str
    help: str
    cli: bool = True
    metavar: str | None = None
    choices: tuple[str, ...] | None = None


def setting(default: Any, label: str, help: str, *, cli: bool = True, metavar: str | None = None,
            choices: tuple[str, ...] | None = None, factory: Callable[[], Any] | None = None):
    """A TrainConfig field declared once: its default, and how the front ends show it."""
    meta = {"setting": Setting(label, help, cli, metavar, choices)}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class TrainConfig:
    """Everything that determines a run. An epoch is one pass over the training images, each
    paired with one caption drawn at random from the templates; the last partial batch is
    dropped, because a contrastive batch's size is its number of negatives.

    Each field is declared once, with its default, label and help: the command line's options
    (`core.cli.parser`) and the app's training settings are made from these declarations."""

    train_dir: str = setting("", "Training folder", "training folder: one sub-folder of images per class",
                             metavar="DIR")
    model: str = setting("demo", "Model", "the model to start from", cli=False)
    pretrained: str | None = setting(None, "Pretrained weights", "pretrained tag or weights file", cli=False)
    val_dir: str | None = setting(None, "Validation folder",
                                  "validation folder (default: a seeded split of «train_dir»)", metavar="DIR")
    ood_dirs: list[str] = setting(None, "Different conditions",
                                  "an extra labelled folder for 'different conditions' (repeatable)",
                                  metavar="DIR", factory=list)
    exclude: list[str] = setting(None, "Excluded images", "an image file left out of training and evaluation "
                                 "(repeatable; the app keeps the project's list)", metavar="FILE", factory=list)
    val_fraction: float = setting(0.2, "Held-out share", "share held out when there is no «val_dir» (0.2)", metavar="F")
    test_dir: str | None = setting(None, "Test folder", "a labelled test folder that no choice sees (learning rate, "
                                   "checkpoint, α): its accuracy is the figure to quote", metavar="DIR")
    test_fraction: float = setting(0.0, "Test share", "share of «train_dir» held out as the test set, stratified, the "
                                   "same images for every seed (default 0: none; 0.15 is a fair choice)", metavar="F")
    templates: list[str] = setting(None, "Caption templates", "caption templates", cli=False,
                                   factory=lambda: ["a photo of a {}."])
    class_names: dict[str, str] = setting(None, "Class names", "folder → display name", cli=False, factory=dict)
    method: str = setting("flyp", "Method", "flyp (default); baselines: ce (FT), lp (linear probe), lp-ft, l2sp; "
                          "ablations: flyp-frozen-text, ce-both (see the README)", metavar="METHOD")
    augment: str = setting("photos", "Kind of images",
                           "training augmentation for your kind of images: photos (the paper's crop), microscopy "
                           "(+ flips and quarter turns), aerial (+ turns by any angle and flips), documents (+ a slight tilt, "
                           "never flipped), grayscale (default: photos); evaluation is never augmented",
                           choices=tuple(AUGMENTATIONS))
    epochs: int = setting(10, "Epochs", "passes over the training images (default: the model family's, "
                          "README's table)", metavar="N")
    # The global batch, whatever the number of processes (torchrun).
    batch_size: int = setting(32, "Batch size", "images per step = contrastive negatives (default: the model "
                              "family's, smaller for a small training set)", metavar="B")
    # Images per forward pass (per process): the batch is encoded in micro-batches with a
    # feature cache (core.training.accumulate), same gradient in less memory. None: all at once.
    micro_batch_size: int | None = setting(
        None, "Images per pass", "encode each batch M images at a time (per process), with a feature cache: the same "
        "gradient as the whole batch in the memory of M images, for a second forward pass (about 1.4–1.5× the time)",
        metavar="M")
    lr: float = setting(1e-5, "Learning rate", "peak learning rate (default: the model family's; 1e-5, the "
                        "paper's, for CLIP ViTs)", metavar="LR")
    weight_decay: float = setting(0.1, "Weight decay", "AdamW weight decay (0.1)", metavar="WD")
    warmup: int | None = setting(None, "Warmup steps", "warmup steps (default: 10%% of all, at most 500)", metavar="STEPS")
    seed: int = setting(0, "Seed", "random seed: data order, augmentation, validation split (0)", metavar="S")
    device: str = setting("auto", "Device", "auto, cpu, cuda or mps (default: auto)", metavar="DEVICE")
    mask_same_class: bool = setting(False, "Mask same-class negatives",
                                    "ablation: leave other images of the same class out of the negatives")
    l2sp_lambda: float = setting(0.01, "L2-SP strength",
                                 "«method» l2sp: strength of λ·‖θ − θ_pretrained‖² on the image encoder (0.01)",
                                 metavar="LAMBDA")
    evals_per_epoch: int = setting(1, "Evaluations per epoch", "evaluations of the validation and other sets per epoch (1)", metavar="N")
    select_by: str = setting("accuracy", "Keep the best by", "what picks the kept checkpoint on the validation set: "
                             "accuracy, or macro_f1 (the mean of per-class F1, for classes of very unequal size; "
                             "default: accuracy)", choices=SELECTION_METRICS)
    patience: int | None = setting(
        None, "Stop early after", "stop when ID validation accuracy has not improved for N evaluations; the best "
        "checkpoint is kept either way (default: train every epoch)", metavar="N")
    workers: int | None = setting(None, "Image loading processes", "image loading processes (default: auto)", metavar="N")
    checkpoint_minutes: float = setting(10.0, "Save every (minutes)", "save the resumable state every N minutes",
                                        cli=False)
    checkpoint_every: int | None = setting(
        None, "Save every (steps)", "save the resumable state every STEPS steps too (default: after each evaluation "
        "and every 10 minutes)", metavar="STEPS")
    cache_images: bool = setting(True, "Decode images once", "decode training images once (core.data.image_cache)",
                                 cli=False)
    precision: str = setting("auto", "Arithmetic", "the towers' arithmetic: auto (bf16 autocast on CUDA GPUs that "
                             "support it, else fp32), fp32, bf16 (default: auto)", choices=PRECISIONS)
    compile: bool = setting(False, "Compile the model",
                            "torch.compile the towers: slow first steps, faster long runs (needs a C++ compiler)")
    grad_checkpointing: bool = setting(False, "Gradient checkpointing", "recompute transformer activations in the "
                                       "backward pass: less memory, about a third more compute")
    # Faster training on a CPU (core.training.levers): the same FLYP loss, less of the towers computed.
    patch_dropout: float = setting(0.0, "Patch dropout",
                                   "leave this share of the image patches out of each training step (FLIP; ViT "
                                   "image towers; evaluation sees every patch); 0.5 halves the image tower's work "
                                   "(default: 0, off)", metavar="P")
    frozen_blocks: int = setting(0, "Frozen lower blocks", "freeze the lowest N transformer blocks of both towers "
                                 "(and their embeddings): no gradient, weights unchanged; the text tower's frozen "
                                 "part is computed once per caption (default: 0, off)", metavar="N")
    train_size: int | None = setting(None, "Training image size",
                                     "train on images of PX pixels, a multiple of the patch size below the model's "
                                     "own (evaluation stays at the model's size; ViT image towers; default: the "
                                     "model's)", metavar="PX")

    def __post_init__(self) -> None:
        self.ood_dirs = list(self.ood_dirs)
        self.exclude = list(self.exclude)
        self.templates = list(self.templates)
        checks = [
            (self.method in METHODS, "method", f"one of {', '.join(METHODS)}"),
            (self.augment in AUGMENTATIONS, "augment", f"one of {', '.join(AUGMENTATIONS)}"),
            (0 < self.val_fraction < 1, "val_fraction", "between 0 and 1"),
            (0 <= self.test_fraction < 1 and (self.val_dir or self.test_fraction + self.val_fraction < 1),
             "test_fraction", "between 0 and 1, with «val_fraction» less than the whole"),
            (not (self.test_dir and self.test_fraction), "test_fraction", "0 when «test_dir» is given (one test set)"),
            (self.select_by in SELECTION_METRICS, "select_by", "accuracy or macro_f1"),
            (not (self.mask_same_class and self.method not in CONTRASTIVE_METHODS), "mask_same_class",
             "used with «method» flyp only (or flyp-frozen-text)"),
            (self.precision in PRECISIONS, "precision", "auto, fp32 or bf16"),
            (math.isfinite(self.patch_dropout) and 0 <= self.patch_dropout < 1, "patch_dropout",
             "at least 0 and below 1 (a share of the patches)"),
            (self.frozen_blocks >= 0, "frozen_blocks", "zero or more blocks"),
            (self.train_size is None or self.train_size >= 16, "train_size",
             "at least 16 pixels (or unset: the model's own size)"),
            (valid_device(self.device), "device", "auto, cpu, cuda, cuda:N or mps"),
        ]
        checks += [(in_bounds(getattr(self, name), name), name, bounds_words(name)) for name in BOUNDS
                   if getattr(self, name) is not None]
        for ok, name, expected in checks:
            if not ok:
                raise SettingError(name, expected, getattr(self, name))

    def warmup_steps(self, total_steps: int) -> int:
        return self.warmup if self.warmup is not None else min(500, total_steps // 10)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def in_bounds(value: Any, name: str) -> bool:
    """Whether `value` is a number (not NaN) within setting `name`'s BOUNDS."""
    low, high = BOUNDS[name]
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


def bounds_words(name: str) -> str:
    """A setting's range in words, for its messages: "a whole number from 1 to 10000"."""
    low, high = BOUNDS[name]
    whole = isinstance(low, int) and isinstance(high, int)
    fmt = "d" if whole else "g"
    why = " (a contrastive batch needs negatives)" if name == "batch_size" else ""
    return f"{'a whole number' if whole else 'a number'} from {low:{fmt}} to {high:{fmt}}{why}"


def valid_device(text: Any) -> bool:
    """auto, cpu, mps, cuda or cuda:N: what `select_device` understands."""
    import re

    return isinstance(text, str) and re.fullmatch(r"auto|cpu|mps|cuda(:[0-9]{1,3})?", text) is not None


def lr_at(step: int, base_lr: float, warmup: int, total: int) -> float:
    """Linear warmup to `base_lr`, then cosine decay to zero (per step, as the official code)."""
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * base_lr * (1 + math.cos(math.pi * min(1.0, progress)))


def settings() -> dict[str, Setting]:
    """{field name: Setting} of every TrainConfig field, in declaration order."""
    return {f.name: f.metadata["setting"] for f in fields(TrainConfig)}


def defaults() -> dict[str, Any]:
    """{field name: default} of every TrainConfig field (lists and dicts freshly made)."""
    return {f.name: f.default if f.default is not MISSING else f.default_factory() for f in fields(TrainConfig)}


def check_settings(values: dict, where: str) -> dict:
    """Settings read from a file (a project's), checked: each of the right type and within its
    bounds, else one FlypError naming `where` and the setting. Names this version does not know
    (written by a newer one) are left out."""
    if not isinstance(values, dict):
        raise FlypError(f"{where}: the settings should be a mapping of names to values")
    types = {f.name: str(f.type) for f in fields(TrainConfig)}
    values = {name: value for name, value in values.items() if name in types}
    for name, value in values.items():
        if not has_type(value, types[name]):
            raise FlypError(f"{where}: setting {name!r} should be {type_words(types[name])}, not {value!r}")
    try:
        TrainConfig(**values)
    except SettingError as exc:
        raise FlypError(f"{where}: setting {exc.setting!r} must be {exc.expected} (got {exc.found!r})") from None
    return values


def has_type(value: Any, kind: str) -> bool:
    """Whether a value read from JSON is of a dataclass field's annotated type (`int | None`,
    `list[str]`…): the check of settings and of project files."""
    if value is None:
        return kind.endswith("| None")
    kind = kind.removesuffix(" | None")
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # not NaN
    if kind == "str":
        return isinstance(value, str)
    if kind == "list[str]":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "dict[str, str]":
        return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    if kind == "dict":
        return isinstance(value, dict)
    return True


def type_words(kind: str) -> str:
    """A field's type in words, for messages: `list[str]` → "a list of texts"."""
    words = {"bool": "true or false", "int": "a whole number", "float": "a number", "str": "text",
             "list[str]": "a list of texts", "dict[str, str]": "a mapping of texts", "dict": "a mapping"}
    base = words.get(kind.removesuffix(" | None"), kind)
    return f"{base} or null" if kind.endswith("| None") else base
