"""Text that goes on one line of output (a terminal, a log, a CSV row), whatever it holds."""

from __future__ import annotations

import unicodedata

_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def shown(text) -> str:
    """`text` (a name, a message) safe to print on one line: control characters and line
    separators are escaped (`\\n`, `\\x1b`), so that a file named `x\\nflyp: error: …` cannot
    forge a line of output."""
    text = str(text)
    if all(c.isprintable() or c == " " for c in text):
        return text
    return "".join(_ESCAPES.get(c) or (c.encode("unicode_escape").decode("ascii")
                                       if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c) for c in text)
