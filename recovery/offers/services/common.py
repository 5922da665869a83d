"""What the offer and approval services share: status shorthands, limits on notes and amounts, the domain
errors, and whose authority an actor spends."""


from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from recovery.formatting import CENT
from recovery.models import ApprovalRequest, Offer
from tickets.actors import ActorRef
from tickets.errors import DomainError, InvalidInput
from tickets.models import Tier
from tickets.permissions import user_tier

S = Offer.Status
A = ApprovalRequest.Status

MOVE_VERB = {
    S.PENDING_APPROVAL: "sent for approval",
    S.APPROVED: "approved",
    S.REJECTED: "rejected",
    S.FULFILLED: "marked fulfilled",
    S.DECLINED: "marked declined by the customer",
    S.WITHDRAWN: "withdrawn",
}


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









def clean_note(note: str | None) -> str:
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput(f"Keep the note under {NOTE_MAX} characters.", fields={"note": ["Too long."]})
    return note


def clean_amount(value: Any, field: str) -> Decimal:
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
