"""The Label page's own-images mode: images of the project itself, sent from the Data page's map
("Label these"). Labelling one moves it into the class chosen through the app's review action
(`ImageReview.move`: logged, one step of the undo stack), as the label check's Move to class
does; an undo (or redo) of such a move brings the image back into the grid (or takes it out)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from flyp_app.widgets.label_board import LabelBoard
from flyp_app.widgets.label_grid import LabelItem


class OwnImages:
    """While `active`, the board's images are the project's own; `moved` are those moved from here.
    `changed()` tells the page the number of images left changed; `say(text, error)` words an outcome."""

    def __init__(self, state, board: LabelBoard, display: Callable[[str], str], changed: Callable[[], None],
                 say: Callable[[str, bool], None]):
        self.state, self.board, self.display = state, board, display
        self._changed, self._say = changed, say
        self.active = False
        self.moved: list[str] = []

    def start(self) -> None:
        self.active, self.moved = True, []

    def stop(self) -> None:
        self.active = False

    def label(self, folder: str, items: list[LabelItem]) -> None:
        """`items` labelled as `folder`: moved there; those in that class already keep their place.
        Either way they leave the grid."""
        if not items:
            return
        grid = self.board.grid
        row = min(grid.row(i.widget) for i in items)
        error = self.state.review.move([i.path for i in items], folder)
        done = [i for i in items if i.path in self.state.review.moved or Path(i.path).parent.name == folder]
        self.moved += [i.path for i in done if i.path in self.state.review.moved]
        for item in done:
            self.board.remove(item.path)
        grid.select_row(row)
        self._changed()
        if error and not done:
            self._say(error, True)
        else:
            self._say(f"{len(done)} image(s) labelled {self.display(folder)} · Ctrl+Z undoes.", False)

    def follow(self) -> None:
        """The project's images changed (a move undone or redone): the images moved from here are in
        the grid while they are where they were."""
        moved = self.moved if self.active else []
        gone = [p for p in moved if p in self.state.review.moved and p in self.board.items]
        back = [p for p in moved if p not in self.state.review.moved and p in self.board.removed]
        for path in gone:
            self.board.remove(path)
        if back:
            self.board.put_back(back)
        if gone or back:
            self._changed()
