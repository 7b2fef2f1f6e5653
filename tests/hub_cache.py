"""A Hugging Face Hub cache written on disk, as `hf download` leaves it, for offline tests.

models--ORG--NAME/refs/main names a commit; snapshots/<commit>/<file> links to blobs/<sha256>.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def add_repo(cache: Path, repo_id: str, files: dict[str, bytes | Path]) -> Path:
    """Put `files` ({name in the repo: content or a file to copy}) into `cache` as repo
    `repo_id`; return its snapshot folder."""
    repo = Path(cache) / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / COMMIT
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(COMMIT)
    for name, content in files.items():
        data = Path(content).read_bytes() if isinstance(content, Path) else content
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        target = snapshot / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        try:
            os.symlink(os.path.relpath(blob, target.parent), target)
        except OSError:  # no symlinks (Windows without developer mode): huggingface_hub copies too
            shutil.copyfile(blob, target)
    return snapshot


def open_clip_files(model_cfg: dict, weights: Path, preprocess_cfg: dict | None = None) -> dict:
    config = {"model_cfg": model_cfg, "preprocess_cfg": preprocess_cfg or {}}
    return {"open_clip_config.json": json.dumps(config).encode(), "open_clip_model.safetensors": weights}
