"""The Data page's map: the project's images laid out by what the model sees in them
(`flyp_app.explore_tasks.project_map`, in the background, cached), coloured by class or by
folder, suspicious labels (the label check's) and unknown images marked.

Hover a point: its thumbnail, name, class and folder beside the map; click: the image opens; a
lasso selects images for the label check's actions (move to a class, leave out, keep: undoable
like theirs) or for the Label page ("Label these"); images acted on leave the selection, a click
beside the points or Escape empties it. The plot (`map_plot`, pyqtgraph) is built
when the map is first computed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout,
                               QWidget)

from flyp_app import caches, explore_tasks, label_tasks
from flyp_app.theme import ERROR_COLOUR, RUN_COLOURS, ood_colour, run_colour
from flyp_app.widgets.blend_run_picker import describe_run
from flyp_app.widgets.deferred import Deferred
from flyp_app.widgets.legend import LegendLine
from flyp_app.widgets.narrow_combo import narrow
from flyp_app.widgets.review_actions import ReviewActions

PRETRAINED = "pretrained"
BY_CLASS, BY_FOLDER = "class", "folder"
SET_COLOURS = {"training": "#2f6fde", "validation": "#8e44ad"}  # then each different-conditions folder's


def class_colour(i: int, n: int) -> str:
    """The colour of class `i` of `n`: the app's run colours while they last, else hues spread evenly."""
    return run_colour(i) if n <= len(RUN_COLOURS) else QColor.fromHsvF(i / n, 0.7, 0.85).name()


