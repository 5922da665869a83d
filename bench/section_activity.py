"""Activity intake with the outcome rollup kept: POST /api/v1/activity/ by 1 and by 8 clients, with and without it.

Every activity moves its customer's never-complained anchor, so each intake also keeps the dashboard's rollup
(recovery/outcomes/services/rollup.py: the mark's row lock, the customer's share before and after). This section
prices that: 20,000 outcomes of 5,000 customers, windows still open, the rollup built; then 1,000 purchases by
customers with outcomes (eight sources, so the per-source lock of activity intake rarely makes them wait on
each other), first with the rollup, then with its mark removed (no rollup: the writes keep nothing). Records the
rates and the CPU per activity; no target (issue 15's review asked for the measurement).
"""

from __future__ import annotations

import json
import random
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from bench.core import Context, section
from bench.load import run_concurrent
from bench.section_outcomes import seed_outcomes, seed_windows

OUTCOMES = 20_000
CUSTOMERS = 5_000
COUNT = 1_000


def _seed(ctx: Context, outcomes: int, customers: int) -> list[str]:
    """Outcomes anchored in the last 20 days (their 30/60/90-day windows all open) and the emails of their
    customers."""
    ctx.seed_complaints(outcomes, customers_total=customers, timeline=False)
    seed_outcomes(outcomes, anchor_at="now() - interval '20 days' * r2")
    seed_windows()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("SELECT DISTINCT cu.email FROM tickets_customer cu JOIN recovery_recoveryoutcome o "
                       "ON o.customer_id = cu.id ORDER BY 1")
        return [row[0] for row in cursor.fetchall()]


def _bodies(emails: list[str], count: int, tag: str) -> list[bytes]:
    rng = random.Random(tag)
    now = timezone.now()
    return [
        json.dumps({
            "source": f"shop{i % 8}", "external_id": f"{tag}-{i}", "kind": "purchase",
            "occurred_at": (now - timedelta(minutes=rng.randint(1, 600))).isoformat(),
            "amount": "12.50", "customer": {"email": rng.choice(emails)},
        }).encode()
        for i in range(count)
    ]


@section("activity", order=65, help="POST /api/v1/activity/ by 1 and 8 clients, with and without the outcome rollup")
def activity(ctx: Context) -> None:
    from recovery.models import OutcomeRollupMark
    from recovery.outcomes.services.rollup import outcome_rollup_rebuild
    from tickets.apikeys import api_key_create
    from tickets.models import ApiKey

    emails = _seed(ctx, ctx.scaled(OUTCOMES), ctx.scaled(CUSTOMERS))
    outcome_rollup_rebuild()
    token = api_key_create(name="bench activity", scopes=[ApiKey.Scope.ACTIVITY_WRITE]).secret
    server = ctx.server()
    count = ctx.scaled(COUNT)

    def load(label: str, clients: int, tag: str) -> None:
        meter = ctx.cpu_meter()
        result = run_concurrent(
            _bodies(emails, count, tag), lambda client, body: client.post_json("/api/v1/activity/", body),
            base_url=server.url, token=token, concurrency=clients, expect=201,
        )
        cpu = meter.stop()
        if not result.ok:
            ctx.fail(f"{label}: {result.failure_summary()}")
        each = cpu.per(count)
        ctx.log(f"{label}: {result.timing.rate:,.0f}/s {result.timing.describe()}")
        ctx.record(f"{label}: activities/s", result.timing.rate, "/s")
        ctx.record(f"{label}: gunicorn + PostgreSQL CPU per activity", 1000 * (each.server + each.database), "ms")
        ctx.note_others(label, cpu)

    load("warm-up", 8, "warm")
    load("rollup kept, 1 client", 1, "kept-1")
    load("rollup kept, 8 clients", 8, "kept-8")
    OutcomeRollupMark.objects.all().delete()  # no rollup: activity keeps nothing
    load("no rollup, 1 client", 1, "none-1")
    load("no rollup, 8 clients", 8, "none-8")
