"""The warehouse of one scale: a database of its own (``<prefix>_s<scale>``) with deterministic
demo data, a cold ``dbt build`` of the marts, and what the manifest then says to measure."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from orchestration.lib import database
from orchestration.lib import manifest as project
from orchestration.lib.database import ConnectionSettings
from orchestration.tools.bench import dbt
from orchestration.tools.bench.catalog import (
    BenchmarkQuery,
    MaterializedView,
    collect_benchmarks,
    collect_views,
    quote_ident,
)
from orchestration.tools.bench.options import BenchOptions, Progress
from orchestration.tools.demo_data import load_demo_data

STATEMENT_TIMEOUT_MS = 600_000


@dataclass
class Warehouse:
    scale: int
    settings: ConnectionSettings
    manifest: Mapping[str, Any]
    benchmarks: list[BenchmarkQuery]
    views: list[MaterializedView]
    load_seconds: float | None
    build_seconds: float
    source_rows: int


def session(settings: ConnectionSettings) -> psycopg.Connection:
    """An autocommit connection with the benchmark's statement timeout."""
    conn = database.connect(settings, autocommit=True)
    conn.execute(f"set statement_timeout = {STATEMENT_TIMEOUT_MS}")
    return conn


def _data_stamp(scale: int, seed: int, as_of: dt.date, schema: str) -> str:
    return f"value-view bench data: scale={scale} seed={seed} as_of={as_of} schema={schema}"


def _database_comment(settings: ConnectionSettings) -> str | None:
    with database.connect(settings, autocommit=True) as conn:
        row = conn.execute(
            "select shobj_description(oid, 'pg_database') from pg_database"
            " where datname = current_database()"
        ).fetchone()
    return row[0] if row else None


def _set_database_comment(settings: ConnectionSettings, comment: str | None) -> None:
    with database.connect(settings, autocommit=True) as conn:
        conn.execute(
            sql.SQL("comment on database {} is {}").format(
                sql.Identifier(settings.dbname), sql.Literal(comment)
            )
        )


def load_data(
    settings: ConnectionSettings, scale: int, options: BenchOptions, as_of: dt.date, log: Progress
) -> float | None:
    """Load demo data unless the database already holds exactly this scale/seed/as-of. What dbt
    built on the old data (the next build drops it anyway) is dropped first: the loader refuses
    to replace source tables that relations are built on."""
    stamp = _data_stamp(scale, options.seed, as_of, options.source_schema)
    if not options.reload and _database_comment(settings) == stamp:
        log("data", f"{settings.dbname}: reusing scale {scale} data (seed {options.seed})")
        return None
    _set_database_comment(settings, None)
    _drop_built_schemas(settings, options.source_schema)
    log("data", f"{settings.dbname}: loading scale {scale} (seed {options.seed}, as of {as_of})")
    started = time.perf_counter()
    counts = load_demo_data(
        settings,
        scale=scale,
        seed=options.seed,
        schema=options.source_schema,
        reset=True,
        as_of=as_of,
        progress=False,
    )
    seconds = time.perf_counter() - started
    _set_database_comment(settings, stamp)
    log("data", f"{settings.dbname}: {sum(counts.values()):,} rows in {seconds:.1f} s")
    return seconds


def _drop_built_schemas(settings: ConnectionSettings, source_schema: str) -> list[str]:
    """Drop every schema but the source tables' (the database is the benchmark's own)."""
    with database.connect(settings, autocommit=True) as conn:
        schemas = [
            row[0]
            for row in conn.execute(
                """
                select nspname from pg_namespace
                where left(nspname, 3) <> 'pg_'
                  and nspname not in ('information_schema', 'public', %s)
                order by nspname
                """,
                (source_schema,),
            ).fetchall()
        ]
        for schema in schemas:
            conn.execute(f"drop schema if exists {quote_ident(schema)} cascade")
    return schemas


def build(
    settings: ConnectionSettings, options: BenchOptions, log: Progress
) -> tuple[float, Mapping[str, Any]]:
    """Time a cold `dbt build` of the marts and everything upstream; the manifest it wrote.

    What dbt built before is dropped first; tests are left out (they check, they do not build).
    """
    parsed = dbt.parse(settings, options)
    marts = sorted({node["name"] for node in project.mart_nodes(parsed).values()})
    _drop_built_schemas(settings, options.source_schema)
    log("build", f"{settings.dbname}: dbt build of the marts and their parents, without tests")
    started = time.perf_counter()
    dbt.run_dbt(
        [
            "build",
            "--select",
            *[f"+{name}" for name in marts],
            "--exclude-resource-type",
            "test",
            "--exclude-resource-type",
            "unit_test",
        ],
        settings,
        options,
    )
    seconds = time.perf_counter() - started
    log("build", f"{settings.dbname}: built in {seconds:.1f} s; compiling the analyses")
    return seconds, project.read(Path(options.target_path) / "manifest.json")


def _source_rows(settings: ConnectionSettings, schema: str) -> int:
    """The rows of the source tables, counted (the statistics' live-row counts are lost with the
    server's statistics after a crash or an immediate stop)."""
    with database.connect(settings, autocommit=True) as conn:
        tables = conn.execute(
            "select tablename from pg_tables where schemaname = %s order by 1", (schema,)
        ).fetchall()
        return sum(
            int(
                conn.execute(
                    sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table))
                ).fetchone()[0]
            )
            for (table,) in tables
        )


def prepare_warehouse(
    server: ConnectionSettings, scale: int, options: BenchOptions, as_of: dt.date, log: Progress
) -> Warehouse:
    """The database of one scale, loaded and built, with its benchmarks and materialized views."""
    settings = server.with_database(f"{options.database_prefix}_s{scale}")
    database.ensure_database(settings)
    load_seconds = load_data(settings, scale, options, as_of, log)
    build_seconds, manifest = build(settings, options, log)
    warehouse = Warehouse(
        scale=scale,
        settings=settings,
        manifest=manifest,
        benchmarks=collect_benchmarks(manifest, settings, options),
        views=collect_views(manifest, settings),
        load_seconds=load_seconds,
        build_seconds=build_seconds,
        source_rows=_source_rows(settings, options.source_schema),
    )
    log(
        "build",
        f"{settings.dbname}: {len(warehouse.benchmarks)} benchmark analyses,"
        f" {len(warehouse.views)} materialized views",
    )
    return warehouse
