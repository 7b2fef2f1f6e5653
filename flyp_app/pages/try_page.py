"""Page 5, Try: classify the user's own images with the current run blended at the current α.

Images come from a drop on the window (`add_paths`), the clipboard (`paste`) or the open
buttons. Each is decoded once (its preprocessed pixels are kept), so a new α or run only
re-runs the model; results arrive a batch at a time, and answers for an α or run that is no
longer current are dropped. The images and their answers are `flyp_app.try_items`; a whole folder's
table, its CSV and sorting are `widgets.folder_results`; "Where it looked" is `widgets.heat_choice`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox,
                               QStackedWidget, QVBoxLayout, QWidget)

from flyp_app import blend_tasks, label_tasks, trust_tasks, try_tasks
from flyp_app.file_dialogs import IMAGE_FILTER, choose_files, choose_folder, choose_new
from flyp_app.pages.base import RunPage
from flyp_app.try_items import TryItem, summary_text, table_csv
from flyp_app.widgets.clipboard import clipboard_contents
from flyp_app.widgets.folder_results import CSV_FILTER, FolderResults
from flyp_app.widgets.heat_choice import HeatChoice
from flyp_app.widgets.novelty_control import NoveltyControl
from flyp_app.widgets.try_results import TryResults, folder_text
from flyp_app.words import error_text, sentence

MAX_IMAGES = 500  # a dropped folder of thousands of photos is sampled, not all shown


class TryPage(RunPage):
    title = "Try"
    name = "try"  # how the window and the View menu reach it
    hint = ("Drop images or folders anywhere on the window, paste an image (Ctrl+V), or open files. Each image "
            "gets the classes the model finds most likely, from the run and the α chosen on the Blend page.")

    def __init__(self, state):
        super().__init__(state)
        self.items: list[TryItem] = []
        self._pasted = 0
        self._worker = self._folder_worker = None
        self._seq = 0
        self._dirty = False
        self._choices_target = None  # the (run, weights, α) the "none of these" control was set for
        self._engine_threshold = None  # the threshold of the last answers (chosen on ID validation)
        self._engine_warnings: list[str] = []  # what the last answers' run warns of, said once under the summary
        self._timer = QTimer(self, singleShot=True, interval=150)
        self._timer.timeout.connect(self.classify_pending)
        state.alpha_changed.connect(lambda _: self._changed())
        state.project_changed.connect(self.clear)
        QShortcut(QKeySequence.Paste, self, activated=self.paste)

    def _content(self) -> QWidget:
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 4, 0, 0)
        row = QHBoxLayout()
        for text, slot, tip in (("Open images…", self._open_files, "Choose image files to classify"),
                                ("Open folder…", self._open_folder, "Classify every image in a folder and its sub-folders"),
                                ("Paste", self.paste, "Classify the image on the clipboard (Ctrl+V)"),
                                ("Clear", self.clear, "Remove every image from the list")):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.clicked.connect(slot)
            row.addWidget(button)
        row.addSpacing(20)
        self.model_label = QLabel("", objectName="pageHint", wordWrap=True)  # wraps rather than widen the window
        row.addWidget(self.model_label, 1)
        self.progress = QProgressBar(maximumWidth=180, textVisible=False)
        self.progress.hide()
        row.addWidget(self.progress)
        row.addWidget(QLabel("Classes shown:"))
        self.top_k = QSpinBox(minimum=1, maximum=10, value=3)
        self.top_k.setToolTip("How many of the most likely classes each image shows, with their confidence")
        self.top_k.valueChanged.connect(self._render_all)
        row.addWidget(self.top_k)
        layout.addLayout(row)
        summary_row = QHBoxLayout()
        self.summary = QLabel("", wordWrap=True)
        summary_row.addWidget(self.summary, 1)
        self.save_table = QPushButton("Save table…")
        self.save_table.setToolTip("Save the results as a CSV file (path, class, confidence, then the next classes)")
        self.save_table.clicked.connect(self._save_table)
        self.save_table.setEnabled(False)
        summary_row.addWidget(self.save_table)
        whole = QPushButton("Classify a folder…")
        whole.setToolTip("Classify every image under a folder, however many, into a table to save as CSV or to "
                         "sort into class folders")
        whole.clicked.connect(self._classify_folder_dialog)
        summary_row.addWidget(whole)
        self.heat_choice = HeatChoice()
        self.heat_choice.changed.connect(self._looked_changed)
        self.looked, self.looked_class = self.heat_choice.button, self.heat_choice.classes
        summary_row.addWidget(self.heat_choice)
        self._heat_worker = None
        layout.addLayout(summary_row)
        self.novelty = NoveltyControl()
        self.novelty.threshold_changed.connect(self._threshold_moved)
        layout.addWidget(self.novelty)
        self.results = TryResults()
        self.drop_note = QLabel("Drop images or folders here\n\nor paste an image (Ctrl+V), or use Open images…",
                                alignment=Qt.AlignCenter)
        self.drop_note.setStyleSheet("border: 2px dashed #b8c2cf; border-radius: 12px; color: #5a6472; "
                                     "font-size: 16px; background: white;")
        self.inner = QStackedWidget()
        self.folder_results = FolderResults(self.state, self.run)
        self.folder_results.said.connect(lambda text, ok: self.show_info(text, ok=True) if ok else self.show_error(text))
        self.folder_results.closed.connect(self._close_folder)
        self.inner.addWidget(self.drop_note)
        self.inner.addWidget(self.results)
        self.inner.addWidget(self.folder_results)
        layout.addWidget(self.inner, 1)
        return content

    # Adding images -------------------------------------------------------------------------------
    def add_paths(self, paths) -> None:
        """Classify files and the images inside folders (what the window passes on a drop)."""
        paths = [str(p) for p in paths]
        if paths:
            self.run(try_tasks.expand_paths, paths, on_done=self._expanded)

    def _expanded(self, result) -> None:
        files, rejected = result
        known = {item.key for item in self.items}
        room = max(0, MAX_IMAGES - len(self.items))
        new = [f for f in files if f not in known]
        if len(new) > room:
            self.show_info(f"Showing the first {room} of {len(new)} new images (at most {MAX_IMAGES} at a time; "
                           "Clear makes room).")
        else:
            self.show_error("")
        added = [TryItem(f, Path(f).name, path=f) for f in new[:room]]
        added += [TryItem(p, Path(p).name, path=p, error=reason) for p, reason in rejected if p not in known]
        self._add(added)

    def add_image_data(self, data: bytes, name: str | None = None) -> None:
        """Classify an image given as file bytes (a pasted picture)."""
        self._pasted += 1
        name = name or f"pasted image {self._pasted}"
        self._add([TryItem(name, name, data=data)])

    def _add(self, added: list[TryItem]) -> None:
        if not added:
            return
        first = len(self.items)
        self.items += added
        for row in range(first, len(self.items)):
            self._render(row)
        self.inner.setCurrentWidget(self.results)
        self.results.scrollToItem(self.results.item(first, 1))
        self._show_summary()
        self._changed()

    def paste(self) -> None:
        """Ctrl+V: image data, or image files / folders copied in a file manager."""
        files, image = clipboard_contents()
        if files:
            self.add_paths(files)
        elif image is not None:
            self.add_image_data(image)
        else:
            self.show_error("The clipboard holds no image and no image file to classify.")

    def _open_files(self) -> None:
        self.add_paths(choose_files(self, self.state, "Images to classify", IMAGE_FILTER))

    def _open_folder(self) -> None:
        if folder := choose_folder(self, self.state, "Folder of images to classify"):
            self.add_paths([folder])

    def _save_table(self) -> None:
        from core import atomic
        from core.errors import FlypError

        path = choose_new(self, self.state, "Save the table", "classified.csv", CSV_FILTER)
        if not path:
            return
        try:
            atomic.write_text(path, table_csv(self.items, self.top_k.value(), self._threshold()))
        except FlypError as exc:
            self.show_error(error_text(exc))
            return
        self.show_info(f"Saved the table of {len(self.items)} images to {path}.", ok=True)

    def _show_summary(self) -> None:
        folder = self.inner.currentWidget() is self.folder_results  # the folder's table has its own words
        lines = [summary_text(self.items, threshold=self._threshold()), *map(sentence, self._engine_warnings)]
        self.summary.setText("" if folder else "\n".join(filter(None, lines)))
        self.save_table.setEnabled(not folder and any(item.probs is not None or item.error for item in self.items))

    def clear(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
        self.items, self._engine_warnings = [], []
        self.results.forget()
        self.inner.setCurrentWidget(self.drop_note)
        self.progress.hide()
        self.show_error("")
        self._show_summary()

    # A whole folder: a table of every image, CSV and sorting --------------------------------------
    def _classify_folder_dialog(self) -> None:
        if folder := choose_folder(self, self.state, "Folder of images to classify"):
            self.classify_folder(folder)

    def classify_folder(self, folder: str) -> None:
        """Classify every image under `folder` (any number) with the run at α, in the background."""
        target = self._target()
        if target is None:
            self.show_error("Train a model first: a folder is classified with a finished run.")
            return
        if self._folder_worker is not None:
            self._folder_worker.cancel()
        self.show_error("")
        self.folder_results.start(folder)
        self.inner.setCurrentWidget(self.folder_results)
        self._show_summary()
        self.progress.setRange(0, 0)
        self.progress.show()
        self._folder_worker = self.run(
            label_tasks.classify_folder, self.state.caches, target[0], self.device(), target[2], folder,
            on_event=self.folder_results.add, on_progress=lambda done, total: (self.progress.setRange(0, total),
                                                                              self.progress.setValue(done)),
            on_done=lambda r: (self.folder_results.finish(f"{r['count']} image(s) in {folder}, by {r['description']}."
                                                          + "".join(f" {sentence(w)}" for w in r["warnings"])),
                               self.folder_results.show_scores(label_tasks.folder_scores(folder, target[0],
                                                                              self.folder_results.predictions))),
            on_error=self.folder_results.failed, on_ended=self.progress.hide)

    def _close_folder(self) -> None:
        if self._folder_worker is not None:
            self._folder_worker.cancel()
        self.inner.setCurrentWidget(self.results if self.items else self.drop_note)
        self._show_summary()

    # Classifying -----------------------------------------------------------------------------------
    def _target(self) -> tuple | None:
        run = self.picker.current()
        if run is None or not run.usable:
            return None
        return (run.path, run.stamp, self.state.project.alpha)

    def _run_changed(self, run) -> None:
        self.body.show_run(run)
        self._changed()
        if run is not None and run.usable:  # a run not opened before opens at its best α (from a computed curve)
            worker = {}
            worker["w"] = self.run(blend_tasks.blend_curve, self.state.caches, run.path, cached_only=True,
                                   on_error=lambda _: None,
                                   on_done=lambda curve: curve and not worker["w"].control.cancelled()
                                   and self.state.open_at_best_alpha(run.stored, curve))

    def _changed(self) -> None:
        self._describe()
        self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty or any(not item.calibrated for item in self.items):
            self._dirty = False
            self.classify_pending()

    def _describe(self) -> None:
        run = self.picker.current()
        if run is not None:
            self.model_label.setText(f"{run.name} blended at α = {self.state.project.alpha:.2f} "
                                     "(set α on the Blend page)")

    def classify_pending(self) -> None:
        """Classify every image that has no answer for the current run and α (only while shown)."""
        target = self._target()
        if target is None:
            return
        if not self.isVisible():
            self._dirty = True  # re-predicted when the page is next shown, not on every slider step
            return
        self._ask_choices(target)
        # Raw answers are asked again once a temperature applies (the Blend page computed the α curve)
        raw = any(not i.calibrated and i.target == target for i in self.items) \
            and try_tasks.calibrated_at(target[0], target[2])
        todo = [item for item in self.items
                if not item.error and (item.target != target or raw and not item.calibrated)]
        if not todo:
            return
        if self._worker is not None:
            self._worker.cancel()
        requests = [{"key": i.key, "name": i.name, "path": i.path, "data": i.data, "pixels": i.pixels,
                     "has_thumb": i.thumb is not None} for i in todo]
        self.progress.setRange(0, len(todo))
        self.progress.setValue(0)
        self.progress.show()
        self._seq += 1
        self._worker = self.run(try_tasks.classify_items, self.state.caches, target[0], self.device(), target[2],
                                target, requests,
                                on_event=self._answers, on_progress=lambda done, _: self.progress.setValue(done),
                                on_ended=partial(self._classified, self._seq))

    def _classified(self, seq: int) -> None:
        if seq == self._seq:  # not when a newer request replaced this one
            self.progress.hide()
            self._explain_pending()

    def _answers(self, batch: dict) -> None:
        if batch["target"] != self._target():
            return  # for an α or run that is no longer current
        rows = {item.key: row for row, item in enumerate(self.items)}
        for answer in batch["answers"]:
            row = rows.get(answer["key"])
            if row is None:
                continue  # cleared meanwhile
            item = self.items[row]
            if "error" in answer:
                item.error = answer["error"]
            else:
                item.probs, item.classes, item.target = answer["probs"], batch["classes"], batch["target"]
                item.novelty, item.calibrated = answer.get("novelty"), batch.get("calibrated", True)
                self._engine_threshold, self._engine_warnings = batch.get("threshold"), batch.get("warnings", [])
                self.heat_choice.set_classes(batch["classes"])
                item.pixels = answer.get("pixels", item.pixels)
                item.thumb = answer.get("thumb", item.thumb)
            self._render(row)
        self._show_summary()

    def _render(self, row: int) -> None:
        item = self.items[row]
        where = folder_text(item.path) if item.path else "pasted from the clipboard"
        top, note = None, ""
        if item.error:
            note = item.error
        elif item.probs is not None:
            top = item.top(self.top_k.value())
        else:
            note = "Classifying…" if self._target() is not None else "Waiting for a finished run."
        heat = self._heat_wanted()
        shows_heat = heat is not None and item.heat is not None and item.heat_for == heat
        self.results.show_row(row, item.key, item.name, where, item.heat if shows_heat else item.thumb, top, note,
                              bool(item.error), top is not None and item.unknown(self._threshold()),
                              f"{item.key}|heat|{heat}" if shows_heat else None)

    def _render_all(self) -> None:
        for row in range(len(self.items)):
            self._render(row)

    # "None of these classes" -----------------------------------------------------------------------
    def _ask_choices(self, target: tuple) -> None:
        """The threshold's choices for the run at α, in the background (once per run and α)."""
        if target == self._choices_target:
            return
        self._choices_target = target
        self.novelty.clear()
        self.run(trust_tasks.novelty_choices, self.state.caches, target[0], self.device(), target[2],
                 on_done=lambda choices: target == self._target() and self.novelty.set_choices(choices),
                 on_error=lambda _: None)

    def _threshold(self) -> float | None:
        """The novelty threshold the page applies: the control's, else the engine's (until the
        control's choices arrive)."""
        chosen = self.novelty.threshold()
        return chosen if chosen is not None else self._engine_threshold

    def _threshold_moved(self, threshold: float) -> None:
        self.folder_results.set_threshold(threshold)
        self._render_all()
        self._show_summary()

    # "Where it looked" -----------------------------------------------------------------------------
    def _heat_wanted(self) -> tuple | None:
        """(target, class index or None) of the heat maps to show, or None when they are off."""
        target = self._target()
        if not self.heat_choice.on() or target is None:
            return None
        return (target, self.heat_choice.class_index())

    def _looked_changed(self) -> None:
        self._render_all()
        self._explain_pending()

    def _explain_pending(self) -> None:
        """Heat maps for the answered images that have none for the current run, α and class."""
        wanted = self._heat_wanted()
        if wanted is None:
            return
        todo = [{"key": i.key, "name": i.name, "path": i.path, "data": i.data} for i in self.items
                if i.probs is not None and not i.error and i.heat_for != wanted]
        if not todo:
            return
        if self._heat_worker is not None:
            self._heat_worker.cancel()
        target, class_index = wanted
        self._heat_worker = self.run(trust_tasks.explain_items, self.state.caches, target[0], self.device(), target[2],
                                     target, todo, class_index, on_event=self._heat_arrived)

    def _heat_arrived(self, answer: dict) -> None:
        if (answer["target"], answer["class_index"]) != self._heat_wanted() or "png" not in answer:
            return  # for a run, α or class no longer shown, or an image that could not be explained
        for row, item in enumerate(self.items):
            if item.key == answer["key"]:
                item.heat, item.heat_for = answer["png"], (answer["target"], answer["class_index"])
                self._render(row)
