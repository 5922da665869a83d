"""Offers: make one (approved at once within the offerer's authority, else an approval request), fulfil,
decline, withdraw. An offer's status moves only through `offer_transition`, checked against
recovery.models.OFFER_TRANSITIONS; an illegal move raises InvalidTransition (409 in the API).

Locks: every service that closes an approval request (decide, move up, withdraw) locks the offer's row first,
so they run one after the other on the same offer and never deadlock."""


from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from notifications.services import notice_send
from recovery import webhook_payloads
from recovery.formatting import money
from recovery.models import APPROVAL_TRANSITIONS, OFFER_TRANSITIONS, ApprovalRequest, Gesture, Offer, SuggestionLog
from recovery.offers import selectors
from recovery.offers.playbook import GestureSpec
from recovery.offers.routing import TIER_ONE, Route, approval_route
from recovery.offers.services.common import MOVE_VERB, SUGGESTED_WITHIN, A, S, actor_tier, clean_amount, clean_note
from recovery.offers.services.suggestions import complaint_suggest
from recovery.transitions import transition
from tickets.actors import ActorRef, display_name
from tickets.errors import DomainError, InvalidInput, InvalidTransition, Unprocessable
from tickets.events import event_write
from tickets.models import OPEN_STATUSES, Complaint, Status, TimelineEvent
from tickets.services import complaint_transition

# --- offers ---------------------------------------------------------------------------------------


def offer_describe(offer: Offer) -> str:
    return f"“{offer.gesture.title}” ({money(offer.cost, offer.currency)})"


def _either(words: list[str]) -> str:
    return " or ".join(words) if len(words) < 3 else f"{', '.join(words[:-1])} or {words[-1]}"


def _illegal_move(offer: Offer, to_status: str) -> str:
    current = S(offer.status).label.lower()
    allowed = [MOVE_VERB[s] for s in offer.allowed_transitions()]
    then = f"From here it can only be {_either(allowed)}." if allowed else "That is final."
    return f"This offer of “{offer.gesture.title}” is {current}, so it cannot be {MOVE_VERB[to_status]}. {then}"


