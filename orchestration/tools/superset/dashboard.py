"""The "Value View" dashboard of ``dashboard.yml`` in Superset's own terms: each chart's form
data and query context, the grid layout and the native filters that cascade down the hierarchy."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from orchestration.tools.superset.provision import Tenant

SPEC_PATH = Path(__file__).with_name("dashboard.yml")
ROW_LIMIT = 1000


def spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text())


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


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
