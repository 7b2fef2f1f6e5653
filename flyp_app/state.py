"""The app's model: the open project and what the engine found, with signals for the pages.

Pages never talk to each other: they change the state, and react to its signals. The user's
edits (folders, class names, templates, settings) go on an undo stack (Edit ▸ Undo / Redo).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from core.errors import FlypError
from flyp_app.caches import Caches
from flyp_app.image_review import ImageReview
from core.project import Project, ProjectLock, load_project, remember_project, save_project
from flyp_app.words import error_text

MERGE_SECONDS = 2.0  # edits of one kind this close together are undone as one (typing, spin-box steps)
MERGED = ("held-out share", "templates", "training settings", "uncertain below")  # the edits made in small steps


def app_settings() -> QSettings:
    """The app's own preferences (window layout, last folder): not part of any project."""
    return QSettings("FLYP Studio", "FLYP Studio")


class ProjectEdit(QUndoCommand):
    """One edit of the project's fields: `before` and `after` hold the values of those fields."""

    def __init__(self, state: "AppState", text: str, before: dict, after: dict):
        super().__init__(text)
        self.state, self.before, self.after = state, before, after
        self.when = time.monotonic()
        self._applied = True  # pushed after the setter applied it: the stack's first redo() is a no-op

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self.state._apply(self.after, restored=True)

    def undo(self) -> None:
        self.state._apply(self.before, restored=True)

    def id(self) -> int:
        return 1

    def mergeWith(self, other: "ProjectEdit") -> bool:
        if self.text() not in MERGED or other.text() != self.text() or other.after.keys() != self.after.keys() \
                or other.when - self.when > MERGE_SECONDS:
            return False
        self.after, self.when = other.after, other.when
        return True


