"""The app's first pages, driven as a user would: folders, scan, names, templates, zero-shot."""

import json
import os
import sys

import pytest

from core.project import load_project


@pytest.fixture
def window(qtbot, tmp_path):
    from flyp_app.window import MainWindow

    win = MainWindow(load_engine=False)
    qtbot.addWidget(win)
    win.create_project(tmp_path / "Mine.flyp.json")
    yield win
    win.close()


def wait_scan(qtbot, window):
    with qtbot.waitSignal(window.state.scan_finished, timeout=20000) as blocker:
        pass
    return blocker.args[0]


def test_the_window_opens_without_torch_or_pyqtgraph():
    import subprocess
    import sys

    # In a fresh interpreter, as `flyp-studio` starts: other tests' imports would mask a regression here.
    code = ("import sys; from flyp_app.__main__ import create_app; "
            "app = create_app(); from flyp_app.window import MainWindow; w = MainWindow(load_engine=False); "
            "w.show(); app.processEvents(); "
            "print('torch' in sys.modules, 'pyqtgraph' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]  # torch and pyqtgraph load later: in the background, or with a plot
    # how fast it opens is measured, not tested (benchmarks/app_responsiveness.py): CI's CPUs are shared


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Windows and macOS always have a display")
def test_without_a_display_the_demo_runs_in_the_terminal_and_anything_else_says_why(monkeypatch, capsys):
    import subprocess

    import core.cli
    from flyp_app import __main__ as entry

    headless = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run([sys.executable, "-m", "flyp_app"], capture_output=True, text=True, env=headless, timeout=60)
    assert result.returncode == 2 and "no display" in result.stderr and len(result.stderr.splitlines()) == 1

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    ran = []
    monkeypatch.setattr(core.cli, "main", lambda argv: ran.append(argv) or 0)
    assert entry.main(["--demo"]) == 0 and ran == [["demo"]]
    assert "runs in this terminal" in capsys.readouterr().err


def test_data_page_scans_lists_problems_and_saves_names(qtbot, window, colour_data, tmp_path):
    page = window.pages["data"]
    (colour_data["train"].parent / "broken").mkdir(exist_ok=True)
    window.state.set_folders(train=str(colour_data["train"]), ood=[str(colour_data["ood"])])
    page._load_project()
    data = wait_scan(qtbot, window)
    assert data.classes == ["blue", "green", "red"]
    assert page.classes.rowCount() == 3 and page.classes.item(2, 2).text() == str(len([s for s in data.train if s.label == 2]))
    assert page.classes.horizontalHeaderItem(4).text() == "ood"
    page.classes.item(0, 1).setText("sky blue")
    qtbot.waitUntil(lambda: load_project(tmp_path / "Mine.flyp.json").class_names.get("blue") == "sky blue", timeout=3000)
    captions = window.pages["captions"]
    assert "a photo of a sky blue." in [captions.preview.topLevelItem(0).child(i).text(0)
                                        for i in range(captions.preview.topLevelItem(0).childCount())]


def test_unusable_folder_is_explained_inline(qtbot, window, tmp_path):
    (tmp_path / "one" / "cat").mkdir(parents=True)
    window.state.set_folders(train=str(tmp_path / "one"))
    window.pages["data"]._load_project()
    assert wait_scan(qtbot, window) is None
    assert "at least two class folders" in window.pages["data"].status.text()


def test_template_editing_validates_inline_and_measures_zero_shot(qtbot, window, colour_data, tmp_path):
    window.state.set_settings(model="flyp-tiny", pretrained="none")
    window.state.set_folders(train=str(colour_data["train"]), val=str(colour_data["val"]))
    window.pages["data"]._load_project()
    wait_scan(qtbot, window)
    page = window.pages["captions"]
    page.editor.setPlainText("a photo of a {}.\na drawing without placeholder")
    page._commit_edit()
    assert "no {} placeholder" in page.validation.text()
    page.editor.setPlainText("a photo of a {}.\na {} thing.")
    page._commit_edit()
    assert window.state.project.templates == ["a photo of a {}.", "a {} thing."]
    page.measure.click()
    qtbot.waitUntil(lambda: "validation" in page.result.text() and "%" in page.result.text(), timeout=60000)
    qtbot.waitUntil(page.measure.isEnabled, timeout=5000)  # the worker's end arrives just after its result
    window.state.save_now()
    assert json.loads((tmp_path / "Mine.flyp.json").read_text())["templates"][1] == "a {} thing."


def test_second_window_cannot_open_the_same_project(qtbot, window, tmp_path):
    from flyp_app.window import MainWindow

    other = MainWindow(load_engine=False)
    qtbot.addWidget(other)
    assert not other.open_project(tmp_path / "Mine.flyp.json")
    assert "already open" in other.welcome.message.text()
    other.close()


def test_undoing_a_template_edit_restores_its_zero_shot_figure(qtbot, window, colour_data):
    window.state.set_settings(model="flyp-tiny", pretrained="none")
    window.state.set_folders(train=str(colour_data["train"]), val=str(colour_data["val"]))
    window.pages["data"]._load_project()
    wait_scan(qtbot, window)
    page = window.pages["captions"]

    def measure() -> str:
        page.measure.click()
        qtbot.waitUntil(lambda: "validation" in page.result.text() and "%" in page.result.text(), timeout=60000)
        qtbot.waitUntil(page.measure.isEnabled, timeout=5000)
        return page.result.text()

    first = measure()
    page.editor.setPlainText("a blurry picture of the {} thing, upside down.")
    page._commit_edit()
    assert "%" not in page.result.text()  # a figure measured with other captions is not shown as this one's
    edited = measure()
    window.state.undo_stack.undo()
    assert window.state.project.templates != ["a blurry picture of the {} thing, upside down."]
    assert page.result.text() == first
    window.state.undo_stack.redo()
    assert page.result.text() == edited
