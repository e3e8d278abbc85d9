"""Phase 3: readers under refresh. K pgbench readers run the dashboard mix while one
materialized view is refreshed back to back: without refresh (the control), with plain REFRESH
and with REFRESH CONCURRENTLY; how long reads stall and how many wait on a lock. Then while
`dbt build --full-refresh` rebuilds the marts and everything upstream of them once: no reader
may get an error (a relation that went missing, a deadlock)."""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from orchestration.lib import database
from orchestration.lib import manifest as project
from orchestration.lib.database import ConnectionSettings
from orchestration.tools.bench import fmt
from orchestration.tools.bench.ambitions import AMBITION_STALL_MS
from orchestration.tools.bench.catalog import MaterializedView
from orchestration.tools.bench.dbt import run_dbt
from orchestration.tools.bench.figures import latency_summary, ratio
from orchestration.tools.bench.options import BenchError, BenchOptions, Progress
from orchestration.tools.bench.pgbench import PgbenchProcess, PgbenchRun
from orchestration.tools.bench.refresh import timed_refresh
from orchestration.tools.bench.warehouse import Warehouse

REFRESH_MODES = ("none", "plain", "concurrently", "full_refresh")
# The readers of the full-refresh mode run this many times the cold build's duration (and at
# least --reader-seconds), as a build under readers is slower than a cold one (2.2 to 3.2
# times on a loaded 2-core machine); the table says when the build outlasted them.
FULL_REFRESH_READER_FACTOR = 3
LOCK_SAMPLE_INTERVAL_S = 0.02
TIMELINE_BUCKET_S = 0.5


class Refresher(threading.Thread):
    """Refreshes one materialized view over and over while the readers run."""

    def __init__(
        self,
        settings: ConnectionSettings,
        view: MaterializedView,
        concurrently: bool,
        keep_going: Callable[[], bool],
        delay: float,
    ) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.view = view
        self.concurrently = concurrently
        self.keep_going = keep_going
        self.delay = delay
        self.intervals: list[tuple[float, float]] = []
        self.errors: list[str] = []

    def run(self) -> None:
        time.sleep(self.delay)
        try:
            with database.connect(self.settings, autocommit=True) as conn:
                while self.keep_going():
                    started = time.time()
                    try:
                        timed_refresh(conn, self.view, self.concurrently)
                    except Exception as error:  # recorded and reported, never swallowed
                        self.errors.append(f"{type(error).__name__}: {error}")
                        return
                    self.intervals.append((started, time.time()))
        except Exception as error:
            self.errors.append(f"{type(error).__name__}: {error}")


class FullRefreshBuild(threading.Thread):
    """One `dbt build --full-refresh` of the marts and their parents (tests left out, as in the
    bench's own build) while the readers run."""

    def __init__(self, warehouse: Warehouse, options: BenchOptions, delay: float) -> None:
        super().__init__(daemon=True)
        self.warehouse = warehouse
        self.options = options
        self.delay = delay
        self.intervals: list[tuple[float, float]] = []
        self.errors: list[str] = []

    def run(self) -> None:
        time.sleep(self.delay)
        nodes = project.mart_nodes(self.warehouse.manifest).values()
        marts = sorted({node["name"] for node in nodes})
        started = time.time()
        try:
            run_dbt(
                [
                    "build",
                    "--full-refresh",
                    "--select",
                    *[f"+{name}" for name in marts],
                    "--exclude-resource-type",
                    "test",
                    "--exclude-resource-type",
                    "unit_test",
                ],
                self.warehouse.settings,
                self.options,
            )
        except BenchError as error:  # recorded and reported, never swallowed
            self.errors.append(str(error)[-1500:])
        self.intervals.append((started, time.time()))


class LockSampler(threading.Thread):
    """Samples the pgbench readers waiting on a lock every 20 ms: how many, and for how long.

    A waiting reader's wait is measured from the start of its statement, which is when it asks
    for the lock on the relation it reads.
    """

    def __init__(self, settings: ConnectionSettings, keep_going: Callable[[], bool]) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.keep_going = keep_going
        self.samples = 0
        self.blocked_samples = 0
        self.max_blocked = 0
        self.longest_wait_ms = 0.0

    def run(self) -> None:
        with database.connect(self.settings, autocommit=True) as conn:
            while self.keep_going():
                blocked, longest = conn.execute(
                    """
                    select
                        count(*),
                        coalesce(max(extract(epoch from clock_timestamp() - query_start)), 0)
                    from pg_stat_activity
                    where datname = current_database() and application_name = 'pgbench'
                      and wait_event_type = 'Lock'
                    """
                ).fetchone()
                self.samples += 1
                self.blocked_samples += 1 if blocked else 0
                self.max_blocked = max(self.max_blocked, int(blocked))
                self.longest_wait_ms = max(self.longest_wait_ms, float(longest) * 1000.0)
                time.sleep(LOCK_SAMPLE_INTERVAL_S)


def _timeline(run: PgbenchRun) -> list[dict[str, float]]:
    buckets: dict[int, list[float]] = {}
    for _, start, ms in run.transactions:
        buckets.setdefault(int((start - run.started_at) / TIMELINE_BUCKET_S), []).append(ms)
    return [
        {
            "t_s": round(index * TIMELINE_BUCKET_S, 2),
            "reads": len(values),
            "max_ms": round(max(values), 3),
        }
        for index, values in sorted(buckets.items())
    ]


