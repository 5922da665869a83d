"""Every write to customers and complaints. Each service is atomic and writes one timeline event."""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from email.utils import parseaddr
from functools import reduce
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, connections, router, transaction
from django.db.models import Model, Q
from django.db.models.constants import OnConflict
from django.db.models.sql import InsertQuery
from django.utils import timezone

from notifications.services import notice_send, outbound_email_queue
from tickets import signals, webhook_payloads
from tickets.actors import ActorRef
from tickets.bulk import complaints_insert
from tickets.errors import DomainError, InvalidInput, InvalidTransition, Unprocessable
from tickets.events import event_write
from tickets.models import (
    STATUS_TRANSITIONS,
    Channel,
    Comment,
    Complaint,
    Customer,
    CustomerReference,
    Macro,
    SavedView,
    Status,
    TimelineEvent,
)
from tickets.permissions import complaint_change_refusal, user_role

# Fields that a helpdesk may send again for the same (source, external_id) to update the complaint.
INTAKE_UPDATABLE_FIELDS = (
    "cause",
    "severity",
    "subject",
    "description",
    "channel",
    "monetary_loss",
    "currency",
    "threatens_public",
    "says_wont_return",
    "occurred_at",
)
EDITABLE_FIELDS = frozenset(INTAKE_UPDATABLE_FIELDS) | {"tags"}


@dataclass(frozen=True)
class CustomerInput:
    """Who complained. At least one of email and external_id identifies them; None means 'not sent'."""

    email: str | None = None
    external_id: str | None = None
    name: str | None = None
    phone: str | None = None
    lifetime_value: Decimal | None = None
    social_reach: int | None = None


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


def _normalise_email(email: str | None) -> str | None:
    return email.strip().lower() if email else None


def customer_resolve(*, data: CustomerInput, source: str = "") -> Customer:
    """Find the customer by (source, external id), then by email, or create them. Safe under concurrency."""
    email = _normalise_email(data.email)
    if not email and not data.external_id:
        raise InvalidInput(
            "Tell us who complained: give the customer's email or their id in your system (external_id).",
            fields={"customer": ["Give an email or an external_id."]},
        )
    customer = None
    created = False
    if data.external_id:
        ref = CustomerReference.objects.select_related("customer").filter(
            source=source, external_id=data.external_id
        ).first()
        customer = ref.customer if ref else None
    if customer is None:
        # A new customer is created with everything the source sent, so it needs no update afterwards. Each row goes
        # in with INSERT … ON CONFLICT DO NOTHING: one statement when it is new, no savepoint, and when someone was
        # first (a known email, a concurrent request) theirs is read instead.
        fields = _customer_fields(data)
        if email:
            customer = Customer.objects.filter(email=email).first()
            if customer is None:
                candidate = Customer(email=email, **fields)
                if _insert_unless_known(candidate):
                    customer, created = candidate, True
                else:
                    customer, created = Customer.objects.get_or_create(email=email, defaults=fields)
        else:
            customer, created = Customer.objects.create(**fields), True
        if data.external_id:
            ref = CustomerReference(source=source, external_id=data.external_id, customer=customer)
            if not _insert_unless_known(ref):
                ref, _ = CustomerReference.objects.select_related("customer").get_or_create(
                    source=source, external_id=data.external_id, defaults={"customer": customer}
                )
                if ref.customer_id != customer.pk:
                    # Another request attached this external id first: use theirs.
                    customer, created = ref.customer, False
    if not created:
        _customer_refresh(customer, data, email)
    return customer


def _customer_fields(data: CustomerInput) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": data.name or "", "phone": data.phone or ""}
    if data.lifetime_value is not None:
        fields["lifetime_value"] = data.lifetime_value
    if data.social_reach is not None:
        fields["social_reach"] = data.social_reach
    return fields


def _customer_refresh(customer: Customer, data: CustomerInput, email: str | None) -> None:
    """Fill in what the source now knows about the customer; values sent win over stored ones."""
    updates: dict[str, Any] = {}
    if data.name and data.name != customer.name:
        updates["name"] = data.name
    if data.phone and data.phone != customer.phone:
        updates["phone"] = data.phone
    if email and not customer.email:
        updates["email"] = email
    if data.lifetime_value is not None and data.lifetime_value != customer.lifetime_value:
        updates["lifetime_value"] = data.lifetime_value
    if data.social_reach is not None and data.social_reach != customer.social_reach:
        updates["social_reach"] = data.social_reach
    if updates:
        for name, value in updates.items():
            setattr(customer, name, value)
        try:
            with transaction.atomic():
                customer.save(update_fields=[*updates, "updated_at"])
        except IntegrityError:
            # The email belongs to another customer record; keep this one as it was.
            customer.refresh_from_db()