class ProjectMap(QWidget):
    """`run` starts a task (the page's `Page.run`); `report()` gives the label check's last report
    (or None). `said(text, ok)`: a line for the page."""

    said = Signal(str, bool)
    drawn = Signal()  # a map was computed and shown

    def __init__(self, state, run, report: Callable[[], object]):
        super().__init__()
        self.state, self._run, self._report = state, run, report
        self.points: list[dict] = []
        self._worker = self._thumb_worker = None
        self._thumbs: dict[str, QPixmap] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._controls())
        self.legend = LegendLine()
        layout.addWidget(self.legend)
        middle = QHBoxLayout()
        self.plot_box = Deferred(self._make_plot, minimum_height=30)  # the window fits 1024×700
        middle.addWidget(self.plot_box, 1)
        middle.addLayout(self._preview())
        layout.addLayout(middle, 1)
        bottom = QHBoxLayout()
        self.actions = ReviewActions(state, self.selected_paths)
        self.actions.said.connect(self.said)
        for button in (self.actions.move_button, self.actions.exclude_button, self.actions.keep_button):
            button.setAccessibleName(f"{button.accessibleName()} (the map's selection)")  # the check's have the same
        bottom.addWidget(self.actions)
        self.label_button = QPushButton("Label these…", accessibleName="Label these")
        self.label_button.setToolTip("Open the selected training images on the Label page, to sort them into "
                                     "classes one by one with the model's suggestions")
        self.label_button.clicked.connect(self.label_these)
        bottom.addWidget(self.label_button)
        self.selection_label = QLabel("", objectName="pageHint")
        bottom.addWidget(self.selection_label, 1)
        layout.addLayout(bottom)
        self._running(False)
        self._selection_changed()
        state.project_changed.connect(self.clear)
        state.runs_changed.connect(self._fill_sources)
        state.images_changed.connect(self._mark)
        state.scan_finished.connect(self._scanned)
        self._fill_sources()

    def _controls(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.button = QPushButton("Show the map", accessibleName="Show the map")
        self.button.setToolTip("Lay out every image of the project by what the model sees in it: near points look "
                               "alike. The images' features are computed once and kept.")
        self.button.clicked.connect(self.start)
        self.source = narrow(QComboBox(accessibleName="Map's model"), 20)  # "Run <its name> at…"
        self.source.setToolTip("Whose eyes the map uses: the project's model as pretrained, or a training run "
                               "blended at the Blend page's α")
        self.colour = QComboBox(accessibleName="Colour the points by")
        self.colour.addItem("Colour by class", BY_CLASS)
        self.colour.addItem("Colour by folder", BY_FOLDER)
        self.colour.setToolTip("Colour each point by its class, or by the folder it comes from (training, "
                               "validation, different conditions)")
        self.colour.currentIndexChanged.connect(self._recolour)
        self.progress = QProgressBar(maximumWidth=160, textVisible=False, accessibleName="Map progress")
        self.stop_button = QPushButton("Stop", accessibleName="Stop the map")
        self.stop_button.setToolTip("Stop computing the map (the features computed so far are kept)")
        self.stop_button.clicked.connect(self.stop)
        self.summary = QLabel("", objectName="pageHint", wordWrap=True)
        for widget in (self.button, self.source, self.colour, self.progress, self.stop_button):
            row.addWidget(widget)
        row.addWidget(self.summary, 1)
        return row

    def _preview(self) -> QVBoxLayout:
        side = QVBoxLayout()
        self.thumb = QLabel(alignment=Qt.AlignCenter)
        self.thumb.setFixedWidth(caches.THUMB_SIZE + 8)
        self.thumb.setMinimumHeight(0)
        self.about = QLabel("Hover a point to see its image.", objectName="pageHint", wordWrap=True)
        self.about.setFixedWidth(caches.THUMB_SIZE + 60)
        self.about.setTextInteractionFlags(Qt.TextSelectableByMouse)
        side.addWidget(self.thumb, 0, Qt.AlignHCenter)
        side.addWidget(self.about)
        side.addStretch(1)
        return side

    def _make_plot(self):
        from flyp_app.widgets.map_plot import MapPlot

        plot = MapPlot()
        plot.hovered.connect(self._hovered)
        plot.clicked.connect(self._clicked)
        plot.selection_changed.connect(self._selection_changed)
        return plot

    @property
    def plot(self):
        return self.plot_box.widget()

    # Sources -------------------------------------------------------------------------------------
    def _fill_sources(self) -> None:
        current = self.source.currentData()
        self.source.clear()
        self.source.addItem("Model as pretrained", PRETRAINED)
        for stored in self.state.project.runs:
            run = describe_run(stored, self.state.folder(stored))
            if run.usable:
                self.source.addItem(f"Run {run.name} at the Blend page's α", run.path)
        self.source.setCurrentIndex(max(0, self.source.findData(current)))

    def _source(self) -> dict:
        p, data = self.state.project, self.state.datasets
        chosen = self.source.currentData()
        if chosen in (None, PRETRAINED):
            return label_tasks.zero_shot_source(p, data.classes, [self.actions.display(c) for c in data.classes])
        return {"kind": "run", "path": chosen, "alpha": p.alpha}

    # Computing -----------------------------------------------------------------------------------
    def start(self) -> None:
        if self.state.datasets is None:
            self.said.emit("Choose a usable training folder first: the map shows its images.", False)
            return
        self.stop()
        self._running(True)
        self.progress.setRange(0, 0)
        self.summary.setText("Computing the map…")
        self._worker = self._run(explore_tasks.project_map, self.state.caches, self.state.datasets, self._source(),
                                 str(self.state.project.settings.get("device", "auto")),
                                 on_done=self._done, on_error=self._failed, on_progress=self._progress,
                                 on_event=self.summary.setText, on_cancelled=self._cancelled)

    def stop(self) -> None:
        for worker in (self._worker, self._thumb_worker):
            if worker is not None:
                worker.cancel()
        self._worker = self._thumb_worker = None

    def clear(self) -> None:
        self.stop()
        self._running(False)
        self.points = []
        self.summary.setText("")
        self.legend.clear()
        if self.plot_box.built():
            self.plot.show_points([], [])
        self._fill_sources()

    def _running(self, running: bool) -> None:
        self.button.setEnabled(not running)
        self.progress.setVisible(running)
        self.stop_button.setVisible(running)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _cancelled(self) -> None:
        if self._worker is None:
            self._running(False)
            self.summary.setText("Map stopped.")

    def _failed(self, text: str) -> None:
        self._worker = None
        self._running(False)
        self.summary.setText("")
        self.said.emit(text, False)

    def _done(self, result: dict) -> None:
        self._worker = None
        self._running(False)
        self.points = result["points"]
        unknown = sum(p["known"] is False for p in self.points)
        skipped = f" · {len(result['skipped'])} file(s) could not be read" if result["skipped"] else ""
        self.summary.setText(f"{len(self.points)} images seen by {result['description']} · {unknown} unlike "
                             f"every class{skipped}")
        self.plot.show_points(self.points, self.colours())
        self._legend()
        self._mark()
        self.drawn.emit()

    # Drawing -------------------------------------------------------------------------------------
    def colours(self) -> list[str]:
        """Each point's colour: its class's, or its folder's (the colour switch)."""
        if self.colour.currentData() == BY_FOLDER:
            folders = self._folders()
            return [folders[p["set"]] for p in self.points]
        classes = self._classes()
        return [classes[p["label"]] for p in self.points]

    def _classes(self) -> dict[str, str]:
        labels = list(dict.fromkeys(p["label"] for p in self.points))
        data = self.state.datasets
        order = [c for c in (data.classes if data is not None else []) if c in labels]
        order += [c for c in labels if c not in order]
        return {c: class_colour(i, len(order)) for i, c in enumerate(order)}

    def _folders(self) -> dict[str, str]:
        others = [s for s in dict.fromkeys(p["set"] for p in self.points) if s not in SET_COLOURS]
        return SET_COLOURS | {s: ood_colour(i) for i, s in enumerate(others)}

    def _legend(self) -> None:
        self.legend.clear()
        if not self.points:
            return
        if self.colour.currentData() == BY_FOLDER:
            shown = set(p["set"] for p in self.points)
            for name, colour in self._folders().items():
                if name in shown:
                    self.legend.add(name, colour, "plain")
        else:
            for folder, colour in self._classes().items():
                self.legend.add(self.actions.display(folder), colour, "plain")
        self.legend.add("suspicious label (outlined)", ERROR_COLOUR, "plain")
        self.legend.add("unlike every class", "#1f2a3a", "star")

    def _recolour(self) -> None:
        if self.points:
            self.plot.recolour(self.colours())
            self._legend()

    def _mark(self) -> None:
        """Outline the label check's suspicious images; fade those acted on since."""
        if not self.points:
            return
        report = self._report()
        suspicious = {s.path for s in report.suspicious} if report is not None else set()
        acted = {i for i, p in enumerate(self.points) if self.state.review.status(p["path"])}
        self.plot.set_marks({i for i, p in enumerate(self.points) if p["path"] in suspicious}, acted)
        self.plot.deselect(acted)  # done with: the selection keeps only what is left to act on
        self._selection_changed()

    def _scanned(self, data) -> None:
        """The folders were scanned again: if they hold other images than the map (besides those acted
        on from a list or the map), say so."""
        if not self.points or data is None:
            return
        now = {p["path"] for p in explore_tasks.map_points(data)}
        on_map = {p["path"] for p in self.points} | {self.state.review.moved.get(p["path"]) for p in self.points}
        shown = {p["path"] for p in self.points if not self.state.review.status(p["path"])}
        if now - on_map or shown - now:
            self.summary.setText("The folders have changed since this map was drawn: Show the map again to see "
                                 "them as they are.")

    def suspicious_changed(self) -> None:
        """The label check finished: its suspicious labels are outlined."""
        self._mark()

    # Hover, click, selection --------------------------------------------------------------------
    def _hovered(self, index: int) -> None:
        if index < 0:
            return
        point = self.points[index]
        path = point["path"]
        status = self.state.review.status(path)
        self.about.setText(f"{Path(path).name}\n{self.actions.display(point['label'])} · {point['set']}"
                           + ("\nunlike every class" if point["known"] is False else "")
                           + (f"\n{status}" if status else ""))
        self.about.setToolTip(path)
        if path in self._thumbs:
            self.thumb.setPixmap(self._thumbs[path])
            return
        self.thumb.clear()
        if self._thumb_worker is not None:
            self._thumb_worker.cancel()
        self._thumb_worker = self._run(label_tasks.thumbnails, self.state.caches, [path], caches.THUMB_SIZE,
                                       on_event=self._thumbs_came)

    def _thumbs_came(self, batch: dict) -> None:
        for path, png in batch.items():
            pixmap = QPixmap()
            pixmap.loadFromData(png)
            self._thumbs[path] = pixmap
            if self.about.toolTip() == path:
                self.thumb.setPixmap(pixmap)

    def _clicked(self, index: int) -> None:
        from flyp_app.widgets.accessible import open_in_file_manager

        open_in_file_manager(self.points[index]["path"], self)

    def selected_paths(self) -> list[str]:
        """The images in the lasso not acted on yet."""
        if not self.points or not self.plot_box.built():
            return []
        return [self.points[i]["path"] for i in sorted(self.plot.selected)
                if not self.state.review.status(self.points[i]["path"])]

    def _selection_changed(self) -> None:
        paths = self.selected_paths()
        self.actions.set_enabled(bool(paths))
        self.label_button.setEnabled(bool(paths))
        self.selection_label.setText(
            f"{len(paths)} image(s) selected · Esc or a click beside the points lets go" if paths else
            "Draw around points to select them." if self.points else "")

    def label_these(self) -> None:
        """Send the selected training images to the Label page (evaluation images stay out: labelling
        puts images into the training folder)."""
        paths = self.selected_paths()
        training = {p["path"] for p in self.points if p["set"] == explore_tasks.SETS[0]}
        chosen = [p for p in paths if p in training]
        if not chosen:
            self.said.emit("Only training images can be labelled on the Label page: for the others, use Move to "
                           "class.", False)
            return
        self.state.label_images(chosen)
        if len(chosen) < len(paths):
            self.state.say(f"{len(paths) - len(chosen)} evaluation image(s) stay where they are: use Move to class "
                           "for them.")
