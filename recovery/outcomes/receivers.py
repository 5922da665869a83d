"""Outcomes listen to tickets' `complaint_changed`: a complaint that becomes resolved or closed gets its
outcome opened, in a task queued after the transaction commits. A complaint logged or imported ends its
A complaint imported from history ends its
customer's never-complained anchor when that anchor is not earlier than the complaint (metrics rollup). One logged
live is dated now, so it can only end an anchor stamped ahead of the clock, which no rate counts yet: the sweep
recomputes anchors as their windows end, and a read checks the few it adds (services/rollup.py). Connected when recovery's app is ready
(recovery/apps.py imports this module)."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef
from django.dispatch import receiver

from notifications.queue import enqueue_on_commit
from recovery.models import NeverComplainedAnchor
from tickets.models import Complaint, Status
from tickets.signals import complaint_changed, complaints_imported


@receiver(complaint_changed, dispatch_uid="recovery.outcomes.complaint_changed")
def complaint_changed_receiver(sender: Any, complaint_id: int, changed: frozenset[str], **kwargs: Any) -> None:
    """A status change to resolved or closed queues the outcome's opening."""
    if "status" not in changed:
        return
    status = Complaint.objects.filter(pk=complaint_id).values_list("status", flat=True).first()
    if status in (Status.RESOLVED, Status.CLOSED):
        from recovery.outcomes.tasks import outcome_open_task

        enqueue_on_commit(outcome_open_task, complaint_id)


def _anchors_ended(complaint_ids: list[int]) -> None:
    """One query: customers of these complaints whose anchor is at or after the complaint; their anchors are
    recomputed."""
    customers = sorted(set(
        Complaint.objects.filter(pk__in=complaint_ids)
        .filter(Exists(NeverComplainedAnchor.objects.filter(customer_id=OuterRef("customer_id"),
                                                            occurred_at__gte=OuterRef("created_at"))))
        .values_list("customer_id", flat=True)
    ))
    if customers:
        from recovery.outcomes.services.rollup import never_complained_kept

        never_complained_kept(customers)


@receiver(complaints_imported, dispatch_uid="recovery.outcomes.complaints_imported")
def complaints_imported_receiver(sender: Any, complaints: list[Any], **kwargs: Any) -> None:
    _anchors_ended([complaint.pk for complaint in complaints])
