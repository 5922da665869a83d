"""The rule form's builder catalogue (json_script for rule-builder.js), and the JSON the form still takes without it."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from recovery.escalation.rules import ACTION_TYPES, DEFAULT_RULES, FIELDS, RuleValidationError, validate_rule
from recovery.models import EscalationRule

pytestmark = pytest.mark.django_db
SHIPPED_RULES = len(DEFAULT_RULES)  # the rules a new install starts with

CATALOGUE = re.compile(r'<script id="rule-catalogue" type="application/json">(.*?)</script>', re.S)


@pytest.fixture
def client(senior) -> Client:
    client = Client()
    client.force_login(senior)
    return client


def catalogue_of(page: str) -> dict:
    found = CATALOGUE.search(page)
    assert found, "the rule form carries no catalogue"
    return json.loads(found.group(1))


def rule_form(**overrides) -> dict:
    data = {
        "name": "Bad or ugly pricing complaints to a manager",
        "order": "15",
        "match": "all",
        "active": "on",
        "conditions": json.dumps(
            [
                {"field": "grade", "operator": "in", "value": ["bad", "ugly"]},
                {"field": "cause", "operator": "eq", "value": "pricing"},
                {"field": "lifetime_value", "operator": "gte", "value": "1000.50"},
            ]
        ),
        "actions": json.dumps(
            [{"type": "escalate", "value": "manager"}, {"type": "set_response_deadline", "value": 4}]
        ),
    }
    data.update(overrides)
    return data


def test_rule_form_carries_the_fields_operators_and_actions_of_the_rules(client):
    page = client.get("/rules/new/").content.decode()

    catalogue = catalogue_of(page)
    fields, actions = catalogue["fields"], catalogue["actions"]
    assert list(fields) == list(FIELDS) and list(actions) == list(ACTION_TYPES)
    assert fields["grade"]["kind"] == "choice"
    assert [code for code, _ in fields["grade"]["choices"]] == ["good", "neutral", "bad", "ugly"]
    assert "gte" in fields["grade"]["operators"] and "gte" not in fields["cause"]["operators"]  # only grade is ordered
    assert ["pricing", "Pricing"] in fields["cause"]["choices"]
    assert (fields["severity"]["kind"], fields["tags"]["operators"]) == ("int", ["contains"])
    assert catalogue["operators"]["not_in"] == "is none of"
    assert [code for code, _ in actions["escalate"]["choices"]] == ["lead", "manager", "executive"]
    assert (actions["set_response_deadline"]["value"], actions["escalate_one_tier"]["value"]) == ("hours", "none")
    assert 'src="/static/recovery/rule-builder.js"' in page


def accepted(action: dict) -> bool:
    rule = {"name": "x", "conditions": [{"field": "severity", "operator": "eq", "value": 5}], "actions": [action]}
    try:
        validate_rule(rule)
    except RuleValidationError:
        return False
    return True


def test_rule_form_catalogue_agrees_with_the_validator(client):
    catalogue = catalogue_of(client.get("/rules/new/").content.decode())

    for name, field in catalogue["fields"].items():
        assert (field["kind"], field["operators"]) == (FIELDS[name].kind, list(FIELDS[name].operators))
        assert [code for code, _ in field["choices"]] == list(FIELDS[name].choices)
    for kind, action in catalogue["actions"].items():
        offered = {"choice": [code for code, _ in action["choices"]], "hours": [2.5], "tag": ["vip"], "none": []}
        assert all(accepted({"type": kind, "value": value}) for value in offered[action["value"]]), kind
        assert accepted({"type": kind}) is (action["value"] == "none"), kind


def test_rule_form_edit_page_keeps_the_json_for_the_builder_and_for_no_script(client):
    rule = EscalationRule.objects.get(order=30)

    page = client.get(f"/rules/{rule.pk}/").content.decode()

    assert catalogue_of(page)["fields"]["response_overdue"]["kind"] == "bool"
    assert "&quot;operator&quot;: &quot;not_in&quot;" in page  # the conditions textarea, as before
    assert 'escalate_one_tier</td><td class="code">(no value)' in page  # the reference table, as before


def test_rule_posted_as_json_is_saved_as_posted(client, senior):
    response = client.post("/rules/new/", rule_form())

    assert response.status_code == 302 and response["Location"] == "/rules/"
    rule = EscalationRule.objects.get(name="Bad or ugly pricing complaints to a manager")
    assert rule.conditions == json.loads(rule_form()["conditions"])
    assert rule.actions == [{"type": "escalate", "value": "manager"}, {"type": "set_response_deadline", "value": 4.0}]
    assert (rule.order, rule.match, rule.updated_by) == (15, "all", senior)


# Broken JSON (typed after "Edit as JSON"), and what the builder posts for rows left unfinished.
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"conditions": '[{"field": "grade", '}, "The conditions is not valid JSON"),
        (
            {"conditions": json.dumps([{"field": "grade", "operator": "in", "value": []}])},
            "Condition 1, value: &#x27;in&#x27; needs a non-empty list of values for &#x27;grade&#x27;",
        ),
        (
            {"conditions": json.dumps([{"field": "cause", "operator": "eq"}])},
            "Condition 1, value: Give a value to compare &#x27;cause&#x27; with.",
        ),
        ({"actions": json.dumps([{"type": "escalate"}])}, "Action 1, value: Unknown tier None."),
    ],
)
def test_rule_posted_as_json_is_refused_with_the_validators_message(client, overrides, message):
    response = client.post("/rules/new/", rule_form(**overrides))

    page = response.content.decode()
    assert response.status_code == 200
    assert page.index("The rule was not saved") < page.index(message)  # the summary above, the message by its field
    assert catalogue_of(page)["fields"]["grade"]  # the builder comes back with the posted JSON
    assert EscalationRule.objects.count() == SHIPPED_RULES
