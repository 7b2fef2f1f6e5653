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


def first_names(names, shown_at_most: int) -> str:
    """The first `shown_at_most` of `names`, quoted, then how many more: "'cat', 'dog' and 3 more"."""
    names = list(names)
    more = f" and {len(names) - shown_at_most} more" if len(names) > shown_at_most else ""
    return ", ".join(map(repr, names[:shown_at_most])) + more
