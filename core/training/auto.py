"""The automatic mode: good settings within a time budget, chosen on ID validation only.

`auto_train(config, out, budget_s)` runs short trials over the learning rate around the model
family's value (`core.training.defaults`), a half-decade apart, going on in the direction that
helps while it helps; each trial is scored by its best ID validation accuracy (the validation
folder, or the share held out of the training images; never a "different conditions" set).
Then it trains the best learning rate for as many epochs as the rest of the budget pays for,
stopping early when ID validation accuracy stops improving, and keeping the best checkpoint.

Every trial is a run folder like any other, in `OUT/trials/`; the final run is `OUT` itself, and
its `run.json` says what was tried, what was chosen and why (`"auto"`). Trials share the batch
size (the family's, capped so that an epoch of a small training set still has several steps)
and their length, so their scores compare; the final run's epochs come from the budget.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from core import atomic
from core.errors import FlypError
from core.progress import RunControl
from core.training import levers
from core.training.config import TrainConfig
from core.training.defaults import Family, default_budget_s, family_of, fit_batch
from core.training.runs import RunDir, RunStatus
from core.training.shared import Shared

TRIAL_SHARE = 0.4        # of the budget, at most, for the trials; the final run has the rest
EXPECTED_TRIALS = 4      # what a trial's length is planned for
MAX_TRIALS = 6
MAX_TRIAL_EPOCHS = 10
PATIENCE = 3             # evaluations without a better ID accuracy before the final run stops
FINAL_EPOCHS_FACTOR = 4  # the final run trains at most this many times the family's epochs
# On a CPU, when the budget would pay the final run fewer than this share of the family's epochs at
# full FLYP's speed (ViT-B/32: 5 of 10; the demo: 2 of 4), trials and final run use the levers of
# `core.training.levers.AUTO_LEVERS` (those within 1 point of full FLYP's ID accuracy).
FEW_EPOCHS_SHARE = 0.5

Event = Callable[[dict], None]
Clock = Callable[[], float]


@dataclass
class Trial:
    lr: float
    run: Path
    score: float | None = None   # best ID validation score (accuracy, or what «select_by» says); None: diverged
    seconds: float = 0.0
    status: str = ""

    def to_json(self, out: Path) -> dict:
        return {"lr": self.lr, "run": str(self.run.relative_to(out)), "score": self.score,
                "seconds": round(self.seconds, 1), "status": self.status}


def auto_train(config: TrainConfig, out: str | Path, budget_s: float | None = None, *,
               train_images: int | None = None, on_event: Event | None = None,
               control: RunControl | None = None, clock: Clock = time.monotonic) -> dict:
    """Choose the settings of `config` (lr, epochs, batch size, warmup) within `budget_s`
    seconds and train them into `out`; return the final run's info (run.json's content).

    `train_images` (the number of training images) caps the batch and sizes the default budget;
    it is counted when not given. `clock` gives the seconds the budget is counted in (tests pass
    one that counts work, so that a busy machine changes nothing). Raises FlypError on bad input
    and Cancelled when stopped (every run saved so far stays on disk and resumable).
    """
    out = Path(out).expanduser()
    if RunDir(out).exists():
        raise FlypError(f"{out}: already holds a run; use «resume» to continue it or choose another «out»")
    search = _Search(config, out, budget_s, train_images, on_event or (lambda e: None), control or RunControl(), clock)
    _lr_search(search.family, search.trial, search.room_for_trial)
    chosen = _best(search.trials)
    if chosen is None:
        raise FlypError(f"every trial diverged (learning rates {', '.join(f'{t.lr:g}' for t in search.trials)}); "
                        "check the data, or train with a lower «lr»")
    return search.final(chosen)


class _Search:
    """One automatic search: its budget, its trials so far, and the speed they measured."""

    def __init__(self, config: TrainConfig, out: Path, budget_s: float | None, train_images: int | None,
                 on_event: Event, control: RunControl, clock: Clock):
        self.clock = clock
        self.started = clock()
        self.config, self.out, self.on_event, self.control = config, out, on_event, control
        self.family = family_of(config.model)
        self.train_images = train_images or count_training_images(config)
        device = _device_type(config.device)
        self.budget_s = budget_s or default_budget_s(config.model, device, self.train_images)
        self.batch = fit_batch(self.family.batch_size, self.train_images)
        self.base = replace(config, batch_size=self.batch, warmup=None, evals_per_epoch=1, patience=None)
        self.speed = _Speed(self.train_images / self.family.images_per_s.get(device, 1.0), clock)
        self.levers = _levers_for(config, device, self.budget_s, self.speed, self.family)
        if self.levers:  # the same levers in every trial and the final run: their scores compare
            self.base = replace(self.base, **self.levers)
            self.speed = _Speed(self.speed.per_epoch / levers.planned_speedup(self.levers), clock)
        self.trial_epochs = _trial_epochs(self.budget_s, self.speed, self.family)
        self.trials: list[Trial] = []
        self.shared = Shared()  # the scan, evaluation images and zero-shot evaluation: once for all runs

    def left(self) -> float:
        return self.started + self.budget_s - self.clock()

    def room_for_trial(self) -> bool:
        spent = self.clock() - self.started
        return spent + self.speed.run_seconds(self.trial_epochs) <= self.budget_s * TRIAL_SHARE

    def trial(self, lr: float) -> Trial:
        """Train one trial at `lr` into OUT/trials/ (a diverged one scores None)."""
        from core.training.loop import train

        trial = Trial(lr, self.out / "trials" / f"{len(self.trials) + 1:02d} lr {lr:g}")
        self.trials.append(trial)
        self.on_event({"type": "auto", "phase": "trial", "index": len(self.trials), "lr": lr,
                       "epochs": self.trial_epochs, "run": str(trial.run), "left_s": self.left()})
        timer = self.speed.timer()
        try:
            info = train(replace(self.base, lr=lr, epochs=self.trial_epochs), trial.run, control=self.control,
                         on_event=lambda event: (timer(event), self.on_event(event)), shared=self.shared)
            best = info.get("best") or {}
            trial.score, trial.status = best.get("score", best.get("id_accuracy")), str(RunStatus.FINISHED)
        except FlypError as exc:
            if not RunDir(trial.run).exists():
                raise  # bad input (folders, model): the same for every trial
            trial.status = f"{RunStatus.FAILED}: {exc}"  # diverged (NaN): this learning rate is too high
        trial.seconds = timer({"type": "done"})
        self.speed.measured(self.trial_epochs)
        _mark(trial.run, {"group": self.out.name, "role": "trial", "trial": len(self.trials)})
        return trial

    def final(self, chosen: Trial) -> dict:
        """Train `chosen`'s learning rate for what the budget has left, stopping early on ID
        validation; when that is no longer than a trial, the best trial itself is the result."""
        from core.training.loop import train

        epochs = _final_epochs(self.left(), self.speed, self.family)
        promoted = epochs <= self.trial_epochs
        epochs = self.trial_epochs if promoted else epochs
        summary = {"budget_s": self.budget_s, "trial_epochs": self.trial_epochs, "batch_size": self.batch,
                   "levers": self.levers,
                   "trials": [t.to_json(self.out) for t in self.trials],
                   "chosen": {"lr": chosen.lr, "epochs": epochs, "batch_size": self.batch, "patience": PATIENCE},
                   "why": _why(self, chosen, epochs, promoted)}
        self.on_event({"type": "auto", "phase": "final", "run": str(self.out), "lr": chosen.lr, "epochs": epochs,
                       "why": summary["why"], "left_s": self.left()})
        mark = {"group": self.out.name, "role": "final", **summary}
        if promoted:
            _copy_run(chosen.run, self.out)
            _mark(self.out, mark)
        else:
            def on_final_event(event: dict) -> None:
                if event.get("type") == "eval" and event.get("step") == 0:  # run.json exists from here on
                    _mark(self.out, mark)
                self.on_event(event)

            train(replace(self.base, lr=chosen.lr, epochs=epochs, patience=PATIENCE), self.out,
                  on_event=on_final_event, control=self.control, stop=self._over_budget, shared=self.shared)
        return RunDir(self.out).update_info(seconds_with_trials=self.clock() - self.started)

    def _over_budget(self, record: dict) -> str | None:
        if self.left() < self.speed.per_epoch:
            return f"the time budget ({self.budget_s / 60:.0f} min) would run out before the next evaluation"
        return None


def count_training_images(config: TrainConfig) -> int:
    """The number of images the run trains on (the held-out share left out), counted without decoding."""
    from core.data.folders import scan_folder

    total = round(len(scan_folder(config.train_dir, verify=False).samples) * (1 - config.test_fraction))
    return total if config.val_dir else max(1, round(total * (1 - config.val_fraction)))


class _Speed:
    """How long a run takes: seconds to start (scan, load the model, zero-shot evaluation) and
    seconds per epoch with its evaluation. The family's rough figure at first (start-up taken as
    one epoch), then what the last trial measured."""

    def __init__(self, per_epoch: float, clock: Clock = time.monotonic):
        self.start, self.per_epoch = per_epoch, per_epoch
        self.clock = clock
        self._times: list[float] = []

    def timer(self) -> Callable[[dict], float]:
        """An event hook noting when a run starts training (its zero-shot evaluation done);
        it returns the seconds since the run began."""
        began = self.clock()
        self._times = [began]

        def note(event: dict) -> float:
            if event.get("type") == "eval" and event.get("step") == 0:
                self._times.append(self.clock())
            return self.clock() - began
        return note

    def measured(self, epochs: int) -> None:
        now = self.clock()
        if len(self._times) == 2:  # a trial that diverged may stop before its first epoch ends
            began, trained = self._times
            self.start, self.per_epoch = trained - began, (now - trained) / epochs

    def run_seconds(self, epochs: int) -> float:
        return self.start + epochs * self.per_epoch


def _device_type(device: str) -> str:
    if device == "auto":
        from core.model.loading import select_device

        return select_device("auto").type
    return device.split(":")[0]


def _levers_for(config: TrainConfig, device: str, budget_s: float, speed: _Speed, family: Family) -> dict:
    """The levers the search turns on: on a CPU, when the final run would otherwise get fewer than
    FEW_EPOCHS_SHARE of the family's epochs; only those that pay on this CPU (bf16 where it has AMX);
    never one the user set (theirs stay as they are)."""
    final_s = budget_s * (1 - TRIAL_SHARE) - speed.start
    if device != "cpu" or final_s / speed.per_epoch >= FEW_EPOCHS_SHARE * family.epochs:
        return {}
    defaults = TrainConfig()
    return {name: value for name, value in levers.AUTO_LEVERS.items()
            if getattr(config, name) == getattr(defaults, name) and levers.pays_here(name, family.key)}


def _trial_epochs(budget_s: float, speed: _Speed, family: Family) -> int:
    """Epochs per trial: EXPECTED_TRIALS of them fit in the trials' share of the budget."""
    fit = int((budget_s * TRIAL_SHARE / EXPECTED_TRIALS - speed.start) / speed.per_epoch)
    return max(1, min(fit, MAX_TRIAL_EPOCHS, family.epochs))


