"""Page 1, Data: the folders, the classes found (editable names, counts, thumbnails), problems, and
tabs to see the data (`flyp_app.widgets.data_views`): the label check (`widgets.label_check`),
search by words or by example (`widgets.image_search`), the map (`widgets.project_map`)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QDoubleSpinBox, QFormLayout, QGroupBox,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QListWidget, QPushButton,
                               QSplitter, QTableWidget, QTableWidgetItem, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from flyp_app import data_tasks
from flyp_app.file_dialogs import choose_folder
from flyp_app.pages.base import Page
from flyp_app.widgets.data_views import DataViews
from flyp_app.widgets.drop_target import DropTarget
from flyp_app.widgets.image_search import ImageSearch
from flyp_app.widgets.label_check import LabelCheck
from flyp_app.widgets.project_map import ProjectMap

UNLIMITED = 16777215  # Qt's QWIDGETSIZE_MAX: no maximum height


class DataPage(Page):
    title = "Data"
    name = "data"  # how the window and the View menu reach it
    hint = ("Point at a folder with one sub-folder of images per class. Add a validation folder, or let "
            "FLYP Studio hold out a share of each class, and any folders of the same classes under "
            "different conditions (other cameras, sites, styles) to see how robust the model is.")

    def __init__(self, state):
        super().__init__(state)
        self._folders_box()
        splitter = QSplitter(Qt.Vertical)
        self.classes = QTableWidget(0, 4)
        self.classes.setIconSize(QPixmap(data_tasks.CLASS_THUMB, data_tasks.CLASS_THUMB).size())
        self.classes.verticalHeader().setDefaultSectionSize(data_tasks.CLASS_THUMB + 6)
        self.classes.verticalHeader().hide()
        # Two classes stay in view whatever else the page shows: the rest of the room goes to the tabs
        # below (at 1366×768 the label check's list keeps four rows or more).
        self.classes.setMinimumHeight(2 * (data_tasks.CLASS_THUMB + 6) + 2 * self.classes.frameWidth()
                                      + self.classes.horizontalHeader().sizeHint().height())
        self.classes.itemChanged.connect(self._name_edited)
        self.summary = QLabel("No training folder yet.")
        self._counts = {}  # the scan's classes and training images, with those labelled since
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.summary)
        top_layout.addWidget(self.classes)
        self.problems = QTreeWidget()
        self.problems.setHeaderLabels(["File or folder", "Problem"])
        self.problems.setRootIsDecorated(False)
        self.problems.header().setSectionResizeMode(0, QHeaderView.Interactive)
        self.problems.setColumnWidth(0, 480)
        self.problems_label = QLabel("Problems found")
        bottom = self._problems_part = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.problems_label)
        bottom_layout.addWidget(self.problems)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        splitter.addWidget(self._data_views(state))
        splitter.setSizes([300, 100, 260])
        # The list to review (or the map) gets most of the room once there is one; the class table scrolls.
        self.see.wants_room.connect(
            lambda: splitter.setSizes([top.minimumSizeHint().height(), bottom.sizeHint().height(), 10_000]))
        self.layout_.addWidget(splitter, 1)
        self.add_status_line()
        self._filling = False
        self._scan_timer = QTimer(self, singleShot=True, interval=250)
        self._scan_timer.timeout.connect(self.rescan)
        self._scan_worker = None
        state.project_changed.connect(self._load_project)
        state.data_changed.connect(self._scan_timer.start)
        state.restored.connect(self._show_project)  # undo / redo
        state.labels_changed.connect(self._labels_changed)

    def _data_views(self, state) -> DataViews:
        """See the data (#27): the label check (with bad images and shortcuts), the search, the map."""
        self.see = DataViews()
        self.check = LabelCheck(state, self.run)
        self.search = ImageSearch(state, self.run)
        self.map = ProjectMap(state, self.run, lambda: self.check.report)
        self.check.checked.connect(self.map.suspicious_changed)
        self.map.drawn.connect(self.see.wants_room)
        self.see.add(self.check, "Check labels", "Suspicious labels, near-duplicates, bad images, shortcuts and "
                     "class warnings, each with what to do")
        self.see.add(self.search, "Search", "Find images by words (“a blurry photo”) or by an example image")
        self.see.add(self.map, "Map", "The images' features on a plane: similar images sit together")
        for view in (self.check, self.search, self.map):
            view.said.connect(lambda text, ok: self.show_info(text, ok=True) if ok else self.show_error(text))
        return self.see

    def _folders_box(self) -> None:
        box = QGroupBox("Folders")
        form = QFormLayout(box)
        self.train_edit = QLineEdit(placeholderText="choose the training folder, drop it here, or paste its path…")
        self.train_edit.setToolTip("The folder with one sub-folder of images per class. Type or paste a path and "
                                   "press Enter, choose it, or drop it here.")
        self.train_edit.editingFinished.connect(lambda: self._typed("train", self.train_edit))
        self.train_row = self._row(self.train_edit, ("Choose…", self._choose_train, "Choose the training folder"))
        form.addRow("Training", self.train_row)
        self.val_edit = QLineEdit(placeholderText="none: hold out a share of each class")
        self.val_edit.setToolTip("A folder of the same classes, only for measuring accuracy. Empty: a share of each "
                                 "training class is held out instead.")
        self.val_edit.editingFinished.connect(lambda: self._typed("val", self.val_edit))
        self.split = QDoubleSpinBox(minimum=5, maximum=50, singleStep=5, decimals=0, suffix=" % held out")
        self.split.valueChanged.connect(lambda v: self.state.set_folders(val_fraction=v / 100))
        self.split.setAccessibleName("Held-out share")
        self.split.setToolTip("The share of each training class held out for validation (when there is no "
                              "validation folder); the split is the same every time for a given seed")
        self.val_row = self._row(self.val_edit, ("Choose…", self._choose_val, "Choose the validation folder"),
                                ("Clear", self._clear_val, "No validation folder: hold out a share of each class"),
                                self.split)
        form.addRow("Validation", self.val_row)
        self.ood_list = QListWidget()
        self.ood_list.setMaximumHeight(64)
        self.ood_list.setSelectionMode(QAbstractItemView.SingleSelection)
        self.ood_list.setToolTip("Folders of the same classes under other conditions (other cameras, sites, "
                                 "styles): accuracy there shows how robust the model is")
        self.ood_row = self._row(self.ood_list, ("Add…", self._add_ood, "Add a folder of the same classes under different conditions"),
                                ("Remove", self._remove_ood, "Take the selected folder off the list (its images stay)"))
        form.addRow("Different conditions", self.ood_row)
        # A folder dropped on a row sets that row; dropped elsewhere, the window asks what it is for.
        self._drop_targets = [DropTarget(row, lambda folders, role=role: self.set_folder_role(role, folders))
                              for row, role in ((self.train_row, "train"), (self.val_row, "val"),
                                                (self.ood_row, "ood"))]  # kept: Qt holds only the C++ half
        self.layout_.addWidget(box)

    def _row(self, main: QWidget, *extras) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(main, 1)
        for extra in extras:
            if isinstance(extra, tuple):  # (text, slot, what it does: its tooltip and accessible name)
                button = QPushButton(extra[0], toolTip=extra[2], accessibleName=extra[2])
                button.clicked.connect(extra[1])
                layout.addWidget(button)
            else:
                layout.addWidget(extra)
        return row

    # Folders -----------------------------------------------------------------------------------
    def _pick(self, title: str) -> str:
        return choose_folder(self, self.state, title)

    def _typed(self, role: str, edit: QLineEdit) -> None:
        """A path typed or pasted into the Training or Validation box (Enter, or leaving the box)."""
        text = edit.text().strip().strip('"')
        stored = self.state.project.train_dir if role == "train" else self.state.project.val_dir
        if text == stored:
            return
        if role == "val" and not text:
            self._clear_val()
            return
        folder = Path(text).expanduser()
        if not folder.is_dir():
            self.show_error(f"{text}: no such folder. Type or paste the path of a folder, or press Choose….")
            return
        self.show_error("")
        self.set_folder_role(role, [folder])

    def _choose_train(self) -> None:
        if folder := self._pick("Training folder"):
            self.state.set_folders(train=folder)
            self._load_project()

    def _choose_val(self) -> None:
        if folder := self._pick("Validation folder"):
            self.state.set_folders(val=folder)
            self._load_project()

    def _clear_val(self) -> None:
        self.state.set_folders(val="")
        self._load_project()

    def _add_ood(self) -> None:
        if folder := self._pick("Folder of the same classes under different conditions"):
            self.set_folder_role("ood", [Path(folder)])

    def _remove_ood(self) -> None:
        row = self.ood_list.currentRow()
        if row >= 0:
            ood = list(self.state.project.ood_dirs)
            del ood[row]
            self.state.set_folders(ood=ood)
            self._load_project()

    def set_folder_role(self, role: str, folders: list[Path]) -> None:
        """Use dropped or chosen folders as the training ("train") or validation ("val") folder (the
        first one), or as folders of different conditions ("ood", each one)."""
        if not folders:
            return
        if role == "train":
            self.state.set_folders(train=str(folders[0]))
        elif role == "val":
            self.state.set_folders(val=str(folders[0]))
        else:
            ood = list(self.state.project.ood_dirs)
            ood += [str(f) for f in folders if str(f) not in ood]
            if ood != self.state.project.ood_dirs:
                self.state.set_folders(ood=ood)
        self._load_project()

    def _load_project(self) -> None:
        self._show_project()
        self._scan_timer.start()

    def _show_project(self) -> None:
        """Show the project's folders and class names (no scan)."""
        p = self.state.project
        self.train_edit.setText(p.train_dir)
        self.val_edit.setText(p.val_dir)
        self.split.blockSignals(True)
        self.split.setValue(round(p.val_fraction * 100))
        self.split.blockSignals(False)
        self.split.setEnabled(not p.val_dir)
        self.ood_list.clear()
        self.ood_list.addItems(p.ood_dirs)
        self._filling = True
        for row in range(self.classes.rowCount() if self.classes.columnCount() > 1 else 0):
            self.classes.item(row, 1).setText(self._shown_name(self.classes.item(row, 0).text()))
        self._filling = False

    # Scanning ----------------------------------------------------------------------------------
    def rescan(self) -> None:
        p = self.state.project
        if self._scan_worker is not None:
            self._scan_worker.cancel()
            self._scan_worker = None
        self.show_error("")
        if not p.train_dir:
            self._show_nothing("No training folder yet: choose one, or drop a folder on the window.")
            self.state.set_scan(None)
            return
        self.summary.setText("Scanning…")
        self.state.scan_started()
        folder = self.state.folder
        worker = {}  # a scan that was cancelled may still finish: only the newest one's answer counts
        worker["w"] = self._scan_worker = self.run(
            data_tasks.scan_project, str(folder(p.train_dir)), str(folder(p.val_dir)) if p.val_dir else None,
            [str(folder(d)) for d in p.ood_dirs], p.val_fraction, int(p.settings.get("seed", 0)),
            [str(p.resolve(x)) for x in p.excluded],
            on_done=lambda result: worker["w"] is self._scan_worker and self._scanned(result),
            on_error=lambda text: worker["w"] is self._scan_worker and self._scan_failed(text))

    def _show_nothing(self, summary: str) -> None:
        """No classes and no verdict on problems: nothing was scanned (or the scan failed)."""
        self.summary.setText(summary)
        self.classes.setRowCount(0)
        self.classes.setColumnCount(0)
        self.problems.clear()
        self.problems_label.setText("")
        self.problems.hide()
        self._problems_part.setMaximumHeight(0)

    def _scan_failed(self, text: str) -> None:
        self._scan_worker = None
        self._show_nothing("The folders cannot be used yet:")
        self.show_error(text)
        self.state.set_scan(None, text)

    def _scanned(self, result) -> None:
        self._scan_worker = None
        data, thumbs = result
        self._fill_classes(data, thumbs)
        self._fill_problems(data)
        self._counts = {"classes": len(data.classes), "train": len(data.train)}
        self._summarise(data)
        self.state.set_scan(data)

    def _summarise(self, data) -> None:
        """The scan's figures, with the classes and training images labelled since (`_counts`)."""
        where = "a held-out share of each class" if data.val_from_split else "the validation folder"
        self.summary.setText(f"{self._counts['classes']} classes · {self._counts['train']} training images · "
                             f"{len(data.val)} validation images ({where})"
                             + "".join(f" · {len(s)} in {name}" for name, s in data.ood.items()))

    def _fill_classes(self, data, thumbs: dict[str, bytes]) -> None:
        self._filling = True
        ood_names = list(data.ood)
        self.classes.setColumnCount(4 + len(ood_names))
        self.classes.setHorizontalHeaderLabels(["Folder", "Class name (editable)", "Training", "Validation", *ood_names])
        header = self.classes.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        counts = [Counter(s.label for s in data.train), Counter(s.label for s in data.val)]
        counts += [Counter(s.label for s in samples) for samples in data.ood.values()]
        self.classes.setRowCount(len(data.classes))
        for row, folder in enumerate(data.classes):
            item = QTableWidgetItem(folder)
            item.setFlags(item.flags() & ~Qt.ItemIsEditable)
            if folder in thumbs:
                item.setIcon(QIcon(QPixmap.fromImage(QImage.fromData(thumbs[folder]))))
            self.classes.setItem(row, 0, item)
            self.classes.setItem(row, 1, QTableWidgetItem(self._shown_name(folder)))
            for col, counter in enumerate(counts, 2):
                cell = QTableWidgetItem(str(counter[row]))
                cell.setFlags(cell.flags() & ~Qt.ItemIsEditable)
                cell.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if counter[row] == 0:
                    cell.setForeground(Qt.red)
                self.classes.setItem(row, col, cell)
        self._filling = False

    def _fill_problems(self, data) -> None:
        self.problems.clear()
        for problem in data.problems:
            QTreeWidgetItem(self.problems, [problem.path, problem.reason])
        n = len(data.problems)
        self.problems_label.setText("No problems found." if not n else f"{n} problem(s) found — these files are left out:")
        self.problems.setVisible(bool(n))  # no empty list: the class table gets the room
        self._problems_part.setMaximumHeight(UNLIMITED if n else self.problems_label.sizeHint().height())

    def _labels_changed(self, changes: dict) -> None:
        """Images labelled on the Label page: their classes' training counts change, without a rescan
        (a new class gets a row; the next scan puts it in its place)."""
        rows = {self.classes.item(r, 0).text(): r for r in range(self.classes.rowCount()) if self.classes.item(r, 0)}
        self._filling = True
        for folder, delta in changes.items():
            row = rows.get(folder)
            if row is None:
                row = self.classes.rowCount()
                self.classes.insertRow(row)
                for col in range(self.classes.columnCount()):
                    self.classes.setItem(row, col, QTableWidgetItem(folder if col == 0 else "0" if col > 1 else folder))
            cell = self.classes.item(row, 2)
            cell.setText(str(max(0, int(cell.text() or 0) + delta)))
            cell.setForeground(Qt.red if cell.text() == "0" else self.classes.palette().text())
        self._filling = False
        if self.state.datasets is not None and self._counts:
            self._counts = {"classes": self.classes.rowCount(), "train": self._counts["train"] + sum(changes.values())}
            self._summarise(self.state.datasets)

    def _name_edited(self, item: QTableWidgetItem) -> None:
        """A class name typed in the table: kept if it is not empty and no other class has it."""
        if self._filling or item.column() != 1:
            return
        folder = self.classes.item(item.row(), 0).text()
        name = item.text().strip()
        others = {self.classes.item(r, 1).text().strip().casefold(): self.classes.item(r, 0).text()
                  for r in range(self.classes.rowCount()) if r != item.row() and self.classes.item(r, 1)}
        if not name:
            problem = f"The class name for folder {folder!r} cannot be empty: it was put back."
        elif name.casefold() in others:
            problem = (f"{name!r} is already the name of folder {others[name.casefold()]!r}: two classes would "
                       "share one caption. Choose another name.")
        else:
            self.show_error("")
            self.state.set_class_name(folder, name)
            return
        self.show_error(problem)
        self._filling = True
        item.setText(self._shown_name(folder))  # the name still in use, not a blank or a duplicate
        self._filling = False

    def _shown_name(self, folder: str) -> str:
        from core.data.captions import display_name

        return self.state.project.class_names.get(folder) or display_name(folder)
