"""Two million complaints, loaded once and kept as a template database that later runs clone in seconds.

`build()` fills the (freshly migrated) bench database set-based: 500,000 customers, 2,000,000 complaints over
two years with their 'logged' events (bench.seed), notes on about one complaint in seven, escalations of the
ugly ones, offers and approval requests, outcomes with their 30/60/90-day windows for the last year's resolved
complaints, and customer activity. Secondary indexes are dropped first and rebuilt at the end (far faster than
maintaining them row by row), then everything is VACUUM ANALYZEd. About 10–20 minutes on a small busy machine.

The template's name is BENCH_SCALE_TEMPLATE (default: the bench database's name + "_2m"); a table in it,
bench_scale_meta, records SEED_VERSION, so a change to this loader rebuilds the template on the next run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

import psycopg
from django.db import connection, connections
from psycopg import sql

from bench import seed

SEED_VERSION = "2026-11-30.2"  # .1 (measured on 30 Nov) had negative hash buckets: ~57 % notes, ~55 % offers
COMPLAINTS = 2_000_000
CUSTOMERS = 500_000
AGENTS = 40
NOTE_SHARE = 0.15
ACTIVITIES = 1_500_000

# Tables whose secondary indexes are dropped during the load and rebuilt after it.
BIG_TABLES = (
    "tickets_customer",
    "tickets_complaint",
    "tickets_timelineevent",
    "tickets_comment",
    "recovery_escalation",
    "recovery_offer",
    "recovery_approvalrequest",
    "recovery_recoveryoutcome",
    "recovery_outcomewindow",
    "recovery_customeractivity",
)

NOTE_OPENINGS = [
    "Called the customer about order",
    "Left a voicemail regarding order",
    "Customer emailed photos of order",
    "Courier confirmed the delay on order",
    "Store manager reviewed the receipt for order",
    "Refund requested for order",
]
NOTE_ENDINGS = [
    "They sounded calm once we explained the next steps.",
    "Promised a call back tomorrow morning.",
    "Asked for the replacement to be sent to a different address.",
    "Mentioned they will post a review if nothing changes.",
    "Happy with the apology, still wants the fee waived.",
    "Wants to speak to a manager before accepting anything.",
]


def template_name(database_name: str) -> str:
    import os

    return os.environ.get("BENCH_SCALE_TEMPLATE") or f"{database_name}_2m"


def _maintenance_url(database_url: str) -> str:
    return urlunsplit(urlsplit(database_url)._replace(path="/postgres"))


def template_version(database_url: str, template: str) -> str | None:
    """The SEED_VERSION the template was built with, or None when it is missing or unfinished."""
    target = urlunsplit(urlsplit(database_url)._replace(path=f"/{template}"))
    try:
        with psycopg.connect(target, connect_timeout=5) as conn:
            row = conn.execute("SELECT version FROM bench_scale_meta WHERE complete").fetchone()
    except psycopg.Error:
        return None
    return row[0] if row else None


def clone(database_url: str, *, source: str, target: str) -> None:
    """DROP target and CREATE it as a copy of source (a file copy: seconds per gigabyte). No session may be open
    on either, so Django's connections in this process are closed first."""
    connections.close_all()
    with psycopg.connect(_maintenance_url(database_url), autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [source],
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(target)))
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(target), sql.Identifier(source)))


def _run(statement: str, params: dict | list | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def _drop_secondary_indexes() -> list[str]:
    """Drop every index of BIG_TABLES that backs no constraint; returns their definitions to rebuild."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
            WHERE t.relname = ANY(%s)
              AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            """,
            [list(BIG_TABLES)],
        )
        rows = cursor.fetchall()
        for name, _ in rows:
            cursor.execute(f"DROP INDEX {name}")
    return [definition for _, definition in rows]


