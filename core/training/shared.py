"""What the runs of one automatic search (or of `flyp demo`) share, prepared once for all of them.

Every trial of `--auto` and its final run train on the same folders with the same model,
captions and evaluation images; only the learning rate, the number of epochs and the patience
differ. So the scan of the folders, the decoded evaluation images and the zero-shot evaluation
at step 0 are the same for all: on the demo they were a quarter of a one-epoch trial
(benchmarks/README.md, "The fixed cost of a short trial"). The first run computes them; the
others reuse them when their settings agree on everything those depend on. The methods `flyp
demo` compares share the scan and the images (and, kept with the images, the pretrained model's
features of them); each method has its own zero-shot evaluation, as its head at step 0 is its own.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

from core.training.config import TrainConfig

# The settings the scan and the evaluation images depend on; the zero-shot evaluation also on the method.
DEPENDS_ON = ("model", "pretrained", "seed", "train_dir", "val_dir", "ood_dirs", "val_fraction", "exclude",
              "class_names", "templates", "device", "precision")


@dataclass
class Shared:
    """Filled by the first run that prepares with it (`core.training.loop.prepare`), read by the next."""

    key: tuple | None = None
    data: object = None        # core.data.folders.Datasets
    eval_sets: dict | None = None  # name → core.data.loader.EvalImages
    zero_shot: dict = field(default_factory=dict)  # method → its step-0 evaluation record

    @staticmethod
    def key_of(config: TrainConfig) -> tuple:
        return tuple(repr(getattr(config, name)) for name in DEPENDS_ON)

    def holds(self, config: TrainConfig) -> bool:
        """Whether what is kept was prepared for settings like `config`'s."""
        return self.key is not None and self.key == self.key_of(config)

    def keep(self, config: TrainConfig, data, eval_sets: dict) -> None:
        if not self.holds(config):
            self.key, self.data, self.eval_sets, self.zero_shot = self.key_of(config), data, eval_sets, {}

    def zero_shot_record(self, method: str, evaluate: Callable[[], dict]) -> dict:
        """The step-0 evaluation of `method`: a copy of the one kept, or `evaluate()`'s, kept for the
        next run (`keep` has checked the other settings by then)."""
        if method not in self.zero_shot:
            self.zero_shot[method] = evaluate()
        return copy.deepcopy(self.zero_shot[method])
