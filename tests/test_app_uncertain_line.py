"""The Blend page's coverage plot has a draggable "Uncertain below" line: the project's
`min_confidence` (one undo step), in step with Try's folder-sorting box; and the plot shows the
coverage of the confidence predictions at α give (calibrated where run.json keeps a temperature)."""

from __future__ import annotations

import json

import pytest

from test_app_classify_folder import window  # noqa: F401  (the window with a copy of the finished run)


def _reliability(qtbot, window):
    window.state.set_alpha(0.5)
    page = window.show_page("blend")
    qtbot.waitUntil(lambda: page.curve is not None and page._exact_here() is not None, timeout=60000)
    page.by_class.setCurrentWidget(page.reliability)
    view = page.reliability.widget()
    qtbot.waitUntil(lambda: view.report is not None, timeout=60000)
    return view


def _drag_to(view, percent: float) -> None:
    view.uncertain.setValue(percent)  # what a drag does, then its release
    view.uncertain.sigPositionChangeFinished.emit(view.uncertain)


def test_the_uncertain_line_is_the_project_setting_and_tries_box(qtbot, window):
    view = _reliability(qtbot, window)
    box = window.show_page("try").folder_results.min_confidence
    assert view.uncertain.value() == pytest.approx(50) and box.value() == 50
    _drag_to(view, 70.3)
    assert window.state.project.min_confidence == pytest.approx(0.70)
    assert box.value() == 70 and view.uncertain.value() == pytest.approx(70)
    assert "at least 70% sure:" in view.words.toPlainText()  # the words follow the line
    window.state.undo_stack.undo()
    assert window.state.project.min_confidence == pytest.approx(0.5)
    assert box.value() == 50 and view.uncertain.value() == pytest.approx(50)
    box.setValue(80)  # Try's box moves the line
    assert view.uncertain.value() == pytest.approx(80) and window.state.project.min_confidence == pytest.approx(0.8)
    window.state.save_now()
    saved = json.loads(window.state.project.path.read_text())
    assert saved["min_confidence"] == pytest.approx(0.8)


def test_the_plot_shows_the_calibrated_coverage_where_predictions_use_it(qtbot, window, tmp_path):
    from core.training.runs import RunDir

    run = tmp_path / "runs" / "flyp"
    RunDir(run).update_info(calibration={"alpha": 0.5, "temperature": 2.0, "sets": {"id": {"accuracy": 0.9}}})
    view = _reliability(qtbot, window)
    assert view.report["calibrated_predictions"] is True
    for name, s in view.report["sets"].items():
        rows = [r for r in s["coverage"] if r["accuracy"] is not None]
        accuracy, kept = (curve.getData() for curve in view.kept[name])
        assert list(kept[1]) == pytest.approx([100 * r["coverage"] for r in rows])
    assert "Predictions at this α use it" in view.words.toPlainText()
