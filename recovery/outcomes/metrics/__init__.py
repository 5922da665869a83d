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

The default view is read from the rollup (rollup.py; kept by services/rollup.py), filtered views from about a
dozen aggregate queries (queries.py); both give the same numbers, assembled by assemble.py. Results are cached
for METRICS_CACHE_SECONDS and refreshed by a Celery task.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from recovery.outcomes.metrics.assemble import CAVEAT, GROUP_LABELS, GROUPS, dataset_of, view_of
from recovery.outcomes.metrics.filters import CACHE_PREFIX, MetricsFilter
from recovery.outcomes.metrics.queries import direct_sources
from recovery.outcomes.metrics.rollup import rollup_sources
from recovery.outcomes.stats import cost_per_extra_return, difference_interval, rate

__all__ = [
    "CACHE_PREFIX", "CAVEAT", "GROUPS", "GROUP_LABELS", "MetricsFilter", "cost_per_extra_return",
    "difference_interval", "rate", "recovery_metrics", "recovery_metrics_compute", "recovery_metrics_refresh",
]

logger = logging.getLogger(__name__)

Source = Literal["auto", "direct", "rollup"]


def _dataset(f: MetricsFilter, now: datetime, source: Source = "auto") -> dict[str, Any]:
    """Every metric for every window under this filter (its window is ignored).

    `auto` reads the rollup (recovery/outcomes/metrics/rollup.py) when it exists and serves this filter,
    else the direct aggregate queries; both give the same numbers. `rollup` insists (an error without one).
    """
    sources = rollup_sources(f, now) if source != "direct" else None
    if sources is None:
        if source == "rollup":
            raise LookupError("No metrics rollup serves this filter: run `manage.py outcome_rollup_rebuild`.")
        sources = direct_sources(f, now)
    return dataset_of(sources, f, now)


def recovery_metrics_compute(f: MetricsFilter, *, now: datetime | None = None, source: Source = "auto") -> dict[str, Any]:
    """Every outcome metric for this filter, as plain JSON-friendly data (money as strings); never cached.

    `source="direct"` skips the rollup: the aggregate queries over the outcome tables themselves.
    """
    return view_of(_dataset(f, now or timezone.now(), source), f)


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
    return view_of(dataset, f)


def recovery_metrics_refresh() -> int:
    """Recompute the unfiltered metrics (all windows at once) into the cache; returns how many entries were stored."""
    if settings.METRICS_CACHE_SECONDS <= 0:
        return 0
    f = MetricsFilter()
    cache.set(f.cache_key(), _dataset(f, timezone.now()), settings.METRICS_CACHE_SECONDS)
    return 1
