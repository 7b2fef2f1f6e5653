"""Shortcuts: something other than the object that tells one class apart (sketches only among
the stars, a ruler beside every specimen of one species, a watermark on one source's photos).

Each concept is a caption template (`CONCEPTS`, plus the user's own) scored on every training
image with the model's text tower. An image *carries* a concept when the concept's caption of
its own class ("a sketch of a star.") fits it better than the plain caption ("a photo of a
star.") by far more (`MARGIN` spreads) than for the class's typical image: captioning with the image's class takes the object out of the
comparison, so a concept is not found merely because its words sit near one class's name. A
concept is flagged for a class when the share of that class's images carrying it is far above
the share among the other classes (`flagged`): the model can then tell that class by the
concept instead of the object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from core.progress import check_cancel, no_cancel

NEUTRAL = "a photo of a {}."
CONCEPTS = {  # concept: its caption, {} for the class name
    "sketch": "a sketch of a {}.",
    "drawing": "a drawing of a {}.",
    "painting": "a painting of a {}.",
    "cartoon": "a cartoon of a {}.",
    "text or watermark": "a photo of a {} with text written on it.",
    "ruler or scale bar": "a photo of a {} next to a ruler.",
    "a hand": "a photo of a {} held in a hand.",
    "frame or border": "a photo of a {} in a frame.",
    "plain background": "a photo of a {} on a plain background.",
    "white background": "a photo of a {} on a white background.",
    "black background": "a photo of a {} on a black background.",
    "green background": "a photo of a {} on a green background.",
    "striped background": "a photo of a {} on a striped background.",
}
MARGIN = 4.0       # spreads (standard deviations) above its class's typical image: carries the concept
MIN_IMAGES = 3     # a concept carried by fewer images of the class is not flagged
MIN_SHARE = 0.1    # … nor one carried by fewer than this share of the class
RATIO = 3.0        # … nor one less than this many times as common as among the other classes
MIN_GAP = 0.1      # … nor one whose shares differ by less than this


@dataclass
class Shortcut:
    concept: str
    class_name: str
    share_in_class: float
    share_elsewhere: float
    images: list[str] = field(default_factory=list)  # the class's images that carry it, clearest first

    @property
    def advice(self) -> str:
        return (f"the model could recognise {self.class_name!r} by '{self.concept}' instead of the object: add "
                f"such images to the other classes, crop it out, or leave these {len(self.images)} images out")

    def to_json(self) -> dict:
        return {"concept": self.concept, "class": self.class_name, "share_in_class": round(self.share_in_class, 4),
                "share_elsewhere": round(self.share_elsewhere, 4), "images": self.images, "advice": self.advice}


def concept_templates(own: Sequence[str] = ()) -> dict[str, str]:
    """The default concepts plus the user's own: a caption template with `{}` is used as it is,
    other words become "a photo of a {} with WORDS."; FlypError for one with stray braces
    (`core.data.captions.validate_concept`)."""
    from core.data.captions import validate_concept

    concepts = dict(CONCEPTS)
    for words in own:
        if words.strip():
            words = validate_concept(words)
            concepts[words] = words if "{}" in words else f"a photo of a {{}} with {words}."
    return concepts


def concept_margins(features: torch.Tensor, labels: Sequence[int], predictor,
                    concepts: dict[str, str], cancel: Callable[[], bool] = no_cancel) -> torch.Tensor:
    """N×K: per image and concept, the concept's caption of the image's class minus the plain one
    (cosine similarities), less the class's median, in units of the concept's spread over all
    images; above `MARGIN` the image carries the concept. The median as baseline means a concept
    carried by more than half of a class is not seen in it (a limit: such a class would need
    the absolute margins, which differ from class to class by the words alone)."""
    names = predictor.caption_names or predictor.class_names
    y = torch.as_tensor(list(labels), dtype=torch.long)
    plain = predictor.text_features(names, [NEUTRAL])            # C×D
    margins = []
    for template in concepts.values():
        check_cancel(cancel)
        captions = predictor.text_features(names, [template])    # C×D
        margins.append(((captions[y] - plain[y]) * features.float()).sum(dim=1))
    if not margins:
        return torch.zeros(len(y), 0)
    margins = torch.stack(margins, dim=1)
    for c in y.unique():  # each class's typical image is the baseline: what the captions' words alone add
        margins[y == c] -= margins[y == c].median(dim=0).values
    # In units of each concept's spread: text towers differ in how far captions sit apart.
    return margins / margins.std(dim=0).clamp(min=1e-6) if len(y) > 1 else margins


def find_shortcuts(features: torch.Tensor, labels: Sequence[int], paths: Sequence[str], predictor, *,
                   own_concepts: Sequence[str] = (), cancel: Callable[[], bool] = no_cancel) -> list[Shortcut]:
    """The concepts far more common in one class than in the others, strongest first.

    `features`: the training images' N×D normalised image features; `labels`: their class
    indices into `predictor.class_names`; `predictor` must have a text tower
    (`Predictor.text_features`)."""
    concepts = concept_templates(own_concepts)
    margins = concept_margins(features, labels, predictor, concepts, cancel)
    carries = margins > MARGIN
    y = torch.as_tensor(list(labels), dtype=torch.long)
    found = []
    for k, concept in enumerate(concepts):
        for c, name in enumerate(predictor.class_names):
            inside, outside = y == c, y != c
            if not inside.any() or not outside.any():
                continue
            count = int(carries[inside, k].sum())
            share_in, share_out = count / int(inside.sum()), float(carries[outside, k].float().mean())
            if flagged(count, share_in, share_out):
                members = torch.nonzero(inside & carries[:, k]).flatten()
                members = members[torch.argsort(margins[members, k], descending=True)]
                found.append(Shortcut(concept, name, share_in, share_out, [str(paths[i]) for i in members.tolist()]))
    return sorted(found, key=lambda s: -(s.share_in_class - s.share_elsewhere))


def flagged(count: int, share_in: float, share_out: float) -> bool:
    """Whether a concept carried by `count` images (`share_in` of the class, `share_out` of the
    others) is a shortcut."""
    return (count >= MIN_IMAGES and share_in >= MIN_SHARE and share_in - share_out >= MIN_GAP
            and share_in >= RATIO * share_out)
