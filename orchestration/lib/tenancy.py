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

This module manages the logins and their mapping (``value-view tenant-login add|list``;
``remove`` is in ``tenant_removal``). What a role holds beyond its tenant is answered by one SQL
function the dbt setup keeps, ``value_view_security.login_privileges(login)`` (one row per
attribute, membership, owned object, grant, readable relation or write path), which the security
report reads too.
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
PRIVILEGES_FUNCTION = "login_privileges"
# Kinds of login_privileges rows: what the role itself holds, what it can read outside the
# tenant views, and where it could still write (server-wide defaults a DBA must close).
HELD = ("attribute", "membership", "owns", "granted", "policy")
READS = "reads"
WRITES = "writes"
KIND_ORDER = ("attribute", "membership", READS, "owns", "granted", "policy", WRITES)
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
    beyond_tenant: str = ""  # what it holds or reads beyond its tenant ("" when nothing)
    can_write: str = ""  # write paths the server still leaves open to it ("" when none)


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


def compose(template: str, *identifiers: str) -> Any:
    return sql.SQL(template).format(*(sql.Identifier(name) for name in identifiers))


def execute(conn: Any, template: str, *identifiers: str) -> None:
    conn.execute(compose(template, *identifiers))


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def role_info(conn: Any, name: str) -> Mapping[str, Any] | None:
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
        compose("select tenant_name from {}.tenants where id = %s", source_schema), (tenant_id,)
    ).fetchone()
    return True, (row[0] if row else None)


def privileges(conn: Any, login: str, *, required: bool = False) -> list[tuple[str, str]]:
    """(kind, what) for everything ``login`` holds, reads or may write beyond its tenant views,
    from the setup's ``login_privileges`` function; [] when the function does not exist yet,
    unless ``required``."""
    if not conn.execute(
        "select to_regproc(%s) is not null", (f'"{SECURITY_SCHEMA}"."{PRIVILEGES_FUNCTION}"',)
    ).fetchone()[0]:
        if required:
            raise TenancyError(
                f"{SECURITY_SCHEMA}.{PRIVILEGES_FUNCTION} is missing: the dbt setup "
                f"({SETUP_MACRO}) did not create it"
            )
        return []
    return conn.execute(
        compose(
            "select kind, detail from {}.{}(%s) order by array_position(%s::text[], kind), detail",
            SECURITY_SCHEMA,
            PRIVILEGES_FUNCTION,
        ),
        (login, list(KIND_ORDER)),
    ).fetchall()


def summary(details: list[str], limit: int = 4) -> str:
    """One line naming the first ``limit`` items and how many more there are."""
    shown = "; ".join(details[:limit])
    return shown + (f"; and {len(details) - limit} more" if len(details) > limit else "")


def _beyond(found: list[tuple[str, str]], kinds: tuple[str, ...]) -> str:
    return summary([detail for kind, detail in found if kind in kinds])


def _refuse_unclean(conn: Any, login: str, role: Mapping[str, Any]) -> None:
    """An existing role becomes a tenant login only when it holds nothing beyond the tenant
    group: no attribute, other membership, owned object, grant (but CONNECT) or readable
    relation."""
    held = _beyond(privileges(conn, login, required=True), (*HELD, READS))
    if not role["rolcanlogin"]:
        held = "it cannot log in" + (f"; {held}" if held else "")
    elif role["is_privileged"] and not held:
        held = "superuser, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS"
    if held:
        raise TenancyError(
            f"role {login} already exists and cannot be a tenant login: {held}; a tenant login "
            f"must be a plain LOGIN role that holds nothing but membership in {TENANT_READER_ROLE}"
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
    only when it holds nothing beyond the tenant group (``_refuse_unclean``). A login that could
    read anything outside the tenant views (a relation granted to PUBLIC) is refused, new or not.
    When the source schema has a tenants table, the tenant must be in it. Everything happens in
    one transaction. The result's ``can_write`` names write paths the server still leaves open
    (defaults the role dbt runs as could not revoke).
    """
    check_login_name(login)
    tenant = check_tenant_id(tenant_id)
    source_schema = source_schema or project_settings.source_schema()
    ensure_security_objects(settings, source_schema)
    with connect(settings) as conn, conn.transaction():
        execute(conn, "grant usage on schema {} to {}", TENANT_SCHEMA, TENANT_READER_ROLE)
        has_tenants, tenant_name = _tenant_name(conn, tenant, source_schema)
        if has_tenants and tenant_name is None:
            raise TenancyError(f"tenant {tenant} is not in {source_schema}.tenants")
        role = role_info(conn, login)
        if role is None:
            execute(conn, "create role {} login", login)
        else:
            _refuse_unclean(conn, login, role)
        if password is not None:
            if not password:
                raise TenancyError("the password is empty")
            verifier = conn.pgconn.encrypt_password(
                password.encode(), login.encode(), b"scram-sha-256"
            )
            execute(conn, "alter role {} password " + _literal(verifier.decode()), login)
        execute(conn, "grant {} to {}", TENANT_READER_ROLE, login)
        execute(
            conn,
            "alter role {} in database {} set search_path = " + _literal(TENANT_SCHEMA),
            login,
            settings.dbname,
        )
        execute(
            conn,
            "alter role {} in database {} set default_transaction_read_only = on",
            login,
            settings.dbname,
        )
        created_at = conn.execute(
            compose(
                "insert into {}.{} as logins (login, tenant_id) values (%s, %s) "
                "on conflict (login) do update set tenant_id = excluded.tenant_id "
                "returning logins.created_at",
                SECURITY_SCHEMA,
                MAPPING_TABLE,
            ),
            (login, tenant),
        ).fetchone()[0]
        found = privileges(conn, login, required=True)
        reads = _beyond(found, (READS,))
        if reads:
            raise TenancyError(f"login {login} would read beyond its tenant: {reads}")
    return TenantLogin(
        login, tenant, tenant_name, created_at, True, True, can_write=_beyond(found, (WRITES,))
    )


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
            compose(
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
        found: dict[str, list[tuple[str, str]]] = {}
        for row in rows:
            if row[1] not in names:
                names[row[1]] = _tenant_name(conn, row[1], source_schema)[1]
            found[row[0]] = privileges(conn, row[0]) if row[3] else []
    return [
        TenantLogin(
            login,
            tenant,
            names[tenant],
            created_at,
            exists,
            can_login,
            beyond_tenant=_beyond(found[login], (*HELD, READS)),
            can_write=_beyond(found[login], (WRITES,)),
        )
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
