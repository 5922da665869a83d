"""Builders for the offers and approvals tests: gestures with plain defaults, graded complaints, people by role."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.models import Group

from recovery.models import Assessment, Gesture
from tests.factories import ComplaintFactory, CustomerFactory, UserFactory
from tickets.models import Cause, Complaint

ALL_CAUSES = [value for value, _ in Cause.choices]


def gesture(code: str = "test_note", **overrides: Any) -> Gesture:
    fields: dict[str, Any] = {
        "title": code.replace("_", " ").capitalize(),
        "script": "Say sorry for the specific thing and tell them what happens next.",
        "resource_kind": "attention",
        "causes": ALL_CAUSES,
        "cost": Decimal("5.00"),
        "perceived_value": Decimal("30.00"),
        "surprise": 2,
        "min_grade": "good",
        "approval_tier": "frontline",
        "per_customer_per_year": 1,
    }
    fields.update(overrides)
    return Gesture.objects.create(code=code, **fields)


def complaint(*, grade: str = "ugly", cause: str = "ignored", loss: str = "100.00", ltv: str = "2000.00", **kw: Any) -> Complaint:
    customer = kw.pop("customer", None) or CustomerFactory(lifetime_value=Decimal(ltv))
    return ComplaintFactory(customer=customer, cause=cause, grade=grade, monetary_loss=Decimal(loss), **kw)


def require_approval(complaint: Complaint, tier: str) -> Assessment:
    """What the escalation engineer's assessment writes when a rule requires approval for a tier."""
    return Assessment.objects.create(
        complaint=complaint, trigger="manual", grade=complaint.grade or "bad", score=50, fingerprint="x",
        decision={"require_approval": tier, "target_tier": "frontline"},
    )


def person(username: str, role: str | None, **kw: Any):
    """A user in a role group; creates the group when a transactional test flushed the migrated ones."""
    user = UserFactory(username=username, **kw)
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user
