"""Changing a complaint: its details, its status (only along STATUS_TRANSITIONS) and its assignee."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from notifications.services import notice_send
from tickets import signals, webhook_payloads
from tickets.actors import ActorRef
from tickets.errors import InvalidInput, InvalidTransition, Unprocessable
from tickets.events import event_write
from tickets.models import (
    STATUS_TRANSITIONS,
    Complaint,
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


def apply_changes(complaint: Complaint, changes: dict[str, Any], actor: ActorRef) -> frozenset[str]:
    """Set the changed fields of a locked complaint, write one `updated` event and signal; the names changed."""
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


def locked(complaint: Complaint) -> Complaint:
    """The complaint read again FOR UPDATE: every write to one complaint starts here."""
    return Complaint.objects.select_for_update(of=("self",)).select_related("customer", "assignee").get(pk=complaint.pk)


@transaction.atomic
def complaint_update(*, complaint: Complaint, changes: dict[str, Any], actor: ActorRef) -> Complaint:
    """Change a complaint's details (not status or assignee). Writes one event when anything changed."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise InvalidInput(f"These fields cannot be changed here: {', '.join(sorted(unknown))}.")
    complaint = locked(complaint)
    apply_changes(complaint, changes, actor)
    return complaint


@transaction.atomic
def complaint_transition(*, complaint: Complaint, to_status: str, actor: ActorRef, note: str = "") -> Complaint:
    """Move the complaint to another status, only along STATUS_TRANSITIONS; InvalidTransition otherwise."""
    complaint = locked(complaint)
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
    complaint = locked(complaint)
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


def staff_user_get(*, user_id: int) -> Any:
    """The active staff member with this id, or InvalidInput."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise Unprocessable(f"No active user with id {user_id}.", fields={"assignee": ["Unknown user."]})
    return user
