"""Outcome metrics: return rates of three groups, their intervals and uplift, money, and breakdowns.

Definitions (docs/outcomes-and-metrics.md has them with examples):

- A rate for an N-day window counts only windows that have *elapsed* (ends_at ≤ now) and been
  decided. A return is known early but a non-return only at the window's end, so counting open
  windows would flatter the recent months.
- Recovered complainers: outcomes with a fulfilled gesture. Unrecovered complainers: outcomes of
  complaints resolved without one. Filters on cause, grade, tier and month apply to both; the
  gesture filter picks the recovered group only and keeps every unrecovered outcome as comparison.
- Customers who never complained (from activity data): each customer with no complaint at all
  contributes one anchor per calendar month — their first qualifying activity that month — and has
  returned if another qualifying activity follows within N days (strictly later). Qualifying means
  anything but a gesture redemption, as for complainers. Only the month range applies to them.
- Uplift: recovered rate minus unrecovered rate, in points, with Newcombe's 95% interval for the
  difference of two proportions (built from the two Wilson intervals).

Every number comes from aggregate queries (about a dozen per computation, however many rows);
results are cached for METRICS_CACHE_SECONDS and refreshed by a Celery task.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, DateTimeField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from recovery.learning import wilson_interval
from recovery.models import CustomerActivity, OutcomeWindow, RecoveryOutcome
from recovery.services.outcomes import learning_window_days, window_days
from tickets.models import Cause, Complaint, Grade, Tier

logger = logging.getLogger(__name__)

CACHE_PREFIX = "recovery:metrics:v2:"
CENT = Decimal("0.01")
State = OutcomeWindow.State
Kind = CustomerActivity.Kind

GROUPS = ("recovered", "unrecovered", "never_complained")
GROUP_LABELS = {
    "recovered": "Recovered complainers",
    "unrecovered": "Complainers not recovered",
    "never_complained": "Never complained",
}


@dataclass(frozen=True)
class MetricsFilter:
    """What to measure. Month bounds are first days of months, both inclusive; empty strings mean 'all'."""

    window_days: int | None = None
    cause: str = ""
    grade: str = ""
    gesture: str = ""
    tier: str = ""
    month_from: date | None = None
    month_to: date | None = None

    def resolved(self) -> MetricsFilter:
        """The same filter with the default window filled in (the learning window, usually 60 days)."""
        return self if self.window_days else replace(self, window_days=learning_window_days())

    def cache_key(self) -> str:
        """The same for every window: one cache entry holds them all."""
        raw = repr(sorted(asdict(replace(self, window_days=None)).items())) + repr(window_days())
        return CACHE_PREFIX + hashlib.sha256(raw.encode()).hexdigest()[:32]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self.resolved())
        data["month_from"] = self.month_from.strftime("%Y-%m") if self.month_from else ""
        data["month_to"] = self.month_to.strftime("%Y-%m") if self.month_to else ""
        return data

    @property
    def narrows_complainers(self) -> bool:
        return bool(self.cause or self.grade or self.gesture or self.tier)


# --- Pure helpers ---------------------------------------------------------------------------------


def rate(returned: int, customers: int) -> dict[str, Any]:
    """A return rate with its 95% Wilson interval; rate is None when nobody was measured."""
    low, high = wilson_interval(returned, customers)
    return {
        "customers": customers,
        "returned": returned,
        "rate": returned / customers if customers else None,
        "low": low,
        "high": high,
    }


def difference_interval(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any] | None:
    """a's rate minus b's, with Newcombe's hybrid score interval (method 10); None without data on both."""
    if not a["customers"] or not b["customers"]:
        return None
    pa, pb = a["rate"], b["rate"]
    difference = pa - pb
    low = difference - math.sqrt((pa - a["low"]) ** 2 + (b["high"] - pb) ** 2)
    high = difference + math.sqrt((a["high"] - pa) ** 2 + (pb - b["low"]) ** 2)
    return {"points": difference, "low": low, "high": high, "significant": low > 0 or high < 0}


