"""Removing a tenant login (``value-view tenant-login remove``): nothing of it stays behind.

In order, so that the login never reads again from the first step on:

1. one transaction: its mapping row is deleted, it leaves ``value_view_tenant_reader``, its
   per-database settings are reset and (unless the role is kept) it loses LOGIN;
2. its open sessions are ended (``pg_terminate_backend``), so an open cursor stops fetching;
3. in every database where it owns objects or holds privileges (pg_shdepend says which), what
   it owns is dropped (large objects included) and its privileges are revoked (``DROP OWNED``),
   and the role is dropped in the warehouse database's transaction.

A role that is more than a tenant login (an attribute such as CREATEDB, or another group) is
never dropped and its sessions are left alone: it only loses its tenant access, and the result
says why it was kept. Removing a name that is neither a role nor mapped is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from orchestration.lib import tenancy
from orchestration.lib.database import ConnectionSettings, connect
from orchestration.lib.tenancy import (
    MAPPING_TABLE,
    SECURITY_SCHEMA,
    TENANT_READER_ROLE,
    TenancyError,
)

TERMINATE_WAIT_MS = 5000


@dataclass(frozen=True)
class Removal:
    """What ``remove_login`` did."""

    login: str
    mapping_deleted: bool
    sessions_ended: int
    dropped: tuple[str, ...]  # owned objects dropped, as PostgreSQL describes them
    role_dropped: bool
    kept_because: str = ""

    def summary(self) -> str:
        parts = [
            "mapping deleted" if self.mapping_deleted else "no mapping",
            f"{self.sessions_ended} session{'' if self.sessions_ended == 1 else 's'} ended",
        ]
        if self.dropped:
            parts.append(
                f"{len(self.dropped)} owned object{'' if len(self.dropped) == 1 else 's'} dropped"
                f" ({tenancy.summary(list(self.dropped), 3)})"
            )
        parts.append(
            "role dropped"
            if self.role_dropped
            else f"role kept ({self.kept_because})"
            if self.kept_because
            else "no role"
        )
        return f"{self.login} removed: " + ", ".join(parts)


def _delete_mapping(conn: Any, login: str) -> bool:
    if not conn.execute(
        "select to_regclass(%s) is not null", (f'"{SECURITY_SCHEMA}"."{MAPPING_TABLE}"',)
    ).fetchone()[0]:
        return False
    deleted = conn.execute(
        tenancy.compose("delete from {}.{} where login = %s", SECURITY_SCHEMA, MAPPING_TABLE),
        (login,),
    )
    return deleted.rowcount > 0


def _end_sessions(conn: Any, login: str) -> int:
    pids = [
        row[0]
        for row in conn.execute(
            "select pid from pg_catalog.pg_stat_activity"
            " where usename = %s and pid <> pg_catalog.pg_backend_pid()",
            (login,),
        ).fetchall()
    ]
    ended = 0
    for pid in pids:
        try:
            ended += bool(
                conn.execute(
                    "select pg_catalog.pg_terminate_backend(%s, %s)", (pid, TERMINATE_WAIT_MS)
                ).fetchone()[0]
            )
        except psycopg.errors.InsufficientPrivilege as error:
            raise TenancyError(
                f"cannot end the sessions of {login} (its access is already revoked): "
                f"{str(error).strip().splitlines()[0]}; the admin role needs pg_signal_backend"
            ) from None
    return ended


def _owned(conn: Any, login: str) -> list[str]:
    """What ``login`` owns in the connected database, as PostgreSQL describes it."""
    return [
        row[0]
        for row in conn.execute(
            "select pg_catalog.pg_describe_object(deps.classid, deps.objid, deps.objsubid)"
            " from pg_catalog.pg_shdepend as deps"
            " inner join pg_catalog.pg_database as here on here.datname = current_database()"
            " where deps.dbid = here.oid and deps.deptype = 'o'"
            " and deps.refclassid = 'pg_catalog.pg_authid'::regclass"
            " and deps.refobjid = %s::regrole"
            " order by 1",
            (login,),
        ).fetchall()
    ]


def _drop_owned(conn: Any, login: str, prefix: str = "") -> list[str]:
    owned = _owned(conn, login)
    try:
        tenancy.execute(conn, "drop owned by {}", login)
    except psycopg.Error as error:
        raise TenancyError(
            f"cannot drop what {login} owns{prefix}: {str(error).strip().splitlines()[0]}"
        ) from None
    return [f"{name}{prefix}" for name in owned]


def _other_databases(conn: Any, login: str) -> list[str]:
    """Databases other than this one where ``login`` owns objects or holds privileges."""
    return [
        row[0]
        for row in conn.execute(
            "select distinct databases.datname::text from pg_catalog.pg_shdepend as deps"
            " inner join pg_catalog.pg_database as databases on databases.oid = deps.dbid"
            " where deps.refclassid = 'pg_catalog.pg_authid'::regclass"
            " and deps.refobjid = %s::regrole and databases.datname <> current_database()"
            " order by 1",
            (login,),
        ).fetchall()
    ]


def remove_login(settings: ConnectionSettings, login: str, *, keep_role: bool = False) -> Removal:
    """Remove ``login`` as a tenant login; with ``keep_role`` the role itself stays (without
    its tenant access). See the module's docstring for the steps."""
    tenancy.check_login_name(login)
    with connect(settings, autocommit=True) as conn:
        with conn.transaction():
            role = tenancy.role_info(conn, login)
            mapped = _delete_mapping(conn, login)
            member = role is not None and TENANT_READER_ROLE in role["member_of"]
            if role is None and not mapped:
                raise TenancyError(
                    f"no tenant login {login}: no such role and no mapping in "
                    f"{SECURITY_SCHEMA}.{MAPPING_TABLE}"
                )
            if role is not None and not member and not mapped:
                raise TenancyError(
                    f"{login} is not a tenant login (not mapped, not a member of "
                    f"{TENANT_READER_ROLE}); nothing was changed"
                )
            others = [
                name for name in (role or {}).get("member_of", []) if name != TENANT_READER_ROLE
            ]
            kept_because = (
                ""
                if role is None
                else "it has superuser, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS"
                if role["is_privileged"]
                else f"it is a member of {', '.join(others)}"
                if others
                else "asked to keep it"
                if keep_role
                else ""
            )
            plain = role is not None and not role["is_privileged"] and not others
            if member:
                tenancy.execute(conn, "revoke {} from {}", TENANT_READER_ROLE, login)
            if role is not None:
                tenancy.execute(
                    conn, "alter role {} in database {} reset all", login, settings.dbname
                )
            if plain and not keep_role:
                tenancy.execute(conn, "alter role {} nologin", login)
        sessions = _end_sessions(conn, login) if plain else 0
        dropped: list[str] = []
        if plain and not keep_role:
            for dbname in _other_databases(conn, login):
                with connect(settings.with_database(dbname), autocommit=True) as other:
                    dropped += _drop_owned(other, login, f" in database {dbname}")
            with conn.transaction():
                dropped += _drop_owned(conn, login)
                try:
                    tenancy.execute(conn, "drop role {}", login)
                except psycopg.Error as error:
                    raise TenancyError(
                        f"cannot drop role {login}: {str(error).strip().splitlines()[0]}"
                    ) from None
    return Removal(
        login,
        mapped,
        sessions,
        tuple(dropped),
        role_dropped=plain and not keep_role,
        kept_because=kept_because,
    )
