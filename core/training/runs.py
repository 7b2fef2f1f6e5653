"""A run's folder on disk: config, metrics log, checkpoints and the state that makes resume exact.

```
run.json                 config, data/template snapshot, status, zero-shot and best scores
metrics.jsonl            one JSON object per logged step or evaluation
checkpoints/best.safetensors, checkpoints/last.safetensors   model weights (no pickles)
state.safetensors        weights + optimiser moments + loop position, for `--resume`
state.previous.safetensors   the save before it: resume falls back to it when the last is damaged
.flyp.lock               held by the process training into the folder (who: PID and host)
```
Every file is written atomically; safetensors files carry a checksum (`core.checksums`);
`metrics.jsonl` is appended and, on resume, cut back to the last saved state so that it never
holds steps that are about to be redone.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import time
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from core import atomic, checksums
from core.errors import FlypError, WriteError
from core.locks import OwnedLock

if TYPE_CHECKING:  # reading run.json needs no torch: the app lists runs while torch loads
    import torch

FORMAT = 1
REQUIRED = ("status", "config", "classes", "class_names", "templates", "model")  # written when a run starts


def new_run_dir(runs_dir: Path, method: str) -> Path:
    """A readable, unused folder name such as "2026-11-29 0712 flyp"."""
    base = f"{time.strftime('%Y-%m-%d %H%M')} {method}"
    candidate, n = runs_dir / base, 2
    while candidate.exists():
        candidate, n = runs_dir / f"{base} ({n})", n + 1
    return candidate


class RunStatus(str, Enum):
    """What run.json's "status" says about a run: the one vocabulary of run states (each front end
    words them: `flyp_app.words.run_status_text`). The values are those run.json has always held."""

    RUNNING = "running"      # training now, or interrupted (its process died): resumable
    CANCELLED = "cancelled"  # stopped by the user, its state saved: resumable
    FINISHED = "finished"    # trained to its end, or stopped early (run.json's "stopped_early" says why)
    FAILED = "failed"        # diverged, or a write failed: run.json's "error" says why

    def __str__(self) -> str:  # run.json's word, in messages and JSON alike
        return self.value

    @property
    def resumable(self) -> bool:
        return self in (RunStatus.RUNNING, RunStatus.CANCELLED)

    @classmethod
    def of(cls, info: dict) -> "RunStatus | None":
        """The status recorded in a run's info (run.json), None when it holds none this version knows."""
        try:
            return cls(info.get("status"))
        except ValueError:
            return None


