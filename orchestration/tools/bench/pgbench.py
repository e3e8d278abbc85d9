"""pgbench running the dashboard mix (one script per benchmark query) in the background, and
what its per-transaction logs and its output say."""

from __future__ import annotations

import glob
import math
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.lib.database import ConnectionSettings, client_path
from orchestration.lib.server import EmbeddedServer
from orchestration.tools.bench.catalog import BenchmarkQuery
from orchestration.tools.bench.figures import latency_summary
from orchestration.tools.bench.options import BenchError


def pgbench_path() -> str:
    """The embedded server's pgbench, else the one on PATH."""
    path = client_path("pgbench", EmbeddedServer.bin_dir())
    if shutil.which(path) is None:
        raise BenchError("pgbench not found (neither the embedded server's nor on PATH)")
    return path


def write_scripts(benchmarks: Sequence[BenchmarkQuery], directory: Path) -> list[Path]:
    """One pgbench script per benchmark analysis (the dashboard mix, equal weights)."""
    directory.mkdir(parents=True, exist_ok=True)
    scripts = []
    for benchmark in benchmarks:
        path = directory / f"{benchmark.name}.sql"
        path.write_text(benchmark.sql.strip().rstrip(";").strip() + ";\n")
        scripts.append(path)
    return scripts


@dataclass
class PgbenchRun:
    clients: int
    seconds: int
    started_at: float
    ended_at: float
    returncode: int
    # (script number, start time since the epoch, latency in ms) per completed transaction
    transactions: list[tuple[int, float, float]] = field(default_factory=list)
    failed: int = 0
    aborted: list[str] = field(default_factory=list)
    tps: float | None = None
    output: str = ""

    @property
    def errors(self) -> int:
        return self.failed + len(self.aborted)

    @property
    def elapsed(self) -> float:
        return max(self.ended_at - self.started_at, 1e-9)

    def latencies(self, script: int | None = None) -> list[float]:
        return [ms for number, _, ms in self.transactions if script is None or number == script]

    def per_script(self, names: Sequence[str], figure: str) -> dict[str, float | None]:
        """One latency figure (``p95_ms``, ...) for each script, by the script's name."""
        return {
            name: latency_summary(self.latencies(number)).get(figure)
            for number, name in enumerate(names)
        }


def parse_pgbench_log(lines: Iterable[str]) -> tuple[list[tuple[int, float, float]], int]:
    """Per-transaction log lines -> ((script, start epoch, latency ms), ...) and failed count.

    Line format: client_id transaction_no time script_no time_epoch time_us [...], where time is
    the latency in microseconds (or ``failed``/``skipped``) and the epoch pair is the end time.
    """
    transactions = []
    failed = 0
    for line in lines:
        fields = line.split()
        if len(fields) < 6:
            continue
        if not fields[2].isdigit():
            if fields[2] == "failed":
                failed += 1
            continue
        latency_us = int(fields[2])
        end = int(fields[4]) + int(fields[5]) / 1e6
        transactions.append((int(fields[3]), end - latency_us / 1e6, latency_us / 1000.0))
    return transactions, failed


def parse_pgbench_output(stdout: str, stderr: str) -> tuple[float | None, int, list[str]]:
    """tps (without connection time), failed transactions and aborted-client messages."""
    tps_match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", stdout)
    failed_match = re.search(r"number of failed transactions: (\d+)", stdout)
    aborted = [
        line.strip() for line in stderr.splitlines() if "aborted" in line and "client" in line
    ]
    return (
        float(tps_match.group(1)) if tps_match else None,
        int(failed_match.group(1)) if failed_match else 0,
        aborted,
    )


class PgbenchProcess:
    """pgbench running the dashboard mix in the background, logging every transaction."""

    def __init__(
        self,
        settings: ConnectionSettings,
        scripts: Sequence[Path],
        clients: int,
        seconds: int,
        workdir: Path,
        tag: str,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.clients = clients
        self.seconds = max(1, math.ceil(seconds))
        self.prefix = workdir / tag
        threads = max(1, min(clients, os.cpu_count() or 1))
        command = [
            pgbench_path(),
            "--no-vacuum",
            "--client",
            str(clients),
            "--jobs",
            str(threads),
            "--time",
            str(self.seconds),
            "--log",
            f"--log-prefix={self.prefix}",
        ]
        command += list(extra_args)
        for script in scripts:
            command += ["--file", str(script)]
        env = dict(os.environ)
        env.pop("PGPASSWORD", None)
        env.update(settings.env())
        self.started_at = time.time()
        self.process = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def running(self) -> bool:
        return self.process.poll() is None

    def finish(self) -> PgbenchRun:
        stdout, stderr = self.process.communicate()
        ended = time.time()
        tps, failed_total, aborted = parse_pgbench_output(stdout, stderr)
        transactions: list[tuple[int, float, float]] = []
        failed_logged = 0
        for path in sorted(glob.glob(f"{self.prefix}.*")):
            with open(path) as handle:
                found, failed = parse_pgbench_log(handle)
            transactions.extend(found)
            failed_logged += failed
            os.unlink(path)
        if self.process.returncode not in (0, 2) or (tps is None and not transactions):
            raise BenchError(
                f"pgbench failed ({self.process.returncode}): {stderr.strip()[-2000:]}"
            )
        return PgbenchRun(
            clients=self.clients,
            seconds=self.seconds,
            started_at=self.started_at,
            ended_at=ended,
            returncode=self.process.returncode,
            transactions=transactions,
            failed=max(failed_total, failed_logged),
            aborted=aborted,
            tps=tps,
            output=stderr.strip()[-2000:],
        )
