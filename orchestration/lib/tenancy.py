"""Per-tenant BI logins: each sees only its tenant's rows of every BI-facing relation.

How it fits together (the dbt side is macros/security, run as on-run-start/on-run-end hooks):

- ``value_view_reader`` (NOLOGIN group): SELECT on the marts in schema ``value_view``, every
  tenant. For internal BI service accounts.
- ``value_view_tenant_reader`` (NOLOGIN group): USAGE/SELECT on schema ``value_view_tenant``
  only, which holds one ``security_barrier`` view per BI-facing relation, under the same name,
  filtering ``tenant_id in (select tenant_id from value_view_security.tenant_logins where login =
  session_user)``.
- A tenant login is a LOGIN role that is a member of ``value_view_tenant_reader`` and nothing else,
  with one row in ``value_view_security.tenant_logins``. Without that row it sees no rows at all.
  Its ``search_path`` in the warehouse database is ``value_view_tenant``, so the specification's
  unqualified queries (``select * from mv_value_view_odi_heatmap``) read the filtered views.

This module manages the logins and their mapping (``value-view tenant-login add|remove|list``).
A password, when given, is hashed to a SCRAM-SHA-256 verifier on the client, so the plain text
never reaches the server or its logs.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row

from orchestration.lib import manifest as manifests
from orchestration.lib import settings as project_settings
from orchestration.lib.database import ConnectionSettings, connect
from orchestration.lib.dbt_runner import dbt_env, run_dbt

BI_SCHEMA = "value_view"
TENANT_SCHEMA = f"{BI_SCHEMA}_tenant"
SECURITY_SCHEMA = f"{BI_SCHEMA}_security"
MAPPING_TABLE = "tenant_logins"
READER_ROLE = "value_view_reader"
TENANT_READER_ROLE = "value_view_tenant_reader"
LOGIN_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RESERVED_PREFIXES = ("pg_", "value_view")
RESERVED_NAMES = frozenset({"postgres", "public", "current_user", "session_user", "none"})
SETUP_MACRO = "value_view_security_setup_now"
OPERATIONS_TARGET = "target/operations"


class TenancyError(RuntimeError):
    """A tenant login cannot be managed as asked; the message says why in one line."""


@dataclass(frozen=True)
class TenantLogin:
    login: str
    tenant_id: uuid.UUID
    tenant_name: str | None
    created_at: dt.datetime
    role_exists: bool
    can_login: bool


@dataclass(frozen=True)
class BiRelation:
    """A BI-facing relation: ``schema.relation`` holds the rows of ``schema.source``."""

    schema: str
    relation: str
    source: str


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


def check_login_name(login: str) -> str:
    """The login name, if it is a plain lowercase identifier that no system role uses."""
    if not LOGIN_NAME.match(login or ""):
        raise TenancyError(
            f"login must be lowercase letters, digits and underscores (at most 63, not starting "
            f"with a digit), got {login!r}"
        )
    if login in RESERVED_NAMES or login.startswith(RESERVED_PREFIXES):
        raise TenancyError(f"login {login!r} is reserved; choose another name")
    return login


def check_tenant_id(raw: str | uuid.UUID) -> uuid.UUID:
    if isinstance(raw, uuid.UUID):
        return raw
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise TenancyError(f"--tenant must be a tenant id (a UUID), got {raw!r}") from None


# --------------------------------------------------------------------------------------
# The objects the logins rely on
# --------------------------------------------------------------------------------------


def ensure_security_objects(settings: ConnectionSettings, source_schema: str) -> None:
    """Group roles, schemas and the login -> tenant mapping table, for a `tenant-login add` that
    runs before the first `dbt build`. The one macro that creates them is dbt's on-run-start hook
    ``value_view_security_setup``; this runs it now (the operation
    ``value_view_security_setup_now``), as the role dbt runs as: the tenant views read the
    mapping table with their owner's rights."""
    run_dbt(
        ["run-operation", SETUP_MACRO, "--quiet"],
        target_path=manifests.target_path(OPERATIONS_TARGET),
        env=dbt_env(settings, source_schema=source_schema),
    )