# Rows per INSERT of the bulk writes below.
BULK_BATCH = 1000

CustomerKey = tuple[str, str | None, str | None]  # (source of the external id, external id, email)


def customers_resolve_bulk(
    keys: Iterable[CustomerKey],
    names: Mapping[CustomerKey, str] | None = None,
    details: Mapping[CustomerKey, Mapping[str, Any]] | None = None,
) -> dict[CustomerKey, int]:
    """Customer id for each (source, external_id, email): by reference, then by email, else a new customer.
    A new customer is created with its name (`names`) or with everything `details` gives (name, phone,
    lifetime_value, social_reach: what _customer_fields makes of a CustomerInput).

    The same rules as tickets.services.customer_resolve, for a whole batch in a few queries. Keys
    that name the same external id or email end up on the same customer. If a concurrent request
    creates one of the same customers first, the batch falls back to customer_resolve one by one.
    """
    keys = list(dict.fromkeys(keys))
    refs: dict[tuple[str, str], int] = {}
    by_source: dict[str, set[str]] = {}
    for source, external_id, _ in keys:
        if external_id:
            by_source.setdefault(source, set()).add(external_id)
    for source, external_ids in by_source.items():
        for ref_source, ref_external_id, customer_id in CustomerReference.objects.filter(
            source=source, external_id__in=external_ids
        ).values_list("source", "external_id", "customer_id"):
            refs[(ref_source, ref_external_id)] = customer_id
    emails = {email for _, _, email in keys if email}
    by_email = dict(Customer.objects.filter(email__in=emails).values_list("email", "pk")) if emails else {}

    resolved: dict[CustomerKey, int] = {}
    to_attach: dict[tuple[str, str], int] = {}
    # New customers: one slot per distinct external id or email; keys sharing either share the slot.
    slots: list[dict[str, Any]] = []
    slot_of_ref: dict[tuple[str, str], int] = {}
    slot_of_email: dict[str, int] = {}
    pending: dict[CustomerKey, int] = {}
    # In the batch's order, as if customer_resolve ran once per key: a reference wins over an email,
    # and a reference attached earlier in the batch counts as known.
    for key in keys:
        source, external_id, email = key
        ref = (source, external_id) if external_id else None
        if ref and (ref in refs or ref in to_attach):
            resolved[key] = refs.get(ref) or to_attach[ref]
            continue
        if ref and ref in slot_of_ref:
            slot = slot_of_ref[ref]
            if email and slots[slot]["email"] is None and email not in slot_of_email and email not in by_email:
                slots[slot]["email"] = email  # a new customer learns the email the batch gives later
                slot_of_email[email] = slot
            pending[key] = slot
            continue
        if email and email in by_email:
            resolved[key] = by_email[email]
            if ref:
                to_attach[ref] = by_email[email]
            continue
        slot = slot_of_email.get(email) if email else None
        if slot is None:
            slots.append({"email": email, "refs": []})
            slot = len(slots) - 1
            if email:
                slot_of_email[email] = slot
        if ref:
            slot_of_ref[ref] = slot
            slots[slot]["refs"].append(ref)
        pending[key] = slot

    if slots:
        if names:
            for key, slot in pending.items():
                if names.get(key) and not slots[slot].get("name"):
                    slots[slot]["name"] = names[key][:200]
        if details:
            for key, slot in pending.items():
                if details.get(key) and not slots[slot].get("fields"):
                    slots[slot]["fields"] = dict(details[key])
        created = _customers_create(slots)
        if created is None:
            # A concurrent request created one of these customers: resolve them safely one by one.
            for key in pending:
                source, external_id, email = key
                name = (names or {}).get(key) or None
                sent = dict((details or {}).get(key) or {})
                data = CustomerInput(
                    email=email, external_id=external_id, name=sent.get("name") or name, phone=sent.get("phone") or None,
                    lifetime_value=sent.get("lifetime_value"), social_reach=sent.get("social_reach"),
                )
                resolved[key] = customer_resolve(data=data, source=source).pk
        else:
            for key, slot in pending.items():
                resolved[key] = created[slot]
            for slot, data in enumerate(slots):
                for ref in data["refs"]:
                    to_attach[ref] = created[slot]

    if to_attach:
        CustomerReference.objects.bulk_create(
            [CustomerReference(source=s, external_id=e, customer_id=c) for (s, e), c in to_attach.items()],
            ignore_conflicts=True,
        )
        # Another request may have attached the same external id first: theirs wins, as in customer_resolve.
        winners: dict[tuple[str, str], int] = {}
        for source in {s for s, _ in to_attach}:
            winners.update(
                {
                    (s, e): c
                    for s, e, c in CustomerReference.objects.filter(
                        source=source, external_id__in=[e for s2, e in to_attach if s2 == source]
                    ).values_list("source", "external_id", "customer_id")
                }
            )
        for key in resolved:
            source, external_id, _ = key
            if external_id and (source, external_id) in winners:
                resolved[key] = winners[(source, external_id)]
    return resolved


