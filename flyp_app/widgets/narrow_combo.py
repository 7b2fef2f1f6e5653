"""Combo boxes as wide as a few letters, whatever their items: a long item (a folder's or a run's
name, "Cross-entropy on captions, both encoders (ablation)") would otherwise widen the page past a
1024-px window; the whole item shows in the open list."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox


def narrow(combo: QComboBox, letters: int = 12) -> QComboBox:
    """`combo`, its width no longer set by its longest item but by `letters` characters (it may still
    stretch where its layout gives it room)."""
    combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(letters)
    return combo
