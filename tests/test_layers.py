"""The engine never imports Qt or the app; the app never imports torch at module level."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QT = ("PySide6", "pyqtgraph", "flyp_app", "shiboken6")
HEAVY = ("torch", "open_clip", "torchvision")


def imported_modules(folder: str, top_level_only: bool):
    for path in sorted((ROOT / folder).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        nodes = tree.body if top_level_only else ast.walk(tree)
        for node in nodes:
            if isinstance(node, ast.Import):
                yield path, [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                yield path, [node.module]


def test_core_does_not_import_qt():
    bad = [(p.name, m) for p, mods in imported_modules("core", False) for m in mods if m.split(".")[0] in QT]
    assert bad == []


def test_app_imports_torch_only_lazily():
    if not (ROOT / "flyp_app").is_dir():
        return
    bad = [(p.name, m) for p, mods in imported_modules("flyp_app", True) for m in mods if m.split(".")[0] in HEAVY]
    assert bad == []
