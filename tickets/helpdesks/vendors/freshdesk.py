"""Freshdesk automation webhooks: `{"freshdesk_webhook": {...}}` with the rule's placeholders as text.

Freshdesk does not sign webhooks; its "Requires authentication" option sends HTTP Basic credentials, so the
connection secret is the password (any user name). Values arrive as strings, names ("Urgent", "Open",
"Email") or numeric codes ("4", "2", "1") depending on the placeholder, so both are read.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
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

ROOT = "freshdesk_webhook"
# Freshdesk's numeric codes (API v2): priority, status and source.
PRIORITIES = {"1": "low", "2": "medium", "3": "high", "4": "urgent"}
STATUSES = {"2": "open", "3": "pending", "4": "resolved", "5": "closed"}
SOURCES = {"1": "email", "2": "portal", "3": "phone", "5": "twitter", "6": "facebook", "7": "chat",
           "9": "feedback widget", "10": "outbound email"}


def basic_password(headers: Mapping[str, str]) -> str | None:
    auth = header(headers, "Authorization")
    scheme, _, encoded = auth.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, sep, password = decoded.partition(":")
    return password if sep else None


def verify_password(password: str | None, matches: Any) -> None:
    """`matches(password) -> bool` checks it against the stored hash."""
    if not password:
        raise NotAuthentic("Freshdesk must send the connection secret as the Basic authentication password.")
    if not matches(password):
        raise NotAuthentic("Wrong password: use the connection secret as the webhook's password.")


def _ticket(payload: dict[str, Any]) -> dict[str, Any]:
    inner = payload.get(ROOT)
    return inner if isinstance(inner, dict) else {}


def _event(ticket: dict[str, Any]) -> str:
    return text(ticket.get("triggered_event")) or "ticket_webhook"


def envelope(payload: dict[str, Any], headers: Mapping[str, str], body: bytes) -> Envelope:
    ticket = _ticket(payload)
    ticket_id = id_text(ticket.get("ticket_id")) or ""
    event = _event(ticket)
    moment = ticket.get("ticket_updated_at") or ticket.get("updated_at")
    return Envelope(fallback_delivery_id(event, ticket_id, moment, body), event[:120], ticket_id)


def _coded(value: Any, codes: dict[str, str]) -> str | None:
    value = text(value)
    if value is None:
        return None
    return codes.get(value, value).lower()


def parse(payload: dict[str, Any], headers: Mapping[str, str]) -> TicketChange | None:
    ticket = _ticket(payload)
    ticket_id = id_text(ticket.get("ticket_id"))
    if not ticket_id:
        return None  # not a ticket webhook: stored and ignored
    event = _event(ticket)
    lowered = event.lower()
    comment = None
    body = plain(ticket.get("ticket_latest_public_comment"))
    if body:
        # {{triggered_event}} names who acted; a reply by the requester is the customer writing again.
        by_customer = "customer" in lowered or "requester" in lowered or "contact" in lowered
        comment = NewComment(key=hashlib.sha256(body.encode()).hexdigest()[:24], body=body, by_customer=by_customer)
    email = text(ticket.get("requester_email"))
    requester_id = id_text(ticket.get("requester_id"))
    custom = {
        key.removeprefix("ticket_"): str(value).strip()
        for key, value in ticket.items()
        if key.startswith(("ticket_cf_", "cf_")) and text(value)
    }
    return TicketChange(
        event=event,
        ticket_id=ticket_id,
        subject=text(ticket.get("ticket_subject")),
        description=plain(ticket.get("ticket_description")) if ticket.get("ticket_description") else None,
        status=_coded(ticket.get("ticket_status"), STATUSES),
        status_changed="status" in lowered,
        priority=priority_name(_coded(ticket.get("ticket_priority"), PRIORITIES)),
        channel=channel_from(_coded(ticket.get("ticket_source"), SOURCES)),
        tags=tag_list(ticket.get("ticket_tags")) if "ticket_tags" in ticket else None,
        custom_fields=custom,
        requester=Requester(
            external_id=requester_id,
            email=email,
            name=text(ticket.get("requester_name")),
            phone=text(ticket.get("requester_phone")),
        )
        if (email or requester_id)
        else None,
        comment=comment,
        satisfaction=text(ticket.get("satisfaction_rating")),
    )
