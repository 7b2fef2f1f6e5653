"""Advisory lock files that say who holds them: a project open in a window, a run being trained.

The lock is a small JSON file (`{"pid", "host"}`) created exclusively. A lock whose process is
gone (same machine, no such PID) is stale and taken over. A holder on another machine (a shared
drive) is trusted, except for `refreshed` locks (run folders, which cluster jobs share): their
holder refreshes the file's time every minute, and one left unrefreshed for five minutes is
stale too (a node that died, a job requeued elsewhere).
"""

from __future__ import annotations

import json
import os
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

    def busy(self, owner: dict) -> str:
        return f"{self.path}: held by process {owner.get('pid')} on {owner.get('host')}"

    def acquire(self) -> None:
        """Take the lock, or raise FlypError saying who holds it. A `refreshed` lock is kept
        fresh by a background thread until `release`."""
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is not None and not self._stale(owner):
                    raise FlypError(self.busy(owner)) from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
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
