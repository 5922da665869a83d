"""What people do with an escalation (acknowledge, take over, de-escalate) and the reminders the SLA sweep
sends when an acknowledgement or a first response is due. One of two simultaneous answers wins."""


from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from notifications.models import Notification
from notifications.services import notice_send
from recovery import webhook_payloads
from recovery.escalation import selectors as sel
from recovery.escalation.facts import CLOCK_RUNNING_STATUSES
from recovery.escalation.services.common import (
    RESPONSE_NEAR,
    EscalationConflict,
    EscalationNotYours,
    _tier_word,
    tier_users,
)
from recovery.formatting import duration, when
from recovery.models import ESCALATION_TRANSITIONS, Escalation
from recovery.transitions import transition
from recovery.vocabulary import TIERS
from tickets import services as ticket_services
from tickets.actors import ActorRef, display_name
from tickets.errors import DomainError, InvalidInput
from tickets.events import event_write
from tickets.models import Complaint, Tier, TimelineEvent
from tickets.permissions import PERSON_NEEDED, user_tier

logger = logging.getLogger(__name__)


# --- what people do with an escalation ---------------------------------------------------------


def _locked_escalation(escalation_id: int) -> Escalation:
    """The escalation, locked after its complaint: the same order as complaint_assess, so the two never deadlock."""
    complaint_id = Escalation.objects.filter(pk=escalation_id).values_list("complaint_id", flat=True).first()
    if complaint_id is None:
        raise EscalationNotFound(f"No escalation with id {escalation_id}.")
    complaint = Complaint.objects.select_for_update(of=("self",)).select_related("customer", "assignee").get(pk=complaint_id)
    escalation = Escalation.objects.select_for_update(of=("self",)).select_related("acknowledged_by").get(pk=escalation_id)
    escalation.complaint = complaint
    return escalation


def _move(escalation: Escalation, from_status: str, to_status: str, **changes: Any) -> int:
    """The escalation's status move, through its transition table: 1 when this call moved it, else 0."""
    rows = Escalation.objects.filter(pk=escalation.pk)
    return transition(rows, table=ESCALATION_TRANSITIONS, from_status=from_status, to_status=to_status, **changes)


def _reload(escalation: Escalation) -> Escalation:
    fresh = Escalation.objects.select_related("acknowledged_by").get(pk=escalation.pk)
    fresh.complaint = escalation.complaint
    return fresh


class EscalationNotFound(DomainError):
    code = "not_found"
    status = 404


def escalation_can_handle(*, actor: ActorRef, escalation: Escalation) -> bool:
    """People handle escalations at their tier or below, signed in or through a key that acts for them. A tool's
    key (bound to no person) may read escalations but never act on them: handling one is a person's word."""
    if actor.user is None:
        return False
    mine = user_tier(actor.user)
    return mine is not None and mine != Tier.FRONTLINE and TIERS.index(mine) >= TIERS.index(escalation.tier)


def _check_can_handle(actor: ActorRef, escalation: Escalation) -> None:
    if actor.user is None or not getattr(actor.user, "pk", None):
        raise EscalationNotYours(PERSON_NEEDED)
    if not escalation_can_handle(actor=actor, escalation=escalation):
        raise EscalationNotYours(
            f"This escalation is for the {_tier_word(escalation.tier)} tier or above; "
            "ask someone at that tier, or take it down a tier first."
        )


def _handled_text(escalation: Escalation) -> str:
    who = display_name(escalation.acknowledged_by) if escalation.acknowledged_by else "someone"
    return f"{escalation.get_status_display()} by {who} on {when(escalation.acknowledged_at)}"


