"""The Label page's top rows: the folder of new images (typed, pasted or chosen) with whether labelling
copies or moves them, and the summary line under it (how many images are left, how many files were
skipped and why, the scan's or the suggestions' progress, and which images the grid shows)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QWidget

from flyp_app.file_dialogs import choose_folder
from flyp_app.widgets.label_grid import VIEWS


class FolderRow(QWidget):
    """New images: [folder] [Choose folder…] [copy/move]. `opened(folder)` when a folder is chosen or
    an existing one typed (Enter); `refused(reason)` when the path typed is no folder ("" once one is);
    `move_chosen(move)` when copy or move is picked."""

    opened = Signal(str)
    refused = Signal(str)
    move_chosen = Signal(bool)

    def __init__(self, state):
        super().__init__()
        self.state = state
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("New images:"))
        self.edit = QLineEdit(placeholderText="type, paste or choose a folder of images to label…",
                              toolTip="The folder of new images to label, sub-folders included (Enter "
                                      "opens a path typed here); dropping a folder on the page opens it too")
        self.edit.returnPressed.connect(self._typed)
        row.addWidget(self.edit, 1)
        choose = QPushButton("Choose folder…")
        choose.clicked.connect(self._choose)
        row.addWidget(choose)
        self.mode = QComboBox()
        self.mode.addItems(["Copy into the training folder", "Move into the training folder"])
        self.mode.setAccessibleName("Copy or move labelled images")
        self.mode.setToolTip("Labelled images are copied into the training folder's class folders, or moved there "
                             "(kept in the project)")
        self.mode.activated.connect(lambda index: self.move_chosen.emit(index == 1))
        row.addWidget(self.mode)

    def _choose(self) -> None:
        if folder := choose_folder(self, self.state, "Folder of images to label", near=self.edit.text()):
            self.opened.emit(folder)

    def _typed(self) -> None:
        text = self.edit.text().strip().strip('"')
        if not Path(text).expanduser().is_dir():
            self.refused.emit(f"{text}: no such folder. Type or paste the path of a folder, or press Choose folder….")
            return
        self.refused.emit("")
        self.opened.emit(str(Path(text).expanduser()))


class SummaryRow(QWidget):
    """“N image(s) to label · M file(s) skipped”, the progress bar of the work under way, and Show: [view]."""

    def __init__(self):
        super().__init__()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel("")
        row.addWidget(self.summary, 1)
        self.progress = QProgressBar(maximumWidth=220, textVisible=False)
        self.progress.hide()
        row.addWidget(self.progress)
        row.addWidget(QLabel("Show:"))
        self.view = QComboBox()
        self.view.addItems(VIEWS)
        self.view.setToolTip("Which images the grid shows, and in what order")
        row.addWidget(self.view)
        self._skipped = 0

    def count(self, left: int, skipped: int | None = None) -> None:
        """`left` images to label; `skipped` files of the folder could not be read (None: as before)."""
        if skipped is not None:
            self._skipped = skipped
        text = f"{left} image(s) to label"
        if self._skipped:
            text += f" · {self._skipped} file(s) skipped (hover for the reasons)"
        self.summary.setText(text)

    def looking(self) -> None:
        self.summary.setText("Looking for images…")

    def skipped(self, problems: list) -> None:
        """The folder is scanned: the files it skipped (each with its path and reason), named on hover."""
        self.progress.hide()
        self.summary.setToolTip("\n".join(f"{p.path}: {p.reason}" for p in problems[:20]))

    def show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setVisible(done < total)

    def clear(self) -> None:
        self.summary.setText("")
        self.progress.hide()
