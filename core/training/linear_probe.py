"""The linear probe: logistic regression on frozen image features (flyp-spec §5).

`--method lp` is a run of its own: the image features of the training images (evaluation
transform, no augmentation) and of every evaluation set are computed once; then a
multinomial logistic regression — a linear layer on the normalised features, cross-entropy
plus ½·λ‖W‖², fitted to convergence with L-BFGS — is solved for each L2 strength λ of a small
sweep, strongest first, each fit starting from the previous solution. The λ with the best ID
validation accuracy is kept (ties keep the stronger). `--method lp-ft` starts its finetuning
from the same solution.

The run folder looks like any other: the zero-shot evaluation at step 0, then one "step" (the
fit) and its evaluation at step 1; `lp` records in `metrics.jsonl` and `run.json` hold the
sweep. The checkpoints carry the unchanged CLIP weights and the head (`flyp_head.*`), so
weight ensembling interpolates the head between the zero-shot head and the probe (WiSE-FT).
A stopped linear probe has nothing worth resuming: `--resume` fits it again.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from core.data.folders import Sample
from core.errors import Cancelled, FlypError
from core.model.evaluate import compute_metrics
from core.data.loader import EvalImages
from core.progress import check_cancel, no_cancel
from core.training.runs import RunStatus
from core.training import tested

L2_SWEEP = (1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6)  # λ of ½·λ‖W‖² on unit-norm features
MAX_ITER = 300
DECODE_CHUNK = 256  # training images decoded at a time: only their features are kept

Event = Callable[[dict], None]


@dataclass
class LinearProbeFit:
    """The linear-probe baseline's result: the head fitted at the chosen L2 strength, and what the sweep found."""

    head: torch.nn.Linear
    l2: float
    loss: float
    sweep: list[dict]  # per λ: {"l2", "loss", "sets": {name: metrics json}}
    seconds: float

    def info(self) -> dict:
        return {"l2": self.l2, "sweep": [{"l2": p["l2"], "loss": p["loss"],
                                          "id_accuracy": p["sets"].get("id", {}).get("accuracy")} for p in self.sweep]}


def encode_samples(classifier, samples: Sequence[Sample], batch_size: int = 128,
                   cancel: Callable[[], bool] = no_cancel, progress=None) -> torch.Tensor:
    """N×D normalised features of image files (evaluation transform), decoded a chunk at a time."""
    loaded, chunks = classifier.loaded, []
    for start in range(0, len(samples), DECODE_CHUNK):
        check_cancel(cancel)
        images = EvalImages(samples[start:start + DECODE_CHUNK], loaded.image_size,
                            loaded.preprocess["interpolation"], cancel)
        chunks.append(classifier.features(images, batch_size=batch_size, cancel=cancel))
        if progress is not None:
            progress(min(len(samples), start + DECODE_CHUNK), len(samples))
    return torch.cat(chunks) if chunks else torch.zeros(0, 0)


