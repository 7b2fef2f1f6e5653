"""The Train page for domain work: Hub models in the model picker, a download in the status line,
and the kind of images (augmentation preset) with its preview."""

import pytest


@pytest.fixture
def window(request, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))  # before the window reads it
    win = request.getfixturevalue("project_window")
    win.show_page("train")
    return win


def choose(picker, source: str) -> None:
    picker.source.setCurrentIndex(picker.source.findData(source))
    picker.source.activated.emit(picker.source.currentIndex())


def test_hub_models_are_offered_with_what_they_were_trained_for(qtbot, window, tmp_path):
    picker = window.pages["train"].model_picker
    choose(picker, "hub")
    assert window.state.project.model == "hf-hub:imageomics/bioclip" and window.state.project.pretrained == ""
    assert picker.hub.isVisible() and not picker.arch.isVisible() and not picker.tag.isVisible()
    assert "tree of life" in picker.note.text() and str(tmp_path / "hf-cache") in picker.note.text()
    picker.hub.setEditText("my-lab/plankton-clip")  # any Hub name, typed
    picker.hub.lineEdit().editingFinished.emit()
    assert window.state.project.model == "hf-hub:my-lab/plankton-clip"
    assert "tree of life" not in picker.note.text()
    choose(picker, "demo")
    window.state.set_settings(model="hf-hub:wisdomik/QuiltNet-B-32", pretrained="")
    window.pages["train"].settings_column.load()
    assert picker.source.currentData() == "hub" and "histopathology" in picker.note.text()
    assert picker.value() == ("hf-hub:wisdomik/QuiltNet-B-32", "")


def test_a_download_shows_in_the_status_line(qtbot, window):
    page = window.pages["train"]
    page._on_event({"type": "download", "model": "hf-hub:imageomics/bioclip", "done": 12_000_000,
                    "total": 340_000_000})
    page._tick()
    message = page.progress_box.message.text()
    assert "Downloading hf-hub:imageomics/bioclip" in message and "12 of 340 MB" in message


def test_the_kind_of_images_is_stored_and_previewed(qtbot, window, colour_data):
    state, page = window.state, window.pages["train"]
    state.set_folders(train=str(colour_data["train"]), val=str(colour_data["val"]), ood=[])
    with qtbot.waitSignal(state.scan_finished, timeout=30000):
        window.pages["data"]._load_project()
    picker = page.settings_column.augment
    qtbot.waitUntil(lambda: not picker.pictures[0].pixmap().isNull(), timeout=30000)
    photos = [p.pixmap().toImage() for p in picker.pictures]
    picker.combo.setCurrentIndex(picker.combo.findData("microscopy"))
    picker.combo.activated.emit(picker.combo.currentIndex())
    assert state.project.settings["augment"] == "microscopy" and state.train_config().augment == "microscopy"
    assert "flips" in picker.note.text()
    qtbot.waitUntil(lambda: [p.pixmap().toImage() for p in picker.pictures] != photos, timeout=30000)
    state.set_settings(augment="documents")
    assert picker.value() == "documents"


def test_a_hub_model_measures_zero_shot_on_the_captions_page(qtbot, window, colour_data, tmp_path):
    from conftest import TINY
    from core.atomic import save_safetensors
    from core.model.loading import ModelSpec, load_model
    from hub_cache import add_repo, open_clip_files

    tiny = load_model(ModelSpec(TINY, "none"), seed=3)
    save_safetensors(tiny.model.state_dict(), tmp_path / "w.safetensors")
    add_repo(tmp_path / "hf-cache", "test-org/tiny-clip", open_clip_files(tiny.model_cfg, tmp_path / "w.safetensors"))
    state = window.state
    state.set_folders(train=str(colour_data["train"]), val=str(colour_data["val"]), ood=[])
    state.set_settings(model="hf-hub:test-org/tiny-clip", pretrained="")
    with qtbot.waitSignal(state.scan_finished, timeout=30000):
        window.pages["data"]._load_project()
    page = window.pages["captions"]
    window.show_page("captions")
    page.measure_zero_shot()
    qtbot.waitUntil(lambda: getattr(page, "zero_shot_results", None) is not None, timeout=60000)
    assert "id" in page.zero_shot_results and "%" in page.result.text()
