"""Look and feel: one palette for widgets and plots, and the shared style sheet."""

from __future__ import annotations

import functools

from core.resources import resource_path

ID_COLOUR = "#2f6fde"
OOD_COLOURS = ["#e0672b", "#2a9d6f", "#9b59b6", "#c0392b", "#7f8c8d"]
ZERO_SHOT_COLOUR = "#888888"
LOSS_COLOUR = "#2f6fde"
LR_COLOUR = "#8e44ad"
ACCENT = "#2f6fde"
ERROR_COLOUR = "#c0392b"
OK_COLOUR = "#2a9d6f"
RUN_COLOURS = ["#2f6fde", "#e0672b", "#2a9d6f", "#9b59b6", "#c0392b", "#b8860b", "#17a2b8", "#e83e8c",
               "#6c757d", "#343a40"]  # one per run on the Compare page (table names and plot curves)


def ood_colour(i: int) -> str:
    return OOD_COLOURS[i % len(OOD_COLOURS)]


def run_colour(i: int) -> str:
    return RUN_COLOURS[i % len(RUN_COLOURS)]


def style_sheet() -> str:
    path = resource_path("style.qss")
    return path.read_text(encoding="utf-8") if path.is_file() else ""


@functools.cache
def pyqtgraph():
    """The pyqtgraph module, configured for this app on first use.

    Imported on the UI thread (pyqtgraph's import walks every Qt class: not thread-safe) when the
    engine has loaded or a plot is first built, whichever comes first; never while the window is
    being built: the window must open before pyqtgraph and torch have loaded.
    """
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=True, background="w", foreground="#333333")
    return pg


def error_text(text: str) -> str:
    return f'<span style="color:{ERROR_COLOUR}">{text}</span>'
