"""Loading the demo data: the schema made ready (created from the DDL, or checked), every table
filled with COPY in one transaction, the indexes built after the load, and the counts read back."""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
from typing import Any

import psycopg
from psycopg import sql

from orchestration.lib import database
from orchestration.lib import settings as project_settings
from orchestration.tools.demo_data.ddl import statements
from orchestration.tools.demo_data.tables import TABLE_NAMES, TABLES, TableSpec
from orchestration.tools.demo_data.world import DemoPlan

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Heatmap pairs: published personas x live jobs linked to the persona's role, in the same tenant.
HEATMAP_PAIRS_SQL = """
select count(*)
from {schema}.personas as personas
inner join {schema}.jtbd_roles as jtbd_roles on jtbd_roles.role_id = personas.role_id
inner join {schema}.jtbd as jobs
    on jobs.id = jtbd_roles.jtbd_id and jobs.tenant_id = personas.tenant_id
where personas.validation_status = 'published' and jobs.deleted_at is null
"""


# Relations in other schemas (staging views, and through them every mart) built on the tables of
# a schema: the rules of views and materialized views that read them.
DEPENDANTS_SQL = """
select distinct dependent_schemas.nspname || '.' || dependents.relname
from pg_catalog.pg_depend as depends
inner join pg_catalog.pg_rewrite as rules on rules.oid = depends.objid
inner join pg_catalog.pg_class as dependents on dependents.oid = rules.ev_class
inner join pg_catalog.pg_namespace as dependent_schemas
    on dependent_schemas.oid = dependents.relnamespace
inner join pg_catalog.pg_class as used on used.oid = depends.refobjid
inner join pg_catalog.pg_namespace as used_schemas on used_schemas.oid = used.relnamespace
where depends.classid = 'pg_catalog.pg_rewrite'::regclass
    and depends.refclassid = 'pg_catalog.pg_class'::regclass
    and used_schemas.nspname = %(schema)s
    and dependent_schemas.nspname <> %(schema)s
order by 1
"""


class DemoDataError(RuntimeError):
    """The demo data cannot be loaded as asked; the message is one line."""


def dependants(conn: psycopg.Connection, schema: str) -> list[str]:
    """Relations outside ``schema`` (``schema.relation``) that read its tables."""
    return [row[0] for row in conn.execute(DEPENDANTS_SQL, {"schema": schema})]


def _reset(conn: psycopg.Connection, schema: str, tables: set[str], rebuild: bool) -> bool:
    """Empty ``schema`` for a new load; True when its tables were kept (emptied in place).

    With relations built on it the tables are emptied in place (no relation is dropped), and
    only when ``rebuild`` says they will be rebuilt; without any, the schema is recreated."""
    name = sql.Identifier(schema)
    built_on = dependants(conn, schema)
    if not built_on:
        conn.execute(sql.SQL("drop schema {} cascade").format(name))
        return False
    if not rebuild:
        raise DemoDataError(
            f"{len(built_on)} relations are built on schema '{schema}' (such as {built_on[0]}); "
            "pass --rebuild to reload the data in place and rebuild them"
        )
    missing = sorted(set(TABLE_NAMES) - tables)
    if missing:
        raise DemoDataError(
            f"schema '{schema}' lacks {', '.join(missing)} and {len(built_on)} relations are "
            "built on it: it cannot be reloaded in place"
        )
    conn.execute(
        sql.SQL("truncate table {}").format(
            sql.SQL(", ").join(sql.Identifier(schema, table) for table in TABLE_NAMES)
        )
    )
    return True


def check_schema_name(schema: str) -> str:
    """The schema name, if it is a plain lowercase identifier; DemoDataError otherwise."""
    if not SCHEMA_NAME.match(schema or "") or schema.startswith("pg_"):
        raise DemoDataError(
            "schema must be a plain lowercase identifier (letters, digits, underscores; "
            f"not starting with pg_), got {schema!r}"
        )
    return schema


def _prepare_schema(
    conn: psycopg.Connection, schema: str, reset: bool, rebuild: bool = False
) -> tuple[str, ...] | None:
    """Make ``schema`` ready for loading.

    Returns the index statements still to run when the tables were created here (they are built
    after the load), or None when the load goes into existing, empty tables.
    """
    name = sql.Identifier(schema)
    exists = conn.execute("select 1 from pg_namespace where nspname = %s", (schema,)).fetchone()
    if exists:
        tables = {
            row[0]
            for row in conn.execute(
                "select tablename from pg_tables where schemaname = %s", (schema,)
            )
        }
        if "tenants" in tables and not reset:
            held = conn.execute(sql.SQL("select count(*) from {}.tenants").format(name)).fetchone()
            if held[0]:
                raise DemoDataError(
                    f"schema '{schema}' already holds data ({held[0]} tenants); "
                    "pass --reset to replace it"
                )
        if reset:
            if _reset(conn, schema, tables, rebuild):
                return None
            exists = None
        elif tables:
            missing = sorted(set(TABLE_NAMES) - tables)
            if missing:
                raise DemoDataError(
                    f"schema '{schema}' has tables but not all of the VITAL ones "
                    f"(missing {', '.join(missing)}); pass --reset to recreate it"
                )
            return None
    if not exists:
        conn.execute(sql.SQL("create schema {}").format(name))
    tables_and_types, indexes = statements()
    conn.execute(sql.SQL("set local search_path to {}").format(name))
    for statement in tables_and_types:
        conn.execute(statement)
    return indexes


