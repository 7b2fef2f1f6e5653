"""Page 6, Export: write the blended model as a bundle that checks itself, optionally with ONNX."""

from __future__ import annotations

import html
import os
import shlex
from functools import partial
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from core.weights.curve import best_alpha
from flyp_app import blend_tasks
from flyp_app.file_dialogs import choose_new
from flyp_app.pages.base import RunPage
from flyp_app.widgets.accessible import open_in_file_manager
from flyp_app.theme import OK_COLOUR

NO_CURVE = "Accuracy at this α: open the Blend page (or press the button) to compute the α curve."


def set_label(name: str) -> str:
    return "validation" if name == "id" else name


def _difference(value: float) -> str:
    return "0 (identical)" if value == 0 else f"{value:.1e}"


def predict_command(bundle: str) -> str:
    """The terminal command that classifies images and folders with `bundle`."""
    quoted = f'"{bundle}"' if os.name == "nt" else shlex.quote(bundle)
    return f"flyp predict {quoted} IMAGE_OR_FOLDER…"


def describe_report(report: dict) -> str:
    """The self-check in words (rich text)."""
    text = (f"<b>Exported</b> the blend at α = {report['alpha']:.2f} to <b>{report['path']}</b>.<br>"
            f"<span style='color:{OK_COLOUR}'><b>✓ Self-check passed:</b></span> the bundle was reloaded and classified {report['verified_images']} validation "
            f"images {'with the same predictions as' if report['same_predictions'] else 'DIFFERENTLY from'} the "
            f"model in memory; the largest difference in any class probability is "
            f"{_difference(report['max_probability_difference'])}.")
    if "onnx_max_probability_difference" in report:
        text += (f"<br>ONNX (model.onnx) agrees too: largest probability difference "
                 f"{_difference(report['onnx_max_probability_difference'])}.")
    if report.get("metrics"):
        text += "<br>Accuracy of the exported model: " + " · ".join(
            f"{set_label(name)} {m['accuracy']:.1%}" for name, m in report["metrics"].items()) + "."
    return text + (f"<br>To classify images or whole folders with it from a terminal: "
                   f"<code>{html.escape(predict_command(report['path']))}</code>")


