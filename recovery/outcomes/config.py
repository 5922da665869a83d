"""Outcome configuration both reads and writes need: the window lengths and the one the learning counts."""


from __future__ import annotations

from django.conf import settings

LEARNING_WINDOW_DAYS = 60
# Activity more than this far in the future is a clock or data error, not a visit.


def window_days() -> tuple[int, ...]:
    """The configured window lengths in days, shortest first (OUTCOME_WINDOWS_DAYS)."""
    return tuple(settings.OUTCOME_WINDOWS_DAYS)


def learning_window_days() -> int:
    """The window the learning counts: 60 days, or the configured one nearest to it."""
    return min(window_days(), key=lambda days: (abs(days - LEARNING_WINDOW_DAYS), days))
