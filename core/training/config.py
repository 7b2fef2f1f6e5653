"""The settings of a training run, with defaults from the FLYP paper's official code."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from core.errors import FlypError

METHODS = {
    "flyp": "FLYP: contrastive loss between images and their class captions, both encoders trained",
    "ce": "FT baseline: image encoder + linear head (initialised from the zero-shot head), cross-entropy",
    "lp": "Linear probe: logistic regression on frozen image features, its L2 strength chosen on validation",
    "lp-ft": "LP-FT: the linear probe's head first, then the image encoder and head finetuned with cross-entropy",
    "l2sp": "L2-SP: cross-entropy finetuning, the image encoder pulled back towards its pretrained weights",
    "flyp-frozen-text": "Ablation: FLYP with the text encoder frozen (only the image side and temperature train)",
    "ce-both": "Ablation: cross-entropy against class captions (one random template per class), both encoders trained",
}
# Methods that classify with a trained linear head on image features (stored as flyp_head.*).
HEAD_METHODS = ("ce", "lp", "lp-ft", "l2sp")
CONTRASTIVE_METHODS = ("flyp", "flyp-frozen-text")  # the FLYP loss, where --mask-same-class applies
PRECISIONS = ("auto", "fp32", "bf16")  # the towers' arithmetic (core.training.acceleration)
# How a run is computed, not what it learns: `--resume` takes these from the new command line
# (a run may continue on a smaller GPU, or on the CPU). The command-line options have these names.
RUN_OPTIONS = ("device", "workers", "micro_batch_size", "checkpoint_every", "precision", "compile",
               "grad_checkpointing")


@dataclass
class TrainConfig:
    """Everything that determines a run. An epoch is one pass over the training images, each
    paired with one caption drawn at random from the templates; the last partial batch is
    dropped, because a contrastive batch's size is its number of negatives."""

    train_dir: str
    model: str = "demo"
    pretrained: str | None = None
    val_dir: str | None = None
    ood_dirs: list[str] = field(default_factory=list)
    val_fraction: float = 0.2
    templates: list[str] = field(default_factory=lambda: ["a photo of a {}."])
    class_names: dict[str, str] = field(default_factory=dict)  # folder → display name
    method: str = "flyp"
    epochs: int = 10
    batch_size: int = 32  # the global batch, whatever the number of processes (torchrun)
    # Images per forward pass (per process): the batch is encoded in micro-batches with a
    # feature cache (core.training.accumulate), same gradient in less memory. None: all at once.
    micro_batch_size: int | None = None
    lr: float = 1e-5
    weight_decay: float = 0.1
    warmup: int | None = None  # steps; None: 10% of all steps, at most 500 (the paper's value)
    seed: int = 0
    device: str = "auto"
    mask_same_class: bool = False
    l2sp_lambda: float = 0.01  # --method l2sp: λ of λ·‖θ − θ_pretrained‖² over the image encoder
    evals_per_epoch: int = 1
    workers: int | None = None  # DataLoader workers; None: chosen from the CPU count
    checkpoint_minutes: float = 10.0
    checkpoint_every: int | None = None  # also save the resumable state every N steps (None: by time only)
    cache_images: bool = True  # decode training images once (core.data.image_cache)
    precision: str = "auto"  # towers' forward passes: auto (bf16 on capable CUDA GPUs, else fp32), fp32, bf16
    compile: bool = False  # torch.compile the towers (core.training.acceleration)
    grad_checkpointing: bool = False  # recompute transformer activations in the backward pass: less memory

    def __post_init__(self) -> None:
        self.ood_dirs = list(self.ood_dirs)
        self.templates = list(self.templates)
        checks = [
            (self.method in METHODS, "method", f"one of {', '.join(METHODS)}"),
            (self.epochs >= 1, "epochs", "at least 1"),
            (self.batch_size >= 2, "batch-size", "at least 2 (a contrastive batch needs negatives)"),
            (self.micro_batch_size is None or self.micro_batch_size >= 1, "micro-batch-size",
             "at least 1 image (or unset: the whole batch in one pass)"),
            (math.isfinite(self.lr) and self.lr > 0, "lr", "a positive number"),
            (math.isfinite(self.weight_decay) and self.weight_decay >= 0, "weight-decay", "zero or more"),
            (self.warmup is None or self.warmup >= 0, "warmup", "zero or more steps"),
            (0 < self.val_fraction < 1, "val-fraction", "between 0 and 1"),
            (self.evals_per_epoch >= 1, "evals-per-epoch", "at least 1"),
            (self.workers is None or self.workers >= 0, "workers", "zero or more"),
            (self.checkpoint_every is None or self.checkpoint_every >= 1, "checkpoint-every",
             "at least 1 step (or unset: every 10 minutes)"),
            (not (self.mask_same_class and self.method not in CONTRASTIVE_METHODS), "mask-same-class",
             "used with --method flyp only (or flyp-frozen-text)"),
            (math.isfinite(self.l2sp_lambda) and self.l2sp_lambda >= 0, "l2sp-lambda", "zero or more"),
            (self.precision in PRECISIONS, "precision", "auto, fp32 or bf16"),
        ]
        for ok, option, expected in checks:
            if not ok:
                raise FlypError(f"--{option}: must be {expected} (got {getattr(self, option.replace('-', '_'), '')!r})")

    def warmup_steps(self, total_steps: int) -> int:
        return self.warmup if self.warmup is not None else min(500, total_steps // 10)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def lr_at(step: int, base_lr: float, warmup: int, total: int) -> float:
    """Linear warmup to `base_lr`, then cosine decay to zero (per step, as the official code)."""
    if step < warmup:
        return base_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * base_lr * (1 + math.cos(math.pi * min(1.0, progress)))
