"""The Train page's progress box: what the run is doing in words, the bar, and the steps, epochs,
speed and time left; drawn from what the page recorded of the engine's events."""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QLabel, QProgressBar, QVBoxLayout

from core.training.advice import collapsed
from flyp_app.words import levers_text


def time_left_text(seconds: float) -> str:
    """The estimate of the time left, in words: "under a minute left", "about 12 min left"."""
    if seconds < 60:
        return "under a minute left"
    minutes = round(seconds / 60)
    return f"about {minutes} min left" if minutes < 60 else f"about {minutes // 60} h {minutes % 60:02d} min left"


def trial_text(event: dict, left_s: float) -> str:
    """The automatic mode's words for the trial it trains, with the time budget left."""
    left = time_left_text(max(0.0, left_s)).removesuffix(" left")
    return (f"Automatic settings: try {event['index']}, learning rate {event['lr']:g} for {event['epochs']} "
            f"epoch{'s' * (event['epochs'] > 1)} ({left} of the time budget left).")


def finished_text(info: dict, name: str) -> str:
    """What a finished run (`info`, the engine's result) says: its best validation accuracy against
    zero-shot, the automatic mode's choice, the speed levers used, and what to do next."""
    best, zero = info.get("best") or {}, (info.get("zeroshot") or {}).get("id", {}).get("accuracy")
    text = f"Finished {name}."
    if best:
        text += f" Best validation accuracy {best['id_accuracy']:.1%} at step {best['step']}"
        text += f" (zero-shot {zero:.1%})." if zero is not None else "."
    if auto := info.get("auto"):
        text += f" Automatic settings: {auto['why']}"
    if levers := levers_text(info):
        text += f" {levers}"
    return text + " " + (collapsed(info) or "Next: blend it with the zero-shot model on the Blend page.")


class TrainProgress(QGroupBox):
    """The message, the bar and the detail line; the page adds the advice and its status line below."""

    def __init__(self):
        super().__init__("Progress")
        layout = QVBoxLayout(self)
        self.message = QLabel("No run in progress.", wordWrap=True)
        self.progress_bar = QProgressBar(textVisible=True)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.hide()
        self.detail = QLabel("", objectName="pageHint", wordWrap=True)  # wraps rather than widen the window
        layout.addWidget(self.message)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.detail)

    def clear(self) -> None:
        """No run in progress (another project opened)."""
        self.message.setText("No run in progress.")
        self.detail.setText("")
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.hide()  # an empty bar says nothing: it shows with the next run

    def draw(self, info: dict, running: bool, paused: bool) -> None:
        """Show `info` (the page's record: message, auto, step, total, per_epoch, rate, eta) of a run
        that is `running` (not stopped or stopping) and maybe `paused`."""
        self.message.setText(" ".join(filter(None, (info.get("auto"), info.get("message")))))  # auto: which run
        total, step = info.get("total"), info.get("step", 0)
        if total:
            self.progress_bar.setRange(0, total)
            self.progress_bar.setValue(step)
            parts = [f"step {step} of {total}",
                     f"epoch {step / info['per_epoch']:.1f} of {total // info['per_epoch']}"]
            if info.get("rate"):
                parts.append(f"{info['rate']:.0f} images/s")
            if running and paused:
                parts.append("paused")
            elif running and info.get("eta") is not None and step < total:  # no estimate once stopped
                parts.append(time_left_text(info["eta"]))
            self.detail.setText(" · ".join(parts))
