"""The Data page's label check: a button that checks the project's folders in the background
(`flyp_app.check_tasks.check_labels`, with progress, stoppable), then the list to review:
suspicious labels, near-duplicates, bad images, shortcuts and class warnings (`ReviewList`).

Nothing on disk changes until the user acts on a listed image (`ReviewList`'s actions).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget

from flyp_app import check_tasks, label_tasks
from flyp_app.caches import THUMB_SIZE
from flyp_app.widgets.review_list import ReviewList

UNLIMITED = 16777215  # Qt's QWIDGETSIZE_MAX: no maximum height


class LabelCheck(QWidget):
    """`run` starts a task in a worker (the page's `Page.run`). `said(text, ok)`: a line for the page."""

    said = Signal(str, bool)
    checked = Signal()  # a check finished: its list is shown
    expanded = Signal(bool)  # the list is shown (or hidden again: only the button's row is left)

    def __init__(self, state, run):
        super().__init__()
        self.state, self._run = state, run
        self.report = None
        self._worker = self._thumb_worker = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.button = QPushButton("Check labels")
        self.button.setToolTip("Look for images that are probably in the wrong class folder, nearly identical "
                               "copies (also between training and evaluation folders), bad images (blurred, dark, "
                               "blank…), shortcuts (something other than the object that one class alone shows) "
                               "and small or imbalanced classes. Nothing is changed until you choose an action.")
        self.button.setAccessibleName("Check labels")
        self.button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop checking (the image features computed so far are kept for next time)")
        self.stop_button.setAccessibleName("Stop checking labels")
        self.stop_button.clicked.connect(self.stop)
        self.concepts = QLineEdit(placeholderText="also look for… (a ruler, a watermark)")
        placeholder = self.concepts.fontMetrics().horizontalAdvance(self.concepts.placeholderText())
        self.concepts.setMinimumWidth(placeholder + 16)
        self.concepts.setMaximumWidth(max(260, self.concepts.minimumWidth()))  # its placeholder whole, not cut
        self.concepts.setToolTip("Shortcuts besides styles, text, rulers, hands, frames and backgrounds: things that "
                                 "might sit in one class's pictures only, separated by commas")
        self.concepts.setAccessibleName("Also look for these shortcuts")
        self.concepts.returnPressed.connect(self.start)
        self.concepts.editingFinished.connect(self._save_concepts)
        self.progress = QProgressBar(maximumWidth=220, textVisible=False)
        self.progress.setAccessibleName("Label check progress")
        self.summary = QLabel("", objectName="pageHint", wordWrap=True)
        row.addWidget(self.button)
        row.addWidget(self.concepts)
        row.addWidget(self.progress)
        row.addWidget(self.stop_button)
        row.addWidget(self.summary, 1)
        layout.addLayout(row)
        self.review = ReviewList(state)
        self.review.actions.said.connect(self.said)
        layout.addWidget(self.review, 1)
        self._running(False)
        self._show_list(False)
        state.project_changed.connect(self.clear)
        state.project_changed.connect(self._show_concepts)
        state.restored.connect(self._show_concepts)  # undo / redo

    def _show_concepts(self) -> None:
        """The concepts saved with the project in the field (unless it already says the same)."""
        if self._typed_concepts() != self.state.project.shortcut_concepts:
            self.concepts.setText(", ".join(self.state.project.shortcut_concepts))

    def _typed_concepts(self) -> list[str]:
        return [" ".join(c.split()) for c in self.concepts.text().split(",") if c.strip()]

    def _save_concepts(self) -> bool:
        """The field's concepts saved with the project (undoable); False, and why said, when one is
        not a concept (`core.data.captions.validate_concept`)."""
        from core.data.captions import validate_concept
        from core.errors import FlypError
        from flyp_app.words import error_text

        try:
            concepts = [validate_concept(c, where="The shortcut") for c in self._typed_concepts()]
        except FlypError as exc:
            self.said.emit(error_text(exc), False)
            return False
        self.state.set_shortcut_concepts(list(dict.fromkeys(concepts)))
        return True

    def _show_list(self, shown: bool) -> None:
        """The list, or only the button's row (the class table above gets the room)."""
        self.review.setVisible(shown)
        self.setMaximumHeight(UNLIMITED if shown else self.layout().itemAt(0).sizeHint().height())
        self.expanded.emit(shown)

    def _running(self, running: bool) -> None:
        self.button.setEnabled(not running)
        self.progress.setVisible(running)
        self.stop_button.setVisible(running)

    def clear(self) -> None:
        self.stop()
        self.report = None
        self._show_list(False)
        self.summary.setText("")

    def _folders(self) -> dict:
        p, folder = self.state.project, self.state.folder
        return {"train": str(folder(p.train_dir)), "val": str(folder(p.val_dir)) if p.val_dir else None,
                "ood": [str(folder(d)) for d in p.ood_dirs], "exclude": list(p.excluded), "kept": list(p.kept)}

    def _source(self) -> dict:
        p, data = self.state.project, self.state.datasets
        display = self.review.actions.display
        return {"model": p.model, "pretrained": p.pretrained or None, "classes": list(data.classes),
                "names": [display(c) for c in data.classes], "templates": list(p.templates)}

    def start(self) -> None:
        if self.state.datasets is None:
            self.said.emit("Choose a usable training folder first: the check looks at its class folders.", False)
            return
        if not self._save_concepts():
            return
        self.stop()
        self._running(True)
        self.progress.setRange(0, 0)
        self.summary.setText("Checking labels…")
        self._worker = self._run(check_tasks.check_labels, self.state.caches, self._folders(), self._source(),
                                 str(self.state.project.settings.get("device", "auto")),
                                 list(self.state.project.shortcut_concepts),
                                 on_done=self._done, on_error=self._failed, on_progress=self._progress,
                                 on_event=self.summary.setText, on_cancelled=self._cancelled)

    def stop(self) -> None:
        for worker in (self._worker, self._thumb_worker):
            if worker is not None:
                worker.cancel()
        self._worker = self._thumb_worker = None

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _cancelled(self) -> None:
        if self._worker is not None:  # a newer check is under way
            return
        self._running(False)
        self.summary.setText("Check stopped.")

    def _failed(self, text: str) -> None:
        self._worker = None
        self._running(False)
        self.summary.setText("")
        self.said.emit(text, False)

    def _done(self, report) -> None:
        self._worker = None
        self._running(False)
        self.report = report
        self.summary.setText(
            f"{report.images} images checked with {report.model}: {len(report.suspicious)} suspicious label(s), "
            f"{len(report.near_duplicates)} near-duplicate pair(s), {len({q.path for q in report.quality})} bad "
            f"image(s), {len(report.shortcuts)} shortcut(s), {len(report.warnings)} class warning(s). "
            + (f"The suspicious labels cannot be trusted: {report.ranking_note()}." if not report.trusted else
               "Read the list from the top: the most suspicious come first."))
        self.review.show_report(report)
        self._show_list(True)
        self.checked.emit()
        self._thumb_worker = self._run(label_tasks.thumbnails, self.state.caches, self.review.image_paths(),
                                       THUMB_SIZE, on_event=self.review.set_thumbs)
