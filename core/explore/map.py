"""A 2-D map of image features (PCA to 50 dimensions, then t-SNE), cached on disk keyed on the
features themselves, so the same images under the same model are laid out once."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from core.atomic import atomic_path
from core.progress import Progress, check_cancel, no_cancel, no_progress

PCA_DIMS = 50  # t-SNE's usual preprocessing: removes noise dimensions, makes it faster


def features_key(features: torch.Tensor, seed: int = 0) -> str:
    """A digest of the features (and seed): the map's cache key."""
    data = features.detach().to(torch.float32).contiguous().cpu().numpy()
    digest = hashlib.sha256(str((data.shape, seed)).encode())
    digest.update(data.tobytes())
    return digest.hexdigest()[:32]


def feature_map(features: torch.Tensor, *, cache_dir: str | os.PathLike | None = None, seed: int = 0,
                progress: Progress = no_progress, cancel: Callable[[], bool] = no_cancel) -> np.ndarray:
    """Return an (N, 2) layout of the N feature rows; near points have similar features.

    With `cache_dir`, a layout computed before for the same features is read back instead.
    """
    path = Path(cache_dir) / f"map-{features_key(features, seed)}.npy" if cache_dir else None
    if path is not None and path.is_file():
        return np.load(path, allow_pickle=False)
    check_cancel(cancel)
    progress(0, 3)
    xy = _project(features.detach().to(torch.float32).cpu().numpy(), seed, progress, cancel)
    if path is not None:
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as out:
                np.save(out, xy, allow_pickle=False)
    progress(3, 3)
    return xy


def _project(x: np.ndarray, seed: int, progress: Progress, cancel: Callable[[], bool]) -> np.ndarray:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    n = len(x)
    if n < 3:
        return np.zeros((n, 2), dtype=np.float32)
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)  # cosine geometry, as CLIP
    dims = min(PCA_DIMS, n, x.shape[1])
    if dims < x.shape[1]:
        x = PCA(n_components=dims, random_state=seed).fit_transform(x)
    progress(1, 3)
    check_cancel(cancel)
    perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))
    xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
    progress(2, 3)
    return xy.astype(np.float32)


@dataclass
class FilesMap:
    """The map of a list of files: `kept` indexes the usable ones (`reasons` says why the others
    are not on it), `xy` is their (len(kept), 2) layout, `known[i]` whether kept image i is like
    the training images by the novelty score (None without one)."""

    kept: list[int]
    xy: np.ndarray
    known: list[bool] | None
    reasons: dict[int, str]


def map_files(paths: Sequence[str | os.PathLike], encoder, *, cache=None, novelty=None,
              cache_dir: str | os.PathLike | None = None, progress: Progress = no_progress,
              cancel: Callable[[], bool] = no_cancel) -> FilesMap:
    """Lay out `paths` by their image features through `encoder` (a predictor: its features come
    from and go to the feature cache `cache`), and mark each against `novelty`
    (`core.trust.novelty.NoveltyModel`, scored with the predictor's head) when given.

    Progress runs over the files first, then the three steps of the layout.
    """
    from core.model.feature_cache import all_features

    total = len(paths) + 3
    items = all_features(list(paths), encoder, cache=cache, progress=lambda done, _: progress(done, total),
                         cancel=cancel)
    kept = [i for i, item in enumerate(items) if item.features is not None]
    reasons = {i: item.reason for i, item in enumerate(items) if item.features is None}
    if not kept:
        return FilesMap([], np.zeros((0, 2), dtype=np.float32), None, reasons)
    features = torch.stack([items[i].features for i in kept]).float()
    known = None
    if novelty is not None:
        known = novelty.known(novelty.score(features, encoder.head(features).float())).tolist()
    check_cancel(cancel)
    xy = feature_map(features, cache_dir=cache_dir, progress=lambda done, _: progress(len(paths) + done, total),
                     cancel=cancel)
    return FilesMap(kept, xy, known, reasons)


def map_cache_dir() -> Path:
    """Where maps are kept: beside the image features' cache (`core.model.feature_cache.cache_root`)."""
    from core.model.feature_cache import cache_root

    return cache_root().parent / "maps"