@transaction.atomic
def escalation_acknowledge(
    *, escalation_id: int, actor: ActorRef, note: str = "", now: datetime | None = None
) -> Escalation:
    """Acknowledge a waiting escalation: I have seen it and it is in hand. Exactly one of two
    simultaneous acknowledgements wins; the other gets EscalationConflict (409).

    `now` (default: the current time) is when it was acknowledged: the acknowledgement, and whether its event
    says it was late, are as of then (the demo replays acknowledgements made hours ago)."""
    escalation = _locked_escalation(escalation_id)
    _check_can_handle(actor, escalation)
    note = (note or "").strip()
    now = now or timezone.now()
    won = _move(escalation, Escalation.Status.OPEN, Escalation.Status.ACKNOWLEDGED,
                acknowledged_at=now, acknowledged_by=actor.user, note=note)
    if not won:
        escalation = _reload(escalation)
        raise EscalationConflict(f"{escalation.complaint.reference} was already handled: {_handled_text(escalation)}.")
    escalation = _reload(escalation)
    late = escalation.ack_due_at is not None and now > escalation.ack_due_at
    event_write(
        complaint=escalation.complaint,
        kind=TimelineEvent.Kind.ACKNOWLEDGED,
        actor=actor,
        message=f"Acknowledged the escalation to {_tier_word(escalation.tier)}"
        + (f", {duration((now - escalation.ack_due_at).total_seconds())} late" if late else "")
        + (f": {note}" if note else ""),
        data={"escalation_id": escalation.pk, "tier": escalation.tier, "action": "acknowledged", "note": note, "late": late},
    )
    webhook_payloads.publish(
        "escalation.acknowledged", escalation.complaint,
        escalation=webhook_payloads.escalation_data(escalation), action="acknowledged", note=note, late=late,
    )
    return escalation


@transaction.atomic
def escalation_take_over(*, escalation_id: int, actor: ActorRef, note: str = "") -> Escalation:
    """Acknowledge (if still waiting) and assign the complaint to me."""
    escalation = _locked_escalation(escalation_id)
    _check_can_handle(actor, escalation)
    if escalation.status not in (Escalation.Status.OPEN, Escalation.Status.ACKNOWLEDGED):
        raise EscalationConflict(f"{escalation.complaint.reference} cannot be taken over: {_handled_text(escalation)}.")
    now = timezone.now()
    note = (note or "").strip()
    fields: dict[str, Any] = {}
    if escalation.status == Escalation.Status.OPEN:
        fields.update(acknowledged_at=now, acknowledged_by=actor.user)
    if note:
        fields["note"] = note
    if not _move(escalation, escalation.status, Escalation.Status.TAKEN_OVER, **fields):
        raise EscalationConflict(f"{escalation.complaint.reference} changed while you were taking it over; reload.")
    escalation = _reload(escalation)
    event_write(
        complaint=escalation.complaint,
        kind=TimelineEvent.Kind.ACKNOWLEDGED,
        actor=actor,
        message=f"Took over the escalation to {_tier_word(escalation.tier)}" + (f": {note}" if note else ""),
        data={"escalation_id": escalation.pk, "tier": escalation.tier, "action": "taken_over", "note": note},
    )
    webhook_payloads.publish(
        "escalation.acknowledged", escalation.complaint,
        escalation=webhook_payloads.escalation_data(escalation), action="taken_over", note=note, late=False,
    )
    ticket_services.complaint_assign(complaint=escalation.complaint, assignee=actor.user, actor=actor)
    return escalation


