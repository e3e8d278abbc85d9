"""Shared fixtures: a real PostgreSQL server and a throwaway database per test session."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from orchestration import database


@pytest.fixture(scope="session")
def server() -> database.ConnectionSettings:
    """The server under test: PG*/VALUE_VIEW_DATABASE_URL when set, else the embedded one."""
    return database.resolve()


@pytest.fixture(scope="session")
def warehouse(server: database.ConnectionSettings) -> Iterator[database.ConnectionSettings]:
    """A fresh database for this test session, dropped afterwards."""
    settings = server.with_database(f"vv_test_{os.getpid()}_{secrets.token_hex(3)}")
    database.ensure_database(settings)
    try:
        yield settings
    finally:
        database.drop_database(settings)
