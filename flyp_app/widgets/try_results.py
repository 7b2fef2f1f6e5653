"""The Try page's list: one row per image, with its thumbnail and the most likely classes."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QGridLayout, QHeaderView, QLabel, QProgressBar, QStyle,
                               QTableWidget, QTableWidgetItem, QWidget)

from flyp_app.theme import ERROR_COLOUR, ID_COLOUR

THUMB = 72
BAR_STYLE = ("QProgressBar {{ border: none; border-radius: 4px; background: #e8ebf0; }}"
             "QProgressBar::chunk {{ border-radius: 4px; background: {}; }}")


NONE_OF_THESE = ("<b>None of these classes</b>: unlike the training images of every class "
                 "(the closest are below)")


class TopKBars(QWidget):
    """The k most likely classes of one image: name, a confidence bar and the percentage; above
    them, for an image unlike the training images, that it is none of these classes."""

    def __init__(self, top: list[tuple[str, float]], unknown: bool = False):
        super().__init__()
        grid = QGridLayout(self)
        grid.setContentsMargins(8, 4, 12, 4)
        grid.setVerticalSpacing(3)
        grid.setHorizontalSpacing(10)
        self.verdict = QLabel(NONE_OF_THESE, wordWrap=True)
        self.verdict.setStyleSheet("color: #8a5a00;")
        grid.addWidget(self.verdict, 0, 0, 1, 3)
        self.widgets = []
        for r in range(1, len(top) + 1):
            label = QLabel()
            label.setMinimumWidth(120)
            bar = QProgressBar(maximum=1000, textVisible=False)
            bar.setFixedHeight(10)
            bar.setStyleSheet(BAR_STYLE.format(ID_COLOUR if r == 1 else "#9aa5b1"))
            percent = QLabel(alignment=Qt.AlignRight | Qt.AlignVCenter)
            percent.setMinimumWidth(52)
            grid.addWidget(label, r, 0)
            grid.addWidget(bar, r, 1)
            grid.addWidget(percent, r, 2)
            self.widgets.append((label, bar, percent))
        grid.setColumnStretch(1, 1)
        self.set_rows(top, unknown)

    def set_rows(self, top: list[tuple[str, float]], unknown: bool = False) -> None:
        """New classes and confidences for the same number of rows (cheaper than a new widget)."""
        self.rows, self.unknown = top, unknown
        self.verdict.setVisible(unknown)
        for r, ((name, p), (label, bar, percent)) in enumerate(zip(top, self.widgets)):
            label.setText(f"<b>{name}</b>" if r == 0 and not unknown else name)
            bar.setValue(round(p * 1000))
            percent.setText(f"{p:.1%}")


class TryResults(QTableWidget):
    """Rows of images: thumbnail, file, and then classes, a reason, or what is being waited for."""

    def __init__(self):
        super().__init__(0, 3)
        self.setHorizontalHeaderLabels(["", "Image", "Most likely classes"])
        self.setAccessibleName("Images and their most likely classes")
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.NoSelection)
        self.setFocusPolicy(Qt.NoFocus)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setWordWrap(True)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Fixed)
        header.setSectionResizeMode(1, QHeaderView.Interactive)
        header.setSectionResizeMode(2, QHeaderView.Stretch)
        self.setColumnWidth(0, THUMB + 12)
        self.setColumnWidth(1, 300)
        self._pixmaps: dict[str, QPixmap] = {}

    def show_row(self, row: int, key: str, name: str, where: str, thumb: bytes | None,
                 top: list[tuple[str, float]] | None, note: str, error: bool, unknown: bool = False,
                 picture: str | None = None) -> None:
        """Fill `row`: the top-k bars when `top` is given (under "None of these classes" when
        `unknown`), else `note` (red when `error`). `thumb` is the picture named `picture` (default
        `key`: the image itself; a heat map has a name of its own)."""
        if row >= self.rowCount():
            self.setRowCount(row + 1)
        image = QTableWidgetItem()
        picture = picture or key
        if thumb is not None and picture not in self._pixmaps:
            self._pixmaps[picture] = QPixmap.fromImage(QImage.fromData(thumb))
        if picture in self._pixmaps:
            image.setIcon(QIcon(self._pixmaps[picture]))
            image.setData(Qt.UserRole, picture)  # which picture the row shows (the image or a heat map)
        elif error:
            image.setIcon(self.style().standardIcon(QStyle.SP_MessageBoxWarning))
        self.setItem(row, 0, image)
        file_item = QTableWidgetItem(f"{name}\n{where}" if where else name)
        file_item.setToolTip(key)
        self.setItem(row, 1, file_item)
        current = self.cellWidget(row, 2)
        if top is not None and isinstance(current, TopKBars) and len(current.rows) == len(top):
            current.set_rows(top, unknown)
            self.setRowHeight(row, max(THUMB + 8, 22 * (len(top) + unknown) + 12))
            return
        if top is not None:
            cell = TopKBars(top, unknown)
        else:
            cell = QLabel(note, wordWrap=True)
            cell.setContentsMargins(8, 0, 8, 0)
            cell.setStyleSheet(f"color: {ERROR_COLOUR};" if error else "color: #5a6472;")
        self.setCellWidget(row, 2, cell)
        self.setRowHeight(row, max(THUMB + 8, 22 * (len(top or ()) + unknown) + 12))

    def forget(self) -> None:
        self.setRowCount(0)
        self._pixmaps.clear()


def folder_text(path: str | None, limit: int = 44) -> str:
    """The image's folder as a person reads it: ~ for the home folder, a long path cut to its
    last two folders (the whole path is the row's tooltip)."""
    if not path:
        return ""
    folder = Path(path).parent
    try:
        text = str(Path("~") / folder.relative_to(Path.home()))
    except ValueError:
        text = str(folder)
    if len(text) > limit and len(folder.parts) > 3:
        text = str(Path("…", *folder.parts[-2:]))
    return text
