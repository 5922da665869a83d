"""Every write to customers and complaints. Each service is atomic and writes one timeline event."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications.services import notice_send
from tickets import signals
from tickets.actors import ActorRef
from tickets.errors import InvalidInput, InvalidTransition, Unprocessable
from tickets.events import event_write
from tickets.models import (
    STATUS_TRANSITIONS,
    Comment,
    Complaint,
    Customer,
    CustomerReference,
    Status,
    TimelineEvent,
)
from tickets.permissions import user_role

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
        # A new customer is created with everything the source sent, so it needs no update afterwards.
        fields = _customer_fields(data)
        if email:
            customer, created = Customer.objects.get_or_create(email=email, defaults=fields)
        else:
            customer, created = Customer.objects.create(**fields), True
    if data.external_id:
        # get_or_create inserts in its own savepoint and reads the winner's row after an IntegrityError.
        ref, ref_created = CustomerReference.objects.get_or_create(
            source=source, external_id=data.external_id, defaults={"customer": customer}
        )
        if not ref_created and ref.customer_id != customer.pk:
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


@transaction.atomic
def complaint_log(*, data: ComplaintInput, actor: ActorRef) -> LogResult:
    """Log a complaint, or return the existing one for a repeated (source, external_id).

    A repeated delivery with changed details updates the complaint (one 'updated' event);
    an identical one changes nothing. Never creates a duplicate, also under concurrent requests.
    """
    customer = customer_resolve(data=data.customer, source=data.source)
    if data.external_id:
        existing = _complaint_by_external(data.source, data.external_id)
        if existing is not None:
            return _complaint_redelivered(existing, data, actor)
    try:
        with transaction.atomic():
            complaint = Complaint.objects.create(
                customer=customer, source=data.source, external_id=data.external_id, **data.fields
            )
    except IntegrityError:
        existing = _complaint_by_external(data.source, data.external_id) if data.external_id else None
        if existing is None:
            raise
        return _complaint_redelivered(existing, data, actor)
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.LOGGED,
        actor=actor,
        message=f"Complaint logged via {complaint.get_channel_display().lower()}",
        data={"source": data.source, "external_id": data.external_id, "customer_id": customer.pk},
    )
    signals.complaint_logged.send(sender=Complaint, complaint_id=complaint.pk, actor=actor)
    return LogResult(complaint=complaint, created=True)


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


@transaction.atomic
def comment_add(*, complaint: Complaint, kind: str, body: str, actor: ActorRef) -> Comment:
    """Add an internal note or a reply to the customer. A reply counts as the first response."""
    body = (body or "").strip()
    if not body:
        raise InvalidInput("Write something before saving.", fields={"body": ["This field may not be blank."]})
    if kind not in Comment.Kind.values:
        raise InvalidInput(f"Unknown comment kind '{kind}'.", fields={"kind": ["Choose note or reply."]})
    complaint = _locked(complaint)
    comment = Comment.objects.create(
        complaint=complaint, kind=kind, body=body, author=actor.user, author_label=actor.label[:200]
    )
    if kind == Comment.Kind.REPLY and complaint.first_response_at is None:
        complaint.first_response_at = timezone.now()
        complaint.save(update_fields=["first_response_at", "updated_at"])
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.COMMENTED,
        actor=actor,
        message=("Replied to the customer" if kind == Comment.Kind.REPLY else "Added an internal note"),
        data={"comment_id": comment.pk, "kind": kind},
    )
    if kind == Comment.Kind.REPLY:
        signals.complaint_changed.send(
            sender=Complaint, complaint_id=complaint.pk, changed=frozenset({"first_response_at"}), actor=actor
        )
    return comment


def staff_user_get(*, user_id: int) -> Any:
    """The active staff member with this id, or InvalidInput."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise Unprocessable(f"No active user with id {user_id}.", fields={"assignee": ["Unknown user."]})
    return user