def _customers_create(slots: list[dict[str, Any]]) -> list[int] | None:
    """Create one customer per slot and return their ids in order; None if an email was taken meanwhile."""
    if not connection.features.can_return_rows_from_bulk_insert:
        return None
    rows = [Customer(**{"name": slot.get("name") or "", **slot.get("fields", {}), "email": slot["email"]}) for slot in slots]
    try:
        with transaction.atomic():
            Customer.objects.bulk_create(rows, batch_size=BULK_BATCH)
    except IntegrityError:
        return None
    return [row.pk for row in rows]



@transaction.atomic
def complaint_log(*, data: ComplaintInput, actor: ActorRef) -> LogResult:
    """Log a complaint, or return the existing one for a repeated (source, external_id).

    A repeated delivery with changed details updates the complaint (one 'updated' event);
    an identical one changes nothing. Never creates a duplicate, also under concurrent requests.
    The complaint returned is the one written (its customer attached): callers answer from it without
    reading it back. A new complaint from a known customer costs three statements: the customer's SELECT,
    the complaint's INSERT … ON CONFLICT DO NOTHING and the timeline event's INSERT (tests/tickets/test_intake_cost.py).
    """
    customer = customer_resolve(data=data.customer, source=data.source)
    complaint = Complaint(customer=customer, source=data.source, external_id=data.external_id, **data.fields)
    if data.external_id and not _insert_unless_known(complaint):
        # The unique (source, external_id) caught a redelivery: no SELECT before every INSERT, no savepoint,
        # and no constraint error in the database's log.
        existing = _complaint_by_external(data.source, data.external_id)
        if existing is None:
            # The conflicting row went away (its transaction rolled back), or SQLite's OR IGNORE skipped the row
            # for another constraint: a plain INSERT either stores it or raises the real error.
            complaint.save(force_insert=True)
        else:
            return _complaint_redelivered(existing, data, actor)
    elif not data.external_id:
        complaint.save(force_insert=True)
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.LOGGED,
        actor=actor,
        message=f"Complaint logged via {complaint.get_channel_display().lower()}",
        data={"source": data.source, "external_id": data.external_id, "customer_id": customer.pk},
    )
    webhook_payloads.publish("complaint.logged", complaint)
    signals.complaint_logged.send(sender=Complaint, complaint_id=complaint.pk, actor=actor)
    return LogResult(complaint=complaint, created=True)


