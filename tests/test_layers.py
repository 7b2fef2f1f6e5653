"""The layers: the engine never imports Qt, the app or its own command line; the app never imports
torch at module level; no module imports itself back through others (docs/architecture.md)."""

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


def test_engine_does_not_import_its_command_line():
    bad = [(str(p.relative_to(ROOT)), m) for p, mods in imported_modules("core", False) for m in mods
           if (m == "core.cli" or m.startswith("core.cli.")) and "cli" not in p.relative_to(ROOT / "core").parts]
    assert bad == []


def test_every_core_package_says_what_it_is_for():
    for init in sorted((ROOT / "core").glob("*/__init__.py")):
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), init


def test_no_import_cycles():
    graph = module_graph(("core", "flyp_app"))
    assert find_cycles(graph) == []


def module_graph(folders) -> dict[str, set[str]]:
    """Each project module → the project modules it imports (function-level imports too); a
    module's imports of its own package (`from core.cli import data` inside `core.cli`) don't count."""
    files = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
             for folder in folders for p in (ROOT / folder).rglob("*.py")}
    graph = {}
    for module, path in files.items():
        graph[module] = set()
        for _, names in imported_modules_of(path):
            for name in names:
                while name and name not in files:
                    name = name.rpartition(".")[0]
                if name and name != module and not module.startswith(name + "."):
                    graph[module].add(name)
    return graph


def imported_modules_of(path: Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield path, [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield path, [node.module] + [f"{node.module}.{a.name}" for a in node.names]


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles: each a path that comes back to where it started."""
    cycles, done = [], set()

    def visit(module, path):
        if module in path:
            cycles.append(path[path.index(module):] + [module])
            return
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, path + [module])
        done.add(module)
    for module in sorted(graph):
        visit(module, [])
    return cycles


def test_the_apps_background_tasks_need_no_qt():
    import subprocess
    import sys

    code = ("import sys, flyp_app.tasks, flyp_app.label_tasks, flyp_app.check_tasks, flyp_app.curves, flyp_app.words; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_pages_change_the_app_state_only_through_its_setters():
    """No page, widget or window assigns AppState's fields or emits its signals itself."""
    bad = []
    for path in sorted((ROOT / "flyp_app").rglob("*.py")):
        if path.name == "state.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AugAssign) else []
            for target in (t for tt in targets for t in (tt.elts if isinstance(tt, ast.Tuple) else [tt])):
                if isinstance(target, ast.Attribute) and _reaches_state(target.value):
                    bad.append((path.name, node.lineno))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "emit" \
                    and isinstance(node.func.value, ast.Attribute) and _reaches_state(node.func.value.value):
                bad.append((path.name, node.lineno))
    assert bad == []


def _reaches_state(node) -> bool:
    """`self.state`, `state`, `self.state.project`, `window.state`…: the app state or its project."""
    while isinstance(node, ast.Attribute):
        if node.attr == "state":
            return True
        node = node.value
    return isinstance(node, ast.Name) and node.id == "state"
