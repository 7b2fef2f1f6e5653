"""Feeding images to the model: seeded training batches and cached evaluation sets."""

from __future__ import annotations

import os
import random
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import torch

from core.data.folders import Sample
from core.data.images import load_rgb
from core.progress import check_cancel, no_cancel
from core.data.transforms import eval_image, sample_rng, train_image


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    order = list(range(n))
    random.Random(f"order/{seed}/{epoch}").shuffle(order)
    return order


class TrainImages(torch.utils.data.Dataset):
    """Item `(epoch, i)` → (augmented uint8 image, label, template index), all seeded per item.

    Keying the randomness by (seed, epoch, index) makes a batch the same whichever worker
    builds it, and makes resume exact without saving any RNG state.
    """

    def __init__(self, samples: Sequence[Sample], size: int, n_templates: int, seed: int,
                 interpolation: str = "bicubic", decoded=None, augment: str = "photos"):
        self.samples, self.size, self.n_templates = list(samples), size, n_templates
        self.seed, self.interpolation, self.augment = seed, interpolation, augment
        self.decoded = decoded  # a core.data.image_cache.DecodedImages, or None: decode every time

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, key: tuple[int, int]):
        epoch, index = key
        sample = self.samples[index]
        rng = sample_rng(self.seed, epoch, index)
        source = self.decoded.image(index) if self.decoded is not None else load_rgb(sample.path)
        image = train_image(source, self.size, rng, self.interpolation, self.augment)
        return image, sample.label, rng.randrange(self.n_templates)


class EpochBatches(torch.utils.data.Sampler):
    """Batches of `(epoch, index)` keys for one epoch, from batch `start` on (for resume)."""

    def __init__(self, n: int, batch_size: int, seed: int):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.epoch, self.start = 0, 0

    def steps_per_epoch(self) -> int:
        return max(1, self.n // self.batch_size)

    def __iter__(self):
        order = epoch_order(self.n, self.seed, self.epoch)
        size = min(self.batch_size, self.n)
        for b in range(self.start, self.steps_per_epoch()):
            yield [(self.epoch, i) for i in order[b * size:(b + 1) * size]]

    def __len__(self) -> int:
        return self.steps_per_epoch() - self.start


def train_loader(dataset: TrainImages, batches: EpochBatches, workers: int | None,
                 pin_memory: bool) -> torch.utils.data.DataLoader:
    if workers is None:
        workers = min(4, max(0, (os.cpu_count() or 1) - 1))
    workers = min(workers, os.cpu_count() or 1)  # more processes than cores only compete for them
    return torch.utils.data.DataLoader(
        dataset, batch_sampler=batches, num_workers=workers, pin_memory=pin_memory,
        persistent_workers=workers > 0, prefetch_factor=4 if workers > 0 else None,
        worker_init_fn=partial(_worker_follows_its_parent, os.getpid()) if workers > 0 else None)


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _worker_follows_its_parent(parent: int, _worker_id: int) -> None:
    """A loader worker leaves stopping to the training process. Forked, it inherits the command
    line's Ctrl-C handler, which would print "stopping after this step" once per worker and raise
    in each at the second Ctrl-C: it ignores Ctrl-C instead (the training process shuts it down)
    and SIGTERM ends it plainly. On Linux it is also killed with its parent: after a `kill -9`
    of the training, no orphaned worker lingers or prints a traceback when its queue breaks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass  # no prctl: torch's own watchdog still ends the worker, later
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(0)


class EvalImages:
    """An evaluation set decoded once into uint8 tensors (the eval transform is deterministic)."""

    def __init__(self, samples: Sequence[Sample], size: int, interpolation: str = "bicubic",
                 cancel: Callable[[], bool] = no_cancel):
        self.samples = list(samples)
        self.labels = [s.label for s in self.samples]

        def decode(sample: Sample) -> torch.Tensor:
            check_cancel(cancel)  # stops the remaining decodes soon after a cancel
            return eval_image(load_rgb(sample.path), size, interpolation)
        with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:
            images = list(pool.map(decode, self.samples))
        self.pixels = torch.stack(images) if images else torch.zeros(0, 3, size, size, dtype=torch.uint8)
        # Image features of weights that are known by name (`Classifier.features_of`): the model as
        # loaded (`LoadedModel.weights_key`: every run from it at step 0, every α = 0 blend) and a run's
        # saved checkpoint (`weights_file_key`: the α = 1 blend of the best checkpoint a training has
        # just evaluated). Read-only tensors: whoever gets one must not change it.
        self.known_features: dict[tuple, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def keep_features(self, key: tuple, features: torch.Tensor) -> None:
        """Keep `features` under `key`; a file's key replaces the one of that file's earlier contents."""
        if key and key[0] == FILE_KEY:
            for old in [k for k in self.known_features if k[:2] == key[:2]]:
                del self.known_features[old]
        self.known_features[key] = features


FILE_KEY = "weights file"


def weights_file_key(path: str | Path) -> tuple:
    """Names the weights in the file `path` as it is now (its path, size and modification time):
    the features of an evaluation set under one such key are those of the weights in that file."""
    stat = Path(path).stat()
    return (FILE_KEY, str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
