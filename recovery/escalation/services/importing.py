"""Grading a history import: in-process before the bulk INSERT, and one task for the open ones after it."""


from __future__ import annotations

import logging
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone

from notifications.queue import enqueue_on_commit
from recovery.escalation import selectors as sel
from recovery.escalation.facts import grade_signals, hours_unanswered
from recovery.escalation.grading import grade_experience
from recovery.escalation.services.common import reasons_json
from recovery.vocabulary import CLOSED_STATUSES
from tickets.models import Complaint, Customer

logger = logging.getLogger(__name__)


# --- imported history --------------------------------------------------------------------------


def complaints_grade_importing(
    *, complaints: Sequence[Complaint], comments: Sequence[Sequence[str]], now: datetime | None = None
) -> None:
    """Grade a batch of imported complaints before they are inserted (tickets' `complaints_importing`).

    Sets grade, risk_score, grade_reasons (and assessed_at on closed ones) on the unsaved instances; two queries per batch
    (the customers, and their earlier complaints for the repeat count), whatever its size.
    """
    if not complaints:
        return
    now = now or timezone.now()
    config = sel.grading_config()
    # Only what grading reads of a customer: a third of the cost of loading whole rows.
    customers = Customer.objects.only("id", "lifetime_value", "social_reach").in_bulk({c.customer_id for c in complaints})
    earliest = min(c.created_at for c in complaints) - sel.REPEAT_WINDOW
    latest = max(c.created_at for c in complaints)
    history: dict[int, list[datetime]] = defaultdict(list)
    for customer_id, created in Complaint.objects.filter(
        customer_id__in=list(customers), created_at__gte=earliest, created_at__lt=latest
    ).values_list("customer_id", "created_at"):
        history[customer_id].append(created)
    for complaint in complaints:  # the batch's own complaints count as earlier ones too
        history[complaint.customer_id].append(complaint.created_at)
    for times in history.values():
        times.sort()
    for complaint, said in zip(complaints, comments, strict=True):
        complaint.customer = customers[complaint.customer_id]
        times = history[complaint.customer_id]
        repeat = bisect_left(times, complaint.created_at) - bisect_left(times, complaint.created_at - sel.REPEAT_WINDOW)
        hours = hours_unanswered(complaint, None, now)
        newest_first = list(reversed(said))[: sel.CUSTOMER_COMMENT_LIMIT]
        grade = grade_experience(grade_signals(complaint, hours=hours, repeat_count=repeat, comments=newest_first), config)
        complaint.grade, complaint.risk_score, complaint.grade_reasons = grade.grade, grade.score, reasons_json(grade)
        # Closed: this is its assessment. Open: the normal assessment follows and stamps assessed_at (until then
        # the SLA sweep counts it as never assessed, so a lost task is caught).
        complaint.assessed_at = now if complaint.status in CLOSED_STATUSES else None


def complaints_imported_assess(*, complaints: Sequence[Complaint]) -> int:
    """After a batch of imported complaints is inserted (tickets' `complaints_imported`): queue the open ones for
    the normal assessment (rules, escalation, notifications) on commit. A closed one is history: it keeps the
    grade it went in with; no rules run, nothing is escalated, nobody is notified. Returns how many were queued."""
    open_ids = [c.pk for c in complaints if c.status not in CLOSED_STATUSES]
    if open_ids:
        from recovery.escalation.tasks import complaints_assess_many_task

        # One message per batch; the worker fans it out. If it is lost, the SLA sweep's never-assessed pass
        # finds them: an open imported complaint has its grade but no assessed_at until it is assessed.
        enqueue_on_commit(complaints_assess_many_task, open_ids, "imported")
    return len(open_ids)
