"""The Train page's model picker with Hub models, and a Hub download shown in the page's status."""

import pytest


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from flyp_app.window import MainWindow

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    win = MainWindow(load_engine=False)
    qtbot.addWidget(win)
    win.create_project(tmp_path / "Mine.flyp.json")
    win.show()
    win.show_page("train")
    yield win
    win.close()


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
    window.pages["train"]._load_settings()
    assert picker.source.currentData() == "hub" and "histopathology" in picker.note.text()
    assert picker.value() == ("hf-hub:wisdomik/QuiltNet-B-32", "")


def test_a_download_shows_in_the_status_line(qtbot, window):
    page = window.pages["train"]
    page._on_event({"type": "download", "model": "hf-hub:imageomics/bioclip", "done": 12_000_000,
                    "total": 340_000_000})
    page._tick()
    assert "Downloading hf-hub:imageomics/bioclip" in page.message.text() and "12 of 340 MB" in page.message.text()
