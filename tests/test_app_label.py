"""The Label page, driven from the keyboard: files land in class folders, the log records them,
and undo puts the file system back exactly."""

from __future__ import annotations

import csv
import random
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from conftest import COLOURS, make_image


def snapshot(*roots: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for root in roots for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def page(qtbot, tmp_path, colour_data):
    from core.project import Project, save_project
    from flyp_app.pages.label_page import LabelPage
    from flyp_app.state import AppState

    train = shutil.copytree(colour_data["train"], tmp_path / "train")
    new = tmp_path / "new" / "day 1"
    new.mkdir(parents=True)
    rng = random.Random(7)
    for i, colour in enumerate(["red", "green", "blue", "red", "green", "blue"]):
        make_image(COLOURS[colour], rng).save(new / f"photo_{i}.png")
    (new / "notes.txt").write_text("not an image")
    (new / "broken.png").write_bytes(b"")
    project = Project(name="Mine", train_dir=str(train), model="flyp-tiny", pretrained="none")
    save_project(project, tmp_path / "Mine.flyp.json")
    state = AppState(project)
    widget = LabelPage(state)
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    widget.show()
    state.project_changed.emit()
    widget.open_folder(str(tmp_path / "new"))
    qtbot.waitUntil(lambda: len(widget.items) == 6 and all(i.probs for i in widget.items.values())
                    and "Suggestions from" in widget.status.text(), timeout=60000)  # their worker's end, as shown
    yield widget
    widget.stop_workers()


def log_rows(page) -> list[dict]:
    from core.labelling.files import log_path

    with open(log_path(page.state.project.path), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_labelling_with_the_keyboard_copies_logs_and_undoes_exactly(qtbot, page, tmp_path):
    train, new = tmp_path / "train", tmp_path / "new"
    before = snapshot(train, new)
    assert "2 file(s) skipped" in page.summary.text()
    assert "empty file (0 bytes)" in page.summary.toolTip() and "not an image file (.txt)" in page.summary.toolTip()
    assert page.classes == ["blue", "green", "red"]
    grid = page.grid
    grid.setFocus()

    first = grid.currentItem().data(Qt.UserRole)
    qtbot.keyClick(grid, Qt.Key_2)  # → green
    copied = train / "green" / Path(first).name
    assert copied.read_bytes() == Path(first).read_bytes() and Path(first).exists()
    assert first not in page.items and len(page.items) == 5

    second = grid.currentItem().data(Qt.UserRole)
    suggestion = page.items[second].suggestion(page.classes)
    qtbot.keyClick(grid, Qt.Key_Return)  # accept the suggestion
    assert (train / suggestion[0] / Path(second).name).is_file()

    third = grid.currentItem().data(Qt.UserRole)
    qtbot.keyClicks(grid, "r")  # typing starts a class name
    assert page.name_edit.hasFocus() and page.name_edit.text() == "r"
    qtbot.keyClicks(page.name_edit, "ed")
    qtbot.keyClick(page.name_edit, Qt.Key_Return)
    assert (train / "red" / Path(third).name).is_file()

    qtbot.keyClick(grid, Qt.Key_Space)  # skip one
    skipped = grid.item(0).data(Qt.UserRole)
    grid.clearSelection()
    grid.item(1).setSelected(True)
    grid.item(2).setSelected(True)
    pair = [grid.item(r).data(Qt.UserRole) for r in (1, 2)]
    qtbot.keyClick(grid, Qt.Key_1)  # both → blue
    assert all((train / "blue" / Path(p).name).is_file() for p in pair)
    assert skipped in page.items and len(page.items) == 1

    rows = log_rows(page)
    assert [r["class"] for r in rows] == ["green", suggestion[0], "red", "blue", "blue"]
    assert rows[0]["source"] == first and rows[0]["destination"] == str(copied) and rows[0]["action"] == "copy"
    assert rows[1]["suggestion"] == suggestion[0] and float(rows[1]["confidence"]) == pytest.approx(suggestion[1])

    for _ in range(4):
        qtbot.keyClick(grid, Qt.Key_Z, Qt.ControlModifier)
    assert snapshot(train, new) == before
    assert len(page.items) == 6
    assert [r["action"] for r in log_rows(page)][5:] == ["undo copy"] * 5


def test_moving_remembers_the_choice_and_undo_brings_the_file_back(qtbot, page, tmp_path):
    train, new = tmp_path / "train", tmp_path / "new"
    before = snapshot(train, new)
    page.mode.setCurrentIndex(1)
    page.mode.activated.emit(1)
    page.state.save_now()
    from core.project import load_project

    saved = load_project(page.state.project.path)
    assert saved.label_move and saved.label_folder == str(tmp_path / "new")  # remembered in the project
    name = Path(page.grid.currentItem().data(Qt.UserRole))
    (train / "red" / name.name).write_bytes(b"a file already there")  # never overwritten
    page.grid.setFocus()
    qtbot.keyClick(page.grid, Qt.Key_3)
    assert not name.exists()
    moved = train / "red" / f"{name.stem} (2){name.suffix}"
    assert moved.read_bytes() == before[str(name)]
    assert (train / "red" / name.name).read_bytes() == b"a file already there"
    qtbot.keyClick(page.grid, Qt.Key_Z, Qt.ControlModifier)
    (train / "red" / name.name).unlink()
    assert snapshot(train, new) == before


def test_a_new_class_gets_its_folder_with_its_first_image_and_loses_it_on_undo(qtbot, page, tmp_path):
    assert page.new_class("purple")
    assert page.classes[-1] == "purple" and len(page.bar.buttons) == 4
    qtbot.waitUntil(lambda: "Suggestions from" in page.status.text()
                    and all(len(i.probs or ()) == 4 for i in page.items.values()), timeout=60000)
    page.grid.setFocus()
    qtbot.keyClick(page.grid, Qt.Key_4)
    assert len(list((tmp_path / "train" / "purple").iterdir())) == 1
    qtbot.keyClick(page.grid, Qt.Key_Z, Qt.ControlModifier)
    assert not (tmp_path / "train" / "purple").exists()


def test_a_failed_copy_changes_nothing_and_names_the_file(qtbot, page, tmp_path, monkeypatch):
    from core.labelling import files

    def disk_full(source, reserved):
        reserved.write_bytes(b"half")
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(files, "_copy_over", disk_full)
    train = tmp_path / "train"
    before = snapshot(train, tmp_path / "new")
    name = page.grid.currentItem().data(Qt.UserRole)
    page.grid.setFocus()
    qtbot.keyClick(page.grid, Qt.Key_3)
    assert name in page.status.text() and "No space left" in page.status.text()
    assert "nothing was changed" in page.status.text()
    assert name in page.items
    assert snapshot(train, tmp_path / "new") == before


def test_the_data_page_counts_follow_the_labels_without_a_rescan(qtbot, tmp_path, colour_data):
    from flyp_app.window import MainWindow

    window = MainWindow(load_engine=False)
    qtbot.addWidget(window)
    window.create_project(tmp_path / "Mine.flyp.json")
    train = shutil.copytree(colour_data["train"], tmp_path / "train")
    new = tmp_path / "new"
    new.mkdir()
    make_image(COLOURS["red"], random.Random(1)).save(new / "a.png")
    window.state.set_settings(model="flyp-tiny", pretrained="none")
    with qtbot.waitSignal(window.state.scan_finished, timeout=20000):
        window.state.set_folders(train=str(train))
    data, label = window.pages["data"], window.pages["label"]
    assert list(window.pages)[:2] == ["data", "label"]  # right after Data
    red_row = [data.classes.item(r, 0).text() for r in range(data.classes.rowCount())].index("red")
    count = int(data.classes.item(red_row, 2).text())
    window.show_page("label")
    label.open_folder(str(new))
    qtbot.waitUntil(lambda: len(label.items) == 1 and "Suggestions from" in label.status.text(), timeout=60000)
    scans = []
    data.rescan = lambda: scans.append(1)
    label.grid.setFocus()
    qtbot.keyClick(label.grid, Qt.Key_3)
    assert data.classes.item(red_row, 2).text() == str(count + 1) and (train / "red" / "a.png").is_file()
    qtbot.keyClick(label.grid, Qt.Key_Z, Qt.ControlModifier)
    assert data.classes.item(red_row, 2).text() == str(count)
    qtbot.wait(300)
    assert not scans
    window.close()


def test_the_views_order_the_grid(page):
    def shown():
        return [page.items[page.grid.item(r).data(Qt.UserRole)] for r in range(page.grid.count())]

    confidences = [i.suggestion(page.classes)[1] for i in shown()]
    assert confidences == sorted(confidences)  # least confident first: the images worth a look
    page.view.setCurrentIndex(1)
    page.view.activated.emit(1)
    suggested = [page.classes.index(i.suggestion(page.classes)[0]) for i in shown()]
    assert suggested == sorted(suggested)
    page.view.setCurrentIndex(2)
    page.view.activated.emit(2)
    assert [i.path for i in shown()] == sorted(i.path for i in shown())


def test_labels_are_steps_of_the_apps_undo_history_and_redo_labels_again(qtbot, page, tmp_path):
    train, new = tmp_path / "train", tmp_path / "new"
    before = snapshot(train, new)
    stack = page.state.undo_stack  # Edit ▸ Undo and Edit ▸ Redo
    page.grid.setFocus()
    first = page.grid.currentItem().data(Qt.UserRole)
    qtbot.keyClick(page.grid, Qt.Key_2)
    assert stack.undoText() == "label 1 image(s) as green"
    stack.undo()
    assert snapshot(train, new) == before and first in page.items
    stack.redo()
    assert (train / "green" / Path(first).name).read_bytes() == Path(first).read_bytes()
    assert first not in page.items
    assert [r["action"] for r in log_rows(page)] == ["copy", "undo copy", "copy"]
    page.undo()  # the page's Undo button
    assert snapshot(train, new) == before and not stack.canUndo()


def test_a_project_opened_after_another_shows_only_its_own_classes(qtbot, tmp_path, colour_data):
    """The class buttons, the names typed and the keys are those of the open project: labelling
    after a project change copies into that project's classes, never into the last one's."""
    from core.project import Project, save_project
    from flyp_app.window import MainWindow

    rng = random.Random(3)
    shapes = shutil.copytree(colour_data["train"], tmp_path / "shapes" / "train")
    animals = tmp_path / "animals" / "train"
    for name, colour in (("bear", "red"), ("cat", "blue")):
        (animals / name).mkdir(parents=True)
        for i in range(3):
            make_image(COLOURS[colour], rng).save(animals / name / f"{name}_{i}.png")
    new = tmp_path / "new"
    new.mkdir()
    for i in range(3):
        make_image(COLOURS["green"], rng).save(new / f"new_{i}.png")
    projects = [save_project(Project(name=name, train_dir=str(train), model="flyp-tiny", pretrained="none",
                                     label_folder=str(new)), tmp_path / f"{name}.flyp.json")
                for name, train in (("Shapes", shapes), ("Animals", animals))]
    window = MainWindow(load_engine=False)
    qtbot.addWidget(window)
    window.show()
    label = window.pages["label"]

    def opened(path, classes):
        with qtbot.waitSignal(window.state.scan_finished, timeout=20000):
            assert window.open_project(path)
        window.show_page("label")
        qtbot.waitUntil(lambda: len(label.items) == 3 and "Suggestions from" in label.status.text(), timeout=60000)
        assert label.classes == classes
        return [b.text() for b in label.bar.buttons]

    assert opened(projects[0], ["blue", "green", "red"]) == ["1  blue", "2  green", "3  red"]
    assert label.new_class("stripes")  # made on the Label page of the first project, no folder yet
    qtbot.waitUntil(lambda: not label.busy(), timeout=60000)
    shapes_before = snapshot(shapes)

    assert opened(projects[1], ["bear", "cat"]) == ["1  bear", "2  cat"]
    assert label.chooser.completer.model().stringList() == ["bear", "cat"]
    assert label.find_class("red") is None and label.find_class("stripes") is None
    label.grid.setFocus()
    first = label.grid.currentItem().data(Qt.UserRole)
    qtbot.keyClick(label.grid, Qt.Key_3)  # the first project's third class: not one of these
    assert "No class has the key 3 (2 classes)" in label.status.text() and first in label.items
    label.bar.buttons[0].click()  # "bear"
    assert (animals / "bear" / Path(first).name).read_bytes() == Path(first).read_bytes()
    assert snapshot(shapes) == shapes_before and not (shapes / "bear").exists()
    window.close()
