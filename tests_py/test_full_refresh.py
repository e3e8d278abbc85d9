"""`--full-refresh` never drops what a reader or a dependent view uses.

One module-scoped warehouse (demo data at scale 1, a tenant login, the whole project built) backs
every test. A full refresh of one quarantine table, of one versioned table mart and of the whole
project must leave every relation of the project in place (the same names, the views under the
same OIDs, now reading the rebuilt relations), and the latest-version views must exist and read
their latest version. During the whole-project `dbt build --full-refresh`, readers query every
BI-facing relation (the marts and their latest-version views as the owner, the tenant views as a
tenant login) and must meet no error and no deadlock.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from dataclasses import replace as with_changes
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from orchestration.lib import database, tenancy, tenant_removal
from orchestration.lib import dbt_runner as project
from orchestration.lib import manifest as manifests
from orchestration.tools import demo_data

QUARANTINE = "quarantine_personas"
TABLE_MART = "value_view_persona_aggregates"
PASSWORD = "full-refresh-test-password"
RELATION_KINDS = ("r", "v", "m", "p")


@dataclass
class Warehouse:
    settings: database.ConnectionSettings
    target: Path
    env: dict[str, str]
    manifest: dict[str, Any]
    login: str
    schemas: list[str] = field(default_factory=list)

    def dbt(self, *args: str, timeout: float = 1800):
        return project.run_dbt(list(args), target_path=self.target, env=self.env, timeout=timeout)

    def query(self, statement: Any, params: tuple = ()) -> list[tuple]:
        with database.connect(self.settings, autocommit=True) as conn:
            return conn.execute(statement, params).fetchall()

    def relations(self) -> dict[str, tuple[str, int]]:
        """Every relation in the project's schemas: qualified name -> (kind, OID)."""
        rows = self.query(
            'select format(\'"%%s"."%%s"\', namespaces.nspname, relations.relname),'
            " relations.relkind::text, relations.oid::bigint"
            " from pg_class as relations"
            " inner join pg_namespace as namespaces on namespaces.oid = relations.relnamespace"
            " where namespaces.nspname = any(%s) and relations.relkind::text = any(%s)",
            (self.schemas, list(RELATION_KINDS)),
        )
        return {name: (kind, oid) for name, kind, oid in rows}

    def readers_of(self, oid: int) -> set[int]:
        """The views whose query reads the relation with this OID."""
        rows = self.query(
            "select distinct rewrites.ev_class::bigint from pg_depend as depends"
            " inner join pg_rewrite as rewrites on rewrites.oid = depends.objid"
            " where depends.classid = 'pg_rewrite'::regclass"
            " and depends.refclassid = 'pg_class'::regclass"
            " and depends.refobjid = %s and rewrites.ev_class <> %s",
            (oid, oid),
        )
        return {row[0] for row in rows}

    def unreadable(self, names: list[str]) -> dict[str, str]:
        """The relations among ``names`` a select fails on, with the error."""
        failures: dict[str, str] = {}
        with database.connect(self.settings, autocommit=True) as conn:
            for name in names:
                try:
                    conn.execute(f"select from {name} limit 1").fetchall()
                except psycopg.Error as error:
                    failures[name] = str(error).strip()
        return failures

    def relation_of(self, name: str) -> str:
        """The qualified relation of the project model called ``name`` (its latest version)."""
        for node in self.manifest["nodes"].values():
            if (
                node["resource_type"] == "model"
                and node["name"] == name
                and (node.get("version") is None or manifests.is_latest_version(node))
            ):
                return f'"{node["schema"]}"."{manifests.relation_name(node)}"'
        raise AssertionError(f"no model {name}")

    def latest_version_views(self) -> list[tenancy.BiRelation]:
        return [
            relation
            for relation in tenancy.bi_relations(self.manifest)
            if relation.relation != relation.source
        ]

    def missing_latest_version_views(self) -> list[str]:
        """Latest-version views that are missing or read anything but their latest version."""
        missing = []
        for relation in self.latest_version_views():
            view = f'"{relation.schema}"."{relation.relation}"'
            source = f'"{relation.schema}"."{relation.source}"'
            found = self.query(
                "select to_regclass(%s)::oid::bigint, to_regclass(%s)::oid::bigint", (view, source)
            )[0]
            if found[0] is None or found[1] is None or found[0] not in self.readers_of(found[1]):
                missing.append(view)
        return missing


@pytest.fixture(scope="module")
def warehouse(
    server: database.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    settings = server.with_database(f"vv_refresh_{os.getpid()}_{secrets.token_hex(3)}")
    database.ensure_database(settings)
    target = tmp_path_factory.mktemp("dbt_full_refresh")
    env = {**os.environ, **settings.env(), "DBT_USE_COLORS": "false"}
    login = f"vv_test_{secrets.token_hex(3)}_refresh"
    try:
        demo_data.load_demo_data(
            settings,
            scale=1,
            seed=42,
            reset=True,
            as_of=dt.datetime.now(dt.timezone.utc).date(),
            progress=False,
        )
        with database.connect(settings, autocommit=True) as conn:
            tenant = conn.execute("select id from vital.tenants order by slug limit 1").fetchone()
        tenancy.add_login(settings, login, tenant[0], password=PASSWORD)
        project.run_dbt(
            ["build", "--quiet", "--exclude-resource-type", "test", "unit_test"],
            target_path=target,
            env=env,
            timeout=1800,
        )
        manifest = manifests.read(target / "manifest.json")
        schemas = sorted(
            {
                node["schema"]
                for node in manifest["nodes"].values()
                if node["resource_type"] in ("model", "seed", "snapshot")
            }
            | {tenancy.TENANT_SCHEMA}
        )
        yield Warehouse(settings, target, env, dict(manifest), login, schemas)
    finally:
        tenant_removal.remove_login(settings, login)
        with database.connect(settings, autocommit=True) as conn:
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(login)))
        database.drop_database(settings)


