"""Labels as files: images copied (or moved) into class folders, logged, and undone exactly.

`place` puts a file into a folder under a name no other file has, never overwriting: the name
is reserved first (created exclusively), then the copy is written beside it and moved over the
reservation in one step. A failure (full disk, permission) removes what it made, so the source
and the destination folder are as they were, and the error names the file. `Labeller` does this
for the Label page: each assignment is a row of the project's label log (a CSV), and `undo`
puts the file system back — the copy removed, or the moved file back where it was, and a class
folder the assignment created removed again.
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import csv
import io
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from core.atomic import TMP_MARK, is_old_temp
from core.errors import FlypError

LOG_COLUMNS = ("source", "destination", "class", "time", "suggestion", "confidence", "action")


def _reason(exc: OSError) -> str:
    return "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))


def check_class_name(name: str) -> None:
    """FlypError unless `name` can be a class folder's name (no separators, not hidden, not empty)."""
    if not name.strip() or name.startswith(".") or any(c in name for c in '/\\:*?"<>|') or name != name.strip():
        raise FlypError(f"“{name}” cannot be a class folder's name: use letters, digits, spaces, - or _")


def check_writable(folder: str | os.PathLike) -> None:
    """FlypError naming `folder` unless files can be created in it (it is made if missing)."""
    folder = Path(folder).expanduser()
    made = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".flyp-write-check-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        if made:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise FlypError(f"{folder}: cannot write there ({_reason(exc)}); choose another folder") from None


def _reserve(folder: Path, name: str) -> Path:
    """Create an empty file under `name` in `folder`, or `name (2)`, `name (3)`… if taken."""
    stem, suffix = Path(name).stem, Path(name).suffix
    for n in range(1, 100_000):
        candidate = folder / (name if n == 1 else f"{stem} ({n}){suffix}")
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
            return candidate
        except FileExistsError:
            continue
    raise FlypError(f"{folder}: no free name for {name}")


