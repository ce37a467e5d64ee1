"""Dependencies run one way (docs/DESIGN.md, "Layout"): the import graph of ``src/guidedrl`` has no cycle.

The graph is read from the source with ``ast``, not by importing: every ``import`` and
``from ... import`` statement counts, at module level or inside a function (a lazy import is a
dependency too), except those under ``if TYPE_CHECKING:``, which Python never executes.

An edge goes to the module Python would execute for the statement: ``from guidedrl.x import
name`` depends on ``guidedrl.x.name`` when that is a module, else on ``guidedrl.x``. Importing
``guidedrl.a.b`` also executes the package ``guidedrl/a/__init__.py`` first, so it depends on
``guidedrl.a`` too, unless ``guidedrl.a`` is the importing module itself or one of its own
packages (those are already being executed when the importer runs, so importing a sibling does
not run them again). An explicit import of a package's own ``__init__`` (``from guidedrl import
__version__``) is an edge like any other.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

import guidedrl

ROOT = Path(guidedrl.__file__).resolve().parent
PACKAGE = ROOT.name


def module_names(root: Path = ROOT) -> Dict[str, Path]:
    """Every module of the package by dotted name (a package by the name of its ``__init__``)."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


class _Imports(ast.NodeVisitor):
    """(line, dotted target, imported names or None) of every executed import statement."""

    def __init__(self):
        self.found: List[Tuple[int, str, Optional[List[str]], int]] = []

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for child in node.orelse:
                self.visit(child)
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.append((node.lineno, alias.name, None, 0))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.found.append((node.lineno, node.module or "", [a.name for a in node.names], node.level))


def _absolute(importer: str, is_package: bool, module: str, level: int) -> str:
    if level == 0:
        return module
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _known(name: str, modules: Dict[str, Path]) -> Optional[str]:
    """The longest prefix of ``name`` that is a module of the package."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def import_graph(modules: Optional[Dict[str, Path]] = None) -> Dict[str, Dict[str, int]]:
    """``graph[importer][imported]`` = the first line of ``importer`` that makes the edge."""
    modules = module_names() if modules is None else modules
    graph: Dict[str, Dict[str, int]] = {name: {} for name in modules}
    for importer, path in modules.items():
        is_package = path.name == "__init__.py"
        own_packages = {".".join(importer.split(".")[:end]) for end in range(1, importer.count(".") + 1)}
        if is_package:
            own_packages.add(importer)
        visitor = _Imports()
        visitor.visit(ast.parse(path.read_text(), str(path)))
        for line, module, names, level in visitor.found:
            module = _absolute(importer, is_package, module, level)
            if module != PACKAGE and not module.startswith(PACKAGE + "."):
                continue
            if names is None or "*" in names:
                targets = [module]
            else:
                targets = [f"{module}.{n}" if f"{module}.{n}" in modules else module for n in names]
            for target in targets:
                target = _known(target, modules)
                if target is None:
                    continue
                parts = target.split(".")
                implied = [".".join(parts[:end]) for end in range(1, len(parts))]
                for dependency in [target] + [p for p in implied if p not in own_packages]:
                    if dependency != importer:
                        graph[importer].setdefault(dependency, line)
    return graph


def find_cycles(graph: Dict[str, Dict[str, int]]) -> List[List[str]]:
    """The shortest cycle through each module that is on one (each cycle once, whichever module
    it was found from), over every strongly connected component of more than one module."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components: List[Set[str]] = []

    def connect(node: str) -> None:  # Tarjan; the package is small enough for recursion
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                connect(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            connect(node)
    cycles: List[List[str]] = []
    for component in components:
        for start in sorted(component):
            cycle = _shortest_cycle(graph, component, start)
            if not any(set(cycle) == set(known) for known in cycles):
                cycles.append(cycle)
    return cycles


def _shortest_cycle(graph: Dict[str, Dict[str, int]], component: Set[str], start: str) -> List[str]:
    """The shortest cycle from ``start`` back to it inside its strongly connected ``component``."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node]):
                if nxt == start:
                    return paths[node] + [start]
                if nxt in component and nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"{start} is in a strongly connected component but on no cycle")


def describe(cycle: List[str], graph: Dict[str, Dict[str, int]]) -> str:
    """``a (line 3) -> b (line 9) -> a``: each module with the line that imports the next."""
    steps = [f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])]
    return " -> ".join(steps + [cycle[-1]])


def test_the_graph_sees_lazy_imports_and_implied_packages():
    graph = import_graph()
    # a function-level import in the CLI, and the package its module implies
    assert "guidedrl.experiments.runner" in graph["guidedrl.cli"]
    assert "guidedrl.experiments" in graph["guidedrl.cli"]
    # a package importing its own submodule does not depend on itself
    assert "guidedrl.guidance" not in graph["guidedrl.guidance.sag"]
    assert "guidedrl.guidance.none" in graph["guidedrl.guidance.sag"]


def test_cycles_are_found(tmp_path):
    package = tmp_path / PACKAGE
    (package / "a").mkdir(parents=True)
    (package / "__init__.py").write_text("from guidedrl.a.b import thing\n__version__ = '0'\n")
    (package / "a" / "__init__.py").write_text("")
    (package / "a" / "b.py").write_text("def thing():\n    from guidedrl import __version__\n")
    (package / "c.py").write_text("from . import a\n")
    graph = import_graph(module_names(package))
    assert graph["guidedrl.c"] == {"guidedrl.a": 1}
    assert find_cycles(graph) == [["guidedrl", "guidedrl.a.b", "guidedrl"]]


def test_no_import_cycles():
    graph = import_graph()
    cycles = find_cycles(graph)
    assert not cycles, "import cycles (module (line of the import) -> ...):\n" + "\n".join(
        describe(cycle, graph) for cycle in cycles)


def test_no_module_imports_the_package_init():
    """``guidedrl/__init__`` only re-exports; a module importing from it depends on everything."""
    graph = import_graph()
    importers = [f"{name} (line {edges[PACKAGE]})" for name, edges in sorted(graph.items())
                 if PACKAGE in edges and name != PACKAGE]
    assert not importers, f"modules importing the {PACKAGE} package itself: {', '.join(importers)}"
