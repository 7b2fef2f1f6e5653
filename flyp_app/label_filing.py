"""The Label page's files: each labelling copies (or moves) images into the training folder's class
folders with `core.labelling.files.Labeller`, logged in the project folder, as one step of the
app's undo stack (`Labelled`), which puts the files back as they were."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtGui import QUndoCommand

from flyp_app.words import error_text


class Filing:
    """Labels files for the Label page and undoes it. `suggested(paths)` gives the model's (class,
    confidence) of each, logged with it; `filed(paths, folder)` and `put_back(paths)` tell the page
    which images left or came back; `say(text, error)` words the outcome."""

    def __init__(self, state, display: Callable[[str], str], suggested: Callable[[list[str]], list[tuple]],
                 filed: Callable[[list[str], str], None], put_back: Callable[[list[str]], None],
                 say: Callable[[str, bool], None]):
        self.state, self.display, self._suggested = state, display, suggested
        self._filed, self._put_back, self._say = filed, put_back, say
        self.labeller = None

    def history(self) -> list:
        """The labellings done here, each a list of `Assignment`s (oldest first)."""
        return self.labeller.history if self.labeller is not None else []

    def set_move(self, move: bool) -> None:
        if self.labeller is not None:
            self.labeller.move = move

    def _ready(self, train: Path | None) -> bool:
        from core.labelling.files import LabelLog, Labeller, log_path

        project = self.state.project
        if train is None or project.path is None:
            self._say("Choose the training folder on the Data page first: labelled images go into its "
                      "class folders.", True)
            return False
        if self.labeller is None or self.labeller.train_dir != train:
            self.labeller = Labeller(train, LabelLog(log_path(project.path)), project.label_move)
        return True

    def label(self, train: Path | None, paths: list[str], folder: str) -> list:
        """Label `paths` as class `folder` of the training folder `train`, as one step of the undo stack."""
        if not paths or not self._ready(train):
            return []
        done = self.file(self.labeller, paths, folder)
        if done:
            self.state.undo_stack.push(Labelled(self, self.labeller, [str(a.source) for a in done], folder))
        return done

    def file(self, labeller, paths: list[str], folder: str) -> list:
        """Copy (or move) `paths` into class `folder` with `labeller`. Returns the assignments made
        (up to a file that failed, which is named)."""
        from core.labelling.files import AssignError

        try:
            done, error = labeller.assign(paths, folder, self._suggested(paths)), ""
        except AssignError as exc:
            done, error = exc.done, error_text(exc)
        if done:
            self.state.labels_updated({folder: len(done)})
            self._filed([str(a.source) for a in done], folder)
        if error:
            self._say(error, True)
        else:
            verb = "moved" if labeller.move else "copied"
            self._say(f"{len(done)} image(s) {verb} into {self.display(folder)} · Ctrl+Z undoes.", False)
        return done

    def undo(self, labeller) -> None:
        """Put the files of `labeller`'s last labelling back as they were."""
        from core.errors import FlypError

        try:
            undone = labeller.undo()
        except FlypError as exc:
            self._say(error_text(exc), True)
            return
        counts: dict[str, int] = {}
        for a in undone:
            counts[a.class_name] = counts.get(a.class_name, 0) - 1
        self.state.labels_updated(counts)
        self._put_back([str(a.source) for a in undone])
        self._say(f"Undone: {len(undone)} image(s) put back.", False)


class Labelled(QUndoCommand):
    """One labelling on the Label page as a step of the app's undo stack: undo puts the files back
    (`Labeller.undo`) and their images in the grid; redo labels the same files again. The files
    are labelled before the command is pushed, so the stack's first redo() does nothing."""

    def __init__(self, filing: Filing, labeller, paths: list[str], folder: str):
        super().__init__(f"label {len(paths)} image(s) as {filing.display(folder)}")
        self.filing, self.labeller, self.paths, self.folder = filing, labeller, paths, folder
        self._applied = True

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self.filing.file(self.labeller, self.paths, self.folder)

    def undo(self) -> None:
        self.filing.undo(self.labeller)
