"""Logging complaints, one at a time or a batch: idempotent by (source, external_id), never a duplicate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tickets import signals, webhook_payloads
from tickets.actors import ActorRef
from tickets.bulk import complaints_insert, insert_one, insert_unless_known
from tickets.errors import InvalidInput
from tickets.events import event_build
from tickets.models import (
    Channel,
    Complaint,
    Customer,
    TimelineEvent,
)
from tickets.services.changes import INTAKE_UPDATABLE_FIELDS, apply_changes
from tickets.services.customers import (
    CustomerInput,
    CustomerKey,
    customer_fields,
    customer_resolve,
    customers_refresh_bulk,
    customers_resolve_bulk,
    normalise_email,
)


@dataclass(frozen=True)
class ComplaintInput:
    customer: CustomerInput
    # Complaint fields as sent (keys of Complaint); fields not sent take the model defaults.
    fields: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    external_id: str | None = None


@dataclass(frozen=True)
class LogResult:
    complaint: Complaint
    created: bool
    changed: frozenset[str] = frozenset()


@transaction.atomic
def complaint_log(*, data: ComplaintInput, actor: ActorRef) -> LogResult:
    """Log a complaint, or return the existing one for a repeated (source, external_id).

    A repeated delivery with changed details updates the complaint (one 'updated' event);
    an identical one changes nothing. Never creates a duplicate, also under concurrent requests.
    The complaint returned is the one written (its customer attached): callers answer from it without
    reading it back. A new complaint from a known customer costs two statements on PostgreSQL: the customer's
    SELECT and the complaint's INSERT … ON CONFLICT DO NOTHING with its timeline event's INSERT (one statement);
    three elsewhere (tests/tickets/test_intake_cost.py).
    """
    customer = customer_resolve(data=data.customer, source=data.source)
    complaint = Complaint(customer=customer, source=data.source, external_id=data.external_id, **data.fields)
    event = event_build(
        complaint=None,
        kind=TimelineEvent.Kind.LOGGED,
        actor=actor,
        message=f"Complaint logged via {complaint.get_channel_display().lower()}",
        data={"source": data.source, "external_id": data.external_id, "customer_id": customer.pk},
    )
    # The unique (source, external_id) catches a redelivery: no SELECT before every INSERT, no savepoint, and no
    # constraint error in the database's log. The event goes in with the complaint (one statement on PostgreSQL).
    # Without an external id nothing can conflict, and the same INSERT stores it.
    if not insert_unless_known(complaint, then=event, link="complaint"):
        if data.external_id:
            existing = _complaint_by_external(data.source, data.external_id)
            if existing is not None:
                return _complaint_redelivered(existing, data, actor)
        # The conflicting row went away (its transaction rolled back), or SQLite's OR IGNORE skipped the row for
        # another constraint: a plain INSERT either stores it or raises the real error.
        complaint.save(force_insert=True)
        event.complaint = complaint
        insert_one(event)
    webhook_payloads.publish("complaint.logged", complaint)
    signals.complaint_logged.send(sender=Complaint, complaint_id=complaint.pk, actor=actor)
    return LogResult(complaint=complaint, created=True)


# Complaints per assessment task queued by a batch: each task fans out to one assessment per complaint.
ASSESS_CHUNK = 250
MAX_LOG_BATCH = 1000


def complaints_log_batch(*, items: Sequence[ComplaintInput], actor: ActorRef) -> list[LogResult]:
    """Log up to MAX_LOG_BATCH complaints, each with its own (source, external_id), set-based. One LogResult per
    item, in order. What the caller may rely on:
    - Idempotent like complaint_log: an item whose (source, external_id) is already a complaint is answered with
      it (created=False), and its changed details are applied with one `updated` event; a replayed batch creates
      nothing twice. Within a batch a repeated (source, external_id) makes one complaint: the first item is
      answered created, the later ones not, and the last one's details are stored.
    - One transaction: the complaints, their customers (resolved in bulk, as the history import does), one
      `logged` timeline event each and their complaint.logged outbox events go in together, with a handful of
      set-based INSERTs (tickets.bulk, shared with the history import).
    - The assessment is queued on commit, one task per ASSESS_CHUNK complaints (signal complaints_logged).
    - Safe under concurrency: if a concurrent request stores one of these complaints first, the batch is
      written again and that complaint counts as existing.
    """
    if len(items) > MAX_LOG_BATCH:
        raise InvalidInput(f"A batch holds at most {MAX_LOG_BATCH:,} complaints; this one has {len(items):,}.")
    if any(not item.external_id for item in items):
        raise InvalidInput("Every complaint of a batch needs its own external_id.")
    try:
        with transaction.atomic():
            return _log_batch(items, actor)
    except IntegrityError:
        with transaction.atomic():
            return _log_batch(items, actor)


def _log_batch(items: Sequence[ComplaintInput], actor: ActorRef) -> list[LogResult]:
    now = timezone.now()
    first: dict[tuple[str, str], int] = {}
    last: dict[tuple[str, str], ComplaintInput] = {}
    for index, item in enumerate(items):
        key = (item.source, item.external_id or "")
        first.setdefault(key, index)
        last[key] = item
    existing: dict[tuple[str, str], Complaint] = {}
    for source in {source for source, _ in last}:
        wanted = [external_id for s, external_id in last if s == source]
        for complaint in (
            Complaint.objects.select_for_update(of=("self",)).select_related("customer", "assignee")
            .filter(source=source, external_id__in=wanted)
        ):
            existing[(complaint.source, complaint.external_id)] = complaint
    fresh = {key: item for key, item in last.items() if key not in existing}

    by_key: dict[tuple[str, str], LogResult] = {
        key: _complaint_redelivered(complaint, last[key], actor) for key, complaint in existing.items()
    }
    complaints = _log_batch_fresh(fresh, actor, now) if fresh else {}
    for key, complaint in complaints.items():
        by_key[key] = LogResult(complaint=complaint, created=True)
    results = []
    for index, item in enumerate(items):
        key = (item.source, item.external_id or "")
        result = by_key[key]
        if result.created and first[key] != index:
            result = LogResult(complaint=result.complaint, created=False)
        results.append(result)
    return results


def _log_batch_fresh(
    fresh: Mapping[tuple[str, str], ComplaintInput], actor: ActorRef, now: Any
) -> dict[tuple[str, str], Complaint]:
    def customer_key(item: ComplaintInput) -> CustomerKey:
        return (item.source, item.customer.external_id or None, normalise_email(item.customer.email))

    details = {customer_key(item): customer_fields(item.customer) for item in fresh.values()}
    customer_of = customers_resolve_bulk(list(details), details=details)
    customers = Customer.objects.in_bulk(set(customer_of.values()))
    customers_refresh_bulk(customers, {customer_of[key]: item.customer for key, item in
                                        ((customer_key(i), i) for i in fresh.values())})
    complaints: dict[tuple[str, str], Complaint] = {}
    for key, item in fresh.items():
        customer = customers[customer_of[customer_key(item)]]
        complaints[key] = Complaint(
            customer=customer, source=item.source, external_id=item.external_id, created_at=now, updated_at=now,
            **{"channel": Channel.API, **item.fields},
        )
    label = actor.label[:200]
    common = {
        "kind": TimelineEvent.Kind.LOGGED,
        "actor_type": actor.kind,
        "actor_user_id": actor.user.pk if actor.user is not None and actor.user.pk else None,
        "actor_key_id": actor.api_key.pk if actor.api_key is not None else None,
        "actor_label": label,
        "created_at": now,
    }
    ordered = list(complaints.values())
    complaints_insert(
        ordered,
        lambda c: [{
            **common,
            "complaint_id": c.pk,
            "message": f"Complaint logged via {c.get_channel_display().lower()}",
            "data": {"source": c.source, "external_id": c.external_id, "customer_id": c.customer_id},
        }],
    )
    webhook_payloads.publish_many("complaint.logged", ordered)
    for start in range(0, len(ordered), ASSESS_CHUNK):
        chunk = [c.pk for c in ordered[start : start + ASSESS_CHUNK]]
        signals.complaints_logged.send(sender=Complaint, complaint_ids=chunk, actor=actor)
    return complaints


def _complaint_by_external(source: str, external_id: str) -> Complaint | None:
    return (
        Complaint.objects.select_for_update(of=("self",))
        .select_related("customer", "assignee")
        .filter(source=source, external_id=external_id)
        .first()
    )


def _complaint_redelivered(complaint: Complaint, data: ComplaintInput, actor: ActorRef) -> LogResult:
    changes = {k: v for k, v in data.fields.items() if k in INTAKE_UPDATABLE_FIELDS}
    changed = apply_changes(complaint, changes, actor)
    return LogResult(complaint=complaint, created=False, changed=changed)
