"""Approvals: decide, remind, move up a tier, and the sweep that queues reminders and moves. Decisions are
claimed with a conditional UPDATE ... WHERE status='pending' (through `approval_transition`), so when two
people decide at once exactly one wins and the other is told who did."""


from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from notifications.services import notice_send
from recovery import webhook_payloads
from recovery.formatting import hours_text, money, when
from recovery.models import ApprovalRequest, Offer
from recovery.offers import selectors
from recovery.offers.routing import TIER_ONE, TIER_PEOPLE, tier_index
from recovery.offers.services.common import A, AlreadyDecided, NotAllowed, S, actor_tier, clean_amount, clean_note
from recovery.offers.services.offers import (
    approval_transition,
    approvers_notify,
    offer_describe,
    offer_lock,
    offer_transition,
)
from recovery.vocabulary import TIERS
from tickets.actors import ActorRef, display_name
from tickets.errors import InvalidInput, Unprocessable
from tickets.events import event_write
from tickets.models import Tier, TimelineEvent

# --- approvals ------------------------------------------------------------------------------------


def _already(approval: ApprovalRequest) -> AlreadyDecided:
    at = when(approval.decided_at) if approval.decided_at else "an earlier moment"
    if approval.status == A.ESCALATED:
        return AlreadyDecided(f"This request was not decided in time and moved up a tier at {at}; it now waits there.")
    who = display_name(approval.decided_by) if approval.decided_by else "someone else"
    if approval.status == A.WITHDRAWN:
        return AlreadyDecided(f"Already withdrawn by {who} at {at}: there is nothing left to decide.")
    return AlreadyDecided(f"Already decided by {who} at {at}: {approval.get_status_display().lower()}.")


@transaction.atomic
def approval_decide(
    *,
    approval: ApprovalRequest,
    decision: str,
    actor: ActorRef,
    amount: Decimal | None = None,
    note: str = "",
    now: datetime | None = None,
) -> ApprovalRequest:
    """Approve (optionally at a different amount) or reject a pending request, with a note.

    The decider is a person — signed in, or behind the API key — at the request's tier or higher, who did not
    propose the offer (NotAllowed, 403). A rejection or a changed amount needs a note; a changed amount must be
    within the decider's own limit (InvalidInput, 400). When two people decide at once exactly one wins; the
    other gets AlreadyDecided (409) naming who decided and when. One APPROVAL timeline event; the proposer is told.
    """
    # Over 50 lines with its contract: one atomic decision read top to bottom (who, how much, the claim, the offer's
    # move and its event's data); the checks, the claim, the wording and the announcement are helpers below.
    now = now or timezone.now()
    user = _decider(actor)
    tier = actor_tier(actor)
    if decision not in ("approve", "reject"):
        raise InvalidInput("Decide 'approve' or 'reject'.", fields={"decision": ["Choose approve or reject."]})
    note = clean_note(note)
    approval = ApprovalRequest.objects.select_related("offer__gesture", "offer__complaint", "decided_by").get(
        pk=approval.pk
    )
    offer = approval.offer
    _check_may_decide(approval, user=user, tier=tier)
    amount, changed = _decided_amount(decision, amount, offer=offer, tier=tier, note=note)

    approved = decision == "approve"
    final_amount = amount if changed else offer.cost
    _claim(approval, approved=approved, decider=user, amount=final_amount, note=note, now=now)
    message = _decision_message(offer, approved=approved, decider=user, amount=final_amount if changed else None, note=note)
    changes = {"approved_tier": tier, **({"cost": final_amount} if changed else {})} if approved else {}
    offer = offer_transition(
        offer=offer,
        to_status=S.APPROVED if approved else S.REJECTED,
        actor=actor,
        kind=TimelineEvent.Kind.APPROVAL,
        message=message,
        changes=changes,
        data={
            "approval_id": approval.pk,
            "decision": decision,
            "note": note,
            "requested": approval.offer.cost,
            "approved_amount": final_amount if approved else None,
            "required_tier": approval.required_tier,
            "decider_tier": tier,
        },
        now=now,
    )
    _decision_announce(approval, offer, decision=decision, decider=user, message=message)
    approval.refresh_from_db()
    return approval


