"""Less sure of unusual images: how much the novelty score lowers a prediction's confidence.

An image's *tail* (`NoveltyModel.tail`) is the share of ID validation images at least as novel as
it. The tails are cut into bands — the typical half, the next 30%, the next 15%, the most novel 5%,
and beyond every validation image — and each band b gets a factor g_b on the temperature (within [G_MIN, G_MAX]): its
probabilities are softmax(logits / (T·g_b)), T whatever temperature predictions use. A factor
never makes an image more sure than a more typical one (g is non-decreasing with novelty); the
typical half may be a little surer than T alone says, the unusual images are less sure.

Everything is fitted on the ID validation images alone (their novelty scores, logits and labels),
never on a different-conditions folder: each validation image's tail is taken among the *other*
folds' scores (`FOLDS`), as a new image's is among all of them, so that some fall beyond every
other image and the last band is measured too. A band's g minimises the negative log-likelihood
of its images' labels; a band with fewer than `MIN_BAND` images or no error is merged into its more
typical neighbour, and neighbours whose factors would go down with novelty are pooled (pool
adjacent violators). benchmarks/README.md ("Confidence per condition") says what it does on the demo.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from core.errors import FlypError

EDGES = (0.5, 0.2, 0.05, 0.0)  # the bands' lower tails: (0.5, 1], (0.2, 0.5], (0.05, 0.2], (0, 0.05], 0
FOLDS = 5
MIN_BAND = 20   # validation images (with at least one error) a band needs to get a factor of its own
# The smallest factor. One T fitted on all validation images is a compromise between the typical
# ones (that want it lower) and the unusual ones: letting the typical half be a little surer than T
# alone gave a lower held-out NLL on ID validation on the demo and on a digits project together
# (benchmarks/README.md, "Confidence per condition"), and a calibration error there no worse.
G_MIN = 0.5
G_MAX = 20.0    # the largest factor: beyond it every confidence is near 1/classes anyway
GRID = 400      # factors tried, evenly spaced in log g over [G_MIN, G_MAX]


@dataclass(frozen=True)
class Lowering:
    """`factors[0]` for tails above `edges[0]`, `factors[b]` for tails at most `edges[b - 1]`."""

    edges: tuple[float, ...]
    factors: tuple[float, ...]

    def factor(self, tail: torch.Tensor) -> torch.Tensor:
        """Each image's factor on the temperature, from its tail; written with comparisons only, so
        that the ONNX graph computes the same (`core.export.onnx_model`)."""
        g = torch.full_like(tail, self.factors[0])
        for edge, value in zip(self.edges, self.factors[1:]):
            g = torch.where(tail <= edge, torch.full_like(tail, value), g)
        return g

    def to_json(self) -> dict:
        return {"edges": list(self.edges), "factors": list(self.factors)}


def tail(validation: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """The share of `validation` scores at least as novel as each of `scores` (comparisons only)."""
    if not len(validation):
        return torch.ones_like(scores)
    below = (validation[None, :] < scores[:, None]).sum(dim=-1)
    return 1.0 - below.to(scores.dtype) / len(validation)


def fit_lowering(scores: torch.Tensor, logits: torch.Tensor, labels, temperature: float,
                 folds: int = FOLDS) -> Lowering | None:
    """The factors fitted on ID validation images' novelty `scores`, `logits` and `labels`, on top
    of `temperature` (the one fitted on them); None when they are too few or have no error (then
    nothing says how much less sure an unusual image should be)."""
    labels = torch.as_tensor(labels, dtype=torch.long)
    logits = logits.double() / temperature
    wrong = logits.argmax(-1) != labels
    if len(labels) < 2 * MIN_BAND or not bool(wrong.any()):
        return None
    band = band_index(out_of_fold_tails(scores.double(), folds))
    groups: list[list[int]] = []  # bands fitted together, most typical first
    open_group: list[int] = []
    for b in range(len(EDGES) + 1):
        open_group.append(b)
        inside = torch.isin(band, torch.tensor(open_group))
        if int(inside.sum()) >= MIN_BAND and bool(wrong[inside].any()):
            groups.append(open_group)
            open_group = []
    if open_group:  # the most novel bands, too few or without an error: with their typical neighbour
        if not groups:
            return None
        groups[-1] += open_group
    pooled: list[tuple[list[int], float]] = []
    for group in groups:
        pooled.append((group, _best_factor(logits, labels, band, group)))
        while len(pooled) > 1 and pooled[-1][1] < pooled[-2][1]:  # more novel, yet more sure: pool them
            merged = pooled[-2][0] + pooled[-1][0]
            pooled[-2:] = [(merged, _best_factor(logits, labels, band, merged))]
    factors = [0.0] * (len(EDGES) + 1)
    for group, g in pooled:
        for b in group:
            factors[b] = g
    return Lowering(EDGES, tuple(factors))


def band_index(tails: torch.Tensor) -> torch.Tensor:
    """Each tail's band, 0 (the typical half) to len(EDGES) (beyond every validation image)."""
    index = torch.zeros(tails.shape, dtype=torch.long)
    for b, edge in enumerate(EDGES, 1):
        index = torch.where(tails <= edge, torch.full_like(index, b), index)
    return index


def out_of_fold_tails(scores: torch.Tensor, folds: int = FOLDS) -> torch.Tensor:
    """Each score's tail among the scores of the other folds (image i in fold i mod `folds`)."""
    fold = torch.arange(len(scores)) % folds
    tails = torch.empty(len(scores), dtype=scores.dtype)
    for k in range(folds):
        held = fold == k
        tails[held] = tail(scores[~held].sort().values, scores[held])
    return tails


def _best_factor(logits: torch.Tensor, labels: torch.Tensor, band: torch.Tensor, group: list[int]) -> float:
    """The g in [G_MIN, G_MAX] minimising the NLL of softmax(logits / g) on the group's images."""
    inside = torch.isin(band, torch.tensor(group))
    grid = torch.exp(torch.linspace(math.log(G_MIN), math.log(G_MAX), GRID, dtype=torch.float64))
    chosen, labels = logits[inside], labels[inside]
    nll = torch.stack([torch.nn.functional.cross_entropy(chosen / g, labels) for g in grid])
    return float(grid[int(nll.argmin())])


def from_json(entry, where: str) -> Lowering | None:
    """A Lowering from flyp.json's `novelty` entry's `lowering` (None when absent: an older bundle);
    FlypError naming `where` when it is damaged."""
    if entry is None:
        return None
    problem = "should be an object with edges and factors"
    if isinstance(entry, dict):
        edges, factors = entry.get("edges"), entry.get("factors")
        if not _numbers(edges) or not _numbers(factors) or len(factors) != len(edges) + 1:
            problem = "should hold edges (numbers) and one more factor than edges"
        elif any(not 0.0 <= e <= 1.0 for e in edges) or any(a <= b for a, b in zip(edges, edges[1:])):
            problem = "edges should fall from 1 to 0"
        elif any(f < G_MIN or f > G_MAX for f in factors) or any(a > b for a, b in zip(factors, factors[1:])):
            problem = f"factors should rise, from at least {G_MIN:g} to at most {G_MAX:g}"
        else:
            return Lowering(tuple(map(float, edges)), tuple(map(float, factors)))
    raise FlypError(f"{where}: damaged: its novelty entry's lowering {problem}; export the bundle again")


def _numbers(values) -> bool:
    return isinstance(values, list) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)