def _lr_search(family: Family, run_trial: Callable[[float], Trial], room: Callable[[], bool]) -> None:
    """The family's learning rate, then one rung up and one down the ladder 1, 3, 10, 30, …, then
    on in the better direction while it keeps improving; within the family's range, MAX_TRIALS
    and the time left."""
    low, high = family.lr_range
    rung = round(2 * math.log10(family.lr))
    tried = {rung: run_trial(_lr_of(rung))}
    for neighbour in (rung + 1, rung - 1):
        if room() and low <= _lr_of(neighbour) <= high:
            tried[neighbour] = run_trial(_lr_of(neighbour))
    best = _best(list(tried.values()))
    if best is None or best is tried[rung]:
        return
    direction = 1 if best is tried.get(rung + 1) else -1
    rung += direction
    while len(tried) < MAX_TRIALS and room() and low <= _lr_of(rung + direction) <= high:
        rung += direction
        tried[rung] = run_trial(_lr_of(rung))
        if _best([best, tried[rung]]) is not tried[rung]:
            return
        best = tried[rung]


def _lr_of(rung: int) -> float:
    """Learning rates half a decade apart: rung 2k is 10^k, rung 2k + 1 is 3·10^k."""
    return float(f"{10.0 ** (rung // 2) * (3 if rung % 2 else 1):.0e}")


