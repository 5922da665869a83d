"""Builders for outcome tests: gestures, resolved complaints with or without a fulfilled gesture, activity."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from recovery.models import CustomerActivity, Gesture, Offer, OutcomeWindow, RecoveryOutcome
from recovery.outcomes import services
from tests.factories import ComplaintFactory, CustomerFactory
from tickets.models import Complaint, Customer, Status

_ids = itertools.count(1)


def make_gesture(code: str = "handwritten_note", *, cost: str = "5.00", causes=None) -> Gesture:
    gesture, _ = Gesture.objects.get_or_create(
        code=code,
        defaults={
            "title": code.replace("_", " ").capitalize(),
            "script": "Do it well.",
            "resource_kind": "attention",
            "causes": causes or ["product_quality", "ignored", "pricing", "staff_conduct", "service_delay", "failed_fix", "other"],
            "cost": Decimal(cost),
            "perceived_value": Decimal(cost) * 3,
            "surprise": 2,
        },
    )
    return gesture


def make_resolved_complaint(
    *,
    resolved_at: datetime,
    customer: Customer | None = None,
    created_at: datetime | None = None,
    fulfilled_at: datetime | None = None,
    gesture: Gesture | None = None,
    cost: str = "25.00",
    closed_unresolved: bool = False,
    **fields,
) -> Complaint:
    """A complaint resolved at `resolved_at` (set directly, no signal), with a fulfilled offer when fulfilled_at
    is given; with closed_unresolved it is closed at that time without ever having been resolved."""
    complaint = ComplaintFactory(customer=customer or CustomerFactory(), **fields)
    Complaint.objects.filter(pk=complaint.pk).update(
        status=Status.CLOSED if closed_unresolved else Status.RESOLVED,
        created_at=created_at or resolved_at - timedelta(hours=20),
        resolved_at=None if closed_unresolved else resolved_at,
        closed_at=resolved_at if closed_unresolved else None,
    )
    if fulfilled_at is not None:
        Offer.objects.create(
            complaint=complaint,
            gesture=gesture or make_gesture(),
            cost=Decimal(cost),
            status=Offer.Status.FULFILLED,
            fulfilled_at=fulfilled_at,
        )
    complaint.refresh_from_db()
    return complaint


def open_outcome(complaint: Complaint, *, now: datetime | None = None) -> RecoveryOutcome:
    result = services.outcome_open(complaint_id=complaint.pk, now=now)
    assert result.outcome is not None, result
    return result.outcome


def add_activity(
    customer: Customer,
    at: datetime,
    *,
    kind: str = CustomerActivity.Kind.PURCHASE,
    amount: str = "40.00",
    currency: str = "GBP",
    source: str = "shop",
    external_id: str | None = None,
) -> CustomerActivity:
    return CustomerActivity.objects.create(
        customer=customer,
        kind=kind,
        occurred_at=at,
        amount=Decimal(amount),
        currency=currency,
        source=source,
        external_id=external_id or f"act-{next(_ids)}",
    )


def states(outcome: RecoveryOutcome) -> dict[int, str]:
    return dict(OutcomeWindow.objects.filter(outcome=outcome).order_by("days").values_list("days", "state"))


def window(outcome: RecoveryOutcome, days: int) -> OutcomeWindow:
    return OutcomeWindow.objects.get(outcome=outcome, days=days)
