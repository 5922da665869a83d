"""Closing and settling watch windows: returned as soon as a qualifying activity falls in one, not returned
only once it elapsed with none; late activity corrects a window settled too early. Set-based SQL."""


from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import DecimalField, Exists, F, Min, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from notifications.queue import enqueue_on_commit
from recovery.models import CustomerActivity, Offer, OutcomeWindow, RecoveryOutcome
from recovery.outcomes.config import window_days
from recovery.outcomes.services.common import MAX_BATCH, Kind, State
from recovery.outcomes.services.rollup import WINDOWS_ONLY, rollup_kept, settling_customers
from recovery.webhook_payloads import windows_settled_publish
from tickets.models import Complaint, Customer, Status

logger = logging.getLogger(__name__)


def customers_lock(customer_ids: Iterable[int]) -> None:
    """Row locks on the customers, in id order, until commit.

    Opening an outcome and closing windows for new activity both take them, so one always sees
    the other's rows: without it, an outcome opened while its customer's activity is being
    committed could miss that activity until the window's end.
    """
    list(Customer.objects.select_for_update().filter(pk__in=sorted(set(customer_ids))).order_by("pk").values_list("pk"))


def _window_activities() -> QuerySet[CustomerActivity]:
    """Qualifying activity inside the outer window: [anchor, ends_at), anything but a redemption."""
    return CustomerActivity.objects.filter(
        customer__outcomes__id=OuterRef("outcome_id"),
        occurred_at__gte=F("customer__outcomes__anchor_at"),
        occurred_at__lt=OuterRef("ends_at"),
    ).exclude(kind=Kind.GESTURE_REDEMPTION)


def _first_return() -> Subquery:
    return Subquery(_window_activities().order_by().values("customer_id").annotate(first=Min("occurred_at")).values("first")[:1])


def _revenue() -> Coalesce:
    # Only the site's currency is summed: there is no exchange rate to add up the others.
    total = (
        _window_activities()
        .filter(currency=settings.DEFAULT_CURRENCY)
        .order_by()
        .values("customer_id")
        .annotate(total=Sum("amount"))
        .values("total")[:1]
    )
    return Coalesce(Subquery(total), Value(Decimal("0.00")), output_field=DecimalField(max_digits=12, decimal_places=2))


def windows_close_returned(windows: QuerySet[OutcomeWindow], now: datetime) -> int:
    """Decide as returned the windows that contain qualifying activity; refresh first return and revenue.

    Not-returned windows are included on purpose: activity reported after the sweep settled a window
    corrects it. Two statements; returns how many windows changed state.
    """
    changed = (
        windows.filter(state__in=[State.PENDING, State.NOT_RETURNED])
        .filter(Exists(_window_activities()))
        .update(state=State.RETURNED, settled_at=now)
    )
    windows.filter(state=State.RETURNED).update(returned_at=_first_return(), revenue=_revenue())
    return changed


# Settling is one statement. Per due outcome it reads the customer's qualifying activity from the
# anchor on, and each window is returned exactly when the first of those falls before its end — the
# same test as EXISTS(activity in [anchor, ends_at)), made once per outcome instead of once per window. Deciding and writing in one statement is what
# makes it safe beside intake: a window is settled not returned only if, in the statement's snapshot,
# no qualifying activity lies inside it; activity committed after that is applied by windows_close_returned.
#
# Generic SQL (SQLite, and PostgreSQL for one outcome): the first return per outcome, then the revenue
# per returned window by a correlated sum.
_SETTLE_DUE_GENERIC = """
due AS MATERIALIZED (
    SELECT o.id AS outcome_id, o.customer_id, o.anchor_at,
           (SELECT MIN(a.occurred_at) FROM {activity} a
             WHERE a.customer_id = o.customer_id AND a.occurred_at >= o.anchor_at AND a.kind <> %(redemption)s
           ) AS first_at
    FROM {outcome} o
    WHERE o.id IN ({due_ids})
)"""
_REVENUE_CORRELATED = """(SELECT SUM(a.amount) FROM {activity} a
          WHERE a.customer_id = due.customer_id AND a.occurred_at >= due.anchor_at
            AND a.occurred_at < {window}.ends_at AND a.kind <> %(redemption)s AND a.currency = %(currency)s)"""