def _sql(template: str, *identifiers: str) -> Any:
    return sql.SQL(template).format(*(sql.Identifier(name) for name in identifiers))


def _execute(conn: Any, template: str, *identifiers: str) -> None:
    conn.execute(_sql(template, *identifiers))


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _role(conn: Any, name: str) -> Mapping[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(
            """
            select
                roles.oid,
                roles.rolcanlogin,
                roles.rolsuper or roles.rolcreaterole or roles.rolcreatedb
                    or roles.rolreplication or roles.rolbypassrls as is_privileged,
                coalesce(array(
                    select groups.rolname::text
                    from pg_catalog.pg_auth_members as members
                    inner join pg_catalog.pg_roles as groups on groups.oid = members.roleid
                    where members.member = roles.oid
                    order by 1
                ), '{}') as member_of
            from pg_catalog.pg_roles as roles
            where roles.rolname = %s
            """,
            (name,),
        ).fetchone()


def _tenant_name(conn: Any, tenant_id: uuid.UUID, source_schema: str) -> tuple[bool, str | None]:
    """(whether the source has a tenants table, the tenant's name or None)."""
    exists = conn.execute(
        "select to_regclass(%s) is not null", (f'"{source_schema}"."tenants"',)
    ).fetchone()[0]
    if not exists:
        return False, None
    row = conn.execute(
        _sql("select tenant_name from {}.tenants where id = %s", source_schema), (tenant_id,)
    ).fetchone()
    return True, (row[0] if row else None)


def _refuse_privileged(login: str, role: Mapping[str, Any]) -> None:
    others = [name for name in role["member_of"] if name != TENANT_READER_ROLE]
    if role["is_privileged"] or others or not role["rolcanlogin"]:
        why = (
            "it has superuser, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS"
            if role["is_privileged"]
            else f"it is a member of {', '.join(others)}"
            if others
            else "it cannot log in"
        )
        raise TenancyError(
            f"role {login} already exists and cannot be a tenant login: {why}; "
            "a tenant login must be a plain LOGIN role whose only group is "
            f"{TENANT_READER_ROLE}"
        )


# --------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------


def add_login(
    settings: ConnectionSettings,
    login: str,
    tenant_id: str | uuid.UUID,
    *,
    password: str | None = None,
    source_schema: str | None = None,
) -> TenantLogin:
    """Create (or re-map) a tenant login that reads only ``tenant_id``'s rows.

    The role is created when missing (LOGIN, no other attribute); an existing role is accepted
    only when it is a plain login whose only group is value_view_tenant_reader. When the source
    schema has a tenants table, the tenant must be in it. Everything happens in one transaction.
    """
    check_login_name(login)
    tenant = check_tenant_id(tenant_id)
    source_schema = source_schema or project_settings.source_schema()
    ensure_security_objects(settings, source_schema)
    with connect(settings) as conn, conn.transaction():
        _execute(conn, "grant usage on schema {} to {}", TENANT_SCHEMA, TENANT_READER_ROLE)
        has_tenants, tenant_name = _tenant_name(conn, tenant, source_schema)
        if has_tenants and tenant_name is None:
            raise TenancyError(f"tenant {tenant} is not in {source_schema}.tenants")
        role = _role(conn, login)
        if role is None:
            _execute(conn, "create role {} login", login)
        else:
            _refuse_privileged(login, role)
        if password is not None:
            if not password:
                raise TenancyError("the password is empty")
            verifier = conn.pgconn.encrypt_password(
                password.encode(), login.encode(), b"scram-sha-256"
            )
            _execute(conn, "alter role {} password " + _literal(verifier.decode()), login)
        _execute(conn, "grant {} to {}", TENANT_READER_ROLE, login)
        _execute(
            conn,
            "alter role {} in database {} set search_path = " + _literal(TENANT_SCHEMA),
            login,
            settings.dbname,
        )
        _execute(
            conn,
            "alter role {} in database {} set default_transaction_read_only = on",
            login,
            settings.dbname,
        )
        created_at = conn.execute(
            _sql(
                "insert into {}.{} as logins (login, tenant_id) values (%s, %s) "
                "on conflict (login) do update set tenant_id = excluded.tenant_id "
                "returning logins.created_at",
                SECURITY_SCHEMA,
                MAPPING_TABLE,
            ),
            (login, tenant),
        ).fetchone()[0]
    return TenantLogin(login, tenant, tenant_name, created_at, True, True)


def remove_login(settings: ConnectionSettings, login: str, *, keep_role: bool = False) -> bool:
    """Delete the login's mapping (it sees nothing from the next query on) and its role.

    The role leaves value_view_tenant_reader and, unless ``keep_role``, is dropped; a role that
    is not a plain tenant login is never dropped. False when there was no mapping.
    """
    check_login_name(login)
    with connect(settings) as conn, conn.transaction():
        mapped = False
        if conn.execute(
            "select to_regclass(%s) is not null", (f'"{SECURITY_SCHEMA}"."{MAPPING_TABLE}"',)
        ).fetchone()[0]:
            mapped = (
                conn.execute(
                    _sql("delete from {}.{} where login = %s", SECURITY_SCHEMA, MAPPING_TABLE),
                    (login,),
                ).rowcount
                > 0
            )
        role = _role(conn, login)
        if role is not None and TENANT_READER_ROLE in role["member_of"]:
            _execute(conn, "revoke {} from {}", TENANT_READER_ROLE, login)
            _execute(conn, "alter role {} in database {} reset all", login, settings.dbname)
            plain = not role["is_privileged"] and role["member_of"] == [TENANT_READER_ROLE]
            if plain and not keep_role:
                _execute(conn, "drop role {}", login)
    return mapped


def list_logins(
    settings: ConnectionSettings, *, source_schema: str | None = None
) -> list[TenantLogin]:
    """Every mapped login with its tenant (and the tenant's name when the source has it)."""
    source_schema = source_schema or project_settings.source_schema()
    with connect(settings) as conn:
        if not conn.execute(
            "select to_regclass(%s) is not null", (f'"{SECURITY_SCHEMA}"."{MAPPING_TABLE}"',)
        ).fetchone()[0]:
            return []
        rows = conn.execute(
            _sql(
                "select logins.login::text, logins.tenant_id, logins.created_at,"
                " roles.oid is not null, coalesce(roles.rolcanlogin, false)"
                " from {}.{} as logins"
                " left join pg_catalog.pg_roles as roles on roles.rolname = logins.login"
                " order by logins.login",
                SECURITY_SCHEMA,
                MAPPING_TABLE,
            )
        ).fetchall()
        names: dict[uuid.UUID, str | None] = {}
        for row in rows:
            if row[1] not in names:
                names[row[1]] = _tenant_name(conn, row[1], source_schema)[1]
    return [
        TenantLogin(login, tenant, names[tenant], created_at, exists, can_login)
        for login, tenant, created_at, exists, can_login in rows
    ]


# --------------------------------------------------------------------------------------
# What the dbt graph says is BI-facing
# --------------------------------------------------------------------------------------


def bi_relations(manifest: Mapping[str, Any]) -> list[BiRelation]:
    """The BI relations of a dbt manifest (``manifest.is_bi_relation``), as the macro
    value_view_bi_relations sees them: a versioned mart adds its unsuffixed name (a view over its
    latest version's relation)."""
    relations: list[BiRelation] = []
    for node in manifests.mart_nodes(manifest).values():
        alias = manifests.relation_name(node)
        relations.append(BiRelation(node["schema"], alias, alias))
        versioned = node.get("version") is not None and node["name"] != alias
        if versioned and manifests.is_latest_version(node):
            relations.append(BiRelation(node["schema"], node["name"], alias))
    return relations
