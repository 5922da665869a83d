"""The dashboard's numbers from the aggregate rows (queries.py or rollup.py): rates, intervals, differences,
money and breakdowns. No queries here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings

from recovery import formatting
from recovery.outcomes.config import window_days
from recovery.outcomes.learning import THIN_N
from recovery.outcomes.metrics.filters import MetricsFilter
from recovery.outcomes.metrics.queries import Sources
from recovery.outcomes.stats import (
    cost_per_extra_return,
    difference_interval,
    flag_cells,
    money_summary,
    month_key,
    month_label,
    months_between,
    rate,
    sort_cells,
)
from tickets.models import Cause, Grade, Tier

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
    # By code, so the order (and Holm's handling of ties) never depends on the order rows arrived in.
    for row in sorted(rows, key=lambda row: str(row["outcome__offered_gesture__code"])):
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


def _window(days: int, sources: Sources) -> tuple[dict[str, Any], dict[str, Any]]:
    """One window's headline: offered (declined included) against not offered, with fulfilment and watching."""
    totals = sources.totals
    accepted = totals.get((days, True, False), EMPTY)
    declined = totals.get((days, True, True), EMPTY)
    offered_row = _merge(accepted, declined)
    other_row = _merge(totals.get((days, False, False), EMPTY), totals.get((days, False, True), EMPTY))
    compared = _compare({True: offered_row, False: other_row})
    window = {
        "days": days,
        **compared,
        "declined": _rate_of(declined),
        "fulfilment": {
            "offered": offered_row["n"],
            "fulfilled": offered_row["fulfilled"],
            "fulfilled_after_resolution": offered_row["late"],
            "declined": declined["n"],
        },
        "never_complained": sources.never[days],
        "watching": {"offered": offered_row["watching"], "not_offered": other_row["watching"]},
    }
    return window, compared


def _breakdowns(days: int, sources: Sources, f: MetricsFilter, not_offered: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "cause": _choice_breakdown(sources.causes.get(days, []), "cause", Cause.choices),
        "grade": _choice_breakdown(sources.grades.get(days, []), "grade", Grade.choices),
        "tier": _choice_breakdown(sources.tiers.get(days, []), "tier", Tier.choices),
        "gesture": _gesture_breakdown(sources.gestures.get(days, []), not_offered),
        "month": _month_breakdown(f, sources.months.get(days, []), sources.never_by_month[days], sources.spend_by_month),
        "randomised": sources.randomised.get(days, []),
    }


def dataset_of(sources: Sources, f: MetricsFilter, now: datetime) -> dict[str, Any]:
    """Every metric for every window under this filter (its window is ignored), from the aggregate rows."""
    windows, breakdowns = [], {}
    for days in window_days():
        window, compared = _window(days, sources)
        windows.append(window)
        breakdowns[days] = _breakdowns(days, sources, f, compared["not_offered"])
    return {
        "computed_at": now.isoformat(),
        "currency": settings.DEFAULT_CURRENCY,
        "caveat": CAVEAT,
        "thin_n": THIN_N,
        "windows": windows,
        "breakdowns": breakdowns,
        "spend": {
            "gesture_cost": formatting.money_str(sources.spend["total"]),
            "fulfilled_outcomes": sources.spend["outcomes"],
        },
    }


def view_of(dataset: Mapping[str, Any], f: MetricsFilter) -> dict[str, Any]:
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


