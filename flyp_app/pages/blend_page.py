"""Page 4, Blend: the WiSE-FT slider between the zero-shot (α = 0) and the finetuned (α = 1) model.

The accuracy curve (α = 0, 0.1, …, 1) is computed once per run in the background and cached.
Moving the slider only moves markers along that curve (interpolated), so it feels instant; the
exact blend at the chosen α — per-class accuracy, the misclassified images — is evaluated in
the background, debounced, and only the latest request's answer is shown.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QGridLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
                               QProgressBar, QPushButton, QSlider, QSplitter, QStackedWidget, QTableWidget,
                               QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from core.weights.curve import BALANCE_RULE, balanced_alpha, best_alpha
from flyp_app import tasks, trust_tasks
from flyp_app.file_dialogs import choose_folder
from flyp_app.pages.base import RunPage
from flyp_app.theme import ERROR_COLOUR, ID_COLOUR, OK_COLOUR, ood_colour
from flyp_app.widgets.confusion import ConfusionMatrix
from flyp_app.widgets.deferred import Deferred
from flyp_app.widgets.forgetting_view import ForgettingView
from flyp_app.widgets.prediction_gallery import PredictionGallery
from flyp_app.words import error_text

NO_OOD_NOTE = ("This run has no images of different conditions, so the robustness a blend buys cannot be "
               "shown. Add folders of such images (other cameras, sites, lighting, styles) on the Data page and "
               "train again to see the trade.")
NO_OOD_RULE = ("Without images of different conditions, blending (α below 1) can only trade accuracy on images "
               "like these for robustness to others that this project cannot measure; the best on validation is "
               "the safe choice. Add different-conditions folders on the Data page to see what a blend buys.")
STEPS = 20           # the slider moves in steps of 0.05
DEBOUNCE_MS = 200
OOD_MEAN = "different conditions (mean)"


def set_label(name: str) -> str:
    return "validation" if name == "id" else name


def _interp_rows(rows, alphas: list[float], alpha: float):
    """np.interp of every row of `rows` (values at `alphas`) at `alpha`, at once."""
    i = int(np.clip(np.searchsorted(alphas, alpha, side="right") - 1, 0, len(alphas) - 2))
    share = (alpha - alphas[i]) / (alphas[i + 1] - alphas[i])
    return rows[:, i] * (1 - share) + rows[:, i + 1] * share


PRF_HEADER = "F1"  # precision and recall in each cell's tooltip: three columns would not fit 1024 px

class BlendPage(RunPage):
    title = "Blend"
    name = "blend"  # how the window and the View menu reach it
    hint = ("Slide between the original model (zero-shot, α = 0) and your finetuned model (α = 1). A blend "
            "often keeps most of the gain on your images and more of the original's robustness to different "
            "conditions. The chosen α is used on the Try and Export pages.")

    def __init__(self, state):
        super().__init__(state)
        self._busy(False)
        self.curve: list[dict] | None = None
        self.exact: dict | None = None       # the latest exact evaluation (its "alpha" may lag the slider)
        self.alpha = state.project.alpha
        self._curve_run = None                # the RunSummary whose curve is loaded or loading
        self._curve_worker = self._exact_worker = None
        self._exact_seq = self._curve_seq = 0
        self._table_set = None  # the set whose rows the table holds
        self._per_class: dict = {}  # set → (classes, accuracy of "all" then each class × α)
        self._better, self._worse, self._same = (QBrush(QColor(c)) for c in (OK_COLOUR, ERROR_COLOUR, "#333333"))
        self._exact_timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self._exact_timer.timeout.connect(self.request_exact)
        state.alpha_changed.connect(self._alpha_from_state)
        state.project_changed.connect(lambda: self._alpha_from_state(state.project.alpha))

    # Layout ------------------------------------------------------------------------------------
    def _beside_picker(self) -> list[QWidget]:
        self.progress = QProgressBar(maximumWidth=220, textVisible=False)
        self.progress_label = QLabel("", objectName="pageHint", wordWrap=True)  # wraps rather than widen the window
        self.recompute = QPushButton("Recompute curve")
        self.recompute.setToolTip("Evaluate the blends again, e.g. after images in the run's folders changed")
        self.recompute.clicked.connect(lambda: self.load_curve(recompute=True))
        return [self.progress_label, self.progress, self.recompute]

    def _content(self) -> QWidget:
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addLayout(self._slider_row())
        layout.addLayout(self._choice_row())
        self.robust_note = QLabel(NO_OOD_NOTE, wordWrap=True, alignment=Qt.AlignCenter, objectName="pageHint")
        self.robust_stack = QStackedWidget()
        self.robust_stack.addWidget(self.robust_note)
        self._plots = Deferred(self._make_plots, minimum_height=220)
        bottom = QSplitter(Qt.Horizontal, childrenCollapsible=False)
        bottom.addWidget(self._table_box())
        bottom.addWidget(self._gallery_box())
        bottom.setSizes([430, 650])
        rows = QSplitter(Qt.Vertical)
        rows.addWidget(self._plots)
        rows.addWidget(bottom)
        rows.setSizes([320, 300])
        layout.addWidget(rows, 1)
        return content

    # The plots are built when the page is first shown: the window opens without pyqtgraph.
    @property
    def alpha_plot(self):
        self._plots.widget()
        return self._alpha_plot

    @property
    def robust_plot(self):
        self._plots.widget()
        return self._robust_plot

    def _make_plots(self) -> QWidget:
        from flyp_app.widgets.blend_plots import AlphaPlot, RobustnessPlot

        self._alpha_plot = AlphaPlot()
        self._alpha_plot.line.setValue(self.alpha)  # the project's α while the curve loads, not 0
        self._alpha_plot.alpha_dragged.connect(lambda a: self.slider.setValue(round(a * STEPS)))
        self._robust_plot = RobustnessPlot()
        self.robust_stack.insertWidget(0, self._robust_plot)
        self.robust_stack.setCurrentWidget(self._robust_plot)  # the note only once a curve shows there is no OOD set
        # A grid, so that the two plots keep the same height whatever their legends below take.
        plots = QWidget(objectName="plotPanel")
        grid = QGridLayout(plots)
        grid.setContentsMargins(0, 0, 0, 4)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(0)
        grid.addWidget(self._alpha_plot, 0, 0)
        grid.addWidget(self.robust_stack, 0, 1)
        grid.addWidget(self._alpha_plot.legend, 1, 0)
        grid.addWidget(self._robust_plot.legend, 1, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(0, 1)
        return plots

    def _slider_row(self) -> QHBoxLayout:
        self.slider = QSlider(Qt.Horizontal, minimum=0, maximum=STEPS, singleStep=1, pageStep=2)
        self.slider.setTickPosition(QSlider.TicksBelow)
        self.slider.setTickInterval(2)
        self.slider.valueChanged.connect(self._slider_moved)
        self.slider.setAccessibleName("Blend α, from zero-shot (0) to finetuned (1)")
        self.slider.setToolTip("α = 0: the original zero-shot model; α = 1: your finetuned model; between: a blend "
                               "of their weights. Arrow keys move it by 0.05.")
        self.alpha_label = QLabel("α = 0.50", objectName="bigNumber")
        self.alpha_label.setMinimumWidth(110)
        self.numbers = QLabel("")
        self.numbers.setTextFormat(Qt.RichText)
        self.numbers.setMinimumWidth(260)
        self.numbers.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("zero-shot"))
        row.addWidget(self.slider, 1)
        row.addWidget(QLabel("finetuned"))
        row.addSpacing(16)
        row.addWidget(self.alpha_label)
        row.addWidget(self.numbers)
        return row

    def _choice_row(self) -> QHBoxLayout:
        """The α choices by rule: the best on validation, and (with different conditions) the best balance."""
        self.best_button = QPushButton("Best on validation")
        self.best_button.setToolTip("The α with the best accuracy on your validation images (the FLYP paper's rule)")
        self.best_button.clicked.connect(lambda: self._choose(best_alpha))
        self.balance_button = QPushButton("Best balance")
        self.balance_button.setToolTip(f"The rule: {BALANCE_RULE}.")
        self.balance_button.clicked.connect(lambda: self._choose(balanced_alpha))
        self.rule = QLabel("", objectName="pageHint", wordWrap=True)
        row = QHBoxLayout()
        row.addWidget(self.best_button)
        row.addWidget(self.balance_button)
        row.addWidget(self.rule, 1)
        for widget in (self.best_button, self.balance_button):
            widget.setEnabled(False)
        return row

    def _choose(self, rule) -> None:
        """Move α to the point of the curve `rule` picks, and say why."""
        if self.curve is None:
            return
        point = rule(self.curve)
        self.state.set_alpha(point["alpha"])
        accuracy = point["sets"][self.id_name]["accuracy"]
        self.rule.setText(f"α = {point['alpha']:.2f}: the best validation accuracy ({accuracy:.1%})."
                          if rule is best_alpha else
                          f"α = {point['alpha']:.2f} (validation {accuracy:.1%}): {BALANCE_RULE}.")

    def _table_box(self) -> QWidget:
        box = QGroupBox("By class")
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        row.addWidget(QLabel("Images:"))
        self.set_combo = QComboBox()
        self.set_combo.setToolTip("The images the table's accuracy per class is measured on: validation or a "
                                  "folder of different conditions")
        self.set_combo.currentIndexChanged.connect(self._set_chosen)
        row.addWidget(self.set_combo, 1)
        layout.addLayout(row)
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["Class", "Zero-shot", "Finetuned", "Blended", PRF_HEADER])
        self.table.horizontalHeaderItem(4).setToolTip("Of the blend at the chosen α: F1, the balance of precision "
                                                      "(how many of the images it puts in the class belong there) and "
                                                      "recall (how many of the class's images it finds); point at a "
                                                      "value for both")
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Stretch)
        # Fixed widths, measured once: ResizeToContents re-measures every row on every change,
        # which made an exact result over 1000 classes take seconds on the UI thread.
        metrics = self.table.fontMetrics()
        for col, widest in ((1, "Zero-shot"), (2, "Finetuned"), (3, "Blended α = 0.00"), (4, PRF_HEADER)):
            header.setSectionResizeMode(col, QHeaderView.Fixed)
            self.table.setColumnWidth(col, max(metrics.horizontalAdvance(widest), metrics.horizontalAdvance("≈ 100.0%"))
                                      + 28)
        # Room for every column, the class names at least 120 px: at 1024 px only the class column showed.
        self.table.setMinimumWidth(120 + sum(self.table.columnWidth(c) for c in (1, 2, 3, 4))
                                   + self.table.verticalScrollBar().sizeHint().width() + 2 * self.table.frameWidth())
        self.table.setAccessibleName("Accuracy per class")
        self.table.setToolTip("Accuracy on each class's images: zero-shot, finetuned, and the blend at the chosen α")
        self.confusion = ConfusionMatrix()
        self.confusion.cell_chosen.connect(lambda _: self._fill_gallery())
        self.by_class = QTabWidget()
        self.by_class.addTab(self.table, "Accuracy per class")
        self.by_class.addTab(self.confusion, "Confusion matrix")
        self.by_class.setTabToolTip(0, "Zero-shot, finetuned and blended accuracy on each class's images")
        self.by_class.setTabToolTip(1, "The blend at the chosen α on these images: which classes it mistakes for "
                                       "which")
        self.reliability = Deferred(self._make_reliability, minimum_height=160)  # pyqtgraph: when first shown
        self.by_class.addTab(self.reliability, "How far to trust its confidence")
        self.by_class.setTabToolTip(2, "The blend at the chosen α: on each set, how often it is right at each "
                                       "confidence, and how far its confidence is from its accuracy")
        self.forgetting = ForgettingView()
        self.forgetting.choose_requested.connect(self._choose_control)
        self.forgetting.balance_requested.connect(self._balance_keeping)
        self.by_class.addTab(self.forgetting, "What it forgot")
        self.by_class.setTabToolTip(3, "How well the blend still knows classes outside the project, along α")
        self.by_class.currentChanged.connect(lambda _: self.request_calibration())
        self._calibration_for = self._calibration_worker = None
        layout.addWidget(self.by_class)
        return box

    def _gallery_box(self) -> QWidget:
        self.predictions = PredictionGallery(self.state, self.run)
        self.predictions.all_mistakes.connect(self._show_all_mistakes)
        self.predictions.said.connect(lambda text, ok: self.show_info(text, ok=True) if ok else self.show_error(text))
        self.gallery, self.gallery_label = self.predictions.list, self.predictions.label
        return self.predictions

    def _busy(self, busy: bool, text: str = "") -> None:
        self.progress.setVisible(busy)
        self.progress_label.setText(text)
        self.recompute.setVisible(not busy and self.body.currentIndex() == 1)

    # The run and its curve -----------------------------------------------------------------------
    def _run_changed(self, run) -> None:
        for worker in (self._curve_worker, self._exact_worker):
            if worker is not None:
                worker.cancel()
        self.curve = self.exact = None
        self._curve_run = self._table_set = None
        self.table.setRowCount(0)
        self.predictions.clear()
        self.confusion.set_matrix(None, [])
        self.forgetting.clear()
        self.show_error("")
        if self._plots.built():  # nothing of the last run while this one loads
            self._alpha_plot.set_curve([], {})
            self._alpha_plot.set_alpha(self.alpha, [])
            self._robust_plot.clear_curve()
        usable = self.body.show_run(run)
        self._busy(False)
        if usable and self.isVisible():
            self.load_curve()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        run = self.picker.current()
        if run is not None and run.usable:
            self._plots.widget()  # built now, so that their axes show while the curve loads
            if self._curve_run != run:
                self.load_curve()  # computed when first looked at, not whenever a project opens

    def load_curve(self, recompute: bool = False) -> None:
        run = self.picker.current()
        if run is None or not run.usable:
            return
        if self._curve_worker is not None:
            self._curve_worker.cancel()
        self._curve_run = run
        if recompute:
            self.exact = None  # the folders are read again: so is the exact blend
        self.show_error("")
        self.progress.setRange(0, 0)
        self._busy(True, "Computing accuracy for each α…" if recompute else "Loading the α curve…")
        self._curve_seq += 1
        self._curve_worker = self.run(tasks.blend_curve, self.state.caches, run.path, self.device(), recompute,
                                      on_done=partial(self._curve_done, run), on_error=partial(self._curve_failed, run),
                                      on_progress=self._curve_progress,
                                      on_event=lambda text: self.progress_label.setText(str(text)),
                                      on_cancelled=partial(self._curve_cancelled, self._curve_seq))

    def _curve_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _curve_cancelled(self, seq: int) -> None:
        if seq == self._curve_seq:  # not when a newer computation replaced this one
            self._busy(False)

    def _curve_failed(self, run, text: str) -> None:
        if run == self._curve_run:
            self._busy(False)
            self.show_error(text)

    def _curve_done(self, run, curve: list[dict]) -> None:
        if run != self._curve_run:
            return
        self._busy(False)
        self.curve = curve
        self.alphas = [p["alpha"] for p in curve]
        names = list(curve[0]["sets"])
        self.id_name = "id" if "id" in names else names[0]
        self.ood_names = [n for n in names if n != self.id_name]
        acc = {n: [p["sets"][n]["accuracy"] for p in curve] for n in names}
        series = {"validation": (acc[self.id_name], ID_COLOUR, False)}
        series |= {n: (acc[n], ood_colour(i), False) for i, n in enumerate(self.ood_names)}
        self.ood_mean = [float(np.mean([acc[n][i] for n in self.ood_names])) for i in range(len(curve))] \
            if self.ood_names else None
        if len(self.ood_names) > 1:
            series[OOD_MEAN] = (self.ood_mean, "#555555", True)
        self.series = series
        self._per_class = {}
        for name in names:
            classes = list(curve[-1]["sets"][name]["per_class"])
            rows = [[p["sets"][name]["accuracy"] for p in curve]]
            rows += [[p["sets"][name]["per_class"].get(c, 0.0) for p in curve] for c in classes]
            self._per_class[name] = (classes, np.array(rows, dtype=float))
        self._table_set = None
        self.alpha_plot.set_curve(self.alphas, series)
        if self.ood_mean is not None:
            self.robust_plot.set_curve(acc[self.id_name], self.ood_mean)
        self.robust_stack.setCurrentWidget(self.robust_plot if self.ood_mean is not None else self.robust_note)
        self.robust_plot.legend.setVisible(self.ood_mean is not None)
        self.best_button.setEnabled(True)
        self.balance_button.setEnabled(self.ood_mean is not None)
        self.balance_button.setVisible(self.ood_mean is not None)  # a balance needs something to balance
        self.rule.setText("" if self.ood_mean is not None else NO_OOD_RULE)
        self.set_combo.blockSignals(True)
        self.set_combo.clear()
        for name in names:
            self.set_combo.addItem(f"{set_label(name)} ({curve[0]['sets'][name]['n']} images)", name)
        self.set_combo.blockSignals(False)
        self.state.open_at_best_alpha(run.stored, curve)  # a run not opened before opens at its best α
        self._show_alpha(self.alpha)
        self._exact_timer.start()  # let the new plots paint before the model competes for the GIL

    # α ----------------------------------------------------------------------------------------
    def _slider_moved(self, value: int) -> None:
        alpha = value / STEPS
        self._show_alpha(alpha)
        self.state.set_alpha(alpha)
        self._exact_timer.start()

    def _alpha_from_state(self, alpha: float) -> None:
        if self.slider.value() != round(alpha * STEPS):
            self.slider.blockSignals(True)
            self.slider.setValue(round(alpha * STEPS))
            self.slider.blockSignals(False)
        if alpha != self.alpha or self.curve is None:
            self._show_alpha(alpha)
            self._exact_timer.start()

    def _exact_here(self) -> dict | None:
        """The exact evaluation, if it is for the current α and run."""
        run = self.picker.current()
        if self.exact and run is not None and self.exact["alpha"] == self.alpha and self.exact["run"] == run.path:
            return self.exact
        return None

    def _show_alpha(self, alpha: float) -> None:
        """Move everything that is cheap to move: label, markers, numbers, the per-class estimate."""
        self.alpha = alpha
        self.alpha_label.setText(f"α = {alpha:.2f}")
        self.forgetting.show_alpha(alpha)
        if self.curve is None:
            if self._plots.built():
                self._alpha_plot.line.setValue(alpha)  # the line follows α while the curve loads
            return
        exact = self._exact_here()
        values = []
        for label, (series, _, _) in self.series.items():
            if exact is not None and label in ("validation", *self.ood_names):
                name = self.id_name if label == "validation" else label
                values.append(exact["sets"][name]["metrics"]["accuracy"])
            elif exact is not None and label == OOD_MEAN:
                values.append(float(np.mean([exact["sets"][n]["metrics"]["accuracy"] for n in self.ood_names])))
            else:
                values.append(float(np.interp(alpha, self.alphas, series)))
        self.alpha_plot.set_alpha(alpha, values)
        id_at = values[0]
        ood_at = (values[-1] if len(self.ood_names) > 1 else values[1]) if self.ood_names else None
        if ood_at is not None:
            self.robust_plot.set_alpha(alpha, id_at, ood_at)
        approx = "" if exact is not None else "≈ "
        text = f"validation <b>{approx}{id_at:.1%}</b>"
        if ood_at is not None:
            text += f" &nbsp;·&nbsp; different conditions <b>{approx}{ood_at:.1%}</b>"
        self.numbers.setText(text)
        self._fill_table()
        if exact is None:
            self.gallery_label.setText(f"Evaluating the blend at α = {alpha:.2f}…")

    # The exact blend, in the background ---------------------------------------------------------
    def request_exact(self) -> None:
        """Evaluate the blend at the current α (a newer request cancels an older one)."""
        self._exact_timer.stop()
        run = self.picker.current()
        if run is None or not run.usable or self.curve is None or self._exact_here() is not None:
            return
        if self._exact_worker is not None:
            self._exact_worker.cancel()
        self._exact_seq += 1
        self._exact_worker = self.run(tasks.evaluate_at, self.state.caches, run.path, self.device(), self.alpha,
                                      on_done=partial(self._exact_done, self._exact_seq),
                                      on_error=partial(self._exact_failed, self._exact_seq))

    def _exact_failed(self, seq: int, text: str) -> None:
        if seq == self._exact_seq:
            self.gallery_label.setText("")
            self.show_error(text)

    def _exact_done(self, seq: int, result: dict) -> None:
        if seq != self._exact_seq:
            return  # an older α: a newer answer is on its way
        self.exact = result
        self._show_alpha(self.alpha)
        self._fill_gallery()
        self.request_calibration()

    # How far to trust its confidence (core.trust.calibration), while its tab is shown --------------
    def _make_reliability(self) -> QWidget:
        from flyp_app.widgets.reliability import ReliabilityView

        return ReliabilityView()

    def request_calibration(self) -> None:
        run = self.picker.current()
        wanted = (run.path, run.stamp, self.alpha) if run is not None and run.usable else None
        if self.by_class.currentWidget() is not self.reliability or wanted is None or wanted == self._calibration_for:
            return
        if self._calibration_worker is not None:
            self._calibration_worker.cancel()
        self._calibration_for, view = wanted, self.reliability.widget()
        view.show_waiting(f"Measuring the confidence of the blend at α = {self.alpha:.2f} on each set…")
        self._calibration_worker = self.run(
            trust_tasks.calibration_at, self.state.caches, run.path, self.device(), self.alpha,
            on_done=lambda report: wanted == self._calibration_for and view.set_report(report),
            on_error=lambda text: wanted == self._calibration_for and view.show_waiting(text))

    def _set_chosen(self) -> None:
        self.confusion.clear_choice()
        self._fill_table()
        self._fill_gallery()

    # Per-class table and gallery ---------------------------------------------------------------
    def _fill_table(self) -> None:
        """Zero-shot, finetuned and blended accuracy per class; on a new α only the last column changes."""
        name = self.set_combo.currentData()
        if self.curve is None or name is None:
            return
        exact = self._exact_here()
        classes, per_alpha = self._per_class[name]  # per_alpha: (classes + 1) × α, overall accuracy first
        if exact is not None:
            blended = exact["sets"][name]["metrics"]
            values = [blended["accuracy"]] + [blended["per_class"].get(c, 0.0) for c in classes]
            approx = ""
        else:
            values = _interp_rows(per_alpha, self.alphas, self.alpha).tolist()
            approx = "≈ "
        self.table.horizontalHeaderItem(3).setText(f"Blended α = {self.alpha:.2f}")
        if self._table_set != name or self.table.rowCount() != len(values):
            self._table_set = name
            self._fill_fixed_columns(["All images", *classes], per_alpha[:, 0], per_alpha[:, -1])
        zero = per_alpha[:, 0]
        tip = "estimated from the curve; the exact value follows" if approx else "green: better than zero-shot; red: worse"
        self.table.setUpdatesEnabled(False)
        for r, b in enumerate(values):
            cell = self.table.item(r, 3)
            cell.setText(f"{approx}{b:.1%}")
            cell.setForeground(self._better if b > zero[r] + 1e-9 else self._worse if b < zero[r] - 1e-9 else self._same)
            cell.setToolTip(tip)
        scores = exact["sets"][name]["metrics"].get("per_class_scores", {}) if exact is not None else {}
        for r, label in enumerate(["", *classes]):
            s = scores.get(label)
            self.table.item(r, 4).setText(f"{s['f1']:.2f}" if s else "")
            self.table.item(r, 4).setToolTip(f"precision {s['precision']:.2f} · recall {s['recall']:.2f} · "
                                             f"F1 {s['f1']:.2f} ({s['n']} images)" if s else "")
        self.table.setUpdatesEnabled(True)

    def _fill_fixed_columns(self, labels: list[str], zero, tuned) -> None:
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(labels))
        bold = QFont()
        bold.setBold(True)
        for r, (label, z, t) in enumerate(zip(labels, zero, tuned)):
            cells = [QTableWidgetItem(label), QTableWidgetItem(f"{z:.1%}"), QTableWidgetItem(f"{t:.1%}"),
                     QTableWidgetItem(""), QTableWidgetItem("")]
            for c, cell in enumerate(cells):
                if c:
                    cell.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if r == 0:
                    cell.setFont(bold)
                self.table.setItem(r, c, cell)
        self.table.setUpdatesEnabled(True)

    def _fill_gallery(self) -> None:
        """The set's mistakes, or the images of the confusion matrix's chosen cell."""
        name = self.set_combo.currentData()
        exact = self._exact_here()
        if exact is None or name is None:
            return
        result = exact["sets"][name]
        self.confusion.set_matrix(result.get("confusion"), result.get("classes", []))
        self.predictions.show_set(result, set_label(name), exact["alpha"], self.confusion.chosen())

    def _show_all_mistakes(self) -> None:
        self.confusion.clear_choice()
        self._fill_gallery()

    # What finetuning forgot (core.trust.forgetting) -------------------------------------------------
    def _choose_control(self) -> None:
        run = self.picker.current()
        if run is not None and run.usable and (folder := choose_folder(self, self.state, "Control folder")):
            self.measure_control(folder)

    def measure_control(self, folder: str) -> None:
        """The control folder's zero-shot accuracy along α, in the background."""
        run = self.picker.current()
        self.forgetting.show_waiting(f"Measuring {folder} at α = 0, 0.1, …, 1…")
        self.run(trust_tasks.control_curve, self.state.caches, run.path, self.device(), folder,
                 on_done=lambda control: run == self.picker.current() and self.forgetting.set_control(control, self.alpha),
                 on_error=self.forgetting.show_waiting)

    def _balance_keeping(self, points: float) -> None:
        from core.errors import FlypError
        from core.trust.forgetting import balance_keeping

        if self.curve is None or self.forgetting.control is None:
            return
        try:
            chosen = balance_keeping(self.curve, self.forgetting.control, points)
        except FlypError as exc:
            self.show_error(error_text(exc))
            return
        self.state.set_alpha(chosen["alpha"])
        self.rule.setText(f"Best balance keeping the control set within {points:g} points of zero-shot: "
                          f"α = {chosen['alpha']:.2f}.")
