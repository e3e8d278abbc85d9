"""Apache Superset on the marts, as `make bi` sets it up: Superset from .venv-bi on a free port
with a metadata database of its own, provisioned over its REST API on a warehouse built here. A
tenant's viewer logs in through the real login form in headless Chromium, every chart of its
dashboard renders (chart data API and screenshot pixels), its figures equal the marts' for that
tenant and differ from the other tenant's; the viewer gets 403 on SQL Lab and on edits, its
database login cannot write, and provisioning twice changes no count."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import psycopg
import pytest
from browser import Browser, chromium_path
from matplotlib import image
from psycopg import sql

from orchestration.lib import database, settings, tenancy, tenant_removal
from orchestration.lib import dbt_runner as project
from orchestration.tools import demo_data
from orchestration.tools.superset import dashboard
from orchestration.tools.superset import provision as provisioning
from orchestration.tools.superset.api import Api, ApiError
from orchestration.tools.superset.server import ADMIN, Superset, bi_venv

pytestmark = pytest.mark.slow

ARTIFACTS = settings.PROJECT_ROOT / "artifacts"
SEED = 42
COUNTED = ("dashboard", "chart", "dataset", "database")


@dataclass
class Stack:
    warehouse: database.ConnectionSettings
    superset: Superset
    url: str
    done: provisioning.Provisioned
    counts: dict[str, int]

    def admin(self) -> Api:
        return Api(self.url, ADMIN, self.superset.secret("users", ADMIN))

    def password(self, username: str) -> str:
        return self.superset.secret("users", username)


def _build(warehouse: database.ConnectionSettings, target: Path) -> None:
    database.ensure_database(warehouse)
    as_of = dt.datetime.now(dt.timezone.utc).date()
    demo_data.load_demo_data(warehouse, scale=1, seed=SEED, as_of=as_of, progress=False)
    env = {**os.environ, **warehouse.env()}
    project.run_dbt(["seed", "--quiet"], target_path=target, env=env)
    definition = dashboard.spec()
    # the relations the dashboard reads and everything they are built from
    relations = definition["datasets"] + definition["hierarchy"]["reads"]
    marts = [f"+{name}" for name in relations] + ["+path:models/quarantine"]
    project.run_dbt(["run", "--quiet", "--select", *marts], target_path=target, env=env)


def counts(api: Api) -> dict[str, int]:
    return {resource: api.count(resource) for resource in COUNTED}


@pytest.fixture(scope="module")
def stack(
    server: database.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    if not (bi_venv() / "bin" / "superset").exists():
        pytest.fail("Superset is not installed in .venv-bi: make bi-install (make test does)")
    warehouse = server.with_database(f"vv_bi_{os.getpid()}_{secrets.token_hex(3)}")
    home = tmp_path_factory.mktemp("bi_home")
    superset = Superset(home)
    prefix = f"vv_test_bi_{secrets.token_hex(3)}"
    done = None
    try:
        _build(warehouse, tmp_path_factory.mktemp("dbt_bi"))
        running = superset.start(database.free_port())
        done = provisioning.provision(superset, warehouse, running.url, home, prefix)
        yield Stack(
            warehouse,
            superset,
            running.url,
            done,
            counts(Api(running.url, ADMIN, superset.secret("users", ADMIN))),
        )
    finally:
        superset.stop()
        for tenant in done.tenants if done else []:
            tenant_removal.remove_login(warehouse, tenant.login)
        database.drop_database(warehouse)


def test_the_demo_build_is_required(server: database.ConnectionSettings, tmp_path: Path) -> None:
    empty = server.with_database(f"vv_bi_empty_{os.getpid()}_{secrets.token_hex(3)}")
    database.ensure_database(empty)
    try:
        with pytest.raises(provisioning.SupersetError, match="run make demo first"):
            provisioning.tenants(empty)
    finally:
        database.drop_database(empty)


def test_provisioning_twice_changes_no_count(stack: Stack) -> None:
    tenants = len(stack.done.tenants)
    definition = dashboard.spec()
    assert tenants >= 2
    assert stack.counts == {
        "dashboard": tenants,
        "chart": tenants * len(definition["charts"]),
        "dataset": tenants * (len(definition["datasets"]) + 1),
        "database": tenants,
    }
    again = provisioning.provision(
        stack.superset, stack.warehouse, stack.url, stack.superset.folder.parent, _prefix(stack)
    )
    assert [t.dashboard_id for t in again.tenants] == [t.dashboard_id for t in stack.done.tenants]
    assert [t.charts for t in again.tenants] == [t.charts for t in stack.done.tenants]
    assert counts(stack.admin()) == stack.counts


def _prefix(stack: Stack) -> str:
    tenant = stack.done.tenants[0]
    return tenant.login[: -len(tenant.slug) - 1]


# -- the figures -----------------------------------------------------------------------------


def _normal(value: object) -> object:
    if isinstance(value, (float, Decimal)):
        return round(float(value), 6)
    return value


def mart_figures(stack: Stack, chart: dict, tenant_id: str) -> Counter:
    """The chart's groups and metrics computed on the mart itself for one tenant."""
    columns = dashboard.chart_columns(chart)
    select = [sql.Identifier(column) for column in columns] + [
        sql.SQL(metric["sql"]) for metric in chart["metrics"]
    ]
    query = sql.SQL("select {} from {}.{} where tenant_id = %s group by {}").format(
        sql.SQL(", ").join(select),
        sql.Identifier(settings.MARTS_SCHEMA),
        sql.Identifier(chart["dataset"]),
        sql.SQL(", ").join(sql.Literal(i + 1) for i in range(len(columns))),
    )
    with database.connect(stack.warehouse, autocommit=True) as conn:
        rows = conn.execute(query, (tenant_id,)).fetchall()
    return Counter(tuple(_normal(v) for v in row) for row in rows)


