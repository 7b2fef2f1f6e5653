"""Every file and folder dialog of the app, each starting where the user was last.

A dialog starts at `near` when that names a place that exists (the file or folder a field
already holds, a bundle folder about to be written), else in the folder last used in any
dialog, else in the project's folder (`AppState.dialog_folder`). The folder the user went to is
remembered for the next dialog: the one holding the chosen file, or the one around a chosen
folder (so that the next dialog shows it among its neighbours).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from core.data.images import IMAGE_EXTENSIONS

IMAGE_FILTER = f"Images ({' '.join('*' + e for e in sorted(IMAGE_EXTENSIONS))});;All files (*)"


def start_at(state, near: str = "", name: str = "") -> str:
    """Where a dialog opens: `near` if it or its folder exists, else the last folder used with
    `name` (a suggested file name) in it."""
    near = near.strip()
    if near:
        path = Path(near).expanduser()
        if path.is_absolute() and (path.exists() or path.parent.is_dir()):  # not relative to wherever the app started
            return str(path)
    folder = Path(state.dialog_folder())
    return str(folder / name) if name else str(folder)


def choose_folder(parent: QWidget, state, title: str, near: str = "") -> str:
    """An existing folder chosen by the user ("" when cancelled)."""
    folder = QFileDialog.getExistingDirectory(parent, title, start_at(state, near))
    if folder:
        state.remember_folder(Path(folder).parent)
    return folder


def choose_file(parent: QWidget, state, title: str, filters: str, near: str = "") -> str:
    """One existing file ("" when cancelled)."""
    path, _ = QFileDialog.getOpenFileName(parent, title, start_at(state, near), filters)
    if path:
        state.remember_folder(Path(path).parent)
    return path


def choose_files(parent: QWidget, state, title: str, filters: str) -> list[str]:
    """Existing files, any number ([] when cancelled)."""
    paths, _ = QFileDialog.getOpenFileNames(parent, title, start_at(state), filters)
    if paths:
        state.remember_folder(Path(paths[0]).parent)
    return paths


def choose_new(parent: QWidget, state, title: str, name: str = "", filters: str = "", near: str = "") -> str:
    """A path to write to, new or to be replaced ("" when cancelled); `name` is suggested."""
    path, _ = QFileDialog.getSaveFileName(parent, title, start_at(state, near, name), filters)
    if path:
        state.remember_folder(Path(path).parent)
    return path