def _notes() -> int:
    """A note on about one complaint in seven, naming an order number (what an agent later searches for).
    Inserted with triggers off; the complaints' search documents get the notes' words afterwards, in one pass."""
    from tickets.models import Comment

    exprs = {
        "complaint_id": "c.id",
        "kind": "'note'",
        "body": "(%(openings)s::text[])[1 + (c.id %% %(n_openings)s)::int] || ' ' || (4000000 + c.id) || '. ' "
        "|| (%(endings)s::text[])[1 + ((c.id / 7) %% %(n_endings)s)::int]",
        "author_id": "c.assignee_id",
        "author_label": "'Agent'",
        "created_at": "c.created_at + interval '2 hours'",
        "delivery_channel": "''",
        "delivery_state": "''",
        "delivery_error": "''",
        "delivered_at": "NULL",
    }
    source = "FROM tickets_complaint c WHERE abs(hashint4(c.id::int)) %% 1000 < %(share)s ORDER BY c.id"
    params = {
        "openings": NOTE_OPENINGS,
        "n_openings": len(NOTE_OPENINGS),
        "endings": NOTE_ENDINGS,
        "n_endings": len(NOTE_ENDINGS),
        "share": int(NOTE_SHARE * 1000),
    }
    _run("SET session_replication_role = replica")
    try:
        inserted = seed.insert_select(Comment, exprs, source, params)
    finally:
        _run("SET session_replication_role = DEFAULT")
    _run(
        """
        UPDATE tickets_complaint c
           SET search_document = c.search_document || setweight(to_tsvector('english', n.body), 'D')
          FROM tickets_comment n WHERE n.complaint_id = c.id
        """
    )
    return inserted


def _comment_events() -> int:
    from tickets.models import TimelineEvent

    exprs = {
        "complaint_id": "n.complaint_id",
        "kind": "'commented'",
        "actor_type": "'user'",
        "actor_user_id": "n.author_id",
        "actor_key_id": "NULL",
        "actor_label": "'Agent'",
        "message": "'Internal note added'",
        "data": "jsonb_build_object('comment_id', n.id)",
        "created_at": "n.created_at",
    }
    return seed.insert_select(TimelineEvent, exprs, "FROM tickets_comment n ORDER BY n.id", {})


def _escalations() -> int:
    """One escalation per complaint above frontline: open while the complaint is open, else acknowledged."""
    from recovery.models import Escalation

    exprs = {
        "complaint_id": "c.id",
        "tier": "c.tier",
        "from_tier": "'frontline'",
        "reason": "'Ugly experience: escalated by rule'",
        "rule_id": "NULL",
        "status": "CASE WHEN c.status IN ('new', 'in_progress', 'waiting_on_customer') THEN 'open' "
        "ELSE 'acknowledged' END",
        "ack_due_at": "c.created_at + interval '4 hours'",
        "acknowledged_at": "CASE WHEN c.status IN ('resolved', 'closed') THEN c.created_at + interval '3 hours' END",
        "acknowledged_by_id": "NULL",
        "note": "''",
        "created_at": "c.created_at + interval '1 minute'",
    }
    inserted = seed.insert_select(
        Escalation, exprs, "FROM tickets_complaint c WHERE c.tier <> 'frontline' ORDER BY c.id", {}
    )
    from tickets.models import TimelineEvent

    event = {
        "complaint_id": "e.complaint_id",
        "kind": "'escalated'",
        "actor_type": "'system'",
        "actor_user_id": "NULL",
        "actor_key_id": "NULL",
        "actor_label": "'System'",
        "message": "'Escalated to ' || e.tier",
        "data": "jsonb_build_object('escalation_id', e.id, 'tier', e.tier)",
        "created_at": "e.created_at",
    }
    seed.insert_select(TimelineEvent, event, "FROM recovery_escalation e ORDER BY e.id", {})
    return inserted