def _claim(
    approval: ApprovalRequest, *, approved: bool, decider: Any, amount: Decimal, note: str, now: datetime
) -> None:
    """Record the decision on the pending request, under the offer's lock: of two simultaneous decisions exactly one
    claims it; the other gets AlreadyDecided naming who decided and when."""
    offer_lock(approval.offer_id)
    claimed = approval_transition(
        ApprovalRequest.objects.filter(pk=approval.pk),
        to_status=A.APPROVED if approved else A.REJECTED,
        decided_by=decider,
        decided_at=now,
        approved_amount=amount if approved else None,
        note=note,
    )
    if not claimed:
        approval.refresh_from_db()
        raise _already(approval)


def _decider(actor: ActorRef) -> Any:
    """The person deciding; NotAllowed for an API key that acts for a tool."""
    if actor.user is None:
        raise NotAllowed(
            "Approvals are decided by a person, and this API key acts for a tool, not a person. "
            "Use a key created for the approver (manage.py createapikey --user <username>) or sign in."
        )
    return actor.user


def _decision_message(offer: Offer, *, approved: bool, decider: Any, amount: Decimal | None, note: str) -> str:
    """The timeline's line for the decision; `amount` when approved at a different amount than asked."""
    name = display_name(decider)
    if not approved:
        return f"{name} rejected {offer_describe(offer)}: {note}"
    amount_text = f" at {money(amount, offer.currency)} instead of {money(offer.cost, offer.currency)}" if amount is not None else ""
    return f"{name} approved “{offer.gesture.title}”{amount_text}" + (f": {note}" if note else "")


def _check_may_decide(approval: ApprovalRequest, *, user: Any, tier: str) -> None:
    """NotAllowed below the request's tier or for the offer's own proposer; AlreadyDecided when not pending."""
    if tier_index(tier) < tier_index(approval.required_tier):
        raise NotAllowed(
            f"This request needs {TIER_ONE[approval.required_tier]} or higher to decide; you are {TIER_ONE[tier]}."
        )
    if approval.offer.proposed_by_id == user.pk:
        raise NotAllowed("You proposed this offer, so someone else has to approve it.")
    if approval.status != A.PENDING:
        raise _already(approval)


def _decided_amount(
    decision: str, amount: Decimal | None, *, offer: Offer, tier: str, note: str
) -> tuple[Decimal | None, bool]:
    """The amount approved (None for a rejection) and whether it differs from the offer's cost; a changed amount
    stays within the decider's limit, and a rejection or a change needs a note."""
    changed = False
    if decision == "approve" and amount is not None:
        amount = clean_amount(amount, "amount")
        changed = amount != offer.cost
        limit = selectors.approval_limits().get(tier)
        if changed and limit is not None and amount > limit:
            raise Unprocessable(
                f"You may approve up to {money(limit, offer.currency)}. Approve a lower amount or leave it as asked.",
                fields={"amount": [f"Above your {money(limit, offer.currency)} limit."]},
            )
    elif decision == "reject":
        amount = None
    if (decision == "reject" or changed) and not note:
        what = "rejecting" if decision == "reject" else "changing the amount"
        raise InvalidInput(f"Say why you are {what}; the agent reads it.", fields={"note": ["Write a short note."]})
    return amount, changed


def _decision_announce(approval: ApprovalRequest, offer: Offer, *, decision: str, decider: Any, message: str) -> None:
    """The approval.decided webhook, and a notice to the proposer when someone else decided."""
    approval.refresh_from_db()
    webhook_payloads.offer_publish(
        "approval.decided", offer, approval=webhook_payloads.approval_data(approval), decision=decision
    )
    if offer.proposed_by_id and offer.proposed_by_id != decider.pk:
        verb = "approved" if decision == "approve" else "rejected"
        notice_send(
            recipient=offer.proposed_by,
            title=f"{display_name(decider)} {verb} {offer.gesture.title} on {offer.complaint.reference}",
            body=message,
            url=f"/complaints/{offer.complaint.reference}/",
            dedupe_key=f"approval:{approval.pk}:decided",
        )


