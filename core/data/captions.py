"""Captions: templates with a `{}` placeholder, presets, and class display names.

One convention: a template holds exactly one `{}` where the class name goes
(`"a photo of a {}."`); literal braces are written `{{` and `}}`, as in Python's `str.format`.
"""

from __future__ import annotations

import json
import re
import string
from functools import lru_cache
from pathlib import Path

from core.errors import FlypError
from core.resources import resource_path


def validate_template(template: str, where: str = "template") -> str:
    """Return `template` stripped if it has exactly one `{}` placeholder, else raise FlypError."""
    text = template.strip()
    if not text:
        raise FlypError(f"{where} is empty")
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(text)
                  if name is not None]
    except ValueError:
        raise FlypError(f"{where} {text!r} has a stray brace; write literal braces as {{{{ or }}}}") from None
    if not fields:
        raise FlypError(f"{where} {text!r} has no {{}} placeholder for the class name")
    if len(fields) > 1:
        raise FlypError(f"{where} {text!r} has {len(fields)} placeholders; use exactly one {{}}")
    name, spec, conversion = fields[0]
    if spec or conversion is not None:  # `{:>5000000000}` would make every caption gigabytes long
        raise FlypError(f"{where} {text!r}: write the placeholder as a bare {{}}, without a format spec or "
                        "conversion (for a literal brace, write {{ or }})")
    if name:
        raise FlypError(f"{where} {text!r}: write the placeholder as {{}}, not {{{name}}}")
    return text


def validate_concept(words: str, where: str = "concept") -> str:
    """A shortcut concept the user gave (`core.checks.shortcuts`), its spaces collapsed: plain words
    ("a ruler") or a caption with one `{}` for the class ("a sketch of a {} on paper"). FlypError
    naming `where` when it is empty or its braces are not one bare `{}`."""
    text = " ".join(words.split())
    if not text:
        raise FlypError(f"{where} is empty")
    if "{" in text or "}" in text:
        return validate_template(text, where)
    return text


def validate_templates(templates: list[str], where: str = "template") -> list[str]:
    """Validate every template (numbered in messages) and drop exact repeats."""
    if not templates:
        raise FlypError("no caption templates given")
    checked = [validate_template(t, f"{where} {i}") for i, t in enumerate(templates, 1)]
    return list(dict.fromkeys(checked))


def fill(template: str, classname: str) -> str:
    """The caption of one class: "a photo of a {}." with "elephant" reads "a photo of an elephant."."""
    text = template.format(classname)
    fields = [literal for literal, name, _, _ in string.Formatter().parse(template) if name is not None]
    before = fields[0] if len(fields) == 1 else ""  # the text before the placeholder, braces unescaped
    if re.search(r"(^|\W)[Aa]\s+$", before) and _vowel_sound(classname):
        cut = before.rstrip()
        return text[:len(cut)] + "n" + text[len(cut):]
    return text


def _vowel_sound(word: str) -> bool:
    """Whether "an" goes before `word` (by its spelling: an elephant, an hour, a unicorn, a one-eyed cat)."""
    w = word.strip().lower()
    if w.startswith(("uni", "use", "usu", "ure", "uti", "eu", "ew", "one", "once")):
        return False
    return w[:1] in ("a", "e", "i", "o", "u") or w.startswith(("hour", "honest", "honou", "heir"))


def captions_for(classname: str, templates: list[str]) -> list[str]:
    return [fill(t, classname) for t in templates]


@lru_cache(maxsize=1)
def presets() -> dict[str, dict]:
    """The shipped presets: {name: {"description": ..., "templates": [...]}}."""
    return json.loads(resource_path("presets", "templates.json").read_text(encoding="utf-8"))


def load_templates(spec: str | None) -> list[str]:
    """Templates from a preset name, a text file (one per line, `#` comments) or a JSON list.

    None means the "simple" preset. Raises FlypError naming the preset or file at fault.
    """
    if spec is None:
        spec = "simple"
    if spec in presets():
        return list(presets()[spec]["templates"])
    path = Path(spec).expanduser()
    if not path.is_file():
        raise FlypError(f"«templates» {spec!r} is neither a preset ({', '.join(presets())}) nor a file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlypError(f"{path}: cannot read templates ({exc})") from None
    if path.suffix.lower() == ".json":
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FlypError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        if isinstance(items, dict):
            items = items.get("templates")
        if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
            raise FlypError(f"{path}: expected a JSON list of template strings")
    else:
        items = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return validate_templates(items, where=f"{path.name}: template")


def display_name(folder_name: str) -> str:
    """A readable class name from a folder name: `golden_retriever` → `golden retriever`.

    WordNet ids such as `n01440764` are kept as they are: only the user knows the name.
    """
    text = re.sub(r"[_\s]+", " ", folder_name).strip()
    unnumbered = re.sub(r"^\d+[ .)]+", "", text)  # "03 cat", "3. cat" → "cat"
    return unnumbered if re.search(r"[^\W\d]", unnumbered) else text


def resolve_class_names(classes: list[str], names: dict[str, str] | None = None) -> list[str]:
    """Display names for `classes` (folder names), overridden by `names`; checked non-empty."""
    names = names or {}
    resolved = []
    for folder in classes:
        name = (names.get(folder) or display_name(folder)).strip()
        if not name:
            raise FlypError(f"class folder {folder!r} leaves no class name for captions; rename it or give it "
                            "a display name («class_names» FILE with a line folder=name)")
        resolved.append(name)
    return resolved


def load_class_names(path: str | Path) -> dict[str, str]:
    """Read display names from JSON (`{"folder": "name"}`) or text lines `folder=name`."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FlypError(f"{path}: cannot read class names ({exc})") from None
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FlypError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise FlypError(f"{path}: expected a JSON object mapping folder names to class names")
        return data
    names = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "=" not in line:
            raise FlypError(f"{path}:{n}: expected 'folder=class name'")
        key, value = line.split("=", 1)
        names[key.strip()] = value.strip()
    return names