class ExportPage(RunPage):
    title = "Export"
    name = "export"  # how the window and the View menu reach it
    hint = ("Save the blended model as a folder to share or deploy: weights, class head, class names, caption "
            "templates, preprocessing, accuracy and a model card. It is reloaded and checked before it is kept. "
            "From a terminal, “flyp predict BUNDLE PATH…” classifies image files and whole folders with it; "
            "in Python it loads with plain open_clip (its model card shows how).")

    def __init__(self, state):
        super().__init__(state)
        self.curve: list[dict] | None = None
        self.report: dict | None = None
        self._out_edited = False
        state.alpha_changed.connect(self._alpha_from_state)
        state.project_changed.connect(self._project_opened)

    def _content(self) -> QWidget:
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 4, 0, 0)
        box = QGroupBox("What to export")
        form = QFormLayout(box)
        form.setHorizontalSpacing(16)
        self.alpha = QDoubleSpinBox(minimum=0.0, maximum=1.0, singleStep=0.05, decimals=2)
        self.alpha.setToolTip("0 = the original zero-shot model, 1 = the finetuned model; shared with the Blend page")
        self.alpha.valueChanged.connect(lambda value: self.state.set_alpha(round(value, 2)))
        self.best = QPushButton("Use the α with the best validation accuracy")
        self.best.clicked.connect(self.use_best_alpha)
        row = QHBoxLayout()
        row.addWidget(self.alpha)
        row.addWidget(self.best)
        row.addStretch(1)
        self.accuracy = QLabel(NO_CURVE, objectName="pageHint", wordWrap=True)
        column = QVBoxLayout()  # the accuracy right under α (as a form row of its own it floated away)
        column.addLayout(row)
        column.addWidget(self.accuracy)
        form.addRow("Blend α", column)
        bundle = QCheckBox("Bundle folder: weights, class head, flyp.json, README model card (always)")
        bundle.setChecked(True)
        bundle.setEnabled(False)
        self.onnx = QCheckBox("Also ONNX (model.onnx), for runtimes without PyTorch")
        formats = QVBoxLayout()
        formats.addWidget(bundle)
        formats.addWidget(self.onnx)
        form.addRow("Formats", formats)
        self.out = QLineEdit(placeholderText="choose a folder for the bundle…")
        self.out.setToolTip("A new folder for the bundle (an earlier bundle there is replaced)")
        self.out.textEdited.connect(self._out_changed)
        choose = QPushButton("Choose…", toolTip="Choose where to save the bundle", accessibleName="Choose where to save the bundle")
        choose.clicked.connect(self._choose_out)
        row = QHBoxLayout()
        row.addWidget(self.out, 1)
        row.addWidget(choose)
        form.addRow("Save to", row)
        self.out_note = QLabel("", objectName="pageHint")
        form.addRow("", self.out_note)
        layout.addWidget(box)

        self.export_button = QPushButton("Export", objectName="primary")
        self.export_button.clicked.connect(self.export)
        self.progress = QProgressBar(maximumWidth=200, textVisible=False)
        self.progress.setRange(0, 0)
        self.progress.hide()
        self.stage = QLabel("", objectName="pageHint", wordWrap=True)
        row = QHBoxLayout()
        row.addWidget(self.export_button)
        row.addWidget(self.progress)
        row.addWidget(self.stage, 1)
        layout.addLayout(row)
        layout.addWidget(self._result_box())
        layout.addStretch(1)
        return content

    def _result_box(self) -> QWidget:
        result_box = QGroupBox("Result")
        result_layout = QVBoxLayout(result_box)
        self.result = QLabel("Nothing exported yet.", wordWrap=True, textInteractionFlags=Qt.TextSelectableByMouse)
        self.result.setTextFormat(Qt.RichText)
        self.open_folder = QPushButton("Open the folder")
        self.open_folder.setEnabled(False)
        self.open_folder.clicked.connect(self._open_folder)
        result_layout.addWidget(self.result)
        result_layout.addWidget(self.open_folder, 0, Qt.AlignLeft)
        return result_box

    # Project, run and α ------------------------------------------------------------------------
    def _project_opened(self) -> None:
        self._out_edited = False
        self.report = None
        self.result.setText("Nothing exported yet.")
        self.open_folder.setEnabled(False)
        self._alpha_from_state(self.state.project.alpha)
        self._default_out()

    def _default_out(self) -> None:
        if self._out_edited:
            return
        p = self.state.project
        base = p.path.parent if p.path is not None else Path.home()
        name = p.path.name.removesuffix(".flyp.json") if p.path is not None else p.name
        self.out.setText(str(base / f"{name}-model-alpha{p.alpha:.2f}"))
        self._out_changed()

    def _out_changed(self, edited: str | None = None) -> None:
        if edited is not None:
            self._out_edited = True
        out = Path(self.out.text().strip()).expanduser() if self.out.text().strip() else None
        if out is not None and self.report and Path(self.report["path"]).resolve() == out.resolve():
            note = ""  # the bundle just exported: the result below says so
        elif out is not None and out.exists():
            note = ("A bundle is already there: exporting replaces it." if (out / "flyp.json").is_file() else
                    "This folder exists and is not a bundle: choose a new folder.")
        else:
            note = ""
        self.out_note.setText(note)
        self.out_note.setVisible(bool(note))

    def _choose_out(self) -> None:
        if folder := choose_new(self, self.state, "Save the bundle as (a new folder)", near=self.out.text()):
            self.out.setText(folder)
            self._out_changed(folder)

    def _alpha_from_state(self, alpha: float) -> None:
        if abs(self.alpha.value() - alpha) > 1e-9:
            self.alpha.blockSignals(True)
            self.alpha.setValue(alpha)
            self.alpha.blockSignals(False)
        self._default_out()
        self._show_accuracy()

    def _run_changed(self, run) -> None:
        self.curve = None
        self.body.show_run(run)
        self._show_accuracy()
        self._fetch_curve()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self.curve is None:
            self._fetch_curve()

    def _fetch_curve(self) -> None:
        """The curve, if the Blend page has computed it (no model is loaded for this)."""
        run = self.picker.current()
        if run is not None and run.usable:
            self.run(blend_tasks.blend_curve, self.state.caches, run.path, cached_only=True, on_done=partial(self._curve_done, run, False),
                     on_error=lambda _: None)

    def _curve_done(self, run, choose_best: bool, curve: list[dict] | None) -> None:
        if run != self.picker.current() or curve is None:
            return
        self.curve = curve
        self.best.setEnabled(True)
        self.state.open_at_best_alpha(run.stored, curve)  # a run not opened before opens at its best α
        self._show_accuracy()
        if choose_best:
            self.use_best_alpha()

    def _show_accuracy(self) -> None:
        if self.curve is None:
            self.accuracy.setText(NO_CURVE)
            return
        alphas = [p["alpha"] for p in self.curve]
        parts = [f"{set_label(name)} ≈ {float(np.interp(self.alpha.value(), alphas, [p['sets'][name]['accuracy'] for p in self.curve])):.1%}"
                 for name in self.curve[0]["sets"]]
        self.accuracy.setText(f"At α = {self.alpha.value():.2f}: " + " · ".join(parts) + "  (from the Blend curve)")

    def best_alpha(self) -> float | None:
        """The α of the curve with the best validation accuracy (core.weights.curve.best_alpha)."""
        return None if self.curve is None else best_alpha(self.curve)["alpha"]

    def use_best_alpha(self) -> None:
        run = self.picker.current()
        if self.curve is None:
            if run is None or not run.usable:
                return
            self.best.setEnabled(False)
            self.stage.setText("Computing the α curve first…")
            self.run(blend_tasks.blend_curve, self.state.caches, run.path, self.device(), on_done=partial(self._curve_done, run, True),
                     on_ended=lambda: (self.best.setEnabled(True), self.stage.setText("")))
            return
        self.state.set_alpha(self.best_alpha())

    # Export ---------------------------------------------------------------------------------------
    def export(self) -> None:
        run = self.picker.current()
        out = self.out.text().strip()
        if run is None or not run.usable:
            return
        if not out:
            self.show_error("Choose the folder to save the bundle to.")
            return
        self.show_error("")
        self.export_button.setEnabled(False)
        self.progress.show()
        self.open_folder.setEnabled(False)
        self.result.setText("Exporting…")
        self.run(blend_tasks.export_model, self.state.caches, run.path, self.device(), round(self.alpha.value(), 2),
                 str(Path(out).expanduser()), self.onnx.isChecked(), on_done=self._exported,
                 on_error=self._failed, on_event=lambda text: self.stage.setText(str(text)),
                 on_ended=self._export_ended)

    def _export_ended(self) -> None:
        self.export_button.setEnabled(True)
        self.progress.hide()
        self.stage.setText("")
        self._out_changed()

    def _failed(self, text: str) -> None:
        self.result.setText("Nothing was written.")
        self.show_error(text)

    def _exported(self, report: dict) -> None:
        self.report = report
        self.result.setText(describe_report(report))
        self.open_folder.setEnabled(True)

    def _open_folder(self) -> None:
        if self.report:
            open_in_file_manager(self.report["path"], self.open_folder)
