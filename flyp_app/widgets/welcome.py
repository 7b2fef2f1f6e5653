"""The first screen, before a project is open: the demo project, a new or existing project, the
recent projects, and the path ahead (a card per page)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QLabel, QMainWindow, QPushButton, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from core.project import SUFFIX, recent_projects

RECENT_ROWS = 6
STEPS = (("Data", "Folders of labelled images, one sub-folder per class. Every file that cannot be used is "
                  "listed with its reason before anything trains."),
         ("Label", "Sort new images into the classes: the model suggests, you confirm from the keyboard, and the "
                   "suggestions learn from every label."),
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


class WelcomeView(QWidget):
    """First screen: the demo project, a new or existing project, recent projects, and the path ahead."""

    def __init__(self, window: QMainWindow):
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
        demo.setToolTip("Twelve shapes photographed among clutter, each beside a flat print of another shape; "
                        "sketches and paintings as different conditions")
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
        recent_row = QHBoxLayout()
        recent_row.addWidget(QLabel("Recent projects", objectName="sectionTitle"))
        recent_row.addStretch(1)
        self.open_recent = QPushButton("Open")
        self.open_recent.setToolTip("Open the recent project selected below (or double-click it)")
        self.open_recent.clicked.connect(lambda: self._activated(self.recent.currentItem()))
        recent_row.addWidget(self.open_recent)
        layout.addLayout(recent_row)
        self.recent = QTreeWidget(objectName="recent", rootIsDecorated=False, uniformRowHeights=True)
        self.recent.setAccessibleName("Recent projects")
        self.recent.setHeaderLabels(["Project", "Folder"])
        self.recent.setColumnWidth(0, 260)
        self.recent.itemActivated.connect(self._activated)
        self.recent.currentItemChanged.connect(
            lambda item, _: self.open_recent.setEnabled(item is not None and bool(item.data(0, Qt.UserRole))))
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

    def _activated(self, item: QTreeWidgetItem | None) -> None:
        if item is not None and (path := item.data(0, Qt.UserRole)):
            self.window_.open_project(path)

    def refresh(self) -> None:
        self.recent.clear()
        for path in recent_projects():
            item = QTreeWidgetItem(self.recent, [path.name.removesuffix(SUFFIX), str(path.parent)])
            item.setData(0, Qt.UserRole, str(path))
            item.setToolTip(1, str(path))
        if not self.recent.topLevelItemCount():
            QTreeWidgetItem(self.recent, ["No recent projects yet.", ""]).setDisabled(True)
        else:
            self.recent.setCurrentItem(self.recent.topLevelItem(0))
        self.open_recent.setEnabled(bool(self.recent.currentItem() and self.recent.currentItem().data(0, Qt.UserRole)))
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