def _best(trials: list[Trial]) -> Trial | None:
    """The trial with the best ID validation accuracy; a tie goes to the smaller learning rate
    (it stays closer to the pretrained model)."""
    scored = [t for t in trials if t.score is not None]
    return max(scored, key=lambda t: (t.score, -t.lr)) if scored else None


def _final_epochs(seconds_left: float, speed: _Speed, family: Family) -> int:
    """The epochs the time left pays for, at most FINAL_EPOCHS_FACTOR × the family's."""
    fit = int((seconds_left - speed.start) / speed.per_epoch)
    return max(0, min(fit, FINAL_EPOCHS_FACTOR * family.epochs, family.epochs_range[1]))


def _copy_run(source: Path, target: Path) -> None:
    """Copy a run folder's files into `target` (beside its trials/), run.json last: until then
    `target` is no run."""
    files = sorted((p for p in source.rglob("*") if p.is_file()), key=lambda p: p.name == "run.json")
    for path in files:
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes(destination, path.read_bytes())


def _mark(run_dir: Path, auto: dict) -> None:
    """Say in a run's run.json that it belongs to an automatic search, and its part in it."""
    run = RunDir(run_dir)
    if run.exists():
        run.update_info(auto=auto)


def _why(search: _Search, chosen: Trial, epochs: int, promoted: bool) -> str:
    """The choice in words: what was tried, on which images it was judged, and the epochs."""
    config, family, batch = search.config, search.family, search.batch
    tried = ", ".join(f"{t.lr:g} → {t.score:.1%}" if t.score is not None else f"{t.lr:g} → diverged"
                      for t in sorted(search.trials, key=lambda t: t.lr))
    judged = "the validation folder" if config.val_dir else f"the {config.val_fraction:.0%} of images held out"
    count = len(search.trials)
    metric = "macro-F1" if config.select_by == "macro_f1" else "accuracy"
    text = (f"Learning rate {chosen.lr:g}: the best validation {metric} of {count} trial{'s' * (count > 1)} of "
            f"{search.trial_epochs} epoch{'s' * (search.trial_epochs > 1)} ({tried}), judged on {judged}. ")
    text += ("The time budget left no room for a longer run, so that trial is the result. " if promoted else
             f"Then {epochs} epochs, what the rest of the time budget pays for, stopping early once validation "
             "accuracy stops improving. ")
    if search.levers:
        text += (f"The time budget would have paid for fewer than {FEW_EPOCHS_SHARE:.0%} of the usual "
                 f"{family.epochs} epochs on this CPU, so every run trained faster with "
                 f"{'; '.join(levers.describe(search.levers))}. ")
    if batch == family.batch_size:
        return text + f"Batch {batch}, the usual for {family.label}."
    return text + (f"Batch {batch}: the usual {family.batch_size} for {family.label}, made smaller so that an "
                   f"epoch of {search.train_images} training images has several steps.")