def assert_rebuilt_in_place(
    warehouse: Warehouse, before: dict[str, tuple[str, int]], rebuilt: str, readers: set[int]
) -> None:
    """Every relation is still there and can be read; views kept their OIDs; ``rebuilt`` has a
    new OID and the views that read it before (``readers``) read the new relation."""
    after = warehouse.relations()
    assert sorted(set(before) - set(after)) == [], "relations dropped by the full refresh"
    assert sorted(set(after) - set(before)) == [], "relations left behind by the full refresh"
    moved_views = [
        name for name, (kind, oid) in before.items() if kind == "v" and after[name][1] != oid
    ]
    assert moved_views == [], "views re-created under new OIDs (their dependants were dropped)"
    assert after[rebuilt][1] != before[rebuilt][1], f"{rebuilt} was not rebuilt"
    assert warehouse.readers_of(after[rebuilt][1]) == readers
    assert warehouse.unreadable(sorted(after)) == {}
    assert warehouse.missing_latest_version_views() == []


@pytest.mark.slow
def test_a_full_refresh_of_a_quarantine_table_keeps_every_relation(warehouse: Warehouse):
    quarantine = warehouse.relation_of(QUARANTINE)
    before = warehouse.relations()
    readers = warehouse.readers_of(before[quarantine][1])
    assert readers, f"no view reads {quarantine}"
    warehouse.dbt("run", "--full-refresh", "--select", QUARANTINE)
    assert_rebuilt_in_place(warehouse, before, quarantine, readers)


@pytest.mark.slow
def test_a_full_refresh_of_a_versioned_table_keeps_its_latest_version_view(warehouse: Warehouse):
    """The unsuffixed view reads `<name>_v1`; the rebuild may not leave it reading, or dropped
    with, the old table renamed aside (`<name>_v1__dbt_backup` in dbt's own materialization)."""
    mart = warehouse.relation_of(TABLE_MART)
    assert mart.endswith('_v1"'), mart
    before = warehouse.relations()
    readers = warehouse.readers_of(before[mart][1])
    assert warehouse.missing_latest_version_views() == []
    for _ in range(2):  # a second run finds no leftover of the first
        warehouse.dbt("run", "--full-refresh", "--select", TABLE_MART)
        assert_rebuilt_in_place(warehouse, before, mart, readers)
        before = warehouse.relations()
    assert not [name for name in before if "__dbt_" in name or "__vv_" in name]


# --------------------------------------------------------------------------------------
# Readers of every BI relation during a whole-project full refresh
# --------------------------------------------------------------------------------------


@dataclass
class ReaderReport:
    queries: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def deadlocks(self) -> list[str]:
        return [error for error in self.errors if "deadlock" in error]


class Readers:
    """Reader connections cycling through every BI relation: the owner reads the marts and the
    latest-version views, a tenant login its tenant views."""

    def __init__(self, warehouse: Warehouse, per_kind: int = 3) -> None:
        relations = tenancy.bi_relations(warehouse.manifest)
        self.bi = [f'"{relation.schema}"."{relation.relation}"' for relation in relations]
        self.tenant = sorted(
            {f'"{tenancy.TENANT_SCHEMA}"."{relation.relation}"' for relation in relations}
        )
        self.warehouse = warehouse
        self.per_kind = per_kind
        self.report = ReaderReport()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Readers:
        tenant_settings = with_changes(
            self.warehouse.settings, user=self.warehouse.login, password=PASSWORD
        )
        for position in range(self.per_kind):
            for settings, names in (
                (self.warehouse.settings, self.bi),
                (tenant_settings, self.tenant),
            ):
                conn = database.connect(settings, autocommit=True)
                offset = position * len(names) // self.per_kind
                rotated = names[offset:] + names[:offset]
                self._threads.append(threading.Thread(target=self._read, args=(conn, rotated)))
        for thread in self._threads:
            thread.daemon = True
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=120)

    def _read(self, conn: psycopg.Connection, names: list[str]) -> None:
        with conn:
            while not self._stop.is_set():
                for name in names:
                    try:
                        conn.execute(f"select count(*) from (select from {name} limit 100) as rows")
                    except psycopg.Error as error:
                        with self._lock:
                            self.report.errors.append(f"{name}: {str(error).strip()}")
                        continue
                    with self._lock:
                        self.report.queries[name] += 1
                self._stop.wait(0.01)


@pytest.mark.slow
def test_a_whole_project_full_refresh_under_readers_gives_them_no_error(warehouse: Warehouse):
    before = warehouse.relations()
    with Readers(warehouse) as readers:
        warehouse.dbt("build", "--full-refresh", "--exclude-resource-type", "test", "unit_test")
        time.sleep(0.5)
    report = readers.report
    summary = (
        f"reader queries={sum(report.queries.values())} errors={len(report.errors)}"
        f" deadlocks={len(report.deadlocks)}; first errors: {report.errors[:5]}"
    )
    print(summary)
    assert report.deadlocks == [], summary
    assert report.errors == [], summary
    assert sorted(set(readers.bi + readers.tenant) - set(report.queries)) == [], "never read"
    after = warehouse.relations()
    assert sorted(set(before) - set(after)) == []
    assert warehouse.missing_latest_version_views() == []
    assert warehouse.unreadable(sorted(after)) == {}
