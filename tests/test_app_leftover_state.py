"""What the last project or run left on screen goes when a project opens or a run starts (issue #31 item 8)."""

from __future__ import annotations

import random
import re
import shutil

from PySide6.QtCore import Qt

from conftest import COLOURS, make_image
from test_app_train import wait_finished


def far_off_run(qtbot, window, data) -> None:
    """A short run with a learning rate far off: it finishes with advice to show."""
    page = window.show_page("train")
    window.state.set_folders(train=str(data["train"]), val=str(data["val"]), ood=[])
    with qtbot.waitSignal(window.state.scan_finished, timeout=30000):
        window.pages["data"]._load_project()
    window.state.set_settings(model="demo", auto=False, lr=1.0, epochs=1, batch_size=8, workers=0)
    page.start_button.click()
    page.start_button.click()  # "Start anyway"
    wait_finished(qtbot, page)


def test_a_new_project_and_a_new_run_show_nothing_of_the_last_ones(qtbot, project_window, colour_data, tmp_path):
    page = project_window.pages["train"]
    far_off_run(qtbot, project_window, colour_data)
    qtbot.waitUntil(lambda: page.advice.isVisibleTo(page), timeout=30000)
    project_window.create_project(tmp_path / "Other.flyp.json")
    assert not page.advice.isVisibleTo(page)  # the last project's advice is not this one's

    far_off_run(qtbot, project_window, colour_data)
    assert re.search(r"step (\d+) of \1", page.progress_box.detail.text())
    page.start_button.click()
    page.start_button.click()
    assert page.training() and not re.search(r"step \d+ of \d+", page.progress_box.detail.text())  # not the last run's
    page.stop_and_wait()


def test_the_data_summary_counts_the_images_labelled_since_the_scan(qtbot, project_window, colour_data, tmp_path):
    train = shutil.copytree(colour_data["train"], tmp_path / "train")
    new = tmp_path / "new"
    new.mkdir()
    rng = random.Random(2)
    for i in range(3):
        make_image(COLOURS["red"], rng).save(new / f"new_{i}.png")
    state = project_window.state
    state.set_folders(train=str(train), val=str(colour_data["val"]), ood=[])
    state.set_settings(model="flyp-tiny", pretrained="none")
    with qtbot.waitSignal(state.scan_finished, timeout=30000):
        project_window.pages["data"]._load_project()
    data = project_window.pages["data"]
    before = len(state.datasets.train)
    assert f"{before} training images" in data.summary.text()
    label = project_window.show_page("label")
    label.open_folder(str(new))
    qtbot.waitUntil(lambda: len(label.items) == 3 and "Suggestions from" in label.status.text(), timeout=60000)
    label.grid.setFocus()
    label.grid.selectAll()
    label.assign("red")
    assert f"{before + 3} training images" in data.summary.text()
    label.undo()
    assert f"{before} training images" in data.summary.text()
    qtbot.waitUntil(lambda: not label.busy(), timeout=120000)  # its suggestions, refitted on the labels
    label.stop_workers()


def test_classify_a_folder_hides_the_summary_of_the_images_tried(qtbot, project_window, flyp_run, colour_data,
                                                                 tmp_path):
    project_window.state.add_run(str(shutil.copytree(flyp_run, tmp_path / "runs" / "flyp")))
    page = project_window.show_page("try")
    page.add_paths([str(p) for p in sorted((colour_data["val"] / "red").iterdir())[:2]])
    qtbot.waitUntil(lambda: "images predicted" in page.summary.text() or "of 2 images" in page.summary.text(),
                    timeout=60000)
    tried = page.summary.text()
    page.classify_folder(str(colour_data["val"]))
    assert page.summary.text() == "" and not page.save_table.isEnabled()  # the folder's table has its own words
    qtbot.waitUntil(lambda: page.folder_results.export.isEnabled(), timeout=60000)
    page.folder_results.closed.emit()
    assert page.summary.text() == tried and page.save_table.isEnabled()


def test_compare_says_it_is_reading_until_every_run_is_read(qtbot, project_window, flyp_run, tmp_path):
    from flyp_app.pages.compare_page import NO_OOD

    project_window.state.add_run(str(shutil.copytree(flyp_run, tmp_path / "runs" / "flyp")))
    compare = project_window.show_page("compare")
    assert compare._worker is not None and compare.plot_note.text() != NO_OOD
    assert compare.plot_note.text().startswith("Reading the runs")
    qtbot.waitUntil(lambda: compare._worker is None, timeout=60000)
    assert compare.plot_note.text() != "Reading the runs…"


def test_the_time_left_of_the_automatic_mode_counts_down_during_a_trial(project_window, tmp_path):
    page = project_window.show_page("train")
    now = [100.0]
    page.clock = lambda: now[0]  # the page's clock, not the machine's
    page._on_event({"type": "auto", "phase": "trial", "index": 1, "lr": 1e-4, "epochs": 2,
                    "run": str(tmp_path / "trials" / "try 1"), "left_s": 20 * 60})
    page._tick()
    assert "about 20 min of the time budget left" in page.progress_box.message.text()
    now[0] += 7 * 60
    page._tick()  # no step arrived meanwhile: the countdown moves anyway
    assert "about 13 min of the time budget left" in page.progress_box.message.text()
    page._stopped()
    page._tick()
    assert "time budget left" not in page.progress_box.message.text()
