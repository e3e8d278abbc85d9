"""The three layers of orchestration/ import one way only (tool -> code location -> library),
the library never imports Dagster, and no Python module names a dbt model.

Each rule is a function over a source tree, run here on the project and, to show it can fail, on
a small tree that breaks it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.lib.settings import PROJECT_ROOT

PACKAGE = "orchestration"
# Rank of each layer: an import may only point to the same rank or a lower one.
LAYERS = {"lib": 0, "defs": 1, "definitions": 1, "tools": 2}
DAGSTER_PACKAGES = ("dagster", "dagster_dbt", "dagster_postgres", "dagster_webserver")


def _modules(root: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every module a file imports, at any depth (inside functions too), absolute names."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def grain_violations(root: Path) -> list[str]:
    """Imports against the grain, and Dagster imported by the library, as readable lines."""
    found = []
    for module, path in _modules(root):
        layer = _layer(module)
        if layer is None:
            continue
        for line, imported in _imports(path):
            where = f"{path.relative_to(root)}:{line}"
            target = _layer(imported) if imported.startswith(f"{PACKAGE}.") else None
            if target is not None and LAYERS[target] > LAYERS[layer]:
                found.append(f"{where}: {layer} imports {target} ({imported})")
            if layer == "lib" and imported.split(".")[0] in DAGSTER_PACKAGES:
                found.append(f"{where}: the library imports {imported}")
    return sorted(set(found))


def _docstrings(tree: ast.AST) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0].value))
    return ids


def model_names(root: Path) -> set[str]:
    """Every dbt model's name (a versioned model's file is ``<name>_v<N>.sql``)."""
    names = set()
    for path in (root / "models").rglob("*.sql"):
        stem = path.stem
        base, _, version = stem.rpartition("_v")
        names.add(base if base and version.isdigit() else stem)
    return names


def model_names_in_python(root: Path) -> list[str]:
    """String literals (docstrings aside) in orchestration/ that name a dbt model."""
    names = model_names(root)
    found = []
    for _, path in _modules(root):
        tree = ast.parse(path.read_text(), filename=str(path))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
            ):
                words = set(node.value.replace(".", " ").replace(",", " ").split())
                for name in sorted(words & names):
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {name}")
    return sorted(found)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


# -- the project ------------------------------------------------------------------------------


def test_imports_point_one_way_and_the_library_has_no_dagster() -> None:
    assert grain_violations(PROJECT_ROOT) == []


def test_every_module_belongs_to_a_layer() -> None:
    loose = [
        module
        for module, _ in _modules(PROJECT_ROOT)
        if module != PACKAGE and _layer(module) is None
    ]
    assert loose == []


def test_no_python_module_names_a_model() -> None:
    assert len(model_names(PROJECT_ROOT)) > 50
    assert model_names_in_python(PROJECT_ROOT) == []


# -- the gates fail when they should ----------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"orchestration/lib/a.py": "def f():\n    from orchestration.tools import cli\n"},
            "orchestration/lib/a.py:2: lib imports tools (orchestration.tools)",
        ),
        (
            {"orchestration/defs/a.py": "from orchestration.tools.bench import run\n"},
            "orchestration/defs/a.py:1: defs imports tools (orchestration.tools.bench)",
        ),
        (
            {"orchestration/lib/a.py": "import dagster\n"},
            "orchestration/lib/a.py:1: the library imports dagster",
        ),
        (
            {"orchestration/lib/a.py": "from dagster_dbt import DbtProject\n"},
            "orchestration/lib/a.py:1: the library imports dagster_dbt",
        ),
        (
            {"orchestration/definitions.py": "from orchestration import tools\n"},
            "orchestration/definitions.py:1: definitions imports tools (orchestration.tools)",
        ),
    ],
    ids=["lib-to-tool", "defs-to-tool", "lib-dagster", "lib-dagster-dbt", "definitions-to-tool"],
)
def test_an_import_against_the_grain_fails(tmp_path: Path, files: dict, expected: str) -> None:
    root = _tree(tmp_path, files)
    assert expected in grain_violations(root)


def test_imports_with_the_grain_pass(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "orchestration/tools/a.py": "from orchestration.defs import b\nimport dagster\n",
            "orchestration/defs/b.py": "from orchestration.lib import c\nimport dagster\n",
            "orchestration/lib/c.py": "import psycopg\n",
        },
    )
    assert grain_violations(root) == []


def test_a_model_name_in_python_fails(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "models/marts/mv_example_v1.sql": "select 1",
            "models/staging/stg_example.sql": "select 1",
            "orchestration/tools/a.py": (
                '"""Docs may say mv_example."""\n'
                'MARTS = ("mv_example", "other")\n'
                'SQL = "select * from value_view.stg_example"\n'
            ),
        },
    )
    assert model_names_in_python(root) == [
        "orchestration/tools/a.py:2: mv_example",
        "orchestration/tools/a.py:3: stg_example",
    ]
