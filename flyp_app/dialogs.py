"""The Help menu's windows: a user guide for the page in view, and About with the versions in use."""

from __future__ import annotations

import platform
from importlib import metadata

from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QMessageBox

GUIDE = """<h3>FLYP Studio</h3>
<p>A project is one file, <i>NAME.flyp.json</i>, saved as you work; its runs live beside it in
<i>NAME-runs</i>. Move or copy the two together and the project opens whole anywhere.</p>
<p><b>The path:</b> {steps}</p>
<p><b>On this page — {title}.</b> {hint}</p>
<p><b>Keys:</b> Ctrl+1 … Ctrl+{pages} open the pages, Ctrl+Tab the next one; Ctrl+Z and Ctrl+Shift+Z undo
and redo changes to folders, class names, templates and settings, the images labelled on the Label page,
and the actions on reviewed images (moved to another class, left out of training, kept as they are);
Ctrl+W closes the project.</p>
<p><b>Drops:</b> a project file opens it; a run folder joins the project; images go to Try; a folder
dropped on a field of the Data page sets that field, dropped elsewhere you are asked what it is for.</p>
<p>When something goes wrong unexpectedly, the details are written to the log file: {log}</p>"""


def version_of(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions(engine_ready: bool) -> list[tuple[str, str]]:
    """(name, version) of FLYP Studio and what it runs on; PyTorch's only once it has loaded."""
    from core import __version__

    rows = [("FLYP Studio", __version__)]
    if engine_ready:
        from core.model.loading import torch_versions  # loaded already (engine_ready)

        rows += torch_versions()
    else:
        rows += [("PyTorch", f"{version_of('torch')} (still loading)")]
    rows += [("open_clip", version_of("open_clip_torch")), ("Qt", qVersion()),
             ("PySide6", version_of("PySide6")), ("Python", platform.python_version()),
             ("System", f"{platform.system()} {platform.release()}")]
    return rows


def show_about(parent, engine_ready: bool) -> None:
    table = "".join(f"<tr><td>{name}&nbsp;&nbsp;</td><td>{version}</td></tr>" for name, version in versions(engine_ready))
    QMessageBox.about(parent, "About FLYP Studio",
                      "<h3>FLYP Studio</h3><p>Finetune CLIP like it was pretrained (FLYP), blend it with the "
                      f"original (WiSE-FT), and export it.</p><table>{table}</table>")


def help_text(window) -> str:
    from flyp_app.errors import log_file

    page = window.stack.currentWidget()
    title, hint = (page.title, page.hint) if page in window.pages.values() else ("Welcome", "Open the demo project to "
                                                                          "see every page at work, or start a new project.")
    steps = " → ".join(p.title for p in window.pages.values())
    return GUIDE.format(steps=steps, title=title, hint=hint, pages=min(9, len(window.pages)), log=log_file())


def show_help(window) -> None:
    box = QMessageBox(QMessageBox.Information, "FLYP Studio help", help_text(window), parent=window)
    box.setTextFormat(Qt.RichText)
    box.exec()
