"""Where the model looked, on request, beyond Try: the Blend page's gallery (for the predicted
class, the true class or one class picked) and the Label page (for the suggested class or one
class picked, zero-shot or a run) show the engine's heat maps, computed in the background."""

from __future__ import annotations

import io
import shutil

import numpy as np
from PIL import Image

from conftest import off_the_ui_thread
from test_app_classify_folder import window  # noqa: F401  (the window with a copy of the finished run)


def picture(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32)


def engine_map(explainer, path, class_name=None) -> np.ndarray:
    from core.data.images import load_rgb
    from core.trust.explain import explain, overlay

    shown = overlay(explain(explainer, load_rgb(path), class_name))
    shown.thumbnail((96, 96))
    return np.asarray(shown, dtype=np.float32)


def icon_png(entry) -> bytes:
    from PySide6.QtCore import QBuffer, QIODevice

    buffer = QBuffer()
    buffer.open(QIODevice.WriteOnly)
    entry.icon().pixmap(96, 96).save(buffer, "PNG")
    return bytes(buffer.data())


def test_the_blend_gallery_shows_where_the_model_looked_for_each_class_asked(qtbot, window, flyp_run, forward_passes):
    from core.trust.explain import open_explainer

    window.state.set_alpha(0.5)
    page = window.show_page("blend")
    qtbot.waitUntil(lambda: page.curve is not None and page._exact_here() is not None, timeout=60000)
    matrix = page.confusion.table
    matrix.setCurrentCell(0, 0)  # the correctly classified images of the first class: never an empty gallery
    matrix.cellClicked.emit(0, 0)
    gallery = page.predictions
    count = gallery.list.count()
    assert count > 0 and gallery.heat_choice.classes.isHidden()
    forward_passes.clear()
    gallery.heat_choice.button.click()
    shown = lambda: all(gallery.list.item(r).data(0x0102) for r in range(count))  # noqa: E731 (Qt.UserRole + 2)
    qtbot.waitUntil(shown, timeout=60000)
    assert off_the_ui_thread(forward_passes)

    explainer = open_explainer(flyp_run, 0.5)
    paths = [gallery.list.item(r).data(0x0100) for r in range(count)]
    for row, path in enumerate(paths):  # the predicted class's map (the blend's own most likely class)
        assert np.abs(picture(icon_png(gallery.list.item(row))) - engine_map(explainer, path)).mean() < 3

    gallery.heat_choice.classes.setCurrentIndex(gallery.heat_choice.classes.findText("for blue"))
    before = icon_png(gallery.list.item(0))
    qtbot.waitUntil(lambda: icon_png(gallery.list.item(0)) != before and shown(), timeout=60000)
    for row, path in enumerate(paths):
        assert np.abs(picture(icon_png(gallery.list.item(row))) - engine_map(explainer, path, "blue")).mean() < 3
    gallery.heat_choice.button.click()  # off: the images themselves again
    assert not any(gallery.list.item(r).data(0x0102) for r in range(count))
    page.stop_workers()


def test_the_label_page_shows_where_the_model_looked_for_the_suggestion_or_a_class_picked(qtbot, tmp_path, colour_data,
                                                                                          flyp_run, forward_passes):
    from conftest import TINY
    from core.project import Project, save_project
    from core.trust.explain import open_explainer
    from flyp_app.pages.label_page import LabelPage
    from flyp_app.state import AppState

    new = tmp_path / "new"
    new.mkdir()
    for path in sorted(colour_data["ood"].rglob("*.jpg"))[::4]:
        shutil.copy(path, new / path.name)
    run = str(shutil.copytree(flyp_run, tmp_path / "runs" / "flyp"))
    project = Project(name="Mine", train_dir=str(shutil.copytree(colour_data["train"], tmp_path / "train")), model=TINY,
                      pretrained="none", runs=[run], alpha=1.0)
    save_project(project, tmp_path / "Mine.flyp.json")
    state = AppState(project)
    page = LabelPage(state)
    qtbot.addWidget(page)
    page.show()
    state.project_changed.emit()
    index = page.source.findData(run)
    page.source.setCurrentIndex(index)
    page.source.activated.emit(index)  # suggestions from the run at α = 1
    page.open_folder(str(new))
    qtbot.waitUntil(lambda: bool(page.items) and all(i.probs for i in page.items.values())
                    and "Suggestions from" in page.status.text(), timeout=60000)
    choice = page.heat.choice
    assert choice.classes.currentText() == "for the suggested class"
    forward_passes.clear()
    choice.button.click()
    first = page.grid.item(0)
    qtbot.waitUntil(lambda: first.data(0x0102), timeout=60000)  # the selected image shows its map
    assert off_the_ui_thread(forward_passes)
    assert not any(page.grid.item(r).data(0x0102) for r in range(1, page.grid.count()))  # only the selected one

    explainer = open_explainer(run, 1.0)
    path = first.data(0x0100)
    suggested = page.items[path].suggestion(page.classes)[0]
    assert np.abs(picture(icon_png(first)) - engine_map(explainer, path, suggested)).mean() < 3
    other = next(c for c in page.classes if c != suggested)
    choice.classes.setCurrentIndex(choice.classes.findText(f"for {other}"))
    before = icon_png(first)
    qtbot.waitUntil(lambda: icon_png(first) != before and first.data(0x0102), timeout=60000)
    assert np.abs(picture(icon_png(first)) - engine_map(explainer, path, other)).mean() < 3

    page.grid.setCurrentRow(1)  # the next image: its map follows the selection
    qtbot.waitUntil(lambda: page.grid.item(1).data(0x0102) and not first.data(0x0102), timeout=60000)
    choice.button.click()
    assert not page.grid.item(1).data(0x0102)
    page.stop_workers()


def test_a_zero_shot_source_is_explained_with_the_projects_captions(colour_data):
    """The Label page's default source: the pretrained model's map for the class named, or its own choice."""
    from conftest import TINY
    from core.model.classifier import Classifier
    from core.trust.explain import classifier_explainer
    from flyp_app import trust_tasks
    from flyp_app.caches import Caches

    classes = ["blue", "green", "red"]
    source = {"kind": "zero-shot", "model": TINY, "pretrained": "none", "classes": classes, "names": classes,
              "templates": ["a photo of a {}."]}
    files = [str(sorted((colour_data["val"] / c).glob("*.png"))[0]) for c in ("red", "blue")]
    caches, answers = Caches(), []
    items = [{"key": files[0], "name": files[0], "path": files[0], "data": None, "class": "green"},
             {"key": files[1], "name": files[1], "path": files[1], "data": None}]
    trust_tasks.explain_source(caches, source, "cpu", "zero-shot", items, emit=answers.append)
    explainer = classifier_explainer(Classifier(caches.model(TINY, "none", "cpu"), classes, source["templates"]),
                                     classes)
    assert [a["key"] for a in answers] == files and all("png" in a for a in answers)
    assert np.abs(picture(answers[1]["png"]) - engine_map(explainer, files[1])).mean() < 3
    shown, green, red = picture(answers[0]["png"]), *(engine_map(explainer, files[0], n) for n in ("green", "red"))
    # the map shown is green's, the class asked for: the untrained tower's maps differ little, so closer to green's
    assert np.abs(shown - green).mean() < 3 and np.abs(shown - green).mean() < np.abs(shown - red).mean() / 2
