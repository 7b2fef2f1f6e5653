"""The Blend page's two tabs on trusting the blend: "How far to trust its confidence" (the
reliability and coverage plots per set, `flyp_app.widgets.reliability`, measured while the tab is
shown) and "What it forgot" (a control folder's zero-shot accuracy along α,
`flyp_app.widgets.forgetting_view`), with the work they start in the background."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QTabWidget, QWidget

from flyp_app import trust_tasks
from flyp_app.file_dialogs import choose_folder
from flyp_app.widgets.deferred import Deferred
from flyp_app.widgets.forgetting_view import ForgettingView
from flyp_app.words import error_text


class BlendTrust(QObject):
    """Adds the two tabs to `tabs`. `run` starts a task (the page's `Page.run`); `current()` gives
    (the run summary or None, the device, α) and `curve()` the α curve or None.
    `alpha_chosen(alpha, words)` is best balance keeping the control set; `failed(text)` a line."""

    alpha_chosen = Signal(float, str)
    failed = Signal(str)

    def __init__(self, state, tabs: QTabWidget, run: Callable, current: Callable, curve: Callable):
        super().__init__(tabs)
        self.state, self.tabs, self._run, self._current, self._curve = state, tabs, run, current, curve
        self.reliability = Deferred(self._make_reliability, minimum_height=110)  # pyqtgraph: when first shown
        tabs.addTab(self.reliability, "How far to trust its confidence")
        tabs.setTabToolTip(tabs.count() - 1, "The blend at the chosen α: on each set, how often it is right at each "
                                             "confidence, how far its confidence is from its accuracy, and the "
                                             "accuracy of the images kept above each confidence")
        self.forgetting = ForgettingView()
        self.forgetting.choose_requested.connect(self._choose_control)
        self.forgetting.balance_requested.connect(self._balance_keeping)
        tabs.addTab(self.forgetting, "What it forgot")
        tabs.setTabToolTip(tabs.count() - 1, "How well the blend still knows classes outside the project, along α")
        tabs.currentChanged.connect(lambda _: self.request_calibration())
        self._calibration_for = self._calibration_worker = self._view = None
        state.project_changed.connect(self._project_opened)

    def _make_reliability(self) -> QWidget:
        from flyp_app.widgets.reliability import ReliabilityView

        state = self.state
        view = ReliabilityView(state.project.min_confidence, state.set_min_confidence)
        state.min_confidence_changed.connect(view.show_uncertain)
        self._view = view
        return view

    def _project_opened(self) -> None:
        if self._view is not None:  # the view reads the project's line when it is first made
            self._view.show_uncertain(self.state.project.min_confidence)

    def _usable(self):
        run, device, alpha = self._current()
        return (run, device, alpha) if run is not None and run.usable else (None, device, alpha)

    def clear(self) -> None:
        self.forgetting.clear()

    def show_alpha(self, alpha: float) -> None:
        self.forgetting.show_alpha(alpha)

    # How far to trust its confidence (core.trust.calibration), while its tab is shown --------------
    def request_calibration(self) -> None:
        run, device, alpha = self._usable()
        wanted = (run.path, run.stamp, alpha) if run is not None else None
        if self.tabs.currentWidget() is not self.reliability or wanted is None or wanted == self._calibration_for:
            return
        if self._calibration_worker is not None:
            self._calibration_worker.cancel()
        self._calibration_for, view = wanted, self.reliability.widget()
        view.show_waiting(f"Measuring the confidence of the blend at α = {alpha:.2f} on each set…")
        self._calibration_worker = self._run(
            trust_tasks.calibration_at, self.state.caches, run.path, device, alpha,
            on_done=lambda report: wanted == self._calibration_for and view.set_report(report),
            on_error=lambda text: wanted == self._calibration_for and view.show_waiting(text))

    # What finetuning forgot (core.trust.forgetting) -------------------------------------------------
    def _choose_control(self) -> None:
        run, _, _ = self._usable()
        if run is not None and (folder := choose_folder(self.tabs, self.state, "Control folder")):
            self.measure_control(folder)

    def measure_control(self, folder: str) -> None:
        """The control folder's zero-shot accuracy along α, in the background."""
        run, device, _ = self._current()
        self.forgetting.show_waiting(f"Measuring {folder} at α = 0, 0.1, …, 1…")
        self._run(trust_tasks.control_curve, self.state.caches, run.path, device, folder,
                  on_done=lambda control: run == self._current()[0]
                  and self.forgetting.set_control(control, self._current()[2]),
                  on_error=self.forgetting.show_waiting)

    def _balance_keeping(self, points: float) -> None:
        from core.errors import FlypError
        from core.trust.forgetting import balance_keeping

        curve = self._curve()
        if curve is None or self.forgetting.control is None:
            return
        try:
            chosen = balance_keeping(curve, self.forgetting.control, points)
        except FlypError as exc:
            self.failed.emit(error_text(exc))
            return
        self.alpha_chosen.emit(chosen["alpha"], f"Best balance keeping the control set within {points:g} points of "
                                                f"zero-shot: α = {chosen['alpha']:.2f}.")