@transaction.atomic
def approval_remind(*, approval_id: int, now: datetime | None = None) -> bool:
    """Remind the approvers of a request that has waited APPROVAL_REMIND_AFTER_HOURS, once. True when this call
    reminded (a second run, or a request decided meanwhile, does nothing)."""
    now = now or timezone.now()
    wait = timedelta(hours=settings.APPROVAL_REMIND_AFTER_HOURS)
    claimed = ApprovalRequest.objects.filter(
        pk=approval_id, status=A.PENDING, reminded_at__isnull=True, created_at__lte=now - wait
    ).update(reminded_at=now)
    if not claimed:
        return False
    approval = ApprovalRequest.objects.select_related("offer__gesture", "offer__complaint", "offer__proposed_by").get(
        pk=approval_id
    )
    offer = approval.offer
    waited = (now - approval.created_at).total_seconds() / 3600
    approvers_notify(approval, offer, why=f"it has waited {waited:.0f} hours for a decision", stage="reminder")
    event_write(
        complaint=offer.complaint,
        kind=TimelineEvent.Kind.APPROVAL,
        actor=ActorRef.system("Approval reminder"),
        message=f"Reminded {TIER_PEOPLE[approval.required_tier]}: {offer_describe(offer)} has waited "
        f"{waited:.0f} hours for approval",
        data={
            "approval_id": approval.pk,
            "offer_id": offer.pk,
            "reminder": True,
            "required_tier": approval.required_tier,
        },
    )
    return True


@transaction.atomic
def approval_escalate(*, approval_id: int, now: datetime | None = None) -> ApprovalRequest | None:
    """Move a request that was reminded and is past its due time one tier up: it becomes ESCALATED and a new pending
    request waits at the next tier, whose people are emailed. None when there is nothing to do (already decided,
    already moved, not due, or at the top tier) — so running it twice moves it once."""
    now = now or timezone.now()
    approval = (
        ApprovalRequest.objects.select_related("offer__gesture", "offer__complaint", "offer__proposed_by")
        .filter(pk=approval_id)
        .first()
    )
    if approval is None or approval.required_tier == Tier.EXECUTIVE:
        return None
    offer_lock(approval.offer_id)
    claimed = approval_transition(
        ApprovalRequest.objects.filter(pk=approval_id, reminded_at__isnull=False, due_at__lte=now),
        to_status=A.ESCALATED, decided_at=now, note="Not decided in time; moved one tier up.",
    )
    if not claimed:
        return None
    next_tier = TIERS[tier_index(approval.required_tier) + 1]
    hours = settings.APPROVAL_ESCALATE_AFTER_HOURS
    moved = ApprovalRequest.objects.create(
        offer=approval.offer,
        required_tier=next_tier,
        requested_by=approval.requested_by,
        due_at=now + timedelta(hours=hours),
    )
    offer = approval.offer
    event_write(
        complaint=offer.complaint,
        kind=TimelineEvent.Kind.APPROVAL,
        actor=ActorRef.system("Approval escalation"),
        message=f"Not decided by {TIER_PEOPLE[approval.required_tier]} in time: {offer_describe(offer)} moved up to "
        f"{TIER_PEOPLE[next_tier]}",
        data={
            "approval_id": moved.pk,
            "previous_approval_id": approval.pk,
            "offer_id": offer.pk,
            "from_tier": approval.required_tier,
            "to_tier": next_tier,
        },
    )
    webhook_payloads.offer_publish("approval.requested", offer, approval=webhook_payloads.approval_data(moved))
    approvers_notify(
        moved,
        offer,
        why=f"{TIER_PEOPLE[approval.required_tier]} did not decide it within {hours_text(hours)}",
        stage="request",
    )
    return moved


@dataclass(frozen=True)
class SweepResult:
    reminded: int
    escalated: int


def approval_requests_sweep(*, now: datetime | None = None, limit: int = 500) -> SweepResult:
    """Select the requests due a reminder or a move up in two set-based queries and queue one task for each
    (after commit). The tasks' services claim their row with a conditional UPDATE, so a sweep that runs twice,
    or overlaps itself, reminds and moves each request once."""
    from notifications.queue import enqueue_on_commit
    from recovery.offers.tasks import approval_escalate_task, approval_remind_task

    now = now or timezone.now()
    plan = selectors.approvals_due(
        now=now, remind_after=timedelta(hours=settings.APPROVAL_REMIND_AFTER_HOURS), limit=limit
    )
    # Moves first: a request reminded in this run is never moved in the same run.
    for approval_id in plan.escalate_ids:
        enqueue_on_commit(approval_escalate_task, approval_id)
    for approval_id in plan.remind_ids:
        enqueue_on_commit(approval_remind_task, approval_id)
    return SweepResult(reminded=len(plan.remind_ids), escalated=len(plan.escalate_ids))
