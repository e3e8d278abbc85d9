"""Provisioning as code over Superset's REST API, idempotent: for every tenant of the warehouse a
read-only tenant login, a database connection on it (through the pooler when one runs), datasets
on its tenant views, the "Value View" dashboard of ``dashboard.yml`` with native filters on the
hierarchy, and a viewer user whose roles read that dashboard only (no SQL Lab, no edit). Running
it again finds every object by name and updates it in place."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import yaml

from orchestration.lib import database, tenancy
from orchestration.lib import pooler as bi_pooler
from orchestration.lib import settings as project_settings
from orchestration.lib.database import ConnectionSettings
from orchestration.tools.superset.api import Api, dumps
from orchestration.tools.superset.server import ADMIN, Superset, SupersetError

SPEC_PATH = Path(__file__).with_name("dashboard.yml")
VIEWER_ROLE = "Value View viewer"
ROW_LIMIT = 1000
LOGIN_PREFIX = "vv_superset"
# Gamma's permissions a viewer keeps: reading, and the filter state a dashboard keeps per visit.
KEPT_WRITES = {"DashboardFilterStateRestApi", "ExploreFormDataRestApi"}
DROPPED = (
    "can_write",
    "can_save",
    "can_export",
    "can_csv",
    "can_share",
    "can_tag",
    "can_add",
    "can_edit",
    "can_delete",
    "can_bulk",
    "can_invalidate",
    "can_put",
    "can_cache",
    "can_file_handler",
    "can_this_form_post",
)


def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text())


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


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


def adhoc(metric: dict) -> dict:
    return {
        "expressionType": "SQL",
        "sqlExpression": metric["sql"],
        "label": metric["label"],
        "hasCustomLabel": True,
        "optionName": f"metric_{slug(metric['label'])}",
    }


def chart_columns(chart: dict) -> list[str]:
    return ([chart["x_axis"]] if chart.get("x_axis") else []) + list(chart["groupby"])


def form_data(chart: dict, dataset_id: int) -> dict:
    metrics = [adhoc(metric) for metric in chart["metrics"]]
    data = {
        "datasource": f"{dataset_id}__table",
        "viz_type": chart["viz_type"],
        "adhoc_filters": [],
        "row_limit": ROW_LIMIT,
    }
    if chart["viz_type"] == "heatmap_v2":
        data.update(
            x_axis=chart["x_axis"],
            groupby=chart["groupby"][0],
            metric=metrics[0],
            linear_color_scheme="blue_white_yellow",
            normalize_across="heatmap",
            show_legend=True,
            show_values=True,
            sort_x_axis="alpha_asc",
            sort_y_axis="alpha_asc",
        )
    elif chart["viz_type"] == "table":
        data.update(
            query_mode="aggregate",
            groupby=chart["groupby"],
            metrics=metrics,
            order_desc=True,
            timeseries_limit_metric=metrics[0],
            server_pagination=False,
        )
    elif chart["viz_type"] == "pie":
        data.update(groupby=chart["groupby"], metric=metrics[0], show_labels=True, show_legend=True)
    else:
        data.update(
            x_axis=chart["x_axis"],
            groupby=chart["groupby"],
            metrics=metrics,
            orientation="vertical",
            show_legend=True,
            x_axis_sort_asc=True,
            rich_tooltip=True,
        )
    return data


def query_context(chart: dict, dataset_id: int) -> dict:
    """What ``GET /api/v1/chart/<id>/data`` runs: the chart's columns and metrics, unfiltered."""
    metrics = [adhoc(metric) for metric in chart["metrics"]]
    return {
        "datasource": {"id": dataset_id, "type": "table"},
        "force": False,
        "queries": [
            {
                "columns": chart_columns(chart),
                "metrics": metrics,
                "filters": [],
                "extras": {"having": "", "where": ""},
                "orderby": [[metrics[0], False]],
                "row_limit": ROW_LIMIT,
            }
        ],
        "form_data": form_data(chart, dataset_id),
        "result_format": "json",
        "result_type": "full",
    }


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


