"""Outcomes listen to tickets' `complaint_changed`: a complaint that becomes resolved or closed gets its
outcome opened, in a task queued after the transaction commits. Connected when recovery's app is ready
(recovery/apps.py imports this module)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from notifications.queue import enqueue_on_commit
from tickets.models import Complaint, Status
from tickets.signals import complaint_changed


@receiver(complaint_changed, dispatch_uid="recovery.outcomes.complaint_changed")
def complaint_changed_receiver(sender: Any, complaint_id: int, changed: frozenset[str], **kwargs: Any) -> None:
    """A status change to resolved or closed queues the outcome's opening."""
    if "status" not in changed:
        return
    status = Complaint.objects.filter(pk=complaint_id).values_list("status", flat=True).first()
    if status in (Status.RESOLVED, Status.CLOSED):
        from recovery.outcomes.tasks import outcome_open_task

        enqueue_on_commit(outcome_open_task, complaint_id)
