"""`value-view bench`: its arithmetic, its same-answer gate, and one short run end to end."""

from __future__ import annotations

import argparse
import copy
import dataclasses
import datetime as dt
import json
import os
from collections.abc import Iterator
from decimal import Decimal
from numbers import Number

import pytest

from orchestration.lib import database, settings
from orchestration.lib import manifest as project
from orchestration.lib.maintained import maintained_relations
from orchestration.tools import bench, cli
from orchestration.tools.bench import readers, runner, users_report
from orchestration.tools.bench.answers import (
    Answer,
    AnswerMismatch,
    check_all_answers,
    compare_answers,
)
from orchestration.tools.bench.figures import latency_summary, parse_estimate, ratio
from orchestration.tools.bench.incremental import incremental_marts
from orchestration.tools.bench.options import BenchError
from orchestration.tools.bench.pgbench import parse_pgbench_log, parse_pgbench_output

# The tier the short run takes through Dagster: one with few marts.
SHORT_RUN_TIER = "weekly_sun_0100"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- the same-answer check ------------------------------------------------------------------


def test_answers_match_ignoring_volatile_columns_order_and_number_types() -> None:
    mart = Answer(
        columns=["persona_name", "opportunity_score", "pillars", "last_refreshed"],
        rows=[
            ("Ann", Decimal("12.50"), ["SP01", "SP02"], "2026-01-01"),
            ("Bob", Decimal("9"), [], "x"),
        ],
    )
    raw = Answer(
        columns=["last_refreshed", "pillars", "opportunity_score", "persona_name"],
        rows=[("y", (), 9, "Bob"), ("z", ("SP01", "SP02"), 12.5, "Ann")],
    )
    checked = compare_answers("bench_example", mart, raw)
    assert checked["rows"] == 2
    assert checked["columns_matched"] == "by name"
    assert checked["ignored_columns"] == ["last_refreshed"]
    assert checked["same_order"] is False


def test_a_missing_row_fails_naming_the_benchmark_and_the_row() -> None:
    mart = Answer(columns=["jtbd_code", "score"], rows=[("J1", 10), ("J2", 11), ("J2", 11)])
    raw = Answer(columns=["jtbd_code", "score"], rows=[("J1", 10), ("J2", 11)])
    with pytest.raises(AnswerMismatch) as caught:
        compare_answers("bench_jobs", mart, raw)
    message = str(caught.value)
    assert caught.value.benchmarks == ["bench_jobs"]
    assert "bench_jobs" in message
    assert "only in the mart: 1" in message
    assert "jtbd_code='J2'" in message


def test_a_changed_value_fails() -> None:
    mart = Answer(columns=["a", "b"], rows=[(1, "x")])
    raw = Answer(columns=["a", "b"], rows=[(1, "y")])
    with pytest.raises(AnswerMismatch, match="bench_values"):
        compare_answers("bench_values", mart, raw)


def test_different_columns_fail() -> None:
    mart = Answer(columns=["a", "b"], rows=[])
    raw = Answer(columns=["a"], rows=[])
    with pytest.raises(AnswerMismatch, match="different columns"):
        compare_answers("bench_columns", mart, raw)


def test_the_command_exits_non_zero_when_answers_differ(monkeypatch, capsys) -> None:
    def differing(*args, **kwargs):
        raise AnswerMismatch(["bench_odd"], "benchmark bench_odd: answers differ")

    monkeypatch.setattr(runner, "run", differing)
    monkeypatch.setattr(settings, "resolve", lambda: None)
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    assert bench.run_command(parser.parse_args([])) == 1
    assert "bench_odd" in capsys.readouterr().err


def test_bad_options_are_usage_errors() -> None:
    assert cli.main(["bench", "--scales", "1,ten"]) == 2
    assert cli.main(["bench", "--clients", "0"]) == 2


# -- arithmetic and parsing -----------------------------------------------------------------


def test_latency_summary_and_ratio() -> None:
    summary = latency_summary([float(value) for value in range(101)])
    assert (summary["n"], summary["p50_ms"], summary["p95_ms"], summary["p99_ms"]) == (
        101,
        50.0,
        95.0,
        99.0,
    )
    assert summary["max_ms"] == 100.0
    assert ratio(10.0, 4.0) == 2.5
    assert ratio(1.0, 0.0) is None


def test_spec_estimates_parse_to_seconds() -> None:
    assert parse_estimate("2-5 min") == (120.0, 300.0)
    assert parse_estimate("10-30 sec") == (10.0, 30.0)
    assert parse_estimate("5 sec") == (5.0, 5.0)
    assert parse_estimate("-") is None


