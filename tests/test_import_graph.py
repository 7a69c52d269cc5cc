"""The package's import graph: no module imports itself through others, and the runner stays below the film.

Every import that can run counts, at any depth (one inside a function still ties the two modules
together: a cycle there is only hidden until that function runs); one under ``if TYPE_CHECKING:``
never runs, it only names a type for the checker. ``from package import name`` is an
import of the module ``package.name`` when there is one, else of ``package``; importing a
module does not count as importing its parent packages, but naming a package does (its
``__init__`` runs), so a cycle through a package's re-exports counts.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "render_pipeline"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def known(name: str) -> str:
    """The module ``name`` runs: itself, or the nearest package above it (an attribute of that package)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def imports_in(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    type_checking = isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
    for child in node.orelse if type_checking else ast.iter_child_nodes(node):
        yield from imports_in(child)


def imported_by(module: str) -> set[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in imports_in(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: level 1 is the module's own package, 2 the one above it, ...
                parts = package.split(".")
                base = parts[:len(parts) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module
            names.update(f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source
                         for alias in node.names)
    return {known(name) for name in names if name == PACKAGE or name.startswith(PACKAGE + ".")} - {module}


GRAPH = {module: imported_by(module) for module in MODULES}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each group of modules that import each other (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = lowest[module] = len(index)
        stack.append(module)
        for imported in sorted(graph[module]):
            if imported not in index:
                visit(imported)
                lowest[module] = min(lowest[module], lowest[imported])
            elif imported in stack:
                lowest[module] = min(lowest[module], index[imported])
        if lowest[module] == index[module]:
            group = set()
            while module not in group:
                group.add(stack.pop())
            if len(group) > 1:
                groups.append(group)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return [_cycle_within(graph, group) for group in groups]


def _cycle_within(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """The shortest way from the group's first module back to itself, through the group only."""
    start = min(group)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for imported in sorted(graph[module] & group):
                if imported == start:
                    path = [module]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if imported not in came_from:
                    came_from[imported] = module
                    following.append(imported)
        frontier = following
    raise AssertionError(f"no cycle in {group}")


def within(module: str, part: str) -> bool:
    return module == f"{PACKAGE}.{part}" or module.startswith(f"{PACKAGE}.{part}.")


def test_the_resolution_reads_imports_at_any_depth():
    assert "render_pipeline.runner.jobs" in GRAPH["render_pipeline.runner.order"]  # at the top
    assert "render_pipeline.prompts.enhance" in GRAPH["render_pipeline.runner.jobs"]  # inside a function
    assert "render_pipeline" in GRAPH["render_pipeline.runner.jobs"]  # from render_pipeline import __version__
    assert "render_pipeline.backends.diffusion" not in GRAPH["render_pipeline.backends.windowed"]  # TYPE_CHECKING
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_module_imports_itself_through_others():
    found = cycles(GRAPH)
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(cycle) for cycle in found)


def test_the_runner_imports_neither_audio_nor_post():
    wrong = sorted(f"{module} imports {imported}" for module, imports in GRAPH.items() if within(module, "runner")
                   for imported in imports if within(imported, "audio") or within(imported, "post"))
    assert not wrong, "the runner renders shots; the film (render_pipeline/film/) adds sound and assembly:\n" + \
        "\n".join(wrong)


def test_no_module_is_over_400_lines():
    """A module longer than this holds more than one idea: split it by idea (CLAUDE.md)."""
    long = {str(path.relative_to(ROOT.parent)): lines for path in sorted(ROOT.rglob("*.py"))
            if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 400}
    assert not long, long
