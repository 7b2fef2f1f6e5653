"""The Try page's images and their answers (`TryItem`), what a list of them adds up to in words, and
their table as CSV (the same as `flyp predict`'s). No Qt."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TryItem:
    key: str                 # the file's path, or "pasted image N"
    name: str
    path: str | None = None
    data: bytes | None = None  # a pasted image's PNG bytes
    thumb: bytes | None = None
    pixels: object = None    # uint8 tensor at the model's input size, kept to re-predict quickly
    probs: list[float] | None = None
    classes: list[str] = field(default_factory=list)
    target: tuple | None = None  # (run, weights, α) the probabilities belong to
    error: str = ""
    novelty: float | None = None  # how unlike the training images (None: the run has no novelty score)
    heat: bytes | None = None     # the image with its heat map over it ("Where it looked")…
    heat_for: tuple | None = None  # …for this (target, class index or None for the most likely class)
    calibrated: bool = True  # probs divided by a temperature; False: raw, predicted again once one exists

    def top(self, k: int) -> list[tuple[str, float]]:
        order = sorted(range(len(self.probs)), key=self.probs.__getitem__, reverse=True)[:k]
        return [(self.classes[i], self.probs[i]) for i in order]

    def unknown(self, threshold: float | None) -> bool:
        """Whether the image is like none of the classes at the novelty `threshold`."""
        return threshold is not None and self.novelty is not None and self.novelty > threshold


def summary_text(items: list[TryItem], shown: int = 6, threshold: float | None = None) -> str:
    """What a folder's answers add up to: "46 images: 45 predicted seven, 1 predicted one", and
    how many are like none of the classes at the novelty `threshold`."""
    from collections import Counter

    answered = [item for item in items if item.probs is not None and not item.error]
    failed = sum(1 for item in items if item.error)
    if not answered:
        return f"{failed} could not be classified." if failed else ""
    counts = Counter(item.top(1)[0][0] for item in answered).most_common()
    if len(counts) == 1:
        text = f"{counts[0][1]} of {len(answered)} images predicted {counts[0][0]}" if len(answered) > 1 else \
            f"1 image, predicted {counts[0][0]}"
    else:
        named = counts if len(counts) <= shown + 1 else counts[:shown]  # one class left over is named too
        rest = counts[len(named):]
        text = f"{len(answered)} images predicted: " + ", ".join(f"{n} {name}" for name, n in named) + \
            (f", and {sum(n for _, n in rest)} in {len(rest)} other classes" if rest else "")
    waiting = len(items) - len(answered) - failed
    unknown = sum(item.unknown(threshold) for item in answered)
    text += f" · {unknown} like none of these classes" if unknown else ""
    return text + (f" · {waiting} still classifying" if waiting else "") + \
        (f" · {failed} could not be classified" if failed else "") + "."


def table_csv(items: list[TryItem], k: int, threshold: float | None = None) -> str:
    """The results as CSV, the same table as a classified folder's and `flyp predict`'s
    (`core.labelling.classify.csv_text`): path, class, confidence, known, novelty, the next
    classes, skipped; known at the novelty `threshold` the page shows."""
    from core.labelling.classify import Prediction, csv_text

    rows = []
    for item in items:
        answered = item.probs is not None and not item.error
        known = None if not answered or item.novelty is None or threshold is None else not item.unknown(threshold)
        rows.append(Prediction(item.path or item.name, item.top(k) if answered else [], item.error,
                               item.novelty if answered else None, known))
    return csv_text(rows, k)
