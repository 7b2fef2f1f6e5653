"""A FLYP Studio project: the user's folders, names, templates, settings and runs, in one file.

The project file (`*.flyp.json`) is written atomically. A file that fails to parse, or holds a
value of the wrong type, is reported in one line and never overwritten. Folders and files inside
the project's folder are stored relative to the project file, so that a project moved or copied
with its folder (another disk, another machine) opens whole; in memory every path is absolute. A lock file beside it (`.NAME.lock`, holding the owner's PID and host)
keeps two app instances from editing the same project; a lock whose process is gone is stale
and taken over.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from core import atomic
from core.errors import FlypError
from core.locks import OwnedLock
from core.training.config import TrainConfig

SUFFIX = ".flyp.json"
FORMAT = 1


@dataclass
class Project:
    """Everything the user set. Paths are absolute in memory (or as given, before the project has a
    file); in the file, those inside the project's folder are relative to it."""

    name: str = "Untitled"
    train_dir: str = ""
    val_dir: str = ""
    ood_dirs: list[str] = field(default_factory=list)
    val_fraction: float = TrainConfig.val_fraction
    class_names: dict[str, str] = field(default_factory=dict)
    templates: list[str] = field(default_factory=lambda: ["a photo of a {}."])
    model: str = TrainConfig.model
    pretrained: str = ""
    settings: dict = field(default_factory=dict)  # TrainConfig fields the user changed
    # The automatic mode (core.training.auto) chooses lr, batch and epochs: the default of new
    # projects (a file that does not say, written before it existed, trains as its settings say).
    auto: bool = True
    budget_minutes: float = 0.0  # the automatic mode's time; 0: the default for the model, device and data
    runs: list[str] = field(default_factory=list)
    current_run: str = ""
    alpha: float = 0.5
    alpha_run: str = ""  # the run `alpha` was chosen for: another run opens at its own best α
    min_confidence: float = 0.5  # below it, sorting puts an image in `_uncertain` (Try; the Blend page's line)
    label_folder: str = ""      # the Label page's folder of unlabelled images
    label_move: bool = False    # the Label page moves images into class folders (default: copies them)
    label_keys: dict[str, str] = field(default_factory=dict)  # the Label page's keys the user chose: {folder: key}
    excluded: list[str] = field(default_factory=list)  # images left out of training, scans and checks
    kept: list[str] = field(default_factory=list)  # images the label check listed and the user kept as they are
    shortcut_concepts: list[str] = field(default_factory=list)  # the user's own, beside the check's default ones
    path: Path | None = field(default=None, compare=False, repr=False)

    def to_json(self, folder: Path | None = None) -> dict:
        """The file's content; paths inside `folder` (the project file's folder) made relative to it."""
        data = asdict(self)
        data.pop("path")
        if folder is not None:
            data = _map_paths(data, lambda p: _relative(p, folder))
        return {"format": FORMAT, **data}

    @classmethod
    def from_json(cls, data: dict, path: Path | None = None) -> "Project":
        """The project in `data`, every field checked: a wrong type is one FlypError naming it."""
        from core.training.config import check_settings, has_type, type_words

        where = str(path) if path is not None else "the project"
        known = {f.name: str(f.type) for f in fields(cls) if f.name != "path"}
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("auto", False)
        for name, value in values.items():
            if not has_type(value, known[name]):
                raise FlypError(f"{where}: {name!r} should be {type_words(known[name])}, not {value!r}; "
                                "the file was left as it is")
        if "alpha" in values and not 0.0 <= values["alpha"] <= 1.0:
            raise FlypError(f"{where}: 'alpha' should lie between 0 and 1, not {values['alpha']!r}; "
                            "the file was left as it is")
        _check_ranges(values, where)
        if "settings" in values:
            values["settings"] = check_settings(values["settings"], where)
        if path is not None:
            values = _map_paths(values, lambda p: _absolute(p, path.parent))
        project = cls(**values)
        project.path = path
        return project

    def resolve(self, stored: str) -> Path:
        """A stored path as an absolute path (relative ones are relative to the project file)."""
        p = Path(stored).expanduser()
        if not p.is_absolute() and self.path is not None:
            p = self.path.parent / p
        return p

    def runs_dir(self) -> Path:
        if self.path is None:
            from platformdirs import user_data_path

            return user_data_path("FLYP Studio", appauthor=False) / "runs"
        return self.path.parent / f"{self.path.name.removesuffix(SUFFIX)}-runs"


def _check_ranges(values: dict, where: str) -> None:
    """The project's values that the command line also takes, within the same bounds as its options:
    the budget, the held-out share, the caption templates, display names that tell classes apart."""
    from core.training.config import MAX_BUDGET_MINUTES
    from core.data.captions import validate_concept, validate_templates
    from core.file_fields import Fields, is_number

    fields = Fields(where, "the file was left as it is")
    if "budget_minutes" in values:
        fields.need("budget_minutes", values["budget_minutes"], lambda v: is_number(v, 0, MAX_BUDGET_MINUTES),
                    f"0 (the default) or a number of minutes up to {MAX_BUDGET_MINUTES}")
    if "min_confidence" in values:
        fields.need("min_confidence", values["min_confidence"], lambda v: is_number(v, 0, 1), "between 0 and 1")
    if "val_fraction" in values:
        fields.need("val_fraction", values["val_fraction"], lambda v: is_number(v) and 0 < v < 1, "between 0 and 1")
    if "templates" in values:
        try:
            validate_templates(values["templates"], where="template")
        except FlypError as exc:
            raise FlypError(f"{where}: field 'templates': {exc}; the file was left as it is") from None
    for i, concept in enumerate(values.get("shortcut_concepts", []), 1):
        try:
            validate_concept(concept, where=f"concept {i}")
        except FlypError as exc:
            raise FlypError(f"{where}: field 'shortcut_concepts': {exc}; the file was left as it is") from None
    keys = list(values.get("label_keys", {}).values())
    fields.need("label_keys", keys, lambda v: all(k == label_key(k) for k in v) and len(set(v)) == len(v),
                "a different key for each class: one letter, digit or sign")
    names = list(values.get("class_names", {}).values())
    fields.need("class_names", names, lambda v: len(set(v)) == len(v), "a different display name for each class")