# PostgreSQL for the sweep: one join of the due outcomes with their customers' qualifying activity in
# [anchor, anchor + longest configured window), grouped per outcome, yields the first return and the
# revenue of every configured window length at once. The planner picks a hash join for a big backlog
# (a million outcomes: about a second and a half of CPU) and index lookups for a small one. A window
# longer than that (left from an older setting) falls back to correlated lookups.
_SETTLE_DUE_POSTGRESQL = """
due AS MATERIALIZED (
    SELECT o.id AS outcome_id, o.customer_id, o.anchor_at, MIN(a.occurred_at) AS first_at {revenue_columns}
    FROM {outcome} o
    LEFT JOIN {activity} a
      ON a.customer_id = o.customer_id AND a.kind <> %(redemption)s AND a.occurred_at >= o.anchor_at
     AND a.occurred_at < o.anchor_at + interval '{longest_hours} hours'
    WHERE o.id IN ({due_ids})
    GROUP BY o.id
)"""
_FIRST_CORRELATED = """(SELECT MIN(a.occurred_at) FROM {activity} a
          WHERE a.customer_id = due.customer_id AND a.occurred_at >= due.anchor_at AND a.kind <> %(redemption)s)"""
_DUE_IDS = "SELECT w.outcome_id FROM {window} w WHERE w.state = %(pending)s AND w.ends_at <= %(now)s {only_outcome}"
_SETTLE_UPDATE = """
UPDATE {window}
SET state = CASE WHEN {first} < {window}.ends_at THEN %(returned)s ELSE %(not_returned)s END,
    settled_at = %(now)s,
    returned_at = CASE WHEN {first} < {window}.ends_at THEN {first} END,
    revenue = CASE WHEN {first} < {window}.ends_at THEN COALESCE({revenue}, 0) ELSE 0 END
FROM due
WHERE {window}.outcome_id = due.outcome_id AND {window}.state = %(pending)s AND {window}.ends_at <= %(now)s
RETURNING {window}.state"""


def settle_sql(*, vendor: str, outcome_id: int | None) -> str:
    quote = connection.ops.quote_name
    tables = {
        "activity": quote(CustomerActivity._meta.db_table),
        "outcome": quote(RecoveryOutcome._meta.db_table),
        "window": quote(OutcomeWindow._meta.db_table),
    }
    due_ids = _DUE_IDS.format(
        **tables, only_outcome="AND w.outcome_id = %(outcome_id)s" if outcome_id is not None else ""
    )
    correlated = _REVENUE_CORRELATED.format(**tables)
    if vendor == "postgresql" and outcome_id is None:
        days = [int(d) for d in window_days()]
        columns = "".join(
            f", SUM(a.amount) FILTER (WHERE a.currency = %(currency)s"
            f" AND a.occurred_at < o.anchor_at + interval '{d * 24} hours') AS revenue_{d}"
            for d in days
        )
        due = _SETTLE_DUE_POSTGRESQL.format(
            **tables, due_ids=due_ids, revenue_columns=columns, longest_hours=max(days) * 24
        )
        window = tables["window"]
        first = f"(CASE WHEN {window}.days <= {max(days)} THEN due.first_at ELSE {_FIRST_CORRELATED.format(**tables)} END)"
        cases = " ".join(f"WHEN {d} THEN due.revenue_{d}" for d in days)
        revenue = f"CASE {window}.days {cases} ELSE {correlated} END"
    else:
        due = _SETTLE_DUE_GENERIC.format(**tables, due_ids=due_ids)
        first, revenue = "due.first_at", correlated
    update = _SETTLE_UPDATE.format(**tables, first=first, revenue=revenue)
    if vendor == "postgresql":
        return f"WITH {due}, settled AS ({update}) SELECT state, COUNT(*) FROM settled GROUP BY state"
    return f"WITH {due} {update}"


def settle_due(now: datetime, *, outcome_id: int | None = None, vendor: str | None = None) -> tuple[int, int]:
    """Decide the elapsed pending windows (of one outcome, or all): returned if a return lies inside, else not.

    One statement; returns (returned, not_returned). On PostgreSQL the statement also counts what it
    decided; elsewhere (SQLite has no data-modifying CTEs) the decided rows come back to be counted.
    `vendor` forces the generic SQL on PostgreSQL, for the test that both variants agree.
    """
    vendor = vendor or connection.vendor
    params = {
        "now": connection.ops.adapt_datetimefield_value(now),
        "pending": State.PENDING,
        "returned": State.RETURNED,
        "not_returned": State.NOT_RETURNED,
        "redemption": Kind.GESTURE_REDEMPTION,
        "currency": settings.DEFAULT_CURRENCY,
        "outcome_id": outcome_id,
    }
    with connection.cursor() as cursor:
        cursor.execute(settle_sql(vendor=vendor, outcome_id=outcome_id), params)
        rows = cursor.fetchall()
    counts: dict[str, int] = {}
    if vendor == "postgresql":
        counts = dict(rows)
    else:
        for (state,) in rows:
            counts[state] = counts.get(state, 0) + 1
    return counts.get(State.RETURNED, 0), counts.get(State.NOT_RETURNED, 0)


