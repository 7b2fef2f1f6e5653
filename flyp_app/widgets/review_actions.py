"""The actions on listed images, shared by the label check's list and the Blend page's gallery:
move to another class (the file moves, logged, Ctrl+Z undoes), leave out of training (the
project's list; the file stays), keep as is (not listed again). Each goes through `AppState`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QMenu, QPushButton, QVBoxLayout, QWidget

UNDO_HINT = " · Ctrl+Z undoes."


class ReviewActions(QWidget):
    """Three buttons acting on `selected()` (paths). `said(text, ok)` tells the page what happened."""

    said = Signal(str, bool)

    def __init__(self, state, selected: Callable[[], list[str]], after_move: str = "", vertical: bool = False,
                 of: str = ""):
        """`after_move`: a sentence added to the line said after a move; `vertical`: the buttons one
        above the other (beside a gallery, where a row would not fit 1024 px); `of`: which images,
        for screen readers, where a page has two lists ("images found": "Keep as is (images found)")."""
        super().__init__()
        self.state, self.selected, self.after_move = state, selected, after_move
        layout = QVBoxLayout(self) if vertical else QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.move_button = QPushButton("Move to class…")
        self.move_button.setToolTip("Move the selected images' files into another class's folder (their label was "
                                    "wrong). Ctrl+Z puts them back.")
        self.move_menu = QMenu(self.move_button)
        self.move_menu.aboutToShow.connect(self._fill_menu)
        self.move_button.setMenu(self.move_menu)
        self.exclude_button = QPushButton("Leave out of training")
        self.exclude_button.setToolTip("Leave the selected images out of training and of the checks; their files "
                                       "stay where they are. Ctrl+Z takes them back.")
        self.exclude_button.clicked.connect(self.exclude)
        self.keep_button = QPushButton("Keep as is")
        self.keep_button.setToolTip("The selected images are right as they are: the label check will not list them "
                                    "again. Ctrl+Z forgets it.")
        self.keep_button.clicked.connect(self.keep)
        for button in (self.move_button, self.exclude_button, self.keep_button):
            button.setAccessibleName(button.text().rstrip("…") + (f" ({of})" if of else ""))
            layout.addWidget(button)
        layout.addStretch(1)
        self.set_enabled(False)

    def set_enabled(self, enabled: bool) -> None:
        for button in (self.move_button, self.exclude_button, self.keep_button):
            button.setEnabled(enabled)

    def class_folders(self) -> list[str]:
        """The training folder's classes (as the last scan found them)."""
        data = self.state.datasets
        if data is not None:
            return list(data.classes)
        train = self.state.folder(self.state.project.train_dir)
        try:
            return sorted(p.name for p in Path(train).iterdir() if p.is_dir()) if train else []
        except OSError:
            return []

    def display(self, folder: str) -> str:
        from core.data.captions import display_name

        return self.state.project.class_names.get(folder) or display_name(folder) or folder

    def _fill_menu(self) -> None:
        self.move_menu.clear()
        for folder in self.class_folders():
            action = self.move_menu.addAction(self.display(folder))
            action.triggered.connect(lambda _=False, f=folder: self.move_to(f))

    def move_to(self, folder: str) -> None:
        paths = self.selected()
        if not paths:
            return
        error = self.state.review.move(paths, folder)
        if error:
            self.said.emit(error, False)
        else:
            self.said.emit(f"{len(paths)} image(s) moved to {self.display(folder)}{UNDO_HINT}{self.after_move}", True)

    def exclude(self) -> None:
        if paths := self.selected():
            self.state.review.leave_out(paths)
            self.said.emit(f"{len(paths)} image(s) left out of training; the files stay where they are"
                           f"{UNDO_HINT}", True)

    def keep(self) -> None:
        if paths := self.selected():
            self.state.review.keep(paths)
            self.said.emit(f"{len(paths)} image(s) kept as they are: not listed again{UNDO_HINT}", True)