def test_pgbench_logs_and_output_parse() -> None:
    lines = [
        "0 0 1500 0 1700000000 250000",
        "1 0 20000 2 1700000001 0",
        "1 1 failed 1 1700000002 0",
    ]
    transactions, failed = parse_pgbench_log(lines)
    assert failed == 1
    assert transactions[0] == (0, pytest.approx(1700000000.2485), 1.5)
    assert transactions[1] == (2, pytest.approx(1700000000.98), 20.0)
    tps, failed, aborted = parse_pgbench_output(
        "number of failed transactions: 0 (0.000%)\ntps = 812.5 (without initial connection time)",
        "pgbench: error: client 3 script 0 aborted in command 0 query 0: ERROR:  boom",
    )
    assert (tps, failed, len(aborted)) == (812.5, 0, 1)


def _closed_loop_report(p95_at: dict[int, float]) -> dict:
    runs = [
        {"clients": clients, "errors": 0, "per_query_p95_ms": {"bench_value_realization": p95}}
        for clients, p95 in p95_at.items()
    ]
    refused = {"clients": 1000, "queries_per_s": None, "refused": "not run: 1000 clients exceed"}
    per_query = [{"benchmark": "bench_value_realization", "budget_ms": 300}]
    return {"throughput": [*runs, refused], "users": {"per_query": per_query}}


def test_the_closed_loop_gate_holds_budgets_at_64_clients_only() -> None:
    within = _closed_loop_report({8: 12.0, 64: 290.0, 256: 1400.0})
    assert users_report.closed_loop_failures(within) == []
    over = _closed_loop_report({8: 12.0, 64: 301.0})
    assert users_report.closed_loop_failures(over) == [
        "closed loop: bench_value_realization p95 301 ms at 64 clients, over its 300 ms budget"
    ]
    errors = _closed_loop_report({8: 12.0})
    errors["throughput"][0]["errors"] = 3
    assert users_report.closed_loop_failures(errors) == ["closed loop: 3 errors at 8 clients"]


def test_reader_errors_during_the_full_refresh_build_fail_the_bench() -> None:
    clean = {"reads": 10, "errors": 0, "error_messages": [], "refresh_errors": []}
    reads = {"modes": {"plain": dict(clean), "full_refresh": dict(clean)}}
    assert readers.failures(reads, "mv_x") == []
    reads["modes"]["full_refresh"].update(
        errors=2, error_messages=['ERROR:  relation "value_view.mv_x" does not exist']
    )
    reads["modes"]["plain"]["refresh_errors"] = ["boom"]
    found = readers.failures(reads, "mv_x")
    assert found[0] == "refresh plain of mv_x failed: boom"
    assert found[1].startswith("2 reader errors during dbt build --full-refresh")
    assert "does not exist" in found[1]


# -- end to end -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def short_run(
    server: database.ConnectionSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[bench.BenchRun]:
    out = tmp_path_factory.mktemp("bench")
    options = bench.BenchOptions(
        scale=1,
        scales=(1,),
        runs=5,
        query_seconds=0.5,
        refresh_runs=1,
        readers=4,
        reader_seconds=2,
        clients=(2, 4),
        throughput_seconds=2,
        load_readers=4,
        load_seconds=2,
        tiers=(SHORT_RUN_TIER,),
        out=out,
        database_prefix=f"vv_test_bench_{os.getpid()}",
        target_path=out / "target",
    )
    try:
        yield bench.run(server, options, log=bench.Progress(enabled=False), command="test")
    finally:
        database.drop_database(server.with_database(f"{options.database_prefix}_s1"))


