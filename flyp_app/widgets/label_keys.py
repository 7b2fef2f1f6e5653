"""The Label page's keys: which key labels which class, and the row of class buttons that shows them.

By default a class's key is a digit: its own when every class is named by a different digit
("7" or "seven"), otherwise its place, 1…9 and 0 for the tenth. The user can give any class a
key of their own (a letter, digit or sign, as in the labelling tools they know); the key is then
that class's alone, and a class whose digit it was loses it. Keys are kept in the project.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCompleter, QGridLayout, QHBoxLayout, QInputDialog, QLineEdit, QPushButton,
                               QScrollArea, QVBoxLayout, QWidget)

BAR_COLUMNS = 6
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def class_keys(names: list[str], chosen: dict[int, str] | None = None) -> list[str]:
    """The key that labels each class of `names`, as its button shows it ("" for none): the key the
    user chose for it (`chosen`, {index: key}), else its digit (`default_keys`) unless another class
    was given that digit."""
    chosen = chosen or {}
    taken = set(chosen.values())
    return [chosen.get(i) or (key if key not in taken else "") for i, key in enumerate(default_keys(names))]


def default_keys(names: list[str]) -> list[str]:
    """The digit key of each class: when every class is named by a different digit, that digit;
    otherwise its place, 1…9 and 0 for the tenth (none after)."""
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


class ClassBar(QWidget):
    """One button per class, with the key that labels it, in rows of `BAR_COLUMNS`: in the order of
    the classes, or of their digits when they are named by digits (0 up). Right-click a button to
    choose its key (`key_wanted`)."""

    chosen = Signal(int)      # the class's index: label the selected images with it
    key_wanted = Signal(int)  # the user asks to choose the class's key

    def __init__(self):
        super().__init__()
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(6)
        self.buttons: list[QPushButton] = []  # in the order of the classes, not of the bar
        self.keys: list[str] = []

    def set_classes(self, names: list[str], chosen: dict[int, str] | None = None) -> None:
        """Show a button for each of `names`, with its key (`class_keys(names, chosen)`)."""
        for button in self.buttons:
            self.grid.removeWidget(button)
            button.deleteLater()
        self.buttons = []
        self.keys = class_keys(names, chosen)
        shown = sorted(range(len(names)), key=lambda i: _digit_of(names[i])) if named_by_digits(names) \
            else range(len(names))
        buttons = {}
        for place, i in enumerate(shown):
            name, key = names[i], self.keys[i]
            button = QPushButton(f"{key}  {name}" if key and key != name.strip().casefold() else name)
            button.setToolTip(f"Label the selected images “{name}”" + (f" (key {key})" if key else "")
                              + "; right-click to choose its key")
            button.setAccessibleName(f"Label as {name}")
            button.setFocusPolicy(Qt.NoFocus)
            button.setContextMenuPolicy(Qt.CustomContextMenu)
            button.clicked.connect(lambda _=False, i=i: self.chosen.emit(i))
            button.customContextMenuRequested.connect(lambda _=None, i=i: self.key_wanted.emit(i))
            self.grid.addWidget(button, place // BAR_COLUMNS, place % BAR_COLUMNS)
            buttons[i] = button
        self.buttons = [buttons[i] for i in range(len(names))]

    def class_for_key(self, key: str | int) -> int | None:
        """The index of the class `key` labels, None if no class has that key."""
        key = str(key).casefold()
        return self.keys.index(key) if key and key in self.keys else None


class ClassChooser(QWidget):
    """How the user names a class: its button in the row of classes (`ClassBar`), or its name typed
    (completed) and Enter, with New class… and Undo beside it. A right-click on a button asks for
    the class's key (`key_chosen`)."""

    chosen = Signal(str)           # a class folder: label the selected images with it
    unknown = Signal(str)          # a name typed that is no class's
    key_chosen = Signal(str, str)  # a class folder and the key typed for it ("": its number again)
    new_class = Signal()
    undo = Signal()

    def __init__(self):
        super().__init__()
        self.classes: list[str] = []
        self.display: Callable[[str], str] = str
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.bar = ClassBar()
        self.bar.chosen.connect(lambda i: self.chosen.emit(self.classes[i]))
        self.bar.key_wanted.connect(self._ask_key)
        scroll = QScrollArea(widgetResizable=True, frameShape=QScrollArea.NoFrame)
        scroll.setWidget(self.bar)
        scroll.setMaximumHeight(96)
        layout.addWidget(scroll)
        self.row = row = QHBoxLayout()  # the page may add its own controls (Where it looked) here
        self.name_edit = QLineEdit(placeholderText="or type a class name and press Enter")
        self.name_edit.setAccessibleName("Class name")
        self.name_edit.setToolTip("Label the selected images with a class typed by name (an existing one, or a new "
                                  "one, made as a folder in the training folder)")
        self.name_edit.returnPressed.connect(self._typed_name)
        self.completer = QCompleter([], self.name_edit, caseSensitivity=Qt.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchContains)
        self.name_edit.setCompleter(self.completer)
        row.addWidget(self.name_edit, 1)
        new_class = QPushButton("New class…", toolTip="Add a class: a new folder in the training folder")
        new_class.clicked.connect(self.new_class)
        row.addWidget(new_class)
        undo = QPushButton("Undo", toolTip="Put the last labelled images back (Ctrl+Z)")
        undo.clicked.connect(self.undo)
        row.addWidget(undo)
        layout.addLayout(row)

    def set_classes(self, classes: list[str], display: Callable[[str], str], keys: dict[str, str]) -> None:
        """The classes (folders), their names as shown, and the keys the user chose ({folder: key})."""
        self.classes, self.display = classes, display
        names = [display(c) for c in classes]
        self.bar.set_classes(names, {i: keys[c] for i, c in enumerate(classes) if c in keys})
        self.completer.model().setStringList(names + [c for c in classes if c not in names])

    def class_for_key(self, key: str) -> str | None:
        index = self.bar.class_for_key(key)
        return self.classes[index] if index is not None else None

    def key_of(self, folder: str) -> str:
        return self.bar.keys[self.classes.index(folder)] if folder in self.classes else ""

    def find_class(self, text: str) -> str | None:
        """The class folder called `text` (by its folder's name or the name shown), None if none is."""
        lowered = text.strip().casefold()
        return next((c for c in self.classes if lowered in (c.casefold(), self.display(c).casefold())), None)

    def start_typing(self, text: str) -> None:
        self.name_edit.setFocus()
        self.name_edit.setText(self.name_edit.text() + text)

    def _typed_name(self) -> None:
        text = self.name_edit.text().strip()
        folder = self.find_class(text)
        if folder is None:
            self.unknown.emit(text)
            return
        self.name_edit.clear()
        self.chosen.emit(folder)

    def _ask_key(self, index: int) -> None:
        folder = self.classes[index]
        text, ok = QInputDialog.getText(self, "Key for a class", f"The key that labels “{self.display(folder)}” (a "
                                        "letter, digit or sign; leave it empty for its number):",
                                        text=self.bar.keys[index])
        if ok:
            self.key_chosen.emit(folder, text)
