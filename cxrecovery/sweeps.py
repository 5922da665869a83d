"""The one list of periodic sweeps: Celery beat's schedule and `manage.py run_sweeps` are both built from it.

Plain data (task names, not task objects), so settings.py can build CELERY_BEAT_SCHEDULE before any app is
loaded. A sweep added here runs under beat in production and under `run_sweeps` (and `bin/run`'s sweep loop)
in the embedded mode; tests/test_sweeps.py proves the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sweep:
    key: str  # the beat schedule entry's name
    task: str  # the registered Celery task name
    every: float  # seconds between runs

    def beat_entry(self) -> dict:
        # A sweep that could not start in time is skipped, not stacked: the next run does the same work.
        return {"task": self.task, "schedule": self.every, "options": {"expires": max(self.every - 5, 1)}}


SWEEPS: tuple[Sweep, ...] = (
    # Escalation: deadlines passed, grades drifting as hours pass, complaints never assessed, reminders.
    Sweep("recovery-sla-sweep", "recovery.sla_sweep", 60.0),
    # Approvals waiting too long: remind, then move one tier up.
    Sweep("recovery-approvals-sweep", "recovery.tasks.offers.approval_requests_sweep_task", 900.0),
    # Emails whose task was lost (broker outage, killed worker) or whose send lease expired.
    Sweep("notifications-email-sweep", "notifications.tasks.notification_email_sweep_task", 120.0),
    # Webhook deliveries and customer reply emails: retries now due, and work whose task was lost.
    Sweep("notifications-deliveries-sweep", "notifications.tasks.webhook_deliveries_sweep_task", 60.0),
    # Helpdesk deliveries: re-queue the ones whose task was lost, delete raw bodies past their retention.
    Sweep("tickets-helpdesk-deliveries-sweep", "tickets.helpdesk_deliveries_sweep", 300.0),
    # Outcomes: openings that never happened, windows that elapsed, the learning and the dashboard's cache.
    Sweep("recovery-outcomes-reconcile", "recovery.tasks.outcomes.outcome_reconcile_task", 600.0),
    Sweep("recovery-outcomes-settle", "recovery.tasks.outcomes.outcome_windows_settle_task", 900.0),
    Sweep("recovery-gesture-learning", "recovery.tasks.outcomes.gesture_learning_recompute_task", 3600.0),
    Sweep("recovery-metrics-refresh", "recovery.tasks.outcomes.outcome_metrics_refresh_task", 300.0),
)


def beat_schedule() -> dict[str, dict]:
    return {sweep.key: sweep.beat_entry() for sweep in SWEEPS}
