"""Run the periodic sweeps once (or every N seconds): the embedded mode's stand-in for Celery beat.

Each area adds its sweep task to SWEEPS. The sweeps run in this process; work they fan out goes to the
broker when one is configured, or runs right here (eager) when not.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand

from notifications.tasks import notification_email_sweep_task, webhook_deliveries_sweep_task
from recovery.tasks.escalation import sla_sweep_task
from recovery.tasks.offers import approval_requests_sweep_task
from recovery.tasks.outcomes import (
    gesture_learning_recompute_task,
    outcome_metrics_refresh_task,
    outcome_reconcile_task,
    outcome_windows_settle_task,
)
from tickets.helpdesks.tasks import helpdesk_deliveries_sweep_task

# Task callables, run in this order. Add yours here and to CELERY_BEAT_SCHEDULE.
SWEEPS: list[Callable[[], Any]] = [
    sla_sweep_task,
    approval_requests_sweep_task,
    notification_email_sweep_task,
    webhook_deliveries_sweep_task,
    outcome_reconcile_task,
    outcome_windows_settle_task,
    gesture_learning_recompute_task,
    outcome_metrics_refresh_task,
    helpdesk_deliveries_sweep_task,
]


class Command(BaseCommand):
    help = "Run the periodic sweeps (SLA, emails, …) once; with --every N, keep running them every N seconds."

    def add_arguments(self, parser):
        parser.add_argument("--every", type=float, default=0, help="repeat every N seconds until interrupted")

    def handle(self, *args, every: float, **options):
        while True:
            for sweep in SWEEPS:
                name = getattr(sweep, "name", getattr(sweep, "__name__", repr(sweep)))
                try:
                    result = sweep()
                except Exception as exc:  # noqa: BLE001 - one failing sweep must not stop the others
                    self.stderr.write(self.style.ERROR(f"{name}: failed: {exc}"))
                else:
                    self.stdout.write(f"{name}: {result}")
            if not every:
                return
            time.sleep(every)
