"""CPU accounting from /proc (Linux): per process, per tier, and for the whole machine.

On a 2-core box the load generator, gunicorn and PostgreSQL share the CPUs, so throughput alone
does not say what a request costs. CPU seconds per request, per tier, do. And since other people
may run their tests on the same machine, a measurement also reports how much CPU they took.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")
# Shared services: their CPU is neither ours nor someone else's disturbance we could name, except
# a PostgreSQL session on another database (its title names the database).
SERVICES = frozenset({"postgres", "redis-server"})
SESSION_TITLE = re.compile(r"^postgres: \S+: \S+ (\S+) ")


@dataclass(frozen=True)
class ProcessCpu:
    ppid: int
    name: str
    cpu: float  # user + system seconds so far
    reaped: float  # the same, of its children that have exited and been waited for


def _read(pid: int | str) -> ProcessCpu | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    # Fields after the ")" that closes the name: state [0], ppid [1], utime [11], stime [12],
    # cutime [13], cstime [14].
    fields = text.rsplit(")", 1)[1].split()
    return ProcessCpu(
        int(fields[1]), name, (int(fields[11]) + int(fields[12])) / TICK, (int(fields[13]) + int(fields[14])) / TICK
    )


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 when it is gone)."""
    found = _read(pid)
    return found.cpu if found else 0.0


def processes_cpu(pids: list[int]) -> float:
    return sum(process_cpu(pid) for pid in pids)


def snapshot() -> dict[int, ProcessCpu]:
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (process := _read(entry.name)) is not None:
            found[int(entry.name)] = process
    return found


def children(pid: int) -> list[int]:
    return [child for child, process in snapshot().items() if process.ppid == pid]


@dataclass(frozen=True)
class MachineCpu:
    busy: float  # CPU seconds spent not idle, summed over all cores
    total: float

    @classmethod
    def now(cls) -> MachineCpu:
        try:
            values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        except OSError:
            return cls(0.0, 0.0)
        idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
        total = sum(values[:8])  # guest time is already counted in user
        return cls((total - idle) / TICK, total / TICK)


@dataclass(frozen=True)
class CpuUsage:
    """CPU seconds spent between two points, per tier, and how busy the whole machine was."""

    server: float  # gunicorn workers
    database: float  # the PostgreSQL sessions serving them and this process
    client: float  # this process (the load generator, or in-process work)
    foreign: float  # other people's processes (not ours, not PostgreSQL or Redis)
    busy: float  # CPU seconds all cores were busy, whoever used them
    span: float  # CPU seconds available (wall time × cores)

    @property
    def machine_busy(self) -> float:
        """Share (0–1) of all cores' time that was busy."""
        return self.busy / self.span if self.span > 0 else 0.0

    @property
    def others(self) -> float:
        """Share (0–1) of all cores' time other people's processes took (their tests, their servers)."""
        return self.foreign / self.span if self.span > 0 else 0.0

    def per(self, n: int) -> CpuUsage:
        return CpuUsage(
            self.server / n, self.database / n, self.client / n, self.foreign / n, self.busy / n, self.span / n
        )


class CpuMeter:
    """Start before a measurement, stop() after: CPU used by each tier in between.

    PostgreSQL sessions are told apart by the database their process title names, so sessions
    opened during the measurement count too. "Foreign" is what is left of the machine's busy time
    after our tiers and the shared services (PostgreSQL's background processes and exited sessions,
    Redis): other people's tests and servers, including ones that started and ended meanwhile.
    """

    def __init__(self, server_pids: list[int], database: str) -> None:
        self.database = database
        self.server_pids = server_pids
        self._ours = {os.getpid(), *server_pids, *(_ppids(server_pids))}
        self._titles: dict[int, str] = {}
        self._start = (processes_cpu(server_pids), time.process_time(), snapshot(), MachineCpu.now())

    def stop(self) -> CpuUsage:
        server_start, client_start, before, machine = self._start
        after = snapshot()
        now = MachineCpu.now()
        server = processes_cpu(self.server_pids) - server_start
        client = time.process_time() - client_start
        database = service = 0.0
        for pid, process in after.items():
            if pid in self._ours:
                continue
            earlier = before.get(pid)
            spent = process.cpu - (earlier.cpu if earlier else 0.0)
            owner = self._owner(pid, process)
            if owner == "database":
                database += spent
            elif owner == "service":
                service += spent
                if process.name == "postgres" and earlier:
                    # Sessions and parallel workers that ended meanwhile, whoever's they were.
                    service += process.reaped - earlier.reaped
        busy = now.busy - machine.busy
        return CpuUsage(
            server=server,
            database=database,
            client=client,
            foreign=max(0.0, busy - server - database - client - service),
            busy=busy,
            span=now.total - machine.total,
        )

    def _owner(self, pid: int, process: ProcessCpu) -> str:
        """'database' for a session on our database, 'foreign' for someone else's process, else 'service'."""
        if process.name not in SERVICES:
            return "foreign"
        if process.name != "postgres":
            return "service"
        if pid not in self._titles:
            try:
                raw = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                return "service"
            self._titles[pid] = raw.replace(b"\0", b" ").decode(errors="replace")
        match = SESSION_TITLE.match(self._titles[pid])
        if not match:
            return "service"
        return "database" if match.group(1) == self.database else "foreign"


def _ppids(pids: list[int]) -> set[int]:
    return {found.ppid for pid in pids if (found := _read(pid)) is not None}
