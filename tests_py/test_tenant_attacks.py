"""A hostile tenant: what a tenant login can learn about other tenants through the read side.

The slow tests build the project into a throwaway database (demo data at scale 1, two tenants),
make a tenant login per tenant with ``orchestration.lib.tenancy``, connect as one of them and
attack every BI relation of ``value_view_tenant`` (taken from the manifest, checked against the
catalog): EXPLAIN (ANALYZE, VERBOSE, BUFFERS) with leakproof predicates under flipped planner
settings, a binary search for the other tenant's id and names, error messages from casts and
division, statistics views and functions, SET ROLE and search_path tricks. The owner's direct
reads give each tenant's true row counts to compare with.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from orchestration.lib import database, tenancy, tenant_removal
from orchestration.lib import dbt_runner as project
from orchestration.tools import demo_data

SEED = 42
PASSWORD = "tenant-attack-test-password"
ROW_COUNTERS = (
    "Rows Removed by Filter",
    "Rows Removed by Join Filter",
    "Rows Removed by Index Recheck",
    "Heap Fetches",
)
# What a login can switch off in its own session to steer the plan towards a full scan.
PLANNER_FLIPS: tuple[Mapping[str, str], ...] = (
    {},
    {"enable_indexscan": "off", "enable_bitmapscan": "off", "enable_indexonlyscan": "off"},
    {"enable_seqscan": "off"},
    {"enable_nestloop": "off", "enable_mergejoin": "off"},
    {"enable_hashjoin": "off", "enable_mergejoin": "off", "enable_material": "off"},
)
UUID_TOP = 1 << 128
TEXT_TYPES = ("text", "character varying")


@dataclass
class Attacked:
    """A built warehouse, the attacker's login and tenant, and the other tenants."""

    settings: database.ConnectionSettings
    manifest: dict[str, Any]
    relations: list[tenancy.BiRelation]
    tenant: uuid.UUID
    login: str
    others: list[uuid.UUID]
    logins: list[str] = field(default_factory=list)

    def as_login(self) -> psycopg.Connection:
        return database.connect(
            replace(self.settings, user=self.login, password=PASSWORD), autocommit=True
        )

    def owner(self) -> psycopg.Connection:
        return database.connect(self.settings, autocommit=True)


@pytest.fixture(scope="module")
def attacked(
    server: database.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Attacked]:
    settings = server.with_database(f"vv_attacks_{os.getpid()}_{secrets.token_hex(3)}")
    database.ensure_database(settings)
    target: Path = tmp_path_factory.mktemp("dbt_attacks")
    suffix = secrets.token_hex(3)
    logins: list[str] = []
    try:
        demo_data.load_demo_data(
            settings,
            scale=1,
            seed=SEED,
            as_of=dt.datetime.now(dt.timezone.utc).date(),
            progress=False,
        )
        with database.connect(settings, autocommit=True) as conn:
            tenants = [row[0] for row in conn.execute("select id from vital.tenants order by slug")]
        assert len(tenants) >= 2, "the demo data should hold at least two tenants"
        for number, tenant_id in enumerate(tenants):
            login = f"vv_attack_{suffix}_{number}"
            tenancy.add_login(settings, login, tenant_id, password=PASSWORD)
            logins.append(login)
        env = {**os.environ, **settings.env()}
        project.run_dbt(["seed", "--quiet"], target_path=target, env=env)
        project.run_dbt(
            ["run", "--quiet", "--select", "+path:models/marts", "+path:models/quarantine"],
            target_path=target,
            env=env,
        )
        with database.connect(settings, autocommit=True) as conn:
            conn.execute("analyze")  # as autovacuum would: statistics exist to be asked for
        manifest = json.loads((target / "manifest.json").read_text())
        yield Attacked(
            settings=settings,
            manifest=manifest,
            relations=tenancy.bi_relations(manifest),
            tenant=tenants[0],
            login=logins[0],
            others=tenants[1:],
            logins=logins,
        )
    finally:
        for login in logins:
            tenant_removal.remove_login(settings, login)
        database.drop_database(settings)


# --------------------------------------------------------------------------------------
# What a plan shows
# --------------------------------------------------------------------------------------


