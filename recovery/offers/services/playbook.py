"""Editing the playbook (gestures) and the approval limits of each tier: managers and above."""


from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from recovery.formatting import money
from recovery.models import ApprovalLimit, Gesture
from recovery.offers import selectors
from recovery.offers.routing import tier_index
from recovery.offers.services.common import NotAllowed, actor_tier, clean_amount
from recovery.vocabulary import TIERS
from tickets.actors import ActorRef
from tickets.errors import InvalidInput
from tickets.models import Tier

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
    if actor.user is not None and tier_index(actor_tier(actor)) < tier_index(Tier.MANAGER):
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
    cleaned = {tier: None if merged[tier] is None else clean_amount(merged[tier], tier) for tier in TIERS}
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