def _insert_unless_known(obj: Model) -> bool:
    """INSERT … ON CONFLICT DO NOTHING RETURNING id: True (and the instance saved) when the row went in, False
    when a row with the same unique key exists (on PostgreSQL after waiting for a concurrent insert of it to
    commit or roll back)."""
    model = type(obj)
    using = router.db_for_write(model)
    conn = connections[using]
    opts = model._meta
    fields = [f for f in opts.concrete_fields if not f.primary_key or getattr(obj, f.attname) is not None]
    query = InsertQuery(model, on_conflict=OnConflict.IGNORE)
    query.insert_values(fields, [obj])
    compiler = query.get_compiler(using=using)
    compiler.returning_fields = [opts.pk]
    [(sql, params)] = compiler.as_sql()
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return False
    obj.pk = opts.pk.to_python(row[0])
    obj._state.adding, obj._state.db = False, using
    return True


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
        return (item.source, item.customer.external_id or None, _normalise_email(item.customer.email))

    details = {customer_key(item): _customer_fields(item.customer) for item in fresh.values()}
    customer_of = customers_resolve_bulk(list(details), details=details)
    customers = Customer.objects.in_bulk(set(customer_of.values()))
    _customers_refresh_bulk(customers, {customer_of[key]: item.customer for key, item in
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


def _customers_refresh_bulk(customers: Mapping[int, Customer], sent: Mapping[int, CustomerInput]) -> None:
    """_customer_refresh for a batch, in one UPDATE: the values sent win over stored ones (an email is only ever
    added by single intake, where a clash with another customer's can be handled row by row)."""
    changed: dict[int, Customer] = {}
    fields: set[str] = set()
    for customer_id, data in sent.items():
        customer = customers[customer_id]
        for name in ("name", "phone", "lifetime_value", "social_reach"):
            value = getattr(data, name)
            if value not in (None, "") and value != getattr(customer, name):
                setattr(customer, name, value)
                changed[customer_id] = customer
                fields.add(name)
    if changed:
        now = timezone.now()
        for customer in changed.values():
            customer.updated_at = now
        Customer.objects.bulk_update(list(changed.values()), [*sorted(fields), "updated_at"], batch_size=BULK_BATCH)


def _complaint_by_external(source: str, external_id: str) -> Complaint | None:
    return (
        Complaint.objects.select_for_update(of=("self",))
        .select_related("customer", "assignee")
        .filter(source=source, external_id=external_id)
        .first()
    )


def _complaint_redelivered(complaint: Complaint, data: ComplaintInput, actor: ActorRef) -> LogResult:
    changes = {k: v for k, v in data.fields.items() if k in INTAKE_UPDATABLE_FIELDS}
    changed = _apply_changes(complaint, changes, actor)
    return LogResult(complaint=complaint, created=False, changed=changed)


def _apply_changes(complaint: Complaint, changes: dict[str, Any], actor: ActorRef) -> frozenset[str]:
    diff = {
        name: [getattr(complaint, name), value] for name, value in changes.items() if getattr(complaint, name) != value
    }
    if not diff:
        return frozenset()
    for name, (_, value) in diff.items():
        setattr(complaint, name, value)
    complaint.save(update_fields=[*diff, "updated_at"])
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.UPDATED,
        actor=actor,
        message="Changed " + ", ".join(name.replace("_", " ") for name in diff),
        data={"changes": diff},
    )
    changed = frozenset(diff)
    signals.complaint_changed.send(sender=Complaint, complaint_id=complaint.pk, changed=changed, actor=actor)
    return changed


def _locked(complaint: Complaint) -> Complaint:
    return Complaint.objects.select_for_update(of=("self",)).select_related("customer", "assignee").get(pk=complaint.pk)


@transaction.atomic
def complaint_update(*, complaint: Complaint, changes: dict[str, Any], actor: ActorRef) -> Complaint:
    """Change a complaint's details (not status or assignee). Writes one event when anything changed."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise InvalidInput(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    complaint = _locked(complaint)
    _apply_changes(complaint, changes, actor)
    return complaint


@transaction.atomic
def complaint_transition(*, complaint: Complaint, to_status: str, actor: ActorRef, note: str = "") -> Complaint:
    """Move the complaint to another status, only along STATUS_TRANSITIONS; InvalidTransition otherwise."""
    complaint = _locked(complaint)
    from_status = complaint.status
    if to_status == from_status:
        return complaint
    if to_status not in STATUS_TRANSITIONS.get(from_status, frozenset()):
        allowed = ", ".join(Status(s).label.lower() for s in complaint.allowed_transitions()) or "nothing (it is final)"
        raise InvalidTransition(
            f"{complaint.reference} is {Status(from_status).label.lower()} and cannot move to "
            f"{Status(to_status).label.lower()}. It can move to: {allowed}."
        )
    now = timezone.now()
    complaint.status = to_status
    fields = ["status", "updated_at"]
    if from_status == Status.NEW and complaint.first_response_at is None:
        complaint.first_response_at = now
        fields.append("first_response_at")
    if to_status == Status.RESOLVED:
        complaint.resolved_at = now
        fields.append("resolved_at")
    elif to_status == Status.CLOSED:
        complaint.closed_at = now
        fields.append("closed_at")
    elif from_status == Status.RESOLVED:
        complaint.resolved_at = None  # reopened
        fields.append("resolved_at")
    complaint.save(update_fields=fields)
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.STATUS_CHANGED,
        actor=actor,
        message=f"Status {Status(from_status).label.lower()} → {Status(to_status).label.lower()}"
        + (f": {note}" if note else ""),
        data={"from": from_status, "to": to_status, "note": note},
    )
    if to_status == Status.RESOLVED:
        webhook_payloads.publish("complaint.resolved", complaint, from_status=from_status, note=note)
    signals.complaint_changed.send(sender=Complaint, complaint_id=complaint.pk, changed=frozenset({"status"}), actor=actor)
    return complaint


@transaction.atomic
def complaint_assign(*, complaint: Complaint, assignee: Any | None, actor: ActorRef) -> Complaint:
    """Assign to a staff member with a role (or unassign with None) and notify the new assignee."""
    if assignee is not None and (not assignee.is_active or user_role(assignee) is None):
        raise Unprocessable(
            f"{assignee.get_username()} has no support role and cannot be assigned complaints.",
            fields={"assignee": ["Choose someone with the agent, lead, manager or executive role."]},
        )
    complaint = _locked(complaint)
    previous = complaint.assignee
    if (previous.pk if previous else None) == (assignee.pk if assignee else None):
        return complaint
    complaint.assignee = assignee
    complaint.save(update_fields=["assignee", "updated_at"])
    name = assignee.get_full_name() or assignee.get_username() if assignee else None
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.ASSIGNED,
        actor=actor,
        message=f"Assigned to {name}" if assignee else "Unassigned",
        data={"from": previous.pk if previous else None, "to": assignee.pk if assignee else None},
    )
    if assignee is not None and assignee != actor.user:
        notice_send(
            recipient=assignee,
            title=f"{complaint.reference} was assigned to you",
            body=f"{complaint.subject}\nAssigned by {actor.label}.",
            url=f"/complaints/{complaint.reference}/",
        )
    signals.complaint_changed.send(
        sender=Complaint, complaint_id=complaint.pk, changed=frozenset({"assignee"}), actor=actor
    )
    return complaint


class ReplyUndeliverable(DomainError):
    """No channel reaches this customer: the reply would be written and never read."""

    code = "reply_undeliverable"
    status = 409


def reply_channel(complaint: Complaint) -> str | None:
    """How a reply to the customer travels: "helpdesk" (a public comment on the ticket it came from, when that
    helpdesk's connection has API credentials), "email", or None when nothing reaches them."""
    from tickets.helpdesks.writeback import reply_channel_for

    if reply_channel_for(complaint) is not None:
        return "helpdesk"
    return "email" if complaint.customer.email else None


def _reply_destination(complaint: Complaint, channel: str) -> str:
    """Where the reply goes, in words for the timeline."""
    if channel == "helpdesk":
        return f"{complaint.source} ticket #{complaint.external_id}"
    return complaint.customer.email or "the customer"


def reply_undeliverable_reason(complaint: Complaint) -> str:
    return (
        f"A reply on {complaint.reference} cannot reach the customer: we have no email address for them. "
        "Add their email (log the complaint again with it, or through the API), or contact them another way "
        "and write an internal note."
    )


def _thread_domain() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rsplit("@", 1)[-1] if "@" in address else "cx-recovery.localhost"


def reply_email_headers(complaint: Complaint, comment: Comment) -> dict[str, str]:
    """Every reply has its own Message-ID and points at the complaint's thread id, so mail clients thread them."""
    domain = _thread_domain()
    thread = f"<complaint-{complaint.reference}@{domain}>"
    return {
        "Message-ID": f"<complaint-{complaint.reference}-reply-{comment.pk}@{domain}>",
        "In-Reply-To": thread,
        "References": thread,
    }


@transaction.atomic
def comment_add(*, complaint: Complaint, kind: str, body: str, actor: ActorRef, answered_in: str = "") -> Comment:
    """Add an internal note or a reply to the customer.

    A reply is sent after commit — posted through the helpdesk the complaint came from when that connection
    writes back, else emailed — and retried on failure; it counts as the first response only once it was sent
    (reply_delivered). ReplyUndeliverable (409) when nothing can reach the customer.

    `answered_in` names a helpdesk where an agent already answered the customer (its webhook told us): the
    reply is recorded as sent there, counts as the first response now, and is not sent again.
    """
    if answered_in and kind == Comment.Kind.REPLY:
        return _reply_answered_elsewhere(complaint=complaint, body=body, actor=actor, where=answered_in)
    body = (body or "").strip()
    if not body:
        raise InvalidInput("Write something before saving.", fields={"body": ["This field may not be blank."]})
    if kind not in Comment.Kind.values:
        raise InvalidInput(f"Unknown comment kind '{kind}'.", fields={"kind": ["Choose note or reply."]})
    complaint = _locked(complaint)
    channel = reply_channel(complaint) if kind == Comment.Kind.REPLY else None
    if kind == Comment.Kind.REPLY and channel is None:
        raise ReplyUndeliverable(reply_undeliverable_reason(complaint))
    comment = Comment.objects.create(
        complaint=complaint,
        kind=kind,
        body=body,
        author=actor.user,
        author_label=actor.label[:200],
        delivery_channel=channel or "",
        delivery_state=Comment.DeliveryState.PENDING if channel else "",
    )
    if channel == "helpdesk":
        from tickets.helpdesks.writeback import reply_channel_for, reply_queue

        reply_queue(connection=reply_channel_for(complaint), complaint=complaint, comment=comment)
    elif channel == "email":
        outbound_email_queue(
            ref=f"comment:{comment.pk}",
            to=complaint.customer.email,
            subject=f"Re: {complaint.subject} [{complaint.reference}]",
            body=body,
            reply_to=settings.REPLY_TO_EMAIL,
            headers=reply_email_headers(complaint, comment),
        )
    mentioned = _mentions_notify(complaint=complaint, comment=comment, actor=actor) if kind == Comment.Kind.NOTE else []
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.COMMENTED,
        actor=actor,
        message=(
            f"Replied to the customer (posting it as a public comment on {_reply_destination(complaint, channel)})"
            if channel == "helpdesk"
            else f"Replied to the customer (emailing {complaint.customer.email})" if channel
            else "Added an internal note" + (f" mentioning {', '.join('@' + u.get_username() for u in mentioned)}" if mentioned else "")
        ),
        data={"comment_id": comment.pk, "kind": kind, "channel": channel, "mentions": [u.pk for u in mentioned]},
    )
    return comment


# @username in a note: Django usernames are letters, digits and @ . + - _; a trailing full stop ends the sentence.
MENTION_RE = re.compile(r"(?<![\w@])@([\w.@+-]{1,150})")
MENTIONS_MAX = 10


def mentioned_usernames(body: str) -> list[str]:
    """The @usernames in a text, in order, once each (lower-case)."""
    names = [match.rstrip(".") for match in MENTION_RE.findall(body or "")]
    return list(dict.fromkeys(name.lower() for name in names if name))[:MENTIONS_MAX]


def _mentions_notify(*, complaint: Complaint, comment: Comment, actor: ActorRef) -> list[Any]:
    """Tell each active support person mentioned in a note (not the author) through a notice; unknown names are
    plain text. Returns the people told."""
    names = mentioned_usernames(comment.body)
    if not names:
        return []
    people = [
        user
        for user in get_user_model().objects.filter(is_active=True).filter(
            reduce(operator.or_, (Q(username__iexact=name) for name in names))
        )
        if user_role(user) is not None and user != actor.user
    ]
    for user in people:
        notice_send(
            recipient=user,
            title=f"{actor.label} mentioned you on {complaint.reference}",
            body=f"{complaint.subject}\n\n{comment.body[:500]}",
            url=f"/complaints/{complaint.reference}/#comment-{comment.pk}",
            dedupe_key=f"tickets:mention:{comment.pk}:{user.pk}",
        )
    return people


@transaction.atomic
def _reply_answered_elsewhere(*, complaint: Complaint, body: str, actor: ActorRef, where: str) -> Comment:
    body = (body or "").strip()
    if not body:
        raise InvalidInput("Write something before saving.", fields={"body": ["This field may not be blank."]})
    complaint = _locked(complaint)
    now = timezone.now()
    comment = Comment.objects.create(
        complaint=complaint,
        kind=Comment.Kind.REPLY,
        body=body,
        author_label=actor.label[:200],
        delivery_channel="helpdesk",
        delivery_state=Comment.DeliveryState.SENT,
        delivered_at=now,
    )
    changed = frozenset()
    if complaint.first_response_at is None:
        complaint.first_response_at = now
        complaint.save(update_fields=["first_response_at", "updated_at"])
        changed = frozenset({"first_response_at"})
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.COMMENTED,
        actor=actor,
        message=f"An agent answered the customer in {where}",
        data={"comment_id": comment.pk, "kind": comment.kind, "channel": "helpdesk", "delivery": "sent"},
    )
    webhook_payloads.publish(
        "complaint.replied", complaint, reply=webhook_payloads.reply_data(comment, channel="helpdesk", sent_at=now)
    )
    if changed:
        signals.complaint_changed.send(sender=Complaint, complaint_id=complaint.pk, changed=changed, actor=actor)
    return comment