def plan_nodes(plan: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every node of an EXPLAIN (FORMAT JSON) plan, init plans and sub plans included."""
    stack = [plan]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.get("Plans", []))


def largest_row_count(plan: Mapping[str, Any], counters: tuple[str, ...] = ROW_COUNTERS) -> int:
    """The most rows any node says it saw: produced (over all loops) or, with ``counters``,
    removed by a filter or recheck."""
    largest = 0
    for node in plan_nodes(plan):
        produced = int(node.get("Actual Rows", 0)) * max(int(node.get("Actual Loops", 1)), 1)
        largest = max(largest, produced, *(int(node.get(key, 0)) for key in counters))
    return largest


def test_largest_row_count_reads_rows_loops_and_removed_rows() -> None:
    plan = {
        "Actual Rows": 3,
        "Actual Loops": 1,
        "Plans": [
            {"Actual Rows": 2, "Actual Loops": 4},
            {"Actual Rows": 1, "Actual Loops": 1, "Rows Removed by Filter": 11},
        ],
    }
    assert largest_row_count(plan) == 11
    assert largest_row_count(plan, counters=()) == 8


def explain(conn: psycopg.Connection, statement: sql.Composable) -> Mapping[str, Any]:
    document = conn.execute(
        sql.SQL("explain (analyze, verbose, buffers, format json) {}").format(statement)
    ).fetchone()[0]
    if isinstance(document, str):
        document = json.loads(document)
    return document[0]["Plan"]


def view_query(relation: str, condition: sql.Composable) -> sql.Composed:
    return sql.SQL("select * from {}.{} where {}").format(
        sql.Identifier(tenancy.TENANT_SCHEMA), sql.Identifier(relation), condition
    )


def hidden_rows(conn: psycopg.Connection, relation: str, condition: sql.Composable) -> int:
    """Rows a node of the plan of ``select * ... where condition`` produced beyond those the
    query returned: rows that passed the condition but not the tenant filter."""
    plan = explain(conn, view_query(relation, condition))
    return largest_row_count(plan, counters=()) - int(plan["Actual Rows"])


def apply_settings(conn: psycopg.Connection, flips: Mapping[str, str]) -> None:
    conn.execute("reset all")
    for name, value in flips.items():
        conn.execute(sql.SQL("set {} = {}").format(sql.Identifier(name), sql.Literal(value)))


def own_rows(attacked: Attacked, owner: psycopg.Connection, relation: tenancy.BiRelation) -> int:
    statement = sql.SQL("select count(*) from {}.{} where tenant_id = %s").format(
        sql.Identifier(relation.schema), sql.Identifier(relation.relation)
    )
    return owner.execute(statement, (attacked.tenant,)).fetchone()[0]


def text_column(owner: psycopg.Connection, relation: tenancy.BiRelation) -> str | None:
    """A name-like text column of the relation, the target of the name search."""
    rows = owner.execute(
        "select column_name from information_schema.columns"
        " where table_schema = %s and table_name = %s and data_type = any(%s)"
        " order by column_name like '%%name' desc, ordinal_position",
        (relation.schema, relation.relation, list(TEXT_TYPES)),
    ).fetchall()
    return rows[0][0] if rows else None


# --------------------------------------------------------------------------------------
# The attacks
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_tenant_views_are_the_graphs_bi_relations(attacked: Attacked) -> None:
    assert attacked.relations, "the graph has no marts"
    with attacked.owner() as owner:
        views = {
            row[0]
            for row in owner.execute(
                "select relname::text from pg_class"
                " where relnamespace = %s::regnamespace and relkind = 'v'",
                (tenancy.TENANT_SCHEMA,),
            )
        }
    assert views == {relation.relation for relation in attacked.relations}


@pytest.mark.slow
@pytest.mark.parametrize("flips", PLANNER_FLIPS, ids=lambda flips: ",".join(flips) or "default")
def test_explain_analyze_shows_no_more_rows_than_the_tenants_own(
    attacked: Attacked, flips: Mapping[str, str]
) -> None:
    other = attacked.others[0]
    conditions = (
        sql.SQL("tenant_id = {}").format(sql.Literal(str(other))),
        sql.SQL("tenant_id <> {}").format(sql.Literal(str(attacked.tenant))),
        sql.SQL("tenant_id > {}").format(sql.Literal(str(uuid.UUID(int=0)))),
    )
    problems: list[str] = []
    with attacked.owner() as owner, attacked.as_login() as conn:
        apply_settings(conn, flips)
        for relation in attacked.relations:
            own = own_rows(attacked, owner, relation)
            for condition in conditions:
                seen = largest_row_count(explain(conn, view_query(relation.relation, condition)))
                if seen > own:
                    problems.append(
                        f"{relation.relation} where {condition.as_string(conn)}: a plan node"
                        f" shows {seen} rows, the tenant has {own}"
                    )
    assert not problems, "\n".join(problems)


def search_uuid(conn: psycopg.Connection, relation: str) -> uuid.UUID | None:
    """The attacker's binary search: the smallest tenant_id the plans show beyond its own rows.

    ``hidden_rows(tenant_id < p)`` is positive exactly when a hidden row's tenant_id is below
    ``p``; the first probe covers the whole range, and nothing is searched when it shows none.
    """
    below = lambda pivot: sql.SQL("tenant_id < {}").format(  # noqa: E731
        sql.Literal(str(uuid.UUID(int=pivot)))
    )
    if hidden_rows(conn, relation, sql.SQL("true")) <= 0:
        return None
    low, high = 0, UUID_TOP - 1  # hidden rows exist below high, none below low
    while high - low > 1:
        middle = (low + high) // 2
        if hidden_rows(conn, relation, below(middle)) > 0:
            high = middle
        else:
            low = middle
    return uuid.UUID(int=low)


def search_text(conn: psycopg.Connection, relation: str, column: str, length: int) -> str | None:
    """The same search on a text column: the first ``length`` characters of the smallest value
    the plans show beyond the tenant's own rows (printable ASCII)."""

    def hidden_below(prefix: str) -> bool:
        condition = sql.SQL('{} collate "C" < {}').format(
            sql.Identifier(column), sql.Literal(prefix)
        )
        return hidden_rows(conn, relation, condition) > 0

    if hidden_rows(conn, relation, sql.SQL("{} is not null").format(sql.Identifier(column))) <= 0:
        return None
    found = ""
    for _ in range(length):
        low, high = 31, 127  # hidden values start with found + chr(c) for some c in [low, high)
        if not hidden_below(found + chr(high)):
            break
        while high - low > 1:
            middle = (low + high) // 2
            if hidden_below(found + chr(middle)):
                high = middle
            else:
                low = middle
        found += chr(low)
    return found


@pytest.mark.slow
def test_binary_search_learns_no_other_tenants_id_or_names(attacked: Attacked) -> None:
    learned: list[str] = []
    with attacked.owner() as owner, attacked.as_login() as conn:
        # The attacker's best settings: a hash join over a full scan of the relation.
        apply_settings(conn, PLANNER_FLIPS[3] | PLANNER_FLIPS[1])
        for relation in attacked.relations:
            found = search_uuid(conn, relation.relation)
            if found is not None:
                learned.append(f"{relation.relation}: tenant_id {found}")
            column = text_column(owner, relation)
            if column is not None:
                prefix = search_text(conn, relation.relation, column, length=4)
                if prefix is not None:
                    learned.append(f"{relation.relation}: {column} starting {prefix!r}")
    assert not learned, "learned about other tenants:\n" + "\n".join(learned)


@pytest.mark.slow
def test_the_searches_recover_what_a_plan_shows(attacked: Attacked) -> None:
    """The searches work when a plan does show hidden rows: on a view that scans every tenant
    and filters afterwards, as the tenant views once did."""
    other, column = attacked.others[0], None
    relation = next(rel for rel in attacked.relations if rel.relation == rel.source)
    probe = f"vv_attack_probe_{secrets.token_hex(3)}"
    with attacked.owner() as owner:
        column = text_column(owner, relation)
        owner.execute(
            sql.SQL(
                "create view {tenant}.{probe} with (security_barrier = true) as"
                " select * from {schema}.{source} where tenant_id in ("
                " select tenant_id from {security}.{mapping} where login = session_user)"
            ).format(
                tenant=sql.Identifier(tenancy.TENANT_SCHEMA),
                probe=sql.Identifier(probe),
                schema=sql.Identifier(relation.schema),
                source=sql.Identifier(relation.source),
                security=sql.Identifier(tenancy.SECURITY_SCHEMA),
                mapping=sql.Identifier(tenancy.MAPPING_TABLE),
            )
        )
        owner.execute(
            sql.SQL("grant select on {}.{} to {}").format(
                sql.Identifier(tenancy.TENANT_SCHEMA),
                sql.Identifier(probe),
                sql.Identifier(attacked.login),
            )
        )
        smallest_other = owner.execute(
            sql.SQL("select min(tenant_id::text) from {}.{} where tenant_id <> %s").format(
                sql.Identifier(relation.schema), sql.Identifier(relation.source)
            ),
            (attacked.tenant,),
        ).fetchone()[0]
        try:
            with attacked.as_login() as conn:
                apply_settings(conn, PLANNER_FLIPS[3] | PLANNER_FLIPS[1])
                assert hidden_rows(conn, probe, sql.SQL("true")) > 0
                if smallest_other is not None and uuid.UUID(smallest_other) < attacked.tenant:
                    assert search_uuid(conn, probe) == uuid.UUID(smallest_other)
                else:
                    assert search_uuid(conn, probe) is not None
                if column is not None:
                    assert search_text(conn, probe, column, length=2)
        finally:
            owner.execute(
                sql.SQL("drop view {}.{}").format(
                    sql.Identifier(tenancy.TENANT_SCHEMA), sql.Identifier(probe)
                )
            )
    assert other != attacked.tenant


@pytest.mark.slow
def test_errors_from_casts_and_division_never_touch_other_tenants_rows(
    attacked: Attacked,
) -> None:
    other = sql.Literal(str(attacked.others[0]))
    problems: list[str] = []
    with attacked.owner() as owner, attacked.as_login() as conn:
        apply_settings(conn, PLANNER_FLIPS[3] | PLANNER_FLIPS[1])
        for relation in attacked.relations:
            division = sql.SQL("1 / (case when tenant_id = {} then 0 else 1 end) = 1").format(other)
            try:
                conn.execute(view_query(relation.relation, division)).fetchall()
            except psycopg.errors.DivisionByZero:
                problems.append(f"{relation.relation}: division by zero on another tenant's row")
            column = text_column(owner, relation)
            if column is None:
                continue
            values = sql.SQL("select {column}::text from {schema}.{name} where tenant_id {op} %s")
            parts = {
                "column": sql.Identifier(column),
                "schema": sql.Identifier(relation.schema),
                "name": sql.Identifier(relation.relation),
            }
            foreign = {
                row[0]
                for row in owner.execute(
                    sql.SQL("{} except {}").format(
                        values.format(op=sql.SQL("<>"), **parts),
                        values.format(op=sql.SQL("="), **parts),
                    ),
                    (attacked.tenant, attacked.tenant),
                )
            }
            cast = sql.SQL("tenant_id = {} and {}::int = 0").format(other, sql.Identifier(column))
            try:
                conn.execute(view_query(relation.relation, cast)).fetchall()
            except psycopg.errors.InvalidTextRepresentation as error:
                message = str(error)
                if any(f'"{value}"' in message for value in foreign):
                    problems.append(f"{relation.relation}: {column} of another tenant: {message}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------------------
# Statistics, catalogs, roles and search paths
# --------------------------------------------------------------------------------------


def _marts(attacked: Attacked) -> list[str]:
    return sorted({f"{rel.schema}.{rel.source}" for rel in attacked.relations})


@pytest.mark.slow
@pytest.mark.parametrize(
    "probe",
    [
        "select reltuples from pg_catalog.pg_class where oid = %s::regclass",
        "select relpages from pg_catalog.pg_class where oid = %s::regclass",
        "select n_live_tup from pg_catalog.pg_stat_user_tables where relid = %s::regclass",
        "select n_tup_ins from pg_catalog.pg_stat_all_tables where relid = %s::regclass",
        "select pg_catalog.pg_stat_get_live_tuples(%s::regclass)",
        "select pg_catalog.pg_relation_size(%s::regclass)",
        "select pg_catalog.pg_total_relation_size(%s::regclass)",
        "select count(*) from pg_catalog.pg_stats where schemaname || '.' || tablename = %s",
    ],
)
def test_statistics_do_not_give_a_marts_size(attacked: Attacked, probe: str) -> None:
    """Counts and sizes of the marts: refused, or nothing comes back."""
    answered: list[str] = []
    with attacked.as_login() as conn:
        for mart in _marts(attacked):
            try:
                row = conn.execute(probe, (mart,)).fetchone()
            except psycopg.errors.InsufficientPrivilege:
                continue
            if row is not None and row[0] not in (None, 0, -1):
                answered.append(f"{mart}: {row[0]}")
    assert not answered, f"{probe} answers: {answered}"


@pytest.mark.slow
def test_bi_introspection_of_its_own_views_still_works(attacked: Attacked) -> None:
    """What BI tools read to list tables and columns: information_schema and pg_catalog."""
    relation = attacked.relations[0].relation
    with attacked.owner() as owner:
        expected = [
            row[0]
            for row in owner.execute(
                "select attname::text from pg_attribute where attrelid = %s::regclass"
                " and attnum > 0 and not attisdropped order by attnum",
                (f"{tenancy.TENANT_SCHEMA}.{relation}",),
            )
        ]
    with attacked.as_login() as conn:
        tables = {
            row[0]
            for row in conn.execute(
                "select table_name::text from information_schema.tables where table_schema = %s",
                (tenancy.TENANT_SCHEMA,),
            )
        }
        assert tables == {rel.relation for rel in attacked.relations}
        columns = [
            row[0]
            for row in conn.execute(
                "select column_name::text from information_schema.columns"
                " where table_schema = %s and table_name = %s order by ordinal_position",
                (tenancy.TENANT_SCHEMA, relation),
            )
        ]
        assert columns == expected
        # psql's \d and JDBC's getColumns read these catalogs directly.
        described = conn.execute(
            "select c.relname, c.relkind, c.relhasindex, c.relhasrules, c.relacl is not null,"
            " n.nspname, pg_catalog.obj_description(c.oid, 'pg_class')"
            " from pg_catalog.pg_class as c join pg_catalog.pg_namespace as n"
            " on n.oid = c.relnamespace where n.nspname = %s and c.relname = %s",
            (tenancy.TENANT_SCHEMA, relation),
        ).fetchone()
        assert described is not None and described[1] == "v"
        attributes = conn.execute(
            "select a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull"
            " from pg_catalog.pg_attribute as a where a.attrelid = %s::regclass"
            " and a.attnum > 0 and not a.attisdropped order by a.attnum",
            (f"{tenancy.TENANT_SCHEMA}.{relation}",),
        ).fetchall()
        assert [row[0] for row in attributes] == expected
        assert conn.execute(
            "select pg_catalog.pg_get_viewdef(%s::regclass) is not null",
            (f"{tenancy.TENANT_SCHEMA}.{relation}",),
        ).fetchone()[0]


@pytest.mark.slow
def test_set_role_and_search_path_tricks_read_nothing_more(attacked: Attacked) -> None:
    relation = next(rel for rel in attacked.relations if rel.relation == rel.source)
    with attacked.owner() as owner:
        own = own_rows(attacked, owner, relation)
    other_login = attacked.logins[1]
    with attacked.as_login() as conn:
        for role in (tenancy.READER_ROLE, other_login, "postgres"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(sql.SQL("set role {}").format(sql.Identifier(role)))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                sql.SQL("set session authorization {}").format(sql.Identifier(other_login))
            )
        # Nested plans logged to the client would show the scan inside the tenant filter.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("load 'auto_explain'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                sql.SQL("select count(*) from {}.{}").format(
                    sql.Identifier(tenancy.SECURITY_SCHEMA), sql.Identifier(tenancy.MAPPING_TABLE)
                )
            )
        # Shadowing the mapping or the marts with temporary objects (where TEMPORARY is allowed)
        # changes nothing: the filter names every object by schema and resolves pg_temp last.
        conn.execute("set default_transaction_read_only = off")
        conn.execute(f"set search_path = pg_temp, {tenancy.TENANT_SCHEMA}, pg_catalog")
        shadowed = False
        try:
            conn.execute(
                "create temporary table tenant_logins as select session_user::name as login,"
                " %s::uuid as tenant_id",
                (attacked.others[0],),
            )
            conn.execute(
                sql.SQL("create temporary view {} as select * from pg_temp.tenant_logins").format(
                    sql.Identifier(relation.source)
                )
            )
            shadowed = True
        except psycopg.errors.InsufficientPrivilege:
            pass
        seen = conn.execute(
            sql.SQL("select tenant_id, count(*) from {}.{} group by tenant_id").format(
                sql.Identifier(tenancy.TENANT_SCHEMA), sql.Identifier(relation.relation)
            )
        ).fetchall()
        assert all(tenant == attacked.tenant for tenant, _ in seen), (shadowed, seen)
        assert sum(count for _, count in seen) == own