def _offers_and_approvals() -> tuple[int, int]:
    """An offer on about one complaint in ten (more for bad and ugly ones); those over 100 needed approval."""
    from recovery.models import ApprovalRequest, Offer

    exprs = {
        "complaint_id": "c.id",
        "gesture_id": "gestures[1 + (c.id %% array_length(gestures, 1))::int]",
        "cost": "cost",
        "currency": "'GBP'",
        "proposed_by_id": "c.assignee_id",
        "suggested": "true",
        "suggestion_rank": "1 + (c.id %% 3)::int",
        "suggestion_score": "0.5",
        "suggestion_reasons": "'[]'::jsonb",
        "note": "''",
        "status": "CASE WHEN c.status IN ('new', 'in_progress', 'waiting_on_customer') "
        "THEN CASE WHEN cost > 100 THEN 'pending_approval' ELSE 'approved' END "
        "WHEN r < 0.8 THEN 'fulfilled' WHEN r < 0.9 THEN 'declined' ELSE 'rejected' END",
        "offered_cost": "cost",
        "approved_tier": "CASE WHEN cost > 100 THEN 'manager' ELSE 'frontline' END",
        "created_at": "c.created_at + interval '3 hours'",
        "updated_at": "c.created_at + interval '3 hours'",
        "fulfilled_at": "CASE WHEN c.status IN ('resolved', 'closed') AND r < 0.8 THEN c.resolved_at END",
    }
    source = """
    FROM (SELECT c.*, random() AS r, round((5 + power(random(), 3) * 900)::numeric, 2) AS cost
          FROM tickets_complaint c
          WHERE abs(hashint4(c.id::int + 7)) %% 100 < CASE c.grade WHEN 'ugly' THEN 60 WHEN 'bad' THEN 20 ELSE 5 END) c,
         (SELECT array_agg(id ORDER BY id) AS gestures FROM recovery_gesture) g
    ORDER BY c.id
    """
    offers = seed.insert_select(Offer, exprs, source, {})
    approval = {
        "offer_id": "o.id",
        "required_tier": "CASE WHEN o.cost > 500 THEN 'executive' ELSE 'manager' END",
        "status": "CASE o.status WHEN 'pending_approval' THEN 'pending' WHEN 'rejected' THEN 'rejected' "
        "ELSE 'approved' END",
        "requested_by_id": "o.proposed_by_id",
        "decided_by_id": "NULL",
        "decided_at": "CASE WHEN o.status <> 'pending_approval' THEN o.created_at + interval '5 hours' END",
        "approved_amount": "CASE WHEN o.status NOT IN ('pending_approval', 'rejected') THEN o.cost END",
        "note": "''",
        "due_at": "o.created_at + interval '24 hours'",
        "reminded_at": "NULL",
        "created_at": "o.created_at",
    }
    approvals = seed.insert_select(
        ApprovalRequest, approval, "FROM recovery_offer o WHERE o.cost > 100 ORDER BY o.id", {}
    )
    return offers, approvals