EMAIL_ACTOR = ActorRef.system("Email")
HELPDESK_ACTOR = ActorRef.system("Helpdesk")


def _delivery_actor(comment: Comment) -> ActorRef:
    return HELPDESK_ACTOR if comment.delivery_channel == "helpdesk" else EMAIL_ACTOR


@transaction.atomic
def reply_delivered(*, comment_id: int, sent_at: Any) -> Comment | None:
    """The reply reached the customer's mail server: mark it sent, count it as the first response (if it is the
    first), write the timeline, publish complaint.replied. Safe to call twice."""
    comment = Comment.objects.select_related("complaint").filter(pk=comment_id).first()
    if comment is None:
        return None
    complaint = _locked(comment.complaint)
    if not Comment.objects.filter(pk=comment.pk).exclude(delivery_state=Comment.DeliveryState.SENT).update(
        delivery_state=Comment.DeliveryState.SENT, delivered_at=sent_at, delivery_error=""
    ):
        return comment
    comment.refresh_from_db()
    changed = frozenset()
    if complaint.first_response_at is None:
        complaint.first_response_at = sent_at
        complaint.save(update_fields=["first_response_at", "updated_at"])
        changed = frozenset({"first_response_at"})
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.COMMENTED,
        actor=_delivery_actor(comment),
        message=f"Reply sent to {_reply_destination(complaint, comment.delivery_channel)}",
        data={"comment_id": comment.pk, "kind": comment.kind, "delivery": "sent", "channel": comment.delivery_channel},
    )
    webhook_payloads.publish(
        "complaint.replied", complaint, reply=webhook_payloads.reply_data(comment, channel=comment.delivery_channel, sent_at=sent_at)
    )
    if changed:
        signals.complaint_changed.send(sender=Complaint, complaint_id=complaint.pk, changed=changed, actor=_delivery_actor(comment))
    return comment


