"""What the user does with listed images — the label check, the map, the search, the Blend page's
gallery, the Label page's own images: move them to another class (logged, one step of the undo
stack: `flyp_app.file_moves`), leave them out of training, keep them as they are — and what was done
with each, in words. A part of `AppState` (`state.review`), which holds the project and its undo stack.
"""

from __future__ import annotations

import os
from pathlib import Path


class ImageReview:
    def __init__(self, state):  # the AppState it is a part of (its project, undo stack and signals)
        self.state = state
        self.moved: dict[str, str] = {}  # images moved to another class this session: {first path: path now}

    def forget(self) -> None:
        """Another project: nothing was done with its images yet."""
        self.moved = {}

    def move(self, paths: list[str], folder: str) -> str:
        """Move images into class folder `folder` of their own folder (training, validation, …),
        logged and undoable. Returns why some could not move ("" if all did)."""
        from core.labelling.files import log_path
        from flyp_app.file_moves import MoveImages

        state, p = self.state, self.state.project
        if p.path is None:
            return "Save the project first: moved images are logged beside it."
        roots = [Path(os.path.abspath(state.folder(d))) for d in (p.train_dir, p.val_dir, *p.ood_dirs) if d]
        command = MoveImages(paths, folder, roots, log_path(p.path), self._moved)
        if command.moved:
            state.undo_stack.push(command)
        elif not command.error:
            return "The selected images are in that class already."
        return command.error

    def _moved(self, changes: dict[str, str], error: str = "") -> None:
        """Images moved (or moved back by an undo): {path before: path now}."""
        first = {now: was for was, now in self.moved.items()}
        for old, new in changes.items():
            origin = first.get(old, old)
            if new == origin:
                self.moved.pop(origin, None)
            else:
                self.moved[origin] = new
        if error:
            self.state.message.emit(error)
        if changes:
            self.state.data_changed.emit()
            self.state.images_changed.emit()

    def leave_out(self, paths: list[str]) -> None:
        """Leave images out of training, scans and checks (the project's list; the files stay)."""
        from core.data.folders import excluded_key

        excluded = self.state.project.excluded
        new = [excluded_key(x) for x in paths if excluded_key(x) not in excluded]
        if new:
            self.state.edit_project(f"leave {len(new)} image(s) out of training", {"excluded": excluded + new})

    def keep(self, paths: list[str]) -> None:
        """Images the user looked at and keeps as they are: the label check does not list them again."""
        from core.data.folders import excluded_key

        kept = self.state.project.kept
        new = [excluded_key(x) for x in paths if excluded_key(x) not in kept]
        if new:
            self.state.edit_project(f"keep {len(new)} image(s) as they are", {"kept": kept + new})

    def status(self, path: str) -> str:
        """What the user did with a listed image, in words ("" when nothing yet)."""
        from core.data.captions import display_name
        from core.data.folders import excluded_key

        project = self.state.project
        if path in self.moved:
            folder = Path(self.moved[path]).parent.name
            return f"Moved to {project.class_names.get(folder) or display_name(folder)}"
        if excluded_key(path) in project.excluded:
            return "Left out of training"
        if excluded_key(path) in project.kept:
            return "Kept as is"
        return ""
