"""The VITAL source schema, ``vital_schema.sql``: its statements, split so the indexes can be built
after the load, and each table's columns in the order the DDL declares them (the column lists of
the COPY statements, and the order in which the row generators yield values)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

DDL_PATH = Path(__file__).with_name("vital_schema.sql")

INDEX = re.compile(r"create\s+(unique\s+)?index\b", re.IGNORECASE)
CREATE_TABLE = re.compile(r"create\s+table\s+(\w+)\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)
# A table element that is a constraint rather than a column.
CONSTRAINT = re.compile(
    r"(constraint|primary\s+key|unique|check|foreign\s+key|exclude)\b", re.IGNORECASE
)


@cache
def statements() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The DDL's statements split into (types and tables, indexes), comments left out."""
    lines = [
        line for line in DDL_PATH.read_text().splitlines() if not line.lstrip().startswith("--")
    ]
    parts = [part.strip() for part in "\n".join(lines).split(";") if part.strip()]
    indexes = tuple(part for part in parts if INDEX.match(part))
    return tuple(part for part in parts if not INDEX.match(part)), indexes


def _elements(body: str) -> list[str]:
    """The comma-separated elements of a ``create table`` body (commas inside parentheses kept)."""
    elements: list[str] = []
    depth = start = 0
    for position, char in enumerate(body):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            elements.append(body[start:position].strip())
            start = position + 1
    elements.append(body[start:].strip())
    return [element for element in elements if element]


def parse_table(statement: str) -> tuple[str, tuple[str, ...]] | None:
    """The table name and column names of a ``create table`` statement; None for any other.

    Table constraints (``unique (...)``, ``check (...)``, ...) are not columns; a quoted column
    name (``"timestamp"``) is returned unquoted.
    """
    match = CREATE_TABLE.match(statement)
    if match is None:
        return None
    names = tuple(
        element.split()[0].strip('"')
        for element in _elements(match.group(2))
        if not CONSTRAINT.match(element)
    )
    return match.group(1), names


@cache
def table_columns() -> dict[str, tuple[str, ...]]:
    """Every table's column names, in declaration order, by table name."""
    tables = (parse_table(statement) for statement in statements()[0])
    return dict(table for table in tables if table is not None)


def columns(table: str) -> tuple[str, ...]:
    """The columns of ``table``, in declaration order."""
    try:
        return table_columns()[table]
    except KeyError:
        raise KeyError(f"{DDL_PATH.name} declares no table {table!r}") from None
