"""The direct computation: aggregate queries over the outcome tables themselves, about a dozen however many rows.

Each returns rows in the shape recovery/outcomes/metrics/assemble.py reads; the rollup (rollup.py) returns the
same shapes from its own table, and tests/recovery/outcomes/test_metrics_rollup.py holds the two equal.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import TruncMonth

from recovery.models import CustomerActivity, OutcomeWindow, RecoveryOutcome, SuggestionLog
from recovery.outcomes.config import window_days
from recovery.outcomes.metrics.filters import MetricsFilter, State, decided_q, outcome_q, period_q
from recovery.outcomes.stats import ipw_rate, month_key, rate, sort_cells
from tickets.models import Complaint

Kind = CustomerActivity.Kind


@dataclass
class Sources:
    """What the dashboard is assembled from, per window length (days) where it depends on one.

    totals: (days, offered, declined) -> n, s, k, cost, revenue, fulfilled, late, watching;
    causes … months: days -> rows of decided, elapsed windows by (key, offered) with n, s, k, cost, revenue;
    never, never_by_month: the never-complained context; randomised: days -> cells; spend_by_month:
    month key -> spend, n_offered, n_not_offered; spend: total and fulfilled outcomes.
    """

    totals: dict[tuple[int, bool, bool], dict[str, Any]]
    causes: dict[int, list[dict[str, Any]]]
    grades: dict[int, list[dict[str, Any]]]
    tiers: dict[int, list[dict[str, Any]]]
    gestures: dict[int, list[dict[str, Any]]]
    months: dict[int, list[dict[str, Any]]]
    never: dict[int, dict[str, Any]]
    never_by_month: dict[int, dict[str, dict[str, Any]]]
    randomised: dict[int, list[dict[str, Any]]]
    spend_by_month: dict[str, dict[str, Any]]
    spend: dict[str, Any]


def _counts(decided: Q | None = None) -> dict[str, Any]:
    """n, s (came back), k (distinct customers), cost and revenue of the windows in a group."""
    decided = decided if decided is not None else Q()
    return {
        "n": Count("id", filter=decided),
        "s": Count("id", filter=decided & Q(state=State.RETURNED)),
        "k": Count("outcome__customer_id", filter=decided, distinct=True),
        "cost": Sum("outcome__gesture_cost", filter=decided),
        "revenue": Sum("revenue", filter=decided),
    }


def _window_totals(f: MetricsFilter, now: datetime) -> dict[tuple[int, bool, bool], dict[str, Any]]:
    """(days, offered, declined) -> counts and money over decided, elapsed windows; one query."""
    decided = decided_q(now)
    late = decided & Q(outcome__fulfilled_at__gt=F("outcome__anchor_at"))
    rows = (
        OutcomeWindow.objects.filter(outcome_q(f, "outcome__"), days__in=window_days())
        .values("days", "outcome__offered", "outcome__declined")
        .annotate(
            **_counts(decided),
            fulfilled=Count("id", filter=decided & Q(outcome__recovered=True)),
            late=Count("id", filter=late),
            watching=Count("id", filter=Q(state=State.PENDING) | Q(ends_at__gt=now)),
        )
        .order_by()
    )
    return {(row["days"], row["outcome__offered"], row["outcome__declined"]): row for row in rows}


def _breakdown_rows(f: MetricsFilter, now: datetime, *keys: Any, **named: Any) -> Iterable[dict[str, Any]]:
    """Decided, elapsed windows grouped by (days, the keys, offered); one query for every window."""
    return (
        OutcomeWindow.objects.filter(outcome_q(f, "outcome__"), decided_q(now), days__in=window_days())
        .annotate(**named)
        .values("days", *keys, *named, "outcome__offered")
        .annotate(**_counts())
        .order_by()
    )


def _by_days(rows: Iterable[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = {days: [] for days in window_days()}
    for row in rows:
        grouped.setdefault(row["days"], []).append(row)
    return grouped


def randomised(f: MetricsFilter, now: datetime) -> dict[int, list[dict[str, Any]]]:
    """days -> gestures whose first place was drawn at random, with their IPW return rate; two queries.

    The assignment is the first randomised suggestion shown for the complaint (rank 1, with its logged
    chance); the outcome is the complaint's window, grouped at resolution as everywhere else.
    """
    first = (
        SuggestionLog.objects.filter(complaint_id=OuterRef("outcome__complaint_id"), rank=1, randomised=True)
        .order_by("created_at", "id")
    )
    rows = (
        OutcomeWindow.objects.filter(outcome_q(f, "outcome__"), decided_q(now), days__in=window_days())
        # A semi-join first, so the per-row lookups below run only for complaints with a randomised draw.
        .filter(Exists(first))
        .annotate(
            drawn=Subquery(first.values("gesture__code")[:1]),
            drawn_title=Subquery(first.values("gesture__title")[:1]),
            chance=Subquery(first.values("propensity")[:1]),
        )
        .filter(drawn__isnull=False, chance__gt=0)
        .values_list("days", "drawn", "drawn_title", "chance", "state")
        .order_by("pk")  # a fixed order: the weighted sums are of floats
    )
    cells: dict[tuple[int, str], dict[str, Any]] = {}
    for days, code, title, chance, state in rows:
        cell = cells.setdefault((days, code), {"label": title, "rows": []})
        cell["rows"].append((chance, state == State.RETURNED))
    result: dict[int, list[dict[str, Any]]] = {days: [] for days in window_days()}
    for (days, code), cell in cells.items():
        result.setdefault(days, []).append({"key": code, "label": cell["label"], "rate": ipw_rate(cell["rows"])})
    return {days: sort_cells(items, "rate") for days, items in result.items()}


def _spend_by_month(f: MetricsFilter) -> dict[str, dict[str, Any]]:
    rows = (
        RecoveryOutcome.objects.filter(outcome_q(f))
        .annotate(month=TruncMonth("anchor_at"))
        .values("month")
        .annotate(
            spend=Sum("gesture_cost", filter=Q(recovered=True)),
            n_offered=Count("id", filter=Q(offered=True)),
            n_not_offered=Count("id", filter=Q(offered=False)),
        )
        .order_by()
    )
    return {month_key(row["month"]): row for row in rows}


def _qualifying() -> QuerySet[CustomerActivity]:
    return CustomerActivity.objects.exclude(kind=Kind.GESTURE_REDEMPTION)


def _never_complained_anchors(f: MetricsFilter) -> QuerySet[CustomerActivity]:
    """One anchor per customer: their first qualifying activity in the period, if they had not complained
    before it (no look-ahead: a complaint after the anchor does not remove them), with one
    `came_back_<days>` flag per configured window."""
    complained_before = Complaint.objects.filter(customer_id=OuterRef("customer_id"), created_at__lte=OuterRef("occurred_at"))
    earlier = (
        _qualifying()
        .filter(period_q(f, "occurred_at"))
        .filter(customer_id=OuterRef("customer_id"), occurred_at__lte=OuterRef("occurred_at"))
        .filter(Q(occurred_at__lt=OuterRef("occurred_at")) | Q(pk__lt=OuterRef("pk")))
    )
    came_back = {
        f"came_back_{days}": Exists(
            _qualifying().filter(
                customer_id=OuterRef("customer_id"),
                occurred_at__gt=OuterRef("occurred_at"),
                occurred_at__lt=ExpressionWrapper(
                    OuterRef("occurred_at") + timedelta(days=days), output_field=DateTimeField()
                ),
            )
        )
        for days in window_days()
    }
    return (
        _qualifying()
        .filter(period_q(f, "occurred_at"))
        .filter(~Exists(complained_before))
        .filter(~Exists(earlier))
        .annotate(month=TruncMonth("occurred_at"), **came_back)
    )


def _never_complained_counts(now: datetime) -> dict[str, Count]:
    """n_<days> / s_<days>: anchors whose window has elapsed, and those that came back in it."""
    counts = {}
    for days in window_days():
        elapsed = Q(occurred_at__lte=now - timedelta(days=days))
        counts[f"n_{days}"] = Count("pk", filter=elapsed)
        counts[f"s_{days}"] = Count("pk", filter=elapsed & Q(**{f"came_back_{days}": True}))
    return counts


def never_complained(f: MetricsFilter, now: datetime) -> dict[int, dict[str, Any]]:
    """days -> the never-complained rate; one query for every window."""
    totals = _never_complained_anchors(f).aggregate(**_never_complained_counts(now))
    return {days: rate(totals[f"s_{days}"] or 0, totals[f"n_{days}"] or 0) for days in window_days()}


def never_complained_by_month(f: MetricsFilter, now: datetime) -> dict[int, dict[str, dict[str, Any]]]:
    """days -> month key -> rate; one query."""
    rows = _never_complained_anchors(f).values("month").annotate(**_never_complained_counts(now)).order_by()
    by_days: dict[int, dict[str, dict[str, Any]]] = {days: {} for days in window_days()}
    for row in rows:
        for days in window_days():
            if row[f"n_{days}"]:
                by_days[days][month_key(row["month"])] = rate(row[f"s_{days}"], row[f"n_{days}"])
    return by_days


def _spend(f: MetricsFilter) -> dict[str, Any]:
    return RecoveryOutcome.objects.filter(outcome_q(f), recovered=True).aggregate(
        total=Sum("gesture_cost"), outcomes=Count("id")
    )


def direct_sources(f: MetricsFilter, now: datetime) -> Sources:
    """Everything the dashboard needs under this filter, straight from the outcome tables."""
    return Sources(
        totals=_window_totals(f, now),
        causes=_by_days(_breakdown_rows(f, now, "outcome__cause")),
        grades=_by_days(_breakdown_rows(f, now, "outcome__grade")),
        tiers=_by_days(_breakdown_rows(f, now, "outcome__tier")),
        gestures=_by_days(_breakdown_rows(f, now, "outcome__offered_gesture__code", "outcome__offered_gesture__title")),
        months=_by_days(_breakdown_rows(f, now, month=TruncMonth("outcome__anchor_at"))),
        never=never_complained(f, now),
        never_by_month=never_complained_by_month(f, now),
        randomised=randomised(f, now),
        spend_by_month=_spend_by_month(f),
        spend=_spend(f),
    )
