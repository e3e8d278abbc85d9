"""`value-view describe <mart>`: one page with everything about a mart, from the manifest."""

from __future__ import annotations

from typing import Any

import pytest

from orchestration.lib import manifest as manifests
from orchestration.tools import cli, describe


def test_every_mart_is_described_with_its_files_tests_cadence_and_budget(
    manifest: dict[str, Any],
) -> None:
    latest = manifests.latest_mart_nodes(manifest)
    assert len(latest) >= 15
    for node in latest.values():
        page = describe.describe(manifest, node["name"])
        assert node["original_file_path"] in page
        assert node["patch_path"].split("://")[-1] in page
        assert manifests.qualified_name(node) in page
        cron = manifests.refresh_cron(node)
        assert (f"{cron} UTC" if cron else "real-time") in page
        for bench in manifests.benchmarks(manifest):
            if bench.unique_id == node["unique_id"]:
                assert f"analyses/benchmarks/{bench.analysis}.sql" in page
                assert f"analyses/benchmarks/raw/{bench.analysis}.sql" in page
                assert f"{bench.p95_budget_ms:g} ms" in page
        for index in node["config"].get("indexes") or []:
            assert ", ".join(index["columns"]) in page
        tests = [
            test
            for test in manifest["nodes"].values()
            if test["resource_type"] == "test" and test.get("attached_node") == node["unique_id"]
        ]
        assert tests, node["name"]
        for test in tests:
            assert test["name"] in page


def test_a_versioned_mart_lists_its_versions(manifest: dict[str, Any]) -> None:
    versioned = next(
        node for node in manifests.latest_mart_nodes(manifest).values() if node.get("version")
    )
    page = describe.describe(manifest, versioned["name"])
    assert "versions" in page
    assert manifests.qualified_name(versioned) in page


def test_an_unknown_mart_names_the_ones_that_exist(manifest: dict[str, Any]) -> None:
    with pytest.raises(describe.UnknownMart) as caught:
        describe.describe(manifest, "mv_no_such_mart")
    message = str(caught.value)
    assert "mv_no_such_mart" in message
    for node in manifests.latest_mart_nodes(manifest).values():
        assert node["name"] in message


def test_the_cli_prints_the_page_and_refuses_an_unknown_name(
    manifest: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    name = next(iter(manifests.latest_mart_nodes(manifest).values()))["name"]
    assert cli.main(["describe", name]) == 0
    assert name in capsys.readouterr().out
    assert cli.main(["describe", "mv_no_such_mart"]) == 2
    assert "no mart named 'mv_no_such_mart'" in capsys.readouterr().err