def _money(value: Decimal | None) -> str:
    return str((value or Decimal("0")).quantize(CENT, rounding=ROUND_HALF_UP))


def money_summary(
    recovered: Mapping[str, Any], unrecovered: Mapping[str, Any], cost: Decimal, revenue: Decimal, other_revenue: Decimal
) -> dict[str, Any]:
    """What the recovered group cost and brought back, for the windows counted in `recovered`."""
    returned = recovered["returned"]
    uplift = difference_interval(recovered, unrecovered)
    extra_returns = recovered["customers"] * uplift["points"] if uplift else 0.0
    return {
        "gesture_cost": _money(cost),
        "cost_per_returned_customer": _money(cost / returned) if returned else None,
        # Returns the gestures added over what unrecovered customers did anyway.
        "extra_returns": round(extra_returns, 1) if uplift else None,
        "cost_per_extra_return": _money(cost / Decimal(str(extra_returns))) if extra_returns >= 0.5 else None,
        "revenue_after_recovery": _money(revenue),
        "revenue_minus_gesture_cost": _money(revenue - cost),
        "revenue_per_recovered_customer": _money(revenue / recovered["customers"]) if recovered["customers"] else None,
        "revenue_per_unrecovered_customer": (
            _money(other_revenue / unrecovered["customers"]) if unrecovered["customers"] else None
        ),
    }


def _month_key(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return f"{value.year:04d}-{value.month:02d}"


def _month_label(key: str) -> str:
    year, month = key.split("-")
    return date(int(year), int(month), 1).strftime("%b %Y")


def _months_between(first: str, last: str) -> list[str]:
    year, month = (int(part) for part in first.split("-"))
    keys = []
    while f"{year:04d}-{month:02d}" <= last:
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys


def _month_start(day: date) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, 1), timezone.get_current_timezone())


def _next_month_start(day: date) -> datetime:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return timezone.make_aware(datetime(year, month, 1), timezone.get_current_timezone())


# --- Queries --------------------------------------------------------------------------------------


def _outcome_q(f: MetricsFilter, prefix: str = "") -> Q:
    q = Q()
    if f.cause:
        q &= Q(**{f"{prefix}cause": f.cause})
    if f.grade:
        q &= Q(**{f"{prefix}grade": f.grade})
    if f.tier:
        q &= Q(**{f"{prefix}tier": f.tier})
    if f.gesture:
        q &= Q(**{f"{prefix}recovered": False}) | Q(**{f"{prefix}gesture__code": f.gesture})
    q &= _period_q(f, f"{prefix}anchor_at")
    return q


def _period_q(f: MetricsFilter, field: str) -> Q:
    q = Q()
    if f.month_from:
        q &= Q(**{f"{field}__gte": _month_start(f.month_from)})
    if f.month_to:
        q &= Q(**{f"{field}__lt": _next_month_start(f.month_to)})
    return q


def _decided(now: datetime) -> Q:
    return Q(ends_at__lte=now) & ~Q(state=State.PENDING)


def _window_totals(f: MetricsFilter, now: datetime) -> dict[tuple[int, bool], dict[str, Any]]:
    """(days, recovered) -> counts and money over decided, elapsed windows; one query."""
    decided = _decided(now)
    rows = (
        OutcomeWindow.objects.filter(_outcome_q(f, "outcome__"), days__in=window_days())
        .values("days", "outcome__recovered")
        .annotate(
            n=Count("id", filter=decided),
            s=Count("id", filter=decided & Q(state=State.RETURNED)),
            watching=Count("id", filter=Q(state=State.PENDING) | Q(ends_at__gt=now)),
            cost=Sum("outcome__gesture_cost", filter=decided),
            revenue=Sum("revenue", filter=decided),
        )
        .order_by()
    )
    return {(row["days"], row["outcome__recovered"]): row for row in rows}


