"""The package walls of DESIGN.md, read from the source with ``ast`` (nothing is imported).

Every import counts: at module level, inside functions and under ``TYPE_CHECKING``;
relative imports are resolved. ``mlengine`` has no import circle among its modules
(an edge to a package's ``__init__`` is not one: importing ``mlengine.nn.loop`` runs
``mlengine/nn/__init__.py`` first, which imports nothing back), it imports nothing of
``service`` or ``workers`` nor web, database or queue libraries, and ``service`` never
imports ``workers``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_ENGINE = ("service", "workers", "fastapi", "sqlalchemy", "celery", "starlette")


def _modules(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` (packages by their name)."""
    out: dict[str, Path] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path) -> set[str]:
    """Every dotted name ``name``'s file imports, anywhere in it (``from a import b``: both
    ``a`` and ``a.b``, as ``b`` may be a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def _resolve(target: str, modules: dict[str, Path]) -> str | None:
    """The module of ``modules`` that ``target`` names (or lies in), if any."""
    while target and target not in modules:
        target = target.rpartition(".")[0]
    return target or None


def _engine_graph() -> dict[str, set[str]]:
    modules = _modules("mlengine")
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = set()
        for target in _imports(name, path):
            module = _resolve(target, modules)
            if module is None or module == name or modules[module].name == "__init__.py":
                continue
            edges.add(module)
        graph[name] = edges
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def _offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for name, path in _modules(package).items():
        for target in sorted(_imports(name, path)):
            top = target.partition(".")[0]
            if top in forbidden:
                out.append(f"{name} imports {target}")
    return sorted(set(out))


def test_the_scan_sees_every_kind_of_import() -> None:
    graph = _engine_graph()
    assert "mlengine.spec" in graph["mlengine.validation"]  # module level
    assert "mlengine.evaluation" in graph["mlengine.nn.loop"]  # inside a function
    assert "mlengine.data" in graph["mlengine.context"]  # under TYPE_CHECKING
    assert "mlengine.nn.checkpoint" in graph["mlengine.nn.loop"]  # from package import module
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_engine_has_no_import_circle() -> None:
    circles = _circles(_engine_graph())
    assert not circles, "import circles in mlengine:\n" + "\n".join(
        " <-> ".join(c) for c in circles
    )


def test_engine_imports_no_service_workers_web_database_or_queue() -> None:
    offenders = _offenders("mlengine", FORBIDDEN_IN_ENGINE)
    assert not offenders, "mlengine must stay a pure library:\n" + "\n".join(offenders)


def test_service_does_not_import_workers() -> None:
    offenders = _offenders("service", ("workers",))
    assert not offenders, "service hands jobs over by task name only:\n" + "\n".join(offenders)
