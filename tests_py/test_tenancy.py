"""Read-only BI access and tenant isolation, against a real server.

The slow tests build the project into a throwaway database (demo data at scale 1, `dbt seed`,
`dbt run` of the marts, the quarantine and their parents, with the security hooks), then
connect over TCP as per-tenant logins, a value_view_reader member and a login without a mapping.
The embedded server asks every connection for its password (scram-sha-256), as production
servers do.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from orchestration.lib import database, tenancy, tenant_removal
from orchestration.lib import dbt_runner as project
from orchestration.tools import cli, demo_data

SEED = 42
PASSWORD = "tenant-login-test-password"


# --------------------------------------------------------------------------------------
# Fast: validation and the graph
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("login", ["acme_bi", "_svc", "tenant2_reader", "a" * 63])
def test_plain_login_names_are_accepted(login: str) -> None:
    assert tenancy.check_login_name(login) == login


@pytest.mark.parametrize(
    "login",
    ["", "Acme", "1acme", "acme-bi", "acme bi", "a" * 64, "postgres", "pg_monitor", "value_view_x"],
)
def test_unsafe_login_names_are_refused(login: str) -> None:
    with pytest.raises(tenancy.TenancyError):
        tenancy.check_login_name(login)


def test_tenant_ids_must_be_uuids() -> None:
    tenant = uuid.uuid4()
    assert tenancy.check_tenant_id(str(tenant)) == tenant
    with pytest.raises(tenancy.TenancyError, match="UUID"):
        tenancy.check_tenant_id("acme")


def _model(name: str, path: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "resource_type": "model",
        "package_name": "value_view",
        "name": name,
        "alias": extra.pop("alias", name),
        "schema": extra.pop("schema", "value_view"),
        "fqn": ["value_view", *path, name],
        "config": {"enabled": True, "materialized": extra.pop("materialized", "view")},
        **extra,
    }


def test_bi_relations_come_from_the_marts_of_the_graph() -> None:
    nodes = {
        "model.value_view.heatmap.v1": _model(
            "heatmap", ["marts", "value_view"], alias="heatmap_v1", version=1, latest_version=1
        ),
        "model.value_view.heatmap.v0": _model(
            "heatmap", ["marts", "value_view"], alias="heatmap_v0", version=0, latest_version=1
        ),
        "model.value_view.options": _model("options", ["marts", "realtime"]),
        "model.value_view.helper": _model(
            "helper", ["marts", "value_view"], materialized="ephemeral"
        ),
        "model.value_view.stg_x": _model(
            "stg_x", ["staging", "vital"], schema="value_view_staging"
        ),
        "seed.value_view.bands": {"resource_type": "seed", "name": "bands", "fqn": ["a", "marts"]},
    }
    manifest = {"metadata": {"project_name": "value_view"}, "nodes": nodes}
    assert tenancy.bi_relations(manifest) == [
        tenancy.BiRelation("value_view", "heatmap_v0", "heatmap_v0"),
        tenancy.BiRelation("value_view", "heatmap_v1", "heatmap_v1"),
        tenancy.BiRelation("value_view", "heatmap", "heatmap_v1"),
        tenancy.BiRelation("value_view", "options", "options"),
    ]


def test_cli_parses_tenant_login_commands() -> None:
    parser = cli.build_parser()
    tenant = str(uuid.uuid4())
    args = parser.parse_args(
        ["tenant-login", "add", "acme_bi", "--tenant", tenant, "--password-env", "ACME_PW"]
    )
    assert (args.action, args.login, args.tenant, args.password_env) == (
        "add",
        "acme_bi",
        tenant,
        "ACME_PW",
    )
    assert parser.parse_args(["tenant-login", "remove", "acme_bi"]).action == "remove"
    assert parser.parse_args(["tenant-login", "list"]).action == "list"


def test_cli_refuses_a_missing_password_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VV_MISSING_PASSWORD", raising=False)
    code = cli.main(
        [
            "tenant-login",
            "add",
            "acme_bi",
            "--tenant",
            str(uuid.uuid4()),
            "--password-env",
            "VV_MISSING_PASSWORD",
        ]
    )
    assert code == 2


# --------------------------------------------------------------------------------------
# Slow: a built warehouse and real logins
# --------------------------------------------------------------------------------------


@dataclass
class Warehouse:
    settings: database.ConnectionSettings
    manifest: dict[str, Any]
    relations: list[tenancy.BiRelation]
    tenants: dict[uuid.UUID, str] = field(default_factory=dict)
    logins: dict[uuid.UUID, str] = field(default_factory=dict)
    reader: str = ""
    unmapped: str = ""
    suffix: str = ""

    def as_login(self, login: str, **kwargs: Any) -> psycopg.Connection:
        """A TCP connection as ``login`` (password set; trusted on the embedded server)."""
        return database.connect(
            replace(self.settings, user=login, password=PASSWORD), autocommit=True, **kwargs
        )

    def query(self, statement: Any, params: tuple = ()) -> list[tuple]:
        with database.connect(self.settings, autocommit=True) as conn:
            return conn.execute(statement, params).fetchall()


def _drop_role(settings: database.ConnectionSettings, login: str) -> None:
    with database.connect(settings, autocommit=True) as conn:
        conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(login)))


@pytest.fixture(scope="module")
def built(
    server: database.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Warehouse]:
    settings = server.with_database(f"vv_tenancy_{os.getpid()}_{secrets.token_hex(3)}")
    database.ensure_database(settings)
    target: Path = tmp_path_factory.mktemp("dbt_tenancy")
    suffix = secrets.token_hex(3)
    created: list[str] = []
    try:
        demo_data.load_demo_data(
            settings,
            scale=1,
            seed=SEED,
            as_of=dt.datetime.now(dt.timezone.utc).date(),
            progress=False,
        )
        # The logins exist before the build, as they do before every scheduled run: the run's
        # hooks must keep (not reset) their access.
        with database.connect(settings, autocommit=True) as conn:
            tenants = dict(conn.execute("select id, slug from vital.tenants order by slug"))
        logins: dict[uuid.UUID, str] = {}
        for tenant_id, slug in tenants.items():
            login = f"vv_test_{suffix}_{slug.replace('-', '_')}"[:63]
            tenancy.add_login(settings, login, tenant_id, password=PASSWORD)
            created.append(login)
            logins[tenant_id] = login
        reader = f"vv_test_{suffix}_reader"
        unmapped = f"vv_test_{suffix}_unmapped"
        with database.connect(settings, autocommit=True) as conn:
            for login, group in (
                (reader, tenancy.READER_ROLE),
                (unmapped, tenancy.TENANT_READER_ROLE),
            ):
                conn.execute(
                    sql.SQL("create role {} login password {} in role {}").format(
                        sql.Identifier(login), sql.Literal(PASSWORD), sql.Identifier(group)
                    )
                )
                created.append(login)
        env = {**os.environ, **settings.env()}
        project.run_dbt(["seed", "--quiet"], target_path=target, env=env)
        project.run_dbt(
            ["run", "--quiet", "--select", "+path:models/marts", "+path:models/quarantine"],
            target_path=target,
            env=env,
        )
        manifest = json.loads((target / "manifest.json").read_text())
        found = Warehouse(settings, manifest, tenancy.bi_relations(manifest), suffix=suffix)
        found.tenants, found.logins = tenants, logins
        found.reader, found.unmapped = reader, unmapped
        yield found
    finally:
        for tenant_login in created:
            _drop_role(settings, tenant_login)
        database.drop_database(settings)


def _counts_by_tenant(conn: psycopg.Connection, schema: str, relation: str) -> dict[Any, int]:
    statement = sql.SQL("select tenant_id, count(*) from {}.{} group by tenant_id").format(
        sql.Identifier(schema), sql.Identifier(relation)
    )
    return dict(conn.execute(statement).fetchall())


def isolation_problems(
    everything: dict[Any, int], seen_by: dict[str, tuple[Any, dict[Any, int]]]
) -> list[str]:
    """What is wrong when each login (tenant, counts it saw by tenant_id) reads a relation.

    ``everything`` is the relation's row count by tenant_id as the owner sees it.
    """
    problems = []
    for login, (tenant, seen) in seen_by.items():
        foreign = {key: count for key, count in seen.items() if key != tenant}
        if foreign:
            problems.append(f"{login} sees rows of other tenants: {foreign}")
        if seen.get(tenant, 0) != everything.get(tenant, 0):
            problems.append(
                f"{login} sees {seen.get(tenant, 0)} of its tenant's "
                f"{everything.get(tenant, 0)} rows"
            )
    total_seen = sum(seen.get(tenant, 0) for tenant, seen in seen_by.values())
    if total_seen != sum(everything.values()):
        problems.append(
            f"tenants see {total_seen} rows in all, the relation holds {sum(everything.values())}"
        )
    return problems


def test_isolation_check_catches_leaks_and_gaps() -> None:
    tenant_a, tenant_b = uuid.uuid4(), uuid.uuid4()
    everything = {tenant_a: 5, tenant_b: 3}
    isolated = {"a": (tenant_a, {tenant_a: 5}), "b": (tenant_b, {tenant_b: 3})}
    assert isolation_problems(everything, isolated) == []
    leaking = {**isolated, "a": (tenant_a, {tenant_a: 5, tenant_b: 3})}
    assert any("other tenants" in problem for problem in isolation_problems(everything, leaking))
    short = {**isolated, "b": (tenant_b, {tenant_b: 2})}
    assert any(
        "2 of its tenant's 3" in problem for problem in isolation_problems(everything, short)
    )
    orphaned = {tenant_a: 5, tenant_b: 3, uuid.uuid4(): 1}
    assert any("holds 9" in problem for problem in isolation_problems(orphaned, isolated))


@pytest.mark.slow
def test_every_bi_facing_relation_has_a_tenant_view(built: Warehouse) -> None:
    assert built.relations, "the graph has no marts"
    views = dict(
        built.query(
            "select relations.relname::text, relations.reloptions from pg_class as relations"
            " where relations.relnamespace = %s::regnamespace and relations.relkind = 'v'",
            (tenancy.TENANT_SCHEMA,),
        )
    )
    assert set(views) == {relation.relation for relation in built.relations}
    for name, options in views.items():
        assert options and "security_barrier=true" in options, name


@pytest.mark.slow
def test_each_tenant_login_sees_only_its_rows_and_counts_add_up(built: Warehouse) -> None:
    problems: list[str] = []
    non_empty = 0
    with database.connect(built.settings, autocommit=True) as owner:
        connections = {tenant: built.as_login(login) for tenant, login in built.logins.items()}
        try:
            for relation in built.relations:
                everything = _counts_by_tenant(owner, relation.schema, relation.relation)
                non_empty += bool(everything)
                if None in everything:
                    problems.append(f"{relation.relation}: {everything[None]} rows without tenant")
                seen_by = {
                    built.logins[tenant]: (
                        tenant,
                        _counts_by_tenant(conn, tenancy.TENANT_SCHEMA, relation.relation),
                    )
                    for tenant, conn in connections.items()
                }
                problems += [
                    f"{relation.relation}: {problem}"
                    for problem in isolation_problems(everything, seen_by)
                ]
        finally:
            for conn in connections.values():
                conn.close()
    assert not problems, "\n".join(problems)
    assert non_empty >= len(built.relations) - 2, "most marts should hold rows at scale 1"


@pytest.mark.slow
def test_unqualified_names_read_the_tenant_views(built: Warehouse) -> None:
    relation = next(rel for rel in built.relations if rel.relation != rel.source)
    tenant, login = next(iter(built.logins.items()))
    with built.as_login(login) as conn:
        assert conn.execute("show search_path").fetchone()[0] == tenancy.TENANT_SCHEMA
        unqualified = conn.execute(
            sql.SQL("select count(*), count(distinct tenant_id) from {}").format(
                sql.Identifier(relation.relation)
            )
        ).fetchone()
    expected = built.query(
        sql.SQL("select count(*) from {}.{} where tenant_id = %s").format(
            sql.Identifier(relation.schema), sql.Identifier(relation.relation)
        ),
        (tenant,),
    )[0][0]
    assert unqualified == (expected, 1 if expected else 0)


@pytest.mark.slow
def test_a_login_without_a_mapping_sees_nothing(built: Warehouse) -> None:
    with built.as_login(built.unmapped) as conn:
        for relation in built.relations:
            count = conn.execute(
                sql.SQL("select count(*) from {}.{}").format(
                    sql.Identifier(tenancy.TENANT_SCHEMA), sql.Identifier(relation.relation)
                )
            ).fetchone()[0]
            assert count == 0, relation.relation


@pytest.mark.slow
def test_a_removed_login_loses_access_at_once(built: Warehouse) -> None:
    tenant = next(iter(built.tenants))
    login = f"vv_test_{built.suffix}_removed"
    tenancy.add_login(built.settings, login, tenant, password=PASSWORD)
    relation = built.relations[0].relation
    statement = sql.SQL("select count(*) from {}.{}").format(
        sql.Identifier(tenancy.TENANT_SCHEMA), sql.Identifier(relation)
    )
    try:
        with built.as_login(login) as conn:
            conn.execute(statement)
            removal = tenant_removal.remove_login(built.settings, login, keep_role=True)
            assert removal.mapping_deleted and removal.sessions_ended == 1
            assert not removal.role_dropped
            with pytest.raises(psycopg.OperationalError):
                conn.execute(statement)
        # The role is kept but reads nothing: it is no longer in the tenant group.
        with built.as_login(login) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    finally:
        _drop_role(built.settings, login)


def _denied_statements(built: Warehouse) -> list[str]:
    """Writes, DDL and reads outside the BI relations; each must fail for lack of privilege."""
    bi, tenant = tenancy.BI_SCHEMA, tenancy.TENANT_SCHEMA
    statements = [
        f"create table {bi}.intruder (id int)",
        "create table public.intruder (id int)",
        f"create table {tenant}.intruder (id int)",
        f"create view {bi}.intruder as select 1 as one",
        "create schema intruder",
        "select count(*) from vital.jtbd",
        "select count(*) from vital.tenants",
        "select count(*) from value_view_staging.stg_vital__jtbd",
        "select count(*) from value_view_intermediate.int_persona_jtbd_pairs_joined",
        "select count(*) from value_view_quarantine.quarantine_jtbd",
        f"select count(*) from {tenancy.SECURITY_SCHEMA}.{tenancy.MAPPING_TABLE}",
        f"insert into {tenancy.SECURITY_SCHEMA}.{tenancy.MAPPING_TABLE}"
        " values ('intruder', gen_random_uuid())",
    ]
    # Writes go to a table mart and to its (automatically updatable) tenant view, so that the
    # privilege check, not the relation kind, is what stops them.
    tables = built.query(
        "select relname::text from pg_class where relnamespace = %s::regnamespace"
        " and relkind = 'r' order by 1",
        (bi,),
    )
    for schema, (name,) in [(schema, row) for row in tables[:1] for schema in (bi, tenant)]:
        statements += [
            f"insert into {schema}.{name} select * from {schema}.{name}",
            f"update {schema}.{name} set tenant_id = tenant_id",
            f"delete from {schema}.{name}",
        ]
    if tables:
        statements.append(f"truncate {bi}.{tables[0][0]}")
    return statements


@pytest.mark.slow
@pytest.mark.parametrize("who", ["reader", "tenant"])
def test_bi_logins_cannot_write_create_or_read_sources(built: Warehouse, who: str) -> None:
    login = built.reader if who == "reader" else next(iter(built.logins.values()))
    allowed = []
    with built.as_login(login) as conn:
        # default_transaction_read_only is only a default; the privileges must hold without it.
        conn.execute("set default_transaction_read_only = off")
        for statement in _denied_statements(built):
            try:
                with conn.transaction():
                    conn.execute(statement)
                    allowed.append(statement)
                    raise psycopg.Rollback()
            except (
                psycopg.errors.InsufficientPrivilege,
                # A tenant view reads a function, so it is not updatable: writes stop earlier.
                psycopg.errors.ObjectNotInPrerequisiteState,
            ):
                continue
    assert not allowed, f"{who} login {login} was allowed: {allowed}"


@pytest.mark.slow
def test_reader_role_reads_every_bi_relation_of_every_tenant(built: Warehouse) -> None:
    with built.as_login(built.reader) as conn:
        for relation in built.relations:
            conn.execute(
                sql.SQL("select count(*) from {}.{}").format(
                    sql.Identifier(relation.schema), sql.Identifier(relation.relation)
                )
            )
    with built.as_login(built.reader) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            sql.SQL("select count(*) from {}.{}").format(
                sql.Identifier(tenancy.TENANT_SCHEMA), sql.Identifier(built.relations[0].relation)
            )
        )


@pytest.mark.slow
def test_passwords_are_stored_as_scram_verifiers(built: Warehouse) -> None:
    login = next(iter(built.logins.values()))
    stored = built.query("select rolpassword from pg_authid where rolname = %s", (login,))[0][0]
    assert stored.startswith("SCRAM-SHA-256$") and PASSWORD not in stored


@pytest.mark.slow
def test_privileged_roles_are_refused_as_tenant_logins(built: Warehouse) -> None:
    tenant = next(iter(built.tenants))
    with pytest.raises(tenancy.TenancyError, match="member of value_view_reader"):
        tenancy.add_login(built.settings, built.reader, tenant)
    with pytest.raises(tenancy.TenancyError, match=r"not in vital\.tenants"):
        tenancy.add_login(built.settings, f"vv_test_{built.suffix}_nobody", uuid.uuid4())
    assert not built.query(
        "select 1 from pg_roles where rolname = %s", (f"vv_test_{built.suffix}_nobody",)
    )


@pytest.mark.slow
def test_cli_adds_lists_and_removes_a_login(
    built: Warehouse, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key, value in built.settings.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("VALUE_VIEW_DATABASE_URL", raising=False)
    monkeypatch.setenv("VV_TEST_TENANT_PASSWORD", PASSWORD)
    login = f"vv_test_{built.suffix}_cli"
    tenant = next(iter(built.tenants))
    try:
        add = ["tenant-login", "add", login, "--tenant", str(tenant)]
        assert cli.main([*add, "--password-env", "VV_TEST_TENANT_PASSWORD"]) == 0
        assert cli.main(["tenant-login", "list"]) == 0
        listed = capsys.readouterr().out
        assert login in listed and str(tenant) in listed
        with built.as_login(login) as conn:
            assert conn.execute("select session_user").fetchone()[0] == login
        capsys.readouterr()
        assert cli.main(["tenant-login", "remove", login]) == 0
        assert "mapping deleted" in capsys.readouterr().out
        assert not built.query("select 1 from pg_roles where rolname = %s", (login,))
        assert cli.main(["tenant-login", "remove", login]) == 2
        assert f"no tenant login {login}" in capsys.readouterr().err
    finally:
        _drop_role(built.settings, login)


def _mapping_shape(settings: database.ConnectionSettings) -> list[tuple]:
    with database.connect(settings, autocommit=True) as conn:
        columns = conn.execute(
            "select column_name::text, data_type::text, is_nullable::text, column_default::text"
            " from information_schema.columns where table_schema = %s and table_name = %s"
            " order by ordinal_position",
            (tenancy.SECURITY_SCHEMA, tenancy.MAPPING_TABLE),
        ).fetchall()
        indexes = conn.execute(
            "select indexdef from pg_indexes where schemaname = %s and tablename = %s order by 1",
            (tenancy.SECURITY_SCHEMA, tenancy.MAPPING_TABLE),
        ).fetchall()
    return [*columns, *(tuple(index[0].split(" USING ")[1:]) for index in indexes)]


@pytest.mark.slow
def test_a_login_added_before_the_first_build_gets_the_hooks_mapping_table(
    built: Warehouse, server: database.ConnectionSettings
) -> None:
    """`tenant-login add` on a database dbt never built runs the dbt hook that creates the
    security objects (one place creates them), and gets the same mapping table as a build."""
    fresh = server.with_database(f"vv_tenancy_fresh_{os.getpid()}_{secrets.token_hex(3)}")
    database.ensure_database(fresh)
    try:
        assert _mapping_shape(fresh) == []
        tenancy.ensure_security_objects(fresh, "vital")
        assert _mapping_shape(fresh) == _mapping_shape(built.settings)
    finally:
        database.drop_database(fresh)