def _qualifying() -> QuerySet[CustomerActivity]:
    return CustomerActivity.objects.exclude(kind=Kind.GESTURE_REDEMPTION)


def _never_complained_anchors(f: MetricsFilter) -> QuerySet[CustomerActivity]:
    """First qualifying activity per customer and month, for customers without a complaint, with one
    `came_back_<days>` flag per configured window."""
    earlier_same_month = (
        _qualifying()
        .annotate(month=TruncMonth("occurred_at"))
        .filter(customer_id=OuterRef("customer_id"), month=OuterRef("month"), occurred_at__lte=OuterRef("occurred_at"))
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
        .filter(_period_q(f, "occurred_at"))
        .annotate(month=TruncMonth("occurred_at"))
        .filter(~Exists(Complaint.objects.filter(customer_id=OuterRef("customer_id"))))
        .filter(~Exists(earlier_same_month))
        .annotate(**came_back)
    )


def _never_complained_counts(now: datetime) -> dict[str, Count]:
    """n_<days> / s_<days>: anchors whose window has elapsed, and those that came back in it."""
    counts = {}
    for days in window_days():
        elapsed = Q(occurred_at__lte=now - timedelta(days=days))
        counts[f"n_{days}"] = Count("pk", filter=elapsed)
        counts[f"s_{days}"] = Count("pk", filter=elapsed & Q(**{f"came_back_{days}": True}))
    return counts


def _never_complained(f: MetricsFilter, now: datetime) -> dict[int, dict[str, Any]]:
    """days -> the never-complained rate; one query for every window."""
    totals = _never_complained_anchors(f).aggregate(**_never_complained_counts(now))
    return {days: rate(totals[f"s_{days}"] or 0, totals[f"n_{days}"] or 0) for days in window_days()}


def _never_complained_by_month(f: MetricsFilter, now: datetime) -> dict[int, dict[str, dict[str, Any]]]:
    """days -> month key -> rate; one query."""
    rows = _never_complained_anchors(f).values("month").annotate(**_never_complained_counts(now)).order_by()
    by_days: dict[int, dict[str, dict[str, Any]]] = {days: {} for days in window_days()}
    for row in rows:
        for days in window_days():
            if row[f"n_{days}"]:
                by_days[days][_month_key(row["month"])] = rate(row[f"s_{days}"], row[f"n_{days}"])
    return by_days


def _breakdown_rows(f: MetricsFilter, now: datetime, *keys: Any, **named: Any) -> Iterable[dict[str, Any]]:
    """Decided, elapsed windows grouped by (days, the keys, recovered); one query for every window."""
    return (
        OutcomeWindow.objects.filter(_outcome_q(f, "outcome__"), _decided(now), days__in=window_days())
        .annotate(**named)
        .values("days", *keys, *named, "outcome__recovered")
        .annotate(
            n=Count("id"),
            s=Count("id", filter=Q(state=State.RETURNED)),
            cost=Sum("outcome__gesture_cost"),
            revenue=Sum("revenue"),
        )
        .order_by()
    )