@pytest.mark.slow
def test_a_short_run_writes_json_markdown_and_a_chart(short_run: bench.BenchRun) -> None:
    report = json.loads(short_run.paths["json"].read_text())
    for key in ("machine", "versions", "parameters", "queries", "refresh", "throughput"):
        assert key in report
    assert {"cpu_count", "memory_bytes", "platform"} <= set(report["machine"])
    assert {"postgres", "dbt-core", "python"} <= set(report["versions"])
    assert (report["parameters"]["scale"], report["parameters"]["seed"]) == (1, 42)

    assert report["queries"], "no benchmark analyses were measured"
    for query in report["queries"]:
        assert isinstance(query["speedup_p95"], Number)
        assert isinstance(query["mart"]["p95_ms"], Number)
        assert isinstance(query["raw"]["p99_ms"], Number)
        assert query["answer"]["rows"] == query["rows"]
        if query["p95_budget_ms"] is not None:
            assert isinstance(query["budget_fraction"], Number)

    assert report["refresh"]["views"]
    for view in report["refresh"]["views"]:
        assert isinstance(view["plain_s"], Number)
    # Every materialized view is measured: the maintained ones behind the real-time views too.
    maintained = {
        project.relation_name(short_run.warehouses[1].manifest["nodes"][relation.unique_id])
        for relation in maintained_relations(short_run.warehouses[1].manifest)
    }
    assert maintained
    measured = {view["identifier"].split(".")[-1] for view in report["refresh"]["views"]}
    assert maintained <= measured, maintained - measured

    assert report["incremental"]["marts"], "no incremental mart was measured"
    for mart in report["incremental"]["marts"]:
        assert mart["changed_source_rows"] >= 1
        assert mart["changed_runs"] % 2 == 0  # the change is applied and undone
        assert all(
            isinstance(mart[key], Number)
            for key in ("full_s", "unchanged_s", "changed_s", "changed_dbt_s")
        )
        assert isinstance(mart["changed_over_full"], Number)
        # Every declared share of the change was measured; a larger share changes more rows.
        shares = [point["fraction"] for point in mart["sweep"]]
        assert len(shares) >= 3 and mart["fraction"] in shares, shares
        changed = [point["changed_source_rows"] for point in mart["sweep"]]
        assert changed == sorted(changed) and changed[0] < changed[-1], changed
        # Its own query, refreshed concurrently as a materialized view, is the goal's measure.
        assert isinstance(mart["as_view"]["concurrent_s"], Number)
        assert isinstance(mart["changed_over_view_refresh"], Number)
        assert isinstance(mart["changed_dbt_over_view_refresh"], Number)
    with database.connect(short_run.warehouses[1].settings, autocommit=True) as conn:
        left = conn.execute("select relname from pg_class where relname like '%vv_bench_mv'")
        assert left.fetchall() == [], "the materialized view the bench built was left behind"

    # One tier through Dagster: forced, it rebuilds every mart; on unchanged sources, none.
    (tier,) = report["tiers"]["tiers"]
    assert tier["tier"] == SHORT_RUN_TIER
    forced, unchanged = tier["forced"], tier["unchanged"]
    assert forced["success"] and unchanged["success"], report["tiers"]["failures"]
    assert (forced["rebuilt"], forced["skipped"]) == (tier["marts"], 0)
    assert unchanged["rebuilt"] == 0
    assert unchanged["skipped"] + unchanged["in_place"] == tier["marts"]
    assert isinstance(tier["unchanged_over_forced"], Number)
    assert "2d. Tier runs through Dagster" in short_run.paths["markdown"].read_text()

    modes = report["reads_under_refresh"]["modes"]
    assert set(modes) == {"none", "plain", "concurrently", "full_refresh"}
    assert modes["plain"]["refreshes"] >= 1
    assert isinstance(modes["plain"]["longest_stall_ms"], Number)
    full_refresh = modes["full_refresh"]
    assert (full_refresh["refreshes"], full_refresh["refresh_errors"]) == (1, [])
    assert full_refresh["reads"] > 0
    assert full_refresh["errors"] == 0, full_refresh["error_messages"]
    assert "dbt build --full-refresh" in short_run.paths["markdown"].read_text()

    assert [row["clients"] for row in report["throughput"]] == [2, 4]
    assert all(isinstance(row["queries_per_s"], Number) for row in report["throughput"])
    assert report["load"]["tier_refreshes"] >= 1
    assert report["load"]["errors"] == 0
    assert report["failures"] == []
    assert [row["scale"] for row in report["scaling"]["per_scale"]] == [1]
    assert len(report["ambitions"]) == 9

    chart = short_run.paths["chart"].read_bytes()
    assert chart.startswith(PNG_MAGIC) and len(chart) > len(PNG_MAGIC)
    assert "Summary" in short_run.paths["markdown"].read_text()


