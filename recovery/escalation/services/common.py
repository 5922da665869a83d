"""What the escalation services share: the system actors, tier words and people, the JSON of a grade or a
decision, and the domain errors the API turns into statuses."""


from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import fields as dataclass_fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model

from recovery.escalation.grading import Grade
from tickets.actors import ActorRef
from tickets.errors import DomainError
from tickets.models import Role, Tier

logger = logging.getLogger(__name__)


RULES_ACTOR = ActorRef.system("Escalation rules")
SWEEP_ACTOR = ActorRef.system("SLA clock")
# Hours to acknowledge an escalation when no matched rule set a response deadline.
DEFAULT_ACK_HOURS: dict[str, float] = {Tier.LEAD: 24.0, Tier.MANAGER: 8.0, Tier.EXECUTIVE: 4.0}
TIER_ROLE: dict[str, str] = {Tier.FRONTLINE: Role.AGENT, Tier.LEAD: Role.LEAD, Tier.MANAGER: Role.MANAGER,
                             Tier.EXECUTIVE: Role.EXECUTIVE}
RESPONSE_NEAR = timedelta(hours=1)


class EscalationNotYours(DomainError):
    code = "permission_denied"
    status = 403


class EscalationConflict(DomainError):
    code = "conflict"
    status = 409


class _Raced(Exception):
    """Another run claimed a time rule for this complaint first; this run rolls back and changes nothing."""


# --- small helpers -----------------------------------------------------------------------------


def tier_label(tier: str) -> str:
    return Tier(tier).label if tier in Tier.values else tier


def _tier_word(tier: str) -> str:
    return tier_label(tier).lower()






def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]




def to_json(value: Any) -> Any:
    """Dataclasses, Decimals, tuples and frozensets as plain JSON values (sets sorted, so output is stable)."""
    if hasattr(value, "__dataclass_fields__"):
        data = {f.name: getattr(value, f.name) for f in dataclass_fields(value)}
        # Computed attributes a dataclass wants stored too (ConditionTrace's explanation, written on demand).
        data.update((name, getattr(value, name)) for name in getattr(value, "json_extra", ()))
        return to_json(data)
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, frozenset | set):
        return sorted(to_json(v) for v in value)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def reasons_json(grade: Grade) -> list[dict[str, Any]]:
    return [{"code": r.code, "text": r.text, "points": r.points, "forces_ugly": r.forces_ugly} for r in grade.reasons]


def tier_users(tier: str) -> list[Any]:
    """Active people whose role group is the tier's."""
    User = get_user_model()
    return list(User.objects.filter(is_active=True, groups__name=TIER_ROLE[tier]).distinct().order_by("pk"))

def actor_user(actor: ActorRef) -> Any:
    return actor.user if actor.user is not None and getattr(actor.user, "pk", None) else None
