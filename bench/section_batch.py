"""Batch intake: `POST /api/v1/complaints/batch/` with 1,000 complaints a request, through gunicorn (issue 15).

20 batches of 1,000 realistic complaints (bench.data, as in the intake section: about a third from returning
customers, the rest new; every one with its own source and external_id) are posted by 2 concurrent clients (one per
gunicorn worker) after one untimed warm-up batch. Every answer must be 200 with 1,000 created, and the database must
hold exactly 20,000 more complaints afterwards. Then the first batch is sent again and must create nothing.
Prints complaints/s — **target ≥ 2,000 complaints/s** — seconds per batch, and CPU per complaint in gunicorn and
in PostgreSQL.
"""

from __future__ import annotations

import json

from bench import data
from bench.core import Context, section
from bench.load import run_concurrent
from bench.section_intake import _cpu_line, _rows

BATCHES = 20
SIZE = 1_000
CONCURRENCY = 2
TARGET = 2_000.0  # complaints/s
URL = "/api/v1/complaints/batch/"


def _batch(n: int) -> bytes:
    items = data.complaint_payloads(SIZE, seed=4242, start=20_000_000 + n * SIZE)
    for i, item in enumerate(items):
        # The batch requires an external_id on each complaint (its idempotency key).
        item.setdefault("source", "shop")
        item.setdefault("external_id", f"B-{n}-{i}")
    return json.dumps({"complaints": items}).encode()


@section("batch", order=15, help="POST /api/v1/complaints/batch/, 1,000 complaints a request, 2 clients")
def batch(ctx: Context) -> None:
    batches = max(2, ctx.scaled(BATCHES))
    server = ctx.server()
    bodies = [_batch(n) for n in range(batches + 1)]  # the last one is the warm-up
    ctx.log(f"{batches} batches of {SIZE:,} complaints, {sum(map(len, bodies[:-1])) / batches / 1e6:.2f} MB each")

    answers: dict[int, dict] = {}

    def send(client, body: bytes):
        answer = client.post_json(URL, body)
        if answer.status == 200:
            answers[id(body)] = answer.json()
        return answer

    warm = run_concurrent(bodies[-1:], send, base_url=server.url, token=ctx.api_key, concurrency=1, expect=200)
    if not warm.ok:
        ctx.fail(f"warm-up batch: {warm.failure_summary()}")
    before = _rows("tickets_complaint")
    meter = ctx.cpu_meter()
    result = run_concurrent(bodies[:-1], send, base_url=server.url, token=ctx.api_key, concurrency=CONCURRENCY, expect=200)
    cpu = meter.stop()
    count = batches * SIZE
    rate = count / result.timing.wall if result.timing.wall else 0.0
    ctx.log(f"  {rate:,.0f} complaints/s  {result.timing.describe()}")
    ctx.log(f"  {_cpu_line(cpu, count)} (per complaint)")
    ctx.check("complaints/s", rate, "/s", at_least=TARGET)
    ctx.record_timing("seconds per batch of 1,000", result.timing)
    each = cpu.per(count)
    ctx.record("gunicorn CPU per complaint", 1000 * each.server, "ms")
    ctx.record("PostgreSQL CPU per complaint", 1000 * each.database, "ms")
    # What the rate would be with one core of its own for the server and the database together (each batch is
    # CPU-bound; on a busy machine the wall-clock rate falls with the share of CPU it gets).
    per = each.server + each.database
    ctx.record("complaints/s on one core, by CPU cost", 1 / per if per else 0.0, "/s")
    ctx.record("machine CPU busy, batch run", 100 * cpu.machine_busy, "%")
    ctx.note_others("batch run", cpu)
    if not result.ok:
        ctx.fail(f"batches: {result.failure_summary()}")
    created = [answers[id(body)]["created"] for body in bodies[:-1] if id(body) in answers]
    if created != [SIZE] * batches:
        ctx.fail(f"each batch must create {SIZE:,}; the answers said {created}")
    added = _rows("tickets_complaint") - before
    if added != count:
        ctx.fail(f"expected {count:,} new complaints, the database has {added:,}")

    replay = ctx.client().post_json(URL, bodies[0])
    again = replay.json() if replay.status == 200 else {}
    ctx.record("replayed batch: complaints created", again.get("created", -1), "count")
    if replay.status != 200 or again.get("created") != 0 or again.get("existing") != SIZE:
        ctx.fail(f"a replayed batch must create nothing: {replay.status} {str(again)[:200]}")