@dataclass(frozen=True)
class CloseResult:
    customers: int
    returned: int


@transaction.atomic
def outcome_windows_close(*, customer_ids: Iterable[int], now: datetime | None = None) -> CloseResult:
    """Close the windows of these customers that their recorded activity falls in. Idempotent."""
    now = now or timezone.now()
    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        return CloseResult(0, 0)
    customers_lock(ids)
    with rollup_kept(ids, parts=WINDOWS_ONLY):
        returned = windows_close_returned(OutcomeWindow.objects.filter(outcome__customer_id__in=ids), now)
    windows_settled_publish(settled_at=now, customer_ids=ids)
    return CloseResult(customers=len(ids), returned=returned)


@dataclass(frozen=True)
class SettleResult:
    returned: int
    not_returned: int

    @property
    def changed(self) -> int:
        return self.returned + self.not_returned


@transaction.atomic
def outcome_windows_settle(*, now: datetime | None = None) -> SettleResult:
    """Settle every elapsed pending window — one UPDATE statement, however many there are; safe to repeat.

    Runs safely beside activity intake: a window becomes *not returned* only if no qualifying
    activity lies inside it in the statement's snapshot, and activity committed after that still
    turns it to *returned* (see windows_close_returned).
    """
    now = now or timezone.now()
    # Anchors too: one whose windows start to count is recomputed then (a live complaint may have ended it).
    with rollup_kept(settling_customers(now), advance_to=now, anchors=True):
        returned, lapsed = settle_due(now)
    if returned or lapsed:
        windows_settled_publish(settled_at=now)
    if returned or lapsed:
        logger.info("Settled outcome windows: %s returned, %s did not return", returned, lapsed)
    return SettleResult(returned=returned, not_returned=lapsed)


@dataclass(frozen=True)
class ReconcileResult:
    missing: int
    late_gesture: int
    rechecked_customers: int = 0


def outcome_reconcile(*, limit: int = 500) -> ReconcileResult:
    """Catch up on work whose task never ran: select the complaints in bulk, queue one opening each.

    Finds resolved or closed complaints without an outcome (the broker was down when they were
    resolved), and outcomes with no fulfilment recorded, still fully pending, whose complaint has since
    had a gesture fulfilled (fulfilled after the resolution: its cost is recorded, the group stays).
    At most `limit` of each.
    """
    missing = list(
        Complaint.objects.filter(status__in=[Status.RESOLVED, Status.CLOSED], outcome__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    # Only outcomes that may still be fully pending: none older than the longest window (outcome_anchor_idx).
    recent = timezone.now() - timedelta(days=max(window_days()))
    late_gesture = list(
        RecoveryOutcome.objects.filter(recovered=False, anchor_at__gte=recent)
        .filter(Exists(Offer.objects.filter(complaint_id=OuterRef("complaint_id"), status=Offer.Status.FULFILLED)))
        .exclude(Exists(OutcomeWindow.objects.filter(outcome_id=OuterRef("pk")).exclude(state=State.PENDING)))
        .order_by("pk")
        .values_list("complaint_id", flat=True)[:limit]
    )
    from recovery.outcomes.tasks import outcome_open_task

    for complaint_id in [*missing, *late_gesture]:
        enqueue_on_commit(outcome_open_task, complaint_id)
    return ReconcileResult(missing=len(missing), late_gesture=len(late_gesture), rechecked_customers=_recheck_new_activity())


ACTIVITY_MARK_KEY = "recovery:outcomes:activity-mark"
RECHECK_BATCH = 50_000


def _recheck_new_activity() -> int:
    """Queue window closing again for customers with activity stored since the last run.

    The closing task normally runs on commit of the intake; this covers the case where it never did
    (broker outage) for windows the sweep had already settled. The activity id reached is kept in the
    cache; without it (first run, cache cleared) the check starts from now. Returns how many customers.
    """
    from recovery.outcomes.tasks import outcome_windows_close_task

    newest = CustomerActivity.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    mark = cache.get(ACTIVITY_MARK_KEY)
    if mark is None or newest <= mark:
        cache.set(ACTIVITY_MARK_KEY, max(newest, mark or 0), None)
        return 0
    upto = min(newest, mark + RECHECK_BATCH)
    recent = CustomerActivity.objects.filter(pk__gt=mark, pk__lte=upto).values("customer_id")
    watched = sorted(
        RecoveryOutcome.objects.filter(customer_id__in=recent).values_list("customer_id", flat=True).distinct()
    )
    for start in range(0, len(watched), MAX_BATCH):
        enqueue_on_commit(outcome_windows_close_task, watched[start : start + MAX_BATCH])
    cache.set(ACTIVITY_MARK_KEY, upto, None)
    return len(watched)
