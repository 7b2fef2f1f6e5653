"""Advisory lock files that say who holds them: a project open in a window, a run being trained.

The lock is a small JSON file (`{"pid", "host"}`) created exclusively. A lock whose process is
gone (same machine, no such PID) is stale and taken over. A holder on another machine (a shared
drive) is trusted, except for `refreshed` locks (run folders, which cluster jobs share): their
holder refreshes the file's time every minute, and one left unrefreshed for five minutes is
stale too (a node that died, a job requeued elsewhere).

On the holder's own machine the process id alone cannot tell: inside a PID namespace (a
container, a requeued cluster job) every holder is "process 1", and another process may have the
id now. So the holder also keeps an OS lock (flock) on the file for as long as it lives, which
the system drops with the process however it ends: a lock file whose OS lock can be taken is stale.
"""

from __future__ import annotations

import json
import os
import contextlib
import socket
import threading
import time
from pathlib import Path

from core.errors import FlypError

REFRESH_S = 60.0
STALE_AFTER_S = 300.0


class OwnedLock:
    """An exclusive lock file naming its owner. `busy(owner)` words the refusal."""

    def __init__(self, path: str | os.PathLike, refreshed: bool = False):
        self.path = Path(path)
        self.refreshed = refreshed
        self.held = False
        self._stop = threading.Event()
        self._fd: int | None = None  # the open lock file, flocked while held

    def busy(self, owner: dict) -> str:
        return f"{self.path}: held by process {owner.get('pid')} on {owner.get('host')}"

    def acquire(self) -> None:
        """Take the lock, or raise FlypError saying who holds it. A `refreshed` lock is kept
        fresh by a background thread until `release`."""
        me = {"pid": os.getpid(), "host": socket.gethostname(), "flock": _flock is not None}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is not None and not self._stale(owner):
                    raise FlypError(self.busy(owner)) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            if _flock is not None:
                with contextlib.suppress(OSError):
                    _flock(fd, _LOCK_EX | _LOCK_NB)  # a fresh file: nobody else holds it
            os.write(fd, json.dumps(me).encode())
            self._fd = fd  # kept open: the OS lock lives as long as this process holds it
            self.held = True
            if self.refreshed:
                self._stop.clear()
                threading.Thread(target=self._keep_fresh, daemon=True, name="flyp-lock-refresh").start()
            return
        raise FlypError(f"{self.path}: could not take the lock")

    def release(self) -> None:
        if self.held:
            self._stop.set()
            self.path.unlink(missing_ok=True)
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None
            self.held = False

    def _keep_fresh(self) -> None:
        while not self._stop.wait(REFRESH_S):
            try:
                os.utime(self.path)
            except OSError:
                return

    def _owner(self) -> dict | None:
        try:
            owner = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        return owner if isinstance(owner, dict) else None

    def _stale(self, owner: dict) -> bool:
        if owner.get("host") == socket.gethostname() and owner.get("flock"):
            dead = _holder_gone(self.path)
            if dead is not None:
                return dead
        if owner.get("host") != socket.gethostname():
            if not self.refreshed:
                return False  # another machine: trust it
            try:  # alive while it keeps the file fresh
                return time.time() - self.path.stat().st_mtime > STALE_AFTER_S
            except OSError:
                return True
        try:
            os.kill(int(owner.get("pid", -1)), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, ValueError, TypeError, OverflowError):
            return False
        return False


try:
    from fcntl import LOCK_EX as _LOCK_EX, LOCK_NB as _LOCK_NB, LOCK_UN as _LOCK_UN, flock as _flock
except ImportError:  # Windows: the process id alone decides
    _flock = None


def _holder_gone(path: Path) -> bool | None:
    """Whether the process that flocked `path` is gone (its OS lock could be taken), or None
    when the file system cannot say (no flock there)."""
    if _flock is None:
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True
    except OSError:
        return None
    try:
        _flock(fd, _LOCK_EX | _LOCK_NB)
        _flock(fd, _LOCK_UN)
        return True
    except BlockingIOError:
        return False
    except OSError:
        return None
    finally:
        os.close(fd)


def holder_alive(path: str | os.PathLike, refreshed: bool = False) -> bool:
    """Whether the lock file at `path` is held by a live process (False when there is none)."""
    lock = OwnedLock(path, refreshed)
    owner = lock._owner()
    return owner is not None and not lock._stale(owner)
