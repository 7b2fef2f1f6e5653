"""The mouse wheel over an unfocused spin box or combo box scrolls the settings panel (issue #31 item 6)."""

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QScrollArea


def wheel_down(widget, notches: int = 3) -> None:
    centre = QPointF(widget.rect().center())
    QApplication.sendEvent(widget, QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(),
                                               QPoint(0, -120 * notches), Qt.NoButton, Qt.NoModifier,
                                               Qt.NoScrollPhase, False))


def test_the_wheel_scrolls_the_settings_panel_and_leaves_an_unfocused_batch_size_alone(project_window, qtbot):
    page = project_window.show_page("train")
    project_window.resize(1024, 500)  # short enough for the settings panel to scroll
    params = page.params
    params.preset.setCurrentText("Quick try")  # settings of one's own: the batch size can be changed
    params.preset.activated.emit(params.preset.currentIndex())
    params.toggle.setChecked(True)
    qtbot.waitUntil(lambda: params.batch.isVisible() and params.batch.isEnabled())
    panel = next(area for area in page.findChildren(QScrollArea) if area.isAncestorOf(params.batch))
    bar = panel.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    batch, before = params.batch.value(), bar.value()

    wheel_down(params.batch)
    assert params.batch.value() == batch  # unchanged, unseen or not
    assert bar.value() > before  # the panel scrolled instead

    project_window.activateWindow()
    qtbot.waitUntil(project_window.isActiveWindow)
    params.batch.setFocus()  # clicked or tabbed into: the wheel is the user's choice
    qtbot.waitUntil(params.batch.hasFocus)
    wheel_down(params.batch, 1)
    assert params.batch.value() == batch - params.batch.singleStep()
    assert params.batch.focusPolicy() == Qt.StrongFocus  # a wheel alone never gives it the focus


def test_an_unfocused_combo_box_keeps_its_choice_under_the_wheel(project_window, qtbot):
    page = project_window.show_page("train")
    combo = page.model_picker.source
    chosen = combo.currentIndex()
    wheel_down(combo)
    assert combo.currentIndex() == chosen
