"""The main window: a welcome view, then the pages behind a navigation bar."""

from __future__ import annotations

import gc
from pathlib import Path

from PySide6.QtCore import Qt, QSize
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QFileDialog, QFrame, QGridLayout, QHBoxLayout, QLabel, QListWidget, QListWidgetItem,
                               QMainWindow, QMessageBox, QPushButton, QStackedWidget, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from core.errors import FlypError
from core.data.images import is_image_name
from core.project import SUFFIX, Project, recent_projects
from flyp_app import tasks, theme, workers
from flyp_app.pages.blend_page import BlendPage
from flyp_app.pages.captions_page import CaptionsPage
from flyp_app.pages.compare_page import ComparePage
from flyp_app.pages.data_page import DataPage
from flyp_app.pages.export_page import ExportPage
from flyp_app.pages.train_page import TrainPage
from flyp_app.pages.try_page import TryPage
from flyp_app.state import AppState
from flyp_app.words import error_text

PAGES = (DataPage, CaptionsPage, TrainPage, BlendPage, TryPage, ExportPage, ComparePage)  # in the sidebar's order
PROJECT_FILTER = f"FLYP Studio projects (*{SUFFIX})"
RECENT_ROWS = 6
STEPS = (("Data", "Folders of labelled images, one sub-folder per class. Every file that cannot be used is "
                  "listed with its reason before anything trains."),
         ("Captions", "Class names become captions through templates. Measure the zero-shot accuracy: the "
                      "baseline for everything after."),
         ("Train", "Finetune CLIP with FLYP, the loss it was pretrained with. Live curves; stop, close and "
                   "resume any time."),
         ("Blend", "Slide between the original and the finetuned weights, and keep robustness to conditions "
                   "training never showed."),
         ("Try", "Drop images on the window and see the classes the blended model finds, with confidences."),
         ("Export", "A bundle that plain open_clip and “flyp predict” load, optionally ONNX, checked by "
                    "reloading it."),
         ("Compare", "Every run of the project side by side, on the FLYP paper's robustness plot; soups of "
                     "several runs."))


class MainWindow(QMainWindow):
    def __init__(self, state: AppState | None = None, load_engine: bool = True):
        super().__init__()
        self.state = state or AppState()
        self.setWindowTitle("FLYP Studio")
        self.resize(1280, 800)
        self.setAcceptDrops(True)
        self.welcome = WelcomeView(self)
        self.pages = {cls.name: cls(self.state) for cls in PAGES}  # reached by name
        self.nav = QListWidget(objectName="nav")
        self.nav.setFixedWidth(170)
        self.nav.setIconSize(QSize(18, 18))
        for i, page in enumerate(self.pages.values(), 1):
            self.nav.addItem(QListWidgetItem(f"{i}  {page.title}"))
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
        self.state.project_changed.connect(self._project_opened)
        self._show_welcome()
        if load_engine:
            self._engine_worker = workers.start(workers.Worker(tasks.import_engine), on_done=self._engine_ready,
                                                on_error=lambda e: self.engine_label.setText(f"PyTorch failed to load: {e}"))

    def _menus(self) -> None:
        menu = self.menuBar().addMenu("&File")
        for text, shortcut, slot in (("&New project…", QKeySequence.New, self.new_project),
                                     ("&Open project…", QKeySequence.Open, self.open_project_dialog),
                                     ("Open the &demo project", None, self.open_demo),
                                     ("Save project &as…", QKeySequence.SaveAs, self.save_as_dialog),
                                     ("&Quit", QKeySequence.Quit, self.close)):
            action = QAction(text, self)
            if shortcut is not None:
                action.setShortcut(shortcut)
            action.triggered.connect(slot)
            menu.addAction(action)
        self.recent_menu = self.menuBar().addMenu("&Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in recent_projects():
            self.recent_menu.addAction(str(path), lambda p=path: self.open_project(p))
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

    # Projects --------------------------------------------------------------------------------
    def _show_welcome(self) -> None:
        self.nav.setEnabled(False)
        self.nav.setCurrentRow(-1)
        self.stack.setCurrentWidget(self.welcome)
        self.welcome.refresh()

    def _project_opened(self) -> None:
        name = self.state.project.name
        where = f" — {self.state.project.path}" if self.state.project.path else ""
        self.setWindowTitle(f"{name}{where} · FLYP Studio")
        self.nav.setEnabled(True)
        self.show_page("data")

    def open_project(self, path: str | Path) -> bool:
        if self.pages["train"].training():
            self.statusBar().showMessage("A training run is in progress: stop it before opening another project.", 10000)
            return False
        try:
            self.state.open(path)
        except FlypError as exc:
            self.welcome.show_error(error_text(exc))
            self.statusBar().showMessage(error_text(exc), 10000)
            return False
        return True

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", str(Path.home()), PROJECT_FILTER)
        if path:
            self.open_project(path)

    def new_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New project", str(Path.home() / f"My classifier{SUFFIX}"),
                                              PROJECT_FILTER)
        if path:
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
        path, _ = QFileDialog.getSaveFileName(self, "Save project as", str(Path.home()), PROJECT_FILTER)
        if path:
            try:
                self.state.save_as(path)
                self._project_opened()
            except FlypError as exc:
                self.statusBar().showMessage(error_text(exc), 10000)

    def open_demo(self) -> None:
        self.welcome.show_info("Preparing the demo project (writing its images the first time)…")
        workers.start(workers.Worker(tasks.prepare_demo_project), on_done=self.open_project,
                      on_error=self.welcome.show_error)

    # Drag and drop: folders go to the Data page, images to the Try page -------------------------
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        projects = [p for p in paths if p.name.endswith(SUFFIX)]
        if projects:
            self.open_project(projects[0])
            return
        if self.state.project.path is None:
            return
        folders = [p for p in paths if p.is_dir()]
        images = [p for p in paths if p.is_file() and is_image_name(p)]
        if images or (folders and self.stack.currentWidget() is self.pages["try"]):
            self.show_page("try").add_paths(images + folders)
        elif folders:
            self.show_page("data").add_folders(folders)
        event.acceptProposedAction()

    # Closing: never lose a run ---------------------------------------------------------------
    def closeEvent(self, event) -> None:
        train_page = self.pages["train"]
        if train_page.training():
            answer = QMessageBox.question(
                self, "Training is running",
                "A training run is in progress. Stop it and close? It is saved and can be resumed later.")
            if answer != QMessageBox.Yes:
                event.ignore()
                return
            train_page.stop_and_wait()
        for page in self.pages.values():
            page.stop_workers()
        self.state.close_project()
        event.accept()


