"""The section registry and the context every section receives.

A section is a function decorated with @section("name"); it measures something and records rows:

    from bench.core import Context, section
    from bench.stats import time_calls

    @section("sla_sweep", order=50, help="Time one SLA sweep over 200,000 complaints")
    def sla_sweep(ctx: Context) -> None:
        ctx.seed_complaints(ctx.scaled(200_000))          # top up to this many complaints, set-based
        timing = time_calls(lambda: sweep_overdue(), n=20)
        ctx.record_timing("sweep", timing)                 # p50/p95 rows
        ctx.check("sweep p95", timing.p95, "s", at_most=0.5)   # PASS/MISS row

Put it in a module named bench/section_<name>.py; `python -m bench` finds it by that name.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench.stats import Row, Timing, target_row

if TYPE_CHECKING:
    from bench.client import Client
    from bench.environment import Config
    from bench.server import Gunicorn
    from bench.system import CpuMeter, CpuUsage

SectionFn = Callable[["Context"], None]


@dataclass(frozen=True)
class Section:
    name: str
    fn: SectionFn
    order: int
    help: str


SECTIONS: dict[str, Section] = {}


def section(name: str, *, order: int = 100, help: str = "") -> Callable[[SectionFn], SectionFn]:
    """Register a benchmark section; sections run by ascending `order`, then name."""

    def register(fn: SectionFn) -> SectionFn:
        if name in SECTIONS and SECTIONS[name].fn is not fn:
            raise ValueError(f"Two benchmark sections are named '{name}'.")
        SECTIONS[name] = Section(name, fn, order, help or (fn.__doc__ or "").strip().split("\n")[0])
        return fn

    return register


def ordered_sections() -> list[Section]:
    return sorted(SECTIONS.values(), key=lambda s: (s.order, s.name))


class SectionSkipped(Exception):
    """The section cannot run here (a service or the network is missing); not a failure."""


class SectionFailed(Exception):
    """The measurement itself went wrong (errors, wrong answers), as opposed to missing a target."""


@dataclass
class Context:
    config: Config
    server_factory: Callable[[], Gunicorn]
    scale: float = 1.0
    explain: bool = False
    rows: list[Row] = field(default_factory=list)
    current: str = ""
    disturbed: float = 0.0  # the largest share of CPU other processes took during a measurement
    _server: Gunicorn | None = None
    _api_key: str | None = None
    _started: float = field(default_factory=time.monotonic)

    # --- output -------------------------------------------------------------------------------

    def reset_clock(self) -> None:
        self._started = time.monotonic()

    def log(self, message: str) -> None:
        elapsed = time.monotonic() - self._started
        print(f"[{elapsed:6.1f}s] {self.current + ': ' if self.current else ''}{message}", flush=True)

    def record(self, metric: str, value: float | None, unit: str = "") -> Row:
        row = Row(self.current, metric, value, unit)
        self.rows.append(row)
        return row

    def check(
        self, metric: str, value: float, unit: str, *, at_least: float | None = None, at_most: float | None = None
    ) -> Row:
        row = target_row(self.current, metric, value, unit, at_least=at_least, at_most=at_most)
        self.rows.append(row)
        self.log(f"{row.verdict}: {metric} {row.target}")
        return row

    def record_timing(self, label: str, timing: Timing, *, rate: bool = False, p99: bool = False) -> None:
        """p50 and p95 (and optionally p99 and the rate) of a timing as rows."""
        if rate:
            self.record(f"{label} rate", timing.rate, "/s")
        self.record(f"{label} p50", timing.p50, "s")
        self.record(f"{label} p95", timing.p95, "s")
        if p99:
            self.record(f"{label} p99", timing.p99, "s")

    def note_others(self, label: str, cpu: CpuUsage) -> None:
        """Record how much CPU other people's processes took during a measurement; a busy machine skews figures."""
        self.record(f"CPU used by other processes, {label}", 100 * cpu.others, "%")
        self.disturbed = max(self.disturbed, cpu.others)

    def fail(self, message: str) -> None:
        raise SectionFailed(message)

    def skip(self, reason: str) -> None:
        """Stop the section without a verdict: what it needs is not available on this machine."""
        raise SectionSkipped(reason)

    # --- shared resources ---------------------------------------------------------------------

    def scaled(self, n: int, minimum: int = 1) -> int:
        """n times --scale: lets a quick run (--scale 0.1) exercise a section in seconds."""
        return max(minimum, round(n * self.scale))

    def server(self) -> Gunicorn:
        """The gunicorn serving the bench database, started on first use and stopped at the end."""
        if self._server is not None and not self._server.running:
            self.log(f"gunicorn had exited; starting a new one. Its log:\n{self._server.log_tail()}")
            self._server.stop()
            self._server = None
        if self._server is None:
            self._server = self.server_factory()
            self._server.start()
            self.log(f"started {self._server.describe()}")
        return self._server

    @property
    def api_key(self) -> str:
        """A key with complaints read/write scopes, created once per run."""
        if self._api_key is None:
            from bench.environment import api_key_for_bench

            self._api_key = api_key_for_bench()
        return self._api_key

    def client(self, *, auth: bool = True) -> Client:
        """A keep-alive client for the server, authenticated with the bench key unless auth=False."""
        from bench.load import make_client

        return make_client(self.server().url, token=self.api_key if auth else None)

    def cpu_meter(self) -> CpuMeter:
        """Measure CPU per tier from now: gunicorn workers (if started), sessions on the bench database,
        this process, and other people's processes."""
        from bench.system import CpuMeter

        server = self._server.worker_pids() if self._server else []
        return CpuMeter(server, self.config.database_name)

    def seed_customers(self, total: int) -> int:
        """Top the customers up to `total`, set-based; returns how many were added."""
        from bench import seed

        return seed.customers(total)

    def seed_complaints(
        self, total: int, *, customers_total: int = 50_000, timeline: bool = True, assignees: int = 12
    ) -> int:
        """Top the complaints up to `total` (and customers to `customers_total`), set-based; see bench.seed."""
        from bench import seed

        return seed.complaints(total, customers_total=customers_total, timeline=timeline, assignees=assignees)

    def server_log(self) -> str:
        """The end of gunicorn's log, when it was started (for error reports)."""
        return f"gunicorn log ({self._server.log_path}):\n{self._server.log_tail()}" if self._server else ""

    def close(self) -> None:
        if self._server is not None:
            self.log("stopping gunicorn")
            self._server.stop()
            self._server = None


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)
