"""Migration 0009 adds the unacknowledged-escalation rule: on for an install still on the shipped rules, off (to
review) for one whose rules were changed, once."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.apps import apps

from recovery.models import EscalationRule

pytestmark = pytest.mark.django_db

migration = import_module("recovery.migrations.0009_unacknowledged_escalations")
NAME = migration.RULE["name"]


def added() -> EscalationRule:
    EscalationRule.objects.filter(name=NAME).delete()
    migration.add_rule(apps, None)
    return EscalationRule.objects.get(name=NAME)


def test_an_install_on_the_shipped_rules_gets_the_rule_switched_on():
    rule = added()

    assert (rule.active, rule.order, rule.time_based) == (True, 40, True)
    assert rule.conditions[0] == {"field": "acknowledgement_overdue", "operator": "eq", "value": True}


def test_an_install_with_its_own_rules_gets_it_switched_off_and_last():
    EscalationRule.objects.filter(order=20).update(name="Bad cases to our duty lead", order=70)

    rule = added()

    assert (rule.active, rule.order) == (False, 80)


def test_the_rule_is_added_once():
    added()
    migration.add_rule(apps, None)

    assert EscalationRule.objects.filter(name=NAME).count() == 1
