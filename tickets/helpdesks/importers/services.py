"""The write of the history import: one batch of parsed tickets into complaints, set-based.

What callers may rely on:
- Idempotent: a ticket whose (source, external_id) is already a complaint is counted as a duplicate and changes
  nothing, so a re-run of the same file adds nothing. Within a batch the last row for a ticket wins.
- A batch is one transaction: its customers (resolved in bulk by reference, then email), complaints and timeline
  events (one `logged` event per complaint, saying how it was graded, and one `commented` event per later customer
  message) are inserted with a handful of INSERTs, whatever the batch size.
- The complaints keep the helpdesk's own times (created, resolved, closed).
- Recovery hears of the batch through `complaints_importing` / `complaints_imported` (tickets/signals.py, once per
  batch) and grades it in bulk, in the same INSERT; closed complaints are history and are never escalated or
  notified about.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from tickets import signals
from tickets.actors import ActorRef
from tickets.bulk import complaints_insert
from tickets.helpdesks.importers.base import TicketRow
from tickets.models import OPEN_STATUSES, Complaint, Status, TimelineEvent
from tickets.services import customers_resolve_bulk

IMPORT_ACTOR = ActorRef.system("Helpdesk import")
_STATUS_WORDS = {status.value: status.label.lower() for status in Status}
MAX_BATCH = 5000


@dataclass(frozen=True)
class BatchResult:
    created: int
    duplicates: int
    closed: int  # of the created, how many were resolved or closed (history: graded, never escalated)


def history_import(
    *, rows: Sequence[TicketRow], source: str, actor: ActorRef = IMPORT_ACTOR, now: datetime | None = None
) -> BatchResult:
    """Import up to MAX_BATCH parsed tickets as complaints of `source`. See the module docstring."""
    if len(rows) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} rows per batch, got {len(rows)}")
    if not source or len(source) > 50:
        raise ValueError("source must be 1 to 50 characters")
    now = now or timezone.now()
    try:
        return _import(rows, source, actor, now)
    except IntegrityError:
        # A concurrent import (or a webhook) stored one of these tickets first: the re-run counts it as known.
        return _import(rows, source, actor, now)


@transaction.atomic
def _import(rows: Sequence[TicketRow], source: str, actor: ActorRef, now: datetime) -> BatchResult:
    latest = {row.external_id: row for row in rows}
    known = set(
        Complaint.objects.filter(source=source, external_id__in=list(latest)).values_list("external_id", flat=True)
    )
    fresh = [row for external_id, row in latest.items() if external_id not in known]
    duplicates = len(rows) - len(fresh)
    if not fresh:
        return BatchResult(created=0, duplicates=duplicates, closed=0)

    def key(row: TicketRow) -> tuple[str, str | None, str | None]:
        return (source, row.customer_external_id, row.customer_email)

    names = {key(row): row.customer_name for row in fresh if row.customer_name}
    customer_of = customers_resolve_bulk([key(row) for row in fresh], names=names)

    complaints = [_complaint(row, source, customer_of[key(row)], now) for row in fresh]
    signals.complaints_importing.send(
        sender=Complaint,
        complaints=complaints,
        comments=[[body for _, body in row.customer_comments] for row in fresh],
        actor=actor,
    )
    row_of = {id(complaint): row for row, complaint in zip(fresh, complaints, strict=True)}
    complaints_insert(complaints, lambda complaint: _events(row_of[id(complaint)], complaint, actor))
    signals.complaints_imported.send(sender=Complaint, complaints=complaints, actor=actor)
    closed = sum(1 for c in complaints if c.status not in OPEN_STATUSES)
    return BatchResult(created=len(complaints), duplicates=duplicates, closed=closed)


def _complaint(row: TicketRow, source: str, customer_id: int, now: datetime) -> Complaint:
    closed = row.status not in OPEN_STATUSES
    first_response = row.first_response_at
    if first_response is None and row.status in (Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER):
        # Leaving `new` means someone answered; the export does not say when, so it counts from the last update.
        first_response = row.updated_at
    return Complaint(
        customer_id=customer_id,
        channel=row.channel,
        source=source,
        external_id=row.external_id,
        cause=row.cause,
        severity=row.severity,
        monetary_loss=row.monetary_loss,
        currency=row.currency or settings.DEFAULT_CURRENCY,
        subject=row.subject,
        description=row.description,
        threatens_public=row.threatens_public,
        says_wont_return=row.says_wont_return,
        status=row.status,
        tags=row.tags,
        first_response_at=first_response,
        resolved_at=row.resolved_at or (row.closed_at if closed else None),
        closed_at=row.closed_at if row.status == Status.CLOSED else None,
        created_at=row.created_at,
        updated_at=max(row.updated_at or row.created_at, row.created_at) if closed else now,
    )


def _events(row: TicketRow, complaint: Complaint, actor: ActorRef) -> Iterator[dict[str, Any]]:
    common = {
        "complaint_id": complaint.pk,
        "actor_type": actor.kind,
        "actor_user_id": actor.user.pk if actor.user is not None and actor.user.pk else None,
        "actor_key_id": actor.api_key.pk if actor.api_key is not None else None,
        "actor_label": actor.label[:200],
    }
    # One event for the one write: the complaint went in with its grade (set by complaints_importing's receiver).
    graded = f"; graded {complaint.grade} (score {complaint.risk_score})" if complaint.grade else ""
    yield {
        **common,
        "kind": TimelineEvent.Kind.LOGGED,
        "message": f"Imported from {complaint.source} (ticket {row.external_id}), {_STATUS_WORDS[row.status]}{graded}"[:500],
        "data": {"source": complaint.source, "external_id": row.external_id, "customer_id": complaint.customer_id,
                 "imported": True, "status": row.status, "grade": complaint.grade or None,
                 "score": complaint.risk_score, "reasons": [r["code"] for r in complaint.grade_reasons or []]},
        "created_at": row.created_at,
    }
    for at, body in row.customer_comments:
        # The shape grading reads as the customer's own words (recovery.escalation.selectors.customer_comment_texts).
        yield {
            **common,
            "kind": TimelineEvent.Kind.COMMENTED,
            "message": "The customer wrote again (imported)",
            "data": {"by_customer": True, "body": body[:10_000], "imported": True},
            "created_at": max(at or row.created_at, row.created_at),
        }
