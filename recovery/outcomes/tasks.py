"""Celery tasks for outcomes: each takes ids (or nothing) and calls one service; all are safe to run twice."""

from __future__ import annotations

from celery import shared_task

from notifications.queue import enqueue_on_commit
from recovery.outcomes import metrics, services

__all__ = [
    "gesture_learning_recompute_task",
    "outcome_metrics_refresh_task",
    "outcome_open_task",
    "outcome_reconcile_task",
    "outcome_windows_close_task",
    "outcome_windows_settle_task",
]


@shared_task(name="recovery.tasks.outcomes.outcome_open_task", acks_late=True)
def outcome_open_task(complaint_id: int) -> str:
    """Open (or re-anchor) the outcome of a resolved complaint."""
    return services.outcome_open(complaint_id=complaint_id).action


@shared_task(name="recovery.tasks.outcomes.outcome_windows_close_task", acks_late=True)
def outcome_windows_close_task(customer_ids: list[int]) -> int:
    """Close the windows that these customers' new activity falls in; returns how many changed."""
    return services.outcome_windows_close(customer_ids=customer_ids).returned


@shared_task(name="recovery.tasks.outcomes.outcome_windows_settle_task", acks_late=True)
def outcome_windows_settle_task() -> dict[str, int]:
    """Beat: settle elapsed windows; when any changed, relearn and refresh the metrics."""
    result = services.outcome_windows_settle()
    if result.changed:
        enqueue_on_commit(gesture_learning_recompute_task)
        enqueue_on_commit(outcome_metrics_refresh_task)
    return {"returned": result.returned, "not_returned": result.not_returned}


@shared_task(name="recovery.tasks.outcomes.outcome_reconcile_task", acks_late=True)
def outcome_reconcile_task() -> dict[str, int]:
    """Beat: queue openings that never happened (broker outage, gesture fulfilled after resolution)."""
    result = services.outcome_reconcile()
    return {"missing": result.missing, "late_gesture": result.late_gesture}


@shared_task(name="recovery.tasks.outcomes.gesture_learning_recompute_task", acks_late=True)
def gesture_learning_recompute_task() -> int:
    """Beat and after settling: rebuild the (cause, gesture) counts the ranking learns from."""
    return services.gesture_learning_recompute().changed


@shared_task(name="recovery.tasks.outcomes.outcome_metrics_refresh_task", acks_late=True)
def outcome_metrics_refresh_task() -> int:
    """Beat and after settling: recompute the dashboard's default metrics into the cache."""
    return metrics.recovery_metrics_refresh()
