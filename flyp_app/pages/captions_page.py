"""Page 2, Captions: templates that turn class names into captions, and the zero-shot baseline."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QComboBox, QGroupBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton,
                               QSplitter, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from core.data.captions import fill, presets, resolve_class_names, validate_templates
from core.errors import FlypError
from flyp_app import data_tasks
from flyp_app.pages.base import Page
from flyp_app.words import download_text, error_text

CUSTOM = "(custom)"
NOT_MEASURED = "<span style='color:#5a6472'>Not measured yet.</span>"
FEW_IMAGES = 50     # below this, a zero-shot figure says how few images it comes from
MUTED = "#5a6472"
PREVIEW_LINES = 80  # every class is unfolded in the preview while the captions fit about this many lines


def number_tiles(tiles: list[tuple[str, str]]) -> str:
    """Rich text: one column per (name, number), the name small above the number, the last one dimmed."""
    cells = []
    for i, (name, number) in enumerate(tiles):
        colour = "#8a94a3" if i == len(tiles) - 1 else "#1f2a3a"
        cells.append(f"<td style='padding-right:28px'><span style='color:#5a6472'>{name}</span><br>"
                     f"<span style='font-size:22px; font-weight:600; color:{colour}'>{number}</span></td>")
    return f"<table cellspacing='0'><tr>{''.join(cells)}</tr></table>"


class CaptionsPage(Page):
    title = "Captions"
    name = "captions"  # how the window and the View menu reach it
    hint = ("Each class name becomes captions through templates; {} stands for the class name. FLYP "
            "finetunes on these captions, and a class is recognised by how close an image is to them. "
            "Measure the zero-shot accuracy: the baseline every later number is compared with.")

    def __init__(self, state):
        super().__init__(state)
        self._edit_timer = QTimer(self, singleShot=True, interval=300)
        self._edit_timer.timeout.connect(self._commit_edit)
        self._measure_after_scan = False
        self._figures: dict[tuple, tuple[dict, str]] = {}  # (model, captions) → its zero-shot figure, kept for undo
        self._shown_key: tuple | None = None  # what the figure on screen was measured with
        splitter = QSplitter(Qt.Horizontal)
        splitter.addWidget(self._editor())
        splitter.addWidget(self._preview())
        splitter.setSizes([520, 560])
        self.layout_.addWidget(splitter, 1)
        self.layout_.addWidget(self._zero_shot_box())
        self.add_status_line()
        state.project_changed.connect(self._load_project)
        state.templates_changed.connect(self._refresh_preview)
        state.scan_finished.connect(self._scanned)
        state.settings_changed.connect(self._describe_model)
        state.restored.connect(self._show_templates)  # undo / redo
        state.templates_changed.connect(self._figure_of_templates)
        state.restored.connect(self._figure_of_templates)

    def _editor(self) -> QWidget:
        box = QGroupBox("Templates, one per line")
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        row.addWidget(QLabel("Preset:"))
        self.preset = QComboBox()
        self.preset.addItems([*presets(), CUSTOM])
        self.preset.setToolTip("Ready-made caption templates for kinds of images; editing the text below makes "
                               "them your own (Custom)")
        self.preset.activated.connect(self._preset_chosen)
        row.addWidget(self.preset, 1)
        layout.addLayout(row)
        self.preset_note = QLabel("", objectName="pageHint", wordWrap=True)
        layout.addWidget(self.preset_note)
        self.editor = QPlainTextEdit()
        self.editor.textChanged.connect(self._edit_timer.start)
        layout.addWidget(self.editor, 1)
        self.validation = QLabel("", objectName="error", wordWrap=True)
        layout.addWidget(self.validation)
        return box

    def _preview(self) -> QWidget:
        box = QGroupBox("Captions per class")
        layout = QVBoxLayout(box)
        self.preview = QTreeWidget()
        self.preview.setHeaderHidden(True)
        layout.addWidget(self.preview)
        return box

    def _zero_shot_box(self) -> QWidget:
        box = QGroupBox("Zero-shot baseline")
        layout = QHBoxLayout(box)
        self.model_label = QLabel("", objectName="pageHint", wordWrap=True)
        self.model_label.setMaximumWidth(320)
        self.measure = QPushButton("Measure zero-shot accuracy", objectName="primary")
        self.measure.setToolTip("Classify the validation images with the model before any training, from the "
                                "captions alone: the accuracy finetuning has to beat")
        self.measure.clicked.connect(self.measure_zero_shot)
        self.result = QLabel(NOT_MEASURED, wordWrap=True)
        self.result.setTextFormat(Qt.RichText)
        self.result.setMinimumWidth(200)
        layout.addWidget(self.measure)
        layout.addSpacing(18)
        layout.addWidget(self.result, 1)
        layout.addWidget(self.model_label)
        return box

    # Templates -------------------------------------------------------------------------------
    def _figure_key(self) -> tuple:
        p = self.state.project
        return (p.model, p.pretrained or "", tuple(p.templates))

    def _figure_of_templates(self) -> None:
        """The figure on screen follows the captions: an edit undone shows the figure measured with
        the captions it restores, never that of the edited ones."""
        key = self._figure_key()
        if key == self._shown_key:
            return
        if key in self._figures:
            self._measured(*self._figures[key])
        elif self._shown_key is not None:
            self._shown_key = None
            self.result.setText(NOT_MEASURED)
            self._find_measured()

    def _load_project(self) -> None:
        self._shown_key, self._figures = None, {}  # another project: other data
        self._show_templates()
        self.result.setText(NOT_MEASURED)
        self._measure_after_scan = False
        self._describe_model()
        self._refresh_preview()

    def _show_templates(self) -> None:
        """Show the project's templates in the editor (unless it already shows them)."""
        templates = self.state.project.templates
        self._edit_timer.stop()
        if self._lines() != templates:
            self.editor.blockSignals(True)
            self.editor.setPlainText("\n".join(templates))
            self.editor.blockSignals(False)
        self._match_preset(templates)
        self.validation.setText("")

    def _scanned(self, data) -> None:
        self._refresh_preview()
        if self._measure_after_scan:
            self._measure_after_scan = False
            self.measure_zero_shot()
        elif data is not None and self.result.text() == NOT_MEASURED:
            self._find_measured()

    def _find_measured(self) -> None:
        """Show the zero-shot accuracy a run of this project measured with the same model, captions and data."""
        p, folder = self.state.project, self.state.folder
        try:
            names = self._class_names()
        except FlypError:
            return
        wanted = {"model": p.model, "pretrained": p.pretrained or "", "templates": list(p.templates),
                  "class_names": names, "train_dir": str(folder(p.train_dir)),
                  "val_dir": str(folder(p.val_dir)) if p.val_dir else None,
                  "ood_dirs": [str(folder(d)) for d in p.ood_dirs], "val_fraction": p.val_fraction,
                  "seed": int(p.settings.get("seed", 0))}
        self.run(data_tasks.zero_shot_of_runs, [str(folder(r)) for r in p.runs], wanted, on_done=self._found_measured,
                 on_error=lambda _: None)

    def _found_measured(self, found) -> None:
        if found is not None and self.result.text() == NOT_MEASURED:
            run, results = found
            self._measured(results, f"measured when run “{run}” started")

    def _match_preset(self, templates: list[str]) -> None:
        name = next((n for n, p in presets().items() if p["templates"] == templates), CUSTOM)
        self.preset.setCurrentText(name)
        self.preset_note.setText(presets()[name]["description"] if name != CUSTOM else "Your own templates.")

    def _preset_chosen(self) -> None:
        name = self.preset.currentText()
        if name == CUSTOM:
            return
        self.editor.setPlainText("\n".join(presets()[name]["templates"]))
        self._commit_edit()

    def _lines(self) -> list[str]:
        return [line for line in self.editor.toPlainText().splitlines() if line.strip()]

    def _commit_edit(self) -> None:
        lines = self._lines()
        try:
            templates = validate_templates(lines, where="line")
        except FlypError as exc:
            self.validation.setText(error_text(exc))
            return
        self.validation.setText("")
        self._match_preset(templates)
        if templates != self.state.project.templates:
            self.result.setText("Templates changed: measure again.")
            self.state.set_templates(templates)

    def _class_names(self) -> list[str]:
        data = self.state.datasets
        if data is None:
            return []
        return resolve_class_names(data.classes, self.state.project.class_names)

    def _refresh_preview(self) -> None:
        self.preview.clear()
        try:
            names = self._class_names()
        except FlypError as exc:
            self.show_error(error_text(exc))
            return
        templates = self.state.project.templates
        for name in names:
            count = f"{len(templates)} caption{'' if len(templates) == 1 else 's'}"
            parent = QTreeWidgetItem(self.preview, [f"{name}  ({count})"])
            for template in templates[:12]:
                QTreeWidgetItem(parent, [fill(template, name)])
            if len(templates) > 12:
                QTreeWidgetItem(parent, [f"… and {len(templates) - 12} more"])
        if self.preview.topLevelItemCount():
            if len(names) * (1 + min(len(templates), 13)) <= PREVIEW_LINES:
                self.preview.expandAll()
            else:
                self.preview.topLevelItem(0).setExpanded(True)
        else:
            QTreeWidgetItem(self.preview, ["Choose a training folder on the Data page to see the captions."])

    def _describe_model(self) -> None:
        p = self.state.project
        self.model_label.setText(f"model: {p.model}{' (' + p.pretrained + ')' if p.pretrained else ''} "
                                 "· change it on the Train page")

    # Zero-shot -------------------------------------------------------------------------------
    def measure_zero_shot(self) -> None:
        data = self.state.datasets
        if data is None and self.state.scanning:
            self._measure_after_scan = True
            self.show_info("The folders are being scanned: the measure starts when the scan is done.")
            return
        if data is None:
            self.show_error(self.state.scan_error or "Choose a usable training folder on the Data page first.")
            return
        try:
            names = self._class_names()
        except FlypError as exc:
            self.show_error(error_text(exc))
            return
        self.show_error("")
        self.measure.setEnabled(False)
        self.result.setText("Measuring… (the first time also loads the model)")
        p = self.state.project
        self.run(data_tasks.zero_shot, self.state.caches, p.model, p.pretrained or None, data, names, list(p.templates),
                 on_event=self._loading_event, on_done=self._measured, on_error=self._not_measured, on_ended=lambda: self.measure.setEnabled(True))

    def _loading_event(self, event: dict) -> None:
        if event.get("type") == "download":  # the model's first use: its files come from the Hub
            self.result.setText(download_text(event))

    def _not_measured(self, text: str) -> None:
        self.result.setText("Not measured.")
        self.show_error(text)

    def _measured(self, results: dict, where: str = "") -> None:
        self.show_error("")
        self.zero_shot_results = results
        self._shown_key = self._figure_key()
        self._figures[self._shown_key] = (results, where)
        chance = 1 / max(1, len(self.state.datasets.classes)) if self.state.datasets else None
        tiles = [("validation" if name == "id" else name, f"{m['accuracy']:.1%}") for name, m in results.items()]
        text = number_tiles(tiles + ([("chance", f"{chance:.0%}")] if chance else []))
        notes = [where] if where else []
        few = [f"{m['n']} {'validation' if name == 'id' else name}" for name, m in results.items()
               if isinstance(m.get("n"), int) and m["n"] < FEW_IMAGES]
        if few:
            notes.append(f"from few images ({', '.join(few)}): each image moves the figure by several points")
        if notes:
            text += f"<span style='color:{MUTED}'>{'; '.join(notes)}.</span>"
        self.result.setText(text)
