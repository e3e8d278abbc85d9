"""``value-view-dbt``: dbt, bound to the process that started it.

Dagster runs ``dbt build`` as a child of the step's process. When the step fails for a reason of
its own while dbt is still working (the database restarted and the step could not record an event,
or the step's process was killed), dbt would otherwise go on building as an orphan after the run
is marked failed, and could still be writing when the next run starts. This launcher asks Linux
to send dbt SIGINT, dbt's own cancel (it cancels its queries and exits), as soon as its parent is
gone, then becomes dbt with the same arguments. Elsewhere it simply becomes dbt.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1
PARENT_SIGNAL = signal.SIGINT


def dbt_executable() -> str:
    """The dbt installed beside this interpreter, else the one on PATH.

    Kept here, in a module that imports nothing heavy, so the launcher starts quickly;
    ``orchestration.lib.dbt_runner`` uses the same lookup."""
    candidate = Path(sys.executable).parent / "dbt"
    if candidate.exists():
        return str(candidate)
    return shutil.which("dbt") or "dbt"


def bind_to_parent() -> None:
    """Ask for PARENT_SIGNAL when the parent exits (Linux; elsewhere nothing is asked)."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(PARENT_SIGNAL), 0, 0, 0) != 0:
        return
    if os.getppid() != parent:
        # The parent went before the request took effect: nobody is waiting for this build.
        sys.exit(128 + int(PARENT_SIGNAL))


def main() -> None:
    # A process started in the background by a non-interactive shell (`nohup ... &`, a CI
    # script) inherits SIGINT ignored, and an ignored signal stays ignored across exec: dbt would
    # then never hear the parent's death. dbt gets SIGINT's default, so that Python installs its
    # own handler (KeyboardInterrupt: dbt cancels its queries and exits).
    signal.signal(PARENT_SIGNAL, signal.SIG_DFL)
    bind_to_parent()
    dbt = dbt_executable()
    os.execvp(dbt, [dbt, *sys.argv[1:]])


if __name__ == "__main__":
    main()
