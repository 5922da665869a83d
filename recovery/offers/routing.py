"""Who must approve an offer (pure): the lowest tier whose limit covers the cost, never below the gesture's
own approval tier or the tier the escalation rules require; with the reasons, for people."""


from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from recovery.formatting import money
from recovery.vocabulary import TIERS
from tickets.models import Tier

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


def tier_index(tier: str) -> int:
    return TIERS.index(tier)


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
    floor = max(tier_index(gesture_tier), tier_index(rule_tier) if rule_tier else 0)
    covering = [t for t in TIERS if limits.get(t) is None or cost <= limits[t]]
    cost_tier = covering[0] if covering else TIERS[-1]
    required = TIERS[max(floor, tier_index(cost_tier))]
    auto = tier_index(offerer_tier) >= tier_index(required)
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
    if tier_index(gesture_tier) > tier_index(offerer_tier):
        reasons.append(f"the playbook needs {TIER_ONE[gesture_tier]} to approve this gesture")
    if rule_tier and tier_index(rule_tier) > tier_index(offerer_tier):
        reasons.append(f"the escalation rules require {TIER_ONE[rule_tier]} to approve gestures on this complaint")
    return Route(required, False, tuple(reasons))
