"""Celery tasks of approvals. Each takes ids and calls one service; the services claim their row with a
conditional UPDATE, so running a task twice reminds or moves a request once (acks_late is safe)."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from recovery.offers import services

__all__ = ["approval_escalate_task", "approval_remind_task", "approval_requests_sweep_task"]


@shared_task(name="recovery.tasks.offers.approval_requests_sweep_task", acks_late=True)
def approval_requests_sweep_task() -> dict[str, int]:
    """Beat: queue a reminder for requests waiting too long, and a move up for those still waiting after it."""
    result = services.approval_requests_sweep()
    return {"reminded": result.reminded, "escalated": result.escalated}


@shared_task(
    name="recovery.tasks.offers.approval_remind_task",
    acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5,
)
def approval_remind_task(approval_id: int) -> bool:
    return services.approval_remind(approval_id=approval_id)


@shared_task(
    name="recovery.tasks.offers.approval_escalate_task",
    acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5,
)
def approval_escalate_task(approval_id: int) -> bool:
    return services.approval_escalate(approval_id=approval_id) is not None
