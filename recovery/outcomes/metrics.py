"""Outcome metrics: return rates of the offered and not-offered groups, their difference, money, breakdowns,
the randomised comparisons, and the never-complained context.

Definitions (docs/outcomes-and-metrics.md has them in words a manager follows):

- A rate for an N-day window counts only windows that have *elapsed* (ends_at ≤ now) and been
  decided. A return is known early but a non-return only at the window's end, so counting open
  windows would flatter the recent months.
- Groups are fixed when the complaint is resolved (intention-to-treat): *offered a gesture* or *not
  offered*. A declined offer stays in the offered group (and is also shown on its own); a gesture
  fulfilled late is reported, never used to regroup. Every window starts at the resolution.
- Each rate carries n; under THIN_N customers a rate is "too few to tell" and never sorted above
  well-measured ones. Intervals are 95% Wilson intervals whose width counts each customer once (a
  customer with several complaints is one piece of evidence, not several).
- Difference: offered rate minus not-offered rate, in points, with Newcombe's interval; it is
  "clear" when the interval leaves out zero. Tables of many cells use Holm's correction for many
  comparisons before calling a cell clear. These comparisons are observational — customers were not
  offered gestures by chance — except the randomised ones: first place drawn among gestures in
  equipoise, estimated by inverse-propensity weighting from the suggestion log.
- Never complained: context, not a comparison. One anchor per customer (their first purchase or
  visit in the period with no complaint *before* it — nothing later is looked at), came back if
  active again within N days. They buy differently from complainers, so no difference is computed.

Every number comes from aggregate queries (about a dozen per computation, however many rows);
results are cached for METRICS_CACHE_SECONDS and refreshed by a Celery task.
"""


from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.cache import cache
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
from django.utils import timezone

from recovery import formatting
from recovery.models import CustomerActivity, OutcomeWindow, RecoveryOutcome, SuggestionLog
from recovery.outcomes.config import learning_window_days, window_days
from recovery.outcomes.learning import THIN_N
from recovery.outcomes.stats import (
    cost_per_extra_return,
    difference_interval,
    flag_cells,
    ipw_rate,
    money_summary,
    month_key,
    month_label,
    month_start,
    months_between,
    next_month_start,
    rate,
    sort_cells,
)
from tickets.models import Cause, Complaint, Grade, Tier

logger = logging.getLogger(__name__)


CACHE_PREFIX = "recovery:metrics:v3:"
CENT = Decimal("0.01")


State = OutcomeWindow.State
Kind = CustomerActivity.Kind

GROUPS = ("offered", "not_offered", "never_complained")
GROUP_LABELS = {
    "offered": "Offered a gesture",
    "not_offered": "Not offered a gesture",
    "declined": "Offered and declined",
    "never_complained": "Never complained (context)",
}
CAVEAT = (
    "These comparisons are observational: customers were not offered gestures by chance, so a difference "
    "is not proof that the gesture caused it — except where marked randomised."
)


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




def _outcome_q(f: MetricsFilter, prefix: str = "") -> Q:
    q = Q()
    if f.cause:
        q &= Q(**{f"{prefix}cause": f.cause})
    if f.grade:
        q &= Q(**{f"{prefix}grade": f.grade})
    if f.tier:
        q &= Q(**{f"{prefix}tier": f.tier})
    if f.gesture:
        q &= Q(**{f"{prefix}offered": False}) | Q(**{f"{prefix}offered_gesture__code": f.gesture})
    q &= _period_q(f, f"{prefix}anchor_at")
    return q


def _period_q(f: MetricsFilter, field: str) -> Q:
    q = Q()
    if f.month_from:
        q &= Q(**{f"{field}__gte": month_start(f.month_from)})
    if f.month_to:
        q &= Q(**{f"{field}__lt": next_month_start(f.month_to)})
    return q


