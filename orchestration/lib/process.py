"""Running a program the project depends on (dbt, the demo-data tool) and saying why it failed."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

OUTPUT_TAIL_LINES = 30


class CommandError(RuntimeError):
    """A program exited with an error; the message ends with the tail of its output."""


def run_checked(
    command: Sequence[str],
    *,
    what: str,
    env: Mapping[str, str],
    cwd: Path | None = None,
    timeout: float,
    error: type[CommandError] = CommandError,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to the end with its output captured; ``error`` (naming ``what``, with the
    last lines of the output) when it exits with an error."""
    result = subprocess.run(
        list(command),
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if result.returncode != 0:
        output = (result.stdout + "\n" + result.stderr).strip().splitlines()
        tail = "\n".join(output[-OUTPUT_TAIL_LINES:])
        raise error(f"{what} failed (exit {result.returncode}):\n{tail}")
    return result
