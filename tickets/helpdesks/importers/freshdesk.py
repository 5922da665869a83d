"""Freshdesk: the ticket export (Tickets → Export, CSV), with the contact fields "Full name" and "Email" ticked.

Columns used, by the names the export writes (extra columns are ignored; names are matched without regard to case):
`Ticket ID`, `Subject`, `Description`, `Status` (Open, Pending, Resolved, Closed, Waiting on Customer, or the
API codes 2-5; custom statuses count as open), `Priority` (Low, Medium, High, Urgent or 1-4), `Source` (Email, Portal, Phone, Chat, Twitter,
Facebook, Feedback Widget, Outbound Email or the API codes), `Tags`, `Created time`, `Resolved time`,
`Closed time`, `Last updated time`, `Initial response time`, and the requester: `Email` (also "Requester email"),
`Full name` (also "Requester name"), `Contact ID`. Times without an offset are read in the site's TIME_ZONE: set it
to the helpdesk's time zone for the import, or export in UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO

from tickets.helpdesks.importers.base import (
    BadRow,
    Item,
    RowError,
    TicketRow,
    csv_rows,
    email_from,
    plain,
    status_from,
    subject_from,
    tags_from,
    text_id,
    when,
)
from tickets.helpdesks.mapping import channel_from, priority_name
from tickets.helpdesks.vendors.freshdesk import PRIORITIES, SOURCES, STATUSES
from tickets.models import Channel, Status

ALIASES = {
    "ticket id": ("Ticket ID", "ticket_id", "id"),
    "email": ("Email", "Requester email", "Requester Email", "Contact email", "requester_email"),
    "full name": ("Full name", "Requester name", "Requester Name", "Contact name", "Name", "requester_name"),
    "contact id": ("Contact ID", "Requester ID", "requester_id"),
}
# Freshdesk's numeric codes are the webhook's (vendors/freshdesk.py); its default "Waiting on Third Party" is pending.
STATUS_CODES = {**STATUSES, "waiting on third party": "pending"}


def read(binary: IO[bytes]) -> Iterator[Item]:
    for line, row in csv_rows(binary, required=("ticket id", "created time"), aliases=ALIASES):
        try:
            yield _row(line, row)
        except RowError as exc:
            yield BadRow(line, str(exc))


def _row(line: int, row: dict[str, str]) -> TicketRow:
    external_id = text_id(row.get("ticket id"), "Ticket ID")
    email = email_from(row.get("email"))
    contact = (row.get("contact id") or "").strip() or None
    if not email and not contact:
        raise RowError(f"Ticket {external_id} has no requester: fill in Email (or Contact ID).")
    raw_status = (row.get("status") or "").strip().lower()
    try:
        status = status_from(STATUS_CODES.get(raw_status, raw_status), line_hint="Freshdesk status")
    except RowError:
        # A custom status (Freshdesk numbers them from 6): still being worked on.
        status = Status.IN_PROGRESS
    tags = tags_from(row.get("tags"))
    description = plain(row.get("description"))
    updated = when(row.get("last updated time"), "Last updated time")
    resolved = when(row.get("resolved time"), "Resolved time")
    closed = when(row.get("closed time"), "Closed time")
    source = (row.get("source") or "").strip().lower()
    priority = (row.get("priority") or "").strip().lower()
    return TicketRow(
        line=line,
        external_id=external_id,
        created_at=when(row.get("created time"), "Created time", required=True),
        updated_at=updated,
        subject=subject_from(row.get("subject"), description),
        description=description,
        customer_email=email,
        customer_name=(row.get("full name") or "").strip()[:200],
        customer_external_id=contact,
        status=status,
        priority=priority_name(PRIORITIES.get(priority, priority)),
        channel=channel_from(SOURCES.get(source, source)) or Channel.EMAIL,
        tags=tags,
        first_response_at=when(row.get("initial response time"), "Initial response time"),
        resolved_at=resolved or closed or (updated if status in (Status.RESOLVED, Status.CLOSED) else None),
        closed_at=closed or (updated if status == Status.CLOSED else None),
    )
