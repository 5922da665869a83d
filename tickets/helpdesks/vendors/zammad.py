"""Zammad trigger webhooks with the default payload: `ticket` (customer, priority, group embedded) and `article`.

Signature (admin-docs.zammad.org, Webhook → payload): X-Hub-Signature is "sha1=" + hex HMAC-SHA1(token, raw
body); X-Zammad-Delivery is a unique id per delivery and X-Zammad-Trigger names the trigger.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

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
)


def signature(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> None:
    sent = header(headers, "X-Hub-Signature")
    if not sent:
        raise NotAuthentic("The request has no X-Hub-Signature header: set the trigger's HMAC SHA1 signature token.")
    if not hmac.compare_digest(signature(secret, body).lower(), sent.lower()):
        raise NotAuthentic("The Zammad signature does not match: check the webhook's HMAC SHA1 signature token.")


def _event(headers: Mapping[str, str]) -> str:
    trigger = header(headers, "X-Zammad-Trigger")
    return f"trigger: {trigger}"[:120] if trigger else "trigger"


def envelope(payload: dict[str, Any], headers: Mapping[str, str], body: bytes) -> Envelope:
    ticket = payload.get("ticket") if isinstance(payload.get("ticket"), dict) else {}
    ticket_id = id_text(ticket.get("id")) or ""
    event = _event(headers)
    delivery = header(headers, "X-Zammad-Delivery") or fallback_delivery_id(
        event, ticket_id, ticket.get("updated_at"), body
    )
    return Envelope(delivery[:200], event, ticket_id)


def _name(value: Any) -> str | None:
    """Zammad embeds related objects ({"name": "2 normal"}) or sends their names."""
    if isinstance(value, dict):
        return text(value.get("name"))
    return text(value)


def _requester(ticket: dict[str, Any]) -> Requester | None:
    customer = ticket.get("customer")
    customer_id = id_text(ticket.get("customer_id"))
    if isinstance(customer, dict):
        name = " ".join(filter(None, [text(customer.get("firstname")), text(customer.get("lastname"))]))
        email = text(customer.get("email"))
        external = id_text(customer.get("id")) or customer_id
        if email or external:
            return Requester(external_id=external, email=email, name=name or None, phone=text(customer.get("phone")))
    login = text(customer)
    if login and "@" in login:
        return Requester(external_id=customer_id, email=login)
    return Requester(external_id=customer_id) if customer_id else None


def parse(payload: dict[str, Any], headers: Mapping[str, str]) -> TicketChange | None:
    ticket = payload.get("ticket")
    if not isinstance(ticket, dict) or not id_text(ticket.get("id")):
        return None
    article = payload.get("article") if isinstance(payload.get("article"), dict) else {}
    article_body = plain(article.get("body"))
    first_article = not article or (
        id_text(article.get("id")) is not None
        and id_text(article.get("id")) == id_text((ticket.get("article_ids") or [None])[0])
    ) or ticket.get("article_count") in (1, "1")
    comment = None
    if article_body and not first_article and not article.get("internal"):
        comment = NewComment(
            key=id_text(article.get("id")) or hashlib.sha256(article_body.encode()).hexdigest()[:24],
            body=article_body,
            by_customer=(text(article.get("sender")) or "").lower() == "customer",
        )
    state = (_name(ticket.get("state")) or "").lower() or None
    custom = {
        key: str(_name(value)).strip()
        for key, value in ticket.items()
        if isinstance(value, (str, int, float, dict)) and _name(value) and key not in _KNOWN
    }
    return TicketChange(
        event=_event(headers),
        ticket_id=id_text(ticket["id"]) or "",
        subject=text(ticket.get("title")),
        description=article_body if first_article and article_body else None,
        status=state,
        # Zammad names no event: every trigger delivery may carry a new state, so it is always noted.
        status_changed=True,
        priority=priority_name(_name(ticket.get("priority"))),
        channel=channel_from(ticket.get("create_article_type") or article.get("type")),
        tags=tag_list(ticket.get("tags")) if "tags" in ticket else None,
        custom_fields=custom,
        requester=_requester(ticket),
        comment=comment,
    )


# Standard ticket attributes; anything else is a custom object attribute the cause may be read from.
_KNOWN = {
    "id", "number", "title", "state", "state_id", "priority", "priority_id", "group", "group_id", "owner",
    "owner_id", "customer", "customer_id", "organization", "organization_id", "created_at", "updated_at",
    "created_by", "created_by_id", "updated_by", "updated_by_id", "create_article_type", "create_article_sender",
    "create_article_type_id", "create_article_sender_id", "article_count", "last_contact_at",
    "last_contact_customer_at", "last_contact_agent_at", "note", "type", "escalation_at", "first_response_at",
    "close_at", "pending_time", "tags",
}
