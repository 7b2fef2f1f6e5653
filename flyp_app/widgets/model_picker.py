"""The Train page's choice of the model to start from: the demo model, an open_clip architecture and
pretrained tag, a model on the Hugging Face Hub, or a weights file on this computer.

It shows what the project holds (`load`) and reports the user's choice as `changed`; the page
stores it with `AppState.set_settings`.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from core.model import hub
from flyp_app.file_dialogs import choose_file
from flyp_app.widgets.narrow_combo import narrow

DEMO, OPEN_CLIP, HUB, FILE = "demo", "open_clip", "hub", "file"
SOURCES = {DEMO: "Built-in demo model", OPEN_CLIP: "open_clip model + pretrained weights",
           HUB: "Model on the Hugging Face Hub", FILE: "Weights file on this computer"}
SOURCE_NOTES = {
    DEMO: "A tiny CLIP shipped with FLYP Studio: it trains in minutes on a laptop CPU.",
    OPEN_CLIP: "The weights are downloaded once into the Hugging Face cache. Bigger models learn more but "
               "train slower (ViT-B-32 is a good start; on a CPU expect a few images per second).",
    HUB: "Any open_clip model on the Hugging Face Hub, named ORG/NAME. Its files are downloaded once into the "
         "Hugging Face cache ({cache}).",
    FILE: "A .safetensors file (or a state-dict .pt/.bin) holding weights for the chosen architecture.",
}
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
DEFAULT_ARCH, DEFAULT_TAG = "ViT-B-32", "openai"


def model_source(model: str, pretrained: str) -> str:
    if model == "demo":
        return DEMO
    if hub.is_hub_name(model):
        return HUB
    looks_like_file = os.sep in pretrained or "/" in pretrained or pretrained.lower().endswith(WEIGHT_SUFFIXES)
    return FILE if pretrained and looks_like_file else OPEN_CLIP


def pretrained_tags(architecture: str) -> list[str]:
    """The pretrained tags open_clip knows for `architecture` (open_clip is already imported by then)."""
    from core.model.loading import pretrained_tags as tags_of  # only called once the engine has loaded

    return tags_of(architecture)


class ModelPicker(QGroupBox):
    """The demo model, an open_clip architecture + pretrained tag, a Hub model, or a local weights file."""

    changed = Signal(str, str)  # model, pretrained ("" for none)

    def __init__(self, state):
        super().__init__("Model")
        self.state = state  # where the weights file dialog starts
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.source = narrow(QComboBox())
        for key, text in SOURCES.items():
            self.source.addItem(text, key)
        self.source.setToolTip("Where the model you finetune comes from")
        self.source.activated.connect(self._source_chosen)
        form.addRow("Start from", self.source)
        self.arch = narrow(QComboBox(editable=True, insertPolicy=QComboBox.NoInsert))
        self.arch.lineEdit().setPlaceholderText("e.g. ViT-B-32")
        self.arch.setToolTip("The model's design as open_clip names it (ViT-B-32, ViT-L-14, …): its size and "
                             "speed; it must match the weights")
        self.arch.activated.connect(self._arch_chosen)
        self.arch.lineEdit().editingFinished.connect(self._arch_chosen)
        form.addRow("Architecture", self.arch)
        self.tag = narrow(QComboBox(editable=True, insertPolicy=QComboBox.NoInsert))
        self.tag.lineEdit().setPlaceholderText("e.g. openai")
        self.tag.setToolTip("Which published weights of that design to start from (openai, laion2b_…); none "
                            "starts from random weights")
        self.tag.activated.connect(self._commit)
        self.tag.lineEdit().editingFinished.connect(self._commit)
        form.addRow("Pretrained", self.tag)
        self.hub = narrow(QComboBox(editable=True, insertPolicy=QComboBox.NoInsert))
        for name, line in hub.DOMAIN_MODELS.items():
            self.hub.addItem(name.removeprefix(hub.PREFIX), name)
            self.hub.setItemData(self.hub.count() - 1, line, Qt.ToolTipRole)
        self.hub.lineEdit().setPlaceholderText("ORG/NAME, e.g. imageomics/bioclip")
        self.hub.setToolTip("A domain model from the list (hover an entry to see what it was trained for), or "
                            "any open_clip model on the Hugging Face Hub typed as ORG/NAME")
        self.hub.activated.connect(self._commit)
        self.hub.lineEdit().editingFinished.connect(self._commit)
        self.hub.currentTextChanged.connect(lambda _: self._show_note(self.source.currentData()))
        form.addRow("Hub model", self.hub)
        self.file = QLineEdit(placeholderText="choose a weights file…",
                              toolTip="A weights file on this computer for the architecture above: type or "
                                      "paste its path, or browse")
        self.file.editingFinished.connect(self._commit)
        browse = QPushButton("Browse…", toolTip="Choose the weights file", accessibleName="Choose the weights file")
        browse.clicked.connect(self._browse)
        file_row = QWidget()
        row = QHBoxLayout(file_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.file, 1)
        row.addWidget(browse)
        form.addRow("Weights", file_row)
        self.note = QLabel("", objectName="pageHint", wordWrap=True)
        form.addRow(self.note)
        self.form, self.file_row = form, file_row
        self._architectures: list[str] = []
        self._show_rows(DEMO)

    def load(self, model: str, pretrained: str) -> None:
        source = model_source(model, pretrained)
        self.source.setCurrentIndex(self.source.findData(source))
        self.arch.setEditText("" if source in (DEMO, HUB) else model)
        if source == HUB:
            self.hub.setEditText(model.removeprefix(hub.PREFIX))
        self.tag.setEditText(pretrained if source == OPEN_CLIP else "")
        self.file.setText(pretrained if source == FILE else "")
        self._fill_tags()
        self._show_rows(source)

    def engine_ready(self) -> None:
        """Offer the architectures open_clip knows (and their tags) once the engine has loaded."""
        from core.model.loading import list_architectures

        self._architectures = list_architectures()
        text = self.arch.currentText()
        self.arch.blockSignals(True)
        self.arch.clear()
        self.arch.addItems(self._architectures)
        self.arch.setEditText(text)
        self.arch.blockSignals(False)
        self._fill_tags()

    def _fill_tags(self) -> None:
        if not self._architectures:
            return
        text = self.tag.currentText()
        self.tag.blockSignals(True)
        self.tag.clear()
        arch = self.arch.currentText().strip()
        self.tag.addItems([*(pretrained_tags(arch) if arch in self._architectures else []), "none"])
        self.tag.setEditText(text)
        self.tag.blockSignals(False)

    def _show_rows(self, source: str) -> None:
        self.form.setRowVisible(self.arch, source not in (DEMO, HUB))
        self.form.setRowVisible(self.tag, source == OPEN_CLIP)
        self.form.setRowVisible(self.hub, source == HUB)
        self.form.setRowVisible(self.file_row, source == FILE)
        self._show_note(source)

    def _show_note(self, source: str) -> None:
        """What the source is; for a Hub model from the list, what it was trained for too."""
        note = SOURCE_NOTES[source].format(cache=hub.cache_dir())
        if source == HUB:
            line = hub.DOMAIN_MODELS.get(self._hub_name())
            note = f"{line}.\n{note}" if line else note
        self.note.setText(note)

    def _hub_name(self) -> str:
        text = self.hub.currentText().strip()
        return text if not text or hub.is_hub_name(text) else hub.PREFIX + text

    def _source_chosen(self) -> None:
        source = self.source.currentData()
        if source in (OPEN_CLIP, FILE) and not self.arch.currentText().strip():
            self.arch.setEditText(DEFAULT_ARCH)
        if source == OPEN_CLIP and not self.tag.currentText().strip():
            self.tag.setEditText(DEFAULT_TAG)
        self._fill_tags()
        self._show_rows(source)
        self._commit()

    def _arch_chosen(self) -> None:
        self._fill_tags()
        self._commit()

    def _browse(self) -> None:
        if path := choose_file(self, self.state, "Weights file",
                               "Weights (*.safetensors *.pt *.pth *.bin);;All files (*)", near=self.file.text()):
            self.file.setText(path)
            self._commit()

    def value(self) -> tuple[str, str]:
        source = self.source.currentData()
        if source == DEMO:
            return "demo", ""
        if source == HUB:
            return self._hub_name(), ""
        arch = self.arch.currentText().strip()
        return arch, (self.tag.currentText().strip() if source == OPEN_CLIP else self.file.text().strip())

    def problem(self) -> str:
        """What is missing before this model can be loaded ("" when nothing)."""
        source, (model, pretrained) = self.source.currentData(), self.value()
        if source == HUB and not model:
            return "Choose a Hub model (Model → Hub model), or type its name as ORG/NAME."
        if source not in (DEMO, HUB) and not model:
            return "Choose an architecture for the model (Model → Architecture)."
        if source == FILE and not pretrained:
            return "Choose the weights file to start from (Model → Weights → Browse…)."
        if source == OPEN_CLIP and not pretrained:
            return "Choose the pretrained weights (Model → Pretrained), e.g. openai, or none for random weights."
        return ""

    def _commit(self) -> None:
        self.changed.emit(*self.value())
