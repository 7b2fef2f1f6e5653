"""The Label page's widgets: the grid of images to label (keyboard first), its views, and the row of classes."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QGridLayout, QListView, QListWidget, QListWidgetItem, QPushButton,
                               QWidget)

THUMB = 88
CELL = QSize(THUMB + 56, THUMB + 46)  # a thumbnail and two lines: the suggestion, the file name
BAR_COLUMNS = 6
VIEWS = ("Least confident first", "By suggested class", "Folder order")
NUMBER_KEYS = {getattr(Qt, f"Key_{n}"): n for n in range(10)}  # Qt's key → the digit on it
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def class_keys(names: list[str]) -> list[str]:
    """The digit key that labels each class, as its button shows it: when every class is named by a
    different digit ("7" or "seven"), that digit; otherwise its place, 1…9 and 0 for the tenth
    (none after)."""
    if named_by_digits(names):
        return [str(_digit_of(name)) for name in names]
    return [f"{(i + 1) % 10}" if i < 10 else "" for i in range(len(names))]


def named_by_digits(names: list[str]) -> bool:
    """Whether every class is named by a different digit (the digits' folders, "0"…"9" or "zero"…)."""
    named = [_digit_of(name) for name in names]
    return bool(names) and None not in named and len(set(named)) == len(named)


def _digit_of(name: str) -> int | None:
    word = name.strip().casefold()
    if len(word) == 1 and word.isdigit():
        return int(word)
    return DIGIT_WORDS.index(word) if word in DIGIT_WORDS else None


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


class LabelGrid(QListWidget):
    """Thumbnails with their suggestion; the keys that label the selected images.

    Number keys choose a class by its number, Enter accepts the suggestion, Space skips to the
    next image, Ctrl+Z undoes, and typing letters starts a class name (`typed`).
    """

    number = Signal(int)     # the digit pressed, 0…9
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

    def _handled(self, event) -> bool:
        return (event.key() in NUMBER_KEYS and not event.modifiers() & ~Qt.KeypadModifier) \
            or event.key() in (Qt.Key_Return, Qt.Key_Enter, Qt.Key_Space) or event.matches(QKeySequence.Undo)

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
        elif key in NUMBER_KEYS and not event.modifiers() & ~Qt.KeypadModifier:
            self.number.emit(NUMBER_KEYS[key])
        elif key in (Qt.Key_Return, Qt.Key_Enter):
            self.accept.emit()
        elif key == Qt.Key_Space:
            self.skip.emit()
        elif event.text().isalpha() and not event.modifiers() & (Qt.ControlModifier | Qt.AltModifier):
            self.typed.emit(event.text())
        else:
            super().keyPressEvent(event)


class ClassBar(QWidget):
    """One button per class, numbered as the keys that choose them and in their order (classes named
    by digits from 0 up), in rows of `BAR_COLUMNS`."""

    chosen = Signal(int)

    def __init__(self):
        super().__init__()
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(6)
        self.buttons: list[QPushButton] = []  # in the order of the classes, not of the bar
        self.keys: list[str] = []

    def set_classes(self, names: list[str]) -> None:
        for button in self.buttons:
            self.grid.removeWidget(button)
            button.deleteLater()
        self.buttons = []
        self.keys = class_keys(names)
        shown = sorted(range(len(names)), key=lambda i: int(self.keys[i])) if named_by_digits(names) \
            else range(len(names))
        buttons = {}
        for place, i in enumerate(shown):
            name, key = names[i], self.keys[i]
            button = QPushButton(f"{key}  {name}" if key and key != name.strip() else name)
            button.setToolTip(f"Label the selected images “{name}”" + (f" (key {key})" if key else ""))
            button.setAccessibleName(f"Label as {name}")
            button.setFocusPolicy(Qt.NoFocus)
            button.clicked.connect(lambda _=False, i=i: self.chosen.emit(i))
            self.grid.addWidget(button, place // BAR_COLUMNS, place % BAR_COLUMNS)
            buttons[i] = button
        self.buttons = [buttons[i] for i in range(len(names))]

    def class_for_key(self, digit: int) -> int | None:
        """The index of the class the digit key labels, None if no class has that key."""
        return self.keys.index(str(digit)) if str(digit) in self.keys else None
