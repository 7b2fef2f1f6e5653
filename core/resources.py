"""Where the shipped data files are, however FLYP Studio was installed."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def resource_path(*parts: str) -> Path:
    """Path of a file or folder under the `resources` package (a real path on disk)."""
    return Path(str(resources.files("resources").joinpath(*parts)))
