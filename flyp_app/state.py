"""The app's model: the open project and what the engine found, with signals for the pages.

Pages never talk to each other: they change the state, and react to its signals.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from core.errors import FlypError
from flyp_app.tasks import Caches
from core.project import Project, ProjectLock, load_project, remember_project, save_project
from flyp_app.words import error_text


class AppState(QObject):
    project_changed = Signal()       # a project was opened or created: refresh everything
    data_changed = Signal()          # folders or class names changed: rescan
    scan_finished = Signal(object)   # core.data.folders.Datasets (or None when the folders are unusable)
    templates_changed = Signal()
    settings_changed = Signal()      # model or hyperparameters
    runs_changed = Signal()          # a run was added or finished
    run_selected = Signal(str)       # the run shown on Blend / Try / Export
    alpha_changed = Signal(float)
    engine_ready = Signal()          # torch + open_clip are imported
    message = Signal(str)            # a short status-bar message
    saved = Signal()

    def __init__(self, project: Project | None = None):
        super().__init__()
        self.project = project or Project()
        self.datasets = None          # core.data.folders.Datasets of the last successful scan
        self.scan_error = ""
        self.ready = False
        self.caches = Caches()  # what background tasks keep between calls (thread-safe)
        self._lock: ProjectLock | None = None
        self._save_timer = QTimer(self, singleShot=True, interval=400)
        self._save_timer.timeout.connect(self.save_now)

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
        self.datasets, self.scan_error = None, ""
        self.project_changed.emit()

    def save_as(self, path: str | Path) -> Path:
        """Write the project to a new file and keep working on that file."""
        saved = save_project(self.project, path)
        self._switch_lock(saved)
        remember_project(saved)
        self.saved.emit()
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
            self.saved.emit()
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

    # Convenience setters that save and notify ------------------------------------------------
    def set_folders(self, train: str | None = None, val: str | None = None, ood: list[str] | None = None,
                    val_fraction: float | None = None) -> None:
        p = self.project
        if train is not None:
            p.train_dir = train
        if val is not None:
            p.val_dir = val
        if ood is not None:
            p.ood_dirs = list(ood)
        if val_fraction is not None:
            p.val_fraction = val_fraction
        self.changed()
        self.data_changed.emit()

    def set_class_name(self, folder: str, name: str) -> None:
        self.project.class_names[folder] = name
        self.changed()
        self.templates_changed.emit()

    def set_templates(self, templates: list[str]) -> None:
        self.project.templates = list(templates)
        self.changed()
        self.templates_changed.emit()

    def set_settings(self, **settings) -> None:
        for key in ("model", "pretrained"):
            if key in settings:
                setattr(self.project, key, settings.pop(key))
        self.project.settings.update(settings)
        self.changed()
        self.settings_changed.emit()

    def add_run(self, run_dir: str) -> None:
        if run_dir not in self.project.runs:
            self.project.runs.append(run_dir)
        self.changed()
        self.runs_changed.emit()
        self.select_run(run_dir)

    def select_run(self, run_dir: str) -> None:
        self.project.current_run = run_dir
        self.changed()
        self.run_selected.emit(run_dir)

    def runs_updated(self) -> None:
        """A run finished or stopped: the pages that show runs read them again."""
        self.runs_changed.emit()

    def set_scan(self, datasets, error: str = "") -> None:
        """The result of scanning the project's folders: Datasets, or None and why not."""
        self.datasets, self.scan_error = datasets, error
        self.scan_finished.emit(datasets)

    def set_engine_ready(self) -> None:
        self.ready = True
        self.engine_ready.emit()

    def say(self, text: str) -> None:
        """A short message in the status bar."""
        self.message.emit(text)

    def set_alpha(self, alpha: float) -> None:
        if alpha != self.project.alpha:
            self.project.alpha = alpha
            self.changed()
            self.alpha_changed.emit(alpha)

    # Engine-facing views of the project -----------------------------------------------------
    def folder(self, stored: str) -> Path | None:
        return self.project.resolve(stored) if stored else None

    def train_config(self, **overrides):
        """A core TrainConfig from the project (FlypError on a bad value)."""
        from core.training.config import TrainConfig

        p = self.project
        return TrainConfig(
            train_dir=str(self.folder(p.train_dir) or ""), val_dir=str(self.folder(p.val_dir)) if p.val_dir else None,
            ood_dirs=[str(self.folder(d)) for d in p.ood_dirs], val_fraction=p.val_fraction,
            templates=p.templates, class_names=dict(p.class_names), model=p.model,
            pretrained=p.pretrained or None, **(p.settings | overrides))
