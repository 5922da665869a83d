"""Zammad: tickets as the REST API returns them, saved as JSON lines or one JSON array.

Zammad has no one-file export of tickets; the documented way out is its API: `GET /api/v1/tickets?expand=true`
(or `/api/v1/tickets/search?query=...&expand=true`), page by page. Save each ticket object as one line (or the
pages' arrays as one array). To import what the customer wrote, add to each ticket an `articles` list as
`GET /api/v1/ticket_articles/by_ticket/{id}` returns it; the first customer article is the description and the
later ones are the customer's comments. Without articles the ticket's `note` (if any) is the description.

Fields used (Zammad's names): `id`, `title`, `created_at`, `updated_at`, `close_at`, `first_response_at`,
`state` (expanded name: new, open, pending reminder, pending close, closed, merged) or `state_id` (the default
states 1-7), `priority` ("1 low", "2 normal", "3 high") or `priority_id`, `customer` (the expanded login/email,
or an embedded object with `email`, `firstname`, `lastname` as in trigger webhooks), `customer_id`, `tags`,
`create_article_type` (email, phone, web, twitter status, facebook feed post, ...). Articles: `sender`
("Customer"), `body`, `content_type`, `internal`, `created_at`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from tickets.helpdesks.importers.base import (
    BadRow,
    Item,
    RowError,
    TicketRow,
    email_from,
    json_records,
    plain,
    status_from,
    subject_from,
    tags_from,
    text_id,
    when,
)
from tickets.helpdesks.mapping import channel_from, priority_name
from tickets.models import Channel, Status

# Zammad's default states and priorities, for exports without expand=true.
STATE_IDS = {1: "new", 2: "open", 3: "pending reminder", 4: "closed", 5: "merged", 7: "pending close"}
PRIORITY_IDS = {1: "1 low", 2: "2 normal", 3: "3 high"}


def read(binary: IO[bytes]) -> Iterator[Item]:
    for line, record in json_records(binary, page_keys=("tickets",)):
        if isinstance(record, RowError):
            yield BadRow(line, str(record))
            continue
        try:
            yield _row(line, record)
        except RowError as exc:
            yield BadRow(line, str(exc))


def _customer(ticket: dict[str, Any]) -> tuple[str | None, str, str | None]:
    customer = ticket.get("customer")
    ref = ticket.get("customer_id")
    if isinstance(customer, dict):
        name = " ".join(str(customer.get(k) or "") for k in ("firstname", "lastname")).strip()
        return email_from(customer.get("email")), name, str(customer.get("id") or ref or "") or None
    email = str(customer or "")
    return (email_from(email) if "@" in email else None), "", str(ref) if ref not in (None, "") else None


def _row(line: int, ticket: Any) -> TicketRow:
    if not isinstance(ticket, dict):
        raise RowError("Expected a ticket object.")
    external_id = text_id(ticket.get("id"), "The ticket's id")
    email, name, ref = _customer(ticket)
    if not email and not ref:
        raise RowError(f"Ticket {external_id} has no customer: neither customer_id nor an email.")
    state = ticket.get("state") or STATE_IDS.get(ticket.get("state_id"), "")
    status = status_from(state, line_hint="Zammad state")
    priority = ticket.get("priority") or PRIORITY_IDS.get(ticket.get("priority_id"), "")
    tags = tags_from(ticket.get("tags"))
    customer_texts = [
        (when(a.get("created_at"), "article created_at"), plain(a.get("body")))
        for a in ticket.get("articles") or []
        if isinstance(a, dict) and str(a.get("sender") or "").lower() == "customer" and not a.get("internal")
    ]
    customer_texts = [(at, body) for at, body in customer_texts if body]
    description = customer_texts[0][1] if customer_texts else plain(ticket.get("note"))
    updated = when(ticket.get("updated_at"), "updated_at")
    closed = when(ticket.get("close_at"), "close_at")
    return TicketRow(
        line=line,
        external_id=external_id,
        created_at=when(ticket.get("created_at"), "created_at", required=True),
        updated_at=updated,
        subject=subject_from(ticket.get("title"), description),
        description=description,
        customer_email=email,
        customer_name=name[:200],
        customer_external_id=ref,
        status=status,
        priority=priority_name(priority),
        channel=channel_from(ticket.get("create_article_type")) or Channel.EMAIL,
        tags=tags,
        first_response_at=when(ticket.get("first_response_at"), "first_response_at"),
        resolved_at=(closed or updated) if status in (Status.RESOLVED, Status.CLOSED) else None,
        closed_at=(closed or updated) if status == Status.CLOSED else None,
        customer_comments=customer_texts[1:],
    )
