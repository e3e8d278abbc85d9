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


def real_dbt() -> str:
    """The dbt installed beside this interpreter, else the one on PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("dbt")
    if found is None:
        sys.exit("value-view-dbt: dbt is not installed beside this Python nor on PATH")
    return found


def bind_to_parent() -> bool:
    """Ask for PARENT_SIGNAL when the parent exits; False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(PARENT_SIGNAL), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:
        # The parent went before the request took effect: nobody is waiting for this build.
        sys.exit(128 + int(PARENT_SIGNAL))
    return True


def main() -> None:
    bind_to_parent()
    dbt = real_dbt()
    os.execv(dbt, [dbt, *sys.argv[1:]])


if __name__ == "__main__":
    main()
