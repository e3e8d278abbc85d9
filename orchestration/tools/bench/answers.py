"""The same-answer check: a benchmark's query on the mart and its raw twin on the source tables
must return the same rows, else the run fails naming the benchmark."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg

from orchestration.lib.database import ConnectionSettings
from orchestration.tools.bench.catalog import BenchmarkQuery
from orchestration.tools.bench.options import Progress
from orchestration.tools.bench.warehouse import session

# Columns whose value is the time of the refresh or of the query, not part of the answer.
VOLATILE_COLUMN = re.compile(r"refreshed|computed_at|generated_at", re.IGNORECASE)


class AnswerMismatch(AssertionError):
    """A mart and its raw twin answer a benchmark's question differently."""

    def __init__(self, benchmarks: Sequence[str], message: str) -> None:
        super().__init__(message)
        self.benchmarks = list(benchmarks)


@dataclass
class Answer:
    columns: list[str]
    rows: list[tuple]


def fetch_answer(conn: psycopg.Connection, sql_text: str) -> Answer:
    cursor = conn.execute(sql_text)
    columns = [column.name for column in cursor.description or []]
    return Answer(columns=columns, rows=[tuple(row) for row in cursor.fetchall()])


def normalize(value: Any) -> Any:
    """A comparable, hashable form: numbers to 6 decimals, arrays to tuples, JSON sorted."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, (float, Decimal)):
        number = float(value)
        if math.isnan(number):
            return "NaN"
        return round(number, 6) + 0.0
    if isinstance(value, (list, tuple)):
        return tuple(normalize(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, default=str)
    return value


def _describe_row(columns: Sequence[str], row: tuple, limit: int = 600) -> str:
    text = ", ".join(f"{column}={value!r}" for column, value in zip(columns, row, strict=False))
    return "(" + (text if len(text) <= limit else text[: limit - 3] + "...") + ")"


def compare_answers(benchmark: str, mart: Answer, raw: Answer) -> dict[str, Any]:
    """Compare two answers as multisets of rows, ignoring volatile columns; raise when they differ.

    Columns are matched by name when both answers have the same names, else by position.
    """
    mart_keep = [i for i, name in enumerate(mart.columns) if not VOLATILE_COLUMN.search(name)]
    raw_keep = [i for i, name in enumerate(raw.columns) if not VOLATILE_COLUMN.search(name)]
    mart_names = [mart.columns[i] for i in mart_keep]
    raw_names = [raw.columns[i] for i in raw_keep]
    if sorted(mart_names) == sorted(raw_names) and len(set(mart_names)) == len(mart_names):
        raw_order = [raw_keep[raw_names.index(name)] for name in mart_names]
        matched = "by name"
    elif len(mart_names) == len(raw_names):
        raw_order = raw_keep
        matched = "by position"
    else:
        raise AnswerMismatch(
            [benchmark],
            f"benchmark {benchmark}: the mart and the raw query return different columns:"
            f" mart {mart_names}, raw {raw_names}",
        )
    mart_rows = [tuple(normalize(row[i]) for i in mart_keep) for row in mart.rows]
    raw_rows = [tuple(normalize(row[i]) for i in raw_order) for row in raw.rows]
    mart_count, raw_count = Counter(mart_rows), Counter(raw_rows)
    if mart_count != raw_count:
        only_mart = mart_count - raw_count
        only_raw = raw_count - mart_count
        side, sample = (
            ("mart", next(iter(only_mart))) if only_mart else ("raw", next(iter(only_raw)))
        )
        raise AnswerMismatch(
            [benchmark],
            f"benchmark {benchmark}: the mart and the raw query answer differently"
            f" ({len(mart_rows):,} mart rows, {len(raw_rows):,} raw rows;"
            f" only in the mart: {sum(only_mart.values()):,},"
            f" only in the raw answer: {sum(only_raw.values()):,})."
            f" A row only in the {side} answer: {_describe_row(mart_names, sample)}",
        )
    ignored = sorted({name for name in mart.columns + raw.columns if VOLATILE_COLUMN.search(name)})
    return {
        "rows": len(mart_rows),
        "columns_compared": len(mart_names),
        "columns_matched": matched,
        "ignored_columns": ignored,
        "same_order": mart_rows == raw_rows,
    }


def check_same_answer(
    conn: psycopg.Connection, benchmark: str, mart_sql: str, raw_sql: str
) -> dict[str, Any]:
    """Run both queries and compare their rows; AnswerMismatch names the benchmark."""
    return compare_answers(benchmark, fetch_answer(conn, mart_sql), fetch_answer(conn, raw_sql))


def check_all_answers(
    settings: ConnectionSettings, benchmarks: Sequence[BenchmarkQuery], log: Progress
) -> dict[str, dict[str, Any]]:
    """Check every benchmark; one AnswerMismatch listing every benchmark that differs."""
    results: dict[str, dict[str, Any]] = {}
    failures: list[AnswerMismatch] = []
    with session(settings) as conn:
        for benchmark in benchmarks:
            try:
                results[benchmark.name] = check_same_answer(
                    conn, benchmark.name, benchmark.sql, benchmark.raw_sql
                )
            except AnswerMismatch as error:
                failures.append(error)
                log("answers", f"FAIL {error}")
                continue
            log(
                "answers",
                f"{benchmark.name}: mart and raw agree on {results[benchmark.name]['rows']:,} rows",
            )
    if failures:
        names = [name for failure in failures for name in failure.benchmarks]
        raise AnswerMismatch(names, "\n".join(str(failure) for failure in failures))
    return results