@transaction.atomic
def offer_transition(
    *,
    offer: Offer,
    to_status: str,
    actor: ActorRef,
    message: str,
    kind: str = TimelineEvent.Kind.OFFER,
    changes: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> Offer:
    """Move an offer along OFFER_TRANSITIONS and write one timeline event; InvalidTransition (409) otherwise.

    The row is locked and the UPDATE is conditional on the status read, so of two concurrent moves one fails.
    """
    now = now or timezone.now()
    current = Offer.objects.select_for_update(of=("self",)).select_related("gesture", "complaint").get(pk=offer.pk)
    if to_status not in OFFER_TRANSITIONS[current.status]:
        raise InvalidTransition(_illegal_move(current, to_status))
    fields = {"updated_at": now, **(changes or {})}
    rows = Offer.objects.filter(pk=current.pk)
    if not transition(rows, table=OFFER_TRANSITIONS, from_status=current.status, to_status=to_status, **fields):
        raise InvalidTransition("This offer changed while you were deciding; reload the page and try again.")
    fields["status"] = to_status
    from_status = current.status
    for name, value in fields.items():
        setattr(current, name, value)
    event_write(
        complaint=current.complaint,
        kind=kind,
        actor=actor,
        message=message,
        data={
            "offer_id": current.pk,
            "gesture": current.gesture.code,
            "cost": current.cost,
            "currency": current.currency,
            "from": from_status,
            "to": to_status,
            **(data or {}),
        },
    )
    return current


def approval_transition(rows: QuerySet[ApprovalRequest], *, to_status: str, **changes: Any) -> int:
    """Decide pending approval requests, through APPROVAL_TRANSITIONS: how many this call moved (0 when
    someone else decided first). Every decision, move up and withdrawal goes through here."""
    return transition(rows, table=APPROVAL_TRANSITIONS, from_status=A.PENDING, to_status=to_status, **changes)


@transaction.atomic
def offer_create(
    *,
    complaint: Complaint,
    gesture: Gesture,
    actor: ActorRef,
    cost: Decimal | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Offer:
    """Offer a gesture on a complaint, as suggested or chosen by the agent, at `cost` (default: the gesture's cost
    for this customer's loss).

    Within the offerer's authority the offer is approved at once; otherwise it waits for an ApprovalRequest at
    the tier `approval_route` picks, and the people at that tier are emailed a link to /approvals/. The offer
    records whether and at what rank the gesture was suggested (shown in the last 24 hours) and the ranking's
    reasons, which approvers see. One timeline event.

    Raises NotAllowed (403) without a support role; InvalidInput (400) for a switched-off gesture or a bad cost;
    DomainError (409) on a closed complaint or when the same gesture is already in flight on it.
    """
    # Over 50 lines only by its contract above; each step (checks, cost, suggestion, route, approval) is a helper.
    now = now or timezone.now()
    offerer_tier = actor_tier(actor)
    note = clean_note(note)
    complaint, gesture = _offerable(complaint, gesture)
    view = complaint_suggest(complaint=complaint, shown_to=actor.user, now=now)
    spec: GestureSpec = view.specs.get(gesture.code) or selectors.gesture_spec(gesture)
    cost = _offer_cost(spec, complaint, gesture, cost)
    suggested, rank, score, reasons = _suggestion_facts(view, complaint, gesture, now)
    if suggested and not note:
        # A suggested gesture sent without a note carries the playbook's script, so the approver and the
        # timeline read what the agent was meant to say.
        note = clean_note(view.scripts.get(gesture.code, ""))
    route = _route(complaint, gesture, cost=cost, offerer_tier=offerer_tier)
    offer = Offer.objects.create(
        complaint=complaint,
        gesture=gesture,
        cost=cost,
        offered_cost=cost,
        currency=complaint.currency,
        proposed_by=actor.user if actor.user is not None and actor.user.pk else None,
        suggested=suggested,
        suggestion_rank=rank,
        suggestion_score=score,
        suggestion_reasons=reasons,
        note=note,
        status=S.PROPOSED,
    )
    facts = {
        "suggested": suggested,
        "rank": rank,
        "required_tier": route.required_tier,
        "route_reasons": list(route.reasons),
        "note": note,
    }
    if route.auto:
        return _offer_approve_at_once(offer, route, facts=facts, actor=actor, offerer_tier=offerer_tier, now=now)
    return _offer_send_for_approval(offer, route, facts=facts, actor=actor, now=now)


def _route(complaint: Complaint, gesture: Gesture, *, cost: Decimal, offerer_tier: str) -> Route:
    """Who must approve this offer: the offerer's own authority, the gesture's and the rules' tiers, the limits."""
    return approval_route(
        cost=cost,
        offerer_tier=offerer_tier,
        gesture_tier=gesture.approval_tier,
        rule_tier=selectors.rule_approval_tier(complaint_id=complaint.pk),
        limits=selectors.approval_limits(),
        currency=complaint.currency,
    )


def _offer_approve_at_once(
    offer: Offer, route: Route, *, facts: dict[str, Any], actor: ActorRef, offerer_tier: str, now: datetime
) -> Offer:
    """Within the offerer's authority: approved as it is offered, at the offerer's tier."""
    offer = offer_transition(
        offer=offer,
        to_status=S.APPROVED,
        actor=actor,
        message=f"Offered {offer_describe(offer)}: approved at once, {'; '.join(route.reasons)}"
        + (f". Note: {offer.note}" if offer.note else ""),
        changes={"approved_tier": offerer_tier},
        data={**facts, "approved_tier": offerer_tier},
        now=now,
    )
    webhook_payloads.offer_publish("offer.proposed", offer)
    return offer


def _offerable(complaint: Complaint, gesture: Gesture) -> tuple[Complaint, Gesture]:
    """The complaint (locked) and the gesture, when this gesture may be offered on it now."""
    complaint = Complaint.objects.select_for_update(of=("self",)).select_related("customer").get(pk=complaint.pk)
    if complaint.status == Status.CLOSED:
        raise DomainError(f"{complaint.reference} is closed, so no more gestures can be offered on it.")
    gesture = Gesture.objects.get(pk=gesture.pk)
    if not gesture.active:
        raise InvalidInput(
            f"“{gesture.title}” is switched off in the playbook and cannot be offered.",
            fields={"gesture": ["Inactive."]},
        )
    in_flight = Offer.objects.filter(complaint=complaint, gesture=gesture, status__in=selectors.IN_FLIGHT_STATUSES).first()
    if in_flight is not None:
        raise DomainError(
            f"“{gesture.title}” is already offered on {complaint.reference} ({in_flight.get_status_display().lower()}). "
            "Fulfil or decline that offer first."
        )
    return complaint, gesture


def _offer_cost(spec: GestureSpec, complaint: Complaint, gesture: Gesture, cost: Any) -> Decimal:
    """The cost asked for, or the gesture's cost for this customer's loss."""
    if cost is None:
        if spec.scales_with_loss and complaint.monetary_loss <= 0:
            raise Unprocessable(
                f"“{gesture.title}” is sized as a share of the customer's loss and {complaint.reference} records no "
                "loss. Give the cost.",
                fields={"cost": ["Give the cost."]},
            )
        cost = spec.effective_cost(complaint.monetary_loss)
    return clean_amount(cost, "cost")


def _suggestion_facts(
    view: Any, complaint: Complaint, gesture: Gesture, now: datetime
) -> tuple[bool, int | None, float | None, list[str]]:
    """Whether the gesture was suggested (shown lately) and at what rank, with the ranking's reasons; marks the
    suggestion shown as chosen."""
    shown = (
        SuggestionLog.objects.filter(complaint=complaint, gesture=gesture, created_at__gte=now - SUGGESTED_WITHIN)
        .order_by("-created_at", "-id")
        .first()
    )
    if shown is not None:
        SuggestionLog.objects.filter(pk=shown.pk).update(chosen=True)
        return True, shown.rank, shown.score, list(shown.reasons)
    ranked = view.suggestion_for(gesture.code)
    if ranked is not None:
        return False, None, ranked.score, list(ranked.reasons)
    exclusion = view.exclusion_for(gesture.code)
    return False, None, None, [f"Not suggested: {exclusion.detail}"] if exclusion else []


def _offer_send_for_approval(offer: Offer, route: Any, *, facts: dict[str, Any], actor: ActorRef, now: datetime) -> Offer:
    """Above the offerer's authority: the offer waits for an approval request at the route's tier, whose people
    are emailed."""
    offer = offer_transition(
        offer=offer,
        to_status=S.PENDING_APPROVAL,
        actor=actor,
        message=f"Offered {offer_describe(offer)}: waiting for {TIER_ONE[route.required_tier]} to approve — "
        + "; ".join(route.reasons),
        data=facts,
        now=now,
    )
    approval = ApprovalRequest.objects.create(
        offer=offer,
        required_tier=route.required_tier,
        requested_by=offer.proposed_by,
        due_at=now + timedelta(hours=settings.APPROVAL_ESCALATE_AFTER_HOURS),
    )
    webhook_payloads.offer_publish("offer.proposed", offer)
    webhook_payloads.offer_publish("approval.requested", offer, approval=webhook_payloads.approval_data(approval))
    approvers_notify(approval, offer, why="; ".join(route.reasons), stage="request")
    return offer


def _complaint_summary(offer: Offer) -> str:
    complaint = offer.complaint
    grade = complaint.get_grade_display() if complaint.grade else "not graded yet"
    return f"{complaint.reference} “{complaint.subject}” — {complaint.get_cause_display()}, {grade}"


def approvers_notify(approval: ApprovalRequest, offer: Offer, *, why: str, stage: str) -> int:
    """Tell the people at the request's tier (never the proposer) that it waits; once per request and stage."""
    people = selectors.approvers_for(tier=approval.required_tier, exclude_user_id=offer.proposed_by_id)
    url = f"{reverse('recovery:approvals')}#approval-{approval.pk}"
    proposer = display_name(offer.proposed_by) if offer.proposed_by else "An integration"
    if stage == "reminder":
        title = f"Reminder: approval waiting for {offer.gesture.title} on {offer.complaint.reference}"
    else:
        title = f"Approval needed: {offer.gesture.title} ({money(offer.cost, offer.currency)}) on {offer.complaint.reference}"
    body = (
        f"{proposer} offered “{offer.gesture.title}” at {money(offer.cost, offer.currency)} on "
        f"{_complaint_summary(offer)}.\n"
        f"It needs {TIER_ONE[approval.required_tier]}: {why}.\n"
        "Open the approvals page to approve, change the amount or reject it."
    )
    sent = 0
    for person in people:
        if notice_send(recipient=person, title=title, body=body, url=url, dedupe_key=f"approval:{approval.pk}:{stage}"):
            sent += 1
    return sent


@transaction.atomic
def offer_fulfil(
    *, offer: Offer, actor: ActorRef, note: str = "", resolve_complaint: bool = False, now: datetime | None = None
) -> Offer:
    """Record that the gesture was given. With `resolve_complaint` an open complaint is resolved too, which closes
    the recovery (outcome tracking watches from there). Only an approved offer can be fulfilled."""
    now = now or timezone.now()
    actor_tier(actor)
    note = clean_note(note)
    current = Offer.objects.select_related("gesture").get(pk=offer.pk)
    offer = offer_transition(
        offer=current,
        to_status=S.FULFILLED,
        actor=actor,
        message=f"Fulfilled {offer_describe(current)}" + (f": {note}" if note else ""),
        changes={"fulfilled_at": now},
        data={"note": note},
        now=now,
    )
    webhook_payloads.offer_publish("offer.fulfilled", offer)
    complaint = offer.complaint
    if resolve_complaint and complaint.status in OPEN_STATUSES:
        complaint_transition(
            complaint=complaint, to_status=Status.RESOLVED, actor=actor, note=f"recovered with “{offer.gesture.title}”"
        )
    return offer


@transaction.atomic
def offer_decline(*, offer: Offer, actor: ActorRef, note: str = "", now: datetime | None = None) -> Offer:
    """Record that the customer declined an approved gesture; its money is no longer committed."""
    actor_tier(actor)
    note = clean_note(note)
    current = Offer.objects.select_related("gesture").get(pk=offer.pk)
    offer = offer_transition(
        offer=current,
        to_status=S.DECLINED,
        actor=actor,
        message=f"The customer declined {offer_describe(current)}" + (f": {note}" if note else ""),
        data={"note": note},
        now=now,
    )
    webhook_payloads.offer_publish("offer.declined", offer, note=note)
    return offer


def offer_lock(offer_id: int) -> None:
    """Take the offer's row lock before closing one of its approval requests (see the module docstring)."""
    list(Offer.objects.select_for_update().filter(pk=offer_id).values_list("pk", flat=True))


@transaction.atomic
def offer_withdraw(*, offer: Offer, actor: ActorRef, note: str = "", now: datetime | None = None) -> Offer:
    """Take back an offer that was not given yet — proposed, waiting for approval or approved — because the
    customer's situation changed or the wrong gesture was picked. Anyone who may offer may withdraw.

    A request waiting for approval is closed as withdrawn: it leaves the inbox, and an approver who decides it
    anyway gets AlreadyDecided (409) naming who withdrew it and when. Its approvers, and the proposer when someone
    else withdrew, are told. A withdrawn offer is final: it is not spent, not counted as given to the customer, and
    the gesture may be offered again. One OFFER timeline event. InvalidTransition (409) from any other status,
    including a second withdrawal; of two at once, one wins (the offer's row is locked).
    """
    now = now or timezone.now()
    actor_tier(actor)
    note = clean_note(note)
    offer_lock(offer.pk)
    current = Offer.objects.select_related("gesture", "complaint").get(pk=offer.pk)
    pending = ApprovalRequest.objects.filter(offer=current, status=A.PENDING).first()
    if pending is not None:
        before = f" before {TIER_ONE[pending.required_tier]} decided on it"
    elif current.status == S.APPROVED:
        before = " before it was given"
    else:
        before = ""
    offer = offer_transition(
        offer=current,
        to_status=S.WITHDRAWN,
        actor=actor,
        message=f"Withdrew {offer_describe(current)}{before}" + (f": {note}" if note else ""),
        data={"note": note, **({"approval_id": pending.pk} if pending else {})},
        now=now,
    )
    if pending is not None:
        user = actor.user if actor.user is not None and actor.user.pk else None
        approval_transition(
            ApprovalRequest.objects.filter(pk=pending.pk), to_status=A.WITHDRAWN, decided_by=user, decided_at=now, note=note
        )
    _notify_withdrawn(offer, pending, actor=actor, note=note)
    return offer


def _notify_withdrawn(offer: Offer, pending: ApprovalRequest | None, *, actor: ActorRef, note: str) -> None:
    """Tell the approvers who were asked to decide (nothing is left to decide) and the proposer, when someone else
    withdrew their offer."""
    people = (
        selectors.approvers_for(tier=pending.required_tier, exclude_user_id=offer.proposed_by_id) if pending else []
    )
    if offer.proposed_by is not None:
        people.append(offer.proposed_by)
    body = f"{actor.label} withdrew “{offer.gesture.title}” on {_complaint_summary(offer)}" + (
        f": {note}" if note else "."
    )
    for person in people:
        if actor.user is not None and person.pk == actor.user.pk:
            continue
        notice_send(
            recipient=person,
            title=f"Withdrawn: {offer.gesture.title} on {offer.complaint.reference}",
            body=body,
            url=f"/complaints/{offer.complaint.reference}/",
            dedupe_key=f"offer:{offer.pk}:withdrawn",
        )
