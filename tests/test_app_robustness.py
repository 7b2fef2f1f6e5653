"""The app with bad input: words on the page, nothing lost, no traceback dialogs."""

import os

import pytest

from corpus import build_corpus


@pytest.fixture
def window(qtbot, tmp_path):
    from flyp_app.window import MainWindow

    win = MainWindow(load_engine=False)
    qtbot.addWidget(win)
    yield win
    win.close()


def test_a_damaged_project_file_is_reported_and_left_as_it_is(qtbot, window, tmp_path):
    path = tmp_path / "Broken.flyp.json"
    path.write_text('{"format": 1, "name": "half a file", "templates": [')
    before = path.read_bytes()
    assert not window.open_project(path)
    assert "damaged project file" in window.welcome.message.text() and "Broken.flyp.json" in window.welcome.message.text()
    window.state.save_now()
    assert path.read_bytes() == before


def test_the_data_page_lists_every_bad_file_with_its_reason(qtbot, window, tmp_path):
    corpus = build_corpus(tmp_path / "corpus")
    window.create_project(tmp_path / "P.flyp.json")
    window.state.set_folders(train=str(corpus.train), val=str(corpus.val), ood=[str(corpus.ood)])
    window.pages["data"]._load_project()
    with qtbot.waitSignal(window.state.scan_finished, timeout=30000) as blocker:
        pass
    data = blocker.args[0]
    assert data is not None and set(data.classes) == {"cat", "dog"}
    page = window.pages["data"]
    listed = {page.problems.topLevelItem(i).text(0): page.problems.topLevelItem(i).text(1)
              for i in range(page.problems.topLevelItemCount())}
    for relative, words in corpus.skipped.items():
        if relative == corpus.unreadable and os.geteuid() == 0:
            continue  # root reads a chmod-000 file (tests/test_bad_input.py simulates the refusal)
        path = str(corpus.train / relative)
        if not path.isprintable() or any(0xDC80 <= ord(c) <= 0xDCFF for c in path):
            continue  # a name that is not valid UTF-8: Qt shows it with replacement characters
        assert path in listed, path
        assert all("Traceback" not in reason for reason in listed.values())
    assert any("zebra" in reason for reason in listed.values())  # the OOD class the training data lacks
    assert not any(os.path.basename(p) == ".DS_Store" for p in listed)


def test_a_single_class_folder_is_explained_inline(qtbot, window, tmp_path):
    corpus = build_corpus(tmp_path / "corpus")
    window.create_project(tmp_path / "P.flyp.json")
    window.state.set_folders(train=str(corpus.single))
    window.pages["data"]._load_project()
    with qtbot.waitSignal(window.state.scan_finished, timeout=30000):
        pass
    assert "at least two class folders" in window.pages["data"].status.text()
