"""The Train page's training settings: a preset (the automatic mode first, with its time budget), and
every hyperparameter behind a toggle. The model to start from is `flyp_app.widgets.model_picker`.

The widget shows what the project holds (`load`) and reports the user's edits as a signal; the
page stores them with `AppState.set_settings`. Values are checked with core's `TrainConfig`
(cheap: no torch), and a bad one is explained under the form instead of being stored.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                               QLineEdit, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from core.training.config import METHODS, TrainConfig, defaults, settings
from core.training.defaults import MIN_STEPS_PER_EPOCH, default_settings, family_of, fit_batch
from core.demo.story import DEMO_SETTINGS
from core.errors import FlypError
from flyp_app.words import error_text
from flyp_app.widgets.narrow_combo import narrow

METHOD_NAMES = {"flyp": "FLYP (recommended)", "ce": "Cross-entropy baseline (FT)", "lp": "Linear probe (LP)",
                "lp-ft": "Linear probe, then finetune (LP-FT)", "l2sp": "Finetune near the start (L2-SP)",
                "flyp-frozen-text": "FLYP, text encoder frozen (ablation)",
                "ce-both": "Cross-entropy on captions, both encoders (ablation)"}
DEVICES = {"auto": "auto (GPU if there is one)", "cpu": "CPU", "cuda": "NVIDIA GPU (CUDA)", "mps": "Apple GPU (MPS)"}
PRECISIONS = {"auto": "auto (bf16 on capable GPUs)", "fp32": "fp32 (32-bit)", "bf16": "bf16 (16-bit)"}
CUSTOM = "Custom"
AUTO = "Automatic (recommended)"
AUTO_NOTE = ("Tries a few learning rates in short runs, keeps the one with the best accuracy on your validation "
             "images, then trains it until it stops improving or the time is up; it sets the epochs, batch size, "
             "learning rate and warmup. Every try is kept as a run.")


def config_defaults() -> dict:
    return defaults()


def presets(train_images: int | None) -> dict[str, tuple[dict, str]]:
    """{name: (settings, description)}; the paper's recipe is the ViT-B/32 row of the families
    table (`core.training.defaults`), its batch capped by `fit_batch` for small training sets."""
    paper = family_of("ViT-B-32")
    batch = fit_batch(paper.batch_size, train_images)
    capped = (f" (the paper's {paper.batch_size}, capped at {batch} so that each epoch of your {train_images} "
              f"images has at least {MIN_STEPS_PER_EPOCH} steps)") if batch < paper.batch_size else ""
    wd = defaults()["weight_decay"]
    common = {"warmup": None, "evals_per_epoch": 1}
    return {
        "Quick try": ({**common, "epochs": 2, "batch_size": 32, "lr": 1e-5, "weight_decay": 0.1, "evals_per_epoch": 2},
                      "A short run to see whether finetuning helps: 2 epochs, batch 32, learning rate 1e-5."),
        "Paper defaults": ({**common, "epochs": paper.epochs, "batch_size": batch, "lr": paper.lr, "weight_decay": wd},
                           f"The FLYP paper's recipe: {paper.epochs} epochs, batch {batch}{capped}, learning rate "
                           f"{paper.lr:g}, weight decay {wd:g}, cosine schedule after a warmup."),
        "Demo model": ({**common, **{k: v for k, v in DEMO_SETTINGS.items() if k != "seed"}},
                       f"For the small built-in demo model: {DEMO_SETTINGS['epochs']} epochs, batch "
                       f"{DEMO_SETTINGS['batch_size']}, learning rate {DEMO_SETTINGS['lr']:g}."),
    }


class HyperParameters(QGroupBox):
    """A preset (the automatic mode first, with its time budget), and the advanced settings behind a toggle."""

    changed = Signal(dict)  # the TrainConfig fields this widget sets, already checked; and auto, budget_minutes

    def __init__(self):
        super().__init__("Training settings")
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Preset"))
        self.preset = narrow(QComboBox())
        self.preset.setToolTip("A set of training settings: Automatic chooses them within a time budget; the "
                               "others fill in the advanced settings (changing one makes it Custom)")
        self.preset.activated.connect(self._preset_chosen)
        row.addWidget(self.preset, 1)
        layout.addLayout(row)
        self.preset_note = QLabel("", objectName="pageHint", wordWrap=True)
        layout.addWidget(self.preset_note)
        layout.addWidget(self._budget_row())
        self.toggle = QToolButton(text="Advanced settings", checkable=True, toolButtonStyle=Qt.ToolButtonTextBesideIcon,
                                  arrowType=Qt.RightArrow, autoRaise=True)
        self.toggle.setToolTip("Show or hide every training setting")
        self.toggle.toggled.connect(self._toggle_advanced)
        layout.addWidget(self.toggle)
        self.advanced = QWidget()
        self._advanced_form(QFormLayout(self.advanced))
        self.advanced.hide()
        layout.addWidget(self.advanced)
        self.error = QLabel("", objectName="error", wordWrap=True)
        self.error.hide()
        layout.addWidget(self.error)
        self._train_images: int | None = None
        self._model, self._device_type = defaults()["model"], "cpu"
        self._auto = False
        self._loading = False
        self._problem = ""
        self._fill_presets()

    def _budget_row(self) -> QWidget:
        self.budget_box = QWidget()
        row = QHBoxLayout(self.budget_box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Time budget"))
        self.budget = QSpinBox(minimum=0, maximum=24 * 60, suffix=" min", specialValueText="suggested")
        self.budget.setToolTip("How long the automatic mode may take, all tries included")
        self.budget.valueChanged.connect(self._budget_edited)
        row.addWidget(self.budget, 1)
        self.budget_box.hide()
        return self.budget_box

    def _advanced_form(self, form: QFormLayout) -> None:
        form.setContentsMargins(0, 0, 0, 0)
        self.method = narrow(QComboBox())
        for key in METHODS:
            self.method.addItem(METHOD_NAMES.get(key, key), key)
        self.method.setToolTip("How the model is finetuned; the line below says what the chosen method does")
        self.method_note = QLabel("", objectName="pageHint", wordWrap=True)
        self.epochs = QSpinBox(minimum=1, maximum=1000, toolTip="How many times training goes through all your "
                                                                "training images")
        self.batch = QSpinBox(minimum=2, maximum=65536, singleStep=8)
        self.batch.setToolTip("Images per step. In FLYP the other images of a batch are the negatives: "
                              "bigger batches usually help.")
        self.lr = QLineEdit()
        self.lr.setToolTip("Learning rate, e.g. 1e-5 (the paper's value for CLIP models)")
        self.weight_decay = QLineEdit(toolTip="How strongly the weights are pulled towards zero at each step "
                                              "(the paper's is 0.1)")
        self.warmup = QSpinBox(minimum=-1, maximum=1_000_000, specialValueText="auto")
        self.warmup.setToolTip("Steps of linear warmup before the cosine decay; auto: 10% of all steps, at most 500")
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1,
                             toolTip="Fixes the random choices (image order, variations, the held-out share): the "
                                     "same seed and settings train the same run again")
        self.evals = QSpinBox(minimum=1, maximum=100, toolTip="How often per epoch accuracy is measured on the "
                                                              "validation images (and a checkpoint kept if it is the best)")
        self.mask = QCheckBox(settings()["mask_same_class"].label)
        self.mask.setToolTip("An ablation: other images of the same class stop counting as negatives. "
                             "The FLYP paper shows that this hurts; off by default.")
        self.l2sp = QLineEdit()
        self.l2sp.setToolTip("L2-SP: λ of λ·‖θ − θ_pretrained‖² on the image encoder; larger stays closer to "
                             "the pretrained model")
        self.device = narrow(QComboBox(toolTip="Where training runs: a GPU when there is one is many times "
                                               "faster than the CPU"))
        for key, text in DEVICES.items():
            self.device.addItem(text, key)
        self.precision = narrow(QComboBox())
        for key, text in PRECISIONS.items():
            self.precision.addItem(text, key)
        self.precision.setToolTip("bf16 runs the towers in 16-bit arithmetic while training, faster on GPUs that "
                                  "support it and on CPUs with AMX (recent Intel Xeon), same results up to rounding; "
                                  "on other CPUs it is slower")
        # Short labels, the why in tooltips: the settings column is 380 px wide.
        self.compile = QCheckBox(settings()["compile"].label)
        self.compile.setToolTip("Compiles the model's computations before training (needs a C++ compiler): faster "
                                "long runs; the first steps are slow while it compiles")
        self.checkpointing = QCheckBox(settings()["grad_checkpointing"].label)
        self.checkpointing.setToolTip("Less GPU memory for bigger batches, at the price of slower steps")
        self._lever_controls()
        label = {name: s.label for name, s in settings().items()}  # declared once, on TrainConfig
        for text, widget in ((label["method"], self.method), ("", self.method_note), (label["epochs"], self.epochs),
                             (label["batch_size"], self.batch), (label["lr"], self.lr),
                             (label["weight_decay"], self.weight_decay), (label["warmup"], self.warmup),
                             (label["seed"], self.seed), (label["evals_per_epoch"], self.evals), ("", self.mask),
                             (label["l2sp_lambda"], self.l2sp), (label["device"], self.device),
                             (label["precision"], self.precision), ("", self.compile), ("", self.checkpointing),
                             (label["patch_dropout"], self.patch_dropout), (label["frozen_blocks"], self.frozen_blocks),
                             (label["train_size"], self.train_size)):
            form.addRow(text, widget)
        self._form = form
        for combo in (self.method, self.device, self.precision):
            combo.activated.connect(self._edited)
        for spin in (self.epochs, self.batch, self.warmup, self.seed, self.evals, self.patch_dropout,
                     self.frozen_blocks, self.train_size):
            spin.valueChanged.connect(self._edited)
        for edit in (self.lr, self.weight_decay, self.l2sp):
            edit.editingFinished.connect(self._edited)
        for box in (self.mask, self.compile, self.checkpointing):
            box.toggled.connect(self._edited)

    def _lever_controls(self) -> None:
        """Faster training of big models on a CPU, each off by default: they keep FLYP's loss but
        cost accuracy (benchmarks/README.md, "Big models on a CPU"), so a run using one says so."""
        cost = " Faster steps for big models; it may cost accuracy, and the run and its model card say it was used."
        self.patch_dropout = QSpinBox(minimum=0, maximum=90, singleStep=10, suffix=" %", specialValueText="off")
        self.patch_dropout.setToolTip("Trains on a random share of each image's patches (models that cut images "
                                      "into patches), all of them when measuring accuracy." + cost)
        self.frozen_blocks = QSpinBox(minimum=0, maximum=64, specialValueText="none")
        self.frozen_blocks.setToolTip("Keeps the lowest blocks of both the image and the text side as they were "
                                      "pretrained." + cost)
        self.train_size = QSpinBox(minimum=0, maximum=1024, singleStep=16, suffix=" px",
                                   specialValueText="model's own")
        self.train_size.setToolTip("Trains on smaller images than the model's own size; accuracy is still "
                                   "measured at the model's size." + cost)

    # Showing the project's settings ---------------------------------------------------------
    def load(self, settings: dict, auto: bool = False, budget_minutes: float = 0.0) -> None:
        # a setting never set shows the chosen model family's row, as the run will take it
        values = config_defaults() | default_settings(self._model, self._train_images) | settings
        self._loading = True
        self._auto = auto
        self.budget.setValue(round(budget_minutes))
        self.method.setCurrentIndex(max(0, self.method.findData(values["method"])))
        self.epochs.setValue(int(values["epochs"]))
        self.batch.setValue(int(values["batch_size"]))
        self.lr.setText(f"{float(values['lr']):g}")
        self.weight_decay.setText(f"{float(values['weight_decay']):g}")
        self.warmup.setValue(-1 if values["warmup"] is None else int(values["warmup"]))
        self.seed.setValue(int(values["seed"]))
        self.evals.setValue(int(values["evals_per_epoch"]))
        self.mask.setChecked(bool(values["mask_same_class"]))
        self.l2sp.setText(f"{float(values['l2sp_lambda']):g}")
        index = self.device.findData(str(values["device"]))
        if index < 0:  # e.g. "cuda:1" typed into the project file: keep it selectable
            self.device.addItem(str(values["device"]), str(values["device"]))
            index = self.device.count() - 1
        self.device.setCurrentIndex(index)
        self.precision.setCurrentIndex(max(0, self.precision.findData(values["precision"])))
        self.compile.setChecked(bool(values["compile"]))
        self.checkpointing.setChecked(bool(values["grad_checkpointing"]))
        self.patch_dropout.setValue(round(float(values["patch_dropout"]) * 100))
        self.frozen_blocks.setValue(int(values["frozen_blocks"]))
        self.train_size.setValue(int(values["train_size"] or self.train_size.minimum()))
        self._loading = False
        self._method_shown(values["method"])
        self._show_error("")
        self._match_preset()

    def set_train_images(self, count: int | None) -> None:
        """The number of training images found (the paper preset's batch is capped by it)."""
        if count != self._train_images:
            self._train_images = count
            self._fill_presets()
            self._match_preset()

    def set_model(self, model: str, device_type: str) -> None:
        """The model and device the suggested time budget is for."""
        self._model, self._device_type = model, device_type
        self._match_preset()

    def suggested_minutes(self) -> float | None:
        """The automatic mode's default budget for this model, device and data (None before a scan)."""
        from core.training.defaults import default_budget_s

        if not self._train_images:
            return None
        return default_budget_s(self._model, self._device_type, self._train_images) / 60

    def _fill_presets(self) -> None:
        self._presets = presets(self._train_images)
        current = self.preset.currentText()
        self.preset.blockSignals(True)
        self.preset.clear()
        self.preset.addItems([AUTO, *self._presets, CUSTOM])
        self.preset.setCurrentText(current or CUSTOM)
        self.preset.blockSignals(False)

    def _match_preset(self) -> None:
        self._show_auto()
        if self._auto:
            self.preset.setCurrentText(AUTO)
            suggested = self.suggested_minutes()
            self.budget.setSpecialValueText(f"suggested: {suggested:.0f} min" if suggested else "suggested")
            self.preset_note.setText(AUTO_NOTE + (f" Suggested time for this model, computer and your "
                                                  f"{self._train_images} training images: about {suggested:.0f} min."
                                                  if suggested else ""))
            return
        try:
            values = self.values()
        except FlypError:
            values = {}
        name = next((n for n, (s, _) in self._presets.items() if all(values.get(k) == v for k, v in s.items())), CUSTOM)
        self.preset.setCurrentText(name)
        self.preset_note.setText(self._presets[name][1] if name != CUSTOM
                                 else "Your own settings: open Advanced settings to see or change them.")

    def _show_auto(self) -> None:
        """The time budget with the automatic mode; the settings it chooses greyed out."""
        self.budget_box.setVisible(self._auto)
        for widget in (self.epochs, self.batch, self.lr, self.warmup):
            widget.setEnabled(not self._auto)

    def _toggle_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.toggle.setArrowType(Qt.DownArrow if shown else Qt.RightArrow)

    # Reading and checking the user's values -------------------------------------------------
    def values(self) -> dict:
        """The settings shown, as TrainConfig fields; FlypError (in words) when one is not valid."""
        values = {"method": self.method.currentData(), "epochs": self.epochs.value(),
                  "batch_size": self.batch.value(), "lr": _number(self.lr.text(), "Learning rate", "1e-5"),
                  "weight_decay": _number(self.weight_decay.text(), "Weight decay", "0.1"),
                  "warmup": None if self.warmup.value() < 0 else self.warmup.value(), "seed": self.seed.value(),
                  "evals_per_epoch": self.evals.value(), "mask_same_class": self.mask.isChecked(),
                  "l2sp_lambda": _number(self.l2sp.text(), "L2-SP strength", "0.01"),
                  "device": self.device.currentData(), "precision": self.precision.currentData(),
                  "compile": self.compile.isChecked(), "grad_checkpointing": self.checkpointing.isChecked(),
                  "patch_dropout": self.patch_dropout.value() / 100, "frozen_blocks": self.frozen_blocks.value(),
                  "train_size": None if self.train_size.value() == self.train_size.minimum() else self.train_size.value()}
        try:
            TrainConfig(train_dir="", **values)
        except FlypError as exc:  # the engine names the setting; say it as the form does
            raise FlypError(error_text(exc)) from None
        return values

    def _preset_chosen(self) -> None:
        name = self.preset.currentText()
        self._auto = name == AUTO
        if name == AUTO:
            self.changed.emit({"auto": True})
        elif name == CUSTOM:
            self.toggle.setChecked(True)
            self.changed.emit({"auto": False})
        else:
            self._emit(self._presets[name][0])

    def _budget_edited(self, minutes: int) -> None:
        if not self._loading:
            self.changed.emit({"budget_minutes": float(minutes)})

    def _edited(self) -> None:
        if self._loading:
            return
        self._method_shown(self.method.currentData())
        try:
            values = self.values()
        except FlypError as exc:
            self._show_error(error_text(exc))
            return
        self._show_error("")
        self._match_preset()
        self._emit(values)

    def _method_shown(self, method: str) -> None:
        """The method's one-line description, and only the settings that apply to it."""
        self.method_note.setText(METHODS.get(method, ""))
        self._form.setRowVisible(self.l2sp, method == "l2sp")

    def _emit(self, values: dict) -> None:
        self.changed.emit({**values, "auto": self._auto})

    def _show_error(self, text: str) -> None:
        self._problem = text
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def problem(self) -> str:
        """Why a value shown cannot be used, as said under the form ("" when every value can): a bad
        value is never stored, so the project's settings would train instead of what is shown."""
        return self._problem


def _number(text: str, name: str, example: str) -> float:
    try:
        return float(text.strip().replace(",", "."))
    except ValueError:
        raise FlypError(f"{name}: type a number such as {example} (got {text.strip()!r})") from None
