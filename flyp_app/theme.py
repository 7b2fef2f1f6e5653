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
HINT_COLOUR = "#5a6472"  # the hints' grey (QLabel#pageHint in style.qss)
RUN_COLOURS = ["#2f6fde", "#e0672b", "#2a9d6f", "#9b59b6", "#c0392b", "#b8860b", "#17a2b8", "#e83e8c",
               "#6c757d", "#343a40"]  # one per run on the Compare page (table names and plot curves)


def ood_colour(i: int) -> str:
    return OOD_COLOURS[i % len(OOD_COLOURS)]


def run_colour(i: int) -> str:
    return RUN_COLOURS[i % len(RUN_COLOURS)]


def style_sheet() -> str:
    path = resource_path("style.qss")
    return path.read_text(encoding="utf-8") if path.is_file() else ""


LIGHT = {"Window": "#f7f8fa", "WindowText": "#1f2a3a", "Base": "#ffffff", "AlternateBase": "#f0f2f5",
         "Text": "#1f2a3a", "Button": "#eef0f3", "ButtonText": "#1f2a3a", "BrightText": "#ffffff",
         "Highlight": ACCENT, "HighlightedText": "#ffffff", "ToolTipBase": "#ffffe8", "ToolTipText": "#1f2a3a",
         "PlaceholderText": "#8a94a3", "Link": ACCENT, "Light": "#ffffff", "Midlight": "#e6e9ee",
         "Mid": "#c3c9d2", "Dark": "#9aa3ae", "Shadow": "#5a6472"}
DISABLED_TEXT = "#9aa3ae"


def light_palette():
    """The app's colours, both text and background, whatever the system theme: the style sheet and
    the plots are light, so text must not follow a dark system palette to near-white on white."""
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    for role, colour in LIGHT.items():
        palette.setColor(getattr(QPalette.ColorRole, role), QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(DISABLED_TEXT))
    return palette


def apply(app) -> None:
    """Give `app` the app's palette and style sheet."""
    app.setPalette(light_palette())
    app.setStyleSheet(style_sheet())


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
