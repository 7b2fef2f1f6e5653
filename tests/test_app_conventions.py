"""Desktop conventions: the window fits a small screen on every page and remembers its layout, text
is legible under a dark system theme, the menus and shortcuts work, edits undo, errors are seen."""

import shutil
from pathlib import Path

import pytest
from PySide6.QtGui import QColor, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication, QLabel

SMALL = (1024, 700)


@pytest.fixture
def window(qtbot, tmp_path, colour_data, flyp_run):
    """A project with the colour folders and a finished run, in a window of the smallest size supported."""
    from flyp_app.window import MainWindow

    win = MainWindow(load_engine=False)
    qtbot.addWidget(win)
    win.create_project(tmp_path / "Mine.flyp.json")
    win.state.set_settings(model="flyp-tiny", pretrained="none")
    win.state.set_folders(train=str(colour_data["train"]), val=str(colour_data["val"]), ood=[str(colour_data["ood"])])
    win.state.add_run(str(shutil.copytree(flyp_run, tmp_path / "Mine-runs" / "2026-11-30 0712 flyp (a long name)")))
    win.resize(*SMALL)
    win.show()
    yield win
    win.close()


def show_every_page(qtbot, window, colour_data):
    """Each page by name, with what it shows once its work is done (yields the page's name)."""
    for page in window.pages.values():
        window.show_page(page.name)
        if page.title == "Data":
            qtbot.waitUntil(lambda: window.state.datasets is not None, timeout=30000)
        elif page.title == "Train":
            # A run's progress line at its longest, as it reads during training.
            page._progress = {"total": 1200, "step": 601, "per_epoch": 120, "rate": 1234.0, "eta": 4000,
                              "message": "Evaluated at step 600: validation (ID) 91.7%, ood 88.2%."}
            page._dirty = True
            page._tick()
        elif page.title == "Blend":
            qtbot.waitUntil(lambda: page.curve is not None and page._exact_here() is not None, timeout=60000)
        elif page.title == "Try":
            page.add_paths([sorted((colour_data["val"] / "red").iterdir())[0]])
            qtbot.waitUntil(lambda: bool(page.items) and page.items[0].probs is not None, timeout=60000)
        elif page.title == "Compare":
            qtbot.waitUntil(lambda: page._worker is None and bool(page.rows) and all(page.rows), timeout=60000)
        qtbot.wait(50)
        yield page.name


def test_the_window_fits_1024_by_700_on_every_page(qtbot, window, colour_data):
    for title in show_every_page(qtbot, window, colour_data):
        needed = window.minimumSizeHint()
        assert needed.width() <= SMALL[0] and needed.height() <= SMALL[1], (title, needed)
        assert (window.width(), window.height()) == SMALL, title  # nothing widened it
    blend = window.pages["blend"]
    window.show_page("blend")
    header = blend.table.horizontalHeader()
    assert all(header.sectionViewportPosition(c) + header.sectionSize(c) <= blend.table.viewport().width()
               for c in range(4))  # every column of the per-class table in view
    assert blend.table.columnWidth(0) >= 100


def test_size_position_and_splitters_are_remembered(qtbot, tmp_path):
    from flyp_app.window import MainWindow

    first = MainWindow(load_engine=False)
    qtbot.addWidget(first)
    first.resize(1366, 768)
    first.show()
    first.create_project(tmp_path / "P.flyp.json")
    splitter = first.pages["compare"].splitter
    splitter.setSizes([300, 200])
    sizes = splitter.sizes()
    first.close()
    again = MainWindow(load_engine=False)
    qtbot.addWidget(again)
    again.show()
    # The offscreen test screen is 800 px wide: the width is cut to it, the height (768, not the
    # default 800) shows that the size was restored.
    assert again.height() == 768
    assert again.pages["compare"].splitter.sizes() == sizes
    again.close()


def contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colours."""
    def luminance(c: QColor) -> float:
        channels = [(v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4) for v in (c.redF(), c.greenF(), c.blueF())]
        return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def text_contrast(image, rect) -> float | None:
    """In `rect` of `image`: contrast of the colour farthest from the background (the most common
    colour) against the background; None where there is only one colour (no text)."""
    from collections import Counter

    rect = rect.intersected(image.rect())
    pixels = [image.pixelColor(x, y) for y in range(rect.top(), rect.bottom() + 1, 1)
              for x in range(rect.left(), rect.right() + 1, 1)]
    if not pixels:
        return None
    background = Counter(p.rgb() for p in pixels).most_common(1)[0][0]
    background = QColor.fromRgb(background)
    best = max(pixels, key=lambda p: contrast(p, background))
    return None if best.rgb() == background.rgb() else contrast(best, background)


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, colour in (("Window", "#202124"), ("WindowText", "#e8eaed"), ("Base", "#171717"), ("Text", "#e8eaed"),
                         ("Button", "#303134"), ("ButtonText", "#e8eaed"), ("AlternateBase", "#262626"),
                         ("ToolTipBase", "#303134"), ("ToolTipText", "#e8eaed"), ("PlaceholderText", "#9aa0a6")):
        palette.setColor(getattr(QPalette.ColorRole, role), QColor(colour))
    return palette


def test_every_page_is_legible_under_a_dark_system_theme(qtbot, colour_data, flyp_run, tmp_path):
    from flyp_app import theme
    from flyp_app.window import MainWindow

    app = QApplication.instance()
    saved = app.palette(), app.styleSheet()
    app.setPalette(dark_palette())  # what a dark desktop gives the app
    theme.apply(app)                # what create_app does next
    try:
        win = MainWindow(load_engine=False)
        qtbot.addWidget(win)
        win.resize(*SMALL)
        win.show()
        win.create_project(tmp_path / "Mine.flyp.json")
        win.state.set_folders(train=str(colour_data["train"]), val=str(colour_data["val"]))
        win.state.add_run(str(shutil.copytree(flyp_run, tmp_path / "Mine-runs" / "flyp")))
        win.state.set_settings(model="flyp-tiny", pretrained="none")
        checked = 0
        for title in show_every_page(qtbot, win, colour_data):
            image = win.grab().toImage()
            page = win.pages[title]
            for label in page.findChildren(QLabel):
                if not label.isVisible() or not label.text().strip() or label.width() < 4:
                    continue
                rect = label.rect().translated(label.mapTo(win, label.rect().topLeft()))
                ratio = text_contrast(image, rect)
                if ratio is not None:
                    checked += 1
                    assert ratio >= 3.0, f"{title}: {label.text()[:40]!r} has contrast {ratio:.1f}"
        assert checked > 30
        win.close()
    finally:
        app.setPalette(saved[0])
        app.setStyleSheet(saved[1])


def test_view_menu_shortcuts_open_pages_by_name(qtbot, window):
    actions = {a.text().replace("&", ""): a for a in window.page_actions}
    for i, page in enumerate(window.pages.values(), 1):
        assert actions[page.title].shortcut() == QKeySequence(f"Ctrl+{i}")
    actions["Blend"].trigger()
    assert window.stack.currentWidget() is window.pages["blend"]
    actions["Next page"].trigger()
    names = list(window.pages)
    assert window.stack.currentWidget() is window.pages[names[names.index("blend") + 1]]
    actions["Previous page"].trigger()
    assert window.stack.currentWidget() is window.pages["blend"]
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus == ["File", "Edit", "View", "Help"]


def test_close_project_goes_back_to_the_welcome_screen(qtbot, window):
    window.close_project()
    assert window.stack.currentWidget() is window.welcome and not window.nav.isEnabled()
    assert window.windowTitle() == "FLYP Studio" and window.state.project.path is None
    assert window.welcome.recent.topLevelItem(0).text(0) == "Mine"
    window.welcome.open_recent.click()
    assert window.state.project.name == "Mine" and window.nav.isEnabled()


def test_edits_undo_and_redo(qtbot, window, colour_data):
    state, data, captions = window.state, window.pages["data"], window.pages["captions"]
    qtbot.waitUntil(lambda: state.datasets is not None, timeout=30000)
    undo = state.undo_stack
    data.classes.item(0, 1).setText("sky")
    assert state.project.class_names == {"blue": "sky"}
    captions.editor.setPlainText("a {} thing.")
    captions._commit_edit()
    window.pages["train"].params.epochs.setValue(7)
    assert state.project.settings["epochs"] == 7
    undo.undo()
    assert "epochs" not in state.project.settings and window.pages["train"].params.epochs.value() != 7
    undo.undo()
    assert state.project.templates == ["a photo of a {}."] and captions.editor.toPlainText() == "a photo of a {}."
    undo.undo()
    assert state.project.class_names == {} and data.classes.item(0, 1).text() == "blue"
    assert "class name" in undo.redoText()
    undo.redo()
    assert data.classes.item(0, 1).text() == "sky"
    state.set_folders(train=str(colour_data["val"]))
    undo.undo()
    assert state.project.train_dir == str(colour_data["train"]) and data.train_edit.text() == str(colour_data["train"])
    state.save_now()
    from core.project import load_project

    assert load_project(state.project.path).class_names == {"blue": "sky"}  # undo and redo are saved too


def test_help_and_about_say_where_things_are(qtbot, window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from flyp_app import dialogs

    window.show_page("blend")
    text = dialogs.help_text(window)
    assert "On this page — Blend" in text and "flyp-studio.log" in text
    rows = dict(dialogs.versions(engine_ready=True))
    assert {"FLYP Studio", "PyTorch", "CUDA", "Qt"} <= rows.keys()
    shown = []
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, text: shown.append(text))
    help_menu = window.menuBar().actions()[-1].menu()
    help_menu.actions()[1].trigger()
    assert "PyTorch" in shown[0] and "Qt" in shown[0]
    assert help_menu.actions()[0].shortcut() == QKeySequence(QKeySequence.HelpContents)


def test_an_uncaught_exception_is_logged_and_shown_with_where_the_log_is(qtbot, tmp_path, monkeypatch):
    import logging

    from flyp_app import errors

    monkeypatch.setattr(errors, "log_file", lambda: tmp_path / "logs" / "flyp-studio.log")
    crashes = []
    monkeypatch.setattr(errors.faulthandler, "enable", crashes.append)  # pytest keeps its own for the session
    errors.start_logging()
    assert crashes[0].name == str(tmp_path / "logs" / "flyp-studio.crash.log")  # a hard crash's stack goes there
    reporter = errors.ErrorReporter()
    try:
        raise ValueError("a bug nobody expected")
    except ValueError as exc:
        reporter.excepthook(type(exc), exc, exc.__traceback__)
    qtbot.waitUntil(lambda: bool(reporter.shown), timeout=3000)
    box = reporter._box
    assert "a bug nobody expected" in box.informativeText() and str(tmp_path / "logs") in box.informativeText()
    for handler in errors.log.handlers:
        handler.flush()
    assert "ValueError: a bug nobody expected" in (tmp_path / "logs" / "flyp-studio.log").read_text()
    box.close()
    for handler in list(errors.log.handlers):
        errors.log.removeHandler(handler)
        handler.close()
    logging.getLogger("flyp_app").setLevel(logging.NOTSET)


def where(widget) -> str:
    """A control as a failing test names it: its kind, its text and the page (or screen) it is on."""
    text = widget.text() if hasattr(widget, "text") and callable(widget.text) else ""
    holder = widget
    while holder is not None and not hasattr(holder, "title"):
        holder = holder.parentWidget()
    return f"{type(widget).__name__} {text!r} on {getattr(holder, 'title', 'the welcome screen')}"


def test_every_control_is_named_and_every_field_explained(qtbot, window, colour_data):
    """What a screen reader says for each button, box, field, list and table of every page (shown
    with its content, dynamic controls included) is never empty and, on one page, never the same
    for two buttons; each field has a tooltip saying what it is for."""
    from collections import Counter

    from PySide6.QtWidgets import (QAbstractButton, QAbstractItemView, QAbstractSpinBox, QComboBox, QLineEdit,
                                   QPlainTextEdit, QSlider, QWidget)

    from flyp_app.widgets.accessible import _internal

    for _ in show_every_page(qtbot, window, colour_data):
        pass
    assert window.pages["label"].bar.buttons  # the class buttons, made when the classes are known
    controls = [w for w in window.findChildren(QWidget) if not _internal(w)
                and isinstance(w, (QAbstractButton, QLineEdit, QComboBox, QAbstractSpinBox, QSlider, QAbstractItemView,
                                   QPlainTextEdit))]
    assert len(controls) > 80
    unnamed = [where(w) for w in controls if not w.accessibleName().strip()]
    assert not unnamed, unnamed
    unexplained = [where(w) for w in controls if isinstance(w, (QLineEdit, QComboBox, QAbstractSpinBox, QSlider))
                   and not w.toolTip()]
    assert not unexplained, unexplained
    for page in window.pages.values():
        names = Counter(w.accessibleName() for w in page.findChildren(QAbstractButton) if not _internal(w))
        assert not [n for n, count in names.items() if count > 1], (page.title, names)
    data = window.pages["data"]
    assert data.train_edit.accessibleName() == "Training" and data.split.accessibleName() == "Held-out share"
    assert window.pages["export"].open_folder.accessibleName() == "Open the folder"
    assert window.pages["export"].alpha.accessibleName() == "Blend α"


def test_a_path_can_be_pasted_into_the_training_box(qtbot, window, colour_data, tmp_path):
    data = window.pages["data"]
    data.train_edit.setText(str(colour_data["val"]) + "  ")  # pasted, with a trailing space
    data.train_edit.editingFinished.emit()
    assert window.state.project.train_dir == str(colour_data["val"])
    data.train_edit.setText(str(tmp_path / "nowhere"))
    data.train_edit.editingFinished.emit()
    assert "no such folder" in data.status.text() and window.state.project.train_dir == str(colour_data["val"])


def test_file_dialogs_start_in_the_project_folder_then_the_last_one_used(qtbot, window, tmp_path, monkeypatch):
    """Export's Choose… and the weights file's Browse… open in the project's folder; once the user
    has gone elsewhere in any dialog, the next one opens there."""
    import re

    from PySide6.QtWidgets import QFileDialog, QPushButton

    opened, answers = [], {}

    def dialog(kind):
        def show(parent, title, start, *rest):
            opened.append((title, start))
            answer = answers.get(kind, "")
            return answer if kind == "getExistingDirectory" else (answer, "")
        return show

    for kind in ("getExistingDirectory", "getOpenFileName", "getSaveFileName"):
        monkeypatch.setattr(QFileDialog, kind, dialog(kind))
    export = window.show_page("export")
    choose = next(b for b in export.findChildren(QPushButton) if b.text() == "Choose…")
    choose.click()
    assert opened[-1][1] == export.out.text() and opened[-1][1].startswith(str(tmp_path / "Mine-model-alpha"))
    picker = window.pages["train"].model_picker
    browse = next(b for b in picker.findChildren(QPushButton) if b.text() == "Browse…")
    browse.click()
    assert opened[-1][1] == str(tmp_path)  # no weights file yet: the project's folder
    elsewhere = tmp_path / "weights" / "mine.safetensors"
    elsewhere.parent.mkdir()
    answers["getOpenFileName"] = str(elsewhere)
    browse.click()
    assert picker.file.text() == str(elsewhere)
    next(b for b in window.pages["data"].findChildren(QPushButton) if b.text() == "Add…").click()
    assert opened[-1][1] == str(elsewhere.parent)  # the folder last used, in another dialog
    sources = [path for path in Path(__file__).parent.parent.joinpath("flyp_app").rglob("*.py")
               if re.search(r"QFileDialog\.get", path.read_text()) and path.name != "file_dialogs.py"]
    assert not sources, f"file dialogs opened outside flyp_app/file_dialogs.py: {sources}"
