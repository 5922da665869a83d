"""Celery tasks of grading and escalation. Each takes ids and calls one service; the services make
running a task twice harmless."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from recovery.escalation import selectors, services

logger = logging.getLogger(__name__)

__all__ = [
    "backtest_run_task",
    "complaint_assess_task",
    "complaints_assess_many_task",
    "complaints_reassess_open_task",
    "sla_sweep_task",
]


@shared_task(
    name="recovery.complaint_assess", acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5
)
def complaint_assess_task(complaint_id: int, trigger: str = "manual") -> str:
    """Grade and escalate one complaint. Idempotent (fingerprint and row lock), so acks_late is safe."""
    return services.complaint_assess(complaint_id=complaint_id, trigger=trigger).outcome


def _fan_out(ids: list[int], trigger: str) -> int:
    queued = 0
    for complaint_id in ids:
        try:
            complaint_assess_task.delay(complaint_id, trigger)
            queued += 1
        except Exception:  # noqa: BLE001 - one bad complaint or a broker hiccup must not stop the sweep
            logger.exception("Could not assess complaint %s from the %s sweep", complaint_id, trigger)
    return queued


@shared_task(name="recovery.sla_sweep")
def sla_sweep_task() -> dict[str, int]:
    """Every minute: assess complaints past a deadline, re-grade unanswered ones as hours pass, pick up
    complaints never assessed, send acknowledgement reminders, and send again backtests whose task was lost
    (failing those whose worker died). Overlapping runs are harmless."""
    now = timezone.now()
    work = selectors.sla_sweep_work(now=now)
    queued = _fan_out(work.ids, "sweep")
    reminders = services.escalation_reminders_send(now=now)
    backtests = services.backtests_recover(now=now)
    return {"due": len(work.due), "regrade": len(work.regrade), "never_assessed": len(work.never_assessed),
            "queued": queued, "reminders": reminders, "backtests_resent": backtests["resent"],
            "backtests_stalled": backtests["stalled"]}


@shared_task(name="recovery.complaints_assess_many", acks_late=True)
def complaints_assess_many_task(complaint_ids: list[int], trigger: str = "imported") -> int:
    """Assess each of these complaints in its own task: one message from a bulk writer (the history import)
    instead of one per complaint. Safe twice: an assessment of an unchanged complaint is a no-op."""
    return _fan_out(list(complaint_ids), trigger)


@shared_task(name="recovery.complaints_reassess_open")
def complaints_reassess_open_task() -> int:
    """After the rules or grading settings change: judge every open complaint by them now."""
    return _fan_out(selectors.open_complaint_ids(), "rules_changed")


@shared_task(name="recovery.backtest_run", acks_late=True)
def backtest_run_task(run_id: int) -> Any:
    run = services.backtest_run(run_id=run_id)
    return run.status if run else "already-claimed"