def _mode_figures(
    run: PgbenchRun,
    names: Sequence[str],
    baseline: dict[int, float],
    refresher: Refresher | FullRefreshBuild | None,
    sampler: LockSampler,
) -> dict[str, Any]:
    """The figures of one refresh mode; a read's stall is measured against ``baseline``."""
    latencies = run.latencies()
    stalls = [ms - baseline.get(number, ms) for number, _, ms in run.transactions]
    intervals = refresher.intervals if refresher else []
    refresh_seconds = [end - start for start, end in intervals]
    return {
        "reads": len(latencies),
        "reads_per_s": round(len(latencies) / run.elapsed, 2),
        "latency": latency_summary(latencies),
        "longest_read_ms": round(max(latencies), 3) if latencies else None,
        "longest_stall_ms": round(max(max(stalls), 0.0), 3) if stalls else None,
        "reads_over_stall_target": sum(stall > AMBITION_STALL_MS for stall in stalls),
        "refreshes": len(refresh_seconds),
        "refresh_mean_s": round(statistics.fmean(refresh_seconds), 4) if refresh_seconds else None,
        "refresh_errors": refresher.errors if refresher else [],
        "max_readers_waiting_on_lock": sampler.max_blocked,
        "longest_lock_wait_ms": round(sampler.longest_wait_ms, 1),
        "share_of_samples_with_lock_waits": round(sampler.blocked_samples / sampler.samples, 4)
        if sampler.samples
        else None,
        "errors": run.errors,
        "deadlocks": sum("deadlock" in message for message in run.aborted),
        "error_messages": run.aborted[:5],
        "per_query_p99_ms": run.per_script(names, "p99_ms"),
        "timeline": _timeline(run),
        "refresh_intervals_s": [
            [round(start - run.started_at, 3), round(end - run.started_at, 3)]
            for start, end in intervals
        ],
    }


def reads_under_refresh(
    warehouse: Warehouse,
    view: MaterializedView,
    scripts: Sequence[Path],
    options: BenchOptions,
    workdir: Path,
    log: Progress,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Readers with no refresh (control), with plain REFRESH, with REFRESH CONCURRENTLY, and
    during one `dbt build --full-refresh` (its readers run until the build has ended).

    A read's stall is how much longer it took than the median of the same query in the control.
    Returns the figures and, for the chart, every read as (seconds since start, latency ms).
    """
    names = [path.stem for path in scripts]
    modes: dict[str, Any] = {}
    points: dict[str, Any] = {}
    baseline: dict[int, float] = {}
    for mode in REFRESH_MODES:
        if mode == "concurrently" and not view.concurrent_ok:
            modes[mode] = {"skipped": "no unique index on plain columns"}
            continue
        seconds = options.reader_seconds
        if mode == "full_refresh":
            seconds = max(seconds, math.ceil(warehouse.build_seconds * FULL_REFRESH_READER_FACTOR))
        log("readers", f"{options.readers} readers for {seconds} s, refresh: {mode}")
        pgbench = PgbenchProcess(
            warehouse.settings, scripts, options.readers, seconds, workdir, mode
        )
        sampler = LockSampler(warehouse.settings, pgbench.running)
        sampler.start()
        refresher: Refresher | FullRefreshBuild | None = None
        if mode == "full_refresh":
            refresher = FullRefreshBuild(warehouse, options, delay=min(1.0, seconds / 4))
            refresher.start()
        elif mode != "none":
            refresher = Refresher(
                warehouse.settings,
                view,
                mode == "concurrently",
                pgbench.running,
                delay=min(1.0, options.reader_seconds / 4),
            )
            refresher.start()
        run = pgbench.finish()
        sampler.join()
        outlasted = refresher is not None and refresher.is_alive()
        if refresher is not None:
            refresher.join()
        if mode == "none":
            baseline = {
                number: statistics.median(run.latencies(number))
                for number in range(len(scripts))
                if run.latencies(number)
            }
        figures = _mode_figures(run, names, baseline, refresher, sampler)
        figures["reader_seconds"] = seconds
        if mode == "full_refresh":
            figures["build_outlasted_readers"] = outlasted
        modes[mode] = figures
        points[mode] = {
            "reads": [(start - run.started_at, ms) for _, start, ms in run.transactions],
            "refreshes": figures["refresh_intervals_s"],
        }
        log(
            "readers",
            f"refresh {mode}: {figures['reads_per_s']:,.1f} reads/s,"
            f" p99 {fmt.ms(figures['latency'].get('p99_ms'))},"
            f" longest stall {fmt.ms(figures['longest_stall_ms'])},"
            f" {figures['refreshes']} refreshes, up to {sampler.max_blocked} readers waiting on a"
            f" lock, longest lock wait {fmt.ms(figures['longest_lock_wait_ms'])}",
        )
    plain, concurrent = modes.get("plain", {}), modes.get("concurrently", {})
    summary = {
        "relation": view.name,
        "rows": view.rows,
        "readers": options.readers,
        "seconds": options.reader_seconds,
        "mix": names,
        "modes": modes,
        "stall_ratio_plain_over_concurrent": ratio(
            plain.get("longest_stall_ms"), max(concurrent.get("longest_stall_ms") or 0.0, 1.0)
        )
        if concurrent.get("longest_stall_ms") is not None
        else None,
        "throughput_ratio_concurrent_over_plain": ratio(
            concurrent.get("reads_per_s"), plain.get("reads_per_s")
        ),
    }
    return summary, points


def failures(reads: dict[str, Any], relation: str) -> list[str]:
    """What fails the bench in the readers' figures: a refresh or build that failed, and any
    reader error during the full-refresh build."""
    found = []
    for mode, figures in reads["modes"].items():
        for error in figures.get("refresh_errors", []):
            found.append(f"refresh {mode} of {relation} failed: {error}")
    full_refresh = reads["modes"].get("full_refresh") or {}
    if full_refresh.get("errors"):
        found.append(
            f"{full_refresh['errors']} reader errors during dbt build --full-refresh:"
            f" {full_refresh['error_messages'][:3]}"
        )
    return found
