"""dbt-bouncer's catalog checks: every column a built relation returns is in its YAML, described.

They compare the built relations' columns (dbt's catalog.json) with the YAML, so they need a
database, while `make lint` runs before any server exists and runs the manifest checks only. Here
the project is built into a throwaway database whose VITAL source tables are created empty from
the demo data's DDL, `dbt docs generate` writes the catalog, and dbt-bouncer runs the
`catalog_checks` of dbt-bouncer.yml on it. The test reaches the project only through the dbt and
dbt-bouncer command lines and the `warehouse` fixture's libpq settings.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg import sql

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SOURCE_SCHEMA = "vital"

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Artifacts:
    """A dbt target directory with manifest.json and catalog.json for the built project."""

    target: Path


def _connect(env: dict[str, str], dbname: str) -> psycopg.Connection:
    return psycopg.connect(
        host=env["PGHOST"],
        port=env["PGPORT"],
        user=env["PGUSER"],
        password=env.get("PGPASSWORD") or None,
        passfile=env.get("PGPASSFILE") or None,
        dbname=dbname,
        autocommit=True,
    )


def _source_ddl() -> list[str]:
    """The statements of the VITAL source schema's DDL (the demo data's), comments left out."""
    found = sorted(PROJECT_ROOT.glob("orchestration/**/vital_schema.sql"))
    assert len(found) == 1, f"expected one vital_schema.sql under orchestration/, found {found}"
    lines = [
        line for line in found[0].read_text().splitlines() if not line.lstrip().startswith("--")
    ]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=1200, check=False
    )


def _dbt(env: dict[str, str], target: Path, *args: str) -> None:
    result = _run(
        [str(BIN / "dbt"), *args, "--project-dir", str(PROJECT_ROOT), "--target-path", str(target)],
        env,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]


def _bouncer(artifacts_dir: Path, config_dir: Path) -> subprocess.CompletedProcess[str]:
    """dbt-bouncer's catalog checks, as configured in dbt-bouncer.yml, on the given artifacts."""
    config = yaml.safe_load((PROJECT_ROOT / "dbt-bouncer.yml").read_text())
    config["dbt_artifacts_dir"] = str(artifacts_dir)
    config_file = config_dir / "dbt-bouncer.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    env = dict(os.environ, COLUMNS="200")
    return _run(
        [
            str(BIN / "dbt-bouncer"),
            "run",
            "--config-file",
            str(config_file),
            "--only",
            "catalog_checks",
            "--show-all-failures",
        ],
        env,
    )


@pytest.fixture(scope="module")
def artifacts(warehouse: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Artifacts]:
    """The project built (seeds and models, no tests) over empty source tables, and its catalog."""
    server_env = warehouse.env()
    dbname = f"vv_lint_{os.getpid()}_{secrets.token_hex(3)}"
    with _connect(server_env, server_env["PGDATABASE"]) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
    target = tmp_path_factory.mktemp("dbt_lint_target")
    env = dict(os.environ)
    env.pop("VALUE_VIEW_TARGET", None)
    env.update(server_env)
    env.update(
        {
            "PGDATABASE": dbname,
            "VALUE_VIEW_SOURCE_SCHEMA": SOURCE_SCHEMA,
            "DBT_PROFILES_DIR": str(PROJECT_ROOT),
            "DBT_LOG_PATH": str(target),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    try:
        with _connect(server_env, dbname) as conn, conn.transaction():
            conn.execute(sql.SQL("create schema {}").format(sql.Identifier(SOURCE_SCHEMA)))
            conn.execute(
                sql.SQL("set local search_path to {}").format(sql.Identifier(SOURCE_SCHEMA))
            )
            for statement in _source_ddl():
                conn.execute(statement)
        _dbt(env, target, "build", "--resource-type", "seed", "--resource-type", "model")
        _dbt(env, target, "docs", "generate")
        yield Artifacts(target=target)
    finally:
        with _connect(server_env, server_env["PGDATABASE"]) as admin:
            admin.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname))
            )


def test_catalog_checks_pass(artifacts: Artifacts, tmp_path: Path) -> None:
    result = _bouncer(artifacts.target, tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    assert "All checks passed" in result.stdout


def test_catalog_checks_fail_on_an_undocumented_column(
    artifacts: Artifacts, tmp_path: Path
) -> None:
    """A column the relation returns but the YAML does not list fails the checks, by name."""
    broken = tmp_path / "artifacts"
    broken.mkdir()
    shutil.copy(artifacts.target / "manifest.json", broken / "manifest.json")
    catalog = json.loads((artifacts.target / "catalog.json").read_text())
    # An unversioned model: dbt-bouncer checks those only (see dbt-bouncer.yml, catalog_checks).
    node = catalog["nodes"]["model.value_view.int_persona_jobs_aggregated"]
    node["columns"]["undocumented_column"] = {
        "type": "text",
        "index": len(node["columns"]) + 1,
        "name": "undocumented_column",
        "comment": None,
    }
    (broken / "catalog.json").write_text(json.dumps(catalog))

    result = _bouncer(broken, tmp_path)
    assert result.returncode != 0
    assert "undocumented_column" in result.stdout + result.stderr
