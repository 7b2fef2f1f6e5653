"""Checksums of the safetensors files this project writes: stored in their metadata, checked on load.

A flipped bit on disk (a failing drive, a bad copy) would otherwise load without complaint and
resume or blend silently wrong weights. The checksum covers every tensor's name, type, shape
and bytes (not the file layout), so it can sit in the file's own header.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import FlypError, first_line

if TYPE_CHECKING:  # imported when used: the app reads project and run files before torch has loaded
    import torch

KEY = "flyp_sha256"


class DamagedFile(FlypError):
    """A file whose content does not match its checksum, or that cannot be read at all."""


def digest(tensors: "dict[str, torch.Tensor]") -> str:
    """SHA-256 over the tensors in name order: name, dtype, shape and raw bytes."""
    import torch

    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(json.dumps([name, str(t.dtype), list(t.shape)]).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()


def with_checksum(tensors: "dict[str, torch.Tensor]", metadata: dict[str, str] | None) -> dict[str, str]:
    return {**(metadata or {}), KEY: digest(tensors)}


def read_verified(path: str | Path) -> "tuple[dict[str, torch.Tensor], dict[str, str]]":
    """(tensors, metadata) of a safetensors file; DamagedFile when it is unreadable or its
    content does not match the checksum it carries (files without one are read unchecked)."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except FileNotFoundError:
        raise FlypError(f"{path}: no such file") from None
    except Exception as exc:  # safetensors reports a torn or garbled file in its own words
        raise DamagedFile(f"{path}: damaged ({first_line(exc)})") from None
    if KEY in metadata and digest(tensors) != metadata[KEY]:
        raise DamagedFile(f"{path}: damaged: its content does not match its checksum")
    return tensors, metadata