class RunDir:
    """Reading and writing one run folder."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path).expanduser()

    config_file = property(lambda self: self.path / "run.json")
    metrics_file = property(lambda self: self.path / "metrics.jsonl")
    state_file = property(lambda self: self.path / "state.safetensors")
    previous_state_file = property(lambda self: self.path / "state.previous.safetensors")
    best_file = property(lambda self: self.path / "checkpoints" / "best.safetensors")
    last_file = property(lambda self: self.path / "checkpoints" / "last.safetensors")

    # The files a run's writes replace (`core.atomic`), whose older versions' temporary copies,
    # named without `.flyp-`, are theirs to remove too; the α-curve cache is `core.weights.curve`'s.
    WRITTEN = ("run.json", "metrics.jsonl", "state.safetensors", "state.previous.safetensors", "best.safetensors",
               "last.safetensors", "blend_curve.json")

    def exists(self) -> bool:
        return self.config_file.is_file()

    def remove_leftovers(self) -> int:
        """Delete what writes killed mid-way left here (`core.atomic.remove_leftovers`), older
        versions' temporary copies of the run's own files included; only while holding the folder."""
        return atomic.remove_leftovers(self.path, older=self.WRITTEN)

    @contextlib.contextmanager
    def held(self) -> Iterator["RunDir"]:
        """Hold the folder (created if needed) for this process: a second process writing into
        it is refused with the holder's PID and host. A folder created here and left empty
        (the run failed before writing anything) is removed again."""
        created = not self.path.exists()
        if not created and not self.exists():
            _refuse_data_folder(self.path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            lock = _RunLock(self.path)
            lock.acquire()
        except OSError as exc:
            raise FlypError(f"{self.path}: cannot be used as a run folder ({_os_reason(exc)}); "
                            "choose another «out»") from None
        try:
            yield self
        finally:
            lock.release()
            if created:
                with contextlib.suppress(OSError):
                    self.path.rmdir()  # only when empty

    # run.json -----------------------------------------------------------------------------
    def read_info(self) -> dict:
        """run.json, checked; a run left `running` by a process that is gone (killed, a double
        Ctrl-C, a node lost) reads as stopped ("cancelled"): it resumes like any stopped run."""
        info = self._stored_info()
        if info["status"] == "running":
            from core.locks import holder_alive

            if not holder_alive(self.path / ".flyp.lock", refreshed=True):
                info["status"] = "cancelled"
        return info

    def _stored_info(self) -> dict:
        if not self.exists():
            raise FlypError(f"{self.path}: not a FLYP run folder (no run.json)")
        from core.file_fields import check_run_info, read_json

        info = read_json(self.config_file, "the file is left as it is")
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            raise FlypError(f"{self.config_file}: not a run file of this FLYP Studio version; the file is left as it is")
        missing = [key for key in REQUIRED if key not in info]
        if missing:
            raise FlypError(f"{self.config_file}: damaged, it lacks {', '.join(missing)}; the file is left as it is")
        return check_run_info(info, self.config_file)

    def write_info(self, info: dict) -> None:
        atomic.write_json(self.config_file, {"format": FORMAT, **info})

    def update_info(self, **changes: Any) -> dict:
        info = self._stored_info()
        info.update(changes)
        self.write_info(info)
        return info

    # metrics.jsonl --------------------------------------------------------------------------
    def append_metrics(self, record: dict) -> None:
        try:
            with open(self.metrics_file, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as exc:
            raise WriteError(self.metrics_file, exc.strerror or str(exc), "the records before it are kept") from None

    def read_metrics(self) -> list[dict]:
        """Every complete record; a torn last line (a crash mid-write) is ignored."""
        return list(_records(self.metrics_file))

    def truncate_metrics(self, after_step: int) -> Path | None:
        """Keep only records up to `after_step` (the saved state) before resuming.

        A torn last line is what a crash leaves and is dropped. Damage anywhere else is not
        the run's doing: the file is first copied aside, and the copy's path is returned.
        """
        copy = None
        if _damaged_lines(self.metrics_file):
            copy = self.metrics_file.with_name(f"metrics.damaged-{time.strftime('%Y%m%d-%H%M%S')}.jsonl")
            atomic.write_bytes(copy, self.metrics_file.read_bytes())
        kept = [r for r in self.read_metrics() if r.get("step", 0) <= after_step]
        atomic.write_text(self.metrics_file, "".join(json.dumps(r) + "\n" for r in kept))
        return copy

    # weights and state ----------------------------------------------------------------------
    def save_weights(self, which: str, state_dict: dict[str, torch.Tensor], meta: dict) -> None:
        path = self.best_file if which == "best" else self.last_file
        atomic.save_safetensors(state_dict, path, {"flyp": json.dumps(meta)})

    def weights_file(self, which: str) -> Path:
        path = self.best_file if which == "best" else self.last_file
        if not path.is_file():
            raise FlypError(f"{self.path}: has no {which} checkpoint yet (has the run evaluated once?)")
        return path

    def save_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Write the resumable state; the one it replaces stays as state.previous.safetensors."""
        _keep_previous(self.state_file, self.previous_state_file)
        atomic.save_safetensors(tensors, self.state_file, {"flyp": json.dumps(meta)})

    def load_state(self, note: Callable[[str], None] = lambda message: None) -> tuple[dict[str, torch.Tensor], dict] | None:
        """(tensors, metadata) of the resumable state, or None if the run never saved one.

        A damaged state file (unreadable, or its checksum does not match) is left as it is; the
        previous save is used instead, and `note` says so. With no good one, FlypError.
        """
        try:
            return self._read_state(self.state_file)
        except FileNotFoundError:
            if not self.previous_state_file.is_file():
                return None
            damage = f"{self.state_file} is missing"  # a crash between keeping the previous and writing
        except checksums.DamagedFile as exc:
            if not self.previous_state_file.is_file():
                raise FlypError(f"{exc}; the file is left as it is: start a new run, or move the file away to "
                                "restart this one from step 0") from None
            damage = str(exc)
        try:
            tensors, meta = self._read_state(self.previous_state_file)
        except (FileNotFoundError, checksums.DamagedFile) as exc:
            raise FlypError(f"{damage}, and so is the previous save ({exc}); both files are left as they are: "
                            "start a new run, or move them away to restart this one from step 0") from None
        note(f"{damage}; resuming from the previous save (step {meta['step']}), {self.previous_state_file.name}")
        return tensors, meta

    def _read_state(self, path: Path) -> tuple[dict[str, torch.Tensor], dict]:
        if not path.is_file():
            raise FileNotFoundError(path)
        tensors, metadata = checksums.read_verified(path)
        try:
            meta = json.loads(metadata["flyp"])
            missing = [key for key in STATE_KEYS if key not in meta]
        except (KeyError, TypeError, ValueError):
            meta, missing = None, ["its loop position"]
        if missing:
            raise FlypError(f"{path}: not a resume state of this run (it lacks {', '.join(missing)}); the file "
                            "is left as it is: start a new run, or move it away to restart this one from step 0")
        return tensors, {**meta, "file": str(path)}


