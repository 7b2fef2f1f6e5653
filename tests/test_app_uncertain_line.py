"""The Blend page's coverage plot has a draggable "Uncertain below" line: the project's
`min_confidence` (one undo step), in step with Try's folder-sorting box; and the plot shows the
coverage of the confidence predictions at α give (calibrated where a temperature applies at α)."""

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


def _report(calibrated_predictions: bool, temperature_fit: str = "fitted") -> dict:
    rows = lambda share: [{"threshold": t / 20, "coverage": share * (1 - t / 20), "accuracy": 0.5 + t / 40}
                          for t in range(21)]
    bins = [{"low": 0.9, "high": 1.0, "n": 10, "confidence": 0.95, "accuracy": 0.7}]
    s = {"n": 10, "accuracy": 0.7, "mean_confidence": 0.8, "calibration_error": 0.25,
         "calibration_error_calibrated": 0.05, "reliability": bins, "coverage": rows(0.6),
         "coverage_uncalibrated": rows(0.9)}
    return {"alpha": 0.5, "temperature": 1.7, "temperature_fit": temperature_fit, "sets": {"id": s},
            "calibrated_predictions": calibrated_predictions}


@pytest.mark.parametrize("calibrated", [True, False], ids=["a temperature at α: calibrated", "raw"])
def test_the_plot_shows_the_coverage_of_the_confidence_predictions_give(qtbot, calibrated):
    from flyp_app.widgets.reliability import ReliabilityView

    view = ReliabilityView(0.5)
    qtbot.addWidget(view)
    report = _report(calibrated)
    view.set_report(report)
    _, kept = (curve.getData() for curve in view.kept["id"])
    rows = report["sets"]["id"]["coverage" if calibrated else "coverage_uncalibrated"]
    assert list(kept[1]) == pytest.approx([100 * r["coverage"] for r in rows])
    words = view.words.toPlainText()
    assert ("Predictions at this α use it" in words) == calibrated
    half = rows[10]
    assert f"at least 50% sure: {half['coverage']:.0%} of the images" in words


def test_a_perfect_validation_set_is_said_to_leave_the_confidence_as_it_is(qtbot):
    from flyp_app.widgets.reliability import ReliabilityView

    view = ReliabilityView(0.5)
    qtbot.addWidget(view)
    view.set_report(_report(False, "no validation errors"))
    assert "every validation image is right" in view.words.toPlainText()


def test_the_uncertain_lines_words_are_whole_inside_the_plot(qtbot, window):
    view = _reliability(qtbot, window)
    view.window().resize(1280, 800)
    for percent in (10, 50, 90):
        _drag_to(view, percent)
        qtbot.wait(100)
        _assert_inside(view)


def _assert_inside(view) -> None:
    box = view.coverage.getViewBox()
    label = view.uncertain.label
    inside = box.mapRectToScene(box.boundingRect())
    words = label.mapRectToScene(label.boundingRect())
    assert inside.left() <= words.left() and words.right() <= inside.right() + 1, (words, inside)


@pytest.mark.parametrize("size", [(1024, 700), (1280, 800)])
def test_both_plots_left_axis_words_are_whole(qtbot, window, size):
    """The tab's plots are short: the words along their left axes must fit its height, not be cut."""
    view = _reliability(qtbot, window)
    view.window().resize(*size)
    qtbot.wait(100)
    for plot in (view.plot, view.coverage):
        axis = plot.getAxis("left")
        label = axis.label  # drawn turned by 90°: its width runs along the axis' height
        assert label.boundingRect().width() <= axis.boundingRect().height(), (label.toPlainText(), size)
