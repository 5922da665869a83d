"""Recovery listens to tickets' domain events: every logged or changed complaint is graded and run
through the escalation rules, in a task queued after the transaction commits."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from notifications.queue import enqueue_on_commit
from recovery.escalation.tasks import complaint_assess_task, complaints_assess_many_task
from tickets.signals import (
    complaint_changed,
    complaint_logged,
    complaints_imported,
    complaints_importing,
    complaints_logged,
)

# Changes that cannot move a grade or a rule: not worth an assessment. Everything else (including fields
# added later) is assessed; the fingerprint makes an assessment of an unchanged complaint a no-op.
# Subject and description are not cosmetic: grading reads the customer's words in them (recovery/escalation/phrases.py).
COSMETIC_FIELDS = frozenset({"currency", "occurred_at", "assignee"})


@receiver(complaint_logged, dispatch_uid="recovery.assess_logged_complaint")
def assess_logged_complaint(sender: Any, complaint_id: int, **kwargs: Any) -> None:
    enqueue_on_commit(complaint_assess_task, complaint_id, "logged")


@receiver(complaints_logged, dispatch_uid="recovery.assess_logged_complaints")
def assess_logged_complaints(sender: Any, complaint_ids: list[int], **kwargs: Any) -> None:
    # One message per chunk of a batch; the worker fans it out to one assessment per complaint.
    enqueue_on_commit(complaints_assess_many_task, list(complaint_ids), "logged")


@receiver(complaint_changed, dispatch_uid="recovery.assess_changed_complaint")
def assess_changed_complaint(sender: Any, complaint_id: int, changed: frozenset[str] = frozenset(), **kwargs: Any) -> None:
    if changed and set(changed) <= COSMETIC_FIELDS:
        return
    enqueue_on_commit(complaint_assess_task, complaint_id, "changed")


@receiver(complaints_importing, dispatch_uid="recovery.grade_importing_complaints")
def grade_importing_complaints(sender: Any, complaints: list[Any], comments: list[list[str]], **kwargs: Any) -> None:
    # In-process, before the INSERT: a history import grades thousands of complaints a second this way, where a
    # task (or an UPDATE) per complaint would not.
    from recovery.escalation.services import complaints_grade_importing

    complaints_grade_importing(complaints=complaints, comments=comments)


@receiver(complaints_imported, dispatch_uid="recovery.assess_imported_complaints")
def assess_imported_complaints(sender: Any, complaints: list[Any], **kwargs: Any) -> None:
    from recovery.escalation.services import complaints_imported_assess

    complaints_imported_assess(complaints=complaints)