def fit_logistic(features: torch.Tensor, labels: torch.Tensor, n_classes: int, l2: float,
                 init: tuple[torch.Tensor, torch.Tensor] | None = None,
                 max_iter: int = MAX_ITER) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Weight (C×D), bias (C) and final objective of mean cross-entropy + ½·l2·‖W‖² (bias free)."""
    dim = features.shape[1]
    weight = (init[0].clone() if init else torch.zeros(n_classes, dim, device=features.device)).requires_grad_()
    bias = (init[1].clone() if init else torch.zeros(n_classes, device=features.device)).requires_grad_()
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=max_iter, history_size=20,
                                  tolerance_grad=1e-7, tolerance_change=1e-10, line_search_fn="strong_wolfe")

    def objective() -> torch.Tensor:
        return F.cross_entropy(features @ weight.T + bias, labels) + 0.5 * l2 * weight.pow(2).sum()

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = objective()
        loss.backward()
        return loss
    with torch.enable_grad():
        optimizer.step(closure)
    with torch.no_grad():
        loss = float(objective())
    return weight.detach(), bias.detach(), loss


def probe(classifier, train: Sequence[Sample], eval_sets: dict[str, EvalImages], *, batch_size: int = 128,
          on_event: Event = lambda e: None, cancel: Callable[[], bool] = no_cancel) -> LinearProbeFit:
    """Fit the linear probe on `train`, choosing λ on the ID set of `eval_sets` (FlypError without images)."""
    started = time.monotonic()
    if not train:
        raise FlypError("the linear probe needs training images")
    on_event({"type": "status", "message": f"Linear probe: computing the features of {len(train)} training "
                                           "images (once)…"})
    device = classifier.device
    x = encode_samples(classifier, train, batch_size, cancel).to(device)
    y = torch.tensor([s.label for s in train], device=device)
    on_event({"type": "status", "message": "Linear probe: computing the features of the evaluation images…"})
    loaded = classifier.loaded.weights_key  # the probe is fitted before any finetuning: the model as loaded
    sets = {name: (classifier.features_of(images, loaded, batch_size=batch_size, cancel=cancel).to(device),
                   images.labels) for name, images in eval_sets.items()}
    n_classes, sweep, init = len(classifier.class_names), [], None
    for l2 in L2_SWEEP:
        check_cancel(cancel)
        weight, bias, loss = fit_logistic(x, y, n_classes, l2, init)
        init = (weight, bias)
        metrics = {name: compute_metrics((features @ weight.T + bias).float().cpu(), labels,
                                         classifier.class_names).to_json()
                   for name, (features, labels) in sets.items()}
        sweep.append({"l2": l2, "loss": loss, "sets": metrics, "weight": weight, "bias": bias})
        scores = ", ".join(f"{name} {m['accuracy']:.1%}" for name, m in metrics.items())
        on_event({"type": "status", "message": f"Linear probe, L2 strength {l2:g}: {scores}"})
    chosen = max(sweep, key=lambda p: p["sets"].get("id", {}).get("accuracy", 0.0))  # first best: the stronger λ
    head = torch.nn.Linear(x.shape[1], n_classes).to(device)
    with torch.no_grad():
        head.weight.copy_(chosen["weight"])
        head.bias.copy_(chosen["bias"])
    for point in sweep:
        del point["weight"], point["bias"]
    return LinearProbeFit(head, chosen["l2"], chosen["loss"], sweep, time.monotonic() - started)


def log_sweep(run, result: LinearProbeFit) -> None:
    """The sweep in `metrics.jsonl` (step 0: kept when a resumed run cuts the file back) and `run.json`."""
    for point in result.sweep:
        run.append_metrics({"type": "lp", "step": 0, **point, "chosen": point["l2"] == result.l2})
    run.update_info(lp=result.info())


def run_linear_probe(session, on_event: Event, control) -> dict:
    """`--method lp`: fit the probe, log it as one step with its evaluation, save best and last."""
    cfg, run, clf = session.config, session.run, session.classifier
    n = len(session.data.train)
    on_event({"type": "start", "step": 0, "total_steps": 1, "steps_per_epoch": 1, "batch_size": n,
              "warmup": 0, "train_images": n})
    try:
        result = probe(clf, session.data.train, session.eval_sets, batch_size=cfg.micro_batch_size or 128,
                       on_event=on_event, cancel=control)
        clf.linear_head = result.head
        log_sweep(run, result)
        chosen = next(p for p in result.sweep if p["l2"] == result.l2)
        step = {"type": "step", "step": 1, "epoch": 1.0, "loss": result.loss, "lr": 1.0,  # L-BFGS's step size
                "l2": result.l2, "images_per_s": n / max(result.seconds, 1e-9), "eta_s": 0.0}
        run.append_metrics(step)
        on_event(step)
        record = {"type": "eval", "step": 1, "epoch": 1.0, "sets": chosen["sets"], "seconds": 0.0, "best": True}
        run.append_metrics(record)
        best = {"step": 1, "id_accuracy": chosen["sets"].get("id", {}).get("accuracy", 0.0), "sets": chosen["sets"]}
        for which in ("best", "last"):
            run.save_weights(which, clf.state_dict(), {"step": 1, "sets": chosen["sets"], "l2": result.l2})
        on_event(record)
    except Cancelled:
        run.update_info(status=RunStatus.CANCELLED, seconds=session.seconds())
        on_event({"type": "done", "status": RunStatus.CANCELLED, "step": 0})
        raise
    except FlypError as exc:
        with contextlib.suppress(FlypError):
            run.update_info(status=RunStatus.FAILED, error=str(exc))
        raise
    info = tested.finish(session, on_event, control, best)
    on_event({"type": "done", "status": RunStatus.FINISHED, "step": 1, "best": info["best"]})
    return info
