"""Programs the servers run, and the ports they listen on: finding a binary, checking a port,
and the line of a program's output that says what went wrong (one-line errors)."""

from __future__ import annotations

import shutil
from pathlib import Path

from orchestration.lib.database import SettingsError, port_in_use

UNPRIVILEGED_PORT_START = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")


def require_program(
    program: str,
    bin_dir: Path,
    *,
    install_hint: str = "",
    error: type[RuntimeError] = RuntimeError,
) -> str:
    """The path of ``program`` in ``bin_dir`` or on PATH; ``error``, in one line naming it, when
    it is in neither."""
    candidate = bin_dir / program
    if candidate.exists():
        return str(candidate)
    found = shutil.which(program)
    if found:
        return found
    hint = f" ({install_hint})" if install_hint else ""
    raise error(f"{program} not found in {bin_dir} or on PATH{hint}")


def unprivileged_port_start() -> int:
    """The lowest port a process that is not root may listen on (Linux, default 1024)."""
    try:
        return int(UNPRIVILEGED_PORT_START.read_text())
    except (OSError, ValueError):
        return 1024


def check_port(port: int, setting: str = "--port") -> int:
    """A port on 127.0.0.1 the servers may listen on: in range, not privileged (they do not run
    as root), and free."""
    if not 0 < port < 65536:
        raise SettingsError(f"{setting} must be between 1 and 65535, got {port}")
    lowest = unprivileged_port_start()
    if port < lowest:
        raise SettingsError(
            f"{setting} {port} is a privileged port; the servers do not run as root: choose one "
            f"from {lowest} to 65535"
        )
    if port_in_use(port):
        raise SettingsError(f"{setting} {port}: something already listens on 127.0.0.1:{port}")
    return port


def first_line(text: str) -> str:
    """The line of a program's output that says what went wrong: its first FATAL or ERROR line,
    else its first line."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    for line in lines:
        for marker in ("FATAL:", "ERROR:"):
            if marker in line:
                return line[line.index(marker) :]
    return lines[0] if lines else "no message"