@transaction.atomic
def reply_delivery_failed(*, comment_id: int, error: str, final: bool, retry_at: Any = None) -> Comment | None:
    """A send failed: show why on the reply and the timeline; it does not count as a response."""
    comment = Comment.objects.select_related("complaint").filter(pk=comment_id).first()
    if comment is None or comment.delivery_state == Comment.DeliveryState.SENT:
        return comment
    complaint = _locked(comment.complaint)
    state = Comment.DeliveryState.FAILED if final else Comment.DeliveryState.RETRYING
    Comment.objects.filter(pk=comment.pk).update(delivery_state=state, delivery_error=error[:500])
    comment.refresh_from_db()
    then = "no more retries; send it again from the complaint page" if final else f"retrying {retry_at:%d %b %H:%M} UTC" if retry_at else "retrying"
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.COMMENTED,
        actor=_delivery_actor(comment),
        message=f"Reply could not be sent to {_reply_destination(complaint, comment.delivery_channel)}: {error} ({then})",
        data={"comment_id": comment.pk, "kind": comment.kind, "delivery": state, "error": error},
    )
    return comment


@transaction.atomic
def reply_send_again(*, comment: Comment, actor: ActorRef) -> Comment:
    """Try a reply whose sending failed once more."""
    from notifications.services import outbound_email_retry

    if comment.kind != Comment.Kind.REPLY or comment.delivery_state != Comment.DeliveryState.FAILED:
        raise DomainError("Only a reply that could not be sent can be sent again.")
    if comment.delivery_channel == "helpdesk":
        from notifications.services import delivery_resend
        from tickets.helpdesks.models import HelpdeskWriteback

        link = HelpdeskWriteback.objects.select_related("delivery").filter(comment=comment).first()
        if link is not None:
            delivery_resend(delivery=link.delivery)
    else:
        outbound_email_retry(ref=f"comment:{comment.pk}")
    Comment.objects.filter(pk=comment.pk).update(delivery_state=Comment.DeliveryState.PENDING)
    event_write(
        complaint=comment.complaint,
        kind=TimelineEvent.Kind.COMMENTED,
        actor=actor,
        message="Sending the reply again",
        data={"comment_id": comment.pk, "kind": comment.kind, "delivery": "pending"},
    )
    comment.refresh_from_db()
    return comment


