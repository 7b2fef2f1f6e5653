"""A FLYP Studio project: the user's folders, names, templates, settings and runs, in one file.

The project file (`*.flyp.json`) is written atomically. A file that fails to parse is reported
and never overwritten. A lock file beside it (`.NAME.lock`, holding the owner's PID and host)
keeps two app instances from editing the same project; a lock whose process is gone is stale
and taken over.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from core import atomic
from core.errors import FlypError
from core.locks import OwnedLock

SUFFIX = ".flyp.json"
FORMAT = 1


@dataclass
class Project:
    """Everything the user set. Paths are stored as given (absolute, or relative to the file)."""

    name: str = "Untitled"
    train_dir: str = ""
    val_dir: str = ""
    ood_dirs: list[str] = field(default_factory=list)
    val_fraction: float = 0.2
    class_names: dict[str, str] = field(default_factory=dict)
    templates: list[str] = field(default_factory=lambda: ["a photo of a {}."])
    model: str = "demo"
    pretrained: str = ""
    settings: dict = field(default_factory=dict)  # TrainConfig fields the user changed
    runs: list[str] = field(default_factory=list)
    current_run: str = ""
    alpha: float = 0.5
    path: Path | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("path")
        return {"format": FORMAT, **data}

    @classmethod
    def from_json(cls, data: dict, path: Path | None = None) -> "Project":
        """The project in `data`, every field checked: a wrong type is one FlypError naming it."""
        from core.training.config import check_settings

        where = str(path) if path is not None else "the project"
        known = {f.name: str(f.type) for f in fields(cls) if f.name != "path"}
        values = {k: v for k, v in data.items() if k in known}
        for name, value in values.items():
            if not _has_type(value, known[name]):
                raise FlypError(f"{where}: {name!r} should be {TYPE_WORDS[known[name]]}, not {value!r}; "
                                "the file was left as it is")
        if "alpha" in values and not 0.0 <= values["alpha"] <= 1.0:
            raise FlypError(f"{where}: 'alpha' should lie between 0 and 1, not {values['alpha']!r}; "
                            "the file was left as it is")
        if "settings" in values:
            values["settings"] = check_settings(values["settings"], where)
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


TYPE_WORDS = {"str": "text", "float": "a number", "list[str]": "a list of texts",
              "dict[str, str]": "a mapping of texts", "dict": "a mapping"}


def _has_type(value, kind: str) -> bool:
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    if kind == "list[str]":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "dict[str, str]":
        return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    return isinstance(value, {"str": str, "dict": dict}.get(kind, object))


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
    atomic.write_json(target, project.to_json())
    project.path = target.resolve()
    return project.path


class ProjectLock(OwnedLock):
    """An advisory lock on a project file, held while the app has it open."""

    def __init__(self, project_path: str | os.PathLike):
        project_path = Path(project_path)
        super().__init__(project_path.with_name(f".{project_path.name}.lock"))

    def busy(self, owner: dict) -> str:
        return (f"{self.path.name[1:-5]} is already open in another FLYP Studio window "
                f"(process {owner.get('pid')} on {owner.get('host')})")


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
