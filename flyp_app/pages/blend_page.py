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
from PySide6.QtWidgets import (QComboBox, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QSplitter, QStackedWidget, QTabWidget, QVBoxLayout, QWidget)

from core.weights.curve import BALANCE_RULE, balanced_alpha, best_alpha
from flyp_app import blend_tasks
from flyp_app.pages.base import RunPage
from flyp_app.theme import ID_COLOUR, ood_colour
from flyp_app.widgets.alpha_row import STEPS, alpha_row
from flyp_app.widgets.blend_trust import BlendTrust
from flyp_app.widgets.class_table import ClassTable, interp_rows, per_class_rows
from flyp_app.widgets.confusion import ConfusionMatrix
from flyp_app.widgets.deferred import Deferred
from flyp_app.widgets.narrow_combo import narrow
from flyp_app.widgets.prediction_gallery import PredictionGallery
from flyp_app.widgets.train_plots import set_label

NO_OOD_NOTE = ("This run has no images of different conditions, so the robustness a blend buys cannot be "
               "shown. Add folders of such images (other cameras, sites, lighting, styles) on the Data page and "
               "train again to see the trade.")
NO_OOD_RULE = ("Without images of different conditions, blending (α below 1) can only trade accuracy on images "
               "like these for robustness to others that this project cannot measure; the best on validation is "
               "the safe choice. Add different-conditions folders on the Data page to see what a blend buys.")
DEBOUNCE_MS = 200
OOD_MEAN = "different conditions (mean)"


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
        self._per_class: dict = {}  # set → (classes, accuracy of "all" then each class × α)
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
        row, self.slider, self.alpha_label, self.numbers = alpha_row()
        self.slider.valueChanged.connect(self._slider_moved)
        layout.addLayout(row)
        layout.addLayout(self._choice_row())
        self.robust_note = QLabel(NO_OOD_NOTE, wordWrap=True, alignment=Qt.AlignCenter, objectName="pageHint")
        self.robust_stack = QStackedWidget()
        self.robust_stack.addWidget(self.robust_note)
        self._plots = Deferred(self._make_plots, minimum_height=220)
        bottom = QSplitter(Qt.Horizontal, childrenCollapsible=False)
        bottom.addWidget(self._table_box())
        bottom.addWidget(self._gallery_box())
        bottom.setSizes([600, 480])  # the table's four tabs whole at 1366 px; the gallery keeps its actions
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
        from flyp_app.widgets.blend_plots import BlendPlotPanel

        panel = BlendPlotPanel(self.alpha, self.robust_stack)
        self._alpha_plot, self._robust_plot = panel.alpha_plot, panel.robust_plot
        self._alpha_plot.alpha_dragged.connect(lambda a: self.slider.setValue(round(a * STEPS)))
        return panel

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
        self.set_combo = narrow(QComboBox(), 16)  # a different-conditions folder's long name does not widen the page
        self.set_combo.setToolTip("The images the table's accuracy per class is measured on: validation or a "
                                  "folder of different conditions")
        self.set_combo.currentIndexChanged.connect(self._set_chosen)
        row.addWidget(self.set_combo, 1)
        layout.addLayout(row)
        self.table = ClassTable()
        self.confusion = ConfusionMatrix()
        self.confusion.cell_chosen.connect(lambda _: self._fill_gallery())
        self.by_class = QTabWidget(elideMode=Qt.ElideRight)  # four tabs in a narrow box: "How far to t…", not cut
        self.by_class.addTab(self.table, "Accuracy per class")
        self.by_class.addTab(self.confusion, "Confusion matrix")
        self.by_class.setTabToolTip(0, "Zero-shot, finetuned and blended accuracy on each class's images")
        self.by_class.setTabToolTip(1, "The blend at the chosen α on these images: which classes it mistakes for "
                                       "which")
        self.trust = BlendTrust(self.state, self.by_class, self.run,
                                lambda: (self.picker.current(), self.device(), self.alpha), lambda: self.curve)
        self.trust.alpha_chosen.connect(lambda alpha, words: (self.state.set_alpha(alpha), self.rule.setText(words)))
        self.trust.failed.connect(self.show_error)
        self.reliability, self.forgetting = self.trust.reliability, self.trust.forgetting
        self.measure_control, self.request_calibration = self.trust.measure_control, self.trust.request_calibration
        layout.addWidget(self.by_class)
        return box

    def _gallery_box(self) -> QWidget:
        self.predictions = PredictionGallery(self.state, self.run, self.device)
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
        self._curve_run = None
        self.table.clear_rows()
        self.predictions.clear()
        self.confusion.set_matrix(None, [])
        self.trust.clear()
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
        self._curve_worker = self.run(blend_tasks.blend_curve, self.state.caches, run.path, self.device(), recompute,
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
        self._per_class = per_class_rows(curve)
        self.table.clear_rows()
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
        self.trust.show_alpha(alpha)
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
        self._exact_worker = self.run(blend_tasks.evaluate_at, self.state.caches, run.path, self.device(), self.alpha,
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
        else:
            values = interp_rows(per_alpha, self.alphas, self.alpha).tolist()
        self.table.show_set(name, ["All images", *classes], per_alpha[:, 0], per_alpha[:, -1])
        scores = exact["sets"][name]["metrics"].get("per_class_scores", {}) if exact is not None else {}
        self.table.show_blend(values, per_alpha[:, 0], self.alpha, exact is None, scores, classes)

    def _fill_gallery(self) -> None:
        """The set's mistakes, or the images of the confusion matrix's chosen cell."""
        name = self.set_combo.currentData()
        exact = self._exact_here()
        if exact is None or name is None:
            return
        result = exact["sets"][name]
        self.confusion.set_matrix(result.get("confusion"), result.get("classes", []))
        self.predictions.show_set(result, set_label(name), exact["alpha"], self.confusion.chosen(),
                                  exact["run"])

    def _show_all_mistakes(self) -> None:
        self.confusion.clear_choice()
        self._fill_gallery()