@transaction.atomic
def escalation_deescalate(*, escalation_id: int, actor: ActorRef, note: str) -> Escalation:
    """Take the complaint back to the tier it came from, with a note saying why. Rules will not push it
    back up to that tier unless the grade gets worse or a deadline is missed."""
    note = (note or "").strip()
    if not note:
        raise InvalidInput("Say why it does not need this tier.", fields={"note": ["Write a short note for the timeline."]})
    escalation = _locked_escalation(escalation_id)
    complaint = escalation.complaint
    _check_can_handle(actor, escalation)
    if escalation.status in (Escalation.Status.DEESCALATED, Escalation.Status.SUPERSEDED) or complaint.tier != escalation.tier:
        raise EscalationConflict(
            f"{complaint.reference} is now at the {_tier_word(complaint.tier)} tier; this escalation "
            f"({escalation.get_status_display().lower()}) can no longer be taken down."
        )
    now = timezone.now()
    fields: dict[str, Any] = {"note": note}
    if escalation.acknowledged_at is None:
        fields.update(acknowledged_at=now, acknowledged_by=actor.user)
    if not _move(escalation, escalation.status, Escalation.Status.DEESCALATED, **fields):
        raise EscalationConflict(f"{complaint.reference} changed while you were taking it down; reload.")
    Complaint.objects.filter(pk=complaint.pk).update(tier=escalation.from_tier, updated_at=now)
    escalation = _reload(escalation)
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.DEESCALATED,
        actor=actor,
        message=f"De-escalated from {_tier_word(escalation.tier)} to {_tier_word(escalation.from_tier)}: {note}",
        data={"escalation_id": escalation.pk, "from_tier": escalation.tier, "to_tier": escalation.from_tier,
              "grade": complaint.grade, "score": complaint.risk_score, "note": note},
    )
    return escalation


# --- reminders (called by the sweep) -----------------------------------------------------------


def escalation_reminders_send(*, now: datetime | None = None) -> int:
    """Remind the tier when an acknowledgement is due soon (last quarter of its window) or was missed, and
    the assignee when a response is due within the hour. Each reminder goes once (dedupe keys)."""
    now = now or timezone.now()
    wanted: list[tuple[Any, str, str, str, str]] = []  # recipient, key, title, body, url
    people: dict[str, list[Any]] = {}
    for escalation in sel.escalations_needing_reminder(now=now):
        window = escalation.ack_due_at - escalation.created_at
        left = escalation.ack_due_at - now
        if left <= timedelta(0):
            kind, title = "missed", f"{escalation.complaint.reference}: acknowledgement overdue"
        elif left <= window / 4:
            kind, title = "near", f"{escalation.complaint.reference}: acknowledge within {duration(left.total_seconds())}"
        else:
            continue
        body = (f"{escalation.complaint.subject}\nEscalated to {_tier_word(escalation.tier)}: {escalation.reason}\n"
                f"Acknowledge by {when(escalation.ack_due_at)}.")
        if escalation.tier not in people:
            people[escalation.tier] = tier_users(escalation.tier)
        for person in people[escalation.tier]:
            wanted.append((person, f"recovery:escalation:{escalation.pk}:ack-{kind}", title, body,
                           f"/complaints/{escalation.complaint.reference}/"))
    for complaint in _responses_due_soon(now):
        wanted.append((complaint.assignee, f"recovery:complaint:{complaint.pk}:response-near:{complaint.response_due_at:%Y%m%d%H%M}",
                       f"{complaint.reference}: first response due {when(complaint.response_due_at)}",
                       f"{complaint.subject}\nReply to the customer before {when(complaint.response_due_at)}.",
                       f"/complaints/{complaint.reference}/"))
    if not wanted:
        return 0
    # Skip what was already sent in one query, instead of failing an insert per person every minute.
    sent = set(Notification.objects.filter(dedupe_key__in={w[1] for w in wanted}).values_list("recipient_id", "dedupe_key"))
    count = 0
    for recipient, key, title, body, url in wanted:
        if (recipient.pk, key) in sent:
            continue
        if notice_send(recipient=recipient, title=title, body=body, url=url, dedupe_key=key) is not None:
            count += 1
    return count


def _responses_due_soon(now: datetime) -> Iterable[Complaint]:
    return (
        Complaint.objects.filter(
            status__in=CLOCK_RUNNING_STATUSES,
            first_response_at__isnull=True,
            assignee__isnull=False,
            assignee__is_active=True,
            response_due_at__gt=now,
            response_due_at__lte=now + RESPONSE_NEAR,
        )
        .select_related("assignee")
        .order_by("response_due_at")[:1000]
    )
