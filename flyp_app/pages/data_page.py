"""Page 1, Data: the folders, the classes found (editable names, counts, thumbnails), problems."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QDoubleSpinBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QListWidget, QPushButton,
                               QSplitter, QTableWidget, QTableWidgetItem, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from flyp_app import tasks
from flyp_app.pages.base import Page

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
        self.classes.setIconSize(QPixmap(tasks.CLASS_THUMB, tasks.CLASS_THUMB).size())
        self.classes.verticalHeader().setDefaultSectionSize(tasks.CLASS_THUMB + 6)
        self.classes.verticalHeader().hide()
        self.classes.itemChanged.connect(self._name_edited)
        self.summary = QLabel("No training folder yet.")
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
        splitter.setSizes([420, 160])
        self.layout_.addWidget(splitter, 1)
        self.add_status_line()
        self._filling = False
        self._scan_timer = QTimer(self, singleShot=True, interval=250)
        self._scan_timer.timeout.connect(self.rescan)
        self._scan_worker = None
        state.project_changed.connect(self._load_project)
        state.data_changed.connect(self._scan_timer.start)

    def _folders_box(self) -> None:
        box = QGroupBox("Folders")
        form = QFormLayout(box)
        self.train_edit = QLineEdit(readOnly=True, placeholderText="choose the training folder…")
        form.addRow("Training", self._row(self.train_edit, ("Choose…", self._choose_train)))
        self.val_edit = QLineEdit(readOnly=True, placeholderText="none: hold out a share of each class")
        self.split = QDoubleSpinBox(minimum=5, maximum=50, singleStep=5, decimals=0, suffix=" % held out")
        self.split.valueChanged.connect(lambda v: self.state.set_folders(val_fraction=v / 100))
        form.addRow("Validation", self._row(self.val_edit, ("Choose…", self._choose_val), ("Clear", self._clear_val),
                                            self.split))
        self.ood_list = QListWidget()
        self.ood_list.setMaximumHeight(64)
        self.ood_list.setSelectionMode(QAbstractItemView.SingleSelection)
        form.addRow("Different conditions", self._row(self.ood_list, ("Add…", self._add_ood),
                                                      ("Remove", self._remove_ood)))
        self.layout_.addWidget(box)

    def _row(self, main: QWidget, *extras) -> QWidget:
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(main, 1)
        for extra in extras:
            if isinstance(extra, tuple):
                button = QPushButton(extra[0])
                button.clicked.connect(extra[1])
                layout.addWidget(button)
            else:
                layout.addWidget(extra)
        return row

    # Folders -----------------------------------------------------------------------------------
    def _pick(self, title: str) -> str:
        start = str(self.state.folder(self.state.project.train_dir) or Path.home())
        return QFileDialog.getExistingDirectory(self, title, start)

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
            self.add_folders([Path(folder)], as_ood=True)

    def _remove_ood(self) -> None:
        row = self.ood_list.currentRow()
        if row >= 0:
            ood = list(self.state.project.ood_dirs)
            del ood[row]
            self.state.set_folders(ood=ood)
            self._load_project()

    def add_folders(self, folders: list[Path], as_ood: bool = False) -> None:
        """Dropped folders: the first becomes the training folder if there is none, the rest OOD."""
        p = self.state.project
        ood = list(p.ood_dirs)
        for folder in folders:
            if not p.train_dir and not as_ood:
                self.state.set_folders(train=str(folder))
            elif str(folder) not in ood:
                ood.append(str(folder))
        if ood != p.ood_dirs:
            self.state.set_folders(ood=ood)
        self._load_project()

    def _load_project(self) -> None:
        p = self.state.project
        self.train_edit.setText(p.train_dir)
        self.val_edit.setText(p.val_dir)
        self.split.blockSignals(True)
        self.split.setValue(round(p.val_fraction * 100))
        self.split.blockSignals(False)
        self.split.setEnabled(not p.val_dir)
        self.ood_list.clear()
        self.ood_list.addItems(p.ood_dirs)
        self._scan_timer.start()

    # Scanning ----------------------------------------------------------------------------------
    def rescan(self) -> None:
        p = self.state.project
        if not p.train_dir:
            self.summary.setText("No training folder yet: choose one, or drop a folder on the window.")
            return
        if self._scan_worker is not None:
            self._scan_worker.cancel()
        self.summary.setText("Scanning…")
        self.show_error("")
        folder = self.state.folder
        self._scan_worker = self.run(
            tasks.scan_project, str(folder(p.train_dir)), str(folder(p.val_dir)) if p.val_dir else None,
            [str(folder(d)) for d in p.ood_dirs], p.val_fraction, int(p.settings.get("seed", 0)),
            on_done=self._scanned, on_error=self._scan_failed)

    def _scan_failed(self, text: str) -> None:
        self.summary.setText("The folders cannot be used yet:")
        self.show_error(text)
        self.classes.setRowCount(0)
        self.state.set_scan(None, text)

    def _scanned(self, result) -> None:
        data, thumbs = result
        self._fill_classes(data, thumbs)
        self._fill_problems(data)
        where = "a held-out share of each class" if data.val_from_split else "the validation folder"
        self.summary.setText(f"{len(data.classes)} classes · {len(data.train)} training images · "
                             f"{len(data.val)} validation images ({where})"
                             + "".join(f" · {len(s)} in {name}" for name, s in data.ood.items()))
        self.state.set_scan(data)

    def _fill_classes(self, data, thumbs: dict[str, bytes]) -> None:
        from core.data.captions import display_name

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
        names = self.state.project.class_names
        for row, folder in enumerate(data.classes):
            item = QTableWidgetItem(folder)
            item.setFlags(item.flags() & ~Qt.ItemIsEditable)
            if folder in thumbs:
                item.setIcon(QIcon(QPixmap.fromImage(QImage.fromData(thumbs[folder]))))
            self.classes.setItem(row, 0, item)
            self.classes.setItem(row, 1, QTableWidgetItem(names.get(folder) or display_name(folder)))
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

    def _name_edited(self, item: QTableWidgetItem) -> None:
        if self._filling or item.column() != 1:
            return
        folder = self.classes.item(item.row(), 0).text()
        name = item.text().strip()
        if not name:
            self.show_error(f"The class name for folder {folder!r} cannot be empty.")
            return
        self.show_error("")
        self.state.set_class_name(folder, name)