def _copy(
    cursor: psycopg.Cursor, schema: str, table: TableSpec, plan: DemoPlan, freeze: bool
) -> int:
    query = sql.SQL("copy {}.{} ({}) from stdin{}").format(
        sql.Identifier(schema),
        sql.Identifier(table.name),
        sql.SQL(", ").join(sql.Identifier(column) for column in table.columns),
        sql.SQL(" with (freeze)") if freeze else sql.SQL(""),
    )
    rows = 0
    with cursor.copy(query) as copy:
        write_row = copy.write_row
        for row in table.rows(plan):
            write_row(row)
            rows += 1
    return rows


def load_demo_data(
    settings: database.ConnectionSettings,
    *,
    scale: int,
    seed: int,
    schema: str = "vital",
    reset: bool = False,
    rebuild: bool = False,
    as_of: dt.date,
    progress: bool = True,
    tenants: int | None = None,
) -> dict[str, int]:
    """Load deterministic demo data into ``schema`` in one transaction; rows loaded per table.

    ``tenants`` (default ``scale + 1``) shares the scale's volumes among that many tenants.

    Creates the schema and its tables when missing. A schema that already holds tenants is left
    alone unless ``reset`` is set, which recreates it; when relations (the marts) are built on
    it, ``reset`` is refused unless ``rebuild`` says the caller rebuilds them, and the tables
    are emptied and refilled in place, so no relation built on them is ever dropped.
    """
    check_schema_name(schema)
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise DemoDataError(f"scale must be a whole number of at least 1, got {scale!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise DemoDataError(f"seed must be a non-negative whole number, got {seed!r}")

    def say(message: str) -> None:
        if progress:
            print(f"demo-data: {message}", file=sys.stderr, flush=True)

    try:
        plan = DemoPlan(seed=seed, scale=scale, as_of=as_of, tenants=tenants)
    except ValueError as error:
        raise DemoDataError(str(error)) from None
    counts: dict[str, int] = {}
    started = time.perf_counter()
    with database.connect(settings) as conn, conn.transaction():
        deferred_indexes = _prepare_schema(conn, schema, reset, rebuild)
        created = deferred_indexes is not None
        say(
            f"loading scale {scale}, seed {seed}, {len(plan.tenants)} tenants, as of {as_of}"
            f" into schema {schema}"
        )
        with conn.cursor() as cursor:
            for table in TABLES:
                table_started = time.perf_counter()
                counts[table.name] = _copy(cursor, schema, table, plan, freeze=created)
                elapsed = time.perf_counter() - table_started
                say(f"{table.name:<24} {counts[table.name]:>10,} rows {elapsed:7.2f}s")
        if deferred_indexes:
            step = time.perf_counter()
            for statement in deferred_indexes:
                conn.execute(statement)
            say(f"{len(deferred_indexes)} indexes built in {time.perf_counter() - step:.2f}s")
        step = time.perf_counter()
        for table in TABLES:
            conn.execute(
                sql.SQL("analyze {}.{}").format(sql.Identifier(schema), sql.Identifier(table.name))
            )
        say(f"analyzed in {time.perf_counter() - step:.2f}s")
    say(f"{sum(counts.values()):,} rows in {time.perf_counter() - started:.1f}s")
    return counts


def _count(settings: database.ConnectionSettings, schema: str, query: sql.Composable) -> Any:
    try:
        with database.connect(settings) as conn:
            return conn.execute(query).fetchone()[0]
    except psycopg.errors.UndefinedTable as error:
        raise DemoDataError(
            f"schema '{schema}' lacks a VITAL table ({str(error).splitlines()[0]}); "
            "load demo data first"
        ) from None


def table_counts(
    settings: database.ConnectionSettings, schema: str | None = None
) -> dict[str, int]:
    """Rows per VITAL table in ``schema``, in load order."""
    schema = check_schema_name(schema or project_settings.source_schema())
    query = sql.SQL("select array[{}]").format(
        sql.SQL(", ").join(
            sql.SQL("(select count(*) from {}.{})").format(
                sql.Identifier(schema), sql.Identifier(name)
            )
            for name in TABLE_NAMES
        )
    )
    return dict(zip(TABLE_NAMES, _count(settings, schema, query), strict=True))


def heatmap_pair_count(settings: database.ConnectionSettings, schema: str | None = None) -> int:
    """Published persona x live job pairs linked through the persona's role (the heatmap's rows)."""
    schema = check_schema_name(schema or project_settings.source_schema())
    query = sql.SQL(HEATMAP_PAIRS_SQL).format(schema=sql.Identifier(schema))
    return int(_count(settings, schema, query))
