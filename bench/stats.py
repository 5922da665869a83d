"""Pure helpers: percentiles, timing summaries, result rows and the table printer. No Django, no I/O."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation between closest ranks (numpy's default).

    Interpolating keeps small samples honest: p95 of 20 samples lies between the two slowest
    instead of snapping to the slowest.
    """
    if not samples:
        raise ValueError("percentile of no samples")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0–100, not {q}")
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Timing:
    """Latencies in seconds of `count` operations, and the wall time of the whole batch."""

    samples: tuple[float, ...]
    wall: float

    @classmethod
    def of(cls, samples: Sequence[float], wall: float | None = None) -> Timing:
        return cls(samples=tuple(samples), wall=sum(samples) if wall is None else wall)

    @property
    def count(self) -> int:
        return len(self.samples)

    def p(self, q: float) -> float:
        return percentile(self.samples, q)

    @property
    def p50(self) -> float:
        return self.p(50)

    @property
    def p95(self) -> float:
        return self.p(95)

    @property
    def p99(self) -> float:
        return self.p(99)

    @property
    def mean(self) -> float:
        return sum(self.samples) / len(self.samples)

    @property
    def rate(self) -> float:
        """Operations per second over the batch's wall time."""
        return self.count / self.wall if self.wall > 0 else math.inf

    def describe(self) -> str:
        return (
            f"n={self.count} p50={format_ms(self.p50)} p95={format_ms(self.p95)} "
            f"p99={format_ms(self.p99)} max={format_ms(max(self.samples))}"
        )


def time_calls(fn: Callable[[], Any], n: int, *, warmup: int = 3) -> Timing:
    """Call fn n times (after `warmup` untimed calls) and time each call."""
    for _ in range(warmup):
        fn()
    samples = []
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return Timing.of(samples, time.perf_counter() - started)


def format_ms(seconds: float) -> str:
    ms = seconds * 1000
    if ms >= 100:
        return f"{ms:.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def format_value(value: float | None, unit: str) -> str:
    """How a result reads in the table: seconds as ms, rates and counts with thousands separators."""
    if value is None:
        return "—"
    if unit == "s":
        return format_ms(value)
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "count":
        return f"{value:,.0f}"
    if unit.startswith("/"):
        return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    if unit == "ms":
        return f"{value:.2f} ms"
    return f"{value:,.2f} {unit}".rstrip()


@dataclass(frozen=True)
class Row:
    """One line of the summary. `passed` is None for figures that have no target."""

    section: str
    metric: str
    value: float | None
    unit: str = ""
    target: str = ""
    passed: bool | None = None

    @property
    def verdict(self) -> str:
        return "" if self.passed is None else ("PASS" if self.passed else "MISS")


def target_row(
    section: str,
    metric: str,
    value: float,
    unit: str,
    *,
    at_least: float | None = None,
    at_most: float | None = None,
) -> Row:
    """A row checked against a threshold, e.g. at_most=0.050 for a latency in seconds."""
    if (at_least is None) == (at_most is None):
        raise ValueError("give exactly one of at_least and at_most")
    if at_least is not None:
        return Row(section, metric, value, unit, f"≥ {format_value(at_least, unit)}", value >= at_least)
    assert at_most is not None
    return Row(section, metric, value, unit, f"≤ {format_value(at_most, unit)}", value <= at_most)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> str:
    """A plain-text table; columns listed in `right` are right-aligned (numbers)."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def format_results(rows: Sequence[Row]) -> str:
    """The summary table printed at the end of a run."""
    return format_table(
        ["section", "metric", "value", "target", "result"],
        [[r.section, r.metric, format_value(r.value, r.unit), r.target, r.verdict] for r in rows],
        right=(2,),
    )
