"""The main window: a welcome view (`flyp_app.widgets.welcome`), then the pages behind a navigation bar."""

from __future__ import annotations

import gc
from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QApplication, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QToolButton,
                               QMainWindow, QMessageBox, QSplitter, QStackedWidget, QWidget)

from core.errors import FlypError
from core.data.images import is_image_name
from core.project import SUFFIX, Project, recent_projects
from flyp_app import dialogs, theme, window_tasks, workers
from flyp_app.file_dialogs import choose_file, choose_folder, choose_new
from flyp_app.pages.blend_page import BlendPage
from flyp_app.pages.captions_page import CaptionsPage
from flyp_app.pages.compare_page import ComparePage
from flyp_app.pages.data_page import DataPage
from flyp_app.pages.export_page import ExportPage
from flyp_app.pages.label_page import LabelPage
from flyp_app.pages.train_page import TrainPage
from flyp_app.pages.try_page import TryPage
from flyp_app.state import AppState, app_settings
from flyp_app.words import error_text
from flyp_app.widgets.accessible import name_controls
from flyp_app.widgets import wheel_guard
from flyp_app.widgets.drop_target import highlight, local_paths
from flyp_app.widgets.welcome import WelcomeView

PAGES = (DataPage, LabelPage, CaptionsPage, TrainPage, BlendPage, TryPage, ExportPage, ComparePage)  # in the sidebar's order
PROJECT_FILTER = f"FLYP Studio projects (*{SUFFIX})"
DEFAULT_SIZE = (1280, 800)
FOLDER_ROLES = (("train", "Training folder"), ("val", "Validation folder"), ("ood", "Different conditions"),
                ("label", "New images to label"), ("try", "Classify its images"))


