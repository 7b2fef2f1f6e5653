"""The exceptions the engine raises on purpose."""


class FlypError(Exception):
    """Bad input or an unmet precondition that the user can fix.

    The message is one line that names the file, folder or option at fault and, where it
    helps, what would fix it. The command line prints it and exits with code 2; the app
    shows it inline on the page that caused it.
    """


class Cancelled(Exception):
    """The user cancelled long work; whatever was saved so far stays on disk."""


class WriteError(FlypError):
    """A file could not be written (full disk, no permission, I/O error).

    Writes are atomic, so what was on disk before is still there; `kept` says what that is.
    """

    def __init__(self, path, reason: str, kept: str = "the previous version is kept"):
        self.path, self.reason, self.kept = path, reason, kept
        super().__init__(f"could not write {path}: {reason}; {kept}")
