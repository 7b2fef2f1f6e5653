"""The exceptions the engine raises on purpose, and how their messages name the user's settings."""

from __future__ import annotations

import re
from typing import Any, Callable

# A setting named in a message, by its engine name: «lr», «batch_size», «pretrained». Each front
# end words it: the command line as its option (--lr), the app as the label on screen.
SETTING = re.compile(r"«([a-z_0-9]+)»")
CLI_NAMES = {"train_dir": "--train", "val_dir": "--val", "ood_dirs": "--ood", "test_dir": "--test",
             "weights_file": "--pretrained FILE",
             "offline_mode": "offline mode (HF_HUB_OFFLINE)"}


def cli_name(setting: str) -> str:
    """A setting as the command line names it: `batch_size` → `--batch-size`."""
    return CLI_NAMES.get(setting, "--" + setting.replace("_", "-"))


def worded(text: str, name_of: Callable[[str], str] = cli_name) -> str:
    """`text` with each «setting» in a front end's words (by default the command line's)."""
    return SETTING.sub(lambda m: name_of(m.group(1)), text)


class FlypError(Exception):
    """Bad input or an unmet precondition that the user can fix.

    The message is one line that names the file, folder or setting at fault and, where it
    helps, what would fix it. Settings appear in it as «name»; `worded(name_of)` puts each front
    end's words for them in, and `str()` gives the command line's. The command line prints it
    and exits with code 2; the app shows it, in its own words, on the page that caused it.
    `setting`, `expected` and `found` say which setting was wrong, when one was.
    """

    def __init__(self, message: str, *, setting: str | None = None, expected: str | None = None,
                 found: Any = None):
        super().__init__(message)
        self.setting, self.expected, self.found = setting, expected, found

    def worded(self, name_of: Callable[[str], str]) -> str:
        return worded(str(self.args[0]) if self.args else "", name_of)

    def __str__(self) -> str:
        return self.worded(cli_name)


class SettingError(FlypError):
    """One setting's value is outside what it accepts."""

    def __init__(self, setting: str, expected: str, found: Any):
        super().__init__(f"«{setting}»: must be {expected} (got {found!r})", setting=setting, expected=expected,
                         found=found)

    def __reduce__(self):  # crosses DataLoader worker processes whole
        return SettingError, (self.setting, self.expected, self.found)


class FileError(FlypError):
    """A file that cannot be used, with its `path` and the `reason` as fields (the message is
    "PATH: REASON"): a folder scan lists the reason beside the path without parsing the message."""

    def __init__(self, path, reason: str):
        self.path, self.reason = str(path), reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self):  # crosses DataLoader worker processes whole
        return FileError, (self.path, self.reason)


def file_reason(exc: FlypError) -> str:
    """Why a file cannot be used, for a list that shows its path beside: a FileError's reason,
    else the whole message."""
    return exc.reason if isinstance(exc, FileError) else str(exc)


class Cancelled(Exception):
    """The user cancelled long work; whatever was saved so far stays on disk."""


class WriteError(FlypError):
    """A file could not be written (full disk, no permission, I/O error).

    Writes are atomic, so what was on disk before is still there; `kept` says what that is.
    """

    def __init__(self, path, reason: str, kept: str = "the previous version is kept"):
        self.path, self.reason, self.kept = path, reason, kept
        super().__init__(f"could not write {path}: {reason}; {kept}")

    def __reduce__(self):
        return WriteError, (self.path, self.reason, self.kept)


def first_line(exc: BaseException) -> str:
    """An exception's first line, for a one-line message that quotes it (its type's name when it says nothing)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` is the accelerator (or PyTorch on the CPU) running out of memory. Backends
    without torch.OutOfMemoryError raise a RuntimeError saying so: that is the one message read."""
    return type(exc).__name__ == "OutOfMemoryError" or (isinstance(exc, RuntimeError) and "out of memory" in str(exc))
