"""Child processes and process groups, read from /proc and signal 0 (Linux only).

Used by the restart bench, the dev-stack and the fault tests to find bin/run's children and to check nothing outlives it.
"""

from __future__ import annotations

import os
from pathlib import Path


def children(pid: int) -> list[int]:
    """The direct children of `pid`; empty once `pid` has exited."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def group_alive(pgid: int) -> bool:
    """Whether any process of the group `pgid` still exists (zombies count until they are reaped)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
