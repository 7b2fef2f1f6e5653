"""The Blend page's gallery of predictions: the misclassified images of a set, or those of one
cell of the confusion matrix; the review actions on the selected ones (the true label may be
the wrong one); its list saved as CSV (`path,label,predicted,confidence`); and on request where
the model looked in each image (`flyp_app.widgets.heat_choice`), for its predicted class, its true
class or one class picked.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from flyp_app import blend_tasks, check_tasks, trust_tasks
from flyp_app.file_dialogs import choose_new
from flyp_app.widgets.heat_choice import EACH_OWN, HeatChoice
from flyp_app.widgets.image_gallery import ImageGallery
from flyp_app.widgets.review_actions import ReviewActions
from flyp_app.words import UNCALIBRATED


class PredictionGallery(QGroupBox):
    """`show_set(…)` or `show_items(items, text, filtered)`: items are {"path", "true", "predicted",
    "confidence" (, "thumb")}; the first `blend_tasks.GALLERY_LIMIT` are shown (missing thumbnails are made in the
    background), the CSV has them all. `run` starts a task (the page's `Page.run`), `device()` is
    the device heat maps are computed on; `all_mistakes` asks the page to drop the cell filter;
    `said(text, ok)` is a line for the page."""

    all_mistakes = Signal()
    said = Signal(str, bool)

    def __init__(self, state, run, device=lambda: "auto"):
        super().__init__("Misclassified images")
        self.state, self._run, self._device = state, run, device
        self.items: list[dict] = []
        self._heat_worker = None
        self._heat: dict[tuple, bytes] = {}  # (run, α, class choice, path) → the image with its heat map
        self._target: tuple | None = None    # (run, α) of the images shown
        layout = QVBoxLayout(self)
        self.label = QLabel("", objectName="pageHint", wordWrap=True)
        layout.addWidget(self.label)
        row = QHBoxLayout()
        layout.addLayout(row, 1)
        # Two lines under each image: the true class, then → the predicted one (a third once acted on).
        self.list = ImageGallery(state, run, "Gallery of predictions", lines=3)
        row.addWidget(self.list, 1)
        side = QVBoxLayout()  # the actions beside the images: a row of them would not fit 1024 px
        row.addLayout(side)
        self.actions = ReviewActions(state, self.list.selected_paths, " Recompute curve measures the blend on the "
                                     "folders as they are now.", vertical=True)
        self.actions.said.connect(self.said)
        self.list.selection.connect(self.actions.set_enabled)
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
        self.heat_choice = HeatChoice(vertical=True, own="for the true class",
                                      tip="Show over each image where the model looked (red: most), for the "
                                          "class it predicted, the true class or one class picked")
        self.heat_choice.changed.connect(self._heat_changed)
        side.addWidget(self.heat_choice)
        side.addStretch(1)
        side.addWidget(self.all_button)
        side.addWidget(self.csv_button)
        self.all_button.hide()
        self.csv_button.setEnabled(False)

    def clear(self) -> None:
        self.items = []
        self.list.clear()
        self.label.setText("")
        self.csv_button.setEnabled(False)

    def show_set(self, result: dict, words: str, alpha: float, cell: tuple[int, int] | None,
                 run_dir: str | None = None) -> None:
        """The misclassified images of one set's exact result (`blend_tasks.evaluate_at`) of the run
        `run_dir` at `alpha`, or, with a cell (true, predicted) of its confusion matrix, that
        cell's images. `words`: the set's name."""
        at = f"α = {alpha:.2f}"
        raw = "" if result.get("calibrated", True) else f" {UNCALIBRATED}"
        if (target := (run_dir, alpha) if run_dir else None) != self._target:
            self._heat.clear()  # the maps of another run or α are not shown again
        self._target = target
        self.heat_choice.set_classes(list(result.get("classes", [])))
        if cell is not None and "cells" in result:
            (t, p), classes = cell, result["classes"]
            items = [result["images"][i] for i in result["cells"].get(cell, [])]
            what = "correctly classified" if t == p else f"predicted {classes[p]}"
            self.setTitle(f"{classes[t]} → {classes[p]}")
            self.show_items(items, f"{len(items)} {words} image(s) of {classes[t]} {what} at {at}.{raw}", filtered=True)
            return
        wrong, n, limit = result["wrong"], result["metrics"]["n"], blend_tasks.GALLERY_LIMIT
        shown = f"; the {limit} most confident mistakes are shown" if len(wrong) > limit else ""
        self.setTitle("Misclassified images")
        text = (f"{len(wrong)} of {n} {words} images misclassified at {at}{shown}. Labels read true → predicted."
                if wrong else f"No {words} image is misclassified at {at}.")
        self.show_items(wrong, text + raw, filtered=False)

    def show_items(self, items: list[dict], text: str, filtered: bool) -> None:
        self.items = items
        self.label.setText(text)
        self.all_button.setVisible(filtered)
        self.csv_button.setEnabled(bool(items))
        shown = items[:blend_tasks.GALLERY_LIMIT]
        self.list.show_images([(i["path"], f"{i['true']}\n→ {i['predicted']}",
                                f"{i['path']}\ntrue class: {i['true']}\npredicted: {i['predicted']} "
                                f"({i['confidence']:.0%} sure)") for i in shown],
                              {i["path"]: i["thumb"] for i in shown if i.get("thumb")})
        self._heat_changed()

    # Where it looked ------------------------------------------------------------------------------
    def _heat_key(self, path: str) -> tuple | None:
        """Which heat map of `path` the gallery shows now, or None for the image itself."""
        if not self.heat_choice.on() or self._target is None:
            return None
        return (*self._target, self.heat_choice.class_index(), path)

    def _show_heat(self) -> None:
        shown = {path: self._heat[key] for path in self.list.paths()
                 if (key := self._heat_key(path)) is not None and key in self._heat}
        self.list.set_overlays(shown)

    def _heat_changed(self) -> None:
        """Show the maps there are for the choice, and compute the others in the background."""
        self._show_heat()
        if self._heat_worker is not None:
            self._heat_worker.cancel()
        if self._heat_key("") is None:
            return
        run_dir, alpha = self._target
        choice, classes = self.heat_choice.class_index(), self.heat_choice.names()
        todo = []
        for item in self.items[:blend_tasks.GALLERY_LIMIT]:
            if self._heat_key(item["path"]) not in self._heat:
                todo.append({"key": item["path"], "name": item["path"], "path": item["path"], "data": None})
                if choice == EACH_OWN and item["true"] in classes:
                    todo[-1]["class_index"] = classes.index(item["true"])
        if todo:
            self._heat_worker = self._run(trust_tasks.explain_items, self.state.caches, run_dir, self._device(), alpha,
                                          (run_dir, alpha, choice), todo, None if choice == EACH_OWN else choice,
                                          on_event=self._heat_arrived)

    def _heat_arrived(self, answer: dict) -> None:
        if "png" in answer:  # an image that could not be explained keeps its own picture
            self._heat[(*answer["target"], answer["key"])] = answer["png"]
            self._show_heat()

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
