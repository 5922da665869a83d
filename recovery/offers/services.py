"""Writes for the playbook, suggestions, offers and approvals.

Every service is atomic, writes one timeline event on the complaint (kinds OFFER and APPROVAL) for each
move, and queues its emails on commit through `notifications.services.notice_send`. An offer's status
moves only through `offer_transition`, checked against recovery.models.OFFER_TRANSITIONS; an illegal move
raises InvalidTransition (409 in the API).

Authority: every tier has an approval limit (recovery.models.ApprovalLimit). An offer within the
offerer's authority is approved at once; above it an ApprovalRequest goes to the lowest tier that may
approve it (see `approval_route`). Decisions are claimed with a conditional UPDATE ... WHERE
status='pending', so when two people decide at once exactly one wins and the other is told who did.

Locks: every service that closes an approval request (decide, move up, withdraw) locks the offer's row first,
so they run one after the other on the same offer and never deadlock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from notifications.services import notice_send
from recovery import webhook_payloads
from recovery.models import OFFER_TRANSITIONS, ApprovalLimit, ApprovalRequest, Gesture, Offer, SuggestionLog
from recovery.offers import selectors
from recovery.offers.playbook import TIERS, GestureSpec
from tickets.actors import ActorRef, display_name
from tickets.errors import DomainError, InvalidInput, InvalidTransition, Unprocessable
from tickets.events import event_write
from tickets.models import OPEN_STATUSES, Complaint, Status, Tier, TimelineEvent
from tickets.permissions import user_tier
from tickets.services import complaint_transition

S = Offer.Status
A = ApprovalRequest.Status

_MOVE_VERB = {
    S.PENDING_APPROVAL: "sent for approval",
    S.APPROVED: "approved",
    S.REJECTED: "rejected",
    S.FULFILLED: "marked fulfilled",
    S.DECLINED: "marked declined by the customer",
    S.WITHDRAWN: "withdrawn",
}
TIER_PEOPLE = {
    Tier.FRONTLINE: "front-line agents",
    Tier.LEAD: "team leads",
    Tier.MANAGER: "managers",
    Tier.EXECUTIVE: "executives",
}
TIER_ONE = {
    Tier.FRONTLINE: "a front-line agent",
    Tier.LEAD: "a team lead",
    Tier.MANAGER: "a manager",
    Tier.EXECUTIVE: "an executive",
}
CENT = Decimal("0.01")
SUGGESTION_LOG_EVERY = timedelta(hours=1)
# An offer counts as "suggested" when the gesture was shown for the complaint this recently.
SUGGESTED_WITHIN = timedelta(hours=24)
NOTE_MAX = 2000


class NotAllowed(DomainError):
    """Understood, but this person (or key) may not do it: 403."""

    code = "permission_denied"
    status = 403


class AlreadyDecided(DomainError):
    code = "already_decided"


def money(amount: Decimal | None, currency: str = "") -> str:
    """£1,234.50 — for messages people read."""
    if amount is None:
        return "no limit"
    symbol = {"GBP": "£", "EUR": "€", "USD": "$"}.get(currency or settings.DEFAULT_CURRENCY)
    text = f"{Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP):,}"
    return f"{symbol}{text}" if symbol else f"{currency} {text}"


def when(moment: datetime) -> str:
    local = timezone.localtime(moment)
    return f"{local:%H:%M} on {local.day} {local:%b %Y}"


def hours_text(hours: float) -> str:
    return f"{hours:g} hour" + ("" if hours == 1 else "s")


def _tier_index(tier: str) -> int:
    return TIERS.index(tier)


def _clean_note(note: str | None) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput(f"Keep the note under {NOTE_MAX} characters.", fields={"note": ["Too long."]})
    return note


def _clean_amount(value: Any, field: str) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError, TypeError):
        raise InvalidInput(f"The {field} must be an amount of money, e.g. 120.00.", fields={field: ["Not an amount."]})
    if not amount.is_finite() or amount < 0:
        raise InvalidInput(f"The {field} cannot be negative.", fields={field: ["Give 0 or more."]})
    if amount >= Decimal("1e10"):
        raise InvalidInput(f"The {field} is too large.", fields={field: ["Too large."]})
    return amount


def actor_tier(actor: ActorRef) -> str:
    """The tier whose authority the actor spends. An integration key without a person acts as the front line;
    a signed-in person needs a support role."""
    if actor.user is None:
        return Tier.FRONTLINE
    tier = user_tier(actor.user)
    if tier is None:
        raise NotAllowed("You need a support role (agent, lead, manager or executive) to do this.")
    return tier


# --- routing (pure) -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    required_tier: str  # the lowest tier that may approve the offer
    auto: bool  # the offerer's own authority covers it: approved at once
    reasons: tuple[str, ...]  # why that tier, for people


def approval_route(
    *,
    cost: Decimal,
    offerer_tier: str,
    gesture_tier: str,
    rule_tier: str | None,
    limits: Mapping[str, Decimal | None],
    currency: str = "",
) -> Route:
    """Who must approve an offer of `cost`: the lowest tier whose limit covers the cost, and never below the
    gesture's own approval tier or a tier the escalation rules require for the complaint. When no limit
    covers it, the top tier. The offerer approves it at once when their tier is that tier or higher."""
    floor = max(_tier_index(gesture_tier), _tier_index(rule_tier) if rule_tier else 0)
    covering = [t for t in TIERS if limits.get(t) is None or cost <= limits[t]]
    cost_tier = covering[0] if covering else TIERS[-1]
    required = TIERS[max(floor, _tier_index(cost_tier))]
    auto = _tier_index(offerer_tier) >= _tier_index(required)
    reasons: list[str] = []
    if auto:
        limit = limits.get(offerer_tier)
        if limit is None:
            reasons.append(f"{TIER_PEOPLE[offerer_tier].capitalize()} have no limit")
        else:
            reasons.append(f"within the {money(limit, currency)} limit of {TIER_PEOPLE[offerer_tier]}")
        return Route(required, True, tuple(reasons))
    own = limits.get(offerer_tier)
    if own is not None and cost > own:
        reasons.append(
            f"{money(cost, currency)} is above the {money(own, currency)} limit of {TIER_PEOPLE[offerer_tier]}"
        )
    if _tier_index(gesture_tier) > _tier_index(offerer_tier):
        reasons.append(f"the playbook needs {TIER_ONE[gesture_tier]} to approve this gesture")
    if rule_tier and _tier_index(rule_tier) > _tier_index(offerer_tier):
        reasons.append(f"the escalation rules require {TIER_ONE[rule_tier]} to approve gestures on this complaint")
    return Route(required, False, tuple(reasons))


# --- suggestions ----------------------------------------------------------------------------------


def complaint_suggest(
    *, complaint: Complaint, shown_to: Any | None = None, now: datetime | None = None
) -> selectors.SuggestionView:
    """Rank the playbook for a complaint and log what is shown (see `suggestions_log`)."""
    now = now or timezone.now()
    view = selectors.complaint_suggestions(complaint=complaint, now=now)
    suggestions_log(view=view, shown_to=shown_to, now=now)
    return view


def suggestions_log(*, view: selectors.SuggestionView, shown_to: Any | None, now: datetime) -> bool:
    """Log the top suggestions once per complaint per hour — sooner only when what is shown changed (a new
    grade, an offer made) — so the table stays small and still says what agents saw. True when logged."""
    top = view.top
    if not top:
        return False
    last = list(
        SuggestionLog.objects.filter(complaint=view.complaint)
        .order_by("-created_at", "-id")
        .values_list("gesture_id", "rank", "created_at")[: len(top)]
    )
    shown = sorted((s.gesture_id, s.rank) for s in top)
    if last and last[0][2] > now - SUGGESTION_LOG_EVERY and sorted((g, r) for g, r, _ in last) == shown:
        return False
    user = shown_to if shown_to is not None and getattr(shown_to, "pk", None) else None
    SuggestionLog.objects.bulk_create(
        SuggestionLog(
            complaint=view.complaint,
            gesture_id=s.gesture_id,
            rank=s.rank,
            score=s.score,
            reasons=list(s.reasons),
            shown_to=user,
            propensity=s.propensity if view.randomised else None,
            randomised=view.randomised,
        )
        for s in top
    )
    return True


# --- playbook -------------------------------------------------------------------------------------

GESTURE_FIELDS = (
    "code",
    "title",
    "script",
    "resource_kind",
    "causes",
    "cost",
    "cost_pct_of_loss",
    "perceived_value",
    "surprise",
    "min_grade",
    "approval_tier",
    "per_customer_per_year",
    "equivalence_group",
    "active",
)


def _gesture_validate(gesture: Gesture) -> None:
    try:
        selectors.gesture_spec(gesture)
    except ValueError as exc:
        raise InvalidInput(f"This gesture is not valid: {exc}.")
    if not gesture.title.strip() or not gesture.script.strip():
        raise InvalidInput("Give the gesture a title and a script for the agent.")


def _require_manager(actor: ActorRef) -> None:
    if actor.user is not None and _tier_index(actor_tier(actor)) < _tier_index(Tier.MANAGER):
        raise NotAllowed("Only managers and executives edit the playbook.")


@transaction.atomic
def gesture_save(*, gesture: Gesture | None, data: Mapping[str, Any], actor: ActorRef) -> Gesture:
    """Create (gesture=None) or change a playbook gesture. Managers and executives only; validated with the same
    rules the ranking enforces. Past offers keep the cost they were made at."""
    _require_manager(actor)
    unknown = set(data) - set(GESTURE_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown gesture fields: {', '.join(sorted(unknown))}.")
    gesture = gesture if gesture is not None else Gesture()
    for name, value in data.items():
        setattr(gesture, name, value)
    gesture.causes = sorted(set(gesture.causes or ()))
    _gesture_validate(gesture)
    if Gesture.objects.filter(code=gesture.code).exclude(pk=gesture.pk).exists():
        raise InvalidInput(f"A gesture with the code '{gesture.code}' already exists.", fields={"code": ["Taken."]})
    gesture.save()
    return gesture


@transaction.atomic
def gesture_set_active(*, gesture: Gesture, active: bool, actor: ActorRef) -> Gesture:
    """Switch a gesture on or off. Off: never suggested nor offered again; past offers are untouched."""
    _require_manager(actor)
    Gesture.objects.filter(pk=gesture.pk).update(active=active, updated_at=timezone.now())
    gesture.active = active
    return gesture


@transaction.atomic
def approval_limits_set(*, limits: Mapping[str, Decimal | None], actor: ActorRef) -> dict[str, Decimal | None]:
    """Set the approval limit of each tier (None: no limit). Executives only. A higher tier may never have a
    lower limit than the tier below it, so routing to 'the lowest tier that covers the cost' is well defined."""
    if actor.user is not None and actor_tier(actor) != Tier.EXECUTIVE:
        raise NotAllowed("Only executives change approval limits.")
    merged = {**selectors.approval_limits(), **limits}
    cleaned = {tier: None if merged[tier] is None else _clean_amount(merged[tier], tier) for tier in TIERS}
    for lower, higher in zip(TIERS, TIERS[1:], strict=False):
        low, high = cleaned[lower], cleaned[higher]
        if high is not None and (low is None or high < low):
            low_text = "no limit" if low is None else money(low)
            raise InvalidInput(
                f"The {Tier(higher).label.lower()} limit ({money(high)}) cannot be below the "
                f"{Tier(lower).label.lower()} limit ({low_text}): a higher tier may always do what a lower one may.",
                fields={higher: ["Lower than the tier below."]},
            )
    for tier, amount in cleaned.items():
        ApprovalLimit.objects.update_or_create(tier=tier, defaults={"amount": amount})
    return cleaned


# --- offers ---------------------------------------------------------------------------------------


def _describe(offer: Offer) -> str:
    return f"“{offer.gesture.title}” ({money(offer.cost, offer.currency)})"


def _either(words: list[str]) -> str:
    return " or ".join(words) if len(words) < 3 else f"{', '.join(words[:-1])} or {words[-1]}"


def _illegal_move(offer: Offer, to_status: str) -> str:
    current = S(offer.status).label.lower()
    allowed = [_MOVE_VERB[s] for s in offer.allowed_transitions()]
    then = f"From here it can only be {_either(allowed)}." if allowed else "That is final."
    return f"This offer of “{offer.gesture.title}” is {current}, so it cannot be {_MOVE_VERB[to_status]}. {then}"


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
    fields = {"status": to_status, "updated_at": now, **(changes or {})}
    if not Offer.objects.filter(pk=current.pk, status=current.status).update(**fields):
        raise InvalidTransition("This offer changed while you were deciding; reload the page and try again.")
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
    now = now or timezone.now()
    offerer_tier = actor_tier(actor)
    note = _clean_note(note)
    complaint = Complaint.objects.select_for_update(of=("self",)).select_related("customer").get(pk=complaint.pk)
    if complaint.status == Status.CLOSED:
        raise DomainError(f"{complaint.reference} is closed, so no more gestures can be offered on it.")
    gesture = Gesture.objects.get(pk=gesture.pk)
    if not gesture.active:
        raise InvalidInput(
            f"“{gesture.title}” is switched off in the playbook and cannot be offered.",
            fields={"gesture": ["Inactive."]},
        )
    in_flight = Offer.objects.filter(complaint=complaint, gesture=gesture, status__in=selectors.OPEN_STATUSES).first()
    if in_flight is not None:
        raise DomainError(
            f"“{gesture.title}” is already offered on {complaint.reference} ({in_flight.get_status_display().lower()}). "
            "Fulfil or decline that offer first."
        )
    view = complaint_suggest(complaint=complaint, shown_to=actor.user, now=now)
    spec: GestureSpec = view.specs.get(gesture.code) or selectors.gesture_spec(gesture)
    if cost is None:
        if spec.scales_with_loss and complaint.monetary_loss <= 0:
            raise Unprocessable(
                f"“{gesture.title}” is sized as a share of the customer's loss and {complaint.reference} records no "
                "loss. Give the cost.",
                fields={"cost": ["Give the cost."]},
            )
        cost = spec.effective_cost(complaint.monetary_loss)
    cost = _clean_amount(cost, "cost")

    shown = (
        SuggestionLog.objects.filter(complaint=complaint, gesture=gesture, created_at__gte=now - SUGGESTED_WITHIN)
        .order_by("-created_at", "-id")
        .first()
    )
    ranked = view.suggestion_for(gesture.code)
    if shown is not None:
        suggested, rank, score, reasons = True, shown.rank, shown.score, list(shown.reasons)
        SuggestionLog.objects.filter(pk=shown.pk).update(chosen=True)
    elif ranked is not None:
        suggested, rank, score, reasons = False, None, ranked.score, list(ranked.reasons)
    else:
        exclusion = view.exclusion_for(gesture.code)
        suggested, rank, score = False, None, None
        reasons = [f"Not suggested: {exclusion.detail}"] if exclusion else []

    limits = selectors.approval_limits()
    rule_tier = selectors.rule_approval_tier(complaint_id=complaint.pk)
    route = approval_route(
        cost=cost,
        offerer_tier=offerer_tier,
        gesture_tier=gesture.approval_tier,
        rule_tier=rule_tier,
        limits=limits,
        currency=complaint.currency,
    )
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
        offer = offer_transition(
            offer=offer,
            to_status=S.APPROVED,
            actor=actor,
            message=f"Offered {_describe(offer)}: approved at once, {'; '.join(route.reasons)}"
            + (f". Note: {note}" if note else ""),
            changes={"approved_tier": offerer_tier},
            data={**facts, "approved_tier": offerer_tier},
            now=now,
        )
        webhook_payloads.offer_publish("offer.proposed", offer)
        return offer
    offer = offer_transition(
        offer=offer,
        to_status=S.PENDING_APPROVAL,
        actor=actor,
        message=f"Offered {_describe(offer)}: waiting for {TIER_ONE[route.required_tier]} to approve — "
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
    _notify_approvers(approval, offer, why="; ".join(route.reasons), stage="request")
    return offer


def _complaint_summary(offer: Offer) -> str:
    complaint = offer.complaint
    grade = complaint.get_grade_display() if complaint.grade else "not graded yet"
    return f"{complaint.reference} “{complaint.subject}” — {complaint.get_cause_display()}, {grade}"


def _notify_approvers(approval: ApprovalRequest, offer: Offer, *, why: str, stage: str) -> int:
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
    note = _clean_note(note)
    current = Offer.objects.select_related("gesture").get(pk=offer.pk)
    offer = offer_transition(
        offer=current,
        to_status=S.FULFILLED,
        actor=actor,
        message=f"Fulfilled {_describe(current)}" + (f": {note}" if note else ""),
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
    note = _clean_note(note)
    current = Offer.objects.select_related("gesture").get(pk=offer.pk)
    offer = offer_transition(
        offer=current,
        to_status=S.DECLINED,
        actor=actor,
        message=f"The customer declined {_describe(current)}" + (f": {note}" if note else ""),
        data={"note": note},
        now=now,
    )
    webhook_payloads.offer_publish("offer.declined", offer, note=note)
    return offer


def _lock_offer(offer_id: int) -> None:
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
    note = _clean_note(note)
    _lock_offer(offer.pk)
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
        message=f"Withdrew {_describe(current)}{before}" + (f": {note}" if note else ""),
        data={"note": note, **({"approval_id": pending.pk} if pending else {})},
        now=now,
    )
    if pending is not None:
        user = actor.user if actor.user is not None and actor.user.pk else None
        ApprovalRequest.objects.filter(pk=pending.pk, status=A.PENDING).update(
            status=A.WITHDRAWN, decided_by=user, decided_at=now, note=note
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
    now = now or timezone.now()
    user = actor.user
    if user is None:
        raise NotAllowed(
            "Approvals are decided by a person, and this API key acts for a tool, not a person. "
            "Use a key created for the approver (manage.py createapikey --user <username>) or sign in."
        )
    tier = actor_tier(actor)
    if decision not in ("approve", "reject"):
        raise InvalidInput("Decide 'approve' or 'reject'.", fields={"decision": ["Choose approve or reject."]})
    note = _clean_note(note)
    approval = ApprovalRequest.objects.select_related("offer__gesture", "offer__complaint", "decided_by").get(
        pk=approval.pk
    )
    offer = approval.offer
    if _tier_index(tier) < _tier_index(approval.required_tier):
        raise NotAllowed(
            f"This request needs {TIER_ONE[approval.required_tier]} or higher to decide; you are {TIER_ONE[tier]}."
        )
    if offer.proposed_by_id == user.pk:
        raise NotAllowed("You proposed this offer, so someone else has to approve it.")
    if approval.status != A.PENDING:
        raise _already(approval)

    changed = False
    if decision == "approve" and amount is not None:
        amount = _clean_amount(amount, "amount")
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

    approved = decision == "approve"
    final_amount = amount if changed else offer.cost
    _lock_offer(offer.pk)
    claimed = ApprovalRequest.objects.filter(pk=approval.pk, status=A.PENDING).update(
        status=A.APPROVED if approved else A.REJECTED,
        decided_by=user,
        decided_at=now,
        approved_amount=final_amount if approved else None,
        note=note,
    )
    if not claimed:
        approval.refresh_from_db()
        raise _already(approval)

    name = display_name(user)
    if approved:
        amount_text = (
            f" at {money(final_amount, offer.currency)} instead of {money(offer.cost, offer.currency)}"
            if changed
            else ""
        )
        message = f"{name} approved “{offer.gesture.title}”{amount_text}" + (f": {note}" if note else "")
        changes = {"approved_tier": tier, **({"cost": final_amount} if changed else {})}
    else:
        message = f"{name} rejected {_describe(offer)}: {note}"
        changes = {}
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
    approval.refresh_from_db()
    webhook_payloads.offer_publish(
        "approval.decided", offer, approval=webhook_payloads.approval_data(approval), decision=decision
    )
    if offer.proposed_by_id and offer.proposed_by_id != user.pk:
        verb = "approved" if approved else "rejected"
        notice_send(
            recipient=offer.proposed_by,
            title=f"{name} {verb} {offer.gesture.title} on {offer.complaint.reference}",
            body=message,
            url=f"/complaints/{offer.complaint.reference}/",
            dedupe_key=f"approval:{approval.pk}:decided",
        )
    approval.refresh_from_db()
    return approval


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
    _notify_approvers(approval, offer, why=f"it has waited {waited:.0f} hours for a decision", stage="reminder")
    event_write(
        complaint=offer.complaint,
        kind=TimelineEvent.Kind.APPROVAL,
        actor=ActorRef.system("Approval reminder"),
        message=f"Reminded {TIER_PEOPLE[approval.required_tier]}: {_describe(offer)} has waited "
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
    _lock_offer(approval.offer_id)
    claimed = ApprovalRequest.objects.filter(
        pk=approval_id, status=A.PENDING, reminded_at__isnull=False, due_at__lte=now
    ).update(status=A.ESCALATED, decided_at=now, note="Not decided in time; moved one tier up.")
    if not claimed:
        return None
    next_tier = TIERS[_tier_index(approval.required_tier) + 1]
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
        message=f"Not decided by {TIER_PEOPLE[approval.required_tier]} in time: {_describe(offer)} moved up to "
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
    _notify_approvers(
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
    from cxrecovery.queue import enqueue_on_commit
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
