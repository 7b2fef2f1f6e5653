"""Projects a user can trust: moved and copied projects open whole, a new project starts empty, a
damaged value is one line, runs trained elsewhere join, and nothing a page shows is stale."""

import json
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from core.project import load_project


@pytest.fixture
def window(qtbot):
    from flyp_app.window import MainWindow

    win = MainWindow(load_engine=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.pages["train"].stop_and_wait()
    win.close()


def wait_scan(qtbot, window):
    with qtbot.waitSignal(window.state.scan_finished, timeout=30000) as blocker:
        pass
    return blocker.args[0]


def project_with_data_and_run(root: Path, colour_data, flyp_run) -> Path:
    """A project folder as a user leaves it: the file, its data inside, its runs beside it."""
    from core.project import Project, save_project

    for name in ("train", "val"):
        shutil.copytree(colour_data[name], root / "data" / name)
    run = shutil.copytree(flyp_run, root / "Mine-runs" / "flyp")
    project = Project(name="Mine", train_dir=str(root / "data" / "train"), val_dir=str(root / "data" / "val"),
                      runs=[str(run)], current_run=str(run))
    return save_project(project, root / "Mine.flyp.json")


def drop(window, widget, paths):
    """Drag local `paths` over `widget`'s centre and drop them there, as a file manager would: the
    events go to the window, and Qt routes them to the widget under the pointer that takes drops."""
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    where = QPointF(widget.mapTo(window, widget.rect().center()))
    for event in (QDragEnterEvent(where.toPoint(), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier),
                  QDragMoveEvent(where.toPoint(), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier),
                  QDropEvent(where, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)):
        QApplication.sendEvent(window.windowHandle(), event)


def test_a_moved_project_opens_whole_with_its_runs(qtbot, window, colour_data, flyp_run, tmp_path):
    path = project_with_data_and_run(tmp_path / "here", colour_data, flyp_run)
    stored = json.loads(path.read_text())
    assert stored["train_dir"] == "data/train" and stored["runs"] == ["Mine-runs/flyp"]  # relative in the file
    moved = shutil.move(tmp_path / "here", tmp_path / "elsewhere" / "copy")  # another disk, another machine
    assert window.open_project(Path(moved) / "Mine.flyp.json")
    project = window.state.project
    assert project.train_dir == str(Path(moved) / "data" / "train")
    assert wait_scan(qtbot, window) is not None  # the folders are found where the project now is
    history = window.pages["train"].history
    qtbot.waitUntil(lambda: history.tree.topLevelItemCount() == 1 and history.tree.topLevelItem(0).text(2) == "finished",
                    timeout=20000)
    assert window.pages["blend"].picker.current().usable  # not "folder missing"


def test_a_folder_outside_the_project_stays_absolute(tmp_path, colour_data):
    from core.project import Project, save_project

    path = save_project(Project(train_dir=str(colour_data["train"])), tmp_path / "P.flyp.json")
    assert json.loads(path.read_text())["train_dir"] == str(colour_data["train"])
    assert load_project(path).train_dir == str(colour_data["train"])


def test_excluded_and_kept_images_move_with_the_project(tmp_path):
    from core.project import Project, save_project

    here = tmp_path / "here"
    image = here / "data" / "train" / "red" / "red_000.png"
    path = save_project(Project(excluded=[str(image)], kept=[str(image)]), here / "P.flyp.json")
    stored = json.loads(path.read_text())
    assert stored["excluded"] == stored["kept"] == ["data/train/red/red_000.png"]
    moved = shutil.move(here, tmp_path / "elsewhere")
    project = load_project(Path(moved) / "P.flyp.json")
    assert project.excluded == project.kept == [str(Path(moved) / "data" / "train" / "red" / "red_000.png")]


@pytest.mark.parametrize("key, value, words", [("alpha", "abc", "a number"), ("alpha", 3, "lie between 0 and 1"),
                                               ("ood_dirs", "data/ood", "a list of texts"),
                                               ("templates", [1, 2], "a list of texts")])
def test_a_value_of_the_wrong_type_is_one_line_and_the_project_is_not_opened(qtbot, window, tmp_path, key, value,
                                                                            words):
    path = tmp_path / "Typo.flyp.json"
    path.write_text(json.dumps({"format": 1, "name": "Typo", key: value}))
    before = path.read_bytes()
    assert not window.open_project(path)
    message = window.welcome.message.text()
    assert f"'{key}' should {'' if words.startswith('lie') else 'be '}{words}" in message and "Typo.flyp.json" in message and "\n" not in message
    assert window.state.project.path is None and not window.nav.isEnabled()  # not opened half-way
    assert path.read_bytes() == before


def test_a_new_project_shows_nothing_of_the_previous_one(qtbot, window, colour_data, tmp_path):
    window.create_project(tmp_path / "First.flyp.json")
    window.state.set_folders(train=str(colour_data["train"]))
    assert wait_scan(qtbot, window) is not None
    data = window.pages["data"]
    assert data.classes.rowCount() == 3 and data.problems_label.text() == "No problems found."
    window.create_project(tmp_path / "Second.flyp.json")
    assert wait_scan(qtbot, window) is None
    assert data.classes.rowCount() == 0 and data.problems_label.text() == ""
    assert data.train_edit.text() == "" and "No training folder yet" in data.summary.text()
    captions = window.pages["captions"]
    assert "Choose a training folder" in captions.preview.topLevelItem(0).text(0)


def test_a_folder_without_class_folders_does_not_also_say_no_problems(qtbot, window, tmp_path):
    (tmp_path / "flat").mkdir()
    window.create_project(tmp_path / "P.flyp.json")
    window.state.set_folders(train=str(tmp_path / "flat"))
    assert wait_scan(qtbot, window) is None
    assert "No problems found" not in window.pages["data"].problems_label.text()


def test_a_drop_on_a_field_sets_that_field_and_elsewhere_asks(qtbot, window, colour_data, tmp_path, monkeypatch):
    window.create_project(tmp_path / "P.flyp.json")
    data = window.pages["data"]
    drop(window, data.train_edit, [colour_data["train"]])
    assert window.state.project.train_dir == str(colour_data["train"])
    drop(window, data.train_edit, [colour_data["val"]])  # again on Training: replaces it, never becomes "different conditions"
    assert window.state.project.train_dir == str(colour_data["val"]) and window.state.project.ood_dirs == []
    drop(window, data.val_edit, [colour_data["val"]])
    drop(window, data.ood_list, [colour_data["ood"]])
    p = window.state.project
    assert (p.val_dir, p.ood_dirs) == (str(colour_data["val"]), [str(colour_data["ood"])])
    asked = []
    monkeypatch.setattr(window, "ask_folder_role", lambda folders: asked.append(folders) or "train")
    drop(window, data.classes, [colour_data["train"]])  # on the class table: not a field
    assert asked == [[colour_data["train"]]] and window.state.project.train_dir == str(colour_data["train"])
    monkeypatch.setattr(window, "ask_folder_role", lambda folders: None)  # cancelled: nothing changes
    drop(window, data.summary, [tmp_path])
    assert window.state.project.train_dir == str(colour_data["train"]) and len(window.state.project.ood_dirs) == 1


def test_dragging_a_folder_lights_up_where_it_will_land(qtbot, window, colour_data, tmp_path):
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent
    from PySide6.QtWidgets import QApplication

    window.create_project(tmp_path / "P.flyp.json")
    data = window.pages["data"]
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(colour_data["val"]))])

    def drag_over(widget, enter=False):  # the pointer enters the window once, then moves over it
        where = widget.mapTo(window, widget.rect().center())
        kind = QDragEnterEvent if enter else QDragMoveEvent
        QApplication.sendEvent(window.windowHandle(), kind(where, Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier))

    lit = lambda: [w for w in (data.train_row, data.val_row, data.ood_row, window.stack) if w.property("dropTarget")]
    drag_over(data.val_edit, enter=True)
    assert lit() == [data.val_row]  # the field the folder would set, nothing else
    drag_over(data.train_edit)
    assert lit() == [data.train_row]
    drag_over(data.classes)  # not a field: the whole page, where the window asks what the folder is for
    assert lit() == [window.stack]


