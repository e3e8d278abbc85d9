"""The write side of the tenant wall, tried as a hostile BI login would, against a real server.

A warehouse is built into a throwaway database (demo data at scale 1, `dbt seed`, `dbt run` of a
table mart and a materialized-view mart with their parents, with the security hooks). Then a
tenant login and a value_view_reader member, each with `default_transaction_read_only` turned off,
try every kind of write: rows of marts, sources, tenant views and the login mapping; tables,
views, functions, types and schemas anywhere; temporary objects; large objects through every
server function; COPY to and from files and programs; refreshing a mart; becoming another role.
Each must be refused for lack of privilege. Then: `tenant-login add` refuses an over-privileged
role and the security report flags one that is mapped anyway, and `tenant-login remove` leaves no
role, mapping, session or owned object behind.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from orchestration.lib import database, tenancy, tenant_removal
from orchestration.lib import dbt_runner as project
from orchestration.tools import cli, demo_data

SEED = 42
PASSWORD = "tenant-writes-test-password"
LO_WRITE_MODE = 0x20000  # INV_WRITE


@dataclass
class Sealed:
    settings: database.ConnectionSettings
    target: Path
    tenants: list[uuid.UUID]
    login: str
    reader: str
    suffix: str
    table: str  # a mart that is a table (value_view.<table>, value_view_tenant.<table>)
    matview: str  # a mart that is a materialized view
    large_object: int  # owned by the admin

    def as_login(self, login: str, **kwargs: Any) -> psycopg.Connection:
        kwargs.setdefault("autocommit", True)
        return database.connect(replace(self.settings, user=login, password=PASSWORD), **kwargs)

    def query(self, statement: Any, params: tuple = ()) -> list[tuple]:
        with database.connect(self.settings, autocommit=True) as conn:
            return conn.execute(statement, params).fetchall()

    def name(self, what: str) -> str:
        return f"vv_test_{self.suffix}_{what}"


def _drop_role(settings: database.ConnectionSettings, login: str) -> None:
    with database.connect(settings, autocommit=True) as conn:
        conn.execute(sql.SQL("drop owned by {} cascade").format(sql.Identifier(login)))
        conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(login)))


def _role_exists(settings: database.ConnectionSettings, login: str) -> bool:
    with database.connect(settings, autocommit=True) as conn:
        return bool(conn.execute("select 1 from pg_roles where rolname = %s", (login,)).fetchone())


@pytest.fixture(scope="module")
def sealed(
    server: database.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Sealed]:
    settings = server.with_database(f"vv_writes_{os.getpid()}_{secrets.token_hex(3)}")
    database.ensure_database(settings)
    target: Path = tmp_path_factory.mktemp("dbt_writes")
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
        with database.connect(settings, autocommit=True) as conn:
            tenants = [row[0] for row in conn.execute("select id from vital.tenants order by 1")]
        login = f"vv_test_{suffix}_tenant"
        tenancy.add_login(settings, login, tenants[0], password=PASSWORD)
        created.append(login)
        reader = f"vv_test_{suffix}_reader"
        with database.connect(settings, autocommit=True) as conn:
            conn.execute(
                sql.SQL("create role {} login password {} in role {}").format(
                    sql.Identifier(reader),
                    sql.Literal(PASSWORD),
                    sql.Identifier(tenancy.READER_ROLE),
                )
            )
            created.append(reader)
        env = {**os.environ, **settings.env()}
        project.run_dbt(["seed", "--quiet"], target_path=target, env=env)
        project.run_dbt(
            [
                "run",
                "--quiet",
                "--select",
                "+path:models/marts/rollups",
                "+path:models/marts/value_view/mv_value_view_strategic_alignment_v1.sql",
            ],
            target_path=target,
            env=env,
        )
        manifest = json.loads((target / "manifest.json").read_text())
        relations = {relation.relation for relation in tenancy.bi_relations(manifest)}
        with database.connect(settings, autocommit=True) as conn:
            kinds = dict(
                conn.execute(
                    "select relname::text, relkind::text from pg_class"
                    " where relnamespace = %s::regnamespace",
                    (tenancy.BI_SCHEMA,),
                ).fetchall()
            )
            large_object = conn.execute("select lo_from_bytea(0, 'owned by the admin')").fetchone()
            # a table mart with rows of the tenant (the trend table stays empty without a snapshot)
            table = next(
                name
                for name in sorted(relations)
                if kinds.get(name) == "r"
                and conn.execute(
                    sql.SQL("select exists (select from {}.{} where tenant_id = %s)").format(
                        sql.Identifier(tenancy.BI_SCHEMA), sql.Identifier(name)
                    ),
                    (tenants[0],),
                ).fetchone()[0]
            )
        matview = next(name for name in sorted(relations) if kinds.get(name) == "m")
        yield Sealed(
            settings, target, tenants, login, reader, suffix, table, matview, large_object[0]
        )
    finally:
        for role in created:
            if _role_exists(settings, role):
                _drop_role(settings, role)
        database.drop_database(settings)


# Each write a BI login might try, by name; each must fail for lack of privilege. The
# placeholders are filled from the built warehouse (`_statement`).
ATTACKS = {
    "insert into a mart": "insert into {bi}.{table} select * from {bi}.{table} limit 1",
    "update a mart": "update {bi}.{table} set tenant_id = tenant_id",
    "delete from a mart": "delete from {bi}.{table}",
    "truncate a mart": "truncate {bi}.{table}",
    "refresh a materialized view": "refresh materialized view {bi}.{matview}",
    "insert through a tenant view": (
        "insert into {tenant}.{table} select * from {tenant}.{table} limit 1"
    ),
    "update through a tenant view": "update {tenant}.{table} set tenant_id = tenant_id",
    "delete through a tenant view": "delete from {tenant}.{table}",
    "insert into a source": "insert into vital.tenants (id) values (gen_random_uuid())",
    "update a source": "update vital.tenants set id = id",
    "delete from a source": "delete from vital.tenants",
    "read the mapping": "select * from {mapping}",
    "insert into the mapping": "insert into {mapping} values ('intruder', gen_random_uuid())",
    "update the mapping": "update {mapping} set tenant_id = gen_random_uuid()",
    "delete from the mapping": "delete from {mapping}",
    "create a table in public": "create table public.intruder (id int)",
    "create a table in the BI schema": "create table {bi}.intruder (id int)",
    "create a table in the tenant schema": "create table {tenant}.intruder (id int)",
    "create a table in the source schema": "create table vital.intruder (id int)",
    "create a table in the security schema": "create table {security}.intruder (id int)",
    "create a view in public": "create view public.intruder as select 1 as one",
    "create a function in public": (
        "create function public.intruder() returns int language sql as 'select 1'"
    ),
    "create a function in pg_temp": (
        "create function pg_temp.intruder() returns int language sql as 'select 1'"
    ),
    "create a type in public": "create type public.intruder as (id int)",
    "create a schema": "create schema intruder",
    "create a temporary table": "create temporary table intruder (id int)",
    "select into a temporary table": "select 1 as one into temporary intruder",
    "create a temporary view": "create temporary view intruder as select 1 as one",
    "create a publication": "create publication intruder",
    "create a large object with lo_from_bytea": "select lo_from_bytea(0, 'x')",
    "create a large object with lo_create": "select lo_create(0)",
    "create a large object with lo_creat": "select lo_creat(-1)",
    "import a file as a large object": "select lo_import('/etc/hostname')",
    "export a large object to a file": "select lo_export({lo}, '/tmp/vv_intruder')",
    "write a large object with lo_put": "select lo_put({lo}, 0, 'x')",
    "write a large object with lowrite": ("select lowrite(lo_open({lo}, {write_mode}), 'x')"),
    "truncate a large object": "select lo_truncate(lo_open({lo}, {write_mode}), 0)",
    "unlink a large object": "select lo_unlink({lo})",
    "read a large object": "select lo_get({lo})",
    "copy from stdin into a mart": "copy {bi}.{table} from stdin",
    "copy to a file": "copy (select 1) to '/tmp/vv_intruder'",
    "copy from a file": "copy {bi}.{table} from '/etc/hostname'",
    "copy to a program": "copy (select 1) to program 'true'",
    "set role postgres": "set role postgres",
    "set role to the admin": "set role {admin}",
    "set role to the other BI group": "set role {reader_role}",
    "set role to pg_read_all_data": "set role pg_read_all_data",
    "set session authorization": "set session authorization {admin}",
    "create a role": "create role intruder",
    "create a database": "create database intruder",
}


def _statement(sealed: Sealed, attack: str, who: str) -> str:
    values = {
        "bi": tenancy.BI_SCHEMA,
        "tenant": tenancy.TENANT_SCHEMA,
        "security": tenancy.SECURITY_SCHEMA,
        "mapping": f"{tenancy.SECURITY_SCHEMA}.{tenancy.MAPPING_TABLE}",
        "table": sealed.table,
        "matview": sealed.matview,
        "lo": sealed.large_object,
        "write_mode": LO_WRITE_MODE,
        "admin": sealed.settings.user,
        # a reader member tries the other group
        "reader_role": tenancy.TENANT_READER_ROLE if who == "reader" else tenancy.READER_ROLE,
    }
    return ATTACKS[attack].format(**values)


@pytest.mark.slow
@pytest.mark.parametrize("who", ["tenant", "reader"])
@pytest.mark.parametrize("attack", list(ATTACKS))
def test_bi_logins_cannot_write(sealed: Sealed, who: str, attack: str) -> None:
    login = sealed.login if who == "tenant" else sealed.reader
    statement = _statement(sealed, attack, who)
    with sealed.as_login(login) as conn:
        # A default only: turning it off must not open a write path.
        conn.execute("set default_transaction_read_only = off")
        if statement.startswith("create database"):  # not in a transaction block
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            return
        # A tenant view reads a function, so PostgreSQL refuses a write through it as not
        # updatable before it checks privileges; every other write is a privilege error.
        refused = (
            (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectNotInPrerequisiteState)
            if "through a tenant view" in attack
            else psycopg.errors.InsufficientPrivilege
        )
        with pytest.raises(refused), conn.transaction():
            if statement.startswith("copy") and "stdin" in statement:
                with conn.cursor().copy(statement) as copy:
                    copy.write(b"")
            else:
                conn.execute(statement)
            raise psycopg.Rollback()
    assert sealed.query("select lo_get(%s)", (sealed.large_object,))[0][0] == (
        b"owned by the admin"
    )


# --------------------------------------------------------------------------------------
# Only a clean login becomes a tenant login
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "login", ['acme"bi', "acme;drop role postgres", "acme bi", "robert'); drop table x; --"]
)
def test_add_refuses_a_name_that_is_not_a_plain_identifier(
    login: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(tenancy.TenancyError, match="lowercase letters"):
        tenancy.add_login(
            database.ConnectionSettings("", 0, "", "", "", "url"), login, uuid.uuid4()
        )
    assert cli.main(["tenant-login", "add", login, "--tenant", str(uuid.uuid4())]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and repr(login) in error


# What an existing role may hold that makes it unfit, and the words the refusal uses for it.
OVER_PRIVILEGED = {
    "reads the marts and the sources": (
        "grant usage on schema {bi}, vital to {role};"
        " grant select on all tables in schema {bi}, vital to {role}",
        "relations in schema vital",
    ),
    "may create databases": ("alter role {role} createdb", "CREATEDB"),
    "may bypass row-level security": ("alter role {role} bypassrls", "BYPASSRLS"),
    "is a member of a predefined role": ("grant pg_read_all_data to {role}", "pg_read_all_data"),
    "owns a table": (
        "create table public.{role}_owned (id int);"
        " alter table public.{role}_owned owner to {role}",
        "owns table public.",
    ),
    "owns a large object": ("alter large object {lo} owner to {role}", "owns large object"),
    "may create in a schema": (
        "grant create on schema {bi} to {role}",
        f"privileges on 1 object (schema {tenancy.BI_SCHEMA})",
    ),
}


def _grant(sealed: Sealed, role: str, grants: str) -> None:
    with database.connect(sealed.settings, autocommit=True) as conn:
        large_object = conn.execute("select lo_from_bytea(0, 'x')").fetchone()[0]
        for statement in grants.format(bi=tenancy.BI_SCHEMA, role=role, lo=large_object).split(";"):
            conn.execute(statement)


@pytest.mark.slow
@pytest.mark.parametrize("holding", list(OVER_PRIVILEGED))
def test_add_refuses_an_existing_role_that_holds_more(sealed: Sealed, holding: str) -> None:
    grants, words = OVER_PRIVILEGED[holding]
    role = sealed.name(f"rich{list(OVER_PRIVILEGED).index(holding)}")
    with database.connect(sealed.settings, autocommit=True) as conn:
        conn.execute(sql.SQL("create role {} login").format(sql.Identifier(role)))
    try:
        _grant(sealed, role, grants)
        with pytest.raises(tenancy.TenancyError) as refused:
            tenancy.add_login(sealed.settings, role, sealed.tenants[0])
        message = str(refused.value)
        assert words in message and role in message and "\n" not in message, message
        assert not sealed.query(
            f"select 1 from {tenancy.SECURITY_SCHEMA}.{tenancy.MAPPING_TABLE} where login = %s",
            (role,),
        )
        assert not sealed.query(
            "select 1 from pg_auth_members where member = %s::regrole and roleid = %s::regrole",
            (role, tenancy.TENANT_READER_ROLE),
        )
    finally:
        _drop_role(sealed.settings, role)


@pytest.mark.slow
def test_the_report_flags_a_mapped_login_that_reads_more_than_its_tenant(sealed: Sealed) -> None:
    role = sealed.name("mapped_rich")
    mapping = sql.SQL("{}.{}").format(
        sql.Identifier(tenancy.SECURITY_SCHEMA), sql.Identifier(tenancy.MAPPING_TABLE)
    )
    with database.connect(sealed.settings, autocommit=True) as conn:
        conn.execute(
            sql.SQL("create role {} login in role {}").format(
                sql.Identifier(role), sql.Identifier(tenancy.TENANT_READER_ROLE)
            )
        )
    try:
        _grant(sealed, role, OVER_PRIVILEGED["reads the marts and the sources"][0])
        with database.connect(sealed.settings, autocommit=True) as conn:
            conn.execute(
                sql.SQL("insert into {} (login, tenant_id) values (%s, %s)").format(mapping),
                (role, sealed.tenants[0]),
            )
        env = {**os.environ, **sealed.settings.env()}
        report = project.run_dbt(
            ["run-operation", "value_view_security_report"], target_path=sealed.target, env=env
        ).stdout
        flagged = [line for line in report.splitlines() if f"tenant login {role} " in line]
        assert flagged and "relations in schema vital" in flagged[0], report
        assert f"tenant login {sealed.login} " not in report
        assert "can still write" not in report
        listed = {login.login: login for login in tenancy.list_logins(sealed.settings)}
        assert "relations in schema vital" in listed[role].beyond_tenant
        assert listed[sealed.login].beyond_tenant == ""
    finally:
        with database.connect(sealed.settings, autocommit=True) as conn:
            conn.execute(sql.SQL("delete from {} where login = %s").format(mapping), (role,))
        _drop_role(sealed.settings, role)


# --------------------------------------------------------------------------------------
# Clean removal
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_remove_leaves_no_role_mapping_session_or_owned_object(sealed: Sealed) -> None:
    login = sealed.name("leaving")
    tenancy.add_login(sealed.settings, login, sealed.tenants[0], password=PASSWORD)
    with database.connect(sealed.settings, autocommit=True) as conn:
        # What a login may come to own (by a grant of the admin's, as it cannot create them).
        large_object = conn.execute("select lo_from_bytea(0, 'left behind')").fetchone()[0]
        conn.execute(
            sql.SQL("alter large object {} owner to {}").format(
                sql.Literal(large_object), sql.Identifier(login)
            )
        )
        conn.execute(sql.SQL("create table public.{} (id int)").format(sql.Identifier(login)))
        conn.execute(
            sql.SQL("alter table public.{} owner to {}").format(
                sql.Identifier(login), sql.Identifier(login)
            )
        )
    session = sealed.as_login(login, autocommit=False)
    try:
        cursor = session.cursor(name="open_cursor")
        cursor.execute(
            sql.SQL(
                "select rows.*, copies from {}.{} as rows, generate_series(1, 1000) as copies"
            ).format(sql.Identifier(tenancy.TENANT_SCHEMA), sql.Identifier(sealed.table))
        )
        assert cursor.fetchmany(10)
        removal = tenant_removal.remove_login(sealed.settings, login)
        with pytest.raises(psycopg.OperationalError):
            cursor.fetchmany(10)
    finally:
        session.close()
    assert removal.mapping_deleted and removal.role_dropped
    assert removal.sessions_ended == 1
    assert len(removal.dropped) == 2, removal.dropped
    summary = removal.summary()
    assert "1 session ended" in summary and "role dropped" in summary, summary
    assert not sealed.query("select 1 from pg_roles where rolname = %s", (login,))
    assert not sealed.query(
        f"select 1 from {tenancy.SECURITY_SCHEMA}.{tenancy.MAPPING_TABLE} where login = %s",
        (login,),
    )
    assert not sealed.query("select 1 from pg_stat_activity where usename = %s", (login,))
    assert not sealed.query("select 1 from pg_largeobject_metadata where oid = %s", (large_object,))
    assert sealed.query("select to_regclass(%s)", (f"public.{login}",)) == [(None,)]
    assert not sealed.query(
        "select 1 from pg_shdepend where refclassid = 'pg_authid'::regclass"
        " and refobjid not in (select oid from pg_authid)"
    )


@pytest.mark.slow
def test_removing_a_login_that_does_not_exist_is_an_error(
    sealed: Sealed, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = sealed.name("missing")
    with pytest.raises(tenancy.TenancyError, match=f"no tenant login {missing}"):
        tenant_removal.remove_login(sealed.settings, missing)
    for key, value in sealed.settings.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("VALUE_VIEW_DATABASE_URL", raising=False)
    assert cli.main(["tenant-login", "remove", missing]) == 2
    assert f"no tenant login {missing}" in capsys.readouterr().err
    # A role that is not a tenant login is not one to remove either.
    with pytest.raises(tenancy.TenancyError, match="not a tenant login"):
        tenant_removal.remove_login(sealed.settings, sealed.reader)
    assert _role_exists(sealed.settings, sealed.reader)


# --------------------------------------------------------------------------------------
# A server where dbt's role is not a superuser
# --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_without_superuser_the_setup_keeps_going_and_the_report_names_what_stays_open(
    server: database.ConnectionSettings, tmp_path: Path
) -> None:
    """dbt's role owns the database but is no superuser: it closes TEMPORARY and CREATE on the
    database (it owns them) and keeps TEMPORARY for itself; the large-object functions belong
    to the bootstrap superuser, so they stay open and the report says so."""
    owner = f"vv_test_{secrets.token_hex(3)}_dbt"
    settings = server.with_database(f"vv_writes_owner_{os.getpid()}_{secrets.token_hex(3)}")
    with database.connect(server.with_database("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("create role {} login password {}").format(
                sql.Identifier(owner), sql.Literal(PASSWORD)
            )
        )
        conn.execute(
            sql.SQL("create database {} owner {}").format(
                sql.Identifier(settings.dbname), sql.Identifier(owner)
            )
        )
    as_owner = replace(settings, user=owner, password=PASSWORD)
    try:
        tenancy.ensure_security_objects(as_owner, "vital")
        env = {**os.environ, **as_owner.env()}
        report = project.run_dbt(
            ["run-operation", "value_view_security_report"], target_path=tmp_path, env=env
        ).stdout
        still_open = [line for line in report.splitlines() if "can still write" in line]
        assert len(still_open) == 1, report
        assert "large-object function" in still_open[0] and "TEMPORARY" not in still_open[0]
        with database.connect(as_owner, autocommit=True) as conn:
            public_can = conn.execute(
                "select has_database_privilege('public', current_database(), 'TEMPORARY'),"
                " has_database_privilege(current_user, current_database(), 'TEMPORARY'),"
                " has_function_privilege('public', 'lo_from_bytea(oid, bytea)', 'EXECUTE')"
            ).fetchone()
            assert public_can == (False, True, True)
            conn.execute("create temporary table dbt_still_can (id int)")
    finally:
        database.drop_database(settings)
        with database.connect(server.with_database("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(owner)))