def _decided(now: datetime) -> Q:
    return Q(ends_at__lte=now) & ~Q(state=State.PENDING)


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
    decided = _decided(now)
    late = decided & Q(outcome__fulfilled_at__gt=F("outcome__anchor_at"))
    rows = (
        OutcomeWindow.objects.filter(_outcome_q(f, "outcome__"), days__in=window_days())
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


EMPTY = {"n": 0, "s": 0, "k": 0, "cost": None, "revenue": None, "watching": 0, "fulfilled": 0, "late": 0}


def _merge(*rows: Mapping[str, Any]) -> dict[str, Any]:
    """Add the counts of several rows (distinct customers are added too: an upper bound, see rate())."""
    merged: dict[str, Any] = dict(EMPTY)
    for row in rows:
        for key in EMPTY:
            value = row.get(key)
            if value is None:
                continue
            merged[key] = (merged[key] or 0) + value if merged[key] is not None else value
    return merged


def _rate_of(row: Mapping[str, Any]) -> dict[str, Any]:
    return rate(row["s"], row["n"], clusters=row.get("k") or None)


def _qualifying() -> QuerySet[CustomerActivity]:
    return CustomerActivity.objects.exclude(kind=Kind.GESTURE_REDEMPTION)


def _never_complained_anchors(f: MetricsFilter) -> QuerySet[CustomerActivity]:
    """One anchor per customer: their first qualifying activity in the period, if they had not complained
    before it (no look-ahead: a complaint after the anchor does not remove them), with one
    `came_back_<days>` flag per configured window."""
    complained_before = Complaint.objects.filter(customer_id=OuterRef("customer_id"), created_at__lte=OuterRef("occurred_at"))
    earlier = (
        _qualifying()
        .filter(_period_q(f, "occurred_at"))
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
        .filter(_period_q(f, "occurred_at"))
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
                by_days[days][month_key(row["month"])] = rate(row[f"s_{days}"], row[f"n_{days}"])
    return by_days


def _breakdown_rows(f: MetricsFilter, now: datetime, *keys: Any, **named: Any) -> Iterable[dict[str, Any]]:
    """Decided, elapsed windows grouped by (days, the keys, offered); one query for every window."""
    return (
        OutcomeWindow.objects.filter(_outcome_q(f, "outcome__"), _decided(now), days__in=window_days())
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


def _pairs(rows: Iterable[Mapping[str, Any]], key: str) -> dict[Any, dict[bool, Mapping[str, Any]]]:
    grouped: dict[Any, dict[bool, Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row[key], {})[row["outcome__offered"]] = row
    return grouped


def _compare(pair: Mapping[bool, Mapping[str, Any]]) -> dict[str, Any]:
    offered_row, other_row = pair.get(True, EMPTY), pair.get(False, EMPTY)
    offered, not_offered = _rate_of(offered_row), _rate_of(other_row)
    difference = difference_interval(offered, not_offered)
    return {
        "offered": offered,
        "not_offered": not_offered,
        "difference": difference,
        "money": money_summary(
            offered,
            not_offered,
            offered_row["cost"] or Decimal("0"),
            offered_row["revenue"] or Decimal("0"),
            other_row["revenue"] or Decimal("0"),
            difference,
        ),
    }


def _choice_breakdown(rows: Iterable[dict[str, Any]], field: str, choices: Any) -> list[dict[str, Any]]:
    grouped = _pairs(rows, f"outcome__{field}")
    labels = dict(choices)
    ordered = [value for value, _ in choices if value in grouped] + sorted(k for k in grouped if k not in labels)
    result = [{"key": key, "label": labels.get(key) or "Not graded", **_compare(grouped[key])} for key in ordered]
    flag_cells([row["difference"] for row in result])
    # Thin cells after the well-measured ones; otherwise the usual order of the choices.
    return sorted(result, key=lambda row: row["offered"]["thin"] or row["not_offered"]["thin"])


def _gesture_breakdown(rows: Iterable[dict[str, Any]], not_offered: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each offered gesture against everyone not offered one, Holm-corrected across the gestures."""
    result = []
    for row in rows:
        if not row["outcome__offered"] or not row["outcome__offered_gesture__code"]:
            continue
        offered = _rate_of(row)
        cost = row["cost"] or Decimal("0")
        result.append(
            {
                "key": row["outcome__offered_gesture__code"],
                "label": row["outcome__offered_gesture__title"],
                "offered": offered,
                "difference": difference_interval(offered, not_offered),
                "gesture_cost": formatting.money_str(cost),
                "cost_per_returned_customer": formatting.money_str(cost / row["s"]) if row["s"] else None,
                "revenue_minus_gesture_cost": formatting.money_str((row["revenue"] or Decimal("0")) - cost),
            }
        )
    flag_cells([item["difference"] for item in result])
    for item in result:
        item["cost_per_extra_return"] = cost_per_extra_return(
            Decimal(item["gesture_cost"]), item["offered"], item["difference"]
        )
    return sort_cells(result, "offered")


def _randomised(f: MetricsFilter, now: datetime) -> dict[int, list[dict[str, Any]]]:
    """days -> gestures whose first place was drawn at random, with their IPW return rate; two queries.

    The assignment is the first randomised suggestion shown for the complaint (rank 1, with its logged
    chance); the outcome is the complaint's window, grouped at resolution as everywhere else.
    """
    first = (
        SuggestionLog.objects.filter(complaint_id=OuterRef("outcome__complaint_id"), rank=1, randomised=True)
        .order_by("created_at", "id")
    )
    rows = (
        OutcomeWindow.objects.filter(_outcome_q(f, "outcome__"), _decided(now), days__in=window_days())
        # A semi-join first, so the per-row lookups below run only for complaints with a randomised draw.
        .filter(Exists(first))
        .annotate(
            drawn=Subquery(first.values("gesture__code")[:1]),
            drawn_title=Subquery(first.values("gesture__title")[:1]),
            chance=Subquery(first.values("propensity")[:1]),
        )
        .filter(drawn__isnull=False, chance__gt=0)
        .values_list("days", "drawn", "drawn_title", "chance", "state")
    )
    cells: dict[tuple[int, str], dict[str, Any]] = {}
    for days, code, title, chance, state in rows:
        cell = cells.setdefault((days, code), {"label": title, "rows": []})
        cell["rows"].append((chance, state == State.RETURNED))
    result: dict[int, list[dict[str, Any]]] = {days: [] for days in window_days()}
    for (days, code), cell in cells.items():
        result.setdefault(days, []).append({"key": code, "label": cell["label"], "rate": ipw_rate(cell["rows"])})
    return {days: sort_cells(items, "rate") for days, items in result.items()}


def _spend_by_month(f: MetricsFilter) -> dict[str, Mapping[str, Any]]:
    rows = (
        RecoveryOutcome.objects.filter(_outcome_q(f))
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


def _month_breakdown(
    f: MetricsFilter,
    rows: Iterable[dict[str, Any]],
    never: Mapping[str, dict[str, Any]],
    spend: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    by_month = {month_key(month): pair for month, pair in _pairs(rows, "month").items()}
    keys = sorted(set(by_month) | set(spend) | (set(never) if not f.narrows_complainers else set()))
    if f.month_from or f.month_to:
        low = month_key(f.month_from) or "0000-00"
        high = month_key(f.month_to) or "9999-99"
        keys = [key for key in keys if low <= key <= high]
    if not keys:
        return []
    result = []
    for key in months_between(keys[0], keys[-1]):
        spent = spend.get(key, {})
        result.append(
            {
                "key": key,
                "label": month_label(key),
                **_compare(by_month.get(key, {})),
                "never_complained": never.get(key, rate(0, 0)),
                "resolved_offered": spent.get("n_offered", 0),
                "resolved_not_offered": spent.get("n_not_offered", 0),
                "spend": formatting.money_str(spent.get("spend")),
            }
        )
    return result


def _dataset(f: MetricsFilter, now: datetime) -> dict[str, Any]:
    """Every metric for every window under this filter (its window is ignored): a dozen aggregate queries."""
    totals = _window_totals(f, now)
    never = _never_complained(f, now)
    never_by_month = _never_complained_by_month(f, now)
    causes = _by_days(_breakdown_rows(f, now, "outcome__cause"))
    grades = _by_days(_breakdown_rows(f, now, "outcome__grade"))
    tiers = _by_days(_breakdown_rows(f, now, "outcome__tier"))
    gestures = _by_days(_breakdown_rows(f, now, "outcome__offered_gesture__code", "outcome__offered_gesture__title"))
    months = _by_days(_breakdown_rows(f, now, month=TruncMonth("outcome__anchor_at")))
    randomised = _randomised(f, now)
    spend_by_month = _spend_by_month(f)
    spend = RecoveryOutcome.objects.filter(_outcome_q(f), recovered=True).aggregate(
        total=Sum("gesture_cost"), outcomes=Count("id")
    )
    windows, breakdowns = [], {}
    for days in window_days():
        accepted = totals.get((days, True, False), EMPTY)
        declined = totals.get((days, True, True), EMPTY)
        offered_row = _merge(accepted, declined)
        other_row = _merge(totals.get((days, False, False), EMPTY), totals.get((days, False, True), EMPTY))
        compared = _compare({True: offered_row, False: other_row})
        windows.append(
            {
                "days": days,
                **compared,
                "declined": _rate_of(declined),
                "fulfilment": {
                    "offered": offered_row["n"],
                    "fulfilled": offered_row["fulfilled"],
                    "fulfilled_after_resolution": offered_row["late"],
                    "declined": declined["n"],
                },
                "never_complained": never[days],
                "watching": {"offered": offered_row["watching"], "not_offered": other_row["watching"]},
            }
        )
        breakdowns[days] = {
            "cause": _choice_breakdown(causes[days], "cause", Cause.choices),
            "grade": _choice_breakdown(grades[days], "grade", Grade.choices),
            "tier": _choice_breakdown(tiers[days], "tier", Tier.choices),
            "gesture": _gesture_breakdown(gestures[days], compared["not_offered"]),
            "month": _month_breakdown(f, months[days], never_by_month[days], spend_by_month),
            "randomised": randomised.get(days, []),
        }
    return {
        "computed_at": now.isoformat(),
        "currency": settings.DEFAULT_CURRENCY,
        "caveat": CAVEAT,
        "thin_n": THIN_N,
        "windows": windows,
        "breakdowns": breakdowns,
        "spend": {"gesture_cost": formatting.money_str(spend["total"]), "fulfilled_outcomes": spend["outcomes"]},
    }


def _view(dataset: Mapping[str, Any], f: MetricsFilter) -> dict[str, Any]:
    """The public shape: every window's headline, and the breakdowns of the selected window."""
    f = f.resolved()
    return {
        "computed_at": dataset["computed_at"],
        "currency": dataset["currency"],
        "caveat": dataset["caveat"],
        "thin_n": dataset["thin_n"],
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
