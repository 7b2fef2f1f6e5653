"""Atomic writes: every file the project writes appears whole or not at all.

Each writer writes a temporary file beside the target, flushes it to disk, then moves it into
place with `os.replace` (atomic on POSIX and Windows), so a crash, a full disk or an I/O error
leaves the previous version of the file intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from core import checksums
from core.errors import WriteError


_UMASK = os.umask(0)  # read once at import (os.umask can only be read by setting it)
os.umask(_UMASK)
FILE_MODE, FOLDER_MODE = 0o666 & ~_UMASK, 0o777 & ~_UMASK  # what the user's other files get
TMP_MARK = ".flyp-"  # temporary files are `.NAME.flyp-RANDOM.tmp`: only those are ever cleaned up


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success move it over `path`.

    On any error the temporary file is removed and the old `path` is untouched; an OSError
    (full disk, permissions) becomes a WriteError (a FlypError) that names the file and says
    that the previous version is kept.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TMP_MARK}", suffix=".tmp", dir=path.parent)
        os.close(fd)
        os.chmod(tmp, FILE_MODE)  # mkstemp's 0600 would make shared projects and bundles private
    except OSError as exc:
        raise _write_error(path, exc) from exc
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _fsync(tmp_path)
        os.replace(tmp_path, path)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink()


def remove_leftovers(folder: str | os.PathLike, older: tuple[str, ...] = ()) -> int:
    """Delete the temporary files that writes killed mid-way (kill -9, power loss) left in
    `folder` and its sub-folders; return how many. Call it only while nothing writes there.
    Only this program's own (`.NAME.flyp-….tmp`) are touched: a user's `.notes.tmp` stays; and
    those older versions named `.NAME.XXXXXXXX.tmp` for a NAME of `older` (see `is_old_temp`)."""
    import glob

    leftovers = set(Path(folder).rglob(f".*{TMP_MARK}*.tmp"))
    for name in older:
        leftovers |= {p for p in Path(folder).rglob(f".{glob.escape(name)}.*.tmp") if is_old_temp(p, name)}
    removed = 0
    for leftover in sorted(leftovers):
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed += 1
    return removed


OLD_TMP_AGE = 600  # seconds: an older version writes one file in far less; a temporary file older than this is dead
clock = time.time  # what "now" is for a leftover's age (tests pin it)
_MKSTEMP_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")  # what tempfile's 8 random characters use


def is_old_temp(leftover: Path, name: str) -> bool:
    """Whether `leftover` is a temporary copy of `name` as older versions named them, before they
    carried TMP_MARK (and a sort's copies a process id): `.NAME.` + 8 of mkstemp's characters +
    `.tmp`, a regular file untouched for OLD_TMP_AGE (no process id to ask whether its writer
    lives). A user's `.NAME.notes.tmp` is not one."""
    prefix = f".{name}."
    middle = leftover.name[len(prefix):-len(".tmp")]
    if not (leftover.name.startswith(prefix) and leftover.name.endswith(".tmp") and len(middle) == 8
            and set(middle) <= _MKSTEMP_CHARS):
        return False
    try:
        info = os.lstat(leftover)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and clock() - info.st_mtime >= OLD_TMP_AGE


def _write_error(path: Path, exc: OSError) -> WriteError:
    kept = "the previous version is kept" if path.exists() else "nothing was written"
    return WriteError(path, exc.strerror or str(exc), kept)


def _fsync(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    # A file name that is not valid UTF-8 (a lone surrogate in Python) is written as a \udcXX
    # escape: in JSON that escape reads back as the same name.
    write_bytes(path, text.encode("utf-8", "backslashreplace"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def save_safetensors(tensors: dict, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """Write a dict of tensors as safetensors, atomically, with their checksum in the metadata
    (`core.checksums`; contiguous CPU copies are made)."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    metadata = checksums.with_checksum(tensors, metadata)
    with atomic_path(path) as tmp:
        try:
            save_file(tensors, str(tmp), metadata=metadata)
            os.chmod(tmp, FILE_MODE)  # save_file creates the file anew, private (0600)
        except SafetensorError as exc:  # safetensors reports I/O errors (a full disk…) as its own type
            found = re.search(r"\(os error (\d+)\)", str(exc))
            if not found:
                raise
            code = int(found.group(1))
            raise OSError(code, os.strerror(code)) from exc
