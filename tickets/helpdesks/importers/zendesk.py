"""Zendesk: the incremental ticket export (`GET /api/v2/incremental/tickets/cursor.json`), saved as JSON lines.

Each line is either one ticket object, or one page of the export as the API returns it
(`{"tickets": [...], "users": [...], "after_cursor": ..., "end_of_stream": ...}`; ask for `include=users` so
the requesters' names and emails come along). A pretty-printed page saved as one document works too.

Ticket fields used (names from Zendesk's Tickets API): `id`, `created_at`, `updated_at`, `subject` (or
`raw_subject`), `description`, `status` (new, open, pending, hold, solved, closed; `deleted` ones are skipped),
`priority` (low, normal, high, urgent), `requester_id`, `tags`, `via.channel`, `via.source.from.address/name`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import IO, Any

from tickets.helpdesks.importers.base import (
    BadRow,
    Item,
    RowError,
    Skipped,
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


def read(binary: IO[bytes]) -> Iterator[Item]:
    for line, record in json_records(binary, page_keys=("tickets",)):
        if isinstance(record, RowError):
            yield BadRow(line, str(record))
        elif isinstance(record, dict) and isinstance(record.get("tickets"), list):
            users = {u.get("id"): u for u in record.get("users") or [] if isinstance(u, dict)}
            for ticket in record["tickets"]:
                yield _row(line, ticket, users)
        else:
            yield _row(line, record, {})


def _row(line: int, ticket: Any, users: Mapping[Any, Mapping[str, Any]]) -> Item:
    if not isinstance(ticket, dict):
        return BadRow(line, "Expected a ticket object.")
    try:
        external_id = text_id(ticket.get("id"), "The ticket's id")
        status_word = str(ticket.get("status") or "").lower()
        if status_word == "deleted":
            return Skipped(line, f"ticket {external_id} was deleted in Zendesk")
        via = ticket.get("via") or {}
        sender = ((via.get("source") or {}).get("from") or {}) if isinstance(via, dict) else {}
        requester_id = ticket.get("requester_id")
        user = users.get(requester_id) or ticket.get("requester") or {}
        if not isinstance(user, dict):
            user = {}
        email = email_from(user.get("email") or sender.get("address"))
        name = str(user.get("name") or sender.get("name") or "")[:200]
        customer_ref = str(requester_id) if requester_id not in (None, "") else None
        if not email and not customer_ref:
            raise RowError(f"Ticket {external_id} has no requester: neither requester_id nor an email.")
        status = status_from(status_word, line_hint="Zendesk status")
        updated = when(ticket.get("updated_at"), "updated_at")
        tags = tags_from(ticket.get("tags"))
        description = plain(ticket.get("description"))
        return TicketRow(
            line=line,
            external_id=external_id,
            created_at=when(ticket.get("created_at"), "created_at", required=True),
            updated_at=updated,
            subject=subject_from(ticket.get("subject") or ticket.get("raw_subject"), description),
            description=description,
            customer_email=email,
            customer_name=name,
            customer_external_id=customer_ref,
            status=status,
            priority=priority_name(ticket.get("priority")),
            channel=channel_from(via.get("channel") if isinstance(via, dict) else None) or Channel.EMAIL,
            tags=tags,
            # The ticket object carries no solved time; its last update is the closest it tells.
            resolved_at=updated if status in (Status.RESOLVED, Status.CLOSED) else None,
            closed_at=updated if status == Status.CLOSED else None,
        )
    except RowError as exc:
        return BadRow(line, str(exc))
