"""The layers (docs/architecture.md): the import-linter contracts of pyproject.toml, and what a
contract cannot say — no import cycles, the task adapters load no Qt in a fresh interpreter,
pages change the app state only through its setters."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_layer_contracts_hold():
    """pyproject.toml's import-linter contracts: the engine free of Qt, the app and its command
    line; the app free of torch, open_clip and torchvision even inside functions; the task
    adapters free of Qt; no page importing another."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports; "
                          "sys.exit(lint_imports(no_cache=True, no_logo=True))"],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


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

    code = ("import sys, flyp_app.caches, flyp_app.blend_tasks, flyp_app.data_tasks, flyp_app.train_tasks, "
            "flyp_app.try_tasks, flyp_app.compare_tasks, flyp_app.window_tasks, flyp_app.label_tasks, "
            "flyp_app.check_tasks, flyp_app.trust_tasks, flyp_app.explore_tasks, flyp_app.curves, flyp_app.words; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6', 'pyqtgraph')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def test_pages_change_the_app_state_only_through_its_setters():
    """No page, widget or window assigns AppState's fields or emits its signals itself."""
    bad = []
    for path in sorted((ROOT / "flyp_app").rglob("*.py")):
        if path.name in ("state.py", "image_review.py"):  # the state and its part, AppState.review
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
