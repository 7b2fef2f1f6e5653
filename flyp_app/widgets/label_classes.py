"""The classes the Label page labels into: the training folder's (as last scanned, or its sub-folders
before a scan) and those made on the page with New class… (whose folder is made with its first
image), with their names as shown (the Captions page's, else the folder's name in words)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable


class LabelClasses:
    """`folders()` lists the classes in the training folder's order, those made here after them."""

    def __init__(self, state, train_dir: Callable[[], Path | None]):
        self.state, self._train_dir = state, train_dir
        self.made_here: list[str] = []  # classes made with New class… whose folder may not exist yet

    def folders(self) -> list[str]:
        data = self.state.datasets
        found = list(data.classes) if data is not None else self._class_folders()
        return found + [c for c in self.made_here if c not in found]

    def _class_folders(self) -> list[str]:
        train = self._train_dir()
        try:
            return sorted(p.name for p in train.iterdir() if p.is_dir() and not p.name.startswith(".")) if train else []
        except OSError:
            return []

    def display(self, folder: str) -> str:
        from core.data.captions import display_name

        return self.state.project.class_names.get(folder) or display_name(folder) or folder

    def make(self, name: str, existing: str | None) -> str:
        """Add the class `name` (`existing`: the class already called so, if any); "" when made,
        else the reason it cannot be."""
        from core.errors import FlypError
        from core.labelling.files import check_class_name

        try:
            check_class_name(name)
        except FlypError as exc:
            from flyp_app.words import error_text

            return error_text(exc)
        if existing is not None:
            return f"There is a class called “{name}” already."
        self.made_here.append(name)
        return ""
