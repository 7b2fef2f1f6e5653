"""The Train page's settings column: the model to start from, the augmentation and the training
settings, shown from the project and stored back with `AppState.set_settings`; and the warning
when settings are far outside what works (the next Start trains anyway)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QVBoxLayout, QWidget

from core.errors import FlypError, worded
from flyp_app import train_tasks
from flyp_app.widgets.augmentation import AugmentationPicker
from flyp_app.widgets.model_picker import ModelPicker
from flyp_app.widgets.train_settings import HyperParameters
from flyp_app.words import label


class SettingsColumn(QScrollArea):
    """`run` starts a task in a worker (the page's `Page.run`): the augmentation preview."""

    flagged = Signal(bool)  # settings far outside what works are shown: the page's Start says "Start anyway"

    def __init__(self, state, run):
        super().__init__(widgetResizable=True, frameShape=QFrame.NoFrame)
        self.state, self._run = state, run
        self._writing = False
        self.confirmed = False  # warned of settings far outside what works: the next Start trains anyway
        self.model_picker = ModelPicker(state)
        self.params = HyperParameters()
        self.augment = AugmentationPicker(train_tasks.AUGMENT_PREVIEWS)
        settings = QWidget()
        settings.setObjectName("page")
        layout = QVBoxLayout(settings)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.addWidget(self.model_picker)
        layout.addWidget(self.augment)
        layout.addWidget(self.params)
        # Not in the scrolled settings: the page shows it above Start, seen without scrolling.
        self.bounds_warning = QLabel("", objectName="error", wordWrap=True)
        self.bounds_warning.hide()
        layout.addStretch(1)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setWidget(settings)
        self.model_picker.changed.connect(lambda model, pretrained: self._store(model=model, pretrained=pretrained))
        self.params.changed.connect(lambda values: self._store(**values))
        self.augment.changed.connect(self._augment_chosen)
        state.scan_finished.connect(lambda _: self._preview_augmentation())
        state.settings_changed.connect(self.load)
        state.engine_ready.connect(self.model_picker.engine_ready)
        state.scan_finished.connect(lambda data: self.params.set_train_images(len(data.train) if data else None))
        state.engine_ready.connect(self.load)  # the suggested time budget knows the device then
        if state.ready:
            self.model_picker.engine_ready()

    def load(self) -> None:
        """Show the project's settings."""
        if self._writing:
            return
        p = self.state.project
        self.model_picker.load(p.model, p.pretrained)
        self.params.set_model(p.model, self._device_type())
        self.params.load(p.settings, p.auto, p.budget_minutes)
        self.warn_bounds([])
        self.augment.load(p.settings.get("augment", self.augment.value()))

    def config(self):
        """The project's data, model and settings as a TrainConfig; FlypError when something is
        missing or wrong."""
        p = self.state.project
        if not p.train_dir:
            raise FlypError("Choose a training folder on the Data page first.")
        if self.state.scan_error:
            raise FlypError(f"The data cannot be used yet: {self.state.scan_error}")
        if problem := self.model_picker.problem() or self.params.problem():
            raise FlypError(problem)
        return self.state.train_config()

    def _store(self, **settings) -> None:
        self._writing = True
        try:
            self.state.set_settings(**settings)
        finally:
            self._writing = False
        p = self.state.project
        self.params.set_model(p.model, self._device_type())
        self.params.load(p.settings, p.auto, p.budget_minutes)  # a preset fills several fields
        self.warn_bounds([])

    def _device_type(self) -> str:
        """cpu, cuda or mps: what the device setting means on this computer (cpu until PyTorch has loaded)."""
        device = str(self.state.project.settings.get("device", "auto"))
        if device != "auto":
            return device.split(":")[0]
        if not self.state.ready:
            return "cpu"
        from core.model.loading import select_device

        return select_device("auto").type

    def warn_bounds(self, flags: list) -> None:
        """Say which settings are far outside what works; the next press of Start trains anyway."""
        self.confirmed = bool(flags)
        self.bounds_warning.setText(" ".join(worded(f.text(), lambda name: label(name)) + "." for f in flags)
                                    + " Change them, or press Start anyway to train with them." if flags else "")
        self.bounds_warning.setVisible(bool(flags))
        self.flagged.emit(bool(flags))

    def _augment_chosen(self, augment: str) -> None:
        self._store(augment=augment)
        self._preview_augmentation()

    def _preview_augmentation(self) -> None:
        """Draw the first training image under the chosen preset (in the background)."""
        data = self.state.datasets
        if data is None or not data.train:
            self.augment.show_preview([])
            return
        self._run(train_tasks.augmentation_preview, str(data.train[0].path), self.augment.value(),
                  on_done=self.augment.show_preview)
