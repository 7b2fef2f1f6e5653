"""The Label page's grid of images to label (keyboard first): its cells, its views and its keys."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QListWidget, QListWidgetItem

THUMB = 88
CELL = QSize(THUMB + 56, THUMB + 46)  # a thumbnail and two lines: the suggestion, the file name
VIEWS = ("Least confident first", "By suggested class", "Folder order")


@dataclass
class LabelItem:
    """One image to label: its place in the folder, the suggestion's probabilities, its grid cell."""

    path: str
    order: int
    probs: list[float] | None = None
    widget: QListWidgetItem | None = None
    known: bool | None = None  # False: like none of the classes (a run's novelty score); None: not judged

    def suggestion(self, classes: list[str]) -> tuple[str, float] | None:
        if not self.probs:
            return None
        best = max(range(len(self.probs)), key=self.probs.__getitem__)
        return classes[best], self.probs[best]


def in_view_order(items: list[LabelItem], view: str, classes: list[str]) -> list[LabelItem]:
    """`items` as `view` shows them: least confident first, by suggested class (surest first), or in
    folder order; images without a suggestion yet come last."""
    def key(item: LabelItem):
        s = item.suggestion(classes)
        if view == VIEWS[0]:
            return (s is None, s[1] if s else 0.0, item.order)
        if view == VIEWS[1]:
            return (s is None, classes.index(s[0]) if s else 0, -(s[1] if s else 0.0), item.order)
        return (item.order,)
    return sorted(items, key=key)


def cell_text(item: LabelItem, classes: list[str], display: Callable[[str], str]) -> tuple[str, str]:
    """The text of an image's cell (its suggestion, with its confidence, over its file name) and its tooltip."""
    suggestion = item.suggestion(classes)
    # a no-break space keeps the class and its confidence on one line
    text = f"{display(suggestion[0])}\u00a0{suggestion[1]:.0%}" if suggestion else "…"
    unknown = bool(suggestion) and item.known is False  # unlike the run's training images of every class
    if unknown:
        text = f"none of these?\u00a0({text})"
    tip = item.path + ("\nUnlike the training images of every class: perhaps none of these classes." if unknown else "")
    return f"{text}\n{Path(item.path).name}", tip


def icon(png: bytes) -> QIcon:
    return QIcon(QPixmap.fromImage(QImage.fromData(png)))


class LabelGrid(QListWidget):
    """Thumbnails with their suggestion; the keys that label the selected images.

    A class's key (a digit, or one the user chose: `keys`) sends `key`, Enter accepts the
    suggestion, Space skips to the next image, Ctrl+Z undoes, and typing other letters starts a
    class name (`typed`).
    """

    key = Signal(str)        # a digit, or a key of `keys`, pressed
    accept = Signal()
    skip = Signal()
    undo = Signal()
    typed = Signal(str)

    def __init__(self):
        super().__init__()
        self.setAccessibleName("Images to label")
        self.setViewMode(QListView.IconMode)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setGridSize(CELL)
        self.setResizeMode(QListView.Adjust)
        self.setMovement(QListView.Static)
        self.setUniformItemSizes(True)
        self.setWordWrap(True)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setLayoutMode(QListView.Batched)
        self.setBatchSize(200)
        self.keys: set[str] = set()  # the keys that label a class, besides the digits

    # Keys ------------------------------------------------------------------------------------
    def _class_key(self, event) -> str:
        """The class key `event` presses ("" if none): a digit (of the keypad too) or one of `keys`."""
        if event.modifiers() & ~(Qt.KeypadModifier | Qt.ShiftModifier):
            return ""
        text = event.text().casefold()
        return text if len(text) == 1 and (text.isdigit() or text in self.keys) else ""

    def _handled(self, event) -> bool:
        return bool(self._class_key(event)) or event.key() in (Qt.Key_Return, Qt.Key_Enter, Qt.Key_Space) \
            or event.matches(QKeySequence.Undo)

    def event(self, event) -> bool:
        # Claim these keys before any window shortcut (an Edit menu's Ctrl+Z) takes them.
        if event.type() == QEvent.ShortcutOverride and self._handled(event):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if event.matches(QKeySequence.Undo):
            self.undo.emit()
        elif pressed := self._class_key(event):
            self.key.emit(pressed)
        elif key in (Qt.Key_Return, Qt.Key_Enter):
            self.accept.emit()
        elif key == Qt.Key_Space:
            self.skip.emit()
        elif event.text().isalpha() and not event.modifiers() & (Qt.ControlModifier | Qt.AltModifier):
            self.typed.emit(event.text())
        else:
            super().keyPressEvent(event)

    # Cells -----------------------------------------------------------------------------------
    def fill(self, items: list[LabelItem], thumbs: dict[str, bytes]) -> None:
        """Show `items` in this order, with the thumbnails of `thumbs` ({path: PNG}); the first selected."""
        self.clear()
        for item in items:
            widget = QListWidgetItem()
            widget.setSizeHint(CELL)  # the grid's items are all of one size: the text must not set it
            widget.setData(Qt.UserRole, item.path)
            if item.path in thumbs:
                widget.setIcon(icon(thumbs[item.path]))
            item.widget = widget
            self.addItem(widget)
        self.select_row(0)

    def select_row(self, row: int) -> None:
        if self.count():
            row = max(0, min(row, self.count() - 1))
            self.setCurrentRow(row)
            self.scrollToItem(self.item(row))

    def take(self, item: LabelItem) -> None:
        """Take `item`'s cell out of the grid."""
        if item.widget is not None:
            self.takeItem(self.row(item.widget))
            item.widget = None

    def current_path(self) -> str:
        current = self.currentItem()
        return current.data(Qt.UserRole) if current is not None else ""
