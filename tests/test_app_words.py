"""The app speaks the user's words: who holds a project and since when, honest progress, empty
pages that say what to do, empty plots without another project's ranges."""

import shutil

import pytest


@pytest.fixture
def window(project_window):
    return project_window


def test_a_project_open_elsewhere_says_who_holds_it_and_since_when(qtbot, window, tmp_path):
    from flyp_app.window import MainWindow

    other = MainWindow(load_engine=False)
    qtbot.addWidget(other)
    assert not other.open_project(tmp_path / "Mine.flyp.json")
    message = other.welcome.message.text()
    assert "Mine.flyp.json is already open in FLYP Studio in another window on this computer since " in message
    assert "process" not in message
    other.close()


def test_time_left_is_said_plainly():
    from flyp_app.widgets.train_progress import time_left_text

    assert time_left_text(20) == "under a minute left"
    assert time_left_text(600) == "about 10 min left" and time_left_text(7260) == "about 2 h 01 min left"


def test_compare_without_runs_says_how_to_make_one_and_its_plot_reads_in_percent(qtbot, window, flyp_run, tmp_path):
    compare = window.show_page("compare")
    assert "train on the Train page" in compare.plot_note.text() and compare.plot_stack.currentWidget() is compare.plot_note
    window.state.add_run(str(shutil.copytree(flyp_run, tmp_path / "r" / "flyp")))
    qtbot.waitUntil(lambda: compare._worker is None and bool(compare.rows) and all(compare.rows), timeout=60000)
    assert compare.plot.viewRange()[0][0] > 1  # the run's range, in percent
    window.close_project()
    window.create_project(tmp_path / "Empty.flyp.json")
    compare = window.show_page("compare")
    (x_low, x_high), (y_low, y_high) = compare.plot.viewRange()
    assert x_low == pytest.approx(-3, abs=1) and x_high == pytest.approx(103, abs=1)  # 0 … 100 %, not the last run's
    assert y_low == pytest.approx(-3, abs=1) and y_high == pytest.approx(103, abs=1)


def test_try_sums_up_a_folder_and_saves_its_table(qtbot, window, flyp_run, colour_data, tmp_path, monkeypatch):
    import csv
    from collections import Counter

    from PySide6.QtWidgets import QFileDialog

    window.state.add_run(str(shutil.copytree(flyp_run, tmp_path / "r" / "flyp")))
    page = window.show_page("try")
    page.add_paths([colour_data["ood"] / "red"])
    qtbot.waitUntil(lambda: len(page.items) == 8 and all(i.probs for i in page.items), timeout=60000)
    counts = Counter(item.top(1)[0][0] for item in page.items).most_common()
    name, n = counts[0]
    expected = f"{n} of 8 images predicted {name}" if len(counts) == 1 else f"8 images predicted: {n} {name}"
    assert page.summary.text().startswith(expected)
    out = tmp_path / "table.csv"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    page.save_table.click()
    rows = list(csv.reader(out.open()))
    assert rows[0][:3] == ["path", "class", "confidence"] and len(rows) == 9
    assert rows[1][0] == page.items[0].path and rows[1][1] == page.items[0].top(1)[0][0]
    assert float(rows[1][2]) == pytest.approx(page.items[0].top(1)[0][1], abs=1e-4)


def test_every_page_words_a_runs_state_alike(qtbot, window, flyp_run, tmp_path):
    """A stopped run is resumable wherever it is listed; a run that stopped early by itself (no
    progress on validation) finished, and says so."""
    from core.training.runs import RunDir, RunStatus

    stopped, early = (shutil.copytree(flyp_run, tmp_path / "r" / name) for name in ("stopped", "early"))
    RunDir(stopped).update_info(status=RunStatus.CANCELLED)
    RunDir(early).update_info(stopped_early={"step": 8, "of": 16, "reason": "no progress"})
    window.state.add_run(str(stopped))
    window.state.add_run(str(early))
    train, blend = window.show_page("train"), window.pages["blend"]
    qtbot.waitUntil(lambda: window.pages["train"].history.tree.topLevelItemCount() == 2, timeout=20000)
    history = {train.history.tree.topLevelItem(i).text(0): train.history.tree.topLevelItem(i).text(2)
               for i in range(2)}
    picker = {blend.picker.combo.itemText(i).split(" — ", 1)[0]: blend.picker.combo.itemText(i).split(" — ", 1)[1]
              for i in range(2)}
    assert history["stopped"] == "stopped — can be resumed" and picker["stopped"].startswith(history["stopped"])
    assert history["early"] == "finished (stopped early)" and picker["early"].startswith(history["early"])
    assert train.history.resumable(str(stopped)) and not train.history.resumable(str(early))


def test_the_try_summary_names_every_class_it_counts_unless_there_are_many():
    from flyp_app.try_items import TryItem, summary_text

    def answered(predicted: list[str], classes: list[str]) -> list[TryItem]:
        return [TryItem(key=str(i), name=f"{i}.png", classes=classes,
                        probs=[1.0 if c == name else 0.0 for c in classes]) for i, name in enumerate(predicted)]

    few = [f"c{i}" for i in range(7)]  # the 6 classes shown and "2 other" hid two below them
    text = summary_text(answered(["c0", "c0", "c1", "c2", "c3", "c4", "c5", "c6"], few))
    assert "other" not in text and all(f"1 {c}" in text for c in few[1:])
    assert text.startswith("8 images predicted: 2 c0")
    many = [f"c{i}" for i in range(9)]
    text = summary_text(answered(many, many))
    assert text.endswith(", and 3 in 3 other classes.")
