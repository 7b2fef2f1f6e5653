"""Page 3, Train: the model and settings, start / pause / resume / stop, live curves, past runs.

The page runs the training and follows its events; what it shows is in widgets: the settings
column (`widgets.settings_column`), the run control's buttons (`widgets.run_controls`), and the
column (`widgets.run_column`) of the progress box (`widgets.train_progress`), the curves of the run
shown (`widgets.run_curves`) and the runs of the project (`widgets.run_history`); the advice after
a run (`widgets.run_advice`) is in the progress box.

Training runs in its own worker (`core.training.loop.train`); its events reach the UI thread through
the worker's `event` signal and are only recorded there. A timer draws them a few times a
second, so a fast GPU run never floods the window with redraws.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QThreadPool, QTimer
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout, QWidget

from core.errors import FlypError
from core.training.advice import collapsed
from core.training.defaults import FAMILY_SETTINGS, check_bounds
from core.training.runs import new_run_dir
from flyp_app import blend_tasks, train_tasks, workers
from flyp_app.curves import Curves
from flyp_app.pages.base import Page
from flyp_app.widgets.run_advice import AdviceBox
from flyp_app.widgets.run_column import RunColumn
from flyp_app.widgets.run_controls import RunControls
from flyp_app.widgets.run_curves import RunCurves
from flyp_app.widgets.run_history import RunHistory
from flyp_app.widgets.settings_column import SettingsColumn
from flyp_app.widgets.train_plots import set_label
from flyp_app.widgets.train_progress import TrainProgress, finished_text, trial_text
from flyp_app.words import download_text, error_text

REDRAW_MS = 200  # 5 redraws a second at most, whatever the number of steps


class TrainPage(Page):
    title = "Train"
    name = "train"  # how the window and the View menu reach it
    hint = ("Choose the model to start from and how to train it, then start. Every run is saved as it "
            "goes: stop it, or close the window, and resume it later from the list of runs.")

    clock = staticmethod(time.monotonic)  # the time budget's countdown reads it (a test sets its own)

    def __init__(self, state):
        super().__init__(state)
        self._pool = QThreadPool(self, maxThreadCount=1)  # training never starves the shared pool
        self._worker: workers.Worker | None = None
        self._live_path = ""       # the run folder being trained ("" before its run.json exists)
        self._pending_path = ""    # where the current run is being written
        self._live: Curves | None = None
        self._progress: dict = {}
        self._dirty = False
        self.settings_column = SettingsColumn(state, self.run)
        self.model_picker, self.params = self.settings_column.model_picker, self.settings_column.params
        self.progress_box = TrainProgress()
        self.curves = RunCurves(self.run)
        self.plots = self.curves.plots
        self.history = RunHistory(state, self.run)
        self.advice = AdviceBox(state, self.run)
        self.advice.retrain.connect(self.train_again)
        body = QHBoxLayout()
        body.setSpacing(14)
        body.addWidget(self._left_column())
        # Advice, and errors in words, in the progress box: where the user is looking.
        body.addWidget(RunColumn(self.progress_box, [self.advice, self.status], self.curves, self.history), 1)
        self.layout_.addLayout(body, 1)
        self._timer = QTimer(self, interval=REDRAW_MS)
        self._timer.timeout.connect(self._tick)
        self.settings_column.flagged.connect(self.controls.flag)
        self.history.chosen.connect(self.state.select_run)
        self.history.listed.connect(self._history_listed)
        self.history.resume_requested.connect(self.resume_run)
        state.project_changed.connect(self._load_project)
        state.runs_changed.connect(self.history.refresh)
        state.run_selected.connect(self._run_selected)

    # Layout -------------------------------------------------------------------------------------
    def _left_column(self) -> QWidget:
        self.controls = RunControls()
        self.start_button, self.pause_button, self.stop_button = (
            self.controls.start_button, self.controls.pause_button, self.controls.stop_button)
        self.controls.start_wanted.connect(self.start)
        self.controls.said.connect(self._say)
        column = QWidget()
        column.setFixedWidth(380)
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(0, 0, 0, 0)
        column_layout.addWidget(self.settings_column, 1)
        # Above Start, outside the scrolled settings: seen without scrolling, where the user is about to click.
        column_layout.addWidget(self.settings_column.bounds_warning)
        column_layout.addWidget(self.controls)
        return column

    # The project's settings ---------------------------------------------------------------------
    def _load_project(self) -> None:
        self.settings_column.load()
        self.curves.clear()
        self.advice.hide()  # it was about the last project's run
        if not self.training():
            self.progress_box.clear()
            self.show_error("")
        self.history.refresh()

    def _train_images(self) -> int | None:
        data = self.state.datasets
        return len(data.train) if data is not None else None

    # Starting, pausing, stopping ---------------------------------------------------------------
    def training(self) -> bool:
        return self._worker is not None

    def start(self) -> None:
        """Start a new run with the project's data, model and settings."""
        if self.training():
            return
        p = self.state.project
        try:
            config = self.settings_column.config()
        except FlypError as exc:
            self.show_error(error_text(exc))
            return
        if p.auto:
            budget_s = p.budget_minutes * 60 or None
            self._begin(config, new_run_dir(p.runs_dir(), "auto"), resume=False,
                        task=(train_tasks.run_auto, budget_s, self._train_images()))
            return
        if not self.settings_column.confirmed and (flags := check_bounds(config, self._train_images())):
            self.settings_column.warn_bounds(flags)
            return
        self.settings_column.warn_bounds([])
        self._begin(config, new_run_dir(p.runs_dir(), config.method), resume=False)

    def train_again(self, change: dict) -> None:
        """Train again with the last run's settings and `change` (advice's one click), by hand."""
        settings = {name: value for name, value in self.advice.last_config.items() if name in FAMILY_SETTINGS}
        if "val_fraction" in change:  # the project's, with the folders
            self.state.set_folders(val_fraction=change.pop("val_fraction"))
        self.state.set_settings(**(settings | change), auto=False)
        self.advice.hide()
        self.start()

    def resume_run(self, path: str) -> None:
        """Continue a stopped or interrupted run exactly where its state was saved."""
        if self.training() or not path:
            return
        try:
            config = self.state.train_config()  # only its device and workers are used
        except FlypError:
            config = None  # the run's own stored config is enough
        self._begin(config, Path(path), resume=True)

    def _begin(self, config, run_dir: Path, resume: bool, task: tuple | None = None) -> None:
        """Train in the page's worker: `train_tasks.run_training`, or `task` (a task and its arguments
        after the config and run folder)."""
        self.show_error("")
        self.advice.hide()
        self.progress_box.detail.setText("")  # the last run's "step N of N" until this one knows its steps
        self._pending_path = str(run_dir)
        self._live_path = str(run_dir) if resume else ""
        self._live = Curves(total_steps=None)
        self._progress = {"message": "Resuming…" if resume else "Starting…"}
        self.curves.show_live(str(run_dir), self._live)
        self.progress_box.progress_bar.setRange(0, 0)  # busy until the engine knows the number of steps
        self.progress_box.progress_bar.show()
        worker = (workers.Worker(task[0], config, str(run_dir), *task[1:]) if task else
                  workers.Worker(train_tasks.run_training, config, str(run_dir), resume=resume))
        worker.signals.event.connect(self._on_event)
        worker.signals.finished.connect(self._finished)
        worker.signals.failed.connect(self._failed)
        worker.signals.cancelled.connect(self._stopped)
        worker.signals.done.connect(lambda: self._worker_done(worker))
        self.controls.attach(worker)  # last of the `done` slots
        self._worker = worker
        self._workers.add(worker)
        workers.start(worker, pool=self._pool)
        self.history.busy = True
        self.history.set_live(self._live_path or None)
        if resume:
            self.state.set_training_run(str(run_dir))  # not blended, evaluated or soup'd while it trains
        self._timer.start()
        self._tick()

    def _say(self, message: str) -> None:
        """The progress line's words for a pause, a resume or a stop asked for (drawn at the next tick)."""
        self._progress["message"] = message
        self._dirty = True

    def stop_and_wait(self, timeout: float = 300.0) -> None:
        """Cancel the run and wait until the engine has saved its resumable state (window closing)."""
        self.controls.stop_and_wait(timeout)

    # Events from the engine (UI thread: record, and let the timer draw) -----------------------------
    def _on_event(self, event: dict) -> None:
        kind, live = event.get("type"), self._live
        if kind == "step":
            live.add(event)
            self._progress.update(step=event["step"], eta=event.get("eta_s"), rate=event.get("images_per_s"))
        elif kind == "eval":
            live.add(event)
            self._evaluated(event)
        elif kind == "status":
            self._progress["message"] = event["message"]
        elif kind == "download":
            self._progress["message"] = f"{download_text(event)}. Stop cancels it; the next start resumes it."
        elif kind == "history":
            self._live = event["curves"]
            if self.curves.shown == self._live_path:
                self.plots.show_curves(self._live)
        elif kind == "start":
            self._started(event)
        elif kind == "auto":
            self._auto_run(event)
        elif kind == "paused":
            self._progress["message"] = f"Paused at step {event['step']} (saved). Press Resume to continue."
            self.controls.paused()
            self.history.set_live(self._live_path or None, paused=True)
        elif kind == "resumed":
            self._progress["message"] = "Training…"
            self.history.set_live(self._live_path or None)
        self._dirty = True

    def _auto_run(self, event: dict) -> None:
        """The automatic mode starts its next run (a trial, or the final one): its curves are shown."""
        self._pending_path, self._live_path = event["run"], ""
        self._live = Curves(total_steps=None)
        self.curves.show_live(event["run"], self._live)
        self._progress = {"message": "Starting…"}
        if event["phase"] == "trial":  # the budget left counts down while the trial trains (see _tick)
            self._progress.update(trial=event, budget_end=self.clock() + event["left_s"])
            self._progress["auto"] = trial_text(event, event["left_s"])
        else:
            self._progress["auto"] = f"Automatic settings, the final run: {event['why']}"

    def _end_auto(self) -> None:
        """The run ended: no more words of which automatic run it was, nor a countdown."""
        for key in ("auto", "trial", "budget_end"):
            self._progress.pop(key, None)
        self._dirty = True

    def _started(self, event: dict) -> None:
        self._live.total_steps = event["total_steps"]
        self._progress.update(step=event["step"], total=event["total_steps"], per_epoch=event["steps_per_epoch"],
                              eta=None, rate=None, message=f"Training on {event['train_images']} images, "
                              f"batch {event['batch_size']}, warmup {event['warmup']} steps.")

    def _evaluated(self, event: dict) -> None:
        scores = ", ".join(f"{set_label(name)} {m['accuracy']:.1%}" for name, m in event["sets"].items())
        if event["step"] == 0:
            self._progress["message"] = f"Zero-shot baseline: {scores}. Training starts…"
            if not self._live_path:  # run.json exists now: the run joins the project
                self._live_path = self._pending_path
                self.history.set_live(self._live_path)
                self.state.set_training_run(self._live_path)
                self.state.add_run(self._live_path)
        else:
            self._progress["message"] = f"Evaluated at step {event['step']}: {scores}."
            self.history.refresh()

    def _tick(self) -> None:
        """Draw what arrived since the last tick (timer, a few times a second)."""
        info = self._progress
        if "budget_end" in info:
            info["auto"] = trial_text(info["trial"], info["budget_end"] - self.clock())
            self._dirty = True
        if not self._dirty:
            return
        self._dirty = False
        if self._live is not None and self.curves.shown and \
                self.curves.shown == (self._live_path or self._pending_path):
            self.plots.redraw()
        running = self.training() and not self._worker.control.cancelled()
        self.progress_box.draw(info, running, running and self._worker.control.paused)

    # How a run ends ------------------------------------------------------------------------------
    def _finished(self, info: dict) -> None:
        if not self._live_path and Path(self._pending_path, "run.json").is_file():
            # The automatic mode's best trial, copied as the result when no time was left for more.
            self._live_path = self._pending_path
            self.state.add_run(self._live_path)
            self._show(self._live_path)
        self._end_auto()
        run = self._live_path or self._pending_path
        self._progress["message"] = finished_text(info, Path(run).name)  # the plots may show another run
        self.show_info("")
        self.advice.advise(run)
        if not collapsed(info):  # a run worse than zero-shot: nothing to blend, no curve to compute
            self._open_at_best_alpha(run)

    def _open_at_best_alpha(self, run: str) -> None:
        """Compute the run's α curve in the background (the Blend page reuses it) and make its best
        validation α the one Blend, Try and Export open at; nothing once the window is closing."""
        worker = {}
        worker["w"] = self.run(blend_tasks.blend_curve, self.state.caches, run, self.device(), on_error=lambda _: None,
                               on_done=lambda curve: worker["w"].control.cancelled()
                               or self.state.open_at_best_alpha(run, curve))

    def _stopped(self) -> None:
        self._end_auto()
        step = self._progress.get("step", 0)
        self._progress["message"] = (f"Stopped at step {step}. The run is saved: select it below and press "
                                     "Resume run to continue it." if self._live_path else "Stopped before training began.")

    def _failed(self, text: str) -> None:
        self._end_auto()
        self._progress["message"] = "Training stopped with an error."
        self.show_error(text)
        self.advice.advise(self._live_path)

    def _worker_done(self, worker: workers.Worker) -> None:
        self._workers.discard(worker)
        if worker is not self._worker:
            return
        self._worker = None
        self._timer.stop()
        self._dirty = True
        self._tick()
        if self.progress_box.progress_bar.maximum() == 0:
            self.progress_box.progress_bar.setRange(0, 1)
        self.history.busy = False
        self.history.set_live(None)
        self.controls.detach()
        self.state.set_training_run("")  # other pages reload the finished (or stopped) run (runs_changed)
        if self.curves.shown == self._live_path:
            self.curves.caption(self._live_path)

    # Past runs ---------------------------------------------------------------------------------
    def _history_listed(self) -> None:
        """The runs are listed: show the current run's curves (else the newest's) if none are shown."""
        current = self.state.project.current_run
        current = str(self.state.folder(current)) if current else ""
        if not self.curves.shown and self.history.summaries:
            self._show(current if current in self.history.summaries else list(self.history.summaries)[-1])
        if self.curves.shown:
            self.history.select(self.curves.shown)

    def _run_selected(self, path: str) -> None:
        path = str(self.state.folder(path)) if path else ""
        if path and path != self.curves.shown:
            self._show(path)
        self.history.select(path)

    def _show(self, path: str) -> None:
        """Show a run's curves: the live ones, or read from its metrics file in a worker."""
        if path == self._live_path and self._live is not None and self.training():
            self.curves.show_live(path, self._live)
        else:
            self.curves.show_run(path)

    def add_paths(self, paths) -> None:
        pass

