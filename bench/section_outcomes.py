"""Outcome settling: one sweep over 1,000,000 open outcomes (3,000,000 elapsed windows) on PostgreSQL.

The worst case: the sweep has not run for a long time (or history was backfilled), so every window
of every outcome is pending and due, and about a third of them hold a return that the sweep must
find (a NOT EXISTS / EXISTS probe per window) instead of being told by intake.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.db import connection

from bench import seed
from bench.core import Context, section

OUTCOMES = 1_000_000
CUSTOMERS = 50_000
ACTIVITIES = 600_000  # about one qualifying visit per customer every two months
TARGET_SECONDS = 30.0  # issue 6


def _scalar(sql: str, params: dict | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or {})
        return cursor.fetchone()[0]


# Anchored 100–700 days ago: every window has elapsed (r2 is a random number per outcome).
LONG_AGO = "now() - interval '100 days' - interval '600 days' * r2"


def seed_outcomes(total: int, *, anchor_at: str = LONG_AGO) -> int:
    """One unrecovered-or-recovered outcome per complaint (lowest ids first), anchored at `anchor_at` (SQL)."""
    from recovery.models import RecoveryOutcome

    missing = total - _scalar("SELECT count(*) FROM recovery_recoveryoutcome")
    if missing <= 0:
        return 0
    exprs = {
        "complaint_id": "c.id",
        "customer_id": "c.customer_id",
        "recovered": "r < 0.6",
        "offered": "r < 0.6",
        "declined": "false",
        "offer_id": "NULL",
        "gesture_id": "NULL",
        "cause": "c.cause",
        "grade": "c.grade",
        "tier": "c.tier",
        "gesture_cost": "CASE WHEN r < 0.6 THEN round((5 + r * 200)::numeric, 2) ELSE 0 END",
        "anchor_at": anchor_at,
        "hours_to_resolve": "1 + r * 150",
        "created_at": "now()",
    }
    source = """
    FROM (SELECT c.*, random() AS r, random() AS r2 FROM tickets_complaint c
          WHERE NOT EXISTS (SELECT 1 FROM recovery_recoveryoutcome o WHERE o.complaint_id = c.id)
          ORDER BY c.id LIMIT %(n)s) c
    """
    return seed._insert_select(RecoveryOutcome, exprs, source, {"n": missing})


def seed_windows() -> int:
    from recovery.models import OutcomeWindow

    exprs = {
        "outcome_id": "o.id",
        "days": "d.days",
        "ends_at": "o.anchor_at + d.days * interval '1 day'",
        "state": "'pending'",
        "returned_at": "NULL",
        "revenue": "0",
        "settled_at": "NULL",
    }
    source = """
    FROM recovery_recoveryoutcome o CROSS JOIN (VALUES (30), (60), (90)) AS d(days)
    WHERE NOT EXISTS (SELECT 1 FROM recovery_outcomewindow w WHERE w.outcome_id = o.id)
    ORDER BY o.id, d.days
    """
    return seed._insert_select(OutcomeWindow, exprs, source, {})


def _seed_activity(total: int) -> int:
    from recovery.models import CustomerActivity

    missing = total - _scalar("SELECT count(*) FROM recovery_customeractivity")
    if missing <= 0:
        return 0
    exprs = {
        "customer_id": "cust[1 + floor(r_cust * array_length(cust, 1))::int]",
        "kind": "CASE WHEN r_kind < 0.1 THEN 'gesture_redemption' WHEN r_kind < 0.7 THEN 'purchase' "
        "WHEN r_kind < 0.9 THEN 'visit' ELSE 'renewal' END",
        "occurred_at": "now() - interval '800 days' * r_time",
        "amount": "round((r_kind * 120)::numeric, 2)",
        "currency": "'GBP'",
        "source": "'bench'",
        "external_id": "'A-' || g",
        "created_at": "now()",
    }
    source = """
    FROM (SELECT g, random() AS r_cust, random() AS r_kind, random() AS r_time FROM generate_series(
              (SELECT count(*) FROM recovery_customeractivity) + 1,
              (SELECT count(*) FROM recovery_customeractivity) + %(n)s) AS g) s,
         (SELECT array_agg(id ORDER BY id) AS cust FROM tickets_customer) c
    """
    return seed._insert_select(CustomerActivity, exprs, source, {"n": missing})


def _backend_cpu() -> float | None:
    """CPU seconds used so far by this connection's PostgreSQL backend, when it runs on this machine.

    On a shared machine the wall time includes waiting for a CPU; the backend's own CPU time does not.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _explain() -> None:
    """Print the sweep's plan with EXPLAIN ANALYZE, in a transaction that is rolled back (--explain)."""
    from django.db import transaction
    from django.utils import timezone

    from recovery.outcomes import services

    params = {
        "now": timezone.now(), "pending": "pending", "returned": "returned", "not_returned": "not_returned",
        "redemption": "gesture_redemption", "currency": "GBP", "outcome_id": None,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, WAL) " + services.settle_sql(vendor="postgresql", outcome_id=None), params)
        print("\n".join(row[0] for row in cursor.fetchall()), flush=True)
        transaction.set_rollback(True)