@pytest.mark.slow
def test_readers_only_runs_the_reads_under_refresh_phase_alone(
    server: database.ConnectionSettings,
    short_run: bench.BenchRun,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """`bench --readers-only` on the short run's warehouse: the four modes, the full-refresh
    build among them, counted reader errors and deadlocks, and no other phase."""
    out = tmp_path_factory.mktemp("bench_readers")
    parameters = short_run.report["parameters"]
    options = bench.BenchOptions(
        scale=1,
        readers=4,
        reader_seconds=2,
        out=out,
        database_prefix=parameters["database_prefix"],
        target_path=out / "target",
        readers_only=True,
    )
    report = runner.run_readers(server, options, log=bench.Progress(enabled=False))
    written = json.loads((out / "bench_readers.json").read_text())
    assert set(written) == {"scale", "as_of", "machine", "reads_under_refresh", "failures"}
    modes = written["reads_under_refresh"]["modes"]
    assert set(modes) == {"none", "plain", "concurrently", "full_refresh"}
    full_refresh = modes["full_refresh"]
    assert (full_refresh["refreshes"], full_refresh["refresh_errors"]) == (1, [])
    assert full_refresh["reads"] > 0
    assert (full_refresh["errors"], full_refresh["deadlocks"]) == (0, 0), full_refresh
    assert report["failures"] == []
    markdown = (out / "bench_readers.md").read_text()
    assert "dbt build --full-refresh" in markdown and "deadlocks" in markdown


@pytest.mark.slow
def test_the_same_answer_check_fails_when_the_raw_query_drops_a_row(
    short_run: bench.BenchRun,
) -> None:
    warehouse = short_run.warehouses[1]
    rows = {query["benchmark"]: query["rows"] for query in short_run.report["queries"]}
    benchmark = next(item for item in warehouse.benchmarks if rows[item.name] > 1)
    raw = benchmark.raw_sql.strip().rstrip(";")
    altered = dataclasses.replace(
        benchmark, raw_sql=f"select * from ({raw}\n) as raw_answer offset 1"
    )
    with pytest.raises(AnswerMismatch) as caught:
        check_all_answers(warehouse.settings, [altered], bench.Progress(enabled=False))
    assert caught.value.benchmarks == [benchmark.name]
    assert benchmark.name in str(caught.value)
    assert "only in the mart: 1" in str(caught.value)


def test_an_incremental_mart_without_its_benchmark_change_is_refused(manifest) -> None:
    marts = incremental_marts(manifest)
    assert marts, "the project has no incremental mart"
    name = marts[0].name
    broken = copy.deepcopy(manifest)
    for node in broken["nodes"].values():
        if node["name"] == name:
            node["config"]["meta"]["refresh"].pop("incremental_benchmark")
    with pytest.raises(BenchError, match=f"{name} is a keyed_incremental_table without"):
        incremental_marts(broken)


def test_tenant_mode_reads_the_tenant_schema_as_the_querys_tenant() -> None:
    import uuid

    from orchestration.tools.bench.options import options_from_args
    from orchestration.tools.bench.tenant import query_tenant, tenant_sql

    pharma, other = uuid.UUID("f7aa6fd4-0af9-4706-8b31-034f1f7accda"), uuid.uuid4()
    compiled = (
        'select * from "vv_bench_s1"."value_view"."mv_value_view_odi_heatmap_v1"'
        f" where tenant_id = '{pharma}' and archetype = 'value_view'"
    )
    assert tenant_sql(compiled) == (
        'select * from "vv_bench_s1"."value_view_tenant"."mv_value_view_odi_heatmap_v1"'
        f" where tenant_id = '{pharma}' and archetype = 'value_view'"
    )
    assert query_tenant(compiled, [other, pharma]) == pharma
    assert query_tenant(compiled, [other]) is None
    args = cli.build_parser().parse_args(["bench", "--tenant-login"])
    assert options_from_args(args).tenant_login
    args = cli.build_parser().parse_args(["bench", "--readers-only"])
    assert options_from_args(args).readers_only
    assert not options_from_args(cli.build_parser().parse_args(["bench"])).readers_only


@pytest.mark.slow
def test_a_new_day_reloads_the_data_under_what_the_last_run_built(
    short_run: bench.BenchRun,
) -> None:
    """The bench's data is stamped with its as-of date: on another day it is loaded again, over
    the relations the last run built on it (the loader refuses while they stand). Last in the
    module: the short run's warehouse is left without its built schemas."""
    from orchestration.tools.bench.warehouse import load_data

    warehouse = short_run.warehouses[1]
    as_of = dt.date.fromisoformat(short_run.report["parameters"]["as_of"]) + dt.timedelta(days=1)
    options = bench.BenchOptions(scale=1, database_prefix="unused")
    seconds = load_data(warehouse.settings, 1, options, as_of, bench.Progress(enabled=False))
    assert seconds is not None, "the data of the day before was reused"
    with database.connect(warehouse.settings, autocommit=True) as conn:
        built = conn.execute(
            "select count(*) from pg_namespace where nspname like 'value_view%'"
        ).fetchone()[0]
        comment = conn.execute(
            "select shobj_description(oid, 'pg_database') from pg_database"
            " where datname = current_database()"
        ).fetchone()[0]
    assert built == 0
    assert f"as_of={as_of}" in comment
