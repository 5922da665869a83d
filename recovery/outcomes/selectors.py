"""Reads for outcomes: one complaint's outcome, a customer's history, and the dashboard's work lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from recovery.models import CustomerActivity, Escalation, OutcomeWindow, RecoveryOutcome
from tickets.models import OPEN_STATUSES, Complaint, Customer, Grade, pk_from_reference

State = OutcomeWindow.State


def outcome_list() -> QuerySet[RecoveryOutcome]:
    windows = OutcomeWindow.objects.order_by("days")
    return RecoveryOutcome.objects.select_related("complaint", "gesture", "offer").prefetch_related(
        Prefetch("windows", queryset=windows)
    )


def outcome_for_complaint(*, complaint_id: int) -> RecoveryOutcome | None:
    return outcome_list().filter(complaint_id=complaint_id).first()


def complaint_by_reference(*, reference: str) -> Complaint | None:
    pk = pk_from_reference(reference)
    return Complaint.objects.filter(pk=pk).first() if pk is not None else None


def outcome_summary(outcome: RecoveryOutcome) -> str:
    """One word for the whole outcome: returned as soon as any window saw a return."""
    states = {window.state for window in outcome.windows.all()}
    if State.RETURNED in states:
        return "returned"
    if states and states <= {State.NOT_RETURNED}:
        return "not_returned"
    if State.NOT_RETURNED in states:
        return "partly_settled"
    return "watching"


@dataclass(frozen=True)
class CustomerHistory:
    customer: Customer
    complaints: list[Complaint]  # newest first; each has .outcome_or_none with windows prefetched
    activities: list[CustomerActivity]  # newest first, at most `activity_limit`
    activity_count: int
    revenue: Any


def customer_history(*, customer_id: int, activity_limit: int = 50) -> CustomerHistory | None:
    """A customer with every complaint and its outcome, and their recent activity. Five queries."""
    customer = Customer.objects.prefetch_related("references").filter(pk=customer_id).first()
    if customer is None:
        return None
    complaints = list(
        Complaint.objects.filter(customer_id=customer_id)
        .select_related("outcome", "outcome__gesture")
        .prefetch_related(Prefetch("outcome__windows", queryset=OutcomeWindow.objects.order_by("days")))
        .order_by("-created_at", "-id")
    )
    for complaint in complaints:
        complaint.outcome_or_none = getattr(complaint, "outcome", None)
    activities = CustomerActivity.objects.filter(customer_id=customer_id)
    totals = activities.aggregate(n=Count("id"), revenue=Sum("amount"))
    return CustomerHistory(
        customer=customer,
        complaints=complaints,
        activities=list(activities.order_by("-occurred_at", "-id")[:activity_limit]),
        activity_count=totals["n"],
        revenue=totals["revenue"],
    )


def open_ugly_complaints(*, limit: int = 15) -> tuple[list[Complaint], int]:
    """Open complaints graded ugly, oldest first (they have waited longest), and how many there are."""
    qs = Complaint.objects.filter(grade=Grade.UGLY, status__in=OPEN_STATUSES)
    return list(qs.select_related("customer", "assignee").order_by("created_at", "id")[:limit]), qs.count()


def overdue_complaints(*, now: datetime | None = None, limit: int = 15) -> tuple[list[Complaint], int]:
    """Open complaints past their response deadline (no first response yet) or their resolution deadline."""
    now = now or timezone.now()
    overdue = Q(response_due_at__lt=now, first_response_at__isnull=True) | Q(resolution_due_at__lt=now)
    qs = Complaint.objects.filter(overdue, status__in=OPEN_STATUSES)
    ordered = qs.select_related("customer", "assignee").order_by("resolution_due_at", "response_due_at", "id")
    complaints = list(ordered[:limit])
    for complaint in complaints:
        late_resolution = complaint.resolution_due_at is not None and complaint.resolution_due_at < now
        complaint.overdue_what = "resolution" if late_resolution else "first response"
        complaint.overdue_since = complaint.resolution_due_at if late_resolution else complaint.response_due_at
    return complaints, qs.count()


def overdue_escalations(*, now: datetime | None = None, limit: int = 15) -> tuple[list[Escalation], int]:
    """Escalations still waiting for acknowledgement after their acknowledgement deadline."""
    now = now or timezone.now()
    qs = Escalation.objects.filter(status=Escalation.Status.OPEN, ack_due_at__lt=now)
    return list(qs.select_related("complaint").order_by("ack_due_at", "id")[:limit]), qs.count()