class WelcomeView(QWidget):
    """First screen: the demo project, a new or existing project, recent projects, and the path ahead."""

    def __init__(self, window: MainWindow):
        super().__init__()
        self.setObjectName("page")
        self.window_ = window
        layout = QVBoxLayout(self)
        layout.setContentsMargins(56, 44, 56, 32)
        layout.addWidget(QLabel("FLYP Studio", objectName="welcomeTitle"))
        layout.addWidget(QLabel("Turn folders of labelled images into a robust classifier: finetune CLIP "
                                "like it was pretrained, blend it with the original, and export it.",
                                objectName="pageHint", wordWrap=True))
        demo = QPushButton("Open the demo project", objectName="primary")
        demo.setToolTip("Ten shapes photographed with a worn camera; sketches and paintings as different conditions")
        demo.clicked.connect(window.open_demo)
        new = QPushButton("New project…")
        new.clicked.connect(window.new_project)
        open_ = QPushButton("Open project…")
        open_.clicked.connect(window.open_project_dialog)
        buttons = QHBoxLayout()
        for b in (demo, new, open_):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout.addSpacing(14)
        layout.addLayout(buttons)
        self.message = QLabel("", wordWrap=True)
        layout.addWidget(self.message)
        layout.addSpacing(14)
        layout.addWidget(QLabel("Recent projects", objectName="sectionTitle"))
        self.recent = QTreeWidget(objectName="recent", rootIsDecorated=False, uniformRowHeights=True)
        self.recent.setHeaderLabels(["Project", "Folder"])
        self.recent.setColumnWidth(0, 260)
        self.recent.itemActivated.connect(self._activated)
        layout.addWidget(self.recent)
        layout.addSpacing(18)
        layout.addWidget(QLabel("How it works", objectName="sectionTitle"))
        layout.addLayout(self._steps())
        layout.addStretch(1)

    @staticmethod
    def _steps() -> QGridLayout:
        grid = QGridLayout()
        grid.setSpacing(12)
        for i, (title, text) in enumerate(STEPS):
            card = QFrame(objectName="card")
            card_layout = QVBoxLayout(card)
            card_layout.addWidget(QLabel(f"{i + 1}  {title}", objectName="cardTitle"))
            card_layout.addWidget(QLabel(text, objectName="pageHint", wordWrap=True), 1, Qt.AlignTop)
            grid.addWidget(card, i // 4, i % 4)
        for column in range(4):
            grid.setColumnStretch(column, 1)
        return grid

    def _activated(self, item: QTreeWidgetItem) -> None:
        if path := item.data(0, Qt.UserRole):
            self.window_.open_project(path)

    def refresh(self) -> None:
        self.recent.clear()
        for path in recent_projects():
            item = QTreeWidgetItem(self.recent, [path.name.removesuffix(SUFFIX), str(path.parent)])
            item.setData(0, Qt.UserRole, str(path))
            item.setToolTip(1, str(path))
        if not self.recent.topLevelItemCount():
            QTreeWidgetItem(self.recent, ["No recent projects yet.", ""]).setDisabled(True)
        # As tall as its rows (up to RECENT_ROWS), so that the steps below stay in view.
        rows = min(self.recent.topLevelItemCount(), RECENT_ROWS)
        row_height = self.recent.sizeHintForRow(0) if self.recent.topLevelItemCount() else 24
        self.recent.setFixedHeight(self.recent.header().sizeHint().height() + rows * row_height
                                   + 2 * self.recent.frameWidth() + 2)

    def show_error(self, text: str) -> None:
        self.message.setStyleSheet("color: #c0392b;")
        self.message.setText(text)

    def show_info(self, text: str) -> None:
        self.message.setStyleSheet("")
        self.message.setText(text)
