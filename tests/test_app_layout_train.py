"""The Train page at 1366×768 and at 1280×768 (the app's first size on a 1366×768 screen, issue #31):
no empty strip above the plots, and a long automatic run's message and its advice shown whole, the
plots still readable and the list of runs still there."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint

from test_app_layout_small import on_screen

LONG_MESSAGE = (
    "Finished 2026-12-08 0015 auto. Best validation accuracy 100.0% at step 9 (zero-shot 100.0%). Automatic "
    "settings: Learning rate 3e-05: the best validation accuracy of 3 trials of 1 epoch (3e-05 → 100.0%, "
    "0.0001 → 100.0%, 0.0003 → 100.0%), judged on the validation folder. Then 2 epochs, what the rest of the "
    "time budget pays for, stopping early once validation accuracy stops improving. Batch 8: the usual 64 for "
    "the built-in demo model, made smaller so that an epoch of 72 training images has several steps. Next: "
    "blend it with the zero-shot model on the Blend page.")


def top(widget, window) -> int:
    return widget.mapTo(window, QPoint(0, 0)).y()


def whole(label) -> bool:
    return label.height() >= label.heightForWidth(label.width())


def settle() -> None:
    """Let every posted layout request run (a widget's new minimum asks its parent's layout again)."""
    from PySide6.QtWidgets import QApplication

    for _ in range(10):
        QApplication.sendPostedEvents()
        QApplication.processEvents()


def test_no_empty_strip_above_the_plots_before_any_run(qtbot, project_window):
    window = project_window
    window.resize(1366, 768)
    page = window.show_page("train")
    qtbot.waitUntil(lambda: page.plots.graphics is not None)
    settle()
    box = page.progress_box
    gap = top(page.plots.graphics, window) - (top(box, window) + box.height())
    assert gap <= 12, gap  # neither an empty "Showing:" line nor an empty legend above the plots


@pytest.mark.parametrize("width", [1366, 1280])
def test_a_long_run_message_and_its_advice_are_shown_whole(qtbot, project_window, width):
    from core.training.advice import Advice
    from flyp_app.curves import Curves

    window = project_window
    window.resize(width, 768)
    page = window.show_page("train")
    qtbot.waitUntil(lambda: page.plots.graphics is not None)
    curves = Curves(total_steps=18)
    curves.add({"type": "eval", "step": 0, "sets": {"id": {"accuracy": 1.0}, "ood": {"accuracy": 1.0}}})
    page.curves.show_live("/runs/2026-12-08 0015 auto", curves)
    page.progress_box.draw({"message": LONG_MESSAGE, "step": 18, "total": 18, "per_epoch": 9, "rate": 46},
                           False, False)
    page.advice.show_advice([
        Advice("barely_moved", "Validation accuracy barely moved from zero-shot (100.0% → best 100.0%) and the "
               "training loss hardly fell: the model hardly learned from your images.", {"lr": 9e-5}),
        Advice("few_validation_images", "The validation accuracy rests on only 24 images (fewer than 200): 100% "
               "measured there means anywhere from 86% to 100% (95% interval), so differences smaller than that "
               "between runs or blends mean little.", {}, "Add images to the validation folder.")])
    settle()
    assert (window.width(), window.height()) == (width, 768)
    for label in (page.progress_box.message, page.advice.text, page.settings_column.augment.note):
        assert on_screen(label, window) and whole(label), label.text()[:40]
    assert on_screen(page.advice.button, window)
    assert page.plots.graphics.height() >= 240  # three plots whose axis titles do not run into each other
    assert on_screen(page.history, window) and page.history.height() >= 80  # a few runs still listed