def label_key(text: str) -> str:
    """`text` as a key of the Label page (one letter, digit or sign, letters in lower case), or ""
    when it cannot be one (empty, a space, several characters)."""
    key = text.strip().casefold()
    return key if len(key) == 1 and key.isprintable() else ""


PATH_FIELDS = ("train_dir", "val_dir", "current_run", "alpha_run")  # one path each ("" for none)
PATH_LIST_FIELDS = ("ood_dirs", "runs", "excluded", "kept")
WEIGHTS_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")  # `pretrained` names a file, not a tag


def _map_paths(values: dict, convert) -> dict:
    """`values` with `convert` applied to every stored path ("" stays "")."""
    values = dict(values)
    for key in PATH_FIELDS:
        if values.get(key):
            values[key] = convert(values[key])
    for key in PATH_LIST_FIELDS:
        if key in values:
            values[key] = [convert(p) for p in values[key]]
    pretrained = values.get("pretrained", "")
    if pretrained.lower().endswith(WEIGHTS_SUFFIXES):
        values["pretrained"] = convert(pretrained)
    return values


def _relative(stored: str, folder: Path) -> str:
    """`stored` relative to `folder` (with / between names) when it lies inside it, else unchanged."""
    path = Path(stored).expanduser()
    if not path.is_absolute():
        return stored
    for base in (folder, folder.resolve()):
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix() or "."
    return stored


def _absolute(stored: str, folder: Path) -> str:
    path = Path(stored).expanduser()
    return str(path) if path.is_absolute() else os.path.normpath(folder / path)


def load_project(path: str | os.PathLike) -> Project:
    """Read a project file; a damaged one raises FlypError and is left untouched."""
    path = Path(path).expanduser().resolve()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FlypError(f"{path}: no such project file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FlypError(f"{path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise FlypError(f"{path}: damaged project file (line {exc.lineno}: {exc.msg}); it was left as it is") from None
    except RecursionError:
        raise FlypError(f"{path}: damaged project file (nested too deep to read); it was left as it is") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise FlypError(f"{path}: not a FLYP Studio project file")
    try:
        return Project.from_json(data, path)
    except TypeError as exc:
        raise FlypError(f"{path}: damaged project file ({exc})") from None


def save_project(project: Project, path: str | os.PathLike | None = None) -> Path:
    """Write the project atomically (to `path`, or where it came from)."""
    target = Path(path or project.path or "").expanduser()
    if not str(target) or target == Path("."):
        raise FlypError("the project has no file yet; choose where to save it")
    if not target.name.endswith(SUFFIX):
        target = target.with_name(target.name + SUFFIX)
    atomic.write_json(target, project.to_json(target.resolve().parent))
    project.path = target.resolve()
    return project.path


class ProjectLock(OwnedLock):
    """An advisory lock on a project file, held while the app has it open."""

    def __init__(self, project_path: str | os.PathLike):
        project_path = Path(project_path)
        super().__init__(project_path.with_name(f".{project_path.name}.lock"))

    def busy(self, owner: dict) -> str:
        """Who has the project open and since when: "Mine.flyp.json is already open in FLYP Studio in
        another window on this computer since 14:02"."""
        where = ("in another window on this computer" if owner.get("host") == socket.gethostname()
                 else f"on the computer {owner.get('host')}")
        try:
            since = time.localtime(self.path.stat().st_mtime)  # the lock is written once, when taken
        except OSError:
            since = None
        if since is not None:
            same_day = time.strftime("%Y-%m-%d", since) == time.strftime("%Y-%m-%d")
            where += time.strftime(" since %H:%M" if same_day else " since %Y-%m-%d %H:%M", since)
        return f"{self.path.name[1:-5]} is already open in FLYP Studio {where}"


def add_runs_to_project(project_path: str | os.PathLike, run_dirs: list[str | os.PathLike]) -> Project:
    """List run folders in a project file (each once; the first becomes the current run if there is
    none), as `flyp train --project` and `flyp demo` do. FlypError when the file cannot be read or a
    FLYP Studio window has it open (it would overwrite the change)."""
    path = Path(project_path).expanduser()
    lock = ProjectLock(path.resolve())
    lock.acquire()
    try:
        project = load_project(path)
        new = [run for run in (str(Path(r).expanduser().absolute()) for r in run_dirs) if run not in project.runs]
        if new:
            project.runs += new
            project.current_run = project.current_run or new[0]
            save_project(project)
    finally:
        lock.release()
    return project


def recent_projects_file() -> Path:
    from platformdirs import user_config_path

    return user_config_path("FLYP Studio", appauthor=False) / "recent.json"


def recent_projects(limit: int = 10) -> list[Path]:
    try:
        items = json.loads(recent_projects_file().read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return []
    return [Path(p) for p in items if isinstance(p, str) and Path(p).is_file()][:limit]


def remember_project(path: str | os.PathLike, limit: int = 10) -> None:
    path = str(Path(path).resolve())
    items = [str(p) for p in recent_projects(limit) if str(p) != path]
    try:
        atomic.write_json(recent_projects_file(), [path, *items][:limit])
    except FlypError:
        pass  # a read-only config folder must not stop the app
