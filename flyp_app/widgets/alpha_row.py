"""The Blend page's α row: the slider from zero-shot to finetuned (steps of 0.05), α in large
type, and the accuracies at that α in words."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider

STEPS = 20           # the slider moves in steps of 0.05


def alpha_row() -> tuple[QHBoxLayout, QSlider, QLabel, QLabel]:
    """(the row, its slider, the α label, the label of the numbers at α)."""
    slider = QSlider(Qt.Horizontal, minimum=0, maximum=STEPS, singleStep=1, pageStep=2)
    slider.setTickPosition(QSlider.TicksBelow)
    slider.setTickInterval(2)
    slider.setAccessibleName("Blend α, from zero-shot (0) to finetuned (1)")
    slider.setToolTip("α = 0: the original zero-shot model; α = 1: your finetuned model; between: a blend "
                      "of their weights. Arrow keys move it by 0.05.")
    alpha_label = QLabel("α = 0.50", objectName="bigNumber")
    alpha_label.setMinimumWidth(110)
    numbers = QLabel("")
    numbers.setTextFormat(Qt.RichText)
    numbers.setMinimumWidth(260)
    numbers.setWordWrap(True)
    row = QHBoxLayout()
    row.addWidget(QLabel("zero-shot"))
    row.addWidget(slider, 1)
    row.addWidget(QLabel("finetuned"))
    row.addSpacing(16)
    row.addWidget(alpha_label)
    row.addWidget(numbers)
    return row, slider, alpha_label, numbers