def test_open_folder_says_where_the_folder_is_when_no_file_manager_opens_it(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtGui import QDesktopServices
    from PySide6.QtWidgets import QPushButton, QToolTip

    from flyp_app.widgets.accessible import open_in_file_manager

    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: False)  # a bare desktop: nothing opens folders
    button = QPushButton("Open folder")
    qtbot.addWidget(button)
    button.show()
    assert not open_in_file_manager(str(tmp_path), button)
    assert QToolTip.isVisible() and "No file manager" in QToolTip.text() and str(tmp_path) in QToolTip.text()


def test_duplicate_and_empty_class_names_are_refused_on_the_spot(qtbot, window, colour_data, tmp_path):
    window.create_project(tmp_path / "P.flyp.json")
    window.state.set_folders(train=str(colour_data["train"]))
    wait_scan(qtbot, window)
    data = window.pages["data"]
    data.classes.item(0, 1).setText("Green ")  # the name of row 1 (folder "green"), another case
    assert "already the name of folder 'green'" in data.status.text()
    assert data.classes.item(0, 1).text() == "blue" and "blue" not in window.state.project.class_names
    data.classes.item(0, 1).setText("sky")
    data.classes.item(0, 1).setText("  ")
    assert "cannot be empty" in data.status.text()
    assert data.classes.item(0, 1).text() == "sky" == window.state.project.class_names["blue"]