class AppState(QObject):
    project_changed = Signal()       # a project was opened or created: refresh everything
    data_changed = Signal()          # folders or class names changed: rescan
    scan_finished = Signal(object)   # core.data.folders.Datasets (or None when the folders are unusable)
    templates_changed = Signal()
    settings_changed = Signal()      # model or hyperparameters
    runs_changed = Signal()          # a run was added, started or finished training
    run_selected = Signal(str)       # the run shown on Blend / Try / Export
    alpha_changed = Signal(float)
    min_confidence_changed = Signal(float)  # the confidence below which sorting says "uncertain" (Try, Blend)
    labels_changed = Signal(object)  # images labelled (or undone) on the Label page: {class folder: +n or -n}
    label_keys_changed = Signal()    # the keys chosen for classes on the Label page (or undone)
    engine_ready = Signal()          # torch + open_clip are imported
    message = Signal(str)            # a short status-bar message
    page_wanted = Signal(str)        # a page asks the window to show another one: its name
    restored = Signal()              # an undo or redo put back earlier values: pages show them again
    images_changed = Signal()        # images moved to another class, left out of training or kept (or undone)
    images_to_label = Signal(list)   # the project's images sent to the Label page (the Data page's map)

    def __init__(self, project: Project | None = None):
        super().__init__()
        self.project = project or Project()
        self.datasets = None          # core.data.folders.Datasets of the last successful scan
        self.scan_error = ""
        self.scanning = False         # a scan of the folders is under way
        self.training_run = ""        # the run folder being trained now ("" when none)
        self.ready = False
        self.caches = Caches()  # what background tasks keep between calls (thread-safe)
        self._lock: ProjectLock | None = None
        self._save_timer = QTimer(self, singleShot=True, interval=400)
        self._save_timer.timeout.connect(self.save_now)
        self.undo_stack = QUndoStack(self)
        self.review = ImageReview(self)  # what the user did with listed images: moves, left out, kept

    # Project file -------------------------------------------------------------------------
    def open(self, path: str | Path) -> None:
        """Open a project file (FlypError when damaged or open in another window)."""
        project = load_project(path)
        self._switch_lock(project.path)
        if self._save_timer.isActive():
            self._save_timer.stop()
            self.save_now()
        self.project = project
        remember_project(project.path)
        self.datasets, self.scan_error, self.scanning = None, "", False
        self.undo_stack.clear()
        self.review.forget()
        self.remember_folder(project.path.parent)
        self.project_changed.emit()

    def close(self) -> None:
        """Save and close the project: the state is empty again (the window shows its welcome)."""
        self.close_project()
        self.project = Project()
        self.datasets, self.scan_error, self.scanning = None, "", False
        self.undo_stack.clear()
        self.review.forget()
        self.project_changed.emit()

    def save_as(self, path: str | Path) -> Path:
        """Write the project to a new file and keep working on that file."""
        saved = save_project(self.project, path)
        self._switch_lock(saved)
        remember_project(saved)
        return saved

    def _switch_lock(self, path: Path) -> None:
        """Hold the lock of `path` (taken first, so a refusal leaves the current project open)."""
        new = ProjectLock(path)
        if self._lock is not None and self._lock.path == new.path:
            return
        new.acquire()
        self.close_lock()
        self._lock = new

    def changed(self) -> None:
        """Something the user set changed: save soon (coalesced), if the project has a file."""
        if self.project.path is not None:
            self._save_timer.start()

    def save_now(self) -> None:
        if self.project.path is None:
            return
        try:
            save_project(self.project)
        except FlypError as exc:
            self.message.emit(error_text(exc))

    def close_lock(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def close_project(self) -> None:
        if self._save_timer.isActive():
            self._save_timer.stop()
            self.save_now()
        self.close_lock()

    # Setters: each edit is saved, undoable and notified ------------------------------------------
    def set_folders(self, train: str | None = None, val: str | None = None, ood: list[str] | None = None,
                    val_fraction: float | None = None) -> None:
        values = {"train_dir": train, "val_dir": val, "ood_dirs": None if ood is None else list(ood),
                  "val_fraction": val_fraction}
        values = {k: v for k, v in values.items() if v is not None}
        what = {"train_dir": "training folder", "val_dir": "validation folder", "ood_dirs": "different conditions",
                "val_fraction": "held-out share"}
        self.edit_project(", ".join(what[k] for k in values), values)

    def set_class_name(self, folder: str, name: str) -> None:
        self.edit_project(f"class name {name!r}", {"class_names": self.project.class_names | {folder: name}})

    def set_templates(self, templates: list[str]) -> None:
        self.edit_project("templates", {"templates": list(templates)})

    def set_shortcut_concepts(self, concepts: list[str]) -> None:
        """The user's own shortcut concepts, looked for by the label check beside the default ones."""
        self.edit_project("shortcut concepts", {"shortcut_concepts": list(concepts)})

    def set_settings(self, **settings) -> None:
        values = {key: settings.pop(key) for key in ("model", "pretrained", "auto", "budget_minutes")
                  if key in settings}  # the project's own, beside its settings
        if settings:
            values["settings"] = self.project.settings | settings
        self.edit_project("model" if "model" in values else "training settings", values)

    def set_min_confidence(self, value: float) -> None:
        """The confidence (0–1) below which sorting puts an image in `_uncertain` (one undo step)."""
        self.edit_project("uncertain below", {"min_confidence": round(min(1.0, max(0.0, float(value))), 4)})

    def edit_project(self, text: str, after: dict) -> None:
        """Apply `after` ({field: value}) to the project and put the edit on the undo stack."""
        before = {key: copy.deepcopy(getattr(self.project, key)) for key in after}
        if before == after:
            return
        self._apply(after)
        self.undo_stack.push(ProjectEdit(self, text, before, copy.deepcopy(after)))

    def _apply(self, values: dict, restored: bool = False) -> None:
        for key, value in values.items():
            setattr(self.project, key, copy.deepcopy(value))
        self.changed()
        if values.keys() & {"train_dir", "val_dir", "ood_dirs", "val_fraction"}:
            self.data_changed.emit()
        if values.keys() & {"class_names", "templates"}:
            self.templates_changed.emit()
        if values.keys() & {"model", "pretrained", "settings", "auto", "budget_minutes"}:
            self.settings_changed.emit()
        if values.keys() & {"excluded", "kept"}:
            if "excluded" in values:
                self.data_changed.emit()
            self.images_changed.emit()
        if "min_confidence" in values:
            self.min_confidence_changed.emit(self.project.min_confidence)
        if "label_keys" in values:
            self.label_keys_changed.emit()
        if "runs" in values:
            self.runs_changed.emit()
        if "current_run" in values:
            self.run_selected.emit(self.project.current_run)
        if restored:
            self.restored.emit()

    # Where file dialogs start -------------------------------------------------------------------
    def dialog_folder(self) -> str:
        """The folder a file dialog opens in: the last one used, else the project's, else home."""
        last = app_settings().value("dialogs/last_folder", "")
        for folder in (last, self.project.path.parent if self.project.path else None, Path.home()):
            if folder and Path(folder).is_dir():
                return str(folder)
        return str(Path.home())

    def remember_folder(self, folder: str | Path) -> None:
        app_settings().setValue("dialogs/last_folder", str(folder))

    # Runs ----------------------------------------------------------------------------------------
    def add_run(self, run_dir: str, select: bool = True) -> None:
        """List a run folder in the project (and make it the run shown on Blend, Try and Export)."""
        run_dir = str(Path(run_dir).absolute())
        if run_dir not in self.project.runs:
            self.project.runs.append(run_dir)
        self.changed()
        self.runs_changed.emit()
        if select:
            self.select_run(run_dir)

    def add_run_folders(self, run_dirs: list[str]) -> None:
        """Runs trained elsewhere, listed in the project (undoable; the last becomes the current run)."""
        runs = [str(Path(r).absolute()) for r in run_dirs]
        listed = self.project.runs + [r for r in runs if r not in self.project.runs]
        self.edit_project("add run folder", {"runs": listed, "current_run": runs[-1]})

    def set_training_run(self, run_dir: str) -> None:
        """The run being trained now ("" when training ends): the other pages leave it alone meanwhile."""
        if run_dir != self.training_run:
            self.training_run = run_dir
            self.runs_changed.emit()

    def scan_started(self) -> None:
        self.scanning = True

    def select_run(self, run_dir: str) -> None:
        self.project.current_run = run_dir
        self.changed()
        self.run_selected.emit(run_dir)

    def set_scan(self, datasets, error: str = "") -> None:
        """The result of scanning the project's folders: Datasets, or None and why not."""
        self.datasets, self.scan_error, self.scanning = datasets, error, False
        self.scan_finished.emit(datasets)

    def set_engine_ready(self) -> None:
        self.ready = True
        self.engine_ready.emit()

    def want_page(self, name: str) -> None:
        """Ask the window to show the page called `name` (a link from one page to another)."""
        self.page_wanted.emit(name)

    def label_images(self, paths: list[str]) -> None:
        """Open the project's images `paths` on the Label page (to sort them into classes there)."""
        self.images_to_label.emit(list(paths))
        self.want_page("label")

    def say(self, text: str) -> None:
        """A short message in the status bar."""
        self.message.emit(text)

    def set_label_folder(self, folder: str) -> None:
        """The Label page's folder of new images."""
        self.project.label_folder = folder
        self.changed()

    def set_label_move(self, move: bool) -> None:
        """Whether labelled images are moved (True) or copied (False) into their class folders."""
        self.project.label_move = move
        self.changed()

    def set_label_key(self, folder: str, key: str, shown: str = "") -> None:
        """Class `folder` is labelled by `key` on the Label page (`core.project.label_key`; "" gives it
        its number again); a class that had the key loses it. One step of the undo stack."""
        keys = {c: k for c, k in self.project.label_keys.items() if c != folder and k != key}
        if key:
            keys[folder] = key
        shown = shown or folder
        self.edit_project(f"key {key} for {shown}" if key else f"{shown}'s own key", {"label_keys": keys})

    def labels_updated(self, changes: dict) -> None:
        """Images were labelled into (+n) or taken back out of (−n) class folders: {class folder: n}."""
        self.labels_changed.emit(changes)

    def set_alpha(self, alpha: float, run: str | None = None) -> None:
        """The blend α of `run` (by default the current run) that Blend, Try and Export use."""
        p = self.project
        run = p.current_run if run is None else run
        if alpha != p.alpha or run != p.alpha_run:
            p.alpha, p.alpha_run = alpha, run
            self.changed()
            self.alpha_changed.emit(alpha)

    def open_at_best_alpha(self, run: str, curve: list[dict]) -> None:
        """Unless an α was already chosen for `run`, take the one with the best ID validation
        accuracy on its curve (the paper's rule): a finished run opens there on every page."""
        from core.weights.curve import best_alpha

        if self.project.alpha_run != run:
            self.set_alpha(best_alpha(curve)["alpha"], run)

    # Engine-facing views of the project -----------------------------------------------------
    def folder(self, stored: str) -> Path | None:
        return self.project.resolve(stored) if stored else None

    def train_config(self, **overrides):
        """A core TrainConfig from the project (FlypError on a bad value)."""
        from core.training.config import TrainConfig
        from core.training.defaults import default_settings

        p = self.project
        images = len(self.datasets.train) if self.datasets is not None else None
        family = default_settings(p.model, images)  # what a setting never set is: the model family's row
        return TrainConfig(
            train_dir=str(self.folder(p.train_dir) or ""), val_dir=str(self.folder(p.val_dir)) if p.val_dir else None,
            ood_dirs=[str(self.folder(d)) for d in p.ood_dirs], val_fraction=p.val_fraction,
            exclude=[str(p.resolve(x)) for x in p.excluded],
            templates=p.templates, class_names=dict(p.class_names), model=p.model,
            pretrained=p.pretrained or None, **(family | p.settings | overrides))
