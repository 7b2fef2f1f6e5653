"""Look and feel: one palette for widgets and plots, and the shared style sheet."""

from __future__ import annotations

from core.resources import resource_path

ID_COLOUR = "#2f6fde"
OOD_COLOURS = ["#e0672b", "#2a9d6f", "#9b59b6", "#c0392b", "#7f8c8d"]
ZERO_SHOT_COLOUR = "#888888"
LOSS_COLOUR = "#2f6fde"
LR_COLOUR = "#8e44ad"
ACCENT = "#2f6fde"
ERROR_COLOUR = "#c0392b"
OK_COLOUR = "#2a9d6f"


def ood_colour(i: int) -> str:
    return OOD_COLOURS[i % len(OOD_COLOURS)]


def style_sheet() -> str:
    path = resource_path("style.qss")
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def configure_plots() -> None:
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True, background="w", foreground="#333333")


def error_text(text: str) -> str:
    return f'<span style="color:{ERROR_COLOUR}">{text}</span>'
