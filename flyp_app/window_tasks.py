"""The window's background work: the engine imported at start-up, and the demo project prepared.
No Qt; run like every task (`flyp_app.workers`).
"""

from __future__ import annotations


def import_engine(progress=None, control=None, emit=None) -> None:
    """Import torch, open_clip and the engine's heavy modules (at start-up, in the background), so
    that the first zero-shot measure or training does not wait for them. pyqtgraph is not among
    them: see `MainWindow._engine_ready`.

    (torch's C extension holds the GIL while it initialises: the window may pause for a few
    tenths of a second while it loads, at start-up rather than later.)
    """
    import core.model.classifier  # noqa: F401  (imports torch and open_clip)
    import core.training.loop  # noqa: F401


def prepare_demo_project(progress=None, control=None, emit=None) -> str:
    """The demo project's file (its folders are written on first use)."""
    from core.demo.story import demo_project_file

    return str(demo_project_file(progress=progress, cancel=control))
