"""The Try page's "Classify a folder…": every image (no cap), in the background, a CSV, sorting and its undo."""

from __future__ import annotations

import csv
import random
import shutil

import pytest

from conftest import COLOURS, make_image, off_the_ui_thread


@pytest.fixture
def window(qtbot, tmp_path, flyp_run):
    from flyp_app.window import MainWindow

    win = MainWindow(load_engine=False)
    qtbot.addWidget(win)
    win.create_project(tmp_path / "Mine.flyp.json")
    win.state.add_run(str(shutil.copytree(flyp_run, tmp_path / "runs" / "flyp")))
    win.show()
    yield win
    win.close()


def test_a_folder_of_more_than_500_images_is_classified_saved_and_sorted(qtbot, window, tmp_path, forward_passes):
    from flyp_app import label_tasks

    folder = tmp_path / "incoming"
    rng = random.Random(3)
    for i in range(520):
        sub = folder / f"card {i % 4}"
        sub.mkdir(parents=True, exist_ok=True)
        make_image(COLOURS[("red", "green", "blue")[i % 3]], rng, size=24).save(sub / f"{i:04d}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    page = window.show_page("try")
    page.classify_folder(str(folder))
    results = page.folder_results
    assert not results.export.isEnabled()  # it returned at once: the work goes on in the background
    qtbot.waitUntil(lambda: results.export.isEnabled(), timeout=120000)
    assert results.table.rowCount() == 521 and len(results.predictions) == 521
    assert off_the_ui_thread(forward_passes)  # the window kept running while the model worked
    skipped = [p for p in results.predictions if p.reason]
    assert [p.path.name for p in skipped] == ["broken.jpg"]
    assert results.table.item(0, 5).text().startswith("not an image") or "unreadable" in results.table.item(0, 5).text()
    assert results.table.item(1, 1).text() in {"red", "green", "blue"}
    verdicts = [results.table.item(r, 6).text() for r in range(1, results.table.rowCount())]
    # Each row says whether the image is like the run's training images (smaller, other pictures here).
    assert verdicts == [{True: "yes", False: "no: none of these classes"}[p.known] for p in results.predictions[1:]]

    out = tmp_path / "classified.csv"
    page.run(label_tasks.export_csv, results.predictions, str(out))  # what "Save as CSV…" runs
    qtbot.waitUntil(lambda: out.exists(), timeout=10000)
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["path", "class", "confidence"] and len(rows) == 522

    sorted_dir = tmp_path / "sorted"
    page.folder_results.sort_into(str(sorted_dir), 0.5)
    qtbot.waitUntil(lambda: page.folder_results.last_sort is not None, timeout=60000)
    copies = list(sorted_dir.rglob("*.png"))
    assert len(copies) == 520 and {p.parent.name for p in copies} <= {"red", "green", "blue", "_uncertain", "_unknown"}
    page.folder_results.undo_sort()
    assert not sorted_dir.exists() and len(list(folder.rglob("*.png"))) == 520


def test_a_labelled_folder_is_scored_against_its_class_folders(qtbot, window, colour_data):
    from core.model.scores import labelled_folder_scores

    page = window.show_page("try")
    page.classify_folder(str(colour_data["val"]))  # class folders named as the run's classes
    results = page.folder_results
    qtbot.waitUntil(lambda: results.export.isEnabled(), timeout=120000)
    assert results.scores.isVisible() and results.confusion.isVisible()
    expected = labelled_folder_scores(colour_data["val"], {str(p.path): p.label for p in results.predictions},
                                      ["blue", "green", "red"])
    assert expected["n"] == 24
    text = results.scores.text()
    assert f"accuracy {expected['accuracy']:.1%} on 24 images" in text and "precision" in text and "recall" in text
    assert sum(map(sum, expected["confusion"])) == 24
    assert results.confusion.table.rowCount() == 3

    page.classify_folder(str(colour_data["val"] / "red"))  # no class sub-folders: no scores
    qtbot.waitUntil(lambda: results.export.isEnabled(), timeout=120000)
    assert not results.scores.isVisible() and not results.confusion.isVisible()