def api_figures(reply: dict, chart: dict) -> Counter:
    (result,) = reply["result"]
    keys = dashboard.chart_columns(chart) + [m["label"] for m in chart["metrics"]]
    return Counter(tuple(_normal(row[key]) for key in keys) for row in result["data"])


def _pixels_drawn(png: Path, box: dict) -> int:
    """Distinct colours inside ``box`` (CSS pixels) of the screenshot."""
    pixels = image.imread(png)
    top, left = int(box["top"]), int(box["left"])
    crop = pixels[top : top + int(box["height"]), left : left + int(box["width"]), :3]
    return len({tuple(p) for p in (crop * 255).astype(int).reshape(-1, 3)[::7]})


CHART_BOXES = """
[...document.querySelectorAll('[data-test-chart-id]')].map(e => {
  const r = e.getBoundingClientRect();
  return {id: Number(e.getAttribute('data-test-chart-id')), top: r.top + window.scrollY,
          left: r.left, width: r.width, height: r.height,
          drawn: e.querySelectorAll('canvas, svg, table').length,
          loading: e.querySelectorAll('.loading, [aria-label="Loading"]').length};
})
"""


@pytest.fixture(scope="module")
def viewer_browser(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    if chromium_path() is None:
        pytest.fail("chromium is not installed (make chromium; make test does)")
    tenant = stack.done.tenants[0]
    browser = Browser(tmp_path_factory.mktemp("bi_chromium"))
    try:
        _log_in(browser, stack.url, tenant.viewer, stack.password(tenant.viewer))
        yield browser
    finally:
        browser.close()


LOGIN_BUTTON = "document.querySelector('[data-test=\"login-button\"]')"


def _log_in(browser: Browser, url: str, username: str, password: str, attempts: int = 3) -> None:
    """Through the login form, as a person would. A loaded machine can render the form again
    after the first keystrokes (the typed text is gone, the click submits an empty form): each
    attempt checks what the fields hold before it clicks, and starts over on a fresh page when
    the login does not leave /login within a minute."""
    seen = []
    for _ in range(attempts):
        browser.open(f"{url}/login/")
        if not browser.evaluate("location.pathname.startsWith('/login')"):
            return  # the last attempt's login went through after its minute
        browser.wait_for(f"{LOGIN_BUTTON} !== null")
        for selector, text in (("#username", username), ("#password", password)):
            browser.type_into(selector, text)
        typed = browser.evaluate(
            "[document.querySelector('#username').value, document.querySelector('#password').value]"
        )
        if typed != [username, password]:
            seen.append("the form lost what was typed")
            continue
        browser.evaluate(f"{LOGIN_BUTTON}.click()")
        try:
            browser.wait_for("!location.pathname.startsWith('/login')", timeout=60)
            return
        except AssertionError:
            seen.append(browser.evaluate("document.body.innerText.slice(0, 300)"))
    pytest.fail(f"{username} could not log in through the form in {attempts} attempts: {seen}")


def test_the_viewer_sees_every_chart_drawn_with_its_tenants_figures(
    stack: Stack, viewer_browser: Browser, tmp_path: Path
) -> None:
    tenant, other = stack.done.tenants[0], stack.done.tenants[1]
    browser = viewer_browser
    browser.open(f"{stack.url}/superset/dashboard/{tenant.dashboard_id}/")
    count = len(tenant.charts)
    browser.wait_for(
        f"(() => {{ const b = {CHART_BOXES};"
        f" return b.length === {count} && b.every(x => x.drawn > 0 && x.loading === 0); }})()",
        timeout=300,
    )
    # A chart's canvas exists before it is painted, and a loaded machine paints late: screenshots
    # are taken until every chart shows a picture, or the deadline passes and the blank one fails.
    deadline = time.monotonic() + 120
    while True:
        browser.evaluate("new Promise(r => setTimeout(r, 3000))")
        boxes = browser.evaluate(CHART_BOXES)
        shot = browser.screenshot(tmp_path / "superset_dashboard.png")
        blank = [box for box in boxes if _pixels_drawn(shot, box) <= 12]
        if not blank or time.monotonic() > deadline:
            break
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / "superset_dashboard.png")
    assert sorted(box["id"] for box in boxes) == sorted(tenant.charts.values())
    assert not blank, f"charts that look blank: {blank}"
    by_key = {chart["key"]: chart for chart in dashboard.spec()["charts"]}
    for key, chart_id in tenant.charts.items():
        status, reply = browser.fetch(f"/api/v1/chart/{chart_id}/data/")
        assert status == 200, (key, reply)
        shown = api_figures(reply, by_key[key])
        assert shown, f"{key}: no rows"
        assert shown == mart_figures(stack, by_key[key], tenant.id), key
        assert shown != mart_figures(stack, by_key[key], other.id), key
    # the other tenant's dashboard and charts are not the viewer's to read
    status, _ = browser.fetch(f"/api/v1/chart/{other.charts['odi_heatmap']}/data/")
    assert status in (403, 404)


