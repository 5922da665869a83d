"""The default dashboard from the rollup (recovery.models.OutcomeRollup) instead of every outcome window.

The rollup holds, per row, sums over the windows decided and elapsed by the mark (`rolled_to`, T): every
column is a sum over customers (`k` counts a customer once per row), so it is kept by taking a customer's old
share away and adding the new one (recovery/outcomes/services/rollup.py). The dashboard at `now` then needs
only the customers with a decided window ending between T and now: their share at now replaces their share
at T, computed by the same queries restricted to them. The numbers are exactly those of the direct queries.

Never-complained anchors are kept per customer (NeverComplainedAnchor) and rolled up by month the same way.

Only the default view (no cause, grade, tier, gesture or months) is served: distinct customers are not additive
across rows, so a filter would need a row per combination. Filtered views use the direct queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, DateTimeField, Exists, ExpressionWrapper, F, OuterRef, Q, Sum
from django.db.models.functions import TruncMonth

from recovery.models import (
    Gesture,
    NeverComplainedAnchor,
    OutcomeRollup,
    OutcomeRollupMark,
    OutcomeWindow,
    RecoveryOutcome,
)
from recovery.outcomes.config import window_days
from recovery.outcomes.metrics.filters import MetricsFilter, State, decided_q
from recovery.outcomes.metrics.queries import Sources, randomised
from recovery.outcomes.stats import month_key, rate
from tickets.models import Complaint

Cell = tuple[str, int, bool, bool, str]  # grouping, days, offered, declined, key
MEASURES = ("windows", "n", "s", "k", "fulfilled", "late", "cost", "revenue")
# grouping -> what the windows are grouped by besides (days, offered)
GROUPINGS: dict[str, Any] = {
    "total": F("outcome__declined"),
    "cause": F("outcome__cause"),
    "grade": F("outcome__grade"),
    "tier": F("outcome__tier"),
    "gesture": F("outcome__offered_gesture_id"),
    "month": TruncMonth("outcome__anchor_at"),
}
ZERO = Decimal("0")


def _key(grouping: str, value: Any) -> str:
    if grouping == "month" or grouping == "spend":
        return month_key(value)
    return "" if value is None or grouping == "total" else str(value)


def _window_measures(at: datetime, grouping: str) -> dict[str, Any]:
    decided = decided_q(at)
    measures = {
        "windows": Count("id"),
        "n": Count("id", filter=decided),
        "s": Count("id", filter=decided & Q(state=State.RETURNED)),
        "k": Count("outcome__customer_id", filter=decided, distinct=True),
        "cost": Sum("outcome__gesture_cost", filter=decided),
        "revenue": Sum("revenue", filter=decided),
    }
    if grouping == "total":
        measures["fulfilled"] = Count("id", filter=decided & Q(outcome__recovered=True))
        measures["late"] = Count("id", filter=decided & Q(outcome__fulfilled_at__gt=F("outcome__anchor_at")))
    return measures


def _add(into: dict[Cell, dict[str, Any]], cell: Cell, row: dict[str, Any], sign: int = 1) -> None:
    target = into.setdefault(cell, dict.fromkeys(MEASURES, 0))
    for name in MEASURES:
        target[name] += sign * (row.get(name) or 0)


def _window_shares(customers: list[int] | None, at: datetime, into: dict[Cell, dict[str, Any]], sign: int) -> None:
    windows = OutcomeWindow.objects.all()
    if customers is not None:
        windows = windows.filter(outcome__customer_id__in=customers)
    for grouping, by in GROUPINGS.items():
        rows = windows.values("days", "outcome__offered", value=by).annotate(**_window_measures(at, grouping)).order_by()
        for row in rows:
            declined = bool(row["value"]) if grouping == "total" else False
            cell = (grouping, row["days"], row["outcome__offered"], declined, _key(grouping, row["value"]))
            _add(into, cell, row, sign)


def _spend_shares(customers: list[int] | None, into: dict[Cell, dict[str, Any]], sign: int) -> None:
    outcomes = RecoveryOutcome.objects.all()
    if customers is not None:
        outcomes = outcomes.filter(customer_id__in=customers)
    rows = (
        outcomes.values("offered", value=TruncMonth("anchor_at"))
        .annotate(
            n=Count("id"),
            fulfilled=Count("id", filter=Q(recovered=True)),
            cost=Sum("gesture_cost", filter=Q(recovered=True)),
        )
        .order_by()
    )
    for row in rows:
        _add(into, ("spend", 0, row["offered"], False, _key("spend", row["value"])), row, sign)


def _never_shares(
    customers: list[int] | None, at: datetime, into: dict[Cell, dict[str, Any]], sign: int, *, checked: bool = False
) -> None:
    """Never-complained anchors by month: n = elapsed by `at` for each window length, s = came back within it."""
    anchors = NeverComplainedAnchor.objects.all()
    if checked:
        # A complaint logged live is dated now: it ends an anchor only if that was stamped ahead of the clock, and
        # no rate counts such an anchor before the sweep recomputes it (services/rollup.py). A read whose mark is
        # far behind checks the anchors it adds all the same.
        complained = Complaint.objects.filter(customer_id=OuterRef("customer_id"), created_at__lte=OuterRef("occurred_at"))
        anchors = anchors.exclude(Exists(complained))
    if customers is not None:
        anchors = anchors.filter(customer_id__in=customers)
    counts = {}
    for days in window_days():
        elapsed = Q(occurred_at__lte=at - timedelta(days=days))
        within = ExpressionWrapper(F("occurred_at") + timedelta(days=days), output_field=DateTimeField())
        counts[f"n_{days}"] = Count("pk", filter=elapsed)
        counts[f"s_{days}"] = Count("pk", filter=elapsed & Q(next_at__lt=within))
    for row in anchors.values(month=TruncMonth("occurred_at")).annotate(**counts).order_by():
        for days in window_days():
            share = {"n": row[f"n_{days}"], "s": row[f"s_{days}"]}
            _add(into, ("never", days, False, False, month_key(row["month"])), share, sign)


# The parts of the rollup, each read from its own tables: the windows' rows (from OutcomeWindow), the spend's (from
# RecoveryOutcome), the never-complained rows (from NeverComplainedAnchor).
PARTS = frozenset({"windows", "spend", "never"})


def shares(customers: list[int] | None, at: datetime, parts: frozenset[str] = PARTS) -> dict[Cell, dict[str, Any]]:
    """Every rollup row's share of these customers (None: everyone) with windows decided and elapsed by `at`; only
    the rows of `parts` (a write that changes only the anchors need not read the windows twice)."""
    into: dict[Cell, dict[str, Any]] = {}
    if "windows" in parts:
        _window_shares(customers, at, into, 1)
    if "spend" in parts:
        _spend_shares(customers, into, 1)
    if "never" in parts:
        _never_shares(customers, at, into, 1)
    return into


def shares_moved(customers: list[int], before: datetime, after: datetime) -> dict[Cell, dict[str, Any]]:
    """For a read at `after` of rows rolled to `before`: these customers' share then replaced by their share
    now (spend does not move)."""
    into: dict[Cell, dict[str, Any]] = {}
    _window_shares(customers, after, into, 1)
    _window_shares(customers, before, into, -1)
    _never_shares(customers, after, into, 1, checked=True)
    _never_shares(customers, before, into, -1)  # as the rows hold it
    return into


def moving_customers(before: datetime, after: datetime) -> list[int]:
    """Customers whose share differs between the two moments: a window decided and ending between them, or a
    never-complained anchor whose window ends between them. Both read an index on the moment."""
    low, high = sorted((before, after))
    if low == high:
        return []
    windows = (
        OutcomeWindow.objects.filter(ends_at__gt=low, ends_at__lte=high)
        .exclude(state=State.PENDING)
        .values_list("outcome__customer_id", flat=True)
    )
    anchors = NeverComplainedAnchor.objects.filter(anchors_ending(low, high)).values_list("customer_id", flat=True)
    return sorted(set(windows) | set(anchors))


def anchors_ending(low: datetime, high: datetime) -> Q:
    """Anchors whose window of some length ends in (low, high]: those counted at high but not at low."""
    ending = Q(pk__in=[])
    for days in window_days():
        length = timedelta(days=days)
        ending |= Q(occurred_at__gt=low - length, occurred_at__lte=high - length)
    return ending


def never_days() -> str:
    """The window lengths, as the mark records those its never-complained rows were made for."""
    return ",".join(str(days) for days in window_days())


def _cells_at(now: datetime, mark: OutcomeRollupMark) -> dict[Cell, dict[str, Any]]:
    cells: dict[Cell, dict[str, Any]] = {}
    for row in OutcomeRollup.objects.values("grouping", "days", "offered", "declined", "key", *MEASURES):
        _add(cells, (row["grouping"], row["days"], row["offered"], row["declined"], row["key"]), row)
    movers = moving_customers(mark.rolled_to, now)
    if movers:
        for cell, delta in shares_moved(movers, mark.rolled_to, now).items():
            _add(cells, cell, delta)
    return cells


def _money(total: Any, present: bool) -> Decimal | None:
    """None where the direct Sum finds no row, as it returns."""
    return Decimal(total) if present else None


def _breakdown(cells: dict[Cell, dict[str, Any]], grouping: str, convert: Any) -> dict[int, list[dict[str, Any]]]:
    days_wanted = set(window_days())
    grouped: dict[int, list[dict[str, Any]]] = {days: [] for days in window_days()}
    for (name, days, offered, _, key), m in sorted(cells.items()):
        if name != grouping or days not in days_wanted or m["n"] <= 0:
            continue
        row = {"days": days, "outcome__offered": offered, "n": m["n"], "s": m["s"], "k": m["k"],
               "cost": _money(m["cost"], True), "revenue": _money(m["revenue"], True)}
        row.update(convert(key))
        grouped[days].append(row)
    return grouped


def _totals(cells: dict[Cell, dict[str, Any]]) -> dict[tuple[int, bool, bool], dict[str, Any]]:
    totals = {}
    for (name, days, offered, declined, _), m in cells.items():
        if name != "total" or m["windows"] <= 0:
            continue
        decided = m["n"] > 0
        totals[(days, offered, declined)] = {
            "n": m["n"], "s": m["s"], "k": m["k"], "fulfilled": m["fulfilled"], "late": m["late"],
            "cost": _money(m["cost"], decided), "revenue": _money(m["revenue"], decided),
            "watching": m["windows"] - m["n"],
        }
    return totals


def _spend(cells: dict[Cell, dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    by_month: dict[str, dict[str, Any]] = {}
    total, fulfilled = ZERO, 0
    for (name, _, offered, _, key), m in sorted(cells.items()):
        if name != "spend" or m["n"] <= 0:
            continue
        month = by_month.setdefault(key, {"spend": None, "n_offered": 0, "n_not_offered": 0})
        month["n_offered" if offered else "n_not_offered"] += m["n"]
        if m["fulfilled"]:
            month["spend"] = (month["spend"] or ZERO) + m["cost"]
            total += m["cost"]
            fulfilled += m["fulfilled"]
    return by_month, {"total": total if fulfilled else None, "outcomes": fulfilled}


def _gesture_fields(ids: Iterable[str]) -> Any:
    known = {str(pk): (code, title) for pk, code, title in Gesture.objects.filter(
        pk__in=[int(i) for i in ids if i]).values_list("pk", "code", "title")}

    def convert(key: str) -> dict[str, Any]:
        code, title = known.get(key, (None, None))
        return {"outcome__offered_gesture__code": code, "outcome__offered_gesture__title": title}

    return convert


def _month_date(key: str) -> dict[str, Any]:
    year, month = key.split("-")
    return {"month": date(int(year), int(month), 1)}


def _never(cells: dict[Cell, dict[str, Any]]) -> dict[str, Any]:
    totals = {days: {"n": 0, "s": 0} for days in window_days()}
    by_month: dict[int, dict[str, dict[str, Any]]] = {days: {} for days in window_days()}
    for (name, days, _, _, key), m in sorted(cells.items()):
        if name != "never" or days not in totals:
            continue
        totals[days]["n"] += m["n"]
        totals[days]["s"] += m["s"]
        if m["n"]:
            by_month[days][key] = rate(m["s"], m["n"])
    return {"never": {days: rate(t["s"], t["n"]) for days, t in totals.items()}, "never_by_month": by_month}


def rollup_sources(f: MetricsFilter, now: datetime) -> Sources | None:
    """The default view's aggregate rows from the rollup; None without a rollup or for a filtered view."""
    if not f.is_default:
        return None
    mark = OutcomeRollupMark.objects.first()
    if mark is None or mark.never_days != never_days():
        return None
    cells = _cells_at(now, mark)
    spend_by_month, spend = _spend(cells)
    gesture_ids = {key for (name, *_, key) in cells if name == "gesture"}
    return Sources(
        totals=_totals(cells),
        causes=_breakdown(cells, "cause", lambda key: {"outcome__cause": key}),
        grades=_breakdown(cells, "grade", lambda key: {"outcome__grade": key}),
        tiers=_breakdown(cells, "tier", lambda key: {"outcome__tier": key}),
        gestures=_breakdown(cells, "gesture", _gesture_fields(gesture_ids)),
        months=_breakdown(cells, "month", _month_date),
        **_never(cells),
        randomised=randomised(f, now),
        spend_by_month=spend_by_month,
        spend=spend,
    )
