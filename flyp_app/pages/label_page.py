"""Page 2, Label: sort a folder of new images into the training folder's classes, keyboard first.

The model suggests a class for each image (zero-shot with the Captions page's templates, or a
run at the Blend page's α); after every `REFIT_EVERY` labels, or on demand, a linear probe on
the labelled images' cached features sharpens the suggestions. Each label copies (or moves)
the image into its class folder under a new name, is logged in the project folder, and Ctrl+Z
puts the files back as they were. Images of the project itself, sent from the Data page's map
("Label these"), are moved as the label check's Move to class moves them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QComboBox, QCompleter, QHBoxLayout, QInputDialog, QLabel, QLineEdit,
                               QListWidgetItem, QProgressBar, QPushButton, QScrollArea)

from flyp_app import label_tasks
from flyp_app.file_dialogs import choose_folder
from flyp_app.file_moves import Labelled
from flyp_app.pages.base import Page
from flyp_app.widgets.blend_run_picker import describe_run
from flyp_app.widgets.label_grid import CELL, VIEWS, ClassBar, LabelGrid, LabelItem, in_view_order
from flyp_app.widgets.label_heat import LabelHeat
from flyp_app.words import error_text

REFIT_EVERY = 10
ZERO_SHOT = "zero-shot"


class LabelPage(Page):
    title = "Label"
    name = "label"  # how the window and the View menu reach it
    hint = ("Sort new images into your classes, least sure first. Keys: a class's number or its name labels "
            "the selected images, Enter accepts the suggestion, Space skips, Ctrl+Z undoes. Labelled images go "
            "into the training folder's class folders, and the suggestions learn from them.")

    def __init__(self, state):
        super().__init__(state)
        self.items: dict[str, LabelItem] = {}
        self.classes: list[str] = []      # class folder names, in the training folder's order
        self._made_here: list[str] = []   # classes made with New class… whose folder may not exist yet
        self.labeller = None
        self.from_project = False  # the images are the project's own (the Data page's map): labelling moves them
        self._own_moved: list[str] = []  # those of them moved into another class from here
        self.since_fit = 0
        self._skipped = 0
        self._refused = ""  # the message refusing a typed class name, while it shows
        self._pending = ""  # the project's folder of new images, opened when the page is shown
        self._thumb_cache: dict[str, bytes] = {}   # path → PNG, kept while the folder is open
        self._removed: dict[str, LabelItem] = {}   # labelled images, to bring back on undo
        self._scan_worker = self._suggest_worker = self._thumb_worker = None
        self._top_rows()
        self.grid = LabelGrid()
        self.grid.number.connect(self._number)
        self.grid.accept.connect(self.accept_suggestion)
        self.grid.skip.connect(self.skip)
        self.grid.undo.connect(self.undo)
        self.grid.typed.connect(self._start_typing)
        self.layout_.addWidget(self.grid, 1)
        self.heat = LabelHeat(self.grid, self.run, state.caches, self._source, self.device, lambda: self.items,
                              lambda: self.classes, lambda path: self._thumb_cache.get(path))
        self._bottom_rows()
        self.add_status_line()
        state.project_changed.connect(self._load_project)
        state.images_to_label.connect(self.open_files)
        state.images_changed.connect(self._own_images_changed)
        state.scan_finished.connect(lambda _: self._refresh_classes())
        state.templates_changed.connect(self._refresh_classes)
        state.runs_changed.connect(self._fill_sources)
        state.alpha_changed.connect(lambda _: self._source()["kind"] == "run" and self._source_changed())

    # Layout ---------------------------------------------------------------------------------
    def _top_rows(self) -> None:
        row = QHBoxLayout()
        row.addWidget(QLabel("New images:"))
        self.folder_edit = QLineEdit(placeholderText="type, paste or choose a folder of images to label…",
                                     toolTip="The folder of new images to label, sub-folders included (Enter "
                                             "opens a path typed here); dropping a folder on the page opens it too")
        self.folder_edit.returnPressed.connect(self._typed_folder)
        row.addWidget(self.folder_edit, 1)
        choose = QPushButton("Choose folder…")
        choose.clicked.connect(self._choose_folder)
        row.addWidget(choose)
        self.mode = QComboBox()
        self.mode.addItems(["Copy into the training folder", "Move into the training folder"])
        self.mode.setAccessibleName("Copy or move labelled images")
        self.mode.setToolTip("Labelled images are copied into the training folder's class folders, or moved there "
                             "(kept in the project)")
        self.mode.activated.connect(self._mode_chosen)
        row.addWidget(self.mode)
        self.layout_.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("Suggestions from:"))
        self.source = QComboBox()
        # a run's long name must not widen the window: the combo shows ~24 characters, the list all of it
        self.source.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.source.setMinimumContentsLength(24)
        self.source.setToolTip("What suggests a class for each image: the zero-shot model (your class names and "
                               "captions), or a finished run at the Blend page's α; both learn from your labels")
        self.source.activated.connect(lambda _: self._source_changed())
        row.addWidget(self.source)
        self.source_note = QLabel("", objectName="pageHint", wordWrap=True)
        row.addWidget(self.source_note, 1)
        self.refit_button = QPushButton("Update suggestions")
        self.refit_button.setToolTip("Learn from every labelled image now (it also happens after every "
                                     f"{REFIT_EVERY} labels)")
        self.refit_button.clicked.connect(self.update_suggestions)
        row.addWidget(self.refit_button)
        self.layout_.addLayout(row)
        row = QHBoxLayout()
        self.summary = QLabel("")
        row.addWidget(self.summary, 1)
        self.progress = QProgressBar(maximumWidth=220, textVisible=False)
        self.progress.hide()
        row.addWidget(self.progress)
        row.addWidget(QLabel("Show:"))
        self.view = QComboBox()
        self.view.addItems(VIEWS)
        self.view.setToolTip("Which images the grid shows, and in what order")
        self.view.activated.connect(lambda _: self._arrange())
        row.addWidget(self.view)
        self.layout_.addLayout(row)

    def _bottom_rows(self) -> None:
        self.bar = ClassBar()
        self.bar.chosen.connect(lambda i: self.assign(self.classes[i]))
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.NoFrame)
        scroll.setWidget(self.bar)
        scroll.setMaximumHeight(96)
        self.layout_.addWidget(scroll)
        row = QHBoxLayout()
        self.name_edit = QLineEdit(placeholderText="or type a class name and press Enter")
        self.name_edit.setAccessibleName("Class name")
        self.name_edit.setToolTip("Label the selected images with a class typed by name (an existing one, or a new "
                                  "one, made as a folder in the training folder)")
        self.name_edit.returnPressed.connect(self._typed_name)
        self.name_edit.textEdited.connect(self._name_retyped)
        self.completer = QCompleter([], self.name_edit, caseSensitivity=Qt.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchContains)
        self.name_edit.setCompleter(self.completer)
        row.addWidget(self.name_edit, 1)
        row.addWidget(self.heat.choice)
        new_class = QPushButton("New class…", toolTip="Add a class: a new folder in the training folder")
        new_class.clicked.connect(self._new_class_dialog)
        row.addWidget(new_class)
        undo = QPushButton("Undo")
        undo.setToolTip("Put the last labelled images back (Ctrl+Z)")
        undo.clicked.connect(self.undo)
        row.addWidget(undo)
        self.layout_.addLayout(row)

    # Project, classes, sources ---------------------------------------------------------------
    def _load_project(self) -> None:
        p = self.state.project
        self.mode.setCurrentIndex(1 if p.label_move else 0)
        self.folder_edit.setText(p.label_folder)
        self.labeller = None
        self._made_here = []  # the classes are the new project's alone
        self._clear()
        self._fill_sources()
        self._refresh_classes()
        # The remembered folder opens when the page is first shown: opening a project stays quick.
        self._pending = str(self.state.folder(p.label_folder)) if p.label_folder else ""
        if self._pending and self.isVisible():
            self.showEvent(None)

    def showEvent(self, event) -> None:
        if event is not None:
            super().showEvent(event)
        if self._pending:
            folder, self._pending = self._pending, ""
            self.open_folder(folder, remember=False)

    def _train_dir(self) -> Path | None:
        return self.state.folder(self.state.project.train_dir)

    def _refresh_classes(self) -> None:
        data = self.state.datasets
        found = list(data.classes) if data is not None else self._class_folders()
        self.classes = found + [c for c in self._made_here if c not in found]
        names = [self.display(c) for c in self.classes]
        self.bar.set_classes(names)
        self.heat.set_classes(names)
        self.completer.model().setStringList(names + [c for c in self.classes if c not in names])
        self._render_all()

    def _class_folders(self) -> list[str]:
        train = self._train_dir()
        try:
            return sorted(p.name for p in train.iterdir() if p.is_dir() and not p.name.startswith(".")) if train else []
        except OSError:
            return []

    def display(self, folder: str) -> str:
        from core.data.captions import display_name

        return self.state.project.class_names.get(folder) or display_name(folder) or folder

    def _fill_sources(self) -> None:
        current = self.source.currentData()
        self.source.clear()
        self.source.addItem("Zero-shot", ZERO_SHOT)
        for stored in self.state.project.runs:
            run = describe_run(stored, self.state.folder(stored))
            if run.usable:
                self.source.addItem(f"Run {run.name}", run.path)
        index = self.source.findData(current)
        self.source.setCurrentIndex(max(0, index))
        self._describe_source()

    def _source(self) -> dict:
        p = self.state.project
        data = self.source.currentData()
        if data in (None, ZERO_SHOT):
            return {"kind": "zero-shot", "model": p.model, "pretrained": p.pretrained or None,
                    "classes": list(self.classes), "names": [self.display(c) for c in self.classes],
                    "templates": list(p.templates)}
        return {"kind": "run", "path": data, "alpha": p.alpha}

    def _describe_source(self) -> None:
        source = self._source()
        if source["kind"] == "zero-shot":
            self.source_note.setText(f"model {source['model']} with the Captions page's {len(source['templates'])} "
                                     "template(s)")
        else:
            self.source_note.setText(f"blended at α = {source['alpha']:.2f} (set α on the Blend page)")

    def _source_changed(self) -> None:
        self._describe_source()
        if self.items:
            self.update_suggestions()

    def _mode_chosen(self, index: int) -> None:
        self.state.set_label_move(index == 1)
        if self.labeller is not None:
            self.labeller.move = index == 1

    # The folder of new images --------------------------------------------------------------------
    def _choose_folder(self) -> None:
        if folder := choose_folder(self, self.state, "Folder of images to label", near=self.folder_edit.text()):
            self.open_folder(folder)

    def _typed_folder(self) -> None:
        text = self.folder_edit.text().strip().strip('"')
        if not Path(text).expanduser().is_dir():
            self.show_error(f"{text}: no such folder. Type or paste the path of a folder, or press Choose folder….")
            return
        self.show_error("")
        self.open_folder(str(Path(text).expanduser()))

    def open_folder(self, folder: str, remember: bool = True) -> None:
        """Scan `folder` (any depth) and show its images; remembered in the project."""
        self.from_project = False
        if remember:
            self.state.set_label_folder(folder)
        self.folder_edit.setText(folder)
        self._clear()
        self.summary.setText("Looking for images…")
        if self._scan_worker is not None:
            self._scan_worker.cancel()
        self._scan_worker = self.run(label_tasks.scan_unlabelled, folder, on_done=self._scanned,
                                     on_progress=self._show_progress, on_error=self._scan_failed)

    def _scan_failed(self, text: str) -> None:
        self.summary.setText("")
        self.progress.hide()
        self.show_error(text)

    def _scanned(self, scan) -> None:
        self.progress.hide()
        skipped = "".join(f"\n{p.path}: {p.reason}" for p in scan.skipped[:20])
        self.summary.setToolTip(skipped.strip())
        self._show_files(list(map(str, scan.files)), len(scan.skipped))

    def open_files(self, paths: list[str]) -> None:
        """Images of the project itself (sent from the Data page's map): labelling one moves it into
        the class chosen, as the label check's Move to class does (`_move_own`)."""
        self._clear()
        self.from_project, self.labeller, self._own_moved = True, None, []
        self.folder_edit.setText("")
        self.summary.setToolTip("")
        self._show_files(list(paths), 0)

    def _show_files(self, paths: list[str], skipped: int) -> None:
        for order, path in enumerate(paths):
            self.items[path] = LabelItem(path, order)
        self._arrange()
        self._summarise(skipped)
        paths = list(self.items)
        if self._thumb_worker is not None:
            self._thumb_worker.cancel()
        self._thumb_worker = self.run(label_tasks.thumbnails, self.state.caches, paths, on_event=self._thumbs)
        self.update_suggestions()

    def _summarise(self, skipped: int | None = None) -> None:
        if skipped is not None:
            self._skipped = skipped
        text = f"{len(self.items)} image(s) to label"
        if self._skipped:
            text += f" · {self._skipped} file(s) skipped (hover for the reasons)"
        self.summary.setText(text)

    def _clear(self) -> None:
        for worker in (self._scan_worker, self._suggest_worker, self._thumb_worker):
            if worker is not None:
                worker.cancel()
        self.items, self._thumb_cache, self._removed = {}, {}, {}
        self.heat.forget()
        self.grid.clear()
        self.summary.setText("")
        self.progress.hide()

    def _thumbs(self, batch: dict) -> None:
        for path, png in batch.items():
            item = self.items.get(path)
            if item is not None and item.widget is not None:
                item.widget.setIcon(QIcon(QPixmap.fromImage(QImage.fromData(png))))
        self._thumb_cache.update(batch)
        self.heat.show()

    def _show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setVisible(done < total)

    # Suggestions -------------------------------------------------------------------------------------
    def update_suggestions(self) -> None:
        """Suggest again for every image left, learning from everything labelled so far."""
        if not self.classes:
            self.show_error("No classes yet: choose the training folder on the Data page (one sub-folder per "
                            "class), or make a class with New class….")
            return
        if not self.items:
            return
        if self._suggest_worker is not None:
            self._suggest_worker.cancel()
        self.since_fit = 0
        for item in self.items.values():  # judged again by the new source (zero-shot judges nothing)
            item.known = None
        self.show_info("Computing suggestions (each image's features once; they are kept for next time)…")
        classes = list(self.classes)
        self._suggest_worker = self.run(label_tasks.suggest, self.state.caches, self._source(), self.device(),
                                        list(self.items), self._labelled(), classes,
                                        on_event=lambda batch: self._suggested(batch, classes),
                                        on_progress=self._show_progress, on_done=self._suggestions_done)

    def _labelled(self) -> list[tuple[str, str]]:
        """Every labelled image: the training folder's (as last scanned) and those labelled here since."""
        data = self.state.datasets
        pairs = [(str(s.path), data.classes[s.label]) for s in data.train if str(s.path) not in self.items
                 or not self.from_project] if data is not None else []  # not the project's images being judged
        if self.labeller is not None:
            pairs += [(str(a.destination), a.class_name) for step in self.labeller.history for a in step]
        return pairs

    def _suggested(self, batch: dict, classes: list[str]) -> None:
        if classes != self.classes:  # suggestions for the classes of a project (or a moment) gone
            return
        for path, probs in batch["probs"].items():
            if (item := self.items.get(path)) is not None:
                item.probs = probs
                self._render(item)
        for path, known in batch.get("known", {}).items():
            if (item := self.items.get(path)) is not None:
                item.known = known
                self._render(item)

    def _suggestions_done(self, result: dict) -> None:
        self.progress.hide()
        learned = result["learned_from"]
        self.show_info(f"Suggestions from {result['description']}"
                       + (f", sharpened by {learned} labelled image(s)." if learned else "."))
        self._arrange()
        self.heat.refresh()  # the maps of the suggested classes, which may have changed

    # The grid ---------------------------------------------------------------------------------------
    def _suggestion(self, item: LabelItem) -> tuple[str, float] | None:
        return item.suggestion(self.classes)

    def _render(self, item: LabelItem) -> None:
        if item.widget is None:
            return
        suggestion = self._suggestion(item)
        name = Path(item.path).name
        # a no-break space keeps the class and its confidence on one line
        text = f"{self.display(suggestion[0])}\u00a0{suggestion[1]:.0%}" if suggestion else "…"
        if suggestion and item.known is False:  # unlike the run's training images of every class
            text = f"none of these?\u00a0({text})"
        item.widget.setText(f"{text}\n{name}")
        item.widget.setToolTip(item.path + ("\nUnlike the training images of every class: perhaps none of these "
                                            "classes." if suggestion and item.known is False else ""))

    def _render_all(self) -> None:
        for item in self.items.values():
            if item.probs is not None and len(item.probs) != len(self.classes):
                item.probs = None  # a class was added: suggested again below
            self._render(item)

    def _arrange(self) -> None:
        """Fill the grid in the chosen view's order; the first image is the one to label next."""
        thumbs = self._thumb_cache
        self.grid.clear()
        for item in in_view_order(list(self.items.values()), self.view.currentText(), self.classes):
            widget = QListWidgetItem()
            widget.setSizeHint(CELL)  # the grid's items are all of one size: the text must not set it
            widget.setData(Qt.UserRole, item.path)
            if item.path in thumbs:
                widget.setIcon(QIcon(QPixmap.fromImage(QImage.fromData(thumbs[item.path]))))
            item.widget = widget
            self.grid.addItem(widget)
            self._render(item)
        self._select_row(0)

    def _select_row(self, row: int) -> None:
        if self.grid.count():
            row = max(0, min(row, self.grid.count() - 1))
            self.grid.setCurrentRow(row)
            self.grid.scrollToItem(self.grid.item(row))

    def selected(self) -> list[LabelItem]:
        return [self.items[w.data(Qt.UserRole)] for w in self.grid.selectedItems() if w.data(Qt.UserRole) in self.items]

    # Labelling -------------------------------------------------------------------------------------
    def _number(self, digit: int) -> None:
        index = self.bar.class_for_key(digit)
        if index is not None:
            self.assign(self.classes[index])
        else:
            self.show_error(f"There is no class {digit}: {len(self.classes)} classes.")

    def accept_suggestion(self) -> None:
        """Label each selected image with its own suggestion."""
        chosen = [i for i in self.selected() if i.probs]
        by_class: dict[str, list[LabelItem]] = {}
        for item in chosen:
            by_class.setdefault(self._suggestion(item)[0], []).append(item)
        for folder, items in by_class.items():
            self.assign(folder, items)

    def skip(self) -> None:
        self._select_row(self.grid.currentRow() + 1)

    def _start_typing(self, text: str) -> None:
        self.name_edit.setFocus()
        self.name_edit.setText(self.name_edit.text() + text)

    def _typed_name(self) -> None:
        text = self.name_edit.text().strip()
        folder = self.find_class(text)
        if folder is None:
            self._refused = f"No class is called “{text}”: use New class… to make one."
            self.show_error(self._refused)
            return
        self.name_edit.clear()
        self.assign(folder)
        self.grid.setFocus()

    def _name_retyped(self, text: str) -> None:
        """The refused name's message goes once the name typed is one of the classes."""
        if self._refused and self.status.text() == self._refused and self.find_class(text.strip()):
            self._refused = ""
            self.show_error("")

    def find_class(self, text: str) -> str | None:
        lowered = text.casefold()
        return next((c for c in self.classes if lowered in (c.casefold(), self.display(c).casefold())), None)

    def _new_class_dialog(self) -> None:
        name, ok = QInputDialog.getText(self, "New class", "Name of the new class (its folder's name):")
        if ok:
            self.new_class(name)

    def new_class(self, name: str) -> bool:
        """Add a class (its folder is made with its first image); False with a message if it cannot be."""
        from core.errors import FlypError
        from core.labelling.files import check_class_name

        name = name.strip()
        try:
            check_class_name(name)
        except FlypError as exc:
            self.show_error(error_text(exc))
            return False
        if self.find_class(name) is not None:
            self.show_error(f"There is a class called “{name}” already.")
            return False
        self._made_here.append(name)
        self._refresh_classes()
        self.show_info(f"New class “{name}”: its folder is made in the training folder with its first image.")
        if self.items:
            self.update_suggestions()
        return True

    def _ensure_labeller(self) -> bool:
        from core.labelling.files import LabelLog, Labeller, log_path

        train, project = self._train_dir(), self.state.project
        if train is None or project.path is None:
            self.show_error("Choose the training folder on the Data page first: labelled images go into its "
                            "class folders.")
            return False
        if self.labeller is None or self.labeller.train_dir != train:
            self.labeller = Labeller(train, LabelLog(log_path(project.path)), project.label_move)
        return True

    def assign(self, folder: str, items: list[LabelItem] | None = None) -> None:
        """Label `items` (default: the selected images) as class `folder`: one step of the app's
        undo stack (Edit ▸ Undo, Ctrl+Z, this page's Undo button)."""
        items = items if items is not None else self.selected()
        if self.from_project:
            self._move_own(folder, items)
            return
        if not items or not self._ensure_labeller():
            return
        row = min(self.grid.row(i.widget) for i in items)
        done = self.label_files(self.labeller, [i.path for i in items], folder)
        if done:
            self.state.undo_stack.push(Labelled(self, self.labeller, [str(a.source) for a in done], folder))
        self._select_row(row)
        if self.since_fit >= REFIT_EVERY:
            self.update_suggestions()

    def label_files(self, labeller, paths: list[str], folder: str) -> list:
        """Copy (or move) `paths` into class `folder` with `labeller`; their images leave the grid.
        Returns the assignments made (up to a file that failed, which is named)."""
        from core.labelling.files import AssignError

        suggestions = [(s[0], s[1]) if (item := self.items.get(p)) and (s := self._suggestion(item)) else ("", None)
                       for p in paths]
        try:
            done, error = labeller.assign(paths, folder, suggestions), ""
        except AssignError as exc:
            done, error = exc.done, error_text(exc)
        for a in done:
            self._remove(str(a.source))
        if done:
            self.state.labels_updated({folder: len(done)})
            self.since_fit += len(done)
        self._summarise()
        if error:
            self.show_error(error)
        else:
            verb = "moved" if labeller.move else "copied"
            self.show_info(f"{len(done)} image(s) {verb} into {self.display(folder)} · Ctrl+Z undoes.", ok=True)
        return done

    def _move_own(self, folder: str, items: list[LabelItem]) -> None:
        """The project's own images labelled as `folder`: moved there through the app's review action
        (`AppState.move_images`: logged, one step of the undo stack); those in that class already
        keep their place. Either way they leave the grid."""
        if not items:
            return
        row = min(self.grid.row(i.widget) for i in items)
        error = self.state.move_images([i.path for i in items], folder)
        done = [i for i in items if i.path in self.state.moved or Path(i.path).parent.name == folder]
        self._own_moved += [i.path for i in done if i.path in self.state.moved]
        for item in done:
            self._remove(item.path)
        self._select_row(row)
        self._summarise()
        if error and not done:
            self.show_error(error)
        else:
            self.show_info(f"{len(done)} image(s) labelled {self.display(folder)} · Ctrl+Z undoes.", ok=True)

    def _own_images_changed(self) -> None:
        """A move of the project's own images undone (or redone): they are in the grid while they are
        where they were."""
        changed = False
        for path in self._own_moved if self.from_project else []:
            if path in self.state.moved and path in self.items:
                self._remove(path)
                changed = True
            elif path not in self.state.moved and path in self._removed:
                self.items[path] = self._removed.pop(path)
                changed = True
        if changed:
            self._arrange()
            self._summarise()

    def _remove(self, path: str) -> None:
        item = self.items.pop(path, None)
        if item is not None and item.widget is not None:
            self.grid.takeItem(self.grid.row(item.widget))
            item.widget = None
            self._removed[path] = item

    def undo(self) -> None:
        """Ctrl+Z on the grid and the Undo button: the app's last step undone, as Edit ▸ Undo does."""
        if self.state.undo_stack.canUndo():
            self.state.undo_stack.undo()
        else:
            self.show_info("Nothing to undo.")

    def put_back(self, labeller) -> None:
        """Put the files of `labeller`'s last labelling back as they were, and their images in the grid."""
        from core.errors import FlypError

        try:
            undone = labeller.undo()
        except FlypError as exc:
            self.show_error(error_text(exc))
            return
        for a in undone:
            item = self._removed.pop(str(a.source), None) or LabelItem(str(a.source), len(self.items))
            self.items[item.path] = item
        counts: dict[str, int] = {}
        for a in undone:
            counts[a.class_name] = counts.get(a.class_name, 0) - 1
        self.state.labels_updated(counts)
        self.since_fit = max(0, self.since_fit - len(undone))
        self._arrange()
        if undone and (first := self.items.get(str(undone[-1].source))) is not None and first.widget is not None:
            self._select_row(self.grid.row(first.widget))
        self._summarise()
        self.show_info(f"Undone: {len(undone)} image(s) put back.", ok=True)
