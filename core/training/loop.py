"""FLYP finetuning (and the baselines of `core.training.methods`): the training loop, its evaluations and checkpoints.

`train()` is the one entry point for the command line, the app and tests. It reports through
`on_event(dict)` (the same records it appends to `metrics.jsonl`), stops at the next step
boundary when `control` is cancelled (saving a resumable state), and waits while paused.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F

from core.training import acceleration, distributed, levers, linear_probe, methods, tested
from core.training.accumulate import ce_backward, flyp_backward
from core.data.captions import captions_for, resolve_class_names, validate_templates
from core.model.classifier import Classifier
from core.training.config import RUN_OPTIONS, TrainConfig, lr_at
from core.data.folders import Datasets, load_run_datasets
from core.errors import Cancelled, FlypError, WriteError, first_line, out_of_memory
from core.model.fast_text import encode_text
from core.data.loader import EvalImages, TrainImages, train_loader, weights_file_key
from core.model.loading import ModelSpec, load_model, select_device
from core.progress import RunControl, no_cancel
from core.training.runs import RunDir, RunStatus, join_optimizer_state, split_optimizer_state
from core.training.shared import Shared

Event = Callable[[dict], None]


@dataclass
class Session:
    """What a run works with, prepared once (and again, identically, on resume)."""

    config: TrainConfig
    run: RunDir
    data: Datasets
    classifier: Classifier
    eval_sets: dict[str, EvalImages]
    device: torch.device
    autocast_dtype: torch.dtype | None  # the towers' arithmetic (core.training.acceleration); None: fp32
    ranks: distributed.Ranks = distributed.Ranks()  # several processes under torchrun
    started: float = field(default_factory=time.monotonic)
    seconds_before: float = 0.0  # time spent by the sessions this one resumes
    shared: Shared | None = None  # what the runs of one automatic search share (core.training.shared)

    def seconds(self) -> float:
        """Wall-clock seconds the run has taken so far, over all its sessions."""
        return self.seconds_before + time.monotonic() - self.started


def prepare(config: TrainConfig, run_dir: str | Path, on_event: Event, control: RunControl,
            shared: Shared | None = None) -> Session:
    """Scan the data, load the model and cache the evaluation images (or take the scan and the
    images from `shared`, when a run of the same search prepared them)."""
    ranks = distributed.current()
    shared = shared if ranks.size == 1 else None
    methods.check_supported(config, ranks.size)
    if config.compile:
        acceleration.check_compiler()  # before anything is written
    device = ranks.device or select_device(config.device)
    autocast_dtype = acceleration.autocast_dtype(config.precision, device)  # before anything is written
    on_event({"type": "status", "message": "Scanning images…"})
    data = shared.data if shared and shared.holds(config) else load_run_datasets(config.to_json(), cancel=control)
    distributed.check_shares(config.batch_size, len(data.train), ranks)  # before rank 0 writes anything
    class_names = resolve_class_names(data.classes, config.class_names)
    data.name_classes(config.class_names)
    if data.problems and ranks.is_main:
        on_event({"type": "status", "message": f"{len(data.problems)} problem(s) with the data (files skipped, "
                                               f"duplicates, classes left out): listed in {Path(run_dir) / 'run.json'}"})
    templates = validate_templates(config.templates)
    on_event({"type": "status", "message": f"Loading {config.model}…"})
    loaded = load_model(ModelSpec(config.model, config.pretrained), device, seed=config.seed, cancel=control,
                        progress=lambda done, total: on_event({"type": "download", "model": config.model,
                                                               "done": done, "total": total}))
    if control.cancelled():
        raise Cancelled()
    levers.check(config, loaded.model, loaded.image_size)  # before anything is written
    classifier = Classifier(loaded, class_names, templates)
    on_event({"type": "status", "message": "Preparing evaluation images…"})
    eval_sets = shared.eval_sets if shared and shared.holds(config) else {
        name: EvalImages(samples, loaded.image_size, loaded.preprocess["interpolation"], control)
        for name, samples in data.eval_sets().items() if samples and ranks.is_main}  # rank 0 evaluates
    if shared:
        shared.keep(config, data, eval_sets)
    return Session(config, ranks.run_dir(run_dir), data, classifier, eval_sets, device, autocast_dtype, ranks,
                   shared=shared)


def train(config: TrainConfig, run_dir: str | Path, *, resume: bool = False,
          on_event: Event | None = None, control: RunControl | None = None,
          stop: Callable[[dict], str | None] | None = None, shared: Shared | None = None) -> dict:
    """Train as `config` says into `run_dir`; return the final run info (run.json's content).

    With `resume`, continue the run in `run_dir` exactly where its last state was saved (the
    stored config wins over `config`, except device and workers). Raises FlypError on bad
    input and Cancelled when stopped by `control` (the state is saved first). `stop`, called
    with each evaluation record, may end the run there as finished: it returns why (the
    automatic mode's time budget), or None to go on; `config.patience` stops it the same way.
    `shared` carries what the runs of one automatic search prepare alike (`core.training.shared`).
    """
    on_event, control = on_event or (lambda e: None), control or RunControl()
    run = RunDir(run_dir)
    if not distributed.current().is_main:  # rank 0 holds the folder for every process
        return _train(config, run, resume, on_event, control, stop, shared)
    with run.held():  # a second process training into the same folder is refused
        return _train(config, run, resume, on_event, control, stop, shared)


def _train(config: TrainConfig, run: RunDir, resume: bool, on_event: Event, control: RunControl,
           stop: Callable[[dict], str | None] | None, shared: Shared | None = None) -> dict:
    if resume:
        config = _resumed_config(run, config)
        if distributed.current().is_main:  # a killed process may have left half-written files
            run.remove_leftovers()
    elif run.exists() and distributed.current().is_main:  # other ranks may see rank 0's new run
        raise FlypError(f"{run.path}: already holds a run; use «resume» to continue it or choose another «out»")
    started = time.monotonic()
    session = prepare(config, run.path, on_event, control, shared)
    session.started = started
    state = run.load_state(note=lambda message: on_event({"type": "status", "message": message})) if resume else None
    if state is not None:
        session.seconds_before = float(run.read_info().get("seconds") or 0.0)
    if state is None and session.ranks.is_main:
        _start_run(session, on_event, control)
    if config.method == "lp":  # no training steps: one fit, in `core.training.linear_probe`
        return linear_probe.run_linear_probe(session, on_event, control)
    return _loop(session, state, on_event, control, stop or (lambda record: None))


KEPT_WHEN_UNSET = ("micro_batch_size", "checkpoint_every")  # unset on resume: the run keeps its own


def _resumed_config(run: RunDir, config: TrainConfig | None) -> TrainConfig:
    try:
        stored = TrainConfig.from_json(run.read_info()["config"])
    except (TypeError, ValueError, AttributeError):  # edited by hand or damaged: values of the wrong type
        raise FlypError(f"{run.config_file}: damaged, its config cannot be read; the file is left as it is") from None
    if config is not None:
        for option in RUN_OPTIONS:
            value = getattr(config, option)
            if value is not None or option not in KEPT_WHEN_UNSET:
                setattr(stored, option, value)
    return stored



def _start_run(session: Session, on_event: Event, control: RunControl) -> None:
    """Write run.json and the zero-shot evaluation at step 0 (the baseline of every plot)."""
    config, run, data, clf = session.config, session.run, session.data, session.classifier
    run.path.mkdir(parents=True, exist_ok=True)
    if run.metrics_file.exists():
        run.metrics_file.unlink()
    run.write_info({
        "status": RunStatus.RUNNING, "config": config.to_json(), "classes": data.classes,
        "class_names": clf.class_names, "templates": clf.templates, "data": data.summary(),
        "model": {"spec": clf.loaded.spec.to_json(), "open_clip_name": clf.loaded.open_clip_name,
                  "model_cfg": clf.loaded.model_cfg, "preprocess": clf.loaded.preprocess},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "processes": session.ranks.size,
        "levers": levers.used(config.to_json()),
    })
    try:
        evaluate = lambda: _evaluate(session, step=0, epoch=0, cancel=control,  # noqa: E731
                                     known_as=clf.loaded.weights_key)[0]
        zero_shot = session.shared.zero_shot_record(config.method, evaluate) if session.shared else evaluate()
    except Cancelled:
        run.update_info(status=RunStatus.CANCELLED)
        raise
    run.append_metrics(zero_shot)
    run.update_info(zeroshot=zero_shot["sets"])
    on_event(zero_shot)


def _evaluate(session: Session, step: int, epoch: float, cancel=no_cancel,
              known_as: tuple | None = None) -> tuple[dict, dict]:
    """Every set's scores now, and the image features they came from; `known_as`: the weights'
    name when they are known (the loaded model's at step 0: `Classifier.features_of`)."""
    started = time.monotonic()
    session.classifier.invalidate()
    if session.ranks.size > 1:  # the other ranks wait for rank 0's evaluation: it must not stop alone
        cancel = no_cancel
    clf, sets, features = session.classifier, {}, {}
    for name, images in session.eval_sets.items():
        features[name] = clf.features_of(images, known_as, cancel=cancel)
        sets[name] = _scores(name, clf.metrics_of(images, features[name]))
    return {"type": "eval", "step": step, "epoch": epoch, "sets": sets, "seconds": time.monotonic() - started}, features


def _scores(name: str, metrics) -> dict:
    """What an evaluation record keeps of a set: accuracy, macro-F1, n, and for the ID validation
    set the accuracy per class (read by `core.training.advice`)."""
    scores = metrics.to_json()
    if name == "id":
        scores["per_class"] = metrics.per_class
    return scores


class _Trainer:
    """The mutable parts of a run: optimiser, head (CE-trained methods), loop position, best score."""

    def __init__(self, session: Session, fresh: bool = True, on_event: Event = lambda e: None,
                 control: RunControl | None = None):
        cfg, clf = session.config, session.classifier
        self.session, self.cfg, self.clf = session, cfg, clf
        self.with_head = methods.uses_linear_head(cfg.method)
        if self.with_head:  # a resumed run gets its trained head from the state: no probe to fit again
            clf.linear_head = (self._probe_head(on_event, control or RunControl()) if cfg.method == "lp-ft" and fresh
                               else clf.zero_shot_linear_head())
        captions = [c for name in clf.class_names for c in captions_for(name, clf.templates)]
        self.tokens = clf.loaded.tokenizer(captions).view(len(clf.class_names), len(clf.templates), -1)
        self.text_cache = levers.apply(clf.model, cfg, self.tokens)  # frozen parts leave the groups
        groups = levers.trainable(methods.param_groups(clf, cfg))
        self.params = [p for group in groups for p in group["params"]]
        self.l2sp = methods.L2SP(clf.model.visual, cfg.l2sp_lambda) if cfg.method == "l2sp" else None
        if cfg.grad_checkpointing:
            for tower in acceleration.enable_gradient_checkpointing(clf.model):
                on_event({"type": "status", "message": f"Gradient checkpointing: the {tower} does not support "
                                                       "it and trains as usual"})
        if cfg.compile:
            acceleration.compile_towers(clf.model)
        fused = session.device.type == "cuda"
        self.optimizer = torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8,
                                           weight_decay=cfg.weight_decay, fused=fused or None)
        self.step, self.best, self.best_step = 0, -1.0, 0
        self.reference_size = self.weight_size()  # the pretrained weights': divergence shows as far above it
        self.per_epoch = 1
        self.updating = False  # True while the optimiser writes the weights

    def state(self) -> tuple[dict, dict]:
        tensors, optim_meta = split_optimizer_state(self.optimizer)
        tensors.update({f"model.{k}": v for k, v in self.clf.state_dict().items()})
        return tensors, {"step": self.step, "best": self.best, "best_step": self.best_step, "optimizer": optim_meta}

    def restore(self, tensors: dict, meta: dict) -> None:
        """Continue from a saved state; FlypError naming the file when it does not fit this run."""
        model = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        problem = _mismatch(self.clf.state_dict(), model, "model.") or _optimizer_mismatch(self.params, tensors)
        try:
            if not problem:
                self.clf.load_state_dict(model)
                self.optimizer.load_state_dict(join_optimizer_state(tensors, meta["optimizer"]))
                self.step, self.best, self.best_step = int(meta["step"]), float(meta["best"]), int(meta["best_step"])
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            problem = first_line(exc)
        if problem:
            raise FlypError(f"{meta.get('file', self.session.run.state_file)}: does not fit this run ({problem}); "
                            "the file is left as it is: start a new run, or move it away to restart this one "
                            "from step 0")

    def weight_size(self) -> float:
        """The largest absolute value among the trained weights (inf or nan once they diverged)."""
        with torch.no_grad():
            return max(float(p.detach().abs().max()) if p.numel() else 0.0 for p in self.params)

    def train_step(self, images, labels, template_ids, lr: float) -> float:
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        device, ranks, micro = self.session.device, self.session.ranks, self.cfg.micro_batch_size
        images, labels = images.to(device, non_blocking=True), labels.to(device)
        self.optimizer.zero_grad(set_to_none=True)
        if self.with_head:
            loss = ranks.mean(ce_backward(self._ce_logits, images, labels, micro_batch=micro))
        elif self.cfg.method == "ce-both":
            loss = ranks.mean(methods.ce_both_backward(self._encode_images, self._encode_texts,
                                                       self.clf.model.logit_scale.exp, images, labels,
                                                       self._class_tokens().to(device), micro_batch=micro))
        else:
            tokens = self.tokens[labels.cpu(), template_ids].to(device)
            loss = flyp_backward(self._encode, self.clf.model.logit_scale.exp(), images, tokens, labels,
                                 micro_batch=micro, ranks=ranks, mask_same_class=self.cfg.mask_same_class)
        ranks.average_gradients(self.params)
        if self.l2sp is not None:
            loss = loss + self.l2sp.add_gradient()
        if self.with_head:
            torch.nn.utils.clip_grad_norm_(self.params, 1.0)  # wise-ft's FT recipe
        self.updating = True  # an error from here on may leave the weights half-updated: not to be saved
        self.optimizer.step()
        self.updating = False
        return float(loss)

    def _encode(self, images, tokens) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised image and caption features of uint8 images and their tokens."""
        return self._encode_images(images), self._encode_texts(tokens)

    def _ce_logits(self, images) -> torch.Tensor:
        return self.clf.linear_head(self._encode_images(images))

    # The towers run under the chosen precision; normalisation, heads and losses in fp32.
    def _encode_images(self, images) -> torch.Tensor:
        with acceleration.autocast(self.session.device, self.session.autocast_dtype):
            features = self.clf.model.encode_image(self.clf.normalize(images))
        return F.normalize(features.float(), dim=-1)

    def _encode_texts(self, tokens) -> torch.Tensor:
        with acceleration.autocast(self.session.device, self.session.autocast_dtype):
            features = self.text_cache(tokens) if self.text_cache else encode_text(self.clf.model, tokens)
        return F.normalize(features.float(), dim=-1)

    def _class_tokens(self) -> torch.Tensor:
        """One caption per class, its template drawn for this step (`ce-both`)."""
        n_classes, n_templates = self.tokens.shape[:2]
        chosen = methods.class_templates(self.cfg.seed, self.step, n_classes, n_templates)
        return self.tokens[torch.arange(n_classes), torch.tensor(chosen)]

    def _probe_head(self, on_event: Event, control: RunControl) -> torch.nn.Linear:
        """LP-FT's starting head: the linear probe on the pretrained features, logged with the run."""
        session = self.session
        result = linear_probe.probe(self.clf, session.data.train, session.eval_sets,
                                    batch_size=self.cfg.micro_batch_size or 128, on_event=on_event, cancel=control)
        linear_probe.log_sweep(session.run, result)
        on_event({"type": "status", "message": f"Linear probe done (L2 strength {result.l2:g}); finetuning…"})
        return result.head


def _mismatch(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor], prefix: str) -> str:
    """What differs between two state dicts, in words ("" when they fit)."""
    missing = [prefix + k for k in expected if k not in found]
    unexpected = [prefix + k for k in found if k not in expected]
    reshaped = [f"{prefix}{k} has shape {list(found[k].shape)} instead of {list(v.shape)}"
                for k, v in expected.items() if k in found and found[k].shape != v.shape]
    parts = ([f"missing {', '.join(missing[:3])}"] if missing else []) + \
        ([f"unexpected {', '.join(unexpected[:3])}"] if unexpected else []) + reshaped[:3]
    return "; ".join(parts)


def _optimizer_mismatch(params: list[torch.Tensor], tensors: dict[str, torch.Tensor]) -> str:
    """Whether the saved AdamW moments fit the trained parameters, in words ("" when they do)."""
    problems = []
    for name, value in tensors.items():
        if not name.startswith("optim."):
            continue
        _, index, key = name.split(".", 2)
        if not index.isdigit() or int(index) >= len(params):
            problems.append(f"unexpected {name}")
        elif key in ("exp_avg", "exp_avg_sq") and value.shape != params[int(index)].shape:
            problems.append(f"{name} has shape {list(value.shape)} instead of {list(params[int(index)].shape)}")
    return "; ".join(problems[:3])


class _StopEarly(Exception):
    """The run ends at this evaluation, finished (early stopping, or its caller's time budget)."""


def _loop(session: Session, state, on_event: Event, control: RunControl, stop: Callable[[dict], str | None]) -> dict:
    cfg, run = session.config, session.run
    try:
        trainer = _Trainer(session, fresh=state is None, on_event=on_event, control=control)
    except Cancelled:  # while LP-FT fits its probe: nothing to save yet, --resume starts again
        run.update_info(status=RunStatus.CANCELLED, seconds=session.seconds())
        on_event({"type": "done", "status": RunStatus.CANCELLED, "step": 0})
        raise
    if state is not None:
        trainer.restore(*state)
        damaged_copy = run.truncate_metrics(trainer.step)
        if damaged_copy:
            on_event({"type": "status", "message": f"{run.metrics_file} had damaged lines: they are left out, "
                                                   f"and the file as it was is kept as {damaged_copy.name}"})
        run.update_info(status=RunStatus.RUNNING, processes=session.ranks.size)
    dataset = TrainImages(session.data.train, cfg.train_size or session.classifier.loaded.image_size,
                          len(session.classifier.templates),
                          cfg.seed, session.classifier.loaded.preprocess["interpolation"],
                          _decoded_images(session, on_event, control), cfg.augment)
    batches = distributed.ShardedBatches(len(dataset), cfg.batch_size, cfg.seed, session.ranks)
    per_epoch = trainer.per_epoch = batches.steps_per_epoch()
    total = per_epoch * cfg.epochs
    eval_steps = _eval_steps(per_epoch, cfg.epochs, cfg.evals_per_epoch)
    warmup = cfg.warmup_steps(total)
    loader = train_loader(dataset, batches, cfg.workers, session.device.type == "cuda")
    on_event({"type": "start", "step": trainer.step, "total_steps": total, "steps_per_epoch": per_epoch,
              "batch_size": min(cfg.batch_size, len(dataset)), "warmup": warmup, "train_images": len(dataset)})
    session.classifier.model.train()
    clock = _Clock(trainer.step, total)
    last_saved = time.monotonic()
    try:
        if state is not None and _evaluation_missed(run, trainer.step, eval_steps):  # stopped while evaluating
            clock.start += _evaluate_and_save(session, trainer, on_event, control)["seconds"]
        while trainer.step < total:
            batches.epoch, batches.start = divmod(trainer.step, per_epoch)
            for images, labels, template_ids in loader:
                if control.paused:
                    _save(session, trainer)
                    on_event({"type": "paused", "step": trainer.step})
                    control.wait_while_paused()
                    clock.restart(trainer.step)
                    on_event({"type": "resumed", "step": trainer.step})
                if session.ranks.agree(control.cancelled()):  # all ranks stop at the same step
                    raise Cancelled()
                lr = lr_at(trainer.step, cfg.lr, warmup, total)
                with levers.step_randomness(cfg, trainer.step, session.ranks.rank):
                    loss = trainer.train_step(images, labels, template_ids, lr)
                trainer.step += 1
                if not math.isfinite(loss):
                    _stop_on_nan(session, trainer, loss)
                record = {"type": "step", "step": trainer.step, "epoch": trainer.step / per_epoch, "loss": loss,
                          "lr": lr, **clock.tick(trainer.step, len(labels) * session.ranks.size)}
                run.append_metrics(record)
                on_event(record)
                if trainer.step in eval_steps:
                    record = _evaluate_and_save(session, trainer, on_event, control)
                    clock.start += record["seconds"]  # rates count training only
                    last_saved = time.monotonic()
                    reason = None
                    if session.ranks.is_main:  # only rank 0 evaluates: the others follow it
                        reason = _no_progress_for(cfg, trainer, eval_steps) or stop(record)
                    if session.ranks.agree(reason is not None):
                        raise _StopEarly(reason or "stopped with the first process")
                elif _checkpoint_due(cfg, trainer.step, last_saved):
                    _save(session, trainer)
                    last_saved = time.monotonic()
    except _StopEarly as reason:
        run.update_info(stopped_early={"step": trainer.step, "of": total, "reason": str(reason)})
        on_event({"type": "status", "message": f"Stopped early at step {trainer.step} of {total}: {reason}"})
    except Cancelled:
        try:
            _save(session, trainer)
        except FlypError as exc:  # diverged weights are not saved: the run failed, not cancelled
            _mark_failed(run, str(exc))
            raise exc from None
        run.update_info(status=RunStatus.CANCELLED, seconds=session.seconds())
        on_event({"type": "done", "status": RunStatus.CANCELLED, "step": trainer.step})
        raise
    except FlypError as exc:  # a NaN loss, a full disk: run.json says why, if it can still be written
        if isinstance(exc, WriteError):
            exc = FlypError(f"{exc}; once the disk has room (or the folder is writable), continue with «resume»")
        _mark_failed(run, str(exc), nan_loss=isinstance(exc, NanLoss))
        raise exc from None
    except Exception as exc:
        if not out_of_memory(exc):
            raise
        raise _stop_on_oom(session, trainer) from None
    info = tested.finish(session, on_event, control)
    on_event({"type": "done", "status": RunStatus.FINISHED, "step": trainer.step, "best": info.get("best")})
    return info


def _decoded_images(session: Session, on_event: Event, control: RunControl):
    """The training images decoded once for all epochs (None when caching is off or too big)."""
    if not session.config.cache_images:
        return None
    from core.data.image_cache import decoded_images

    on_event({"type": "status", "message": "Preparing training images (decoded once for all epochs)…"})
    return decoded_images([s.path for s in session.data.train], session.classifier.loaded.image_size, cancel=control)


def _eval_steps(per_epoch: int, epochs: int, evals_per_epoch: int) -> set[int]:
    n = min(evals_per_epoch, per_epoch)
    return {e * per_epoch + round((k + 1) * per_epoch / n) for e in range(epochs) for k in range(n)}


def _evaluation_missed(run: RunDir, step: int, eval_steps: set[int]) -> bool:
    return step in eval_steps and not any(r.get("type") == "eval" and r.get("step") == step for r in run.read_metrics())


def _checkpoint_due(cfg: TrainConfig, step: int, last_saved: float) -> bool:
    every_steps = cfg.checkpoint_every is not None and step % cfg.checkpoint_every == 0
    return every_steps or time.monotonic() - last_saved > cfg.checkpoint_minutes * 60


def _no_progress_for(cfg: TrainConfig, trainer: _Trainer, eval_steps: set[int]) -> str | None:
    """Why the run stops here by `cfg.patience` (evaluations without a better ID accuracy), or None."""
    if cfg.patience is None:
        return None
    since_best = sum(1 for s in eval_steps if trainer.best_step < s <= trainer.step)
    if since_best < cfg.patience:
        return None
    what = "macro-F1" if cfg.select_by == "macro_f1" else "accuracy"
    return f"validation {what} has not improved for {since_best} evaluations (best at step {trainer.best_step})"


def _evaluate_and_save(session: Session, trainer: _Trainer, on_event: Event, control: RunControl) -> dict:
    """Evaluate every set, keep the best and last weights; return the evaluation record."""
    _stop_if_diverged(session, trainer)  # before a diverged model can count as the best
    record, features = _evaluate(session, trainer.step, trainer.step / trainer.per_epoch, cancel=control)
    id_scores = record["sets"].get("id", {})
    metric = session.config.select_by
    score = id_scores.get(metric, 0.0)
    record["best"] = score > trainer.best
    session.run.append_metrics(record)
    if record["best"]:
        trainer.best, trainer.best_step = score, trainer.step
        session.run.save_weights("best", session.classifier.state_dict(), {"step": trainer.step, "sets": record["sets"]})
        _keep_best_features(session, features)
        session.run.update_info(best={"step": trainer.step, "id_accuracy": id_scores.get("accuracy", 0.0),
                                      "selected_by": metric, "score": score, "sets": record["sets"]})
    _save(session, trainer)
    on_event(record)
    return record


def _keep_best_features(session: Session, features: dict) -> None:
    """Keep each set's features of the best checkpoint just saved, under the file's name: the run's
    α = 1 blend (`flyp demo`'s curve, on the same evaluation images) need not compute them again."""
    if session.eval_sets and not session.config.compile:  # rank 0's; a compiled tower's last bits differ
        key = Classifier.known_key(weights_file_key(session.run.best_file))
        for name, images in session.eval_sets.items():
            images.keep_features(key, features[name])


def _save(session: Session, trainer: _Trainer) -> None:
    _stop_if_diverged(session, trainer)
    session.run.save_weights("last", session.classifier.state_dict(), {"step": trainer.step})
    session.run.save_state(*trainer.state())


class NanLoss(FlypError):
    """The loss became NaN or infinite: run.json records it as `nan_loss` (the advice reads it)."""


def _stop_on_nan(session: Session, trainer: _Trainer, loss: float) -> None:
    """Stop before anything of the diverged model is saved: the checkpoints on disk stay good."""
    raise NanLoss(f"the loss became {loss} at step {trainer.step}; training stopped and {_kept(session, trainer)}; "
                    "try a lower «lr»")


DIVERGED_GROWTH = 100.0  # weights this many times larger than at the start have exploded: AdamW moves each
# weight by about the learning rate per step, so finetuning at any sensible rate stays far below it


def _stop_if_diverged(session: Session, trainer: _Trainer) -> None:
    """Stop before diverged weights are evaluated or saved: weights that are not finite, or that
    exploded to far more than their starting size while the loss still looked finite. Nothing
    of them is written: they never become the best checkpoint nor the state a resume continues
    from. Every process decides alike: their weights are identical."""
    size = trainer.weight_size()
    if math.isfinite(size) and size <= DIVERGED_GROWTH * max(trainer.reference_size, 1e-6):
        return
    found = f"weights became {size}" if not math.isfinite(size) else \
        f"the largest weight grew from {trainer.reference_size:.2g} to {size:.2g}"
    raise FlypError(f"training diverged at step {trainer.step} ({found}); training stopped and "
                    f"{_kept(session, trainer)}; try a lower «lr»")


def _kept(session: Session, trainer: _Trainer) -> str:
    """What is on disk to go back to, in words (no diverged weights are ever saved)."""
    run = session.run
    if run.best_file.is_file():
        return f"the best checkpoint (step {trainer.best_step}) is kept in {run.path}"
    if run.state_file.is_file():
        return f"the last saved state is kept in {run.path}"
    return "no checkpoint had been saved yet"


def _mark_failed(run: RunDir, reason: str, nan_loss: bool = False) -> None:
    with contextlib.suppress(FlypError):  # the disk may be the problem: the error itself says enough
        run.update_info(status=RunStatus.FAILED, error=reason, **({"nan_loss": True} if nan_loss else {}))


def _stop_on_oom(session: Session, trainer: _Trainer) -> FlypError:
    """Out of memory in a step: keep the steps done, and say which batch would fit."""
    if session.device.type == "cuda":
        torch.cuda.empty_cache()
    cfg, saved = session.config, not trainer.updating
    if saved:  # forward and backward passes leave the weights as they were
        _save(session, trainer)
    per_pass = cfg.micro_batch_size or cfg.batch_size
    smaller = _power_of_two_below(per_pass)
    if not smaller:
        fix = "one image per pass does not fit: choose a smaller «model», or «device» cpu"
    elif cfg.micro_batch_size:
        fix = f"continue with «resume» «micro_batch_size» {smaller}"
    else:
        fix = (f"continue with «resume» «micro_batch_size» {smaller} (the same batch in smaller passes: "
               f"same results), or start again with «batch_size» {smaller}")
    kept = f"the run is saved at step {trainer.step}" if saved else "its last saved state is kept"
    message = (f"out of {session.device.type.upper()} memory at step {trainer.step + 1} with {per_pass} images "
               f"per pass; {kept}; {fix}")
    _mark_failed(session.run, message)
    return FlypError(message)


def _power_of_two_below(n: int) -> int:
    """The largest power of two below `n` (12 → 8, 32 → 16), or 0 when there is none."""
    return 1 << ((n - 1).bit_length() - 1) if n > 1 else 0


class _Clock:
    """Images per second and ETA over the steps since the (re)start."""

    def __init__(self, step: int, total: int):
        self.total = total
        self.restart(step)

    def restart(self, step: int) -> None:
        self.start_step, self.start, self.images = step, time.monotonic(), 0

    def tick(self, step: int, batch: int) -> dict:
        self.images += batch
        elapsed = time.monotonic() - self.start
        per_step = elapsed / max(1, step - self.start_step)
        return {"images_per_s": self.images / max(elapsed, 1e-9), "eta_s": per_step * (self.total - step)}