def test_a_run_trained_elsewhere_joins_by_menu_or_drop(qtbot, window, flyp_run, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window.create_project(tmp_path / "P.flyp.json")
    server = shutil.copytree(flyp_run, tmp_path / "from-the-server" / "run-1")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(server))
    window.project_actions[1].trigger()  # File ▸ Add run folder…
    assert window.state.project.runs == [str(server)]
    other = shutil.copytree(flyp_run, tmp_path / "from-the-server" / "run-2")
    drop(window, window.pages["data"].classes, [other])
    assert window.state.project.runs == [str(server), str(other)]
    assert window.state.project.current_run == str(other)
    window.add_run_folders([tmp_path / "from-the-server"])  # a folder of runs: each joins once
    assert len(window.state.project.runs) == 2
    window.state.undo_stack.undo()  # Edit ▸ Undo: the dropped run is not listed any more (its folder stays)
    assert window.state.project.runs == [str(server)] and window.state.project.current_run == str(server)


def test_a_soup_joins_the_runs_without_becoming_the_current_one(qtbot, window, flyp_run, tmp_path):
    from flyp_app.pages.compare_page import soup_verdict

    window.create_project(tmp_path / "P.flyp.json")
    for name in ("a", "b"):
        window.state.add_run(str(shutil.copytree(flyp_run, tmp_path / "runs" / name)))
    current = window.state.project.current_run
    compare = window.pages["compare"]
    window.show_page("compare")
    qtbot.waitUntil(lambda: compare._worker is None and compare.rows and all(compare.rows), timeout=120000)
    for r in range(2):
        compare.table.item(r, 0).setCheckState(Qt.Checked)
    compare.soup_button.click()
    qtbot.waitUntil(lambda: compare._soup_worker is None, timeout=120000)
    assert len(window.state.project.runs) == 3, compare.status.text()
    assert window.state.project.current_run == current
    assert "its best ingredient" in compare.status.text() and "Double-click" in compare.status.text()
    assert "worse than" in soup_verdict({"best": {"id_accuracy": 0.5},
                                         "soup": {"run_scores": {"/r/x": {"id": {"accuracy": 0.6}}}}})