def test_the_viewer_gets_403_on_sql_lab_and_on_edits(stack: Stack) -> None:
    tenant = stack.done.tenants[0]
    viewer = Api(stack.url, tenant.viewer, stack.password(tenant.viewer))
    attempts = {
        "sql lab": (
            "POST",
            "/api/v1/sqllab/execute/",
            {"database_id": tenant.database_id, "sql": "select 1"},
        ),
        "sql lab page": ("GET", "/api/v1/sqllab/", None),
        "dashboard edit": (
            "PUT",
            f"/api/v1/dashboard/{tenant.dashboard_id}",
            {"dashboard_title": "changed"},
        ),
        "chart edit": (
            "PUT",
            f"/api/v1/chart/{tenant.charts['odi_heatmap']}",
            {"slice_name": "changed"},
        ),
        "new chart": (
            "POST",
            "/api/v1/chart/",
            {
                "slice_name": "x",
                "viz_type": "table",
                "datasource_id": 1,
                "datasource_type": "table",
            },
        ),
        "database edit": ("PUT", f"/api/v1/database/{tenant.database_id}", {"allow_dml": True}),
    }
    for what, (method, path, body) in attempts.items():
        with pytest.raises(ApiError) as refused:
            viewer.request(method, path, body)
        assert refused.value.status == 403, (what, str(refused.value))
    admin = stack.admin()
    assert (
        admin.get(f"/api/v1/dashboard/{tenant.dashboard_id}")["result"]["dashboard_title"]
        == tenant.title
    )


def test_the_viewers_database_login_cannot_write(stack: Stack) -> None:
    tenant = stack.done.tenants[0]
    login = stack.warehouse.with_login(tenant.login, stack.superset.secret("logins", tenant.login))
    statements = [
        "create table value_view_tenant.x (a int)",
        "create table public.x (a int)",
        f"delete from {settings.MARTS_SCHEMA}.{dashboard.spec()['datasets'][0]}",
        f"insert into {tenancy.TENANT_SCHEMA}.{dashboard.spec()['datasets'][0]} default values",
    ]
    for statement in statements:
        with database.connect(login, autocommit=True) as conn, pytest.raises(psycopg.Error):
            conn.execute(statement)
    with database.connect(login, autocommit=True) as conn:
        assert conn.execute("show default_transaction_read_only").fetchone() == ("on",)


def test_the_pixel_gate_fails_on_a_blank_chart(tmp_path: Path) -> None:
    """A chart area the browser left white has a colour or two, far under the gate."""
    blank = tmp_path / "blank.png"
    pixels = np.ones((200, 300, 3))
    pixels[50:52, :, :] = 0.5  # a gridline, as an empty chart may still draw
    image.imsave(blank, pixels)
    assert _pixels_drawn(blank, {"top": 0, "left": 0, "width": 300, "height": 200}) <= 12