def position(tenant: Tenant, charts: list[dict]) -> dict:
    layout: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"id": "ROOT_ID", "type": "ROOT", "children": ["GRID_ID"]},
        "GRID_ID": {"id": "GRID_ID", "type": "GRID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": tenant.title}},
    }
    for index in range(0, len(charts), 2):
        row_id = f"ROW-{index // 2}"
        layout["GRID_ID"]["children"].append(row_id)
        layout[row_id] = {
            "id": row_id,
            "type": "ROW",
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        for chart in charts[index : index + 2]:
            chart_id = tenant.charts[chart["key"]]
            key = f"CHART-{chart['key']}"
            layout[row_id]["children"].append(key)
            layout[key] = {
                "id": key,
                "type": "CHART",
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID", row_id],
                "meta": {
                    "chartId": chart_id,
                    "sliceName": f"{chart['name']} · {tenant.name}",
                    "width": chart.get("width", 6),
                    "height": 60,
                },
            }
    return layout


def native_filters(tenant: Tenant, charts: list[dict]) -> list[dict]:
    hierarchy = spec()["hierarchy"]
    dataset_id = tenant.datasets[hierarchy["name"]]
    filters, parent = [], None
    for level in hierarchy["filters"]:
        filter_id = f"NATIVE_FILTER-{slug(level['column'])}"
        in_scope = [tenant.charts[c["key"]] for c in charts if level["column"] in c["hierarchy"]]
        filters.append(
            {
                "id": filter_id,
                "name": level["name"],
                "filterType": "filter_select",
                "type": "NATIVE_FILTER",
                "targets": [{"datasetId": dataset_id, "column": {"name": level["column"]}}],
                "controlValues": {
                    "enableEmptyFilter": False,
                    "defaultToFirstItem": False,
                    "multiSelect": True,
                    "searchAllOptions": False,
                    "inverseSelection": False,
                },
                "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
                "cascadeParentIds": [parent] if parent else [],
                "scope": {
                    "rootPath": ["ROOT_ID"],
                    "excluded": sorted(set(tenant.charts.values()) - set(in_scope)),
                },
                "chartsInScope": sorted(in_scope),
                "tabsInScope": [],
                "description": f"{level['name']} options from the filter catalog",
            }
        )
        parent = filter_id
    return filters


def ensure_role(api: Api, name: str, permission_ids: list[int]) -> int:
    found = [
        row for row in api.find("security/roles", [("name", "eq", name)]) if row["name"] == name
    ]
    role_id = (
        int(found[0]["id"])
        if found
        else int(api.post("/api/v1/security/roles/", {"name": name})["id"])
    )
    api.post(
        f"/api/v1/security/roles/{role_id}/permissions",
        {"permission_view_menu_ids": sorted(set(permission_ids))},
    )
    return role_id


def role_permissions(api: Api, role_name: str) -> list[dict]:
    (role,) = [
        r for r in api.find("security/roles", [("name", "eq", role_name)]) if r["name"] == role_name
    ]
    return api.get(f"/api/v1/security/roles/{role['id']}/permissions/")["result"]


def viewer_permission_ids(api: Api) -> list[int]:
    """Gamma's permissions without any that writes (charts, dashboards, datasets, exports)."""
    kept = []
    for row in role_permissions(api, "Gamma"):
        permission, view = row["permission_name"], row["view_menu_name"]
        if permission.startswith(DROPPED) and view not in KEPT_WRITES:
            continue
        if "sql" in permission.lower() or "sql" in view.lower() or "Registration" in view:
            continue
        kept.append(int(row["id"]))
    return kept


def database_permission_id(api: Api, database_id: int, database_name: str) -> int:
    view = f"[{database_name}].(id:{database_id})"
    resources = [
        r for r in api.find("security/resources", [("name", "eq", view)]) if r["name"] == view
    ]
    rows = []
    if resources:
        found = api.find(
            "security/permissions-resources", [("view_menu", "rel_o_m", resources[0]["id"])]
        )
        rows = [row for row in found if row["permission"]["name"] == "database_access"]
    if not rows:
        raise SupersetError(f"Superset has no database_access permission on {view}")
    return int(rows[0]["id"])


def ensure_user(api: Api, username: str, password: str, roles: list[int], name: str) -> int:
    body = {
        "first_name": "Viewer",
        "last_name": name[:60],
        "email": f"{username}@value-view.invalid",
        "active": True,
        "roles": roles,
    }
    found = [u for u in api.find("security/users", [("username", "eq", username)])]
    found = [u for u in found if u["username"] == username]
    if found:
        api.put(f"/api/v1/security/users/{found[0]['id']}", {**body, "password": password})
        return int(found[0]["id"])
    return int(
        api.post("/api/v1/security/users/", {**body, "username": username, "password": password})[
            "id"
        ]
    )


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