def test_a_run_being_trained_again_is_not_blended_until_it_stops(qtbot, window, flyp_run, tmp_path):
    window.create_project(tmp_path / "P.flyp.json")
    run = shutil.copytree(flyp_run, tmp_path / "P-runs" / "flyp")
    window.state.add_run(str(run))
    blend = window.show_page("blend")
    assert blend.picker.current().usable
    window.state.set_training_run(str(run))  # what the Train page does when it resumes the run
    qtbot.waitUntil(lambda: blend.picker.current().status == "training", timeout=5000)
    assert not blend.picker.current().usable and "stopped early" not in blend.picker.combo.currentText()
    assert "training now" in blend.picker.combo.currentText() and "training now" in blend.body.note.text()
    assert blend.body.currentIndex() == 0  # the reason, not an evaluation of a model half-way through training
    window.state.set_training_run("")  # it stopped: it can be blended again
    qtbot.waitUntil(lambda: blend.picker.current().usable, timeout=5000)


def test_zero_shot_measured_by_a_run_shows_after_reopening(qtbot, window, colour_data, flyp_run, tmp_path):
    from conftest import tiny_config

    config = tiny_config(colour_data)
    window.create_project(tmp_path / "P.flyp.json")
    window.state.set_settings(model=config.model, pretrained=config.pretrained)
    window.state.set_templates(config.templates)
    window.state.set_folders(train=config.train_dir, val=config.val_dir, ood=config.ood_dirs)
    window.state.add_run(str(flyp_run))
    window.state.save_now()
    window.close_project()
    assert window.open_project(tmp_path / "P.flyp.json")
    captions = window.pages["captions"]
    qtbot.waitUntil(lambda: "%" in captions.result.text(), timeout=30000)
    assert "measured when run “flyp” started" in captions.result.text()
    assert "24 validation" in captions.result.text()  # 3 × 8 images: the figure says how few


def test_measure_pressed_while_scanning_waits_for_the_scan(qtbot, window, colour_data, tmp_path):
    window.create_project(tmp_path / "P.flyp.json")
    window.state.set_settings(model="flyp-tiny", pretrained="none")
    window.state.set_folders(train=str(colour_data["train"]), val=str(colour_data["val"]))
    captions = window.pages["captions"]
    qtbot.waitUntil(lambda: window.state.scanning, timeout=5000)
    captions.measure.click()
    assert "being scanned" in captions.status.text() and captions.status.styleSheet() == ""
    qtbot.waitUntil(lambda: "validation" in captions.result.text() and "%" in captions.result.text(), timeout=60000)
    assert not captions.status.isVisible() or "Choose" not in captions.status.text()


def test_flyp_train_with_project_lists_the_run_for_the_app(qtbot, window, capsys, colour_data, tmp_path):
    from cli_helpers import assert_one_line_error, run_cli

    window.create_project(tmp_path / "P.flyp.json")
    window.close_project()
    train = ["train", "--model", "flyp-tiny", "--pretrained", "none", "--train", colour_data["train"], "--val",
             colour_data["val"], "--epochs", "1", "--batch-size", "12", "--workers", "0", "--json"]
    code, _, err = run_cli(capsys, *train, "--out", tmp_path / "server" / "run-1", "--project", tmp_path / "P.flyp.json")
    assert code == 0, err
    assert window.open_project(tmp_path / "P.flyp.json")
    assert window.state.project.runs == [str(tmp_path / "server" / "run-1")]
    assert window.pages["blend"].picker.current().usable
    code, _, err = run_cli(capsys, *train, "--out", tmp_path / "server" / "run-2", "--project", tmp_path / "P.flyp.json")
    assert_one_line_error(code, err, "already open", "run-2", "Add run folder")  # the window has it open
