"""The statistics of the outcome metrics (pure): Wilson intervals, Newcombe differences, Holm's correction,
inverse-propensity-weighted rates, cost per extra return, and the month arithmetic the breakdowns use.
recovery/outcomes/metrics.py runs the queries and calls these."""


from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from recovery import formatting
from recovery.outcomes.learning import THIN_N

logger = logging.getLogger(__name__)


Z95 = 1.959963984540054



# --- Pure helpers ---------------------------------------------------------------------------------


def _wilson(p: float, n: float) -> tuple[float, float]:
    """Wilson score interval for a share p measured on n (n may be fractional: an effective size)."""
    if n <= 0:
        return 0.0, 1.0
    z2 = Z95 * Z95
    denominator = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    margin = Z95 * math.sqrt(max(p * (1 - p) / n + z2 / (4 * n * n), 0.0)) / denominator
    return max(0.0, centre - margin), min(1.0, centre + margin)


def rate(returned: int, customers: int, *, clusters: int | None = None) -> dict[str, Any]:
    """A return rate with its 95% Wilson interval; rate is None when nobody was measured.

    `customers` counts outcomes; `clusters`, when given, how many distinct customers they belong to.
    The interval's width is then worked out on the distinct customers — conservative when some
    customers complained several times, since their outcomes are not independent evidence.
    """
    if returned < 0 or customers < 0 or returned > customers:
        raise ValueError(f"need 0 <= returned <= customers, got {returned}/{customers}")
    p = returned / customers if customers else None
    n_eff = min(customers, clusters) if clusters else customers
    low, high = _wilson(p, n_eff) if p is not None else (0.0, 1.0)
    return {
        "customers": customers,
        "returned": returned,
        "rate": p,
        "low": low,
        "high": high,
        "effective_n": n_eff,
        "thin": customers < THIN_N,
    }


def _p_value(a: Mapping[str, Any], b: Mapping[str, Any]) -> float:
    """Two-sided p-value of the two-proportion z-test (pooled), on the effective sizes."""
    na, nb = a.get("effective_n", a["customers"]), b.get("effective_n", b["customers"])
    pooled = (a["rate"] * na + b["rate"] * nb) / (na + nb)
    variance = pooled * (1 - pooled) * (1 / na + 1 / nb)
    if variance <= 0:
        return 1.0 if a["rate"] == b["rate"] else 0.0
    z = abs(a["rate"] - b["rate"]) / math.sqrt(variance)
    return math.erfc(z / math.sqrt(2))


