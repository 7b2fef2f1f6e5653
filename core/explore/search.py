"""Search a project's images by words or by an example image, most similar first.

The images' features are the ones the Label page and the label check already cached
(`core.model.feature_cache`, under the model's key); a phrase goes through the model's text
tower as a class name goes into the zero-shot head (`core.model.evaluate.zero_shot_head`: each
caption normalised, their mean normalised again), so "star" is searched as the classifier
would caption it ("a photo of a star."). A phrase that already reads as a caption — it starts
with an article, or holds a `{}` — is taken as written ("a blurry photo", "a sketch of a {}"
with `{}` left empty).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from core.errors import FlypError
from core.progress import Progress, check_cancel, no_cancel, no_progress

ARTICLES = ("a", "an", "the")


@dataclass
class Match:
    path: str
    similarity: float  # cosine similarity, -1 to 1

    def to_json(self) -> dict:
        return {"path": self.path, "similarity": round(self.similarity, 4)}


def phrase_features(predictor, phrase: str) -> torch.Tensor:
    """The D-dimensional normalised text embedding a search for `phrase` compares images with."""
    phrase = " ".join(phrase.split())
    if not phrase:
        raise FlypError("the search phrase is empty: give a few words, such as 'a blurry photo'")
    if "{}" in phrase:
        return predictor.text_features([""], [phrase])[0]
    if phrase.split()[0].lower() in ARTICLES:
        return predictor.text_features([phrase], ["{}"])[0]
    return predictor.text_features([phrase])[0]


def example_features(predictor, image: str | os.PathLike, cache_root: str | os.PathLike | None = None) -> torch.Tensor:
    """The normalised image embedding of an example file (FlypError naming it when unusable)."""
    from core.model.feature_cache import FeatureCache, all_features

    path = Path(image).expanduser()
    if not path.exists():
        raise FlypError(f"{path}: no such file")
    item = all_features([path], predictor, cache=FeatureCache(predictor.key, cache_root))[0]
    if item.features is None:
        raise FlypError(f"{path}: {item.reason}")
    return item.features.float()


def rank(paths: Sequence[str | os.PathLike], predictor, query: torch.Tensor, *, top: int | None = None,
         cache_root: str | os.PathLike | None = None, progress: Progress = no_progress,
         cancel: Callable[[], bool] = no_cancel) -> list[Match]:
    """`paths` by cosine similarity of their image features to `query` (a normalised D vector),
    most similar first; the first `top` only when given. Unusable files are left out."""
    from core.model.feature_cache import FeatureCache, all_features

    items = all_features(list(paths), predictor, cache=FeatureCache(predictor.key, cache_root),
                         progress=progress, cancel=cancel)
    check_cancel(cancel)
    usable = [item for item in items if item.features is not None]
    if not usable:
        return []
    similarity = torch.stack([item.features for item in usable]).float() @ query.float()
    order = torch.argsort(similarity, descending=True, stable=True).tolist()
    return [Match(str(usable[i].path), float(similarity[i])) for i in order[:top]]


def search(paths: Sequence[str | os.PathLike], predictor, *, text: str | None = None,
           image: str | os.PathLike | None = None, top: int | None = None,
           cache_root: str | os.PathLike | None = None, progress: Progress = no_progress,
           cancel: Callable[[], bool] = no_cancel) -> list[Match]:
    """The images of `paths` most similar to the phrase `text` or to the example file `image`
    (exactly one of them), through `predictor`'s towers (`core.labelling.predictor.Predictor`)."""
    if (text is None) == (image is None):
        raise FlypError("search by words or by an example image: give one of the two")
    query = phrase_features(predictor, text) if text is not None else example_features(predictor, image, cache_root)
    return rank(paths, predictor, query, top=top, cache_root=cache_root, progress=progress, cancel=cancel)


def image_paths(folders: Sequence[str | os.PathLike], *, progress: Progress = no_progress,
                cancel: Callable[[], bool] = no_cancel) -> list[Path]:
    """Every usable image under `folders` (any depth), each file once, in order."""
    from core.data.folders import scan_images

    seen, paths = set(), []
    for folder in folders:
        for path in scan_images(folder, progress=progress, cancel=cancel).files:
            if (key := os.path.realpath(path)) not in seen:
                seen.add(key)
                paths.append(path)
    return paths
