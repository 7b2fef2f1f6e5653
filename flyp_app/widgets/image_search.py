"""The Data page's search: type a phrase ("a blurry photo", "an empty frame") or drop an image on
the field, and the project's images come back most similar first, as a gallery with the label
check's actions (move to a class, leave out, keep; undoable like every review action). After an
action or its undo the search runs again: a moved image shows where it is now.

The search runs in the background (`flyp_app.check_tasks.search_images`, with progress, stoppable)
with the project's model, or with the run the Blend page shows at its α.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, QTimer, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from core.data.images import is_image_name
from flyp_app import check_tasks, label_tasks
from flyp_app.file_dialogs import IMAGE_FILTER, choose_file
from flyp_app.widgets.blend_run_picker import describe_run
from flyp_app.widgets.drop_target import DropTarget
from flyp_app.widgets.image_gallery import ImageGallery
from flyp_app.widgets.review_actions import ReviewActions

UNLIMITED = 16777215  # Qt's QWIDGETSIZE_MAX: no maximum height
MIN_SOURCE_WIDTH = 120  # px: the least the model's box shrinks to
MODEL = "model"       # the source entry of the project's model (the other entries: run folders)


def is_image_file(path: Path) -> bool:
    return path.is_file() and is_image_name(path)


class SourceBox(QComboBox):
    """The choice of model: as wide as its words where there is room, narrower (cut short; whole in
    its list and its tooltip) where there is not, so that the search field keeps its placeholder."""

    def minimumSizeHint(self) -> QSize:
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), MIN_SOURCE_WIDTH), hint.height())


class ImageSearch(QWidget):
    """`run` starts a task in a worker (the page's `Page.run`). `said(text, ok)`: a line for the page;
    `expanded(shown)`: the gallery is shown, or hidden again (only the search field's row is left)."""

    said = Signal(str, bool)
    expanded = Signal(bool)

    def __init__(self, state, run):
        super().__init__()
        self.state, self._run = state, run
        self._worker = None
        self.matches: list[tuple[str, float]] = []
        self._query: tuple[str, dict] | None = None  # the last search (shown or under way): (what, text= or image=)
        # After a move, leave out, keep or their undo the search runs again (once for a burst of them),
        # so that moved images show where they are now.
        self._again = QTimer(self, singleShot=True, interval=200)
        self._again.timeout.connect(self._search_again)
        state.images_changed.connect(lambda: self._query is not None and self._again.start())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self._top = top = QWidget()
        row = QHBoxLayout(top)
        row.setContentsMargins(0, 0, 0, 0)
        self.field = QLineEdit(placeholderText="search by words (“a blurry photo”) or drop an image here…")
        # Never narrower than its placeholder (the row's other controls give way first, down to 1024 px).
        self.field.setMinimumWidth(self.field.fontMetrics().horizontalAdvance(self.field.placeholderText()) + 16)
        self.field.setToolTip("Words to look for in the project's images, or an image dropped here (or its path): "
                              "the images most like it come first. Enter searches.")
        self.field.setAccessibleName("Search the images")
        self.field.returnPressed.connect(self.start)
        self._drop = DropTarget(self.field, self._dropped, accepts=is_image_file)  # kept: Qt holds the C++ half
        self.choose_button = QPushButton("Choose image…", toolTip="Choose an example image: the project's images "
                                         "most like it come first", accessibleName="Search by an example image")
        self.choose_button.clicked.connect(self._choose_example)
        self.source = SourceBox()
        self.source.setAccessibleName("Search with")
        self.source.currentTextChanged.connect(lambda text: self.source.setToolTip(
            f"Compare with {text}: the project's model as it was pretrained, or the run the Blend page shows, "
            "blended at its α"))
        self.button = QPushButton("Search", toolTip="Rank the project's images by how well they match",
                                  accessibleName="Search")
        self.button.clicked.connect(self.start)
        self.progress = QProgressBar(maximumWidth=160, textVisible=False)
        self.progress.setAccessibleName("Search progress")
        self.stop_button = QPushButton("Stop", toolTip="Stop searching (the image features computed so far are "
                                       "kept for next time)", accessibleName="Stop searching")
        self.stop_button.clicked.connect(self.stop)
        row.addWidget(self.field, 1)
        row.addWidget(self.choose_button)
        row.addWidget(QLabel("with"))
        row.addWidget(self.source)
        for widget in (self.button, self.progress, self.stop_button):
            row.addWidget(widget)
        layout.addWidget(top)
        self.summary = QLabel("", objectName="pageHint", wordWrap=True)
        layout.addWidget(self.summary)
        self._results = results = QWidget()
        below = QHBoxLayout(results)
        below.setContentsMargins(0, 0, 0, 0)
        self.gallery = ImageGallery(state, run, "Images found")
        below.addWidget(self.gallery, 1)
        self.actions = ReviewActions(state, self.gallery.selected_paths, vertical=True, of="images found")
        self.actions.said.connect(self.said)
        self.gallery.selection.connect(self.actions.set_enabled)
        below.addWidget(self.actions)
        layout.addWidget(results, 1)
        self._running(False)
        self._show_results(False)
        for signal in (state.runs_changed, state.run_selected, state.alpha_changed, state.project_changed):
            signal.connect(self._fill_sources)
        state.project_changed.connect(self.clear)
        self._fill_sources()

    def _fill_sources(self, *_) -> None:
        p, current = self.state.project, self.source.currentData()
        self.source.clear()
        self.source.addItem(f"the project's model ({p.model})", MODEL)
        if p.current_run:
            run = describe_run(p.current_run, self.state.folder(p.current_run))
            if run.usable:
                alpha = p.alpha if p.alpha_run == p.current_run else 1.0
                self.source.addItem(f"run {run.name} at α = {alpha:.2f} (Blend page)", run.path)
        self.source.setCurrentIndex(max(0, self.source.findData(current)))
        metrics = self.source.fontMetrics()
        self.source.view().setMinimumWidth(max(metrics.horizontalAdvance(self.source.itemText(i))
                                               for i in range(self.source.count())) + 32)

    def _source(self) -> dict:
        p, data = self.state.project, self.state.datasets
        chosen = self.source.currentData()
        if chosen in (None, MODEL):
            return label_tasks.zero_shot_source(p, data.classes, [self.actions.display(c) for c in data.classes])
        return {"kind": "run", "path": chosen, "alpha": p.alpha if p.alpha_run == p.current_run else 1.0}

    def _folders(self) -> list[str]:
        p, folder = self.state.project, self.state.folder
        return [str(folder(d)) for d in (p.train_dir, p.val_dir, *p.ood_dirs) if d]

    def _show_results(self, shown: bool) -> None:
        """The gallery, or only the search field's row (the class table above gets the room)."""
        self._results.setVisible(shown)
        self.summary.setVisible(shown or bool(self.summary.text()))
        self.setMaximumHeight(UNLIMITED if shown else self.sizeHint().height())
        self.expanded.emit(shown)

    def _running(self, running: bool) -> None:
        self.button.setEnabled(not running)
        self.progress.setVisible(running)
        self.stop_button.setVisible(running)

    def _dropped(self, files: list[Path]) -> None:
        self.search_example(str(files[0]))

    def _choose_example(self) -> None:
        typed = self.field.text().strip().strip('"')
        near = typed if typed and Path(typed).expanduser().exists() else ""
        if image := choose_file(self, self.state, "Example image", IMAGE_FILTER, near=near):
            self.search_example(image)

    def start(self) -> None:
        """Search for the field's words, or for the image whose path it holds."""
        text = " ".join(self.field.text().split()).strip('"')
        if text and is_image_file(Path(text).expanduser()):
            self.search_example(str(Path(text).expanduser()))
        elif text:
            self.search_text(text)
        else:
            self.said.emit("Type a few words to search for (such as “a blurry photo”), or drop an image on the "
                           "search field.", False)

    def search_text(self, phrase: str) -> None:
        self.field.setText(phrase)
        self._search(f"“{phrase}”", text=phrase)

    def search_example(self, image: str) -> None:
        self.field.setText(image)
        self._search(f"images like {Path(image).name}", image=image)

    def _search_again(self) -> None:
        """The last search once more; an example image that was moved is searched for where it is now."""
        if self._query is None:
            return
        what, query = self._query
        if "image" in query:  # `moved` holds {first path: path now} while a move is not undone
            query = {"image": self.state.review.moved.get(query["first"], query["first"]), "first": query["first"]}
            self.field.setText(query["image"])
        self._search(what, **query)

    def _search(self, what: str, **query) -> None:
        self._again.stop()
        if self.state.datasets is None:
            self.said.emit("Choose a usable training folder first: the search looks through the project's "
                           "folders.", False)
            return
        self.stop()
        if "image" in query and "first" not in query:
            first = {now: was for was, now in self.state.review.moved.items()}
            query["first"] = first.get(query["image"], query["image"])
        self._query = (what, dict(query))
        query.pop("first", None)
        self._running(True)
        self.progress.setRange(0, 0)
        self.summary.setText(f"Searching for {what}…")
        self.summary.show()
        self._worker = self._run(check_tasks.search_images, self.state.caches, self._folders(), self._source(),
                                 str(self.state.project.settings.get("device", "auto")), **query,
                                 on_done=lambda result: self._done(result, what), on_error=self._failed,
                                 on_progress=self._progress, on_event=self.summary.setText,
                                 on_cancelled=self._cancelled)

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        self.gallery.stop()

    def clear(self) -> None:
        self.stop()
        self._again.stop()
        self._query = None
        self.matches = []
        self.gallery.clear()
        self.summary.setText("")
        self._running(False)
        self._show_results(False)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _cancelled(self) -> None:
        if self._worker is not None:  # a newer search is under way
            return
        self._running(False)
        self._query = None
        self.summary.setText("Search stopped.")

    def _failed(self, text: str) -> None:
        self._worker = None
        self._query = None
        self._running(False)
        self.summary.setText("")
        self.said.emit(text, False)

    def _done(self, result: dict, what: str) -> None:
        self._worker = None
        self._running(False)
        self.matches = result["matches"]
        shown = len(self.matches)
        first = f"the {shown} most similar" if shown < result["searched"] else "all of them"
        self.summary.setText(f"{result['searched']} images compared with {what} by {result['description']}: "
                             f"{first}, most similar first (similarity from −1 to 1).")
        display = self.actions.display
        self.gallery.show_images([(path, f"{display(Path(path).parent.name)} · {similarity:.2f}",
                                   f"{path}\nsimilarity {similarity:.3f}") for path, similarity in self.matches])
        self._show_results(True)