def staff_user_get(*, user_id: int) -> Any:
    """The active staff member with this id, or InvalidInput."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise Unprocessable(f"No active user with id {user_id}.", fields={"assignee": ["Unknown user."]})
    return user


# --- tags, bulk actions -----------------------------------------------------------------------------

TAG_RE = re.compile(r"^[\w][\w .:/+-]{0,39}$")


def tag_clean(tag: str) -> str:
    """A tag as stored: trimmed, lower-case, at most 40 letters, digits, spaces or . : / + - _."""
    tag = (tag or "").strip().lower()
    if not TAG_RE.match(tag):
        raise InvalidInput(
            "A tag is 1 to 40 letters, digits, spaces or . : / + - _.", fields={"tag": ["Use a short tag, e.g. refund-sent."]}
        )
    return tag


@transaction.atomic
def complaint_tag_add(*, complaint: Complaint, tag: str, actor: ActorRef) -> Complaint:
    """Add a tag (no change when it is there already). Writes one 'tagged' event when the tags changed."""
    tag = tag_clean(tag)
    complaint = _locked(complaint)
    tags = list(complaint.tags or [])
    if tag in tags:
        return complaint
    complaint.tags = [*tags, tag]
    complaint.save(update_fields=["tags", "updated_at"])
    event_write(
        complaint=complaint, kind=TimelineEvent.Kind.TAGGED, actor=actor, message=f"Tagged {tag}", data={"tag": tag}
    )
    signals.complaint_changed.send(sender=Complaint, complaint_id=complaint.pk, changed=frozenset({"tags"}), actor=actor)
    return complaint


BULK_MAX = 100


@dataclass(frozen=True)
class BulkOutcome:
    done: list[str]
    refused: list[tuple[str, str]]  # (reference, why)


def complaints_bulk_apply(
    *, complaints: Iterable[Complaint], action: str, value: Any, actor: ActorRef
) -> BulkOutcome:
    """Apply one action to each complaint, each in its own transaction, with the single action's checks.

    action: "assign" (value: a user or None), "status" (value: a status), "tag" (value: a tag). A complaint the
    person may not change (complaint_change_refusal) or whose status cannot make the move is refused and
    reported; the others go through. Adding a tag is open to everyone, like a note.
    """
    if action not in {"assign", "status", "tag"}:
        raise InvalidInput(f"Unknown bulk action '{action}'.", fields={"action": ["Choose assign, status or tag."]})
    if action == "tag":
        value = tag_clean(value)
    done: list[str] = []
    refused: list[tuple[str, str]] = []
    for complaint in complaints:
        user = actor.user
        if action != "tag":
            why = complaint_change_refusal(user, complaint)
            if why:
                refused.append((complaint.reference, why))
                continue
        try:
            if action == "assign":
                complaint_assign(complaint=complaint, assignee=value, actor=actor)
            elif action == "status":
                if complaint.status == value:
                    refused.append((complaint.reference, f"{complaint.reference} is {Status(value).label.lower()} already."))
                    continue
                complaint_transition(complaint=complaint, to_status=value, actor=actor)
            else:
                complaint_tag_add(complaint=complaint, tag=value, actor=actor)
        except DomainError as exc:
            refused.append((complaint.reference, exc.message))
            continue
        done.append(complaint.reference)
    return BulkOutcome(done=done, refused=refused)


# --- macros and saved views ---------------------------------------------------------------------------


@transaction.atomic
def macro_save(*, macro: Macro | None, title: str, kind: str, body: str, active: bool, actor: ActorRef) -> Macro:
    """Create (macro=None) or change a macro. The form has checked the placeholders."""
    if macro is None:
        macro = Macro(created_by=actor.user)
    macro.title, macro.kind, macro.body, macro.active = title.strip(), kind, body.strip(), active
    try:
        with transaction.atomic():
            macro.save()
    except IntegrityError as exc:
        raise Unprocessable(
            f"A macro called “{title.strip()}” exists already.", fields={"title": ["Choose another title."]}
        ) from exc
    return macro


@transaction.atomic
def saved_view_save(*, owner: Any, name: str, query: str, shared: bool) -> SavedView:
    """Save (or overwrite, by name) one of the owner's queue views."""
    view, _ = SavedView.objects.update_or_create(
        owner=owner, name=name.strip(), defaults={"query": query, "shared": shared}
    )
    return view
