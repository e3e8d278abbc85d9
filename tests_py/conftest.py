"""Shared fixtures: a real PostgreSQL server, a throwaway database per test session, and the dbt
project parsed for it with the Dagster definitions built from it; and the warehouse with bad rows
of every class that the bad-input tests share."""

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
