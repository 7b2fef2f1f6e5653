"""Labelled image folders: scanning, problems found, the validation split, evaluation sets.

A dataset is a folder of class folders (`train/tench/*.jpg`, nested folders allowed). Class
keys are the folder names; display names for captions live in `core.data.captions`.
"""

from __future__ import annotations

import hashlib
import os
import random
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Collection

from core.data.captions import display_name
from core.errors import FlypError, file_reason
from core.data.images import IMAGE_EXTENSIONS, load_rgb, page_count, read_image_bytes, special_file_reason
from core.progress import Progress, check_cancel, no_cancel, no_progress
from core.training.config import TrainConfig

IGNORED_NAMES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


NAMELESS = "leaves no class name for captions"
NAMELESS_FOLDER = "nameless folder"  # a Problem's kind: a warning that «class_names» answers


@dataclass(frozen=True)
class Sample:
    """One usable image and the index of its class in the dataset's class list."""

    path: Path
    label: int


@dataclass(frozen=True)
class Problem:
    """A file skipped, or something suspicious about a folder, with the reason in words."""

    path: str
    reason: str
    kind: str = ""  # what code may act on (NAMELESS_FOLDER); the reason is only ever shown

    def to_json(self) -> dict:
        return {"path": self.path, "reason": self.reason}


@dataclass
class FolderScan:
    """What `scan_folder` found: usable images by class, and every file it skipped."""

    root: Path
    classes: list[str]
    samples: list[Sample]
    skipped: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    digests: dict[Path, str] = field(default_factory=dict, repr=False)

    def counts(self) -> dict[str, int]:
        counted = Counter(s.label for s in self.samples)
        return {name: counted[i] for i, name in enumerate(self.classes)}

    def check_usable(self) -> None:
        """Raise FlypError unless at least two classes have usable images."""
        if len(self.classes) < 2:
            found = f"only {self.classes[0]!r}" if self.classes else "none"
            raise FlypError(
                f"{self.root}: needs at least two class folders with usable images (found {found}); "
                "put each class's images in its own sub-folder"
            )

    def to_json(self) -> dict:
        return {
            "root": str(self.root),
            "classes": self.counts(),
            "images": len(self.samples),
            "skipped": [p.to_json() for p in self.skipped],
            "warnings": [p.to_json() for p in self.warnings],
        }


def scan_folder(
    root: str | os.PathLike,
    *,
    verify: bool = True,
    exclude: Collection[str] = (),
    progress: Progress = no_progress,
    cancel: Callable[[], bool] = no_cancel,
) -> FolderScan:
    """Find the class folders and images under `root` and check that each image decodes.

    Unreadable, truncated, empty or oversized files, files outside class folders and files
    that are not images are skipped with a reason; the scan keeps going. Hidden files and
    system files (`.DS_Store`, `Thumbs.db`) are ignored. Linked folders are followed, except a
    link back to a folder already scanned (a loop), which is reported. Files in `exclude` (the
    project's excluded images, see `excluded_key`) are skipped as such. Raises FlypError if
    `root` is not a readable folder.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FlypError(f"{root}: no such folder" if not root.exists() else f"{root}: not a folder")
    skipped: list[Problem] = []
    warnings: list[Problem] = []
    seen = {os.path.realpath(root)}  # real paths of the folders scanned (or about to be)
    class_dirs = _class_folders(root, skipped, seen)
    candidates = {entry.name: _image_files(entry, skipped, seen) for entry in class_dirs}
    if exclude:
        exclude = {excluded_key(p) for p in exclude}
        candidates = {name: _leave_out(paths, exclude, skipped) for name, paths in candidates.items()}
    checked = _check_images([p for paths in candidates.values() for p in paths], verify, progress, cancel)
    classes, samples, digests = [], [], {}
    for name in sorted(candidates):
        usable = []
        for path in candidates[name]:
            digest, reason, pages = checked[path]
            if reason:
                skipped.append(Problem(str(path), reason))
            else:
                usable.append(path)
                digests[path] = digest
                if pages > 1:
                    warnings.append(Problem(str(path), f"a TIFF of {pages} pages: only its first page is used"))
        if not usable:
            warnings.append(Problem(str(root / name), f"class folder {name!r} has no usable images; left out"))
            continue
        samples += [Sample(path, len(classes)) for path in usable]
        classes.append(name)
    warnings += [Problem(str(root / c), f"class folder {c!r} {NAMELESS}; rename it or give it a display name",
                         NAMELESS_FOLDER) for c in classes if not display_name(c)]
    return FolderScan(root, classes, samples, skipped, warnings, digests)


@dataclass
class ImageScan:
    """What `scan_images` found in a folder of unlabelled images: usable files (with the digests
    of their content) and every file it skipped, with the reason."""

    root: Path
    files: list[Path]
    digests: dict[Path, str]
    skipped: list[Problem] = field(default_factory=list)


def scan_images(root: str | os.PathLike, *, progress: Progress = no_progress,
                cancel: Callable[[], bool] = no_cancel) -> ImageScan:
    """Every usable image under `root`, at any depth, checked as `scan_folder` checks a class
    folder's images (the same reasons for what is skipped). FlypError if `root` is not a folder."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FlypError(f"{root}: no such folder" if not root.exists() else f"{root}: not a folder")
    skipped: list[Problem] = []
    candidates = _image_files(root, skipped, {os.path.realpath(root)})
    checked = _check_images(candidates, True, progress, cancel)
    files, digests = [], {}
    for path in candidates:
        digest, reason, _pages = checked[path]  # a multi-page TIFF gives its first page, as in training
        if reason:
            skipped.append(Problem(str(path), reason))
        else:
            files.append(path)
            digests[path] = digest
    return ImageScan(root, files, digests, skipped)


