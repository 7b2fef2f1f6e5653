"""The Blend page's gallery of predictions: the misclassified images of a set, or those of one
cell of the confusion matrix; the review actions on the selected ones (the true label may be
the wrong one); and its list saved as CSV (`path,label,predicted,confidence`).
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QGroupBox, QHBoxLayout, QLabel, QListView,
                               QListWidget, QListWidgetItem, QPushButton, QVBoxLayout)

from flyp_app import check_tasks, label_tasks, tasks
from flyp_app.caches import THUMB_SIZE
from flyp_app.file_dialogs import choose_new
from flyp_app.widgets.accessible import open_in_file_manager
from flyp_app.widgets.review_actions import ReviewActions


class PredictionGallery(QGroupBox):
    """`show_set(…)` or `show_items(items, text, filtered)`: items are {"path", "true", "predicted",
    "confidence" (, "thumb")}; the first `tasks.GALLERY_LIMIT` are shown (missing thumbnails are made in the
    background), the CSV has them all. `run` starts a task (the page's `Page.run`);
    `all_mistakes` asks the page to drop the cell filter; `said(text, ok)` is a line for the page."""

    all_mistakes = Signal()
    said = Signal(str, bool)

    def __init__(self, state, run):
        super().__init__("Misclassified images")
        self.state, self._run = state, run
        self.items: list[dict] = []
        self._thumb_worker = None
        self._pixmaps: dict[str, QPixmap] = {}
        layout = QVBoxLayout(self)
        self.label = QLabel("", objectName="pageHint", wordWrap=True)
        layout.addWidget(self.label)
        row = QHBoxLayout()
        layout.addLayout(row, 1)
        self.list = QListWidget()
        self.list.setViewMode(QListView.IconMode)
        # Two lines under each image: the true class, then → the predicted one (a third once acted
        # on). Not uniform item sizes: every item would get the first one's text width.
        self.list.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        self.list.setGridSize(QSize(THUMB_SIZE + 24, THUMB_SIZE + 60))
        self.list.setResizeMode(QListView.Adjust)
        self.list.setMovement(QListView.Static)
        self.list.setWordWrap(True)
        self.list.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.list.setToolTip("Select images (Shift or Ctrl for several) to act on them below; double-click one "
                             "to open it")
        self.list.setAccessibleName("Gallery of predictions")
        self.list.itemActivated.connect(lambda item: open_in_file_manager(item.data(Qt.UserRole), self.list))
        self.list.itemSelectionChanged.connect(self._selection_changed)
        row.addWidget(self.list, 1)
        side = QVBoxLayout()  # the actions beside the images: a row of them would not fit 1024 px
        row.addLayout(side)
        self.actions = ReviewActions(state, self.selected_paths, " Recompute curve measures the blend on the "
                                     "folders as they are now.", vertical=True)
        self.actions.said.connect(self.said)
        side.addWidget(self.actions)
        self.all_button = QPushButton("All mistakes")
        self.all_button.setToolTip("Show every misclassified image again, not only one cell of the matrix")
        self.all_button.setAccessibleName("Show all mistakes")
        self.all_button.clicked.connect(self.all_mistakes)
        self.csv_button = QPushButton("Save list…")
        self.csv_button.setToolTip("Save the images listed here (all of them, not only those shown) as a table: "
                                   "file, true class, predicted class, confidence")
        self.csv_button.setAccessibleName("Save the list as a table")
        self.csv_button.clicked.connect(self.save_dialog)
        side.addStretch(1)
        side.addWidget(self.all_button)
        side.addWidget(self.csv_button)
        self.all_button.hide()
        self.csv_button.setEnabled(False)
        state.images_changed.connect(self.refresh_status)

    def clear(self) -> None:
        self.items = []
        self.list.clear()
        self.label.setText("")
        self.csv_button.setEnabled(False)

    def show_set(self, result: dict, words: str, alpha: float, cell: tuple[int, int] | None) -> None:
        """The misclassified images of one set's exact result (`tasks.evaluate_at`), or, with a
        cell (true, predicted) of its confusion matrix, that cell's images. `words`: the set's name."""
        at = f"α = {alpha:.2f}"
        if cell is not None and "cells" in result:
            (t, p), classes = cell, result["classes"]
            items = [result["images"][i] for i in result["cells"].get(cell, [])]
            what = "correctly classified" if t == p else f"predicted {classes[p]}"
            self.setTitle(f"{classes[t]} → {classes[p]}")
            self.show_items(items, f"{len(items)} {words} image(s) of {classes[t]} {what} at {at}.", filtered=True)
            return
        wrong, n, limit = result["wrong"], result["metrics"]["n"], tasks.GALLERY_LIMIT
        shown = f"; the {limit} most confident mistakes are shown" if len(wrong) > limit else ""
        self.setTitle("Misclassified images")
        self.show_items(wrong, f"{len(wrong)} of {n} {words} images misclassified at {at}{shown}. Labels read true → "
                        "predicted." if wrong else f"No {words} image is misclassified at {at}.", filtered=False)

    def show_items(self, items: list[dict], text: str, filtered: bool) -> None:
        self.items = items
        self.label.setText(text)
        self.all_button.setVisible(filtered)
        self.csv_button.setEnabled(bool(items))
        self.list.setUpdatesEnabled(False)
        self.list.clear()
        for item in items[:tasks.GALLERY_LIMIT]:
            entry = QListWidgetItem(self._icon(item), "")
            entry.setToolTip(f"{item['path']}\ntrue class: {item['true']}\n"
                             f"predicted: {item['predicted']} ({item['confidence']:.0%} sure)")
            entry.setData(Qt.UserRole, item["path"])
            entry.setData(Qt.UserRole + 1, f"{item['true']}\n→ {item['predicted']}")
            self.list.addItem(entry)
        self.list.setUpdatesEnabled(True)
        self.refresh_status()
        missing = [i["path"] for i in items[:tasks.GALLERY_LIMIT] if i["path"] not in self._pixmaps]
        if self._thumb_worker is not None:
            self._thumb_worker.cancel()
        if missing:
            self._thumb_worker = self._run(label_tasks.thumbnails, self.state.caches, missing, THUMB_SIZE,
                                           on_event=self.set_thumbs)

    def _icon(self, item: dict) -> QIcon:
        path = item["path"]
        if path not in self._pixmaps and item.get("thumb"):
            self._pixmaps[path] = QPixmap.fromImage(QImage.fromData(item["thumb"]))
        return QIcon(self._pixmaps[path]) if path in self._pixmaps else QIcon()

    def set_thumbs(self, batch: dict[str, bytes]) -> None:
        for path, png in batch.items():
            self._pixmaps[path] = QPixmap.fromImage(QImage.fromData(png))
        for row in range(self.list.count()):
            entry = self.list.item(row)
            if entry.data(Qt.UserRole) in batch:
                entry.setIcon(QIcon(self._pixmaps[entry.data(Qt.UserRole)]))

    def refresh_status(self) -> None:
        """Each image's two lines, and a third saying what was done with it (moved, left out, kept)."""
        for row in range(self.list.count()):
            entry = self.list.item(row)
            status = self.state.review_status(entry.data(Qt.UserRole))
            entry.setText(entry.data(Qt.UserRole + 1) + (f"\n{status}" if status else ""))
            entry.setForeground(self.palette().placeholderText() if status else self.palette().text())
        self._selection_changed()

    def selected_paths(self) -> list[str]:
        paths = [entry.data(Qt.UserRole) for entry in self.list.selectedItems()]
        return [p for p in paths if not self.state.review_status(p)]

    def _selection_changed(self) -> None:
        self.actions.set_enabled(bool(self.selected_paths()))

    def save_dialog(self) -> None:
        out = choose_new(self, self.state, "Save the list as a table", "predictions.csv", "CSV tables (*.csv)")
        if out:
            self.save(out)

    def save(self, out: str):
        """Write the whole list (not only the images shown) as CSV, in the background."""
        rows = [{"path": i["path"], "label": i["true"], "predicted": i["predicted"], "confidence": i["confidence"]}
                for i in self.items]
        return self._run(check_tasks.save_predictions, rows, out,
                         on_done=lambda path: self.said.emit(f"{len(rows)} image(s) saved in {path}", True),
                         on_error=lambda text: self.said.emit(text, False))
