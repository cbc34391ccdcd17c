"""Import direction of the apps (STYLE §4): ``centres`` <- ``indicators`` <- ``datasheets``,
an arrow meaning "is imported by".

The modules are parsed with ``ast`` (nothing is imported), so a violation anywhere, also
inside a function, fails here. Besides direct imports, the closure over project modules
is checked: ``centres`` importing a ``qiportal`` module that imports ``datasheets`` would
drag ``datasheets`` in just the same. URL names in templates and strings are not imports.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT_PACKAGES = ("qiportal", "centres", "indicators", "datasheets", "fixtures")

# app -> apps it must not import (directly or through other project modules)
FORBIDDEN = {
    "centres": {"indicators", "datasheets"},
    "indicators": {"datasheets"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_sources() -> dict[str, tuple[Path, str]]:
    """Module name -> (path, source) of every project module."""
    sources = {}
    for package in PROJECT_PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            sources[module_name(path)] = (path, path.read_text(encoding="utf-8"))
    return sources


def imports_of(module: str, source: str, *, is_package: bool = False) -> list[tuple[str, int]]:
    """Absolute names a module imports, with line numbers. Relative imports are
    resolved; ``from a import b`` yields ``a`` and ``a.b`` (b may be a module)."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.append((base, node.lineno))
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def with_parents(name: str) -> list[str]:
    """``a.b.c`` -> ``a``, ``a.b``, ``a.b.c``: importing a module runs its packages."""
    parts = name.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def import_graph(sources: dict[str, tuple[Path, str]]) -> dict[str, set[str]]:
    """Module -> project modules it imports directly (packages included)."""
    graph = {}
    for module, (path, source) in sources.items():
        targets = set()
        for name, _line in imports_of(module, source, is_package=path.name == "__init__.py"):
            targets.update(n for n in with_parents(name) if n in sources and n != module)
        graph[module] = targets
    return graph


def violations(app: str, sources: dict[str, tuple[Path, str]]) -> list[str]:
    """Direct imports of ``app``'s modules that break the direction, as
    ``"centres/views.py:24 imports datasheets.forms"``."""
    out = []
    for module, (path, source) in sources.items():
        if module.split(".")[0] != app:
            continue
        for name, line in imports_of(module, source, is_package=path.name == "__init__.py"):
            if name.split(".")[0] in FORBIDDEN[app]:
                out.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    return sorted(set(out))


def transitive_violations(app: str, sources: dict[str, tuple[Path, str]]) -> list[str]:
    """Forbidden modules reachable from ``app``'s modules through project modules, as
    ``"centres.views -> qiportal.views -> datasheets.tables"``."""
    graph = import_graph(sources)
    out = []
    for start in (m for m in sources if m.split(".")[0] == app):
        paths = {start: [start]}
        queue = [start]
        while queue:
            current = queue.pop(0)
            for target in sorted(graph[current]):
                if target in paths:
                    continue
                paths[target] = paths[current] + [target]
                if target.split(".")[0] in FORBIDDEN[app]:
                    out.append(" -> ".join(paths[target]))
                else:
                    queue.append(target)
    return sorted(out)


@pytest.fixture(scope="module")
def sources():
    return project_sources()


@pytest.mark.parametrize("app", sorted(FORBIDDEN))
def test_app_imports_no_app_above_it(app, sources):
    assert any(m.split(".")[0] == app for m in sources)
    assert violations(app, sources) == []


@pytest.mark.parametrize("app", sorted(FORBIDDEN))
def test_app_reaches_no_app_above_it_through_project_modules(app, sources):
    assert transitive_violations(app, sources) == []


def test_domain_imports_no_django(sources):
    path, source = sources["indicators.domain"]
    names = [name for name, _line in imports_of("indicators.domain", source)]
    assert not [n for n in names if n.split(".")[0] == "django"]


# The checker itself must be able to fail.

FAKE_PROJECT = {
    "centres": (Path("centres/__init__.py"), ""),
    "centres.views": (Path("centres/views.py"), "from qiportal.portal import PortalMixin\n"),
    "centres.tables": (Path("centres/tables.py"), "def f():\n    from ..datasheets import tables\n"),
    "qiportal": (Path("qiportal/__init__.py"), ""),
    "qiportal.portal": (Path("qiportal/portal.py"), "from datasheets.selectors import revision_list\n"),
    "datasheets": (Path("datasheets/__init__.py"), ""),
    "datasheets.selectors": (Path("datasheets/selectors.py"), ""),
    "datasheets.tables": (Path("datasheets/tables.py"), ""),
}


def fake_sources() -> dict[str, tuple[Path, str]]:
    return {module: (ROOT / path, source) for module, (path, source) in FAKE_PROJECT.items()}


def test_checker_finds_a_direct_import_inside_a_function():
    assert violations("centres", fake_sources()) == [
        "centres/tables.py:2 imports datasheets",
        "centres/tables.py:2 imports datasheets.tables",
    ]


def test_checker_finds_an_import_through_a_project_module():
    assert "centres.views -> qiportal.portal -> datasheets.selectors" in transitive_violations(
        "centres", fake_sources()
    )
    assert "centres.tables -> datasheets" in transitive_violations("centres", fake_sources())


def test_relative_imports_are_resolved():
    assert imports_of("indicators.views", "from .selectors import x\nfrom . import domain\n") == [
        ("indicators.selectors", 1),
        ("indicators.selectors.x", 1),
        ("indicators", 2),
        ("indicators.domain", 2),
    ]
