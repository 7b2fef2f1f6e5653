"""Model soups (Wortsman et al., 2022): the averaged weights of several finetuned runs.

A soup is written as a run folder like any other (`run.json` with method "soup", the
zero-shot evaluation at step 0 and the soup's at step 1, `checkpoints/best` and `last`), so
blending, evaluation, export and prediction work on it unchanged. The runs must start from
the same model and classify the same classes; a soup of runs with a linear head (ce, lp,
lp-ft, l2sp) averages the heads too, and runs with and without one cannot be mixed.

- uniform soup: the plain average of every run's weights;
- greedy soup: the runs sorted by their ID validation accuracy, best first; each is added to
  the soup if the soup's ID validation accuracy does not drop (the paper's ≥).

Every run is scored on the first run's ID validation and OOD sets (the soup's own sets).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Sequence

import torch

from core.model.classifier import HEAD_KEYS, Classifier
from core.errors import FlypError
from core.model.loading import ModelSpec, load_model, read_state_dict
from core.progress import check_cancel, no_cancel
from core.training.runs import RunDir, RunStatus

Event = Callable[[dict], None]


class WeightSum:
    """A running sum of state dicts (float64), whose mean is a soup; integer buffers come from the first."""

    def __init__(self, state: dict[str, torch.Tensor]):
        self.first = state
        self.total = {k: v.double() for k, v in state.items() if v.is_floating_point()}
        self.count = 1

    def add(self, state: dict[str, torch.Tensor]) -> None:
        for key, total in self.total.items():
            total += state[key].double()
        self.count += 1

    def mean(self, extra: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """The average, or the average with `extra` added (a greedy soup's candidate)."""
        if self.count == 1 and extra is None:
            return {k: v.clone() for k, v in self.first.items()}  # a soup of one run is that run, bit for bit
        n = self.count + (extra is not None)
        out = {}
        for key, value in self.first.items():
            if key in self.total:
                total = self.total[key] + extra[key].double() if extra is not None else self.total[key]
                out[key] = (total / n).to(value.dtype)
            else:
                out[key] = value.clone()
        return out


def check_compatible(infos: list[dict], paths: Sequence[Path]) -> None:
    """FlypError naming the first run that differs from the first in model, classes or head."""
    ref, ref_path = infos[0], paths[0]
    for info, path in zip(infos[1:], paths[1:]):
        if info["model"].get("spec") != ref["model"].get("spec") or info["model"].get("model_cfg") != ref["model"].get("model_cfg"):
            raise FlypError(f"{path}: trained from another model ({_model_text(info)}) than {ref_path} "
                            f"({_model_text(ref)}); a soup averages runs of one model")
        if info["classes"] != ref["classes"]:
            raise FlypError(f"{path}: its classes differ from those of {ref_path}; a soup averages runs of the same classes")


def _model_text(info: dict) -> str:
    spec = info["model"].get("spec", {})
    return f"{spec.get('name')} {spec.get('pretrained') or ''}".strip()


def make_soup(run_dirs: Sequence[str | Path], out: str | Path, *, greedy: bool = False, which: str = "best",
              device: torch.device | str = "cpu", on_event: Event = lambda e: None,
              cancel: Callable[[], bool] = no_cancel) -> dict:
    """Average the `which` weights of `run_dirs` into a new run folder `out`; return its run.json.

    Raises FlypError when `out` already holds a run, when a run has no such checkpoint, or
    when the runs do not share a model and classes.
    """
    started = time.monotonic()
    if not run_dirs:
        raise FlypError("a soup needs at least one run")
    target = RunDir(out)
    if target.exists():
        raise FlypError(f"{target.path}: already holds a run; choose another «out»")
    with target.held():  # made here, or refused in one line (a file in the way, no permission, in use)
        return _cook(run_dirs, target, greedy, which, device, on_event, cancel, started)


def _cook(run_dirs: Sequence[str | Path], target: RunDir, greedy: bool, which: str, device: torch.device | str,
          on_event: Event, cancel: Callable[[], bool], started: float) -> dict:
    from core.weights.blend import run_eval_sets

    runs = [RunDir(d) for d in run_dirs]
    infos = [r.read_info() for r in runs]
    files = [r.weights_file(which) for r in runs]
    check_compatible(infos, [r.path for r in runs])
    heads = [_has_head(f) for f in files]
    if len(set(heads)) > 1:
        raise FlypError(f"{runs[heads.index(not heads[0])].path}: runs with a linear head (ce, lp, lp-ft, l2sp) and runs "
                        "without one (flyp, ce-both, …) cannot be averaged together")
    ref = infos[0]
    on_event({"type": "status", "message": "Loading the model and the evaluation images…"})
    loaded = load_model(ModelSpec(**ref["model"]["spec"]), device, seed=ref["config"]["seed"])
    classifier = Classifier(loaded, ref["class_names"], ref["templates"])
    sets = run_eval_sets(ref, cancel)
    pretrained = {k: v.detach().clone() for k, v in loaded.model.state_dict().items()}

    def evaluate(state: dict | None) -> dict:
        check_cancel(cancel)
        classifier.linear_head = None
        classifier.load_state_dict(state if state is not None else pretrained)
        return {name: classifier.evaluate(images, cancel=cancel).to_json() for name, images in sets.items()}

    zero_shot = evaluate(None)
    scores = {}
    for run, file in zip(runs, files):
        on_event({"type": "status", "message": f"Scoring {run.path.name}…"})
        scores[str(run.path)] = evaluate(read_state_dict(file))
    id_of = lambda sets_: sets_.get("id", next(iter(sets_.values())))["accuracy"]  # noqa: E731
    order = sorted(range(len(runs)), key=lambda i: -id_of(scores[str(runs[i].path)])) if greedy else range(len(runs))
    chosen = [order[0]]
    weights = WeightSum(read_state_dict(files[order[0]]))
    soup_scores = scores[str(runs[order[0]].path)]
    for i in order[1:]:
        if greedy:
            on_event({"type": "status", "message": f"Greedy soup: trying {runs[i].path.name}…"})
            state = read_state_dict(files[i])
            candidate_scores = evaluate(weights.mean(extra=state))
            if id_of(candidate_scores) >= id_of(soup_scores):
                weights.add(state)
                chosen.append(i)
                soup_scores = candidate_scores
        else:
            weights.add(read_state_dict(files[i]))
            chosen.append(i)
    soup = weights.mean()
    if not greedy and len(chosen) > 1:
        soup_scores = evaluate(soup)
    _write_soup(target, ref, runs, chosen, greedy, which, scores, zero_shot, soup, soup_scores,
                time.monotonic() - started)
    return target.read_info()


def _has_head(path: Path) -> bool:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return HEAD_KEYS[0] in f.keys()


def _write_soup(target: RunDir, ref: dict, runs: list[RunDir], chosen: list[int], greedy: bool, which: str,
                scores: dict, zero_shot: dict, soup: dict, soup_scores: dict, seconds: float) -> None:
    """Weights and metrics first, run.json last: a folder without run.json is not a run yet."""
    best = {"step": 1, "id_accuracy": soup_scores.get("id", {}).get("accuracy", 0.0), "sets": soup_scores}
    target.path.mkdir(parents=True, exist_ok=True)
    for name in ("best", "last"):
        target.save_weights(name, soup, {"step": 1, "sets": soup_scores})
    if target.metrics_file.exists():
        target.metrics_file.unlink()
    target.append_metrics({"type": "eval", "step": 0, "epoch": 0, "sets": zero_shot, "seconds": 0.0})
    target.append_metrics({"type": "eval", "step": 1, "epoch": 1.0, "sets": soup_scores, "seconds": 0.0, "best": True})
    target.write_info({
        "status": RunStatus.FINISHED, "config": {**ref["config"], "method": "soup"}, "classes": ref["classes"],
        "class_names": ref["class_names"], "templates": ref["templates"], "data": ref.get("data"),
        "model": ref["model"], "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "processes": 1,
        "soup": {"kind": "greedy" if greedy else "uniform", "checkpoint": which,
                 "runs": [str(r.path) for r in runs], "ingredients": [str(runs[i].path) for i in chosen],
                 "run_scores": scores},
        "zeroshot": zero_shot, "best": best, "seconds": seconds,
    })
