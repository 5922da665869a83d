"""Intake throughput: complaints logged over the API against the floor, both under the same load."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.db import connection

from bench import data
from bench.core import Context, section
from bench.load import LoadResult, run_concurrent
from bench.system import CpuUsage

COUNT = 5_000
CONCURRENCY = 8
WARMUP = 80  # per endpoint, untimed: every worker imports lazily and opens its DB connection
TARGET_RATIO = 50.0  # intake ≥ 50% of the API floor, in the same run (issue 15)


@dataclass(frozen=True)
class Endpoint:
    label: str
    path: str
    auth: bool
    table: str  # where each 201 must have added one row


INTAKE = Endpoint("intake", "/api/v1/complaints/", auth=True, table="tickets_complaint")
FLOOR = Endpoint("floor", "/bench/floor/", auth=False, table="bench_floor")
API_FLOOR = Endpoint("API floor", "/bench/floor/api/", auth=True, table="bench_floor")


def _rows(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(table)}")
        return cursor.fetchone()[0]


def _cpu_line(cpu: CpuUsage, count: int) -> str:
    each = cpu.per(count)
    return (
        f"CPU per request: gunicorn {each.server * 1000:.2f} ms, PostgreSQL {each.database * 1000:.2f} ms, "
        f"load generator {each.client * 1000:.2f} ms; machine {cpu.machine_busy:.0%} busy, "
        f"{cpu.others:.0%} by other processes"
    )


@section("intake", order=10, help="POST /api/v1/complaints/ vs the floor view, 8 concurrent clients")
def intake(ctx: Context) -> None:
    count = ctx.scaled(COUNT)
    server = ctx.server()
    token = ctx.api_key
    # Encoded up front: the load loop should spend its CPU on HTTP only. Every endpoint gets the
    # same bodies; the floors store them whole.
    payloads = [json.dumps(p).encode() for p in data.complaint_payloads(count, seed=42)]
    warmup = [json.dumps(p).encode() for p in data.complaint_payloads(WARMUP, seed=7, start=9_000_000)]
    endpoints = (INTAKE, FLOOR, API_FLOOR)

    def load(endpoint: Endpoint, items: list[bytes]) -> tuple[LoadResult, CpuUsage]:
        meter = ctx.cpu_meter()
        result = run_concurrent(
            items,
            lambda client, body: client.post_json(endpoint.path, body),
            base_url=server.url,
            token=token if endpoint.auth else None,
            concurrency=CONCURRENCY,
            expect=201,
        )
        cpu = meter.stop()
        if not result.ok:
            ctx.log(f"{endpoint.label}: {result.failure_summary()}")
        return result, cpu

    tables = {e.table for e in endpoints}
    before = {table: _rows(table) for table in tables}
    ctx.log(f"warming up with {WARMUP} requests per endpoint")
    for endpoint in endpoints:
        result, _ = load(endpoint, warmup)
        if not result.ok:
            ctx.fail(f"{endpoint.label} warm-up: {len(result.failures)} of {len(warmup)} requests were not 201")

    runs: dict[Endpoint, tuple[LoadResult, CpuUsage]] = {}
    for endpoint in endpoints:
        ctx.log(f"POST {count:,} bodies to {endpoint.path}, {CONCURRENCY} concurrent clients")
        result, cpu = runs[endpoint] = load(endpoint, payloads)
        ctx.log(f"  {result.timing.rate:,.1f} requests/s  {result.timing.describe()}")
        ctx.log(f"  {_cpu_line(cpu, count)}")

    (complaints, complaints_cpu), (floor, floor_cpu), (api_floor, api_floor_cpu) = (runs[e] for e in endpoints)
    ctx.record("complaints/s", complaints.timing.rate, "/s")
    ctx.record("floor requests/s", floor.timing.rate, "/s")
    ctx.record("intake / floor", 100 * complaints.timing.rate / floor.timing.rate, "%")
    ctx.record_timing("intake latency", complaints.timing, p99=True)
    ctx.record_timing("floor latency", floor.timing, p99=True)
    # The same ratio from CPU per request (gunicorn + PostgreSQL + load generator): what the rates
    # would give on a machine that nobody else uses, as both runs are CPU-bound.
    cost = {e: cpu.per(count) for e, (_, cpu) in runs.items()}
    total = {e: c.server + c.database + c.client for e, c in cost.items()}
    ctx.record("intake / floor by CPU cost", 100 * total[FLOOR] / total[INTAKE], "%")
    # The API floor splits the gap: framework and auth (floor → API floor), domain work (API floor → intake).
    ctx.record("API floor requests/s", api_floor.timing.rate, "/s")
    ctx.check("intake / API floor", 100 * complaints.timing.rate / api_floor.timing.rate, "%", at_least=TARGET_RATIO)
    # CPU per request in gunicorn and in PostgreSQL: what a request costs, whatever share of the
    # same two cores the load generator takes.
    for label, cpu in (
        ("complaint", complaints_cpu),
        ("floor request", floor_cpu),
        ("API floor request", api_floor_cpu),
    ):
        each = cpu.per(count)
        ctx.record(f"gunicorn CPU per {label}", 1000 * each.server, "ms")
        ctx.record(f"PostgreSQL CPU per {label}", 1000 * each.database, "ms")
    ctx.record("load generator CPU per request", 1000 * floor_cpu.client / count, "ms")
    for label, cpu in (("intake", complaints_cpu), ("floor", floor_cpu)):
        ctx.record(f"machine CPU busy, {label} run", 100 * cpu.machine_busy, "%")
        ctx.note_others(f"{label} run", cpu)
    failed = sum(len(result.failures) for result, _ in runs.values())
    ctx.record("failed requests", failed, "count")

    expected = {table: sum(WARMUP + count for e in endpoints if e.table == table) for table in tables}
    added = {table: _rows(table) - before[table] for table in tables}
    if failed:
        ctx.fail(f"{failed} requests did not answer 201 (see above)")
    if added != expected:
        ctx.fail(f"expected {expected} new rows, got {added}: answers said 201 but rows are missing or doubled")