def _verify() -> str | None:
    """Every window decided, and decided right: a return inside it if and only if it says returned."""
    pending = _scalar("SELECT count(*) FROM recovery_outcomewindow WHERE state = 'pending' AND ends_at <= now()")
    if pending:
        return f"{pending} due windows are still pending after the sweep"
    wrong = _scalar(
        """
        SELECT count(*) FROM recovery_outcomewindow w JOIN recovery_recoveryoutcome o ON o.id = w.outcome_id
        WHERE (w.state = 'returned') <> EXISTS (
            SELECT 1 FROM recovery_customeractivity a
            WHERE a.customer_id = o.customer_id AND a.kind <> 'gesture_redemption'
              AND a.occurred_at >= o.anchor_at AND a.occurred_at < w.ends_at)
        """
    )
    if wrong:
        return f"{wrong} windows were settled to the wrong state"
    return None


@section("outcomes", order=60, help="Settle 1,000,000 open outcomes (3,000,000 due windows) in one sweep")
def outcomes(ctx: Context) -> None:
    from recovery.outcomes.services import outcome_windows_settle

    n = ctx.scaled(OUTCOMES)
    started = time.monotonic()
    ctx.seed_complaints(n, customers_total=ctx.scaled(CUSTOMERS), timeline=False)
    seed_outcomes(n)
    windows = seed_windows()
    _seed_activity(ctx.scaled(ACTIVITIES))
    with connection.cursor() as cursor:
        for table in ("recovery_recoveryoutcome", "recovery_outcomewindow", "recovery_customeractivity"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        # Write the seeding out now, so the sweep is not charged for flushing it.
        cursor.execute("CHECKPOINT")
    due = _scalar("SELECT count(*) FROM recovery_outcomewindow WHERE state = 'pending' AND ends_at <= now()")
    ctx.log(f"seeded {n:,} outcomes, {windows:,} windows ({due:,} due) in {time.monotonic() - started:.0f}s")

    if ctx.explain:
        _explain()
    load = os.getloadavg()[0]
    cpu_before = _backend_cpu()
    started = time.monotonic()
    result = outcome_windows_settle()
    elapsed = time.monotonic() - started
    cpu = _backend_cpu() - cpu_before if cpu_before is not None else None
    ctx.log(
        f"settled {result.returned:,} returned and {result.not_returned:,} not returned in {elapsed:.1f}s"
        + (f" (PostgreSQL backend CPU {cpu:.1f}s; load average {load:.1f} on {os.cpu_count()} CPUs)" if cpu else "")
    )
    if result.changed != due:
        ctx.fail(f"the sweep settled {result.changed:,} windows, expected {due:,}")
    problem = _verify()
    if problem:
        ctx.fail(problem)
    ctx.record("windows settled", result.changed, "")
    ctx.record("returned share", 100 * result.returned / max(result.changed, 1), "%")
    if cpu is not None:
        ctx.record("sweep: PostgreSQL backend CPU", cpu, "s")
    ctx.check(f"settle {n:,} outcomes", elapsed, "s", at_most=TARGET_SECONDS)

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE recovery_outcomewindow")  # what autovacuum does after 3,000,000 changes
    started = time.monotonic()
    again = outcome_windows_settle()
    second = time.monotonic() - started
    if again.changed:
        ctx.fail(f"a second sweep changed {again.changed} windows; it must change none")
    ctx.check("second sweep (nothing due)", second, "s", at_most=1.0)