def _outcomes() -> tuple[int, int]:
    """Outcomes of the complaints resolved in the last year, anchored at resolution, with 30/60/90-day windows:
    settled (about 40 % returned) once elapsed, pending until then."""
    from recovery.models import OutcomeWindow, RecoveryOutcome

    exprs = {
        "complaint_id": "c.id",
        "customer_id": "c.customer_id",
        "offered": "o.id IS NOT NULL",
        "declined": "coalesce(o.status = 'declined', false)",
        "offered_gesture_id": "o.gesture_id",
        "fulfilled_at": "o.fulfilled_at",
        "recovered": "coalesce(o.status = 'fulfilled', false)",
        "offer_id": "o.id",
        "gesture_id": "CASE WHEN o.status = 'fulfilled' THEN o.gesture_id END",
        "cause": "c.cause",
        "grade": "c.grade",
        "tier": "c.tier",
        "gesture_cost": "CASE WHEN o.status = 'fulfilled' THEN o.cost ELSE 0 END",
        "anchor_at": "c.resolved_at",
        "hours_to_resolve": "extract(epoch FROM c.resolved_at - c.created_at) / 3600",
        "created_at": "c.resolved_at",
    }
    source = """
    FROM tickets_complaint c
    LEFT JOIN (SELECT DISTINCT ON (complaint_id) * FROM recovery_offer ORDER BY complaint_id, id) o
           ON o.complaint_id = c.id
    WHERE c.resolved_at IS NOT NULL AND c.resolved_at > now() - interval '365 days'
    ORDER BY c.id
    """
    outcomes = seed.insert_select(RecoveryOutcome, exprs, source, {})
    window = {
        "outcome_id": "o.id",
        "days": "d.days",
        "ends_at": "o.anchor_at + d.days * interval '1 day'",
        "state": "CASE WHEN o.anchor_at + d.days * interval '1 day' > now() THEN 'pending' "
        "WHEN abs(hashint4(o.id::int)) %% 100 < CASE WHEN o.recovered THEN 45 ELSE 35 END + d.days / 10 THEN 'returned' "
        "ELSE 'not_returned' END",
        "returned_at": "CASE WHEN o.anchor_at + d.days * interval '1 day' <= now() "
        "AND abs(hashint4(o.id::int)) %% 100 < CASE WHEN o.recovered THEN 45 ELSE 35 END + d.days / 10 "
        "THEN o.anchor_at + interval '1 day' * (abs(hashint4(o.id::int + 1)) %% 29 + 1) END",
        "revenue": "0",
        "settled_at": "CASE WHEN o.anchor_at + d.days * interval '1 day' <= now() "
        "THEN o.anchor_at + d.days * interval '1 day' END",
    }
    windows = seed.insert_select(
        OutcomeWindow,
        window,
        "FROM recovery_recoveryoutcome o CROSS JOIN (VALUES (30), (60), (90)) AS d(days) ORDER BY o.id, d.days",
        {},
    )
    return outcomes, windows


def _activity(total: int) -> int:
    from recovery.models import CustomerActivity

    exprs = {
        "customer_id": "1 + floor(r_cust * %(customers)s)::int",
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
    FROM (SELECT g, random() AS r_cust, random() AS r_kind, random() AS r_time
          FROM generate_series(1, %(n)s) AS g) s
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM tickets_customer")
        low, high = cursor.fetchone()
    exprs["customer_id"] = f"{low} + floor(r_cust * {high - low + 1})::int"
    return seed.insert_select(CustomerActivity, exprs, source, {"n": total})


def build(log: Callable[[str], None], *, complaints: int = COMPLAINTS, customers: int = CUSTOMERS) -> None:
    """Fill the current (freshly migrated, empty) database with the 2M data set and mark it complete."""
    _run("CREATE TABLE IF NOT EXISTS bench_scale_meta (version text, complete boolean, built_at timestamptz)")
    _run("SET maintenance_work_mem = '512MB'")
    _run("SET synchronous_commit = off")
    indexes = _drop_secondary_indexes()
    log(f"dropped {len(indexes)} secondary indexes for the load")

    def step(label: str, fn: Callable[[], object]) -> None:
        started = time.perf_counter()
        result = fn()
        log(f"  {label}: {result} in {time.perf_counter() - started:.0f}s")

    step("customers", lambda: seed.customers(customers))
    step(
        "complaints + logged events",
        lambda: seed.complaints(complaints, customers_total=customers, timeline=True, assignees=AGENTS),
    )
    step("notes", _notes)
    step("note events", _comment_events)
    step("escalations", _escalations)
    step("offers, approvals", _offers_and_approvals)
    step("outcomes, windows", _outcomes)
    step("customer activity", lambda: _activity(ACTIVITIES))
    started = time.perf_counter()
    for definition in indexes:
        _run(definition)
    log(f"  rebuilt {len(indexes)} indexes in {time.perf_counter() - started:.0f}s")
    started = time.perf_counter()
    for table in BIG_TABLES:
        _run(f"VACUUM ANALYZE {table}")
    log(f"  VACUUM ANALYZE in {time.perf_counter() - started:.0f}s")
    _run("INSERT INTO bench_scale_meta VALUES (%s, true, now())", [SEED_VERSION])
