"""The arrows of docs/architecture.md, enforced: notifications ← tickets ← recovery ← cxrecovery.

Parsed with ast (imports inside functions count too), so a wrong-way import fails here, not in review."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ("notifications", "tickets", "recovery", "cxrecovery")
# Who may import whom (besides itself). Everything else between these packages is a wrong-way arrow.
ALLOWED = {
    "notifications": set(),
    "tickets": {"notifications"},
    "recovery": {"tickets", "notifications"},
    "cxrecovery": {"recovery", "tickets", "notifications"},
}


def _modules(package: str) -> Iterator[tuple[str, Path]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        yield name, path


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


@pytest.mark.parametrize("package", APPS)
def test_apps_import_only_downwards(package):
    wrong = {
        name: sorted({m for m in _imports(path) if _top(m) in APPS and _top(m) != package
                      and _top(m) not in ALLOWED[package]})
        for name, path in _modules(package)
    }
    assert {name: mods for name, mods in wrong.items() if mods} == {}


def _layer_violations(layer: str, forbidden: str) -> dict[str, list[str]]:
    """Modules named `layer` (a file, or the files of a package) that import a module named `forbidden`."""
    wrong: dict[str, list[str]] = {}
    for package in ("tickets", "recovery", "notifications"):
        for name, path in _modules(package):
            if layer not in name.split("."):
                continue
            bad = sorted(m for m in _imports(path) if forbidden in m.split(".") and _top(m) in APPS)
            if bad:
                wrong[name] = bad
    return wrong


def test_selectors_never_import_services():
    assert _layer_violations("selectors", "services") == {}


def test_browser_views_never_import_api_modules():
    wrong = {
        name: bad
        for package in ("tickets", "recovery", "notifications")
        for name, path in _modules(package)
        if name.split(".")[-1].startswith("views") and "api" not in name.split(".")
        and (bad := sorted(m for m in _imports(path) if "api" in m.split(".") and _top(m) in APPS))
    }
    assert wrong == {}


def test_sub_domains_have_the_same_inner_shape():
    shape = {"__init__.py", "admin.py", "api.py", "demo.py", "forms.py", "panels.py", "selectors.py", "services",
             "tasks.py", "views.py"}
    for sub in ("escalation", "offers", "outcomes"):
        present = {p.name for p in (ROOT / "recovery" / sub).iterdir()}
        assert shape <= present, (sub, sorted(shape - present))


def test_no_import_cycle_between_product_modules():
    # given: the graph of module-level imports between product modules (imports inside functions are the
    # sanctioned way to break a cycle at import time, so they are left out here)
    modules = {name: path for package in APPS for name, path in _modules(package)}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text())
        targets: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                candidates = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            targets.update(c for c in candidates if c in modules and c != name)
        graph[name] = targets

    # when: looking for a cycle by depth-first search
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)

    # then: none, except Django's model registration: tickets.models imports tickets.helpdesks.models at its
    # end so the helpdesk models register with the app, and those import tickets.models' classes.
    assert [c for c in cycles if not all(m.endswith(".models") for m in c)] == []
