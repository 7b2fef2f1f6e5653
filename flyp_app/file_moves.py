"""Images moved to another class from the review lists (label check, Blend's gallery, the Data
page's map and search), each as one step of the app's undo stack (Edit ▸ Undo, Ctrl+Z); the Label
page's own labellings are `flyp_app.label_filing.Labelled`.

The files move through the Label page's machinery, `core.labelling.files.Labeller`: each move
is a row of the project's label log, and undo puts every file back where it was (and removes a
class folder the move made). An image moves inside the folder it belongs to (training,
validation or a different-conditions folder): into that folder's sub-folder of the class.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtGui import QUndoCommand

from core.errors import FlypError
from flyp_app.words import error_text


def root_of(path: Path, roots: list[Path]) -> Path:
    """The folder of class folders `path` lies in: the deepest of `roots` holding it, else its
    class folder's parent."""
    holding = [r for r in roots if path.is_relative_to(r) and path.parent != r]
    return max(holding, key=lambda r: len(r.parts)) if holding else path.parent.parent


class MoveImages(QUndoCommand):
    """Move `paths` into class folder `folder` (of each one's own root); undo puts them back.

    `done(changes, error="")` reports each change to the app ({old path: new path}) after a move or
    an undo, with why a file could not move or go back.
    The files are moved when the command is made (`error` holds why some could not be); the
    stack's first redo() does nothing, later ones move the files again.
    """

    def __init__(self, paths: list[str], folder: str, roots: list[Path], log_file: Path, done):
        super().__init__(f"move {len(paths)} image(s) to {folder}")
        from core.labelling.files import LabelLog, Labeller

        self.folder, self.done, self.error = folder, done, ""
        groups: dict[Path, list[str]] = {}
        for path in paths:
            path = Path(os.path.abspath(path))
            if path.parent.name != folder:
                groups.setdefault(root_of(path, roots), []).append(str(path))
        log = LabelLog(log_file)
        self.steps = [(Labeller(root, log, move=True), sources) for root, sources in groups.items()]
        self.moved = self._move()
        self._applied = True

    def _move(self) -> int:
        from core.labelling.files import AssignError

        changes = {}
        for labeller, sources in self.steps:
            try:
                done = labeller.assign(sources, self.folder)
            except AssignError as exc:
                done, self.error = exc.done, error_text(exc)
            changes |= {str(a.source): str(a.destination) for a in done}
        self.done(changes)
        return len(changes)

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self.error = ""
        self._move()
        if self.error:
            self.done({}, self.error)  # the files that did move were reported

    def undo(self) -> None:
        changes = {}
        try:
            for labeller, _ in reversed(self.steps):
                while labeller.history:
                    changes |= {str(a.destination): str(a.source) for a in labeller.undo()}
        except FlypError as exc:
            self.done(changes, error_text(exc))
            return
        self.done(changes)

