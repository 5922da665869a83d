"""What the metrics measure: the dashboard's filter, and the conditions every query shares."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import Any

from django.db.models import Q

from recovery.models import OutcomeWindow
from recovery.outcomes.config import learning_window_days, window_days
from recovery.outcomes.stats import month_start, next_month_start

CACHE_PREFIX = "recovery:metrics:v3:"
State = OutcomeWindow.State


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

    @property
    def is_default(self) -> bool:
        """No filter but the window: the view the rollup serves and the Celery task keeps warm."""
        return not (self.narrows_complainers or self.month_from or self.month_to)


def outcome_q(f: MetricsFilter, prefix: str = "") -> Q:
    q = Q()
    if f.cause:
        q &= Q(**{f"{prefix}cause": f.cause})
    if f.grade:
        q &= Q(**{f"{prefix}grade": f.grade})
    if f.tier:
        q &= Q(**{f"{prefix}tier": f.tier})
    if f.gesture:
        q &= Q(**{f"{prefix}offered": False}) | Q(**{f"{prefix}offered_gesture__code": f.gesture})
    q &= period_q(f, f"{prefix}anchor_at")
    return q


def period_q(f: MetricsFilter, field: str) -> Q:
    q = Q()
    if f.month_from:
        q &= Q(**{f"{field}__gte": month_start(f.month_from)})
    if f.month_to:
        q &= Q(**{f"{field}__lt": next_month_start(f.month_to)})
    return q


def decided_q(now: datetime) -> Q:
    return Q(ends_at__lte=now) & ~Q(state=State.PENDING)


