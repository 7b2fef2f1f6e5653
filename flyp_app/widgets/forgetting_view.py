"""The Blend page's "What it forgot": a control folder of classes the project never trains, its
zero-shot accuracy at each α beside validation's (`core.trust.forgetting`), and best balance asked
to keep it within some points of zero-shot."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (QAbstractItemView, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)


class ForgettingView(QWidget):
    """`choose_requested()` asks the page for a control folder; `balance_requested(points)` for
    best balance keeping the control set within that many points of zero-shot."""

    choose_requested = Signal()
    balance_requested = Signal(float)

    def __init__(self):
        super().__init__()
        self.control: dict | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # Two rows: on one, the four controls made the Blend page wider than 1024 px beside the sidebar.
        first = QHBoxLayout()
        self.choose = QPushButton("Control folder…")
        self.choose.setToolTip("A folder with one sub-folder of images per class this project does not train: how "
                               "well the blend still knows them, at each α")
        self.choose.clicked.connect(self.choose_requested)
        first.addWidget(self.choose)
        first.addStretch(1)
        layout.addLayout(first)
        second = QHBoxLayout()
        caption = QLabel("Keep it within")
        second.addWidget(caption)
        self.points = QDoubleSpinBox(minimum=0, maximum=100, value=2, decimals=0, suffix=" points of zero-shot")
        self.points.setToolTip("How much of the control set's zero-shot accuracy best balance may give up")
        caption.setBuddy(self.points)
        second.addWidget(self.points)
        self.balance = QPushButton("Best balance keeping it")
        self.balance.setToolTip("The smallest α within noise of the best validation accuracy, among those that keep "
                                "the control set within these points of zero-shot")
        self.balance.clicked.connect(lambda: self.balance_requested.emit(self.points.value()))
        self.balance.setEnabled(False)
        second.addWidget(self.balance)
        second.addStretch(1)
        layout.addLayout(second)
        self.words = QLabel("Choose a control folder to see what finetuning made the model forget.", wordWrap=True)
        layout.addWidget(self.words)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["α", "Control set", "Forgotten"])
        self.table.setAccessibleName("Control set accuracy along α")
        self.table.setToolTip("The control set's zero-shot accuracy at each α, and the points lost against α = 0")
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        layout.addWidget(self.table, 1)

    def clear(self) -> None:
        """Another run: its control set is measured again when asked."""
        self.control = None
        self.balance.setEnabled(False)
        self.table.setRowCount(0)
        self.words.setText("Choose a control folder to see what finetuning made the model forget.")

    def show_waiting(self, text: str) -> None:
        self.words.setText(text)

    def set_control(self, control: dict, alpha: float) -> None:
        """A control curve (`flyp_app.trust_tasks.control_curve`), described at the current `alpha`."""
        self.control = control
        self.balance.setEnabled(True)
        self.table.setRowCount(len(control["curve"]))
        for r, point in enumerate(control["curve"]):
            lost = 100 * (control["zero_shot"] - point["accuracy"])
            for c, text in enumerate((f"{point['alpha']:.1f}", f"{point['accuracy']:.1%}", f"{lost:+.1f} points")):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.show_alpha(alpha)

    def show_alpha(self, alpha: float) -> None:
        if self.control is None:
            return
        nearest = min(self.control["curve"], key=lambda p: abs(p["alpha"] - alpha))
        lost = 100 * (self.control["zero_shot"] - nearest["accuracy"])
        self.words.setText(f"{self.control['n']} images of {len(self.control['classes'])} other classes: zero-shot "
                           f"{self.control['zero_shot']:.1%}; at α = {nearest['alpha']:.1f} {nearest['accuracy']:.1%}, "
                           + (f"{lost:.1f} points forgotten." if lost > 0 else "nothing forgotten."))
