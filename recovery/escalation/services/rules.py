"""Editing the escalation rules and the grading settings. Every change re-assesses the open complaints
after the commit, so they are judged by the rules as they are now."""


from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from notifications.queue import enqueue_on_commit
from recovery.escalation import selectors as sel
from recovery.escalation.grading import GradingConfig, GradingConfigError
from recovery.escalation.rules import (
    ORDER_LIMIT,
    RuleSpec,
    RuleValidationError,
    validate_rule,
)
from recovery.escalation.services.common import actor_user
from recovery.models import EscalationRule, GradingSettings
from tickets.actors import ActorRef
from tickets.errors import InvalidInput

logger = logging.getLogger(__name__)


# --- rules -------------------------------------------------------------------------------------


RULE_FIELDS = ("name", "order", "active", "match", "conditions", "actions", "stop_processing", "time_based")


def _rule_spec(raw: Mapping[str, Any]) -> RuleSpec:
    try:
        return validate_rule(raw)
    except RuleValidationError as exc:
        raise InvalidInput("The rule was not saved: " + str(exc), fields=exc.errors) from None


def _spec_fields(spec: RuleSpec) -> dict[str, Any]:
    data = spec.to_dict()
    return {name: data[name] for name in RULE_FIELDS}


def _rules_changed() -> None:
    # Open complaints are judged by the new rules now, not at their next change.
    from recovery.escalation.tasks import complaints_reassess_open_task

    enqueue_on_commit(complaints_reassess_open_task)


@transaction.atomic
def rule_create(*, data: Mapping[str, Any], actor: ActorRef) -> EscalationRule:
    """Create a rule from raw data (validated by rules.validate_rule; InvalidInput with the field errors).
    Without an order it goes last."""
    raw = {k: v for k, v in data.items() if k != "id"}
    if "order" not in raw:
        last = EscalationRule.objects.aggregate(m=Max("order"))["m"]
        raw["order"] = min((last or 0) + 10, ORDER_LIMIT)
    spec = _rule_spec(raw)
    rule = EscalationRule.objects.create(**_spec_fields(spec), updated_by=actor_user(actor))
    _rules_changed()
    return rule


@transaction.atomic
def rule_update(*, rule: EscalationRule, changes: Mapping[str, Any], actor: ActorRef) -> EscalationRule:
    """Change some of a rule's keys; the whole rule is validated before anything is saved."""
    rule = EscalationRule.objects.select_for_update().get(pk=rule.pk)
    merged = {**sel.rule_as_dict(rule), **{k: v for k, v in changes.items() if k != "id"}, "id": rule.pk}
    spec = _rule_spec(merged)
    for name, value in _spec_fields(spec).items():
        setattr(rule, name, value)
    rule.updated_by = actor_user(actor)
    rule.save()
    _rules_changed()
    return rule


@transaction.atomic
def rule_delete(*, rule: EscalationRule, actor: ActorRef) -> None:
    """Delete a rule. Escalations it caused keep their reason text; deactivating keeps its history instead."""
    EscalationRule.objects.filter(pk=rule.pk).delete()
    _rules_changed()


@transaction.atomic
def rule_move(*, rule: EscalationRule, direction: str, actor: ActorRef) -> EscalationRule:
    """Swap the rule with its neighbour ('up' runs it earlier) and renumber all rules 10, 20, 30…"""
    if direction not in ("up", "down"):
        raise InvalidInput("Move a rule 'up' or 'down'.")
    rules = list(EscalationRule.objects.select_for_update().order_by("order", "id"))
    index = next(i for i, r in enumerate(rules) if r.pk == rule.pk)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(rules):
        rules[index], rules[other] = rules[other], rules[index]
    now = timezone.now()
    for position, item in enumerate(rules, start=1):
        if item.order != position * 10:
            # updated_at too: it is how workers notice the rules changed (selectors.rule_set).
            EscalationRule.objects.filter(pk=item.pk).update(order=position * 10, updated_at=now)
            item.order = position * 10
    _rules_changed()
    return next(r for r in rules if r.pk == rule.pk)



# --- grading settings --------------------------------------------------------------------------


@transaction.atomic
def grading_settings_update(*, config: Mapping[str, Any], actor: ActorRef) -> GradingSettings:
    """Store new grading settings (any subset of GradingConfig's keys; {} means the defaults).
    Invalid settings raise InvalidInput with a message per setting and are not saved."""
    try:
        GradingConfig.from_dict(config)
    except GradingConfigError as exc:
        raise InvalidInput("The grading settings were not saved: " + str(exc), fields=exc.errors) from None
    row = GradingSettings.objects.select_for_update().order_by("pk").first() or GradingSettings()
    row.config = dict(config)
    row.updated_by = actor_user(actor)
    row.save()
    _rules_changed()
    return row
