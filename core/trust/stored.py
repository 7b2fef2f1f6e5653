"""A fitted novelty score in a bundle: `novelty.safetensors` (what the score needs, and the ID
validation scores) and a `novelty` entry in flyp.json (method, threshold, kept share, and the
`lowering` of unusual images' confidence, `core.trust.lowering`).

Kept in a file of its own beside the class head, so that a bundle used elsewhere says "none of
these" exactly as FLYP Studio did when it exported it; bundles written before have neither and
load without a novelty score.
"""

from __future__ import annotations

from pathlib import Path

from core import atomic, checksums
from core.errors import FlypError
from core.trust.novelty import NoveltyModel, from_tensors

NOVELTY_FILE = "novelty.safetensors"


def write_novelty(model: NoveltyModel, folder: Path) -> dict:
    """Write `model`'s tensors into `folder` and return the flyp.json entry that describes them."""
    atomic.save_safetensors(model.to_tensors(), Path(folder) / NOVELTY_FILE)
    return {**model.to_json(), "file": NOVELTY_FILE}


def read_novelty(folder: Path, info: dict) -> NoveltyModel | None:
    """The novelty score a bundle carries, or None for a bundle written without one; FlypError
    (naming the file) when flyp.json promises one that is missing or damaged."""
    entry = info.get("novelty")
    if entry is None:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("threshold"), (int, float)):
        raise FlypError(f"{Path(folder) / 'flyp.json'}: damaged: its novelty entry lacks a threshold; "
                        "export the bundle again")
    where = Path(folder) / NOVELTY_FILE
    if not where.is_file():
        raise FlypError(f"{where}: missing (flyp.json names it); export the bundle again")
    tensors, _ = checksums.read_verified(where)
    return from_tensors(entry, tensors, str(where), str(Path(folder) / "flyp.json"))
