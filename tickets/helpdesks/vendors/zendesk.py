"""Zendesk: event webhooks (`zen:event-type:ticket.*`) and trigger webhooks with our JSON template.

Signature (developer.zendesk.com/documentation/webhooks/verifying): X-Zendesk-Webhook-Signature is
base64(HMAC-SHA256(secret, X-Zendesk-Webhook-Signature-Timestamp + raw body)); timestamps more than five
minutes off are refused so a captured request cannot be replayed later.
Event payloads (api-reference/webhooks/event-types/ticket-events): envelope `type`, `account_id`, `id`,
`time`, `subject` ("zen:ticket:<id>"), `detail` (the ticket, ids as strings, enums upper case) and `event`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from tickets.helpdesks.mapping import channel_from, priority_name
from tickets.helpdesks.vendors.base import (
    Envelope,
    NewComment,
    NotAuthentic,
    Requester,
    TicketChange,
    fallback_delivery_id,
    header,
    id_text,
    plain,
    tag_list,
    text,
    when,
)

TOLERANCE = dt.timedelta(minutes=5)
EVENT_PREFIX = "zen:event-type:ticket."
# Ticket events we act on; every other event is stored and ignored.
HANDLED = {
    "created",
    "status_changed",
    "comment_added",
    "priority_changed",
    "tags_changed",
    "subject_changed",
    "description_changed",
    "custom_field_changed",
}
TRIGGER_EVENT = "trigger"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _timestamp(value: str) -> dt.datetime | None:
    if value.isdigit():
        return dt.datetime.fromtimestamp(int(value), tz=dt.UTC)
    parsed = when(value)
    if parsed is not None and timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, dt.UTC)
    return parsed


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    sent = header(headers, "X-Zendesk-Webhook-Signature")
    stamp = header(headers, "X-Zendesk-Webhook-Signature-Timestamp")
    if not sent or not stamp:
        raise NotAuthentic("The request has no X-Zendesk-Webhook-Signature and -Timestamp headers.")
    if not hmac.compare_digest(signature(secret, stamp, body), sent):
        raise NotAuthentic("The Zendesk signature does not match: check the webhook's signing secret.")
    moment = _timestamp(stamp)
    if moment is None or abs(timezone.now() - moment) > TOLERANCE:
        stale = NotAuthentic("The Zendesk signature timestamp is more than five minutes off: refused as a replay.")
        stale.signature_matched = True
        raise stale


def _ticket_id_of(payload: dict[str, Any]) -> str:
    detail = payload.get("detail") if isinstance(payload.get("detail"), dict) else {}
    ticket = payload.get("ticket") if isinstance(payload.get("ticket"), dict) else {}
    subject = text(payload.get("subject")) or ""
    from_subject = subject.rsplit(":", 1)[-1] if subject.startswith("zen:ticket:") else None
    return id_text(detail.get("id")) or from_subject or id_text(ticket.get("id")) or ""


def envelope(payload: dict[str, Any], headers: Mapping[str, str], body: bytes) -> Envelope:
    ticket_id = _ticket_id_of(payload)
    if "ticket" in payload and "type" not in payload:
        # A trigger webhook: no event id, so the ticket's update time names it.
        event = text(payload.get("event")) or TRIGGER_EVENT
        ticket = payload["ticket"] if isinstance(payload["ticket"], dict) else {}
        return Envelope(fallback_delivery_id(event, ticket_id, ticket.get("updated_at"), body), event, ticket_id)
    event = text(payload.get("type")) or "unknown"
    delivery = text(payload.get("id")) or fallback_delivery_id(event, ticket_id, payload.get("time"), body)
    return Envelope(delivery[:200], event, ticket_id)


def parse(payload: dict[str, Any], headers: Mapping[str, str]) -> TicketChange | None:
    if "ticket" in payload and "type" not in payload:
        return _parse_trigger(payload)
    event_type = text(payload.get("type")) or ""
    name = event_type.removeprefix(EVENT_PREFIX)
    if not event_type.startswith(EVENT_PREFIX) or name not in HANDLED:
        return None
    detail = payload.get("detail")
    if not isinstance(detail, dict):
        return None
    event = payload.get("event") if isinstance(payload.get("event"), dict) else {}
    ticket_id = _ticket_id_of(payload)
    if not ticket_id:
        return None
    via = detail.get("via")
    requester_id = id_text(detail.get("requester_id"))
    tags_event = event if name == "tags_changed" else {}
    return TicketChange(
        event=event_type,
        ticket_id=ticket_id,
        subject=text(detail.get("subject")),
        description=plain(detail.get("description")) if detail.get("description") is not None else None,
        status=(text(detail.get("status")) or "").lower() or None,
        status_changed=name == "status_changed",
        priority=priority_name(detail.get("priority")),
        channel=channel_from(via.get("channel") if isinstance(via, dict) else via),
        tags=tag_list(detail.get("tags")) if "tags" in detail else None,
        tags_added=tag_list(tags_event.get("tags_added")),
        tags_removed=tag_list(tags_event.get("tags_removed")),
        custom_fields=_custom_field(event) if name == "custom_field_changed" else {},
        requester=Requester(external_id=requester_id) if requester_id else None,
        comment=_comment(event, requester_id) if name == "comment_added" else None,
    )


def _comment(event: dict[str, Any], requester_id: str | None) -> NewComment | None:
    """The comment a comment_added event carries; the customer's when its author is not staff (or, without
    is_staff, when the author is the requester)."""
    raw = event.get("comment")
    if not isinstance(raw, dict):
        return None
    author = raw.get("author") if isinstance(raw.get("author"), dict) else {}
    body = plain(raw.get("body"))
    if not body:
        return None
    by_customer = not _truthy(author.get("is_staff")) if "is_staff" in author else (
        id_text(author.get("id")) == requester_id
    )
    return NewComment(
        key=id_text(raw.get("id")) or hashlib.sha256(body.encode()).hexdigest()[:24],
        body=body,
        by_customer=by_customer,
        public=_truthy(raw.get("is_public"), default=True),
    )


def _custom_field(event: dict[str, Any]) -> dict[str, str]:
    """The changed custom field's new value, by the field's id and by its title."""
    field = event.get("custom_field")
    if not isinstance(field, dict):
        return {}
    current = event.get("current")
    value = current.get("value") if isinstance(current, dict) else current
    return {str(key).strip(): str(value).strip() for key in (field.get("id"), field.get("title")) if text(key) and text(value)}


def _truthy(value: Any, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes"}
    return bool(value)


def _parse_trigger(payload: dict[str, Any]) -> TicketChange | None:
    """Our documented trigger template (docs/integrations.md): placeholders rendered by Zendesk as text."""
    ticket = payload.get("ticket")
    if not isinstance(ticket, dict):
        return None
    ticket_id = id_text(ticket.get("id"))
    if not ticket_id:
        return None
    requester = ticket.get("requester") if isinstance(ticket.get("requester"), dict) else {}
    requester_id = id_text(requester.get("id"))
    comment = None
    raw_comment = ticket.get("comment") if isinstance(ticket.get("comment"), dict) else {}
    body = plain(raw_comment.get("body"))
    if body:
        author = id_text(raw_comment.get("author_id"))
        comment = NewComment(
            key=hashlib.sha256(body.encode()).hexdigest()[:24],
            body=body,
            by_customer=author is not None and author == requester_id,
        )
    custom = {str(k): str(v).strip() for k, v in (ticket.get("custom_fields") or {}).items() if text(v)} if isinstance(
        ticket.get("custom_fields"), dict
    ) else {}
    return TicketChange(
        event=text(payload.get("event")) or TRIGGER_EVENT,
        ticket_id=ticket_id,
        subject=text(ticket.get("title")) or text(ticket.get("subject")),
        description=plain(ticket.get("description")) or None,
        status=(text(ticket.get("status")) or "").lower() or None,
        status_changed=False,
        priority=priority_name(ticket.get("priority")),
        channel=channel_from(ticket.get("via")),
        tags=tag_list(ticket.get("tags")) if "tags" in ticket else None,
        custom_fields=custom,
        requester=Requester(
            external_id=requester_id, email=text(requester.get("email")), name=text(requester.get("name"))
        )
        if (requester_id or text(requester.get("email")))
        else None,
        comment=comment,
        satisfaction=_rating(ticket.get("satisfaction")),
    )


# {{satisfaction.current_rating}} renders these before the customer has rated: not a rating.
NOT_RATED = {"unoffered", "offered", "not offered"}


def _rating(value: Any) -> str | None:
    rating = text(value)
    return None if rating is None or rating.lower() in NOT_RATED else rating