def difference_interval(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any] | None:
    """a's rate minus b's, with Newcombe's hybrid score interval (method 10); None without data on both.

    `clear` is True when the interval leaves out zero (before any correction for many comparisons).
    """
    if not a["customers"] or not b["customers"]:
        return None
    pa, pb = a["rate"], b["rate"]
    difference = pa - pb
    low = difference - math.sqrt((pa - a["low"]) ** 2 + (b["high"] - pb) ** 2)
    high = difference + math.sqrt((a["high"] - pa) ** 2 + (pb - b["low"]) ** 2)
    return {
        "points": difference,
        "low": low,
        "high": high,
        "clear": low > 0 or high < 0,
        "p_value": _p_value(a, b),
        "thin": bool(a.get("thin") or b.get("thin")),
    }


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: adjusted p-values in the input order (each ≤ 1, order kept)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [1.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def flag_cells(differences: Sequence[dict[str, Any] | None], *, alpha: float = 0.05) -> None:
    """Mark each difference of one table `clear` only when its Holm-adjusted p-value is under `alpha`,
    its Newcombe interval leaves out zero, and both of its rates rest on at least THIN_N customers."""
    present = [d for d in differences if d is not None]
    for difference, adjusted in zip(present, holm([d["p_value"] for d in present]), strict=True):
        difference["p_adjusted"] = adjusted
        difference["clear"] = bool(difference["clear"] and adjusted < alpha and not difference["thin"])




def cost_per_extra_return(cost: Decimal, offered: Mapping[str, Any], difference: Mapping[str, Any] | None) -> dict[str, Any]:
    """What each extra customer who came back cost, with its 95% interval — only when the difference is clear.

    Extra returns = offered customers × the difference; its interval comes from the difference's. When the
    difference is not clear (its interval reaches zero) the cost could be anything up to infinite, so none
    is given and `reason` says why.
    """
    if difference is None:
        return {"value": None, "low": None, "high": None, "extra_returns": None, "reason": "needs both groups measured"}
    n = offered["customers"]
    extra = n * difference["points"]
    if not difference["clear"] or difference["low"] <= 0:
        return {
            "value": None,
            "low": None,
            "high": None,
            "extra_returns": round(extra, 1),
            "reason": "the difference is not clear, so neither is its cost",
        }
    high_extra, low_extra = n * difference["high"], n * difference["low"]
    return {
        "value": formatting.money_str(cost / Decimal(str(extra))),
        "low": formatting.money_str(cost / Decimal(str(high_extra))),
        "high": formatting.money_str(cost / Decimal(str(low_extra))),
        "extra_returns": round(extra, 1),
        "reason": "",
    }


def money_summary(
    offered: Mapping[str, Any],
    not_offered: Mapping[str, Any],
    cost: Decimal,
    revenue: Decimal,
    other_revenue: Decimal,
    difference: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What the offered group cost and brought back, for the windows counted in `offered`."""
    returned = offered["returned"]
    if difference is None:
        difference = difference_interval(offered, not_offered)
    return {
        "gesture_cost": formatting.money_str(cost),
        "cost_per_returned_customer": formatting.money_str(cost / returned) if returned else None,
        "cost_per_extra_return": cost_per_extra_return(cost, offered, difference),
        "revenue_after_offer": formatting.money_str(revenue),
        "revenue_minus_gesture_cost": formatting.money_str(revenue - cost),
        "revenue_per_offered_customer": formatting.money_str(revenue / offered["customers"]) if offered["customers"] else None,
        "revenue_per_not_offered_customer": (
            formatting.money_str(other_revenue / not_offered["customers"]) if not_offered["customers"] else None
        ),
    }


def ipw_rate(rows: Iterable[tuple[float, bool]]) -> dict[str, Any]:
    """Inverse-propensity-weighted (Hájek) return rate from (propensity, came back) of randomised cases.

    Each case counts 1 / the chance it had of being assigned this gesture, so gestures drawn rarely
    are not under-represented; the interval uses the sandwich variance of the weighted mean.
    """
    weighted = [(1.0 / p, 1.0 if back else 0.0) for p, back in rows if p and p > 0]
    n = len(weighted)
    if not n:
        return {"customers": 0, "rate": None, "low": 0.0, "high": 1.0, "thin": True}
    total = sum(w for w, _ in weighted)
    mean = sum(w * y for w, y in weighted) / total
    se = math.sqrt(sum((w * (y - mean)) ** 2 for w, y in weighted)) / total
    return {
        "customers": n,
        "returned": sum(1 for _, y in weighted if y),
        "rate": mean,
        "low": max(0.0, mean - Z95 * se),
        "high": min(1.0, mean + Z95 * se),
        "thin": n < THIN_N,
    }


def sort_cells(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Well-measured cells first; within each group by the lower end of the 95% interval, so 1 of 1 (100%, but an
    interval reaching far down) never outranks 40 of 50; cells with too few customers after them, whatever their rate."""
    return sorted(
        rows,
        key=lambda r: (
            r[key]["thin"], -(r[key]["low"] if r[key]["rate"] is not None else -1), -(r[key]["rate"] or 0),
            -r[key]["customers"], str(r["key"]),
        ),
    )


def month_key(value: datetime | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime) and timezone.is_aware(value):
        value = timezone.localtime(value)
    return f"{value.year:04d}-{value.month:02d}"


def month_label(key: str) -> str:
    year, month = key.split("-")
    return date(int(year), int(month), 1).strftime("%b %Y")


def months_between(first: str, last: str) -> list[str]:
    year, month = (int(part) for part in first.split("-"))
    keys = []
    while f"{year:04d}-{month:02d}" <= last:
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys


def month_start(day: date) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, 1), timezone.get_current_timezone())


def next_month_start(day: date) -> datetime:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return timezone.make_aware(datetime(year, month, 1), timezone.get_current_timezone())


# --- Queries --------------------------------------------------------------------------------------
