"""Provisioning as code over Superset's REST API, idempotent: for every tenant of the warehouse a
read-only tenant login, a database connection on it (through the pooler when one runs), datasets
on its tenant views, the "Value View" dashboard of ``dashboard.yml`` with native filters on the
hierarchy, and a viewer user whose roles read that dashboard only (no SQL Lab, no edit). Running
it again finds every object by name and updates it in place. What the dashboard holds is in
``dashboard``, the viewer's rights in ``security``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

from orchestration.lib import database, tenancy
from orchestration.lib import pooler as bi_pooler
from orchestration.lib import settings as project_settings
from orchestration.lib.database import ConnectionSettings
from orchestration.tools.superset.api import Api, dumps
from orchestration.tools.superset.dashboard import (
    form_data,
    native_filters,
    position,
    query_context,
    slug,
    spec,
)
from orchestration.tools.superset.security import (
    database_permission_id,
    ensure_role,
    ensure_user,
    viewer_permission_ids,
)
from orchestration.tools.superset.server import ADMIN, Superset, SupersetError

VIEWER_ROLE = "Value View viewer"
LOGIN_PREFIX = "vv_superset"


@dataclass
class Tenant:
    id: str
    name: str
    slug: str
    login: str = ""
    viewer: str = ""
    database_id: int = 0
    dashboard_id: int = 0
    datasets: dict[str, int] = field(default_factory=dict)
    charts: dict[str, int] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"{spec()['title']} · {self.name}"


def tenants(settings: ConnectionSettings) -> list[Tenant]:
    """The warehouse's tenants; a one-line error when the demo build is missing."""
    schema = project_settings.source_schema()
    relations = spec()["datasets"] + spec()["hierarchy"]["reads"]
    with database.connect(settings, autocommit=True) as conn:
        missing = [
            name
            for name in relations
            if conn.execute(
                "select to_regclass(%s)", (f"{tenancy.TENANT_SCHEMA}.{name}",)
            ).fetchone()[0]
            is None
        ]
        if (
            missing
            or conn.execute("select to_regclass(%s)", (f"{schema}.tenants",)).fetchone()[0] is None
        ):
            raise SupersetError(
                f"the marts are not built in database {settings.dbname}"
                f" ({tenancy.TENANT_SCHEMA}.{(missing or ['?'])[0]} missing): run make demo first"
            )
        rows = conn.execute(
            f"select id::text, tenant_name, slug from {schema}.tenants order by slug"
        )
        return [Tenant(row[0], row[1], slug(row[2])) for row in rows]


def endpoint(home: Path, primary: ConnectionSettings) -> ConnectionSettings:
    """Where BI logins connect: the pooler of ``home`` when it runs, else the server."""
    status = bi_pooler.Pooler(home).status()
    if status is not None:
        return status.endpoint.with_database(primary.dbname)
    return primary


def sqlalchemy_uri(target: ConnectionSettings, login: str, password: str) -> str:
    return (
        f"postgresql+psycopg2://{quote(login, safe='')}:{quote(password, safe='')}"
        f"@{target.host}:{target.port}/{quote(target.dbname, safe='')}"
    )


def login_ready(primary: ConnectionSettings, tenant: Tenant, password: str) -> bool:
    """Whether the tenant login exists, is mapped to ``tenant`` and takes ``password`` (then
    provisioning leaves it as it is)."""
    try:
        with database.connect(primary.with_login(tenant.login, password), autocommit=True) as conn:
            read_only = conn.execute("show default_transaction_read_only").fetchone()[0]
        with database.connect(primary, autocommit=True) as conn:
            mapped = conn.execute(
                f"select tenant_id::text from {tenancy.SECURITY_SCHEMA}.{tenancy.MAPPING_TABLE}"
                " where login = %s",
                (tenant.login,),
            ).fetchone()
    except psycopg.Error:
        return False
    return read_only == "on" and mapped is not None and mapped[0] == tenant.id


# -- the objects ---------------------------------------------------------------------------


def upsert(api: Api, resource: str, key: str, value: Any, body: dict) -> int:
    found = api.find_one(resource, key, value)
    if found is None:
        return int(api.post(f"/api/v1/{resource}/", {key: value, **body})["id"])
    api.put(f"/api/v1/{resource}/{found['id']}", body)
    return int(found["id"])


def ensure_database(api: Api, tenant: Tenant, uri: str) -> int:
    body = {
        "sqlalchemy_uri": uri,
        "expose_in_sqllab": False,
        "allow_run_async": False,
        "allow_dml": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_file_upload": False,
        "extra": dumps({"allows_virtual_table_explore": False}),
    }
    return upsert(api, "database", "database_name", f"{spec()['title']} · {tenant.name}", body)