class MainWindow(QMainWindow):
    def __init__(self, state: AppState | None = None, load_engine: bool = True):
        super().__init__()
        wheel_guard.install(QApplication.instance())  # before any page polishes its spin boxes
        self.state = state or AppState()
        self.setWindowTitle("FLYP Studio")
        self.setAcceptDrops(True)
        self.welcome = WelcomeView(self)
        self.pages = {cls.name: cls(self.state) for cls in PAGES}  # reached by name
        self.nav = QListWidget(objectName="nav")
        self.nav.setFixedWidth(170)
        self.nav.setIconSize(QSize(18, 18))
        self.nav.setAccessibleName("Pages")
        for i, page in enumerate(self.pages.values(), 1):
            item = QListWidgetItem(f"{i}  {page.title}")
            item.setToolTip(f"{page.title} (Ctrl+{i})" if i < 10 else page.title)
            self.nav.addItem(item)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.welcome)
        for page in self.pages.values():
            self.stack.addWidget(page)
        self.nav.currentRowChanged.connect(lambda row: self.stack.setCurrentIndex(row + 1) if row >= 0 else None)
        body = QWidget()
        row = QHBoxLayout(body)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(body)
        self._menus()
        self.engine_label = QLabel("Loading PyTorch in the background…")
        self.statusBar().addPermanentWidget(self.engine_label)
        self.state.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.state.page_wanted.connect(self._go_to)
        self.state.project_changed.connect(self._project_opened)
        self._show_welcome()
        self._restore_layout()
        name_controls(self)
        if load_engine:
            self._engine_worker = workers.start(workers.Worker(window_tasks.import_engine),
                                                on_done=self._engine_ready,
                                                on_error=lambda e: self.engine_label.setText(f"PyTorch failed to load: {e}"),
                                                owner=self)

    def _menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._add(file, "&New project…", self.new_project, QKeySequence.New)
        self._add(file, "&Open project…", self.open_project_dialog, QKeySequence.Open)
        self.recent_menu = file.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._add(file, "Open the &demo project", self.open_demo)
        file.addSeparator()
        self.project_actions = [
            self._add(file, "Save project &as…", self.save_as_dialog, QKeySequence.SaveAs),
            self._add(file, "Add run &folder…", self.add_run_dialog,
                      tip="List a run trained elsewhere (on a server, say) in this project"),
            self._add(file, "&Close project", self.close_project, QKeySequence.Close)]
        file.addSeparator()
        self._add(file, "&Quit", self.close, QKeySequence.Quit)
        edit = bar.addMenu("&Edit")
        undo = self.state.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.Undo)
        redo = self.state.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence.Redo)
        edit.addActions([undo, redo])
        view = bar.addMenu("&View")
        self.page_actions = []
        for i, page in enumerate(self.pages.values(), 1):
            action = self._add(view, f"&{page.title}", lambda _=False, n=page.name: self._go_to(n),
                               QKeySequence(f"Ctrl+{i}") if i < 10 else None)
            self.page_actions.append(action)
        view.addSeparator()
        self.page_actions += [self._add(view, "&Next page", lambda: self._step_page(1), QKeySequence("Ctrl+Tab")),
                              self._add(view, "&Previous page", lambda: self._step_page(-1),
                                        QKeySequence("Ctrl+Shift+Tab"))]
        help_ = bar.addMenu("&Help")
        self._add(help_, "FLYP Studio &help", lambda: dialogs.show_help(self), QKeySequence.HelpContents)
        self._add(help_, "&About FLYP Studio", lambda: dialogs.show_about(self, self.state.ready))
        more = bar.findChild(QToolButton, "qt_menubar_ext_button")  # Qt's »: the menus that do not fit
        if more is not None:
            more.setAccessibleName("More menus")
        self._set_project_actions(False)

    def _add(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
            action.setShortcutContext(Qt.ApplicationShortcut)
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _set_project_actions(self, enabled: bool) -> None:
        for action in self.project_actions + self.page_actions:
            action.setEnabled(enabled)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in recent_projects():
            action = self.recent_menu.addAction(path.name.removesuffix(SUFFIX), lambda p=path: self.open_project(p))
            action.setStatusTip(str(path))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def _engine_ready(self, _=None) -> None:
        from core.model.loading import select_device

        # pyqtgraph's import walks every Qt class, so it must run on the UI thread (imported in a
        # worker, it crashed the app under a real display); now, so that no plot waits for it.
        theme.pyqtgraph()
        # torch, open_clip and pyqtgraph leave ~430,000 objects that live as long as the app.
        # Python's full garbage collections would walk them all — a 200 ms pause of every
        # thread, the UI thread included, whenever a worker allocates a lot (scanning a folder,
        # say). Moved to the permanent generation, they are never walked again.
        gc.freeze()
        self.engine_label.setText(f"Engine ready · {select_device('auto').type.upper()}")
        self.state.set_engine_ready()

    def show_page(self, name: str):
        """Show the page called `name` (its sidebar row follows) and return it."""
        self.nav.setCurrentRow(list(self.pages).index(name))
        return self.pages[name]

    def _go_to(self, name: str) -> None:
        if self.nav.isEnabled():  # a project is open
            self.show_page(name)

    def _step_page(self, step: int) -> None:
        if self.nav.isEnabled():
            self.nav.setCurrentRow((max(0, self.nav.currentRow()) + step) % len(self.pages))

    # Projects --------------------------------------------------------------------------------
    def _show_welcome(self) -> None:
        self.nav.setEnabled(False)
        self.nav.setCurrentRow(-1)
        self.stack.setCurrentWidget(self.welcome)
        self.setWindowTitle("FLYP Studio")
        self._set_project_actions(False)
        self.welcome.refresh()

    def _project_opened(self) -> None:
        if self.state.project.path is None:  # closed
            self._show_welcome()
            return
        name = self.state.project.name
        self.setWindowTitle(f"{name} — {self.state.project.path} · FLYP Studio")
        self.nav.setEnabled(True)
        self.show_page("data")
        self._set_project_actions(True)

    def _training(self) -> bool:
        return self.pages["train"].training()

    def open_project(self, path: str | Path) -> bool:
        if self._training():
            self.statusBar().showMessage("A training run is in progress: stop it before opening another project.", 10000)
            return False
        try:
            self.state.open(path)
        except FlypError as exc:
            text = error_text(exc)
            self.welcome.show_error(text)
            self.statusBar().showMessage(text, 10000)
            return False
        return True

    def open_project_dialog(self) -> None:
        if path := choose_file(self, self.state, "Open project", PROJECT_FILTER):
            self.open_project(path)

    def new_project(self) -> None:
        if path := choose_new(self, self.state, "New project", f"My classifier{SUFFIX}", PROJECT_FILTER):
            self.create_project(path)

    def create_project(self, path: str | Path) -> None:
        from core.project import save_project

        project = Project(name=Path(path).name.removesuffix(SUFFIX).removesuffix(".flyp"))
        try:
            saved = save_project(project, path)
        except FlypError as exc:
            self.welcome.show_error(error_text(exc))
            return
        self.open_project(saved)

    def save_as_dialog(self) -> None:
        if path := choose_new(self, self.state, "Save project as", filters=PROJECT_FILTER):
            try:
                self.state.save_as(path)
                self._project_opened()
            except FlypError as exc:
                self.statusBar().showMessage(error_text(exc), 10000)

    def close_project(self) -> bool:
        """Back to the welcome screen, the project saved (a training run is stopped first, if the user agrees)."""
        if not self._stop_training("Close the project"):
            return False
        for page in self.pages.values():
            page.stop_workers()
        self.state.close()
        return True

    def open_demo(self) -> None:
        self.welcome.show_info("Preparing the demo project (writing its images the first time)…")
        workers.start(workers.Worker(window_tasks.prepare_demo_project), on_done=self.open_project,
                      on_error=self.welcome.show_error, owner=self)

    # Runs trained elsewhere -------------------------------------------------------------------
    def add_run_dialog(self) -> None:
        if folder := choose_folder(self, self.state, "Add a run folder to this project"):
            self.add_run_folders([Path(folder)])

    def add_run_folders(self, folders: list[Path]) -> int:
        """List run folders (each holding a run.json), or the runs inside a folder of runs, in the project."""
        runs = [f for f in folders if (f / "run.json").is_file()]
        for folder in folders:
            if folder not in runs and folder.is_dir():
                runs += sorted(sub for sub in folder.iterdir() if (sub / "run.json").is_file())
        if not runs:
            self.statusBar().showMessage(f"{folders[0]}: not a run folder (it has no run.json) and holds none.", 10000)
            return 0
        self.state.add_run_folders([str(run) for run in runs])
        self.statusBar().showMessage(f"Added {len(runs)} run{'s' if len(runs) > 1 else ''} to the project: "
                                     + ", ".join(r.name for r in runs), 10000)
        return len(runs)

    # Drag and drop: projects open, runs join, images go to Try, folders where they are dropped ---
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()
            highlight(self.stack, True)

    def dragLeaveEvent(self, event) -> None:
        highlight(self.stack, False)

    def dropEvent(self, event) -> None:
        highlight(self.stack, False)
        paths = local_paths(event.mimeData())
        event.acceptProposedAction()
        projects = [p for p in paths if p.name.endswith(SUFFIX)]
        if projects:
            self.open_project(projects[0])
            return
        if self.state.project.path is None:
            self.welcome.show_info("Open or create a project first; then drop folders or images on the window.")
            return
        runs = [p for p in paths if (p / "run.json").is_file()]
        if runs:
            self.add_run_folders(runs)
        folders = [p for p in paths if p.is_dir() and p not in runs]
        images = [p for p in paths if p.is_file() and is_image_name(p)]
        on = self.stack.currentWidget()
        role = "try" if images or not folders or on is self.pages["try"] else \
            "label" if on is self.pages["label"] else self.ask_folder_role(folders)
        if role == "label":
            self.show_page("label").open_folder(str(folders[0]))
        elif role == "try" and (images or folders):
            self.show_page("try")
            self.pages["try"].add_paths(images + folders)
        elif role in ("train", "val", "ood"):
            self.show_page("data")
            self.pages["data"].set_folder_role(role, folders)

    def ask_folder_role(self, folders: list[Path]) -> str | None:
        """What dropped folders are for: "train", "val", "ood", "try", or None (cancelled)."""
        box = QMessageBox(QMessageBox.Question, "What is this folder for?",
                          f"Use {folders[0].name if len(folders) == 1 else f'these {len(folders)} folders'} as:",
                          parent=self)
        buttons = {box.addButton(text, QMessageBox.AcceptRole): role for role, text in FOLDER_ROLES}
        box.addButton(QMessageBox.Cancel)
        box.exec()
        return buttons.get(box.clickedButton())

    # Closing: never lose a run ---------------------------------------------------------------
    def _stop_training(self, doing: str) -> bool:
        """Ask before stopping a training run; True when none runs (any more)."""
        train_page = self.pages["train"]
        if not train_page.training():
            return True
        answer = QMessageBox.question(
            self, "Training is running",
            f"A training run is in progress. Stop it and {doing.lower()}? It is saved and can be resumed later.")
        if answer != QMessageBox.Yes:
            return False
        train_page.stop_and_wait()
        return True

    def closeEvent(self, event) -> None:
        if not self._stop_training("Close"):
            event.ignore()
            return
        for page in self.pages.values():
            page.stop_workers()
        self._save_layout()
        self.state.close_project()
        event.accept()

    # Size, position and splitters, as the user left them ---------------------------------------
    def _splitters(self) -> dict[str, QSplitter]:
        found = {}
        for page in self.pages.values():
            for i, splitter in enumerate(page.findChildren(QSplitter)):
                found[f"{page.title}/{splitter.objectName() or i}"] = splitter
        return found

    def _restore_layout(self) -> None:
        settings = app_settings()
        if not self.restoreGeometry(settings.value("window/geometry", b"")):
            screen = self.screen().availableGeometry()
            self.resize(min(DEFAULT_SIZE[0], screen.width()), min(DEFAULT_SIZE[1], screen.height()))
        for key, splitter in self._splitters().items():
            if state := settings.value(f"splitters/{key}"):
                splitter.restoreState(state)

    def _save_layout(self) -> None:
        settings = app_settings()
        settings.setValue("window/geometry", self.saveGeometry())
        for key, splitter in self._splitters().items():
            settings.setValue(f"splitters/{key}", splitter.saveState())