STATE_KEYS = ("step", "best", "best_step", "optimizer")


class _RunLock(OwnedLock):
    def __init__(self, folder: Path):
        super().__init__(folder / ".flyp.lock", refreshed=True)

    def busy(self, owner: dict) -> str:
        return (f"{self.path.parent}: another flyp process is writing this run (process {owner.get('pid')} on "
                f"{owner.get('host')}); wait for it to end, or choose another «out»")


def _refuse_data_folder(folder: Path) -> None:
    """A folder that holds images (a class folder, a folder of class folders) is the user's data,
    not a run: writing a run's files into it would mix them into the data (and the next scan
    would find a class `checkpoints`)."""
    from core.data.images import is_image_name

    try:
        entries = list(folder.iterdir())
        holds_images = any(is_image_name(e) for e in entries if e.is_file()) or any(
            is_image_name(f) for e in entries if e.is_dir() and not e.name.startswith(".")
            for f in itertools.islice(e.iterdir(), 200))
    except OSError:
        return  # what cannot be listed is reported when it is used
    if holds_images:
        raise FlypError(f"{folder}: holds images (a data folder, not a run); choose another «out» for the run")


def _keep_previous(current: Path, previous: Path) -> None:
    """Make `previous` the file `current` is now, without a moment where `current` is missing
    (a hard link; where links are not supported, a copy)."""
    if not current.is_file():
        return
    with atomic.atomic_path(previous) as tmp:
        tmp.unlink()
        try:
            os.link(current, tmp)
        except OSError:
            import shutil

            shutil.copyfile(current, tmp)


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        return "a file is in the way"
    return exc.strerror or str(exc)


def run_name(path: str | os.PathLike, info: dict) -> str:
    """How lists name a run: its folder, or for a trial of the automatic mode (core.training.auto)
    its search's folder, then the trial's ("2026-11-30 2110 auto › 01 lr 0.0001")."""
    path = Path(path)
    if (info.get("auto") or {}).get("role") == "trial":
        return f"{path.parent.parent.name} › {path.name}"
    return path.name


def _records(path: Path) -> Iterator[dict]:
    if not path.is_file():
        return
    with open(path, encoding="utf-8", errors="replace") as f:  # a damaged byte spoils its line only
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record


def _damaged_lines(path: Path) -> int:
    """Lines that are not JSON objects, not counting a torn last line (a crash mid-append)."""
    if not path.is_file():
        return 0
    lines = path.read_bytes().splitlines(keepends=True)
    if lines and not lines[-1].endswith(b"\n"):
        lines.pop()
    return sum(1 for line in lines if line.strip() and not _is_record(line))


def _is_record(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return False



def split_optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    """AdamW's state as flat tensors (safetensors) plus the JSON-able rest."""
    import torch

    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, per_param in sd["state"].items():
        for key, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def join_optimizer_state(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for name, value in meta["scalars"].items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}