def dataset_name(relation: str, tenant: Tenant) -> str:
    """Superset's SQLite metadata keeps dataset names unique across databases, so each tenant's
    dataset on a relation carries the tenant in its name."""
    return f"{relation}__{tenant.slug}"


def ensure_dataset(api: Api, tenant: Tenant, relation: str, sql: str | None = None) -> int:
    """A virtual dataset of ``tenant``'s database on ``relation`` (a tenant view, or ``sql``)."""
    name = dataset_name(relation, tenant)
    sql = sql or f"select * from {spec()['schema']}.{relation}"
    rows = [
        row
        for row in api.find("dataset", [("table_name", "eq", name)])
        if row["table_name"] == name and row["database"]["id"] == tenant.database_id
    ]
    if rows:
        dataset_id = int(rows[0]["id"])
        api.put(f"/api/v1/dataset/{dataset_id}", {"sql": sql})
        return dataset_id
    body = {
        "database": tenant.database_id,
        "schema": spec()["schema"],
        "table_name": name,
        "sql": sql,
    }
    return int(api.post("/api/v1/dataset/", body)["id"])


def ensure_chart(api: Api, tenant: Tenant, chart: dict, dataset_id: int) -> int:
    body = {
        "viz_type": chart["viz_type"],
        "datasource_id": dataset_id,
        "datasource_type": "table",
        "params": dumps(form_data(chart, dataset_id)),
        "query_context": dumps(query_context(chart, dataset_id)),
        "dashboards": [tenant.dashboard_id],
    }
    return upsert(api, "chart", "slice_name", f"{chart['name']} · {tenant.name}", body)


# -- everything ----------------------------------------------------------------------------


@dataclass
class Provisioned:
    url: str
    tenants: list[Tenant]
    endpoint: str


def provision(
    superset: Superset,
    primary: ConnectionSettings,
    url: str,
    home: Path,
    login_prefix: str = LOGIN_PREFIX,
) -> Provisioned:
    found = tenants(primary)
    target = endpoint(home, primary)
    api = Api(url, ADMIN, superset.secret("users", ADMIN))
    viewer_role = ensure_role(api, VIEWER_ROLE, viewer_permission_ids(api))
    definition = spec()
    for tenant in found:
        tenant.login = f"{login_prefix}_{tenant.slug}"[:63]
        password = superset.secret("logins", tenant.login)
        if not login_ready(primary, tenant, password):
            tenancy.add_login(primary, tenant.login, tenant.id, password=password)
        tenant.database_id = ensure_database(
            api, tenant, sqlalchemy_uri(target, tenant.login, password)
        )
        for table in definition["datasets"]:
            tenant.datasets[table] = ensure_dataset(api, tenant, table)
        hierarchy = definition["hierarchy"]
        tenant.datasets[hierarchy["name"]] = ensure_dataset(
            api, tenant, hierarchy["name"], hierarchy["sql"]
        )
        tenant_role = ensure_role(
            api,
            f"{VIEWER_ROLE} · {tenant.name}",
            [
                database_permission_id(
                    api, tenant.database_id, f"{definition['title']} · {tenant.name}"
                )
            ],
        )
        tenant.dashboard_id = upsert(
            api,
            "dashboard",
            "slug",
            f"value-view-{tenant.slug.replace('_', '-')}",
            {"dashboard_title": tenant.title, "published": True},
        )
        for chart in definition["charts"]:
            tenant.charts[chart["key"]] = ensure_chart(
                api, tenant, chart, tenant.datasets[chart["dataset"]]
            )
        metadata = {
            "native_filter_configuration": native_filters(tenant, definition["charts"]),
            "color_scheme": "supersetColors",
            "cross_filters_enabled": False,
            "refresh_frequency": 0,
            "timed_refresh_immune_slices": [],
            "expanded_slices": {},
            "label_colors": {},
        }
        api.put(
            f"/api/v1/dashboard/{tenant.dashboard_id}",
            {
                "position_json": dumps(position(tenant, definition["charts"])),
                "json_metadata": dumps(metadata),
                "roles": [tenant_role],
            },
        )
        tenant.viewer = f"viewer_{tenant.slug}"
        ensure_user(
            api,
            tenant.viewer,
            superset.secret("users", tenant.viewer),
            [viewer_role, tenant_role],
            tenant.name,
        )
    return Provisioned(url, found, f"{target.host}:{target.port}/{target.dbname}")
