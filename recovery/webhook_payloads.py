"""The JSON that recovery's events carry to webhook receivers (docs/webhooks.md). Same contract as
tickets/webhook_payloads.py: add fields freely; renaming or removing one raises EVENT_VERSION."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from notifications.services import event_publish, event_wanted, events_publish_many
from recovery.models import ApprovalRequest, Escalation, Offer, OutcomeWindow
from tickets.events import jsonable
from tickets.models import Complaint
from tickets.webhook_payloads import EVENT_VERSION, complaint_data

EVENTS = {
    "complaint.graded": "The experience grade of a complaint changed (or it was graded for the first time).",
    "complaint.escalated": "A complaint was escalated to a higher tier.",
    "escalation.acknowledged": "Someone at the tier acknowledged (or took over) an escalation.",
    "offer.proposed": "A make-good gesture was offered on a complaint.",
    "approval.requested": "An offer waits for approval at a tier.",
    "approval.decided": "An approval request was approved or rejected.",
    "offer.fulfilled": "The gesture was given to the customer.",
    "offer.declined": "The customer declined the gesture.",
    "outcome.settled": "A watch window after a recovery was decided: the customer returned, or did not.",
}


def _user(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def escalation_data(escalation: Escalation) -> dict[str, Any]:
    return {
        "id": escalation.pk,
        "from_tier": escalation.from_tier,
        "tier": escalation.tier,
        "status": escalation.status,
        "reason": escalation.reason,
        "rule_id": escalation.rule_id,
        "ack_due_at": escalation.ack_due_at,
        "acknowledged_at": escalation.acknowledged_at,
        "acknowledged_by": _user(escalation.acknowledged_by) if escalation.acknowledged_by_id else None,
    }


def offer_data(offer: Offer) -> dict[str, Any]:
    return {
        "id": offer.pk,
        "gesture": {"code": offer.gesture.code, "title": offer.gesture.title},
        "status": offer.status,
        "cost": offer.cost,
        "currency": offer.currency,
        "suggested": offer.suggested,
        "suggestion_rank": offer.suggestion_rank,
        "proposed_by": _user(offer.proposed_by) if offer.proposed_by_id else None,
        "approved_tier": offer.approved_tier or None,
        "fulfilled_at": offer.fulfilled_at,
        "note": offer.note,
    }


def approval_data(approval: ApprovalRequest) -> dict[str, Any]:
    return {
        "id": approval.pk,
        "required_tier": approval.required_tier,
        "status": approval.status,
        "due_at": approval.due_at,
        "decided_by": _user(approval.decided_by) if approval.decided_by_id else None,
        "decided_at": approval.decided_at,
        "approved_amount": approval.approved_amount,
        "note": approval.note,
    }


def publish(event_type: str, complaint: Complaint, **parts: Any) -> None:
    """Write the event to the outbox in the caller's transaction."""
    event_publish(type=event_type, data={"complaint": complaint_data(complaint), **jsonable(parts)}, version=EVENT_VERSION)


def offer_publish(event_type: str, offer: Offer, **parts: Any) -> None:
    offer = Offer.objects.select_related("gesture", "proposed_by", "complaint__customer", "complaint__assignee").get(pk=offer.pk)
    publish(event_type, offer.complaint, offer=offer_data(offer), **parts)


def windows_settled_publish(*, settled_at: datetime, outcome_id: int | None = None, customer_ids: Any = None) -> int:
    """One outcome.settled per window decided at `settled_at` (the statement that settled them stamps it).
    Nothing is read when no endpoint subscribes, so the million-window sweep stays a few statements."""
    if not event_wanted("outcome.settled"):
        return 0
    windows = OutcomeWindow.objects.filter(settled_at=settled_at).exclude(state=OutcomeWindow.State.PENDING)
    if outcome_id is not None:
        windows = windows.filter(outcome_id=outcome_id)
    if customer_ids is not None:
        windows = windows.filter(outcome__customer_id__in=customer_ids)
    windows = windows.select_related(
        "outcome__complaint__customer", "outcome__complaint__assignee", "outcome__gesture"
    ).order_by("pk")
    items = []
    for window in windows.iterator(chunk_size=1000):
        outcome = window.outcome
        items.append(
            {
                "complaint": complaint_data(outcome.complaint),
                "outcome": jsonable(
                    {
                        "id": outcome.pk,
                        "recovered": outcome.recovered,
                        "gesture": outcome.gesture.code if outcome.gesture_id else None,
                        "gesture_cost": outcome.gesture_cost,
                        "anchor_at": outcome.anchor_at,
                    }
                ),
                "window": jsonable(
                    {
                        "days": window.days,
                        "ends_at": window.ends_at,
                        "state": window.state,
                        "returned": window.state == OutcomeWindow.State.RETURNED,
                        "returned_at": window.returned_at,
                        "revenue": window.revenue,
                        "settled_at": window.settled_at,
                    }
                ),
            }
        )
    if items:
        events_publish_many(type="outcome.settled", items=items, version=EVENT_VERSION)
    return len(items)
