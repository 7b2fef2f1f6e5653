"""Page 2, Label: sort a folder of new images into the training folder's classes, keyboard first.

The model suggests a class for each image (zero-shot with the Captions page's templates, or a
run at the Blend page's α); after every `REFIT_EVERY` labels, in the background, or on demand, a
linear probe on the labelled images' cached features sharpens the suggestions, and their accuracy
on the labelled images is shown (`widgets.label_suggestions`). Each class has a key, a digit or
one the user chose (`widgets.label_keys`); the image being labelled is shown larger beside the
grid (`widgets.label_preview`), and on request where the model looked (`widgets.label_heat`). Each
label copies (or moves) the image into its class folder under a new name, is logged in the project
folder, and Ctrl+Z puts the files back as they were. Images of the project itself, sent from the
Data page's map ("Label these"), are moved as the label check's Move to class moves them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QInputDialog, QLabel, QLineEdit, QProgressBar, QPushButton

from flyp_app import label_tasks
from flyp_app.file_dialogs import choose_folder
from flyp_app.label_filing import Filing
from flyp_app.pages.base import Page
from flyp_app.widgets.label_board import LabelBoard
from flyp_app.widgets.label_grid import VIEWS, LabelItem
from flyp_app.widgets.label_heat import LabelHeat
from flyp_app.widgets.label_keys import ClassChooser
from flyp_app.widgets.label_preview import PREVIEW
from flyp_app.widgets.label_suggestions import SuggestionRow
from flyp_app.words import error_text

REFIT_EVERY = 10


class LabelPage(Page):
    title = "Label"
    name = "label"  # how the window and the View menu reach it
    hint = ("Sort new images into your classes, least sure first. Keys: a class's key (its number, or one you "
            "give it: right-click its button) or its name labels the selected images, Enter accepts the "
            "suggestion, Space skips, Ctrl+Z undoes. Labelled images go into the training folder's class "
            "folders, and the suggestions learn from them.")

    def __init__(self, state):
        super().__init__(state)
        self.classes: list[str] = []      # class folder names, in the training folder's order
        self._made_here: list[str] = []   # classes made with New class… whose folder may not exist yet
        self.filing = Filing(state, self.display, self._suggestions_of, self._filed, self._put_back, self._say)
        self.from_project = False  # the images are the project's own (the Data page's map): labelling moves them
        self._own_moved: list[str] = []  # those of them moved into another class from here
        self.since_fit = 0
        self._skipped = 0
        self._refused = ""  # the message refusing a typed class name, while it shows
        self._pending = ""  # the project's folder of new images, opened when the page is shown
        self._scan_worker = self._suggest_worker = self._thumb_worker = self._preview_worker = None
        self._top_rows()
        self.board = LabelBoard()
        self.grid, self.preview = self.board.grid, self.board.preview
        self.grid.key.connect(self._key)
        self.grid.accept.connect(self.accept_suggestion)
        self.grid.skip.connect(lambda: self.grid.select_row(self.grid.currentRow() + 1))
        self.grid.undo.connect(self.undo)
        self.board.picture_wanted.connect(self._read_picture)
        self.layout_.addWidget(self.board, 1)
        self.chooser = ClassChooser()
        self.bar, self.name_edit = self.chooser.bar, self.chooser.name_edit
        self.grid.typed.connect(self.chooser.start_typing)
        self.chooser.chosen.connect(self._chosen)
        self.chooser.unknown.connect(self._refuse_name)
        self.chooser.key_chosen.connect(self.set_key)
        self.chooser.new_class.connect(self._new_class_dialog)
        self.chooser.undo.connect(self.undo)
        self.name_edit.textEdited.connect(self._name_retyped)
        self.layout_.addWidget(self.chooser)
        self.heat = LabelHeat(self.grid, self.run, state.caches, self._source, self.device, lambda: self.items,
                              lambda: self.classes, self.board.thumbs.get)
        self.chooser.row.insertWidget(1, self.heat.choice)
        self.add_status_line()
        state.images_to_label.connect(self.open_files)
        state.images_changed.connect(self._own_images_changed)
        state.project_changed.connect(self._load_project)
        state.scan_finished.connect(lambda _: self._refresh_classes())
        state.templates_changed.connect(self._refresh_classes)
        state.label_keys_changed.connect(self._refresh_classes)
        state.runs_changed.connect(self._fill_sources)
        state.alpha_changed.connect(lambda _: self._source()["kind"] == "run" and self._source_changed())

    @property
    def items(self) -> dict[str, LabelItem]:
        """The images left to label: {path: LabelItem}."""
        return self.board.items

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
        self.suggestions = SuggestionRow(self.state, REFIT_EVERY)
        self.source = self.suggestions.source
        self.source.activated.connect(lambda _: self._source_changed())
        self.suggestions.refit_button.clicked.connect(self.update_suggestions)
        self.layout_.addWidget(self.suggestions)
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
        self.view.activated.connect(lambda _: self.board.arrange(self.view.currentText()))
        row.addWidget(self.view)
        self.layout_.addLayout(row)

    # Project, classes, sources ---------------------------------------------------------------
    def _load_project(self) -> None:
        p = self.state.project
        self.mode.setCurrentIndex(1 if p.label_move else 0)
        self.folder_edit.setText(p.label_folder)
        self.filing.labeller = None
        self._made_here = []  # the classes are the new project's alone
        self.suggestions.reset()
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
        self.chooser.set_classes(self.classes, self.display, self.state.project.label_keys)
        self.grid.keys = {k for k in self.bar.keys if k}
        self.board.set_classes(self.classes, self.display)
        self.heat.set_classes([self.display(c) for c in self.classes])

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
        self.suggestions.fill()
        self.suggestions.describe()

    def _source(self) -> dict:
        return self.suggestions.chosen(self.classes, [self.display(c) for c in self.classes])

    def _source_changed(self) -> None:
        self.suggestions.describe()
        if self.items:
            self.update_suggestions()

    def _mode_chosen(self, index: int) -> None:
        self.state.set_label_move(index == 1)
        self.filing.set_move(index == 1)

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
        self.from_project, self.filing.labeller, self._own_moved = True, None, []
        self.folder_edit.setText("")
        self.summary.setToolTip("")
        self._show_files(list(paths), 0)

    def _show_files(self, paths: list[str], skipped: int) -> None:
        self.board.add(paths)
        self._summarise(skipped)
        if self._thumb_worker is not None:
            self._thumb_worker.cancel()
        self._thumb_worker = self.run(label_tasks.thumbnails, self.state.caches, list(self.items),
                                      on_event=self._thumbs)
        self.update_suggestions()

    def _thumbs(self, batch: dict) -> None:
        self.board.set_thumbs(batch)
        self.heat.show()

    def _summarise(self, skipped: int | None = None) -> None:
        if skipped is not None:
            self._skipped = skipped
        text = f"{len(self.items)} image(s) to label"
        if self._skipped:
            text += f" · {self._skipped} file(s) skipped (hover for the reasons)"
        self.summary.setText(text)

    def _clear(self) -> None:
        for worker in (self._scan_worker, self._suggest_worker, self._thumb_worker, self._preview_worker):
            if worker is not None:
                worker.cancel()
        self.board.clear()
        self.heat.forget()
        self.summary.setText("")
        self.progress.hide()

    def _show_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)
        self.progress.setVisible(done < total)

    def _read_picture(self, path: str) -> None:
        """The larger view's picture of `path`, read in the background."""
        if self._preview_worker is not None:
            self._preview_worker.cancel()
        self._preview_worker = self.run(label_tasks.thumbnails, self.state.caches, [path], PREVIEW,
                                        on_event=lambda batch: [self.preview.set_picture(*kv) for kv in batch.items()])

    # Suggestions -------------------------------------------------------------------------------------
    def update_suggestions(self) -> None:
        """Suggest again for every image left, in the background, learning from everything labelled so far."""
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
        return pairs + [(str(a.destination), a.class_name) for step in self.filing.history() for a in step]

    def _suggested(self, batch: dict, classes: list[str]) -> None:
        if classes == self.classes:  # not suggestions for the classes of a project (or a moment) gone
            self.board.suggested(batch)

    def _suggestions_done(self, result: dict) -> None:
        self.progress.hide()
        learned = result["learned_from"]
        self.show_info(f"Suggestions from {result['description']}"
                       + (f", sharpened by {learned} labelled image(s)." if learned else "."))
        self.suggestions.measured(result.get("accuracy"), learned, self.filing.history())
        self.board.arrange()
        self.heat.refresh()  # the maps of the suggested classes, which may have changed

    def selected(self) -> list[LabelItem]:
        return self.board.selected()

    # Keys and class names ----------------------------------------------------------------------------
    def _key(self, key: str) -> None:
        if (folder := self.chooser.class_for_key(key)) is not None:
            self.assign(folder)
        else:
            self.show_error(f"No class has the key {key} ({len(self.classes)} classes): right-click a class's "
                            "button to give it a key.")

    def set_key(self, folder: str, text: str) -> bool:
        """Class `folder` is labelled by the key `text` ("": its number); kept in the project, undoable."""
        from core.project import label_key

        key = label_key(text)
        if text.strip() and not key:
            self.show_error(f"“{text}” cannot be a key: choose one letter, digit or sign.")
            return False
        self.state.set_label_key(folder, key, self.display(folder))
        self.show_info(f"{self.display(folder)}: key {self.chooser.key_of(folder) or 'none'} · Ctrl+Z undoes.",
                       ok=True)
        return True

    def accept_suggestion(self) -> None:
        """Label each selected image with its own suggestion."""
        by_class: dict[str, list[LabelItem]] = {}
        for item in (i for i in self.selected() if i.probs):
            by_class.setdefault(item.suggestion(self.classes)[0], []).append(item)
        for folder, items in by_class.items():
            self.assign(folder, items)

    def _chosen(self, folder: str) -> None:
        self.assign(folder)
        self.grid.setFocus()

    def _refuse_name(self, text: str) -> None:
        self._refused = f"No class is called “{text}”: use New class… to make one."
        self.show_error(self._refused)

    def _name_retyped(self, text: str) -> None:
        """The refused name's message goes once the name typed is one of the classes."""
        if self._refused and self.status.text() == self._refused and self.find_class(text.strip()):
            self._refused = ""
            self.show_error("")

    def find_class(self, text: str) -> str | None:
        return self.chooser.find_class(text)

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

    # Labelling files -------------------------------------------------------------------------------
    def assign(self, folder: str, items: list[LabelItem] | None = None) -> None:
        """Label `items` (default: the selected images) as class `folder`: one step of the app's
        undo stack (Edit ▸ Undo, Ctrl+Z, this page's Undo button). Every `REFIT_EVERY` labels the
        suggestions learn from them in the background."""
        items = items if items is not None else self.selected()
        if self.from_project:
            self._move_own(folder, items)
            return
        if not items:
            return
        row = min(self.grid.row(i.widget) for i in items)
        self.filing.label(self._train_dir(), [i.path for i in items], folder)
        self.grid.select_row(row)
        if self.since_fit >= REFIT_EVERY:
            self.update_suggestions()

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
            self.board.remove(item.path)
        self.grid.select_row(row)
        self._summarise()
        if error and not done:
            self.show_error(error)
        else:
            self.show_info(f"{len(done)} image(s) labelled {self.display(folder)} · Ctrl+Z undoes.", ok=True)

    def _own_images_changed(self) -> None:
        """A move of the project's own images undone (or redone): they are in the grid while they are
        where they were."""
        moved = self._own_moved if self.from_project else []
        gone = [p for p in moved if p in self.state.moved and p in self.items]
        back = [p for p in moved if p not in self.state.moved and p in self.board.removed]
        for path in gone:
            self.board.remove(path)
        if back:
            self.board.put_back(back)
        if gone or back:
            self._summarise()

    def _suggestions_of(self, paths: list[str]) -> list[tuple]:
        return [s if (item := self.items.get(p)) and (s := item.suggestion(self.classes)) else ("", None)
                for p in paths]

    def _filed(self, paths: list[str], folder: str) -> None:
        for path in paths:
            self.board.remove(path)
        self.since_fit += len(paths)
        self.suggestions.labelled(self.filing.history())
        self._summarise()

    def _put_back(self, paths: list[str]) -> None:
        self.since_fit = max(0, self.since_fit - len(paths))
        self.suggestions.labelled(self.filing.history())
        self.board.put_back(paths)
        self._summarise()

    def _say(self, text: str, error: bool) -> None:
        if error:
            self.show_error(text)
        else:
            self.show_info(text, ok=True)

    def undo(self) -> None:
        """Ctrl+Z on the grid and the Undo button: the app's last step undone, as Edit ▸ Undo does."""
        if self.state.undo_stack.canUndo():
            self.state.undo_stack.undo()
        else:
            self.show_info("Nothing to undo.")
