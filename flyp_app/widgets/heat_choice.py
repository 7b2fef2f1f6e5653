""""Where it looked", on request: a toggle that shows a heat map over each image in place of the
image itself, and the class it is for (each image's most likely class, or one class the user
picks). Try, the Blend page's gallery and the Label page hold one; the maps are the engine's
(`flyp_app.trust_tasks.explain_items`)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

MOST_LIKELY = "for the most likely class"
EACH_OWN = -1  # the data of `own`'s item: each image's own class (its true class, its suggestion)


class HeatChoice(QWidget):
    """`button` (checkable) and `classes` (a combo: the most likely class, with `own` each image's
    own class (data `EACH_OWN`), then each class, its data the class's index); `changed()` when
    either moves. `vertical` stacks them."""

    changed = Signal()

    def __init__(self, tip: str = "Show over each image where the model looked to choose the class (red: most)",
                 vertical: bool = False, most_likely: str = MOST_LIKELY, own: str | None = None):
        super().__init__()
        layout = QVBoxLayout(self) if vertical else QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.button = QPushButton("Where it looked", checkable=True)
        self.button.setToolTip(tip)
        self.button.toggled.connect(self._toggled)
        layout.addWidget(self.button)
        self.classes = QComboBox()
        self.classes.setToolTip("The class whose heat map is shown: each image's most likely class, or one "
                                "class for every image")
        # a long class name must not widen the page: the combo shows ~18 characters, its list all of them
        self.classes.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.classes.setMinimumContentsLength(18)
        self.classes.addItem(most_likely, None)
        if own:
            self.classes.addItem(own, EACH_OWN)
        self._fixed = self.classes.count()
        self.classes.currentIndexChanged.connect(lambda _: self.changed.emit())
        self.classes.hide()
        layout.addWidget(self.classes)
        self._names: list[str] = []

    def _toggled(self, on: bool) -> None:
        self.classes.setVisible(on)
        self.changed.emit()

    def set_classes(self, names: list[str]) -> None:
        """The classes to choose among (a class picked goes back to the first choice when they change)."""
        if names == self._names:
            return
        self._names = list(names)
        kept = self.classes.currentIndex() if self.classes.currentIndex() < self._fixed else 0
        self.classes.blockSignals(True)
        while self.classes.count() > self._fixed:
            self.classes.removeItem(self._fixed)
        for i, name in enumerate(names):
            self.classes.addItem(f"for {name}", i)
        self.classes.setCurrentIndex(kept)
        self.classes.blockSignals(False)

    def names(self) -> list[str]:
        return list(self._names)

    def on(self) -> bool:
        return self.button.isChecked()

    def class_index(self) -> int | None:
        """The index of the class picked, None for each image's most likely class, `EACH_OWN` for its own."""
        return self.classes.currentData()