def _copy_whole(source: Path, folder: Path) -> Path:
    """Copy `source` into a hidden temporary file in `folder`, then give it a free name with a hard
    link (which never replaces a file): the name appears only with every byte behind it. Where
    the file system has no hard links, the name is reserved and replaced as `_copy_over` does."""
    _remove_dead_copies(folder, source.name, source)
    fd, tmp = tempfile.mkstemp(prefix=f".{source.name}{TMP_MARK}{os.getpid()}-", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        shutil.copy2(source, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        stem, suffix = source.stem, source.suffix
        for n in range(1, 100_000):
            candidate = folder / (source.name if n == 1 else f"{stem} ({n}){suffix}")
            if _same_content(candidate, source):
                return candidate
            try:
                os.link(tmp, candidate)
                return candidate
            except FileExistsError:
                continue
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV):
                    raise
                reserved = _reserve(folder, source.name)
                os.replace(tmp, reserved)
                return reserved
        raise FlypError(f"{folder}: no free name for {source.name}")
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _remove_dead_copies(folder: Path, name: str, source: Path) -> None:
    """Remove the hidden partial copies of `name` (a copy of `source`) that a copier killed midway
    left in `folder`: `.NAME.flyp-PID-….tmp` whose process is gone (a live copier's stay), and
    those of older versions, `.NAME.XXXXXXXX.tmp` with no process id (see `_old_partial_copy`)."""
    import glob

    prefix = f".{name}{TMP_MARK}"
    for leftover in folder.glob(f"{glob.escape(prefix)}*.tmp"):
        pid = leftover.name[len(prefix):].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                leftover.unlink()
        except (PermissionError, OverflowError):
            pass  # alive (another user's), or no process id at all
    for leftover in folder.glob(f"{glob.escape(f'.{name}.')}*.tmp"):
        if _old_partial_copy(leftover, name, source):
            with contextlib.suppress(OSError):
                leftover.unlink()


def _old_partial_copy(leftover: Path, name: str, source: Path) -> bool:
    """Whether `leftover` is a partial copy of `source` that an older version's copier, killed, left:
    named and aged as `core.atomic.is_old_temp` says, and its bytes begin `source`'s (a copy is
    written in order). Anything else of a like name, a user's `.NAME.notes.tmp` say, is not."""
    if not is_old_temp(leftover, name):
        return False
    try:
        if leftover.stat().st_size > source.stat().st_size:
            return False
        with open(leftover, "rb") as partial, open(source, "rb") as whole:
            while chunk := partial.read(1 << 20):
                if whole.read(len(chunk)) != chunk:
                    return False
        return True
    except OSError:
        return False


def _same_content(candidate: Path, source: Path) -> bool:
    try:
        return candidate.stat().st_size == source.stat().st_size and filecmp.cmp(candidate, source, shallow=False)
    except OSError:
        return False


def _copy_over(source: Path, reserved: Path) -> None:
    """Copy `source` (contents and times) onto the reserved name, through a temporary file named
    with this process's id, as `_copy_whole`'s are (a killed copier's is then known as such)."""
    _remove_dead_copies(reserved.parent, reserved.name, source)
    fd, tmp = tempfile.mkstemp(prefix=f".{reserved.name}{TMP_MARK}{os.getpid()}-", suffix=".tmp",
                               dir=reserved.parent)
    os.close(fd)
    try:
        shutil.copy2(source, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, reserved)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def place(source: str | os.PathLike, folder: str | os.PathLike, move: bool = False, complete: bool = False) -> Path:
    """Copy (or move) `source` into `folder` (made if missing) under a free name; return the new path.

    Nothing is overwritten; on failure nothing is changed and FlypError names the file.
    `complete` (a copy): the copy appears under its name only whole (a process killed midway
    leaves no empty or partial file there), and a file there already with the same content is
    the copy (a sort run again completes, it does not duplicate).
    """
    source, folder = Path(source), Path(folder)
    verb = "move" if move else "copy"
    reserved = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if complete and not move:
            return _copy_whole(source, folder)
        reserved = _reserve(folder, source.name)
        if move:
            _move(source, reserved)
        else:
            _copy_over(source, reserved)
    except (OSError, FlypError) as exc:
        if reserved is not None:
            with contextlib.suppress(OSError):
                reserved.unlink()
        reason = _reason(exc) if isinstance(exc, OSError) else str(exc)
        raise FlypError(f"{source}: could not {verb} it into {folder} ({reason}); nothing was changed") from None
    return reserved


def _move(source: Path, reserved: Path) -> None:
    """Rename `source` over the reservation; across file systems, copy then remove the source."""
    try:
        os.replace(source, reserved)
        return
    except OSError as exc:
        if exc.errno != 18:  # EXDEV: another file system
            raise
    if not os.access(source.parent, os.W_OK):
        raise PermissionError(13, "permission denied", str(source.parent))
    _copy_over(source, reserved)
    source.unlink()  # if this fails, the caller removes the copy with the reservation


class AssignError(FlypError):
    """A file could not be labelled; `done` holds the ones labelled before it (logged, undoable)."""

    def __init__(self, message: str, done: list):
        super().__init__(message)
        self.done = done


@dataclass
class Assignment:
    """One image labelled: where it was, where it is now, and what the model had suggested."""

    source: Path
    destination: Path
    class_name: str
    move: bool
    time: str
    suggestion: str = ""
    confidence: float | None = None
    made_folder: bool = False  # the class folder did not exist before

    def row(self, action: str) -> list[str]:
        confidence = "" if self.confidence is None else f"{self.confidence:.6f}"
        return [str(self.source), str(self.destination), self.class_name, self.time, self.suggestion,
                confidence, action]


def log_path(project_file: str | os.PathLike) -> Path:
    """The label log of a project: `NAME-labels.csv` beside `NAME.flyp.json`."""
    project_file = Path(project_file)
    return project_file.with_name(f"{project_file.name.removesuffix('.flyp.json')}-labels.csv")


class LabelLog:
    """An append-only CSV of assignments and undos.

    Appended, not rewritten: the log only grows, and one `write` per row with an fsync means a
    crash can cost at most the row being written, never the rows before it.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def append(self, rows: list[list[str]]) -> None:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        try:
            new = not self.path.exists() or self.path.stat().st_size == 0
            if new:
                writer.writerow(LOG_COLUMNS)
            writer.writerows(rows)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8", newline="") as f:
                f.write(buffer.getvalue())
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise FlypError(f"{self.path}: the label log cannot be written ({_reason(exc)})") from None

    def rows(self) -> list[dict]:
        try:
            with open(self.path, encoding="utf-8", newline="") as f:
                return list(csv.DictReader(f))
        except FileNotFoundError:
            return []


class Labeller:
    """Assigns images to the class folders of a training folder, logs each one, and undoes.

    Each call to `assign` is one step of the undo history, however many images it labels.
    """

    def __init__(self, train_dir: str | os.PathLike, log: LabelLog, move: bool = False):
        self.train_dir = Path(train_dir)
        self.log, self.move = log, move
        self.history: list[list[Assignment]] = []

    def assign(self, sources: list[str | os.PathLike], class_folder: str,
               suggestions: list[tuple[str, float | None]] | None = None) -> list[Assignment]:
        """Copy (or move) `sources` into `class_folder`. AssignError at the first file that fails,
        carrying the ones done before it (they stay done, logged and undoable)."""
        folder = self.train_dir / class_folder
        made = not folder.exists()
        done: list[Assignment] = []
        try:
            for i, source in enumerate(map(Path, sources)):
                suggestion, confidence = (suggestions[i] if suggestions else ("", None))
                try:
                    destination = place(source, folder, self.move)
                except FlypError as exc:
                    raise AssignError(str(exc), list(done)) from None
                done.append(Assignment(source, destination, class_folder, self.move,
                                       time.strftime("%Y-%m-%dT%H:%M:%S"), suggestion, confidence,
                                       made and not done))
        finally:
            if done:
                self.history.append(done)
                self.log.append([a.row("move" if a.move else "copy") for a in done])
        return done

    def undo(self) -> list[Assignment]:
        """Undo the last `assign`: the file system as it was before it. FlypError names a file
        that cannot be put back (the step stays in the history, to try again)."""
        if not self.history:
            return []
        step = self.history[-1]
        undone = []
        try:
            for a in reversed(step):
                _put_back(a)
                undone.append(a)
        finally:
            if undone:
                del step[len(step) - len(undone):]
                if not step:
                    self.history.pop()
                self.log.append([a.row("undo move" if a.move else "undo copy") for a in undone])
        return undone


def _put_back(a: Assignment) -> None:
    try:
        if a.move:
            if a.source.exists():
                raise FlypError(f"{a.source}: a file of that name is there again; move or rename it, then undo")
            a.source.parent.mkdir(parents=True, exist_ok=True)
            reserved = _reserve(a.source.parent, a.source.name)
            try:
                _move(a.destination, reserved)
            except OSError:
                reserved.unlink(missing_ok=True)
                raise
        else:
            a.destination.unlink()
        if a.made_folder:
            with contextlib.suppress(OSError):
                a.destination.parent.rmdir()  # only if empty again
    except OSError as exc:
        raise FlypError(f"{a.destination}: cannot be put back ({_reason(exc)})") from None
