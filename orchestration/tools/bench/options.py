"""What a bench run is asked to do (``BenchOptions`` and its command-line options), and how it
speaks back while it runs: one progress line per step, ``BenchError`` when it cannot go on."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import time
from dataclasses import dataclass
from pathlib import Path

from orchestration.lib import settings as project_settings
from orchestration.lib.settings import PROJECT_ROOT
from orchestration.tools.options import UsageError, parse_date, parse_scale, parse_seed

DEFAULT_OUT = PROJECT_ROOT / "bench_results"
DEFAULT_TARGET_PATH = PROJECT_ROOT / "target_bench"


class BenchError(RuntimeError):
    """The benchmark cannot run as asked; the message says why."""


@dataclass
class BenchOptions:
    scale: int = 1
    scales: tuple[int, ...] = (1, 10)
    seed: int = 42
    as_of: dt.date | None = None
    out: Path = DEFAULT_OUT
    database_prefix: str = "vv_bench"
    target_path: Path = DEFAULT_TARGET_PATH
    source_schema: str = "vital"
    runs: int = 100
    query_seconds: float = 20.0
    refresh_runs: int = 3
    readers: int = 16
    reader_seconds: int = 20
    refresh_relation: str | None = None
    clients: tuple[int, ...] = (8, 32, 64, 256)
    throughput_seconds: int = 10
    load_readers: int = 50
    load_seconds: int = 60
    load_tier: str | None = None
    reload: bool = False
    drop_databases: bool = False
    users: int = 0
    user_seconds: int = 60
    tenant_login: bool = False
    readers_only: bool = False
    tier_runs: bool = True
    tiers: tuple[str, ...] = ()

    def all_scales(self) -> list[int]:
        return sorted({self.scale, *self.scales})


class Progress:
    """One line per phase step, with the time since the run started."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.started = time.monotonic()

    def __call__(self, phase: str, message: str) -> None:
        if self.enabled:
            elapsed = time.monotonic() - self.started
            print(f"[bench {elapsed:7.1f}s] {phase:<10} {message}", flush=True)


def _int_list(raw: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise UsageError(f"{option} must be comma-separated whole numbers, got {raw!r}") from None
    if not values or any(value < 1 for value in values):
        raise UsageError(f"{option} must list whole numbers of at least 1, got {raw!r}")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scale", default="1", help="scale of the main measurements (default 1)")
    parser.add_argument(
        "--scales", default="1,10", help="scales compared in the scaling phase (default 1,10)"
    )
    parser.add_argument("--seed", default="42", help="demo data seed (default 42)")
    parser.add_argument("--as-of", default=None, help="demo data anchor date (default today, UTC)")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (bench_results/)")
    parser.add_argument("--runs", type=int, default=100, help="timed runs per query and side")
    parser.add_argument(
        "--query-seconds",
        type=float,
        default=20.0,
        help="time cap per query and side; slow raw queries stop early (default 20)",
    )
    parser.add_argument("--refresh-runs", type=int, default=3, help="refreshes timed per view")
    parser.add_argument("--readers", type=int, default=16, help="readers under refresh (16)")
    parser.add_argument("--reader-seconds", type=int, default=20, help="seconds per refresh mode")
    parser.add_argument(
        "--refresh-relation",
        default=None,
        help="materialized view refreshed under the readers (default: the largest; not a table)",
    )
    parser.add_argument("--clients", default="8,32,64,256", help="throughput client counts")
    parser.add_argument("--throughput-seconds", type=int, default=10, help="seconds per count")
    parser.add_argument("--load-readers", type=int, default=50, help="readers in the load phase")
    parser.add_argument("--load-seconds", type=int, default=60, help="seconds of the load phase")
    parser.add_argument(
        "--load-tier", default=None, help="cron of the tier refreshed under load (default: slowest)"
    )
    parser.add_argument(
        "--database-prefix", default="vv_bench", help="databases are <prefix>_s<scale>"
    )
    parser.add_argument("--target-path", default=str(DEFAULT_TARGET_PATH), help="dbt target path")
    parser.add_argument("--reload", action="store_true", help="reload demo data even if present")
    parser.add_argument("--drop", action="store_true", help="drop the benchmark databases after")
    parser.add_argument(
        "--users",
        type=int,
        default=0,
        help="instead of the phases above: N concurrent BI users with think time on the warehouse"
        " the pooler serves, on the primary and through the pooler, beside closed-loop throughput",
    )
    parser.add_argument(
        "--user-seconds", type=int, default=60, help="seconds of the --users run per side (60)"
    )
    parser.add_argument(
        "--tenant-login",
        action="store_true",
        help="only time each dashboard query through a tenant login beside the direct read,"
        " at --scale (bench_tenant.json, bench_tenant.md)",
    )
    parser.add_argument(
        "--no-tier-runs",
        action="store_true",
        help="leave out the tier runs through Dagster (each tier forced, then on unchanged"
        " sources)",
    )
    parser.add_argument(
        "--tiers",
        default="",
        help="comma-separated tier names for the tier runs (default: every tier), e.g."
        " hourly,daily_0200",
    )
    parser.add_argument(
        "--readers-only",
        action="store_true",
        help="only the reads-under-refresh phase (control, plain, concurrently, a whole"
        " dbt build --full-refresh) at --scale (bench_readers.json, bench_readers.md)",
    )


def options_from_args(args: argparse.Namespace) -> BenchOptions:
    """The options of ``value-view bench``; UsageError names the first bad value."""
    scale = parse_scale(args.scale)
    scales = tuple(parse_scale(str(value)) for value in _int_list(args.scales, "--scales"))
    for option, value in (
        ("--runs", args.runs),
        ("--refresh-runs", args.refresh_runs),
        ("--reader-seconds", args.reader_seconds),
        ("--throughput-seconds", args.throughput_seconds),
        ("--user-seconds", args.user_seconds),
    ):
        if value < 1:
            raise UsageError(f"{option} must be at least 1, got {value}")
    for option, value in (
        ("--readers", args.readers),
        ("--load-readers", args.load_readers),
        ("--users", args.users),
    ):
        if value < 0:
            raise UsageError(f"{option} must not be negative, got {value}")
    if args.query_seconds <= 0:
        raise UsageError(f"--query-seconds must be positive, got {args.query_seconds}")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,40}", args.database_prefix):
        raise UsageError(
            f"--database-prefix must be a lowercase identifier, got {args.database_prefix!r}"
        )
    return BenchOptions(
        scale=scale,
        scales=scales,
        seed=parse_seed(args.seed),
        as_of=parse_date(args.as_of) if args.as_of else None,
        out=Path(args.out),
        database_prefix=args.database_prefix,
        target_path=Path(args.target_path).resolve(),
        source_schema=project_settings.source_schema(),
        runs=args.runs,
        query_seconds=args.query_seconds,
        refresh_runs=args.refresh_runs,
        readers=args.readers,
        reader_seconds=args.reader_seconds,
        refresh_relation=args.refresh_relation,
        clients=_int_list(args.clients, "--clients"),
        throughput_seconds=args.throughput_seconds,
        load_readers=args.load_readers,
        load_seconds=max(0, args.load_seconds),
        load_tier=args.load_tier,
        reload=args.reload,
        drop_databases=args.drop,
        users=args.users,
        user_seconds=args.user_seconds,
        tenant_login=args.tenant_login,
        readers_only=args.readers_only,
        tier_runs=not args.no_tier_runs,
        tiers=tuple(name.strip() for name in args.tiers.split(",") if name.strip()),
    )
