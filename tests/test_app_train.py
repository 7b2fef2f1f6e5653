"""The Train page driven as a user would: settings, start, live curves, pause, stop, resume, reopen."""

import json
import re
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

RUN_TIMEOUT = 180_000  # ms; a tiny run takes seconds, but CI machines can be busy


@pytest.fixture
def window(project_window):
    project_window.show_page("train")
    return project_window


def prepare(qtbot, window, data, epochs: int) -> None:
    """Folders and the tiny model, as the Data page and the settings would leave them."""
    state = window.state
    state.set_folders(train=str(data["train"]), val=str(data["val"]), ood=[str(data["ood"])])
    state.set_settings(model="flyp-tiny", pretrained="none", epochs=epochs, batch_size=12, lr=2e-3, workers=0,
                       auto=False)  # by hand: a new project trains automatically
    with qtbot.waitSignal(state.scan_finished, timeout=30000):
        window.pages["data"]._load_project()


def steps_seen(page) -> int:
    return len(page._live.steps) if page._live is not None else 0


def wait_finished(qtbot, page) -> None:
    qtbot.waitUntil(lambda: not page.training(), timeout=RUN_TIMEOUT)


def run_info(path) -> dict:
    return json.loads((Path(path) / "run.json").read_text())


def test_a_run_trains_with_live_curves_and_joins_the_history(qtbot, window, colour_data):
    prepare(qtbot, window, colour_data, epochs=2)
    page = window.pages["train"]
    assert page.model_picker.arch.currentText() == "flyp-tiny" and page.params.epochs.value() == 2
    page.start_button.click()
    assert page.training() and not page.start_button.isEnabled()
    qtbot.waitUntil(lambda: page.plots.point_counts().get("loss", 0) >= 3, timeout=RUN_TIMEOUT)
    assert page.plots.point_counts()["zero-shot:id"] == 1  # the baseline line came with the first evaluation
    assert "step" in page.progress_box.detail.text() and "images/s" in page.progress_box.detail.text()
    wait_finished(qtbot, page)
    counts = page.plots.point_counts()  # 72 images, batch 12: 6 steps per epoch; evaluated at 0, 6, 12
    assert counts["loss"] == counts["smooth"] == counts["lr"] == 12
    assert counts["acc:id"] == counts["acc:ood"] == 3 and counts["zero-shot:ood"] == 1
    assert page.progress_box.progress_bar.value() == page.progress_box.progress_bar.maximum() == 12
    runs = window.state.project.runs
    assert page.progress_box.message.text().startswith(f"Finished {Path(runs[0]).name}. Best validation accuracy")
    assert len(runs) == 1 and window.state.project.current_run == runs[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d{4} flyp", Path(runs[0]).name)
    assert run_info(runs[0])["status"] == "finished"
    qtbot.waitUntil(lambda: page.history.tree.topLevelItemCount() == 1
                    and page.history.tree.topLevelItem(0).text(2) == "finished", timeout=10000)
    assert "→" in page.history.tree.topLevelItem(0).text(3)


def test_pause_holds_the_run_and_resume_finishes_it(qtbot, window, colour_data):
    prepare(qtbot, window, colour_data, epochs=2)
    page = window.pages["train"]
    page.start_button.click()
    qtbot.waitUntil(lambda: steps_seen(page) >= 2, timeout=RUN_TIMEOUT)
    page.pause_button.click()
    qtbot.waitUntil(lambda: page.pause_button.text() == "Resume", timeout=RUN_TIMEOUT)
    paused_at = steps_seen(page)
    qtbot.wait(1500)
    assert steps_seen(page) == paused_at < 12  # nothing trains while paused
    assert "Paused at step" in page.progress_box.message.text() and "paused" in page.progress_box.detail.text()
    assert "left" not in page.progress_box.detail.text()  # no time estimate while nothing trains
    live = [page.history.tree.topLevelItem(i) for i in range(page.history.tree.topLevelItemCount())]
    assert [item.text(2) for item in live] == ["paused (saved)"]
    assert page.training() and (Path(page._live_path) / "state.safetensors").is_file()  # saved on pause
    page.pause_button.click()
    wait_finished(qtbot, page)
    assert steps_seen(page) == 12 and run_info(page._live_path)["status"] == "finished"


def test_stop_leaves_a_resumable_run_and_resume_finishes_it(qtbot, window, colour_data):
    prepare(qtbot, window, colour_data, epochs=2)
    page = window.pages["train"]
    page.start_button.click()
    qtbot.waitUntil(lambda: steps_seen(page) >= 2, timeout=RUN_TIMEOUT)
    page.stop_button.click()
    wait_finished(qtbot, page)
    path = window.state.project.runs[0]
    assert run_info(path)["status"] == "cancelled" and "Stopped at step" in page.progress_box.message.text()
    assert "left" not in page.progress_box.detail.text()  # the estimate goes with the run
    qtbot.waitUntil(lambda: page.history.resume.isEnabled(), timeout=10000)
    assert "can be resumed" in page.history.tree.topLevelItem(0).text(2)
    page.history.resume.click()
    wait_finished(qtbot, page)
    assert run_info(path)["status"] == "finished"
    assert page._live.steps == list(range(1, 13))  # earlier steps from the file, the rest live, none twice
    assert page.plots.point_counts()["loss"] == 12


def test_closing_mid_run_saves_it_and_reopening_shows_and_resumes_it(qtbot, window, colour_data, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from flyp_app.window import MainWindow

    prepare(qtbot, window, colour_data, epochs=2)
    page = window.pages["train"]
    page.params.lr.setText("0.002")
    page.params.seed.setValue(3)
    page.start_button.click()
    qtbot.waitUntil(lambda: steps_seen(page) >= 2, timeout=RUN_TIMEOUT)
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.Yes)
    window.close()  # asks, stops, waits for the saved state
    assert not page.training()
    path = window.state.project.runs[0]
    assert run_info(path)["status"] == "cancelled"

    again = MainWindow(load_engine=False)
    qtbot.addWidget(again)
    assert again.open_project(tmp_path / "Mine.flyp.json")
    again.show()
    again.show_page("train")
    reopened = again.pages["train"]
    assert reopened.model_picker.value() == ("flyp-tiny", "none")
    assert (reopened.params.epochs.value(), reopened.params.batch.value(), reopened.params.seed.value()) == (2, 12, 3)
    assert reopened.params.lr.text() == "0.002"
    qtbot.waitUntil(lambda: reopened.plots.point_counts().get("loss", 0) >= 2, timeout=30000)
    assert reopened.plots.point_counts()["acc:id"] >= 1 and reopened.history.current() == path
    assert reopened.history.resume.isEnabled()
    reopened.history.resume.click()
    wait_finished(qtbot, reopened)
    assert run_info(path)["status"] == "finished" and reopened.plots.point_counts()["loss"] == 12
    again.close()


def test_presets_and_advanced_settings_persist_and_bad_values_show_inline(qtbot, window, colour_data, tmp_path):
    from core.project import load_project

    prepare(qtbot, window, colour_data, epochs=2)
    params = window.pages["train"].params
    params.preset.setCurrentText("Paper defaults")
    params.preset.activated.emit(params.preset.currentIndex())
    settings = window.state.project.settings
    assert (settings["epochs"], settings["lr"], settings["weight_decay"]) == (10, 1e-5, 0.1)
    assert settings["batch_size"] == 8  # 72 training images: the paper's 256 capped so an epoch has at least 8 steps
    assert "capped at 8" in params.preset_note.text()
    params.toggle.click()
    assert params.advanced.isVisible()
    params.lr.setText("fast")
    params.lr.editingFinished.emit()
    assert params.error.isVisible() and "Learning rate" in params.error.text()
    assert window.state.project.settings["lr"] == 1e-5  # a bad value is not stored
    params.lr.setText("3e-5")
    params.lr.editingFinished.emit()
    assert not params.error.isVisible() and params.preset.currentText() == "Custom"
    params.method.setCurrentIndex(params.method.findData("ce"))
    params.method.activated.emit(params.method.currentIndex())
    assert "cross-entropy" in params.method_note.text()
    params.mask.setChecked(True)
    assert "flyp only" in params.error.text() and not window.state.project.settings.get("mask_same_class")
    params.mask.setChecked(False)
    params.warmup.setValue(7)
    params.device.setCurrentIndex(params.device.findData("cpu"))
    params.device.activated.emit(params.device.currentIndex())
    window.state.save_now()
    saved = load_project(tmp_path / "Mine.flyp.json").settings
    assert {k: saved[k] for k in ("lr", "method", "warmup", "device", "mask_same_class")} == \
        {"lr": 3e-5, "method": "ce", "warmup": 7, "device": "cpu", "mask_same_class": False}


def test_model_choices_are_stored_in_the_project(qtbot, window):
    picker = window.pages["train"].model_picker
    picker.source.setCurrentIndex(picker.source.findData("demo"))
    picker.source.activated.emit(picker.source.currentIndex())
    assert (window.state.project.model, window.state.project.pretrained) == ("demo", "")
    assert not picker.arch.isVisible()
    picker.source.setCurrentIndex(picker.source.findData("open_clip"))
    picker.source.activated.emit(picker.source.currentIndex())
    assert (window.state.project.model, window.state.project.pretrained) == ("ViT-B-32", "openai")
    picker.source.setCurrentIndex(picker.source.findData("file"))
    picker.source.activated.emit(picker.source.currentIndex())
    picker.file.setText("/models/my-weights.safetensors")
    picker.file.editingFinished.emit()
    assert (window.state.project.model, window.state.project.pretrained) == ("ViT-B-32", "/models/my-weights.safetensors")
    window.pages["train"].settings_column.load()
    assert picker.source.currentData() == "file" and picker.file.isVisible()


def test_engine_errors_appear_inline_in_words(qtbot, window, colour_data):
    page = window.pages["train"]
    page.start_button.click()
    assert "Choose a training folder" in page.status.text() and not page.training()
    prepare(qtbot, window, colour_data, epochs=1)
    window.state.set_settings(pretrained="")
    page.start_button.click()
    assert "Choose the pretrained weights" in page.status.text() and not page.training()
    window.state.set_settings(model="no-such-model", pretrained="none")
    page.start_button.click()
    wait_finished(qtbot, page)
    assert page.status.isVisible() and "not an open_clip architecture" in page.status.text()
    assert "Traceback" not in page.status.text() and window.state.project.runs == []
    assert page.start_button.isEnabled()


def test_the_window_stays_responsive_while_training(qtbot, window, colour_data, forward_passes):
    from conftest import off_the_ui_thread

    prepare(qtbot, window, colour_data, epochs=8)  # ~50 steps, 8 evaluations
    page = window.pages["train"]
    shown = set()  # the steps the plots showed, each time the UI thread looked
    page.start_button.click()
    assert page.training()  # it returned at once: the run trains in the background
    qtbot.waitUntil(lambda: shown.add(steps_seen(page)) or not page.training(), timeout=RUN_TIMEOUT)
    assert len(shown - {0}) >= 3  # the plots moved while it trained, not all at the end
    assert off_the_ui_thread(forward_passes)
