"""The generic CSV: for helpdesks without a reader here, spreadsheets and own scripts. See docs/import.md.

Columns (a header row is required; order does not matter; extra columns are ignored):

    external_id           the ticket's id in your system                              required
    created_at            ISO 8601 (no offset: the site's TIME_ZONE)                  required
    subject               text                                                         required
    customer_email        the customer's email                                        } at least one
    customer_external_id  the customer's id in your system                            }
    customer_name         optional
    description           optional: what the customer wrote
    cause                 staff_conduct, product_quality, service_delay, failed_fix, pricing, ignored, other
                          (default: from tags, else other)
    severity              1-5 (default 3)
    status                new, in_progress, waiting_on_customer, resolved, closed (default new;
                          open, pending, solved are understood too)
    channel               web, email, phone, chat, social, in_person, api (default email)
    tags                  comma-separated
    first_response_at, resolved_at, closed_at     ISO 8601, optional
    monetary_loss, currency                       optional (default 0, DEFAULT_CURRENCY)
    threatens_public, says_wont_return            optional: true/false, yes/no, 1/0
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
    flag,
    money,
    plain,
    status_from,
    tags_from,
    text_id,
    when,
)
from tickets.helpdesks.mapping import channel_from
from tickets.models import Cause, Channel, Status

REQUIRED = ("external_id", "created_at", "subject")
# Our values, as sets once: an enum's .values builds a new list on every call (three per row otherwise).
CAUSES, STATUSES, CHANNELS = frozenset(Cause.values), frozenset(Status.values), frozenset(Channel.values)
COLUMNS = (
    *REQUIRED, "customer_email", "customer_external_id", "customer_name", "description", "cause", "severity",
    "status", "channel", "tags", "first_response_at", "resolved_at", "closed_at", "monetary_loss", "currency",
    "threatens_public", "says_wont_return",
)


def read(binary: IO[bytes]) -> Iterator[Item]:
    for line, row in csv_rows(binary, required=REQUIRED):
        try:
            yield _row(line, row)
        except RowError as exc:
            yield BadRow(line, str(exc))


def _row(line: int, row: dict[str, str]) -> TicketRow:
    external_id = text_id(row.get("external_id"), "external_id")
    email = email_from(row.get("customer_email"))
    ref = (row.get("customer_external_id") or "").strip()[:200] or None
    if not email and not ref:
        raise RowError("Give customer_email or customer_external_id.")
    subject = " ".join((row.get("subject") or "").split())
    if not subject:
        raise RowError("subject is missing.")
    tags = tags_from(row.get("tags"))
    # Blank cause or severity: the connection's mapping decides, from the tags (run_import).
    cause = (row.get("cause") or "").strip().lower() or None
    if cause is not None and cause not in CAUSES:
        raise RowError(f"cause '{row.get('cause')}' is not one of: {', '.join(Cause.values)}.")
    severity_raw = (row.get("severity") or "").strip()
    if severity_raw not in ("", "1", "2", "3", "4", "5"):
        raise RowError(f"severity '{severity_raw}' must be a whole number from 1 to 5.")
    raw_status = (row.get("status") or "").strip().lower()
    status = raw_status if raw_status in STATUSES else status_from(raw_status)
    channel_raw = (row.get("channel") or "").strip().lower()
    channel = channel_raw if channel_raw in CHANNELS else channel_from(channel_raw) or Channel.EMAIL
    currency = (row.get("currency") or "").strip().upper()
    if currency and (len(currency) != 3 or not currency.isalpha()):
        raise RowError(f"currency '{currency}' must be a three-letter code like EUR.")
    resolved = when(row.get("resolved_at"), "resolved_at")
    closed = when(row.get("closed_at"), "closed_at")
    return TicketRow(
        line=line,
        external_id=external_id,
        created_at=when(row.get("created_at"), "created_at", required=True),
        subject=subject[:200],
        description=plain(row.get("description")),
        customer_email=email,
        customer_name=(row.get("customer_name") or "").strip()[:200],
        customer_external_id=ref,
        status=status,
        severity=int(severity_raw) if severity_raw else None,
        cause=cause,
        channel=channel,
        tags=tags,
        first_response_at=when(row.get("first_response_at"), "first_response_at"),
        resolved_at=resolved or (closed if status in (Status.RESOLVED, Status.CLOSED) else None),
        closed_at=closed,
        monetary_loss=money(row.get("monetary_loss"), "monetary_loss"),
        currency=currency,
        threatens_public=flag(row.get("threatens_public")),
        says_wont_return=flag(row.get("says_wont_return")),
    )
