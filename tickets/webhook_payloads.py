"""The JSON that tickets' events carry to webhook receivers (docs/webhooks.md). A stable contract: add fields
freely, never rename or remove one without raising EVENT_VERSION and documenting it."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from notifications.services import event_publish, event_wanted, events_publish_many
from tickets.events import jsonable
from tickets.models import Comment, Complaint

EVENT_VERSION = 1

EVENTS = {
    "complaint.logged": "A complaint was logged (browser, API or a helpdesk).",
    "complaint.replied": "A reply reached the customer (sent by email, or posted as a public comment on the helpdesk's ticket).",
    "complaint.resolved": "A complaint moved to resolved.",
}


def complaint_data(complaint: Complaint) -> dict[str, Any]:
    """The complaint as every event shows it."""
    customer = complaint.customer
    return jsonable(
        {
            "reference": complaint.reference,
            "url": f"{settings.SITE_URL}/complaints/{complaint.reference}/",
            "status": complaint.status,
            "channel": complaint.channel,
            "source": complaint.source,
            "external_id": complaint.external_id,
            "cause": complaint.cause,
            "severity": complaint.severity,
            "subject": complaint.subject,
            "grade": complaint.grade or None,
            "risk_score": complaint.risk_score,
            "tier": complaint.tier,
            "tags": list(complaint.tags or []),
            "monetary_loss": complaint.monetary_loss,
            "currency": complaint.currency,
            "threatens_public": complaint.threatens_public,
            "says_wont_return": complaint.says_wont_return,
            "assignee": complaint.assignee.get_username() if complaint.assignee_id else None,
            "customer": {"id": customer.pk, "email": customer.email or None, "name": customer.name},
            "created_at": complaint.created_at,
            "response_due_at": complaint.response_due_at,
            "first_response_at": complaint.first_response_at,
            "resolved_at": complaint.resolved_at,
        }
    )


def publish(event_type: str, complaint: Complaint, **extra: Any) -> None:
    """Write the event to the outbox in the caller's transaction (nothing, not even the payload, when no endpoint
    or other target could want this type: the check is cached)."""
    if not event_wanted(event_type):
        return
    event_publish(type=event_type, data={"complaint": complaint_data(complaint), **jsonable(extra)}, version=EVENT_VERSION)


def publish_many(event_type: str, complaints: list[Complaint]) -> None:
    """publish() for a batch, set-based; builds no payload when nothing subscribes to the type."""
    if complaints and event_wanted(event_type):
        events_publish_many(type=event_type, items=[{"complaint": complaint_data(c)} for c in complaints], version=EVENT_VERSION)


def reply_data(comment: Comment, *, channel: str, sent_at: Any) -> dict[str, Any]:
    return {
        "comment_id": comment.pk,
        "body": comment.body,
        "author": comment.author_label,
        "channel": channel,
        "written_at": comment.created_at,
        "sent_at": sent_at,
    }
