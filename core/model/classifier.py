"""A CLIP model turned into a classifier over the user's classes, and weight ensembling.

FLYP classifies with the zero-shot head rebuilt from the (finetuned) text encoder. The CE
baseline classifies with a trained linear head on normalised image features; its state dict
carries that head as `flyp_head.weight` / `flyp_head.bias`.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from core.model.evaluate import Metrics, compute_metrics, encode_images, zero_shot_head
from core.data.loader import EvalImages
from core.model.loading import LoadedModel
from core.data.transforms import Normalize

HEAD_KEYS = ("flyp_head.weight", "flyp_head.bias")
EVAL_BATCH = 128  # images per forward pass when evaluating


class Classifier:
    """`loaded` model + class names + templates (+ a linear head for CE-trained models)."""

    def __init__(self, loaded: LoadedModel, class_names: Sequence[str], templates: Sequence[str],
                 linear_head: torch.nn.Linear | None = None):
        self.loaded, self.class_names, self.templates = loaded, list(class_names), list(templates)
        self.linear_head = linear_head
        self.normalize = Normalize(loaded.preprocess["mean"], loaded.preprocess["std"])
        self._text_head: torch.Tensor | None = None

    @property
    def model(self) -> torch.nn.Module:
        return self.loaded.model

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def text_head(self) -> torch.Tensor:
        """C×D zero-shot head from the current text encoder (cached until `invalidate`)."""
        if self._text_head is None:
            self._text_head = zero_shot_head(self.model, self.loaded.tokenizer, self.class_names,
                                             self.templates, self.device)
        return self._text_head

    def invalidate(self) -> None:
        """Forget the cached head after the weights changed."""
        self._text_head = None

    def logits_from_features(self, features: torch.Tensor) -> torch.Tensor:
        if self.linear_head is not None:
            # The head's tensors are copied to the features' device, never moved: moving the module
            # inside inference mode would turn its parameters into inference tensors that training
            # can no longer use (CE and LP-FT failed so on a GPU after their first evaluation).
            with torch.inference_mode():
                head = self.linear_head
                weight = head.weight.to(features.device)
                bias = head.bias.to(features.device) if head.bias is not None else None
                return torch.nn.functional.linear(features.to(weight.dtype), weight, bias).float().cpu()
        scale = float(self.model.logit_scale.detach().exp())
        return (scale * features.to(self.device) @ self.text_head().T).float().cpu()

    def features(self, images: EvalImages | torch.Tensor, batch_size: int = EVAL_BATCH, **kwargs) -> torch.Tensor:
        pixels = images.pixels if isinstance(images, EvalImages) else images
        was_training = self.model.training
        self.model.eval()
        try:
            return encode_images(self.model, pixels, len(pixels), self.normalize, self.device, batch_size, **kwargs)
        finally:
            self.model.train(was_training)

    def features_of(self, images: EvalImages, known_as: tuple | None = None, **kwargs) -> torch.Tensor:
        """`features(images)`; `known_as`: the caller knows the image tower holds the weights of that
        name (`LoadedModel.weights_key`, `core.data.loader.weights_file_key`), so the set's features
        of them are computed once and kept with the set for every run and blend that has them."""
        if known_as is None:
            return self.features(images, **kwargs)
        key = self.known_key(known_as, kwargs.get("batch_size", EVAL_BATCH))
        if key not in images.known_features:
            images.keep_features(key, self.features(images, **kwargs))
        return images.known_features[key]

    @staticmethod
    def known_key(known_as: tuple, batch_size: int = EVAL_BATCH) -> tuple:
        """The key of `known_as`'s features in `EvalImages.known_features` (the batch size changes
        the last bits of the sums)."""
        return (*known_as, batch_size)

    def evaluate(self, images: EvalImages, known_as: tuple | None = None, **kwargs) -> Metrics:
        """The metrics of `images` (`known_as`: see `features_of`)."""
        return self.metrics_of(images, self.features_of(images, known_as, **kwargs))

    def metrics_of(self, images: EvalImages, features: torch.Tensor) -> Metrics:
        return compute_metrics(self.logits_from_features(features), images.labels, self.class_names)

    # State: the CLIP weights plus the linear head, if any --------------------------------
    def state_dict(self) -> dict[str, torch.Tensor]:
        state = dict(self.model.state_dict())
        if self.linear_head is not None:
            state[HEAD_KEYS[0]], state[HEAD_KEYS[1]] = self.linear_head.weight, self.linear_head.bias
        return state

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        state = dict(state)
        head = [state.pop(k, None) for k in HEAD_KEYS]
        self.model.load_state_dict(state, strict=True)
        if head[0] is not None:
            if self.linear_head is None:
                self.linear_head = torch.nn.Linear(head[0].shape[1], head[0].shape[0]).to(self.device)
            with torch.no_grad():
                self.linear_head.weight.copy_(head[0])
                self.linear_head.bias.copy_(head[1])
        self.invalidate()

    def zero_shot_linear_head(self) -> torch.nn.Linear:
        """A linear head equal to the zero-shot classifier: weights s·head, bias 0 (as WiSE-FT)."""
        head = self.text_head()
        linear = torch.nn.Linear(head.shape[1], head.shape[0]).to(self.device)
        with torch.no_grad():
            linear.weight.copy_(float(self.model.logit_scale.detach().exp()) * head)
            linear.bias.zero_()
        return linear


def top_k(logits: torch.Tensor, class_names: Sequence[str], k: int) -> list[list[tuple[str, float]]]:
    """Per row, the k most probable classes with their softmax probabilities."""
    probs = F.softmax(logits.float(), dim=-1)
    values, indices = probs.topk(min(k, probs.shape[-1]), dim=-1)
    return [[(class_names[i], float(p)) for p, i in zip(vs, ids)] for vs, ids in zip(values.tolist(), indices.tolist())]