def _listdir(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except PermissionError:
        raise FlypError(f"{folder}: folder is not readable (permission denied)") from None
    except OSError as exc:
        raise FlypError(f"{folder}: folder cannot be listed ({exc.strerror or exc})") from None


_LOOP = "link to a folder that is scanned already (a loop, or a second link to it); not followed"


def _ignored(name: str) -> bool:
    return name.startswith(".") or name in IGNORED_NAMES


def _not_a_file(path: Path) -> str:
    """The true reason a path is no file to read: a broken link, or what it is (a pipe, a device…)."""
    try:
        return special_file_reason(path) or "not a regular file"
    except OSError:
        return "broken or looping symbolic link" if path.is_symlink() else "not a regular file"


def _class_folders(root: Path, skipped: list[Problem], seen: set[str]) -> list[Path]:
    """The folders directly under `root`; any other entry there is reported."""
    folders = []
    for entry in _listdir(root):
        if _ignored(entry.name):
            continue
        if not entry.is_dir():
            skipped.append(Problem(str(entry), "not inside a class folder" if entry.is_file() else _not_a_file(entry)))
        elif _first_visit(entry, seen, skipped):
            folders.append(entry)
    return folders


def excluded_key(path: str | os.PathLike) -> str:
    """How an excluded image is recorded and matched: its absolute path."""
    return os.path.abspath(os.path.expanduser(path))


def _leave_out(paths: list[Path], exclude: Collection[str], skipped: list[Problem]) -> list[Path]:
    kept = []
    for path in paths:
        if excluded_key(path) in exclude:
            skipped.append(Problem(str(path), "excluded from the project"))
        else:
            kept.append(path)
    return kept


def _image_files(class_dir: Path, skipped: list[Problem], seen: set[str]) -> list[Path]:
    """Image files under `class_dir`, following linked folders once (`seen`: real paths)."""
    files = []
    for dirpath, dirnames, filenames in os.walk(class_dir, followlinks=True, onerror=lambda e: skipped.append(
            Problem(str(e.filename), f"folder cannot be read ({e.strerror})"))):
        dirnames[:] = [d for d in sorted(dirnames) if not _ignored(d) and _first_visit(Path(dirpath) / d, seen, skipped)]
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if _ignored(name):
                continue
            if path.is_symlink() and not path.exists():  # a link loop is a link loop, whatever its name
                skipped.append(Problem(str(path), _not_a_file(path)))
            elif path.suffix.lower() not in IMAGE_EXTENSIONS:
                skipped.append(Problem(str(path), f"not an image file ({path.suffix or 'no extension'})"))
            elif not path.is_file():  # never open a pipe or a device: reading it could block forever
                skipped.append(Problem(str(path), _not_a_file(path)))
            else:
                files.append(path)
    return files


def _first_visit(folder: Path, seen: set[str], skipped: list[Problem]) -> bool:
    real = os.path.realpath(folder)
    if real in seen:
        skipped.append(Problem(str(folder), _LOOP))
        return False
    seen.add(real)
    return True


def _check_images(paths, verify, progress, cancel) -> dict[Path, tuple[str, str | None, int]]:
    """Return {path: (content digest, reason it is unusable or None, pages)}, decoding in threads."""
    results: dict[Path, tuple[str, str | None, int]] = {}

    def check(path: Path) -> tuple[str, str | None, int]:
        try:
            data = read_image_bytes(path)
        except FlypError as exc:
            return "", file_reason(exc), 1
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        if verify:
            try:
                load_rgb(path, draft_size=64, data=data)
            except FlypError as exc:
                return digest, file_reason(exc), 1
        return digest, None, page_count(path, data)

    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:
        for i, (path, result) in enumerate(zip(paths, pool.map(check, paths))):
            results[path] = result
            if i % 64 == 0:
                check_cancel(cancel)
                progress(i, len(paths))
    progress(len(paths), len(paths))
    return results


@dataclass
class Datasets:
    """The training set, its validation set and the named OOD evaluation sets."""

    classes: list[str]
    train: list[Sample]
    val: list[Sample]
    ood: dict[str, list[Sample]]
    val_from_split: bool
    problems: list[Problem]
    test: list[Sample] = field(default_factory=list)  # held out from every choice: evaluated once, at the end

    def name_classes(self, names: dict[str, str]) -> None:
        """Forget the warnings about folders that leave no class name, for those given one."""
        self.problems = [p for p in self.problems if not (p.kind == NAMELESS_FOLDER and Path(p.path).name in names)]

    def eval_sets(self) -> dict[str, list[Sample]]:
        """The sets evaluated during training: "id" first, then each OOD set by name."""
        return {"id": self.val, **self.ood}

    def summary(self) -> dict:
        return {
            "classes": self.classes,
            "train": len(self.train),
            "val": len(self.val),
            "val_from_split": self.val_from_split,
            "ood": {name: len(s) for name, s in self.ood.items()},
            "test": len(self.test),
            "problems": [p.to_json() for p in self.problems],
        }


def load_datasets(
    train_dir: str | os.PathLike,
    val_dir: str | os.PathLike | None = None,
    ood_dirs: list[str | os.PathLike] = (),
    *,
    val_fraction: float = TrainConfig.val_fraction,
    seed: int = 0,
    exclude: Collection[str] = (),
    progress: Progress = no_progress,
    cancel: Callable[[], bool] = no_cancel,
    test_dir: str | os.PathLike | None = None,
    test_fraction: float = 0.0,
) -> Datasets:
    """Scan the training folder and the evaluation folders and match their classes by name.

    Without `val_dir`, a seeded stratified `val_fraction` of each class is held out. Images of
    an evaluation folder whose class the training folder lacks are skipped with a reason.
    Images in `exclude` are left out of every folder. The test set (`test_dir`, or a stratified
    `test_fraction` of the training folder, held out first with a fixed seed so that runs of any
    `seed` are tested on the same images) is never evaluated during training. Raises FlypError
    when the training folder has fewer than two usable classes.
    """
    if not 0.0 < val_fraction < 1.0:
        raise FlypError(f"«val_fraction» must be between 0 and 1 (got {val_fraction})")
    scan = scan_folder(train_dir, exclude=exclude, progress=progress, cancel=cancel)
    scan.check_usable()
    problems = scan.skipped + scan.warnings
    samples, test = _test_set(scan, test_dir, test_fraction, exclude, problems, cancel)
    if val_dir is not None:
        val_scan = scan_folder(val_dir, exclude=exclude, cancel=cancel)
        train, val = samples, _match_classes(val_scan, scan.classes, problems)
        val = _without_copies(val, scan, val_scan, problems, "validation")
    else:
        train, val = stratified_split(samples, val_fraction, seed)
        train, val = _copies_to_training(scan, train, val, problems)
        problems += [Problem(str(Path(train_dir) / c), f"class {c!r} has one image: none left for validation")
                     for c, n in scan.counts().items() if n == 1]
    ood: dict[str, list[Sample]] = {}
    for folder in ood_dirs:
        name = _unique_name(Path(folder).name or str(folder), ood)
        ood_scan = scan_folder(folder, exclude=exclude, cancel=cancel)
        ood[name] = _without_copies(_match_classes(ood_scan, scan.classes, problems), scan, ood_scan, problems,
                                    "evaluation")
    return Datasets(scan.classes, train, val, ood, val_dir is None, problems, test)



def load_run_datasets(config: dict, *, with_ood: bool = True, cancel: Callable[[], bool] = no_cancel,
                      named_in: str | None = None) -> Datasets:
    """A run's datasets found again from its config (run.json's): the same split, exclusions and test
    set, so that a later blend or export never validates on an image the run trained or is tested on.
    `named_in` (e.g. "the run's run.json"): where the config was read, named with the field when
    one of its folders is gone (else the folder alone is named, as for a folder the user gave)."""
    if named_in:
        _check_named_folders(config, with_ood, named_in)
    return load_datasets(config["train_dir"], config["val_dir"], config["ood_dirs"] if with_ood else [],
                         val_fraction=config["val_fraction"], seed=config["seed"], exclude=config.get("exclude", ()),
                         cancel=cancel, test_dir=config.get("test_dir"), test_fraction=config.get("test_fraction", 0.0))


def _check_named_folders(config: dict, with_ood: bool, named_in: str) -> None:
    named = [("train_dir", config["train_dir"]), ("val_dir", config["val_dir"]), ("test_dir", config.get("test_dir"))]
    named += [("ood_dirs", folder) for folder in config["ood_dirs"]] if with_ood else []
    for field, folder in named:
        if folder is not None and not Path(folder).expanduser().is_dir():
            what = "no such folder" if not Path(folder).expanduser().exists() else "not a folder"
            raise FlypError(f"{folder}: {what}; {named_in} names it (field 'config.{field}'): the folder was moved "
                            "or renamed since the run was trained; put it back there to use this run")


TEST_SPLIT_SEED = 1234  # the test share does not move with the run's seed: every run is tested on the same images


def _test_set(scan: FolderScan, test_dir, test_fraction: float, exclude: Collection[str], problems: list[Problem],
              cancel) -> tuple[list[Sample], list[Sample]]:
    """(the training folder's samples left for training and validation, the test set)."""
    if test_dir is not None:
        test_scan = scan_folder(test_dir, exclude=exclude, cancel=cancel)
        test = _match_classes(test_scan, scan.classes, problems)
        return scan.samples, _without_copies(test, scan, test_scan, problems, "the test set")
    if not test_fraction:
        return scan.samples, []
    if not 0.0 < test_fraction < 1.0:
        raise FlypError(f"«test_fraction» must be between 0 and 1 (got {test_fraction})")
    rest, test = stratified_split(scan.samples, test_fraction, TEST_SPLIT_SEED)
    return _copies_to_training(scan, rest, test, problems, "the test set")


def _match_classes(scan: FolderScan, classes: list[str], problems: list[Problem]) -> list[Sample]:
    problems += scan.skipped + scan.warnings
    index = {name: i for i, name in enumerate(classes)}
    matched = []
    for s in scan.samples:
        name = scan.classes[s.label]
        if name in index:
            matched.append(Sample(s.path, index[name]))
    unknown = [c for c in scan.classes if c not in index]
    for c in unknown:
        problems.append(Problem(str(scan.root / c), f"class {c!r} is not a training class; its images are skipped"))
    missing = [c for c in classes if c not in scan.classes]
    if missing:
        problems.append(Problem(str(scan.root), f"no images for class(es) {', '.join(map(repr, missing))}"))
    if not matched:
        raise FlypError(f"{scan.root}: none of its class folders matches a training class "
                        f"({', '.join(classes[:5])}{', …' if len(classes) > 5 else ''})")
    return matched


def _without_copies(samples: list[Sample], train: FolderScan, other: FolderScan, problems: list[Problem],
                    role: str) -> list[Sample]:
    """`samples` less the images identical to a training image: evaluating them would count what
    the model was trained on (the Data page lists them as left out, and so they are)."""
    seen = {d: p for p, d in train.digests.items()}
    copies = {p for p, d in other.digests.items() if d in seen}
    problems += [Problem(str(p), f"same image as {seen[other.digests[p]]} in the training folder; left out of {role}")
                 for p in sorted(copies, key=str)]
    return [s for s in samples if s.path not in copies]


def _copies_to_training(scan: FolderScan, train: list[Sample], val: list[Sample], problems: list[Problem],
                        role: str = "validation") -> tuple[list[Sample], list[Sample]]:
    """Move the held-out images identical to a training image into training: validating on them
    would count what the model was trained on."""
    in_train = {}
    for s in train:
        in_train.setdefault(scan.digests[s.path], s.path)
    copies = [s for s in val if scan.digests[s.path] in in_train]
    problems += [Problem(str(s.path), f"same image as {in_train[scan.digests[s.path]]}, which the split put in "
                                      f"training; left out of {role}") for s in copies]
    moved = {s.path for s in copies}
    return train + copies, [s for s in val if s.path not in moved]


def _unique_name(name: str, taken: dict) -> str:
    candidate, i = name, 2
    while candidate in taken or candidate == "id":
        candidate, i = f"{name}-{i}", i + 1
    return candidate


def stratified_split(samples: list[Sample], val_fraction: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Split each class by `val_fraction` with a seeded shuffle; a class of one stays in train."""
    by_class: dict[int, list[Sample]] = defaultdict(list)
    for s in samples:
        by_class[s.label].append(s)
    rng = random.Random(seed)
    train, val = [], []
    for label in sorted(by_class):
        items = sorted(by_class[label], key=lambda s: str(s.path))
        rng.shuffle(items)
        n_val = 0 if len(items) < 2 else min(len(items) - 1, max(1, round(len(items) * val_fraction)))
        val += items[:n_val]
        train += items[n_val:]
    return train, val
