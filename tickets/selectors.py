"""Every read the UI and the API need, with joins done up front."""

from __future__ import annotations

from django.db.models import Count, Prefetch, QuerySet

from tickets.models import Comment, Complaint, Customer, TimelineEvent, pk_from_reference


def complaint_list() -> QuerySet[Complaint]:
    return Complaint.objects.select_related("customer", "assignee")


def complaint_get(*, reference: str) -> Complaint | None:
    pk = pk_from_reference(reference)
    if pk is None:
        return None
    return complaint_list().filter(pk=pk).first()


def complaint_timeline(*, complaint: Complaint) -> QuerySet[TimelineEvent]:
    return TimelineEvent.objects.filter(complaint=complaint).select_related("actor_user", "actor_key")


def complaint_comments(*, complaint: Complaint) -> QuerySet[Comment]:
    return Comment.objects.filter(complaint=complaint).select_related("author")


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.prefetch_related("references").annotate(complaint_count=Count("complaints"))


def customer_get(*, customer_id: int) -> Customer | None:
    recent = Complaint.objects.order_by("-created_at", "-id")
    return (
        Customer.objects.prefetch_related("references", Prefetch("complaints", queryset=recent))
        .filter(pk=customer_id)
        .first()
    )
