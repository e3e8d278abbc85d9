"""Shared fixtures: a real PostgreSQL server, a throwaway database per test session, and the dbt
project parsed for it with the Dagster definitions built from it; and the warehouse with bad rows
of every class that the bad-input tests share.

`make test` runs the suite on two pytest-xdist workers (`-n 2 -m "not serial"`), then the modules
marked `serial` alone. A worker takes whole modules (their fixtures build one warehouse each), the
longest first; the workers share the embedded server, started once before they are."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagster import Definitions
from dagster_dbt import DbtProject

from orchestration.definitions import build_definitions
from orchestration.defs import project
from orchestration.lib import database, settings
from orchestration.lib.dbt_runner import dbt_env

# Modules that share a session fixture run on one worker: the bad-input warehouse is built once.
SAME_WORKER = {"test_bad_input_generated.py": "test_bad_input.py"}
# The modules that take longest start first, so that the workers end together; the rest follow
# in file order.
LONGEST_FIRST = (
    "test_dagster_pipeline.py",
    "test_bench.py",
    "test_bad_input.py",
    "test_bad_input_generated.py",
    "test_dbt_project.py",
    "test_pooler.py",
    "test_bi.py",
    "test_full_refresh.py",
    "test_operator_commands.py",
    "test_tenant_attacks.py",
    "test_tenancy.py",
    "test_replica.py",
)


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        settings.resolve()  # the workers share the embedded server: one starts it, not two


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {name: index for index, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Whole modules to a worker (with SAME_WORKER's pairs together), in collection order."""
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            folder, _, name = module.rpartition("/")
            shared = SAME_WORKER.get(name)
            return f"{folder}/{shared}" if shared else module

    config.option.loadscopereorder = False  # keep LONGEST_FIRST, not the largest module first
    return ModuleScheduling(config, log)


@pytest.fixture(scope="session")
def server() -> database.ConnectionSettings:
    """The server under test: PG*/VALUE_VIEW_DATABASE_URL when set, else the embedded one."""
    return settings.resolve()


@pytest.fixture(scope="session")
def warehouse(server: database.ConnectionSettings) -> Iterator[database.ConnectionSettings]:
    """A fresh database for this test session, dropped afterwards."""
    test_settings = server.with_database(f"vv_test_{os.getpid()}_{secrets.token_hex(3)}")
    database.ensure_database(test_settings)
    try:
        yield test_settings
    finally:
        database.drop_database(test_settings)


@pytest.fixture(scope="session")
def dbt_project(
    warehouse: database.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> DbtProject:
    """The dbt project parsed for the test warehouse (relation names carry its database)."""
    handle = project.dbt_project(tmp_path_factory.getbasetemp() / f"dbt_{warehouse.dbname}")
    project.parse(handle, env=dbt_env(warehouse))
    return handle


@pytest.fixture(scope="session")
def manifest(dbt_project: DbtProject) -> dict[str, Any]:
    """A private copy of the parsed manifest: a test may not change what another reads."""
    return json.loads(Path(dbt_project.manifest_path).read_text())


@pytest.fixture(scope="session")
def defs(dbt_project: DbtProject) -> Definitions:
    """The code location of the dev deployment (with the demo-data loader)."""
    return build_definitions(dbt_project, deployment="dev")


@pytest.fixture(scope="session")
def bad_build(
    server: database.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """Demo data with bad rows of every class, built whole (test_bad_input.py): held for the
    session so that test_bad_input_generated.py copies it instead of building a second one."""
    from test_bad_input import built_with_bad_rows

    with built_with_bad_rows(server, tmp_path_factory.mktemp("dbt_bad_input")) as built:
        yield built
