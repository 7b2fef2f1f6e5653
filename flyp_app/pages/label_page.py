"""Page 2, Label: sort a folder of new images into the training folder's classes, keyboard first.

The model suggests a class for each image (zero-shot with the Captions page's templates, or a
run at the Blend page's α); after every `REFIT_EVERY` labels, in the background, or on demand, a
linear probe on the labelled images' cached features sharpens the suggestions, and their accuracy
on the labelled images is shown (`widgets.label_suggestions`). Each class has a key, a digit or
one the user chose (`widgets.label_keys`); the image being labelled is shown larger beside the
grid (`widgets.label_preview`), and on request where the model looked (`widgets.label_heat`). Each
label copies (or moves) the image into its class folder under a new name, is logged in the project
folder, and Ctrl+Z puts the files back as they were. Images of the project itself, sent from the
Data page's map ("Label these"), are moved as the label check's Move to class moves them
(`widgets.label_own`); the folder and summary rows are `widgets.label_folder`'s.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QInputDialog

from flyp_app import label_tasks
from flyp_app.label_filing import Filing
from flyp_app.pages.base import Page
from flyp_app.widgets.label_board import LabelBoard
from flyp_app.widgets.label_classes import LabelClasses
from flyp_app.widgets.label_folder import FolderRow, SummaryRow
from flyp_app.widgets.label_grid import LabelItem
from flyp_app.widgets.label_heat import LabelHeat
from flyp_app.widgets.label_keys import ClassChooser
from flyp_app.widgets.label_own import OwnImages
from flyp_app.widgets.label_preview import PREVIEW
from flyp_app.widgets.label_suggestions import SuggestionRow

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
        self.class_list = LabelClasses(state, self._train_dir)
        self.filing = Filing(state, self.display, self._suggestions_of, self._filed, self._put_back, self._say)
        self.since_fit = 0
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
        self.own = OwnImages(state, self.board, self.display, self._summarise, self._say)
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
        state.images_changed.connect(self.own.follow)
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

    @property
    def from_project(self) -> bool:
        """The images are the project's own (the Data page's map): labelling moves them."""
        return self.own.active

    # Layout ---------------------------------------------------------------------------------
    def _top_rows(self) -> None:
        self.folder_row = FolderRow(self.state)
        self.folder_edit, self.mode = self.folder_row.edit, self.folder_row.mode
        self.folder_row.opened.connect(self.open_folder)
        self.folder_row.refused.connect(self.show_error)
        self.folder_row.move_chosen.connect(self._mode_chosen)
        self.layout_.addWidget(self.folder_row)
        self.suggestions = SuggestionRow(self.state, REFIT_EVERY)
        self.source = self.suggestions.source
        self.source.activated.connect(lambda _: self._source_changed())
        self.suggestions.refit_button.clicked.connect(self.update_suggestions)
        self.layout_.addWidget(self.suggestions)
        self.summary_row = row = SummaryRow()
        self.summary, self.progress, self.view = row.summary, row.progress, row.view
        self.view.activated.connect(lambda _: self.board.arrange(self.view.currentText()))
        self.layout_.addWidget(self.summary_row)

    # Project, classes, sources ---------------------------------------------------------------
    def _load_project(self) -> None:
        p = self.state.project
        self.mode.setCurrentIndex(1 if p.label_move else 0)
        self.folder_edit.setText(p.label_folder)
        self.filing.labeller = None
        self.class_list.made_here = []  # the classes are the new project's alone
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
        self.classes = self.class_list.folders()
        self.chooser.set_classes(self.classes, self.display, self.state.project.label_keys)
        self.grid.keys = {k for k in self.bar.keys if k}
        self.board.set_classes(self.classes, self.display)
        self.heat.set_classes([self.display(c) for c in self.classes])

    def display(self, folder: str) -> str:
        return self.class_list.display(folder)

    def _fill_sources(self) -> None:
        self.suggestions.fill()
        self.suggestions.describe()

    def _source(self) -> dict:
        return self.suggestions.chosen(self.classes, [self.display(c) for c in self.classes])

    def _source_changed(self) -> None:
        self.suggestions.describe()
        if self.items:
            self.update_suggestions()

    def _mode_chosen(self, move: bool) -> None:
        self.state.set_label_move(move)
        self.filing.set_move(move)

    # The folder of new images --------------------------------------------------------------------
    def open_folder(self, folder: str, remember: bool = True) -> None:
        """Scan `folder` (any depth) and show its images; remembered in the project."""
        self.own.stop()
        if remember:
            self.state.set_label_folder(folder)
        self.folder_edit.setText(folder)
        self._clear()
        self.summary_row.looking()
        if self._scan_worker is not None:
            self._scan_worker.cancel()
        self._scan_worker = self.run(label_tasks.scan_unlabelled, folder, on_done=self._scanned,
                                     on_progress=self.summary_row.show_progress, on_error=self._scan_failed)

    def _scan_failed(self, text: str) -> None:
        self.summary_row.clear()
        self.show_error(text)

    def _scanned(self, scan) -> None:
        self.summary_row.skipped(scan.skipped)
        self._show_files(list(map(str, scan.files)), len(scan.skipped))

    def open_files(self, paths: list[str]) -> None:
        """Images of the project itself (sent from the Data page's map): labelling one moves it into
        the class chosen, as the label check's Move to class does (`OwnImages.label`)."""
        self._clear()
        self.own.start()
        self.filing.labeller = None
        self.folder_edit.setText("")
        self.summary_row.skipped([])
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
        self.summary_row.count(len(self.items), skipped)

    def _clear(self) -> None:
        for worker in (self._scan_worker, self._suggest_worker, self._thumb_worker, self._preview_worker):
            if worker is not None:
                worker.cancel()
        self.board.clear()
        self.heat.forget()
        self.summary_row.clear()

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
                                        on_progress=self.summary_row.show_progress, on_done=self._suggestions_done)

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
        for item in (i for i in self.board.selected() if i.probs):
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
        name = name.strip()
        if refused := self.class_list.make(name, self.find_class(name)):
            self.show_error(refused)
            return False
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
        items = items if items is not None else self.board.selected()
        if self.from_project:
            self.own.label(folder, items)
            return
        if not items:
            return
        row = min(self.grid.row(i.widget) for i in items)
        self.filing.label(self._train_dir(), [i.path for i in items], folder)
        self.grid.select_row(row)
        if self.since_fit >= REFIT_EVERY:
            self.update_suggestions()

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
