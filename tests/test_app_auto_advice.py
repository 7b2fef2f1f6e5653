"""The Train page's automatic mode, its warnings and advice, and the α a finished run opens at."""

import json
import shutil
from pathlib import Path

import pytest

from test_app_train import RUN_TIMEOUT, wait_finished


@pytest.fixture
def window(project_window):
    project_window.show_page("train")
    return project_window


def use_folders(qtbot, window, data, ood: bool = True) -> None:
    state = window.state
    state.set_folders(train=str(data["train"]), val=str(data["val"]), ood=[str(data["ood"])] if ood else [])
    with qtbot.waitSignal(state.scan_finished, timeout=30000):
        window.pages["data"]._load_project()


def info(path) -> dict:
    return json.loads((Path(path) / "run.json").read_text())


def test_a_new_project_trains_automatically_within_its_budget(qtbot, window, colour_data):
    from flyp_app.widgets.train_settings import AUTO

    page = window.pages["train"]
    assert window.state.project.auto and page.params.preset.currentText() == AUTO
    assert page.params.budget_box.isVisibleTo(page) and not page.params.lr.isEnabled()
    use_folders(qtbot, window, colour_data)
    assert "72 training images: about" in page.params.preset_note.text()  # the suggested budget, in minutes
    window.state.set_settings(model="demo", workers=0, budget_minutes=0.4)  # a CI-sized budget
    page.start_button.click()
    qtbot.waitUntil(lambda: "Automatic settings: try 1" in page.progress_box.message.text(), timeout=RUN_TIMEOUT)
    wait_finished(qtbot, page)
    runs = window.state.project.runs
    final = info(runs[-1])
    assert final["auto"]["role"] == "final" and final["status"] == "finished"
    trials = [info(r) for r in runs[:-1]]
    assert len(trials) == len(final["auto"]["trials"]) >= 1 and all(t["auto"]["role"] == "trial" for t in trials)
    assert "Automatic settings: Learning rate" in page.progress_box.message.text()


def test_far_off_settings_warn_before_start_and_advice_trains_again(qtbot, window, colour_data):
    """The issue's lr 1: a warning, Start anyway, then advice and one click to train again."""
    page = window.pages["train"]
    use_folders(qtbot, window, colour_data)
    window.state.set_settings(model="demo", auto=False, lr=1.0, epochs=1, batch_size=8, workers=0)
    page.start_button.click()
    warning = page.settings_column.bounds_warning
    assert not page.training() and warning.isVisibleTo(page)
    assert warning.text().startswith("Learning rate 1 is far outside what works for the built-in demo")
    assert "--" not in warning.text() and page.start_button.text() == "Start anyway"
    page.start_button.click()
    assert page.training()
    wait_finished(qtbot, page)
    qtbot.waitUntil(lambda: page.advice.isVisibleTo(page), timeout=30000)
    assert page.advice.button.text() == "Train again with learning rate 0.0001"
    page.advice.button.click()
    assert page.training() and window.state.project.settings["lr"] == 1e-4
    wait_finished(qtbot, page)
    assert info(window.state.project.runs[-1])["config"]["lr"] == 1e-4


@pytest.fixture
def blend_window(qtbot, tmp_path, flyp_run):
    from flyp_app.window import MainWindow

    run = shutil.copytree(flyp_run, tmp_path / "runs" / "flyp")
    win = MainWindow(load_engine=False)
    qtbot.addWidget(win)
    win.create_project(tmp_path / "Mine.flyp.json")
    win.state.add_run(str(run))
    win.show()
    yield win
    win.close()


def open_blend(qtbot, window):
    window.show_page("blend")
    page = window.pages["blend"]
    settled(qtbot, page)
    return page


def settled(qtbot, page) -> None:
    """The curve, and the exact blend at the current α, are in (no evaluation left running)."""
    qtbot.waitUntil(lambda: page.curve is not None and page._exact_here() is not None, timeout=60000)


def test_a_finished_run_opens_at_its_best_validation_alpha_on_blend_try_and_export(qtbot, blend_window):
    from core.weights.curve import best_alpha

    assert blend_window.state.project.alpha == 0.5  # nothing chosen yet
    page = open_blend(qtbot, blend_window)
    best = best_alpha(page.curve)["alpha"]
    assert blend_window.state.project.alpha == best and page.slider.value() == round(best * 20)
    blend_window.show_page("export")
    assert blend_window.pages["export"].alpha.value() == pytest.approx(best)
    page.slider.setValue(3)  # the user's own choice stays
    blend_window.show_page("blend")
    page.load_curve()
    qtbot.waitUntil(lambda: page.curve is not None and not page.progress.isVisible(), timeout=60000)
    assert blend_window.state.project.alpha == 0.15
    settled(qtbot, page)


def test_blend_buttons_choose_by_rule_and_show_it(qtbot, blend_window):
    from core.weights.curve import balanced_alpha, best_alpha

    page = open_blend(qtbot, blend_window)
    page.slider.setValue(20)
    page.balance_button.click()
    assert blend_window.state.project.alpha == balanced_alpha(page.curve)["alpha"]
    assert "smallest α" in page.rule.text()
    page.best_button.click()
    assert blend_window.state.project.alpha == best_alpha(page.curve)["alpha"]
    assert "best validation accuracy" in page.rule.text()
    qtbot.wait(300)  # the debounced exact evaluation of the new α starts…
    settled(qtbot, page)  # …and ends before the window closes


def test_without_different_conditions_the_page_says_what_blending_trades(qtbot, tmp_path, colour_data):
    from core.training.loop import train
    from conftest import tiny_config
    from flyp_app.window import MainWindow

    run = tmp_path / "no-ood"
    train(tiny_config(colour_data, ood_dirs=[], epochs=1), run)
    window = MainWindow(load_engine=False)
    qtbot.addWidget(window)
    window.create_project(tmp_path / "Mine.flyp.json")
    window.state.add_run(str(run))
    window.show()
    try:
        page = open_blend(qtbot, window)
        assert not page.balance_button.isVisibleTo(page) and page.best_button.isEnabled()
        assert "trade accuracy on images like these for robustness" in page.rule.text()
        assert page.robust_stack.currentWidget() is page.robust_note
        assert "Data page" in page.robust_note.text()
    finally:
        window.close()