def _by_days(rows: Iterable[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    grouped: dict[int, list[dict[str, Any]]] = {days: [] for days in window_days()}
    for row in rows:
        grouped.setdefault(row["days"], []).append(row)
    return grouped


def _pairs(rows: Iterable[Mapping[str, Any]], key: str) -> dict[Any, dict[bool, Mapping[str, Any]]]:
    grouped: dict[Any, dict[bool, Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row[key], {})[row["outcome__recovered"]] = row
    return grouped


EMPTY = {"n": 0, "s": 0, "cost": None, "revenue": None, "watching": 0}


def _compare(pair: Mapping[bool, Mapping[str, Any]]) -> dict[str, Any]:
    recovered_row, unrecovered_row = pair.get(True, EMPTY), pair.get(False, EMPTY)
    recovered = rate(recovered_row["s"], recovered_row["n"])
    unrecovered = rate(unrecovered_row["s"], unrecovered_row["n"])
    return {
        "recovered": recovered,
        "unrecovered": unrecovered,
        "uplift": difference_interval(recovered, unrecovered),
        "money": money_summary(
            recovered,
            unrecovered,
            recovered_row["cost"] or Decimal("0"),
            recovered_row["revenue"] or Decimal("0"),
            unrecovered_row["revenue"] or Decimal("0"),
        ),
    }


def _choice_breakdown(rows: Iterable[dict[str, Any]], field: str, choices: Any) -> list[dict[str, Any]]:
    grouped = _pairs(rows, f"outcome__{field}")
    labels = dict(choices)
    ordered = [value for value, _ in choices if value in grouped] + sorted(k for k in grouped if k not in labels)
    return [{"key": key, "label": labels.get(key) or "Not graded", **_compare(grouped[key])} for key in ordered]


def _gesture_breakdown(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    result = []
    for row in rows:
        if not row["outcome__recovered"] or not row["outcome__gesture__code"]:
            continue
        recovered = rate(row["s"], row["n"])
        cost = row["cost"] or Decimal("0")
        result.append(
            {
                "key": row["outcome__gesture__code"],
                "label": row["outcome__gesture__title"],
                "recovered": recovered,
                "gesture_cost": _money(cost),
                "cost_per_returned_customer": _money(cost / row["s"]) if row["s"] else None,
                "revenue_minus_gesture_cost": _money((row["revenue"] or Decimal("0")) - cost),
            }
        )
    result.sort(key=lambda item: (-(item["recovered"]["rate"] or 0), -item["recovered"]["customers"], item["key"]))
    return result


def _spend_by_month(f: MetricsFilter) -> dict[str, Mapping[str, Any]]:
    rows = (
        RecoveryOutcome.objects.filter(_outcome_q(f))
        .annotate(month=TruncMonth("anchor_at"))
        .values("month")
        .annotate(
            spend=Sum("gesture_cost", filter=Q(recovered=True)),
            n_recovered=Count("id", filter=Q(recovered=True)),
            n_unrecovered=Count("id", filter=Q(recovered=False)),
        )
        .order_by()
    )
    return {_month_key(row["month"]): row for row in rows}


def _month_breakdown(
    f: MetricsFilter,
    rows: Iterable[dict[str, Any]],
    never: Mapping[str, dict[str, Any]],
    spend: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    by_month = {_month_key(month): pair for month, pair in _pairs(rows, "month").items()}
    keys = sorted(set(by_month) | set(spend) | (set(never) if not f.narrows_complainers else set()))
    if f.month_from or f.month_to:
        low = _month_key(f.month_from) or "0000-00"
        high = _month_key(f.month_to) or "9999-99"
        keys = [key for key in keys if low <= key <= high]
    if not keys:
        return []
    result = []
    for key in _months_between(keys[0], keys[-1]):
        spent = spend.get(key, {})
        result.append(
            {
                "key": key,
                "label": _month_label(key),
                **_compare(by_month.get(key, {})),
                "never_complained": never.get(key, rate(0, 0)),
                "resolved_recovered": spent.get("n_recovered", 0),
                "resolved_unrecovered": spent.get("n_unrecovered", 0),
                "spend": _money(spent.get("spend")),
            }
        )
    return result


def _dataset(f: MetricsFilter, now: datetime) -> dict[str, Any]:
    """Every metric for every window under this filter (its window is ignored): ten aggregate queries."""
    totals = _window_totals(f, now)
    never = _never_complained(f, now)
    never_by_month = _never_complained_by_month(f, now)
    causes = _by_days(_breakdown_rows(f, now, "outcome__cause"))
    grades = _by_days(_breakdown_rows(f, now, "outcome__grade"))
    tiers = _by_days(_breakdown_rows(f, now, "outcome__tier"))
    gestures = _by_days(_breakdown_rows(f, now, "outcome__gesture__code", "outcome__gesture__title"))
    months = _by_days(_breakdown_rows(f, now, month=TruncMonth("outcome__anchor_at")))
    spend_by_month = _spend_by_month(f)
    spend = RecoveryOutcome.objects.filter(_outcome_q(f), recovered=True).aggregate(
        total=Sum("gesture_cost"), outcomes=Count("id")
    )
    windows, breakdowns = [], {}
    for days in window_days():
        compared = _compare({recovered: totals.get((days, recovered), EMPTY) for recovered in (True, False)})
        windows.append(
            {
                "days": days,
                **compared,
                "never_complained": never[days],
                "gap_to_never_complained": difference_interval(compared["recovered"], never[days]),
                "watching": {
                    "recovered": totals.get((days, True), EMPTY)["watching"],
                    "unrecovered": totals.get((days, False), EMPTY)["watching"],
                },
            }
        )
        breakdowns[days] = {
            "cause": _choice_breakdown(causes[days], "cause", Cause.choices),
            "grade": _choice_breakdown(grades[days], "grade", Grade.choices),
            "tier": _choice_breakdown(tiers[days], "tier", Tier.choices),
            "gesture": _gesture_breakdown(gestures[days]),
            "month": _month_breakdown(f, months[days], never_by_month[days], spend_by_month),
        }
    return {
        "computed_at": now.isoformat(),
        "currency": settings.DEFAULT_CURRENCY,
        "windows": windows,
        "breakdowns": breakdowns,
        "spend": {"gesture_cost": _money(spend["total"]), "recovered_outcomes": spend["outcomes"]},
    }


def _view(dataset: Mapping[str, Any], f: MetricsFilter) -> dict[str, Any]:
    """The public shape: every window's headline, and the breakdowns of the selected window."""
    f = f.resolved()
    return {
        "computed_at": dataset["computed_at"],
        "currency": dataset["currency"],
        "filters": f.as_dict(),
        "window_days": list(window_days()),
        "selected_window": f.window_days,
        "windows": dataset["windows"],
        "breakdowns": dataset["breakdowns"][f.window_days],
        "spend": dataset["spend"],
    }


def recovery_metrics_compute(f: MetricsFilter, *, now: datetime | None = None) -> dict[str, Any]:
    """Every outcome metric for this filter, as plain JSON-friendly data (money as strings); never cached."""
    return _view(_dataset(f, now or timezone.now()), f)


def recovery_metrics(f: MetricsFilter) -> dict[str, Any]:
    """The metrics for this filter, from the cache when fresh (METRICS_CACHE_SECONDS; 0 = always compute).

    One cache entry holds every window, so switching windows on the dashboard costs nothing.
    """
    timeout = settings.METRICS_CACHE_SECONDS
    if timeout <= 0:
        return recovery_metrics_compute(f)
    key = f.cache_key()
    try:
        dataset = cache.get(key)
    except Exception:  # noqa: BLE001 - the cache (Redis) is down: compute, as with the cache turned off
        logger.warning("Metrics cache unreachable; computing the metrics for this request", exc_info=True)
        return recovery_metrics_compute(f)
    if dataset is None:
        dataset = _dataset(f, timezone.now())
        try:
            cache.set(key, dataset, timeout)
        except Exception:  # noqa: BLE001 - not cached this time; the answer is right all the same
            logger.warning("Metrics cache unreachable; the metrics were not cached", exc_info=True)
    return _view(dataset, f)


def recovery_metrics_refresh() -> int:
    """Recompute the unfiltered metrics (all windows at once) into the cache; returns how many entries were stored."""
    if settings.METRICS_CACHE_SECONDS <= 0:
        return 0
    f = MetricsFilter()
    cache.set(f.cache_key(), _dataset(f, timezone.now()), settings.METRICS_CACHE_SECONDS)
    return 1
