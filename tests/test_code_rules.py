"""Rules of STYLE §3-§4 checked on the source (issue 7), parsed with ``ast`` like
``test_architecture``: every ``ApplicationError`` carries an enum code and a translated
message, application code has no ``assert`` (``python -O`` drops it), and no private
module-level function is dead.

The mutation run (``scripts/mutation.sh``) runs this file on its copy of the sources,
where each function also exists in mutated variants (``x_name__mutmut_3``): those are
planted bugs, not our code, and are left out.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ("qiportal", "centres", "indicators", "datasheets")  # fixtures/: build scripts, not the app
EVERYTHING = (*APPS, "fixtures", "bench", "scripts", "tests")
MUTANT_VARIANT = re.compile(r"__mutmut_\d+$")
GETTEXT = {"_", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy", "ngettext", "ngettext_lazy"}


def sources(packages: tuple[str, ...]) -> dict[str, str]:
    """Relative path -> source of the project's Python files under ``packages``."""
    found = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[str(path.relative_to(ROOT))] = path.read_text(encoding="utf-8")
    return found


def own_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """``ast.walk`` without the functions mutmut generated as mutated variants."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and MUTANT_VARIANT.search(node.name):
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def _is_gettext(node: ast.expr) -> bool:
    """``_("...")`` or ``_("... %(x)s") % {...}``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        node = node.left
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in GETTEXT


def application_error_problems(name: str, source: str) -> list[str]:
    """``ApplicationError(...)`` calls whose code is not an enum member (``X.Y``) or
    whose message is not a gettext call, as ``"path:line: reason"``."""
    problems: list[tuple[int, str]] = []
    for node in own_nodes(ast.parse(source)):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ApplicationError"):
            continue
        code = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "code"), None)
        if not isinstance(code, ast.Attribute):
            problems.append((node.lineno, f"{name}:{node.lineno}: code is not an enum member"))
        message = (
            node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "message"), None)
        )
        if message is not None and not _is_gettext(message):
            problems.append((node.lineno, f"{name}:{node.lineno}: message is not translated"))
    return [text for _line, text in sorted(problems)]


def assert_statements(name: str, source: str) -> list[str]:
    lines = sorted(node.lineno for node in own_nodes(ast.parse(source)) if isinstance(node, ast.Assert))
    return [f"{name}:{line}" for line in lines]


def unused_private_functions(modules: dict[str, str], everything: dict[str, str]) -> list[str]:
    """Module-level ``def _name`` of ``modules`` whose name occurs nowhere else in
    ``everything`` (as a name, an attribute or a string), as ``"path:name"``."""
    used: dict[str, int] = {}
    for source in everything.values():
        for node in ast.walk(ast.parse(source)):
            word = None
            if isinstance(node, ast.Name):
                word = node.id
            elif isinstance(node, ast.Attribute):
                word = node.attr
            elif isinstance(node, ast.alias):
                word = node.asname or node.name
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                word = node.value
            if word:
                used[word] = used.get(word, 0) + 1
    dead = []
    for name, source in modules.items():
        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("_"):
                if not node.name.startswith("__") and not used.get(node.name):
                    dead.append(f"{name}:{node.name}")
    return dead


@pytest.fixture(scope="module")
def app_sources():
    return sources(APPS)


def test_application_errors_carry_an_enum_code_and_a_translated_message(app_sources):
    assert sum(source.count("raise ApplicationError(") for source in app_sources.values()) >= 10  # looks at them
    problems = [p for name, source in app_sources.items() for p in application_error_problems(name, source)]
    assert problems == []


def test_no_assert_in_application_code(app_sources):
    assert [line for name, source in app_sources.items() for line in assert_statements(name, source)] == []


def test_no_dead_private_function(app_sources):
    assert unused_private_functions(app_sources, sources(EVERYTHING)) == []


# The checkers themselves must be able to fail.

FAKE = """
from qiportal.exceptions import ApplicationError
from django.utils.translation import gettext as _

def _used():
    return 1

def _dead():
    return _used()

def f(x):
    assert x
    raise ApplicationError("wrong_state", "Diese Revision wartet nicht.")

def g(x):
    raise ApplicationError(Code.WRONG_STATE, f"Datei {x} zu groß")

def h(x):
    raise ApplicationError(Code.SITE_FORBIDDEN, _("Year %(y)d") % {"y": x})

def i():
    raise ApplicationError(code=Code.WRONG_STATE)

def x_i__mutmut_1():  # a variant planted by the mutation run: ignored
    assert False
    raise ApplicationError(None, "XX")
"""


def test_checkers_find_string_codes_untranslated_messages_asserts_and_dead_functions():
    assert application_error_problems("fake.py", FAKE) == [
        "fake.py:13: code is not an enum member",
        "fake.py:13: message is not translated",
        "fake.py:16: message is not translated",
    ]
    assert assert_statements("fake.py", FAKE) == ["fake.py:12"]
    assert unused_private_functions({"fake.py": FAKE}, {"fake.py": FAKE}) == ["fake.py:_dead"]
