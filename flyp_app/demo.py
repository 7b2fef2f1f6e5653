"""Opening the demo project from the app (its folders are written on first use)."""

from __future__ import annotations


def prepare_demo_project(progress=None, control=None, emit=None) -> str:
    from core.demo.story import demo_project_file

    return str(demo_project_file(progress=progress, cancel=control))
