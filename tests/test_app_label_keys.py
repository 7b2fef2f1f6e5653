"""The Label page's digit keys: classes named by digits take their own digit, the others their place
in the row of buttons, which shows them in the keys' order (issue #31 item 7)."""

from __future__ import annotations

import random

from PySide6.QtCore import Qt

from conftest import COLOURS, make_image

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def bar_texts(bar) -> list[str]:
    """The buttons' texts in reading order, as the user sees the row."""
    items = [bar.grid.itemAt(i) for i in range(bar.grid.count())]
    placed = sorted((bar.grid.getItemPosition(bar.grid.indexOf(item.widget()))[:2], item.widget().text())
                    for item in items)
    return [text for _, text in placed]


def test_digit_keys_label_the_class_named_by_that_digit(qtbot, tmp_path):
    from core.project import Project, save_project
    from flyp_app.pages.label_page import LabelPage
    from flyp_app.state import AppState

    rng = random.Random(5)
    train, new = tmp_path / "digits" / "train", tmp_path / "new"
    for word in WORDS:
        (train / word).mkdir(parents=True)
        make_image(COLOURS["red"], rng).save(train / word / f"{word}.png")
    new.mkdir()
    for i in range(3):
        make_image(COLOURS["blue"], rng).save(new / f"new_{i}.png")
    project = Project(name="Digits", train_dir=str(train), model="flyp-tiny", pretrained="none")
    save_project(project, tmp_path / "Digits.flyp.json")
    state = AppState(project)
    page = LabelPage(state)
    qtbot.addWidget(page)
    page.resize(1000, 700)
    page.show()
    state.project_changed.emit()
    page.open_folder(str(new))
    qtbot.waitUntil(lambda: len(page.items) == 3 and "Suggestions from" in page.status.text(), timeout=60000)
    assert page.classes[0] == "eight"  # the folders' alphabetical order…
    assert bar_texts(page.bar)[:3] == ["0  zero", "1  one", "2  two"]  # …is not the order shown

    page.grid.setFocus()
    qtbot.keyClick(page.grid, Qt.Key_1)
    assert len(list((train / "one").glob("new_*"))) == 1 and not list((train / "eight").glob("new_*"))
    qtbot.keyClick(page.grid, Qt.Key_8)
    assert len(list((train / "eight").glob("new_*"))) == 1 and not list((train / "three").glob("new_*"))
    qtbot.waitUntil(lambda: not page.busy(), timeout=120000)  # its suggestions, refitted on the labels
    page.stop_workers()


def test_other_classes_take_the_keys_of_their_place_in_the_row(qtbot):
    from flyp_app.widgets.label_keys import ClassBar

    bar = ClassBar()
    qtbot.addWidget(bar)
    bar.set_classes(["cat", "one", "dog"])  # one class named by a digit is not a digit set
    assert bar_texts(bar) == ["1  cat", "2  one", "3  dog"]
    assert bar.class_for_key(2) == 1 and bar.class_for_key(4) is None
    bar.set_classes(["2", "1", "10"])  # "10" is not a digit key
    assert bar_texts(bar) == ["1  2", "2  1", "3  10"] and bar.class_for_key(1) == 0
    bar.set_classes(["3", "1", "2"])
    assert bar_texts(bar) == ["1", "2", "3"] and bar.class_for_key(3) == 0


def test_a_folder_typed_into_new_images_opens_and_a_wrong_one_is_named(qtbot, project_window, tmp_path):
    rng = random.Random(1)
    new = tmp_path / "typed new"
    new.mkdir()
    for i in range(2):
        make_image(COLOURS["green"], rng).save(new / f"t_{i}.png")
    label = project_window.show_page("label")
    qtbot.keyClicks(label.folder_edit, str(tmp_path / "nowhere"))
    qtbot.keyClick(label.folder_edit, Qt.Key_Return)
    assert "nowhere: no such folder" in label.status.text()
    label.folder_edit.clear()
    qtbot.keyClicks(label.folder_edit, str(new))  # typing reaches the field
    qtbot.keyClick(label.folder_edit, Qt.Key_Return)
    qtbot.waitUntil(lambda: len(label.items) == 2, timeout=30000)
    assert project_window.state.project.label_folder and "nowhere" not in label.status.text()
    qtbot.waitUntil(lambda: not label.busy(), timeout=120000)  # its suggestions, refitted on the labels
    label.stop_workers()


def test_a_refused_class_name_message_goes_once_the_name_is_fixed(qtbot, project_window, colour_data, tmp_path):
    import shutil

    state = project_window.state
    state.set_folders(train=str(shutil.copytree(colour_data["train"], tmp_path / "train")), val="", ood=[])
    with qtbot.waitSignal(state.scan_finished, timeout=30000):
        project_window.pages["data"]._load_project()
    label = project_window.show_page("label")
    qtbot.keyClicks(label.name_edit, "rde")
    qtbot.keyClick(label.name_edit, Qt.Key_Return)
    assert "No class is called “rde”" in label.status.text() and label.status.isVisibleTo(label)
    qtbot.keyClick(label.name_edit, Qt.Key_Backspace)
    assert label.status.isVisibleTo(label)  # "rd": still no class
    qtbot.keyClick(label.name_edit, Qt.Key_Backspace)
    qtbot.keyClicks(label.name_edit, "ed")
    assert not label.status.isVisibleTo(label)  # "red": fixed, the red message is gone
