"""Help Scout webhooks: `convo.*` events carry the Mailbox API 2.0 conversation object.

Signature (developer.helpscout.com/webhooks): X-HelpScout-Signature is base64(HMAC-SHA1(secret key, raw
body)); X-HelpScout-Event names the event; `helpscout.test` is the ping sent when the webhook is saved.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from tickets.helpdesks.mapping import channel_from
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
)

PING = "helpscout.test"
HANDLED = {
    "convo.created",
    "convo.status",
    "convo.tags",
    "convo.custom-fields",
    "convo.customer.reply.created",
    "convo.agent.reply.created",
    "convo.moved",
    "convo.assigned",
    "satisfaction.ratings",
}


def signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha1).digest()).decode()


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    sent = header(headers, "X-HelpScout-Signature")
    if not sent:
        raise NotAuthentic("The request has no X-HelpScout-Signature header.")
    if not hmac.compare_digest(signature(secret, body), sent):
        raise NotAuthentic("The Help Scout signature does not match: check the webhook's secret key.")


def _event(headers: Mapping[str, str]) -> str:
    return header(headers, "X-HelpScout-Event") or "unknown"


def envelope(payload: dict[str, Any], headers: Mapping[str, str], body: bytes) -> Envelope:
    event = _event(headers)
    if event == "satisfaction.ratings":
        ticket_id = id_text(payload.get("conversationId")) or ""
        moment = payload.get("modifiedAt") or payload.get("createdAt")
    else:
        ticket_id = id_text(payload.get("id")) or ""
        moment = payload.get("userUpdatedAt")
    return Envelope(fallback_delivery_id(event, ticket_id, moment, body), event[:120], ticket_id, ping=event == PING)


def _threads(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    embedded = conversation.get("_embedded") if isinstance(conversation.get("_embedded"), dict) else {}
    threads = embedded.get("threads") or conversation.get("threads") or []
    return [t for t in threads if isinstance(t, dict)]


def _newest(threads: list[dict[str, Any]], types: set[str]) -> dict[str, Any] | None:
    chosen = [t for t in threads if (text(t.get("type")) or "") in types]
    return max(chosen, key=lambda t: (text(t.get("createdAt")) or "", int(id_text(t.get("id")) or 0)), default=None)


def parse(payload: dict[str, Any], headers: Mapping[str, str]) -> TicketChange | None:
    event = _event(headers)
    if event not in HANDLED:
        return None
    if event == "satisfaction.ratings":
        return _rating(payload, event)
    conversation_id = id_text(payload.get("id"))
    if not conversation_id:
        return None
    customer = payload.get("primaryCustomer") or payload.get("customer") or {}
    customer = customer if isinstance(customer, dict) else {}
    name = " ".join(filter(None, [text(customer.get("first")), text(customer.get("last"))]))
    threads = _threads(payload)
    first_customer = min(
        (t for t in threads if text(t.get("type")) == "customer"),
        key=lambda t: (text(t.get("createdAt")) or "", int(id_text(t.get("id")) or 0)),
        default=None,
    )
    source = payload.get("source") if isinstance(payload.get("source"), dict) else {}
    email = text(customer.get("email"))
    customer_id = id_text(customer.get("id"))
    return TicketChange(
        event=event,
        ticket_id=conversation_id,
        subject=text(payload.get("subject")),
        description=(plain(first_customer.get("body")) if first_customer else None) or text(payload.get("preview")),
        status=(text(payload.get("status")) or "").lower() or None,
        status_changed=event == "convo.status",
        channel=channel_from(source.get("type") or payload.get("type")),
        tags=tag_list(payload.get("tags")) if "tags" in payload else None,
        custom_fields=_custom_fields(payload),
        requester=Requester(external_id=customer_id, email=email, name=name or None) if (email or customer_id) else None,
        comment=_comment(threads, event),
    )


def _rating(payload: dict[str, Any], event: str) -> TicketChange | None:
    """A satisfaction rating: it refers to a conversation we may know, and never creates one."""
    conversation_id = id_text(payload.get("conversationId"))
    rating = text(payload.get("rating"))
    if not conversation_id or not rating:
        return None
    comments = text(payload.get("comments"))
    return TicketChange(
        event=event,
        ticket_id=conversation_id,
        satisfaction=f"{rating}: {comments}" if comments else rating,
        reference_only=True,
    )


def _comment(threads: list[dict[str, Any]], event: str) -> NewComment | None:
    """The reply the event announces: the newest customer thread, or the newest agent reply."""
    if event not in {"convo.customer.reply.created", "convo.agent.reply.created"}:
        return None
    thread = _newest(threads, {"customer"} if event == "convo.customer.reply.created" else {"reply", "message"})
    body = plain(thread.get("body")) if thread else ""
    if not (thread and body):
        return None
    return NewComment(
        key=id_text(thread.get("id")) or hashlib.sha256(body.encode()).hexdigest()[:24],
        body=body,
        by_customer=event == "convo.customer.reply.created",
    )


def _custom_fields(payload: dict[str, Any]) -> dict[str, str]:
    """Custom fields by name and by id, so a mapping may name either."""
    custom = {}
    for field in payload.get("customFields") or []:
        if isinstance(field, dict) and text(field.get("text") or field.get("value")):
            value = str(field.get("text") or field.get("value")).strip()
            for key in (field.get("name"), field.get("id")):
                if text(key):
                    custom[str(key).strip()] = value
    return custom
