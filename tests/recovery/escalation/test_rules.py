"""Unit tests for recovery.escalation.rules: pure, no database."""

from __future__ import annotations

import copy
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from recovery.escalation.rules import (
    DEFAULT_RULES,
    FIELDS,
    Action,
    ComplaintFacts,
    Condition,
    RuleSpec,
    RuleValidationError,
    evaluate,
    validate_rule,
)
from recovery.vocabulary import TIERS

BASE = ComplaintFacts(
    grade="bad",
    score=40,
    cause="product_quality",
    severity=3,
    channel="web",
    lifetime_value=Decimal("500"),
    social_reach=0,
    repeat=False,
    hours_unanswered=2.0,
    status="new",
    tier="frontline",
    tags=frozenset(),
    threatens_public=False,
    says_wont_return=False,
    response_overdue=False,
    resolution_overdue=False,
)


def facts(**overrides: Any) -> ComplaintFacts:
    return replace(BASE, **overrides)


def raw_rule(
    conditions: list[dict[str, Any]] | None = None,
    actions: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "name": "Test rule",
        "conditions": conditions if conditions is not None else [{"field": "grade", "operator": "eq", "value": "bad"}],
        "actions": actions if actions is not None else [{"type": "tag", "value": "t"}],
        **extra,
    }


def rule(
    conditions: list[dict[str, Any]] | None = None,
    actions: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> RuleSpec:
    return validate_rule(raw_rule(conditions, actions, **extra))


ALWAYS = [{"field": "severity", "operator": "gte", "value": 1}]
NEVER = [{"field": "severity", "operator": "gt", "value": 5}]


# --- operators -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "operator", "value", "overrides", "met"),
    [
        ("grade", "eq", "bad", {}, True),
        ("grade", "eq", "ugly", {}, False),
        ("grade", "ne", "ugly", {}, True),
        ("grade", "ne", "bad", {}, False),
        ("grade", "gte", "bad", {"grade": "ugly"}, True),
        ("grade", "gte", "bad", {"grade": "bad"}, True),
        ("grade", "gte", "bad", {"grade": "neutral"}, False),
        ("grade", "gt", "neutral", {"grade": "bad"}, True),
        ("grade", "gt", "bad", {"grade": "bad"}, False),
        ("grade", "lt", "bad", {"grade": "good"}, True),
        ("grade", "lte", "neutral", {"grade": "bad"}, False),
        ("grade", "eq", "bad", {"grade": None}, False),
        ("grade", "ne", "bad", {"grade": None}, False),
        ("tier", "lt", "manager", {"tier": "lead"}, True),
        ("tier", "gte", "manager", {"tier": "lead"}, False),
        ("cause", "in", ["staff_conduct", "product_quality"], {}, True),
        ("cause", "in", ["staff_conduct", "pricing"], {}, False),
        ("cause", "not_in", ["staff_conduct", "pricing"], {}, True),
        ("status", "not_in", ["resolved", "closed"], {"status": "closed"}, False),
        ("channel", "eq", "social", {"channel": "social"}, True),
        ("score", "gt", 39, {}, True),
        ("score", "gt", 40, {}, False),
        ("score", "lte", 40, {}, True),
        ("severity", "in", [4, 5], {"severity": 5}, True),
        ("severity", "not_in", [4, 5], {}, True),
        ("severity", "lt", 3, {}, False),
        ("lifetime_value", "gte", "10000", {"lifetime_value": Decimal("10000.00")}, True),
        ("lifetime_value", "gte", 10000, {"lifetime_value": Decimal("9999.99")}, False),
        ("social_reach", "gte", 10_000, {"social_reach": 12_400}, True),
        ("hours_unanswered", "gt", 24, {"hours_unanswered": 24.5}, True),
        ("hours_unanswered", "gt", 24.5, {"hours_unanswered": 24.5}, False),
        ("tags", "contains", "vip", {"tags": frozenset({"vip", "press"})}, True),
        ("tags", "contains", "vip", {}, False),
        ("repeat", "eq", True, {"repeat": True}, True),
        ("threatens_public", "eq", True, {}, False),
        ("says_wont_return", "ne", True, {}, True),
        ("response_overdue", "eq", True, {"response_overdue": True}, True),
        ("acknowledgement_overdue", "eq", True, {"acknowledgement_overdue": True}, True),
        ("acknowledgement_overdue", "eq", True, {}, False),
        ("resolution_overdue", "eq", False, {}, True),
    ],
)
def test_evaluate_condition_applies_operator(
    field: str, operator: str, value: Any, overrides: dict[str, Any], met: bool
) -> None:
    spec = rule([{"field": field, "operator": operator, "value": value}])

    trace = evaluate([spec], facts(**overrides)).traces[0]

    assert trace.conditions[0].met is met
    assert trace.matched is met


@pytest.mark.parametrize(
    ("condition", "overrides", "explanation"),
    [
        ({"field": "grade", "operator": "gte", "value": "bad"}, {"grade": "ugly"}, "grade is ugly (needs ≥ bad)"),
        ({"field": "grade", "operator": "eq", "value": "ugly"}, {}, "grade is bad (needs ugly)"),
        ({"field": "grade", "operator": "eq", "value": "ugly"}, {"grade": None}, "grade is not set (needs ugly)"),
        (
            {"field": "status", "operator": "not_in", "value": ["resolved", "closed"]},
            {"status": "waiting_on_customer"},
            "status is waiting on customer (needs none of: resolved, closed)",
        ),
        (
            {"field": "lifetime_value", "operator": "gte", "value": "10000"},
            {"lifetime_value": Decimal("12500.00")},
            "lifetime value is 12,500.00 (needs ≥ 10,000)",
        ),
        (
            {"field": "hours_unanswered", "operator": "gt", "value": 24},
            {"hours_unanswered": 30.25},
            "hours without a response is 30.2 (needs > 24)",
        ),
        (
            {"field": "response_overdue", "operator": "eq", "value": True},
            {},
            "response overdue is no (needs yes)",
        ),
        (
            {"field": "tags", "operator": "contains", "value": "vip"},
            {"tags": frozenset({"vip", "press"})},
            "tags are press, vip (needs 'vip')",
        ),
        (
            {"field": "severity", "operator": "in", "value": [4, 5]},
            {},
            "severity is 3 (needs one of: 4, 5)",
        ),
    ],
)
def test_evaluate_condition_explains_result_for_a_person(
    condition: dict[str, Any], overrides: dict[str, Any], explanation: str
) -> None:
    trace = evaluate([rule([condition])], facts(**overrides)).traces[0]

    assert trace.conditions[0].explanation == explanation


@pytest.mark.parametrize(
    ("match", "conditions", "matched"),
    [
        ("all", ALWAYS + ALWAYS, True),
        ("all", ALWAYS + NEVER, False),
        ("any", NEVER + ALWAYS, True),
        ("any", NEVER + NEVER, False),
    ],
)
def test_evaluate_rule_combines_conditions_by_match(
    match: str, conditions: list[dict[str, Any]], matched: bool
) -> None:
    trace = evaluate([rule(conditions, match=match)], BASE).traces[0]

    assert trace.matched is matched
    assert len(trace.conditions) == 2  # every condition is traced, no short-circuit


# --- actions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "overrides", "attribute", "expected"),
    [
        ({"type": "escalate", "value": "manager"}, {}, "target_tier", "manager"),
        ({"type": "escalate", "value": "lead"}, {"tier": "manager"}, "target_tier", "manager"),
        ({"type": "escalate_one_tier"}, {"tier": "lead"}, "target_tier", "manager"),
        ({"type": "escalate_one_tier"}, {"tier": "executive"}, "target_tier", "executive"),
        ({"type": "set_response_deadline", "value": 4}, {}, "response_deadline_hours", 4.0),
        ({"type": "set_resolution_deadline", "value": 48}, {}, "resolution_deadline_hours", 48.0),
        ({"type": "notify", "value": "assignee"}, {}, "notify", frozenset({"assignee"})),
        ({"type": "notify", "value": "manager"}, {}, "notify", frozenset({"manager"})),
        ({"type": "notify", "value": "escalation_tier"}, {"tier": "lead"}, "notify", frozenset({"lead"})),
        ({"type": "tag", "value": "vip"}, {}, "tags", ("vip",)),
        ({"type": "tag", "value": "vip"}, {"tags": frozenset({"vip"})}, "tags", ()),
        ({"type": "require_approval", "value": "manager"}, {}, "require_approval", "manager"),
        ({"type": "set_priority", "value": "urgent"}, {}, "priority", "urgent"),
    ],
)
def test_evaluate_applies_action(
    action: dict[str, Any], overrides: dict[str, Any], attribute: str, expected: Any
) -> None:
    decision = evaluate([rule(ALWAYS, [action])], facts(**overrides)).decision

    assert getattr(decision, attribute) == expected


def test_evaluate_leaves_decision_empty_when_nothing_matches() -> None:
    decision = evaluate([rule(NEVER, [{"type": "escalate", "value": "executive"}])], BASE).decision

    assert decision.target_tier == "frontline"
    assert not decision.escalated
    assert (decision.response_deadline_hours, decision.resolution_deadline_hours) == (None, None)
    assert (decision.notify, decision.tags, decision.require_approval, decision.priority) == (
        frozenset(),
        (),
        None,
        None,
    )
    assert decision.fired_time_rules == frozenset()


def test_evaluate_notifies_new_tier_when_escalating_one_tier() -> None:
    spec = rule(ALWAYS, [{"type": "escalate_one_tier"}, {"type": "notify", "value": "escalation_tier"}])

    decision = evaluate([spec], facts(tier="lead")).decision

    assert decision.notify == frozenset({"manager"})


def test_evaluate_merges_actions_so_strictest_wins() -> None:
    # given two matching rules asking for different things
    first = rule(
        ALWAYS,
        [
            {"type": "escalate", "value": "manager"},
            {"type": "set_response_deadline", "value": 1.5},
            {"type": "set_resolution_deadline", "value": 72},
            {"type": "require_approval", "value": "executive"},
            {"type": "set_priority", "value": "urgent"},
            {"type": "notify", "value": "manager"},
            {"type": "tag", "value": "b"},
        ],
        order=1,
    )
    second = rule(
        ALWAYS,
        [
            {"type": "escalate", "value": "lead"},
            {"type": "set_response_deadline", "value": 24},
            {"type": "set_resolution_deadline", "value": 96},
            {"type": "require_approval", "value": "lead"},
            {"type": "set_priority", "value": "low"},
            {"type": "notify", "value": "assignee"},
            {"type": "tag", "value": "a"},
            {"type": "tag", "value": "b"},
        ],
        order=2,
    )

    # when
    decision = evaluate([first, second], BASE).decision

    # then
    assert decision.target_tier == "manager"
    assert decision.response_deadline_hours == 1.5
    assert decision.resolution_deadline_hours == 72
    assert decision.require_approval == "executive"
    assert decision.priority == "urgent"
    assert decision.notify == frozenset({"manager", "assignee"})
    assert decision.tags == ("b", "a")


@pytest.mark.parametrize("current", TIERS)
@pytest.mark.parametrize("wanted", TIERS)
def test_evaluate_never_lowers_tier(current: str, wanted: str) -> None:
    spec = rule(ALWAYS, [{"type": "escalate", "value": wanted}])

    decision = evaluate([spec], facts(tier=current)).decision

    assert decision.target_tier == max(current, wanted, key=TIERS.index)


def test_evaluate_explains_escalation_that_would_lower_tier() -> None:
    spec = rule(ALWAYS, [{"type": "escalate", "value": "lead"}])

    trace = evaluate([spec], facts(tier="executive")).traces[0]

    assert trace.actions == ("escalate to lead (skipped: already at executive, never moved down)",)


def test_evaluate_moves_one_tier_only_when_two_rules_escalate_one_tier() -> None:
    rules = [rule(ALWAYS, [{"type": "escalate_one_tier"}], order=i) for i in (1, 2)]

    assert evaluate(rules, facts(tier="frontline")).decision.target_tier == "lead"


# --- order, stop processing, skipping ------------------------------------------------------


def test_evaluate_runs_rules_by_order_keeping_given_order_for_ties() -> None:
    rules = [
        rule(ALWAYS, name="c", order=20),
        rule(ALWAYS, name="a", order=10),
        rule(ALWAYS, name="b", order=20),
    ]

    names = [t.name for t in evaluate(rules, BASE).traces]

    assert names == ["a", "c", "b"]


def test_evaluate_stops_after_matched_stop_processing_rule() -> None:
    rules = [
        rule(ALWAYS, [{"type": "escalate", "value": "lead"}], name="Stop here", order=1, stop_processing=True),
        rule(ALWAYS, [{"type": "escalate", "value": "executive"}], name="Later", order=2),
    ]

    evaluation = evaluate(rules, BASE)

    assert evaluation.decision.target_tier == "lead"
    first, later = evaluation.traces
    assert first.stopped_processing
    assert later.skipped == "an earlier rule stopped processing ('Stop here')"
    assert not later.matched


def test_evaluate_continues_when_stop_processing_rule_does_not_match() -> None:
    rules = [
        rule(NEVER, name="Would stop", order=1, stop_processing=True),
        rule(ALWAYS, [{"type": "escalate", "value": "executive"}], name="Later", order=2),
    ]

    evaluation = evaluate(rules, BASE)

    assert evaluation.decision.target_tier == "executive"
    assert not evaluation.traces[0].stopped_processing


def test_evaluate_skips_inactive_rule() -> None:
    spec = rule(ALWAYS, [{"type": "escalate", "value": "executive"}], active=False)

    evaluation = evaluate([spec], BASE)

    assert evaluation.traces[0].skipped == "inactive"
    assert evaluation.decision.target_tier == "frontline"


def test_evaluate_traces_every_rule_considered() -> None:
    rules = [rule(ALWAYS, name="yes", order=1), rule(NEVER, name="no", order=2), rule(ALWAYS, name="off", active=False)]

    evaluation = evaluate(rules, BASE)

    assert [(t.name, t.matched, t.skipped) for t in evaluation.traces] == [
        ("off", False, "inactive"),
        ("yes", True, None),
        ("no", False, None),
    ]
    assert [t.name for t in evaluation.matched] == ["yes"]
    assert evaluation.traces[1].actions == ("tag 't'",)


# --- time-based rules ----------------------------------------------------------------------


TIME_RULE = validate_rule(
    raw_rule(
        [{"field": "response_overdue", "operator": "eq", "value": True}],
        [{"type": "escalate_one_tier"}],
        id=7,
        time_based=True,
    )
)


def test_evaluate_fires_time_rule_once_per_complaint() -> None:
    overdue = facts(response_overdue=True)

    # when it fires the first time
    first = evaluate([TIME_RULE], overdue)
    # and the caller records the id, then runs the sweep again
    second = evaluate([TIME_RULE], replace(overdue, tier=first.decision.target_tier), first.decision.fired_time_rules)

    # then it escalated once and was skipped the second time
    assert (first.decision.target_tier, first.decision.fired_time_rules) == ("lead", frozenset({7}))
    assert second.traces[0].skipped == "time rule already fired"
    assert not second.decision.escalated
    assert second.decision.fired_time_rules == frozenset()


@pytest.mark.parametrize("status", ["resolved", "closed"])
def test_evaluate_skips_time_rule_when_complaint_is_closed(status: str) -> None:
    evaluation = evaluate([TIME_RULE], facts(response_overdue=True, status=status))

    assert evaluation.traces[0].skipped == f"complaint is {status}"
    assert evaluation.decision.target_tier == "frontline"
    assert evaluation.decision.fired_time_rules == frozenset()


def test_evaluate_still_runs_ordinary_rule_on_closed_complaint() -> None:
    evaluation = evaluate([rule(ALWAYS, id=3)], facts(status="closed"))

    assert evaluation.traces[0].matched


def test_evaluate_does_not_record_time_rule_that_did_not_match() -> None:
    evaluation = evaluate([TIME_RULE], facts(response_overdue=False))

    assert evaluation.decision.fired_time_rules == frozenset()


def test_evaluate_skips_unsaved_time_rule_because_it_could_fire_again() -> None:
    unsaved = replace(TIME_RULE, id=None)

    evaluation = evaluate([unsaved], facts(response_overdue=True))

    assert evaluation.traces[0].skipped is not None
    assert not evaluation.decision.escalated


def test_evaluate_is_deterministic_and_leaves_input_alone() -> None:
    rules = [validate_rule({**r, "id": i}) for i, r in enumerate(DEFAULT_RULES, start=1)]
    before = list(rules)
    overdue = facts(grade="ugly", response_overdue=True)

    assert evaluate(rules, overdue) == evaluate(rules, overdue)
    assert rules == before


# --- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "path", "message"),
    [
        (
            raw_rule([{"field": "gradee", "operator": "eq", "value": "ugly"}]),
            "conditions[0].field",
            "Unknown field 'gradee'. Did you mean 'grade'? Choose one of: grade, score,",
        ),
        (
            raw_rule([{"field": "grade", "operator": "eq", "value": "awful"}]),
            "conditions[0].value",
            "'grade' must be one of: good, neutral, bad, ugly; got 'awful'.",
        ),
        (
            raw_rule([{"field": "severity", "operator": "gte", "value": "high"}]),
            "conditions[0].value",
            "'severity' must be a whole number, got 'high'.",
        ),
        (
            raw_rule([{"field": "severity", "operator": "gte", "value": True}]),
            "conditions[0].value",
            "'severity' must be a whole number",
        ),
        (
            raw_rule([{"field": "repeat", "operator": "eq", "value": "yes"}]),
            "conditions[0].value",
            "'repeat' must be true or false, got 'yes'.",
        ),
        (
            raw_rule([{"field": "lifetime_value", "operator": "gt", "value": "lots"}]),
            "conditions[0].value",
            "'lifetime_value' must be an amount",
        ),
        (
            raw_rule([{"field": "hours_unanswered", "operator": "gt", "value": "24"}]),
            "conditions[0].value",
            "'hours_unanswered' must be a number",
        ),
        (
            raw_rule([{"field": "cause", "operator": "in", "value": "pricing"}]),
            "conditions[0].value",
            "'in' needs a non-empty list of values for 'cause'",
        ),
        (
            raw_rule([{"field": "cause", "operator": "in", "value": []}]),
            "conditions[0].value",
            "'in' needs a non-empty list",
        ),
        (
            raw_rule([{"field": "tags", "operator": "contains", "value": ""}]),
            "conditions[0].value",
            "'tags' needs a tag to look for",
        ),
        (
            raw_rule([{"field": "grade", "operator": "eq"}]),
            "conditions[0].value",
            "Give a value to compare 'grade' with.",
        ),
        (
            raw_rule([{"field": "cause", "operator": "gt", "value": "pricing"}]),
            "conditions[0].operator",
            "Operator 'gt' cannot be used with 'cause'. Choose one of: eq, ne, in, not_in.",
        ),
        (
            raw_rule([{"field": "tags", "operator": "eq", "value": "vip"}]),
            "conditions[0].operator",
            "Operator 'eq' cannot be used with 'tags'. Choose one of: contains.",
        ),
        (
            raw_rule([{"field": "grade", "operator": "equals", "value": "ugly"}]),
            "conditions[0].operator",
            "Unknown operator 'equals'.",
        ),
        (
            raw_rule([{"field": "grade", "operator": "eq", "value": "bad", "negate": True}]),
            "conditions[0].negate",
            "Unknown key 'negate'.",
        ),
        (
            raw_rule(actions=[{"type": "escalte", "value": "lead"}]),
            "actions[0].type",
            "Unknown action 'escalte'. Did you mean 'escalate'?",
        ),
        (
            raw_rule(actions=[{"type": "escalate", "value": "boss"}]),
            "actions[0].value",
            "Unknown tier 'boss'. Choose one of: frontline, lead, manager, executive.",
        ),
        (raw_rule(actions=[{"type": "escalate"}]), "actions[0].value", "Unknown tier None."),
        (raw_rule(actions=[{"type": "require_approval", "value": "ceo"}]), "actions[0].value", "Unknown tier 'ceo'."),
        (
            raw_rule(actions=[{"type": "escalate_one_tier", "value": "lead"}]),
            "actions[0].value",
            "'escalate_one_tier' takes no value",
        ),
        (
            raw_rule(actions=[{"type": "set_response_deadline", "value": 0}]),
            "actions[0].value",
            "greater than 0, got 0.",
        ),
        (raw_rule(actions=[{"type": "set_resolution_deadline", "value": -2}]), "actions[0].value", "greater than 0"),
        (raw_rule(actions=[{"type": "set_response_deadline", "value": "4"}]), "actions[0].value", "number of hours"),
        (raw_rule(actions=[{"type": "set_response_deadline", "value": True}]), "actions[0].value", "number of hours"),
        (
            raw_rule(actions=[{"type": "notify", "value": "everyone"}]),
            "actions[0].value",
            "Unknown recipient 'everyone'.",
        ),
        (raw_rule(actions=[{"type": "tag", "value": "  "}]), "actions[0].value", "Give the tag to add"),
        (raw_rule(actions=[{"type": "tag", "value": "x" * 51}]), "actions[0].value", "at most 50 characters"),
        (raw_rule(actions=[{"type": "set_priority", "value": "asap"}]), "actions[0].value", "Unknown priority 'asap'."),
        (raw_rule(conditions=[]), "conditions", "Add at least one condition."),
        (raw_rule(actions=[]), "actions", "Add at least one action."),
        ({**raw_rule(), "name": "  "}, "name", "Give the rule a name."),
        (raw_rule(match="some"), "match", "Match must be 'all' (every condition) or 'any' (at least one)"),
        (raw_rule(order="1"), "order", "The order must be a whole number"),
        (raw_rule(active="yes"), "active", "'active' must be true or false"),
        (raw_rule(time_based=1), "time_based", "'time_based' must be true or false"),
        (raw_rule(id="7"), "id", "The id must be a whole number"),
        (raw_rule(priority="high"), "priority", "Unknown key 'priority'."),
    ],
)
def test_validate_rule_reports_clear_error(raw: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(RuleValidationError) as excinfo:
        validate_rule(raw)

    assert isinstance(excinfo.value, ValueError)
    assert any(message in m for m in excinfo.value.errors.get(path, [])), excinfo.value.errors


def test_validate_rule_reports_every_problem_at_once() -> None:
    raw = raw_rule(
        [{"field": "gradee", "operator": "eq", "value": "x"}, {"field": "grade", "operator": "eq", "value": "x"}],
        [{"type": "nope"}],
        match="some",
    )

    with pytest.raises(RuleValidationError) as excinfo:
        validate_rule(raw)

    assert set(excinfo.value.errors) == {"conditions[0].field", "conditions[1].value", "actions[0].type", "match"}


def test_validate_rule_normalises_values_and_applies_defaults() -> None:
    spec = validate_rule(
        {
            "name": "  Big spenders  ",
            "conditions": [
                {"field": "lifetime_value", "operator": "gte", "value": "10000.50"},
                {"field": "severity", "operator": "in", "value": [4, 5]},
                {"field": "hours_unanswered", "operator": "gt", "value": 2},
            ],
            "actions": [{"type": "set_response_deadline", "value": 4}, {"type": "tag", "value": " vip "}],
        }
    )

    assert spec == RuleSpec(
        id=None,
        name="Big spenders",
        order=0,
        active=True,
        match="all",
        conditions=(
            Condition("lifetime_value", "gte", Decimal("10000.50")),
            Condition("severity", "in", (4, 5)),
            Condition("hours_unanswered", "gt", 2.0),
        ),
        actions=(Action("set_response_deadline", 4.0), Action("tag", "vip")),
        stop_processing=False,
        time_based=False,
    )


def test_validate_rule_round_trips_through_to_dict() -> None:
    spec = validate_rule(
        raw_rule(
            [
                {"field": "lifetime_value", "operator": "gte", "value": "10000.50"},
                {"field": "status", "operator": "not_in", "value": ["resolved", "closed"]},
            ],
            [{"type": "escalate_one_tier"}, {"type": "notify", "value": "assignee"}],
            id=4,
            order=5,
            match="any",
            stop_processing=True,
            time_based=True,
        )
    )

    data = spec.to_dict()

    assert data["conditions"][0]["value"] == "10000.50"  # JSON-ready
    assert data["actions"][0] == {"type": "escalate_one_tier"}
    assert validate_rule(data) == spec


@pytest.mark.parametrize("name", sorted(FIELDS))
def test_fields_lists_operators_for_every_field(name: str) -> None:
    spec = FIELDS[name]

    assert spec.operators
    assert spec.label
    if spec.ordered:
        assert {"gt", "gte", "lt", "lte"} <= set(spec.operators)


# --- default rules -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", DEFAULT_RULES, ids=[r["name"] for r in DEFAULT_RULES])
def test_default_rules_pass_validation(raw: dict[str, Any]) -> None:
    original = copy.deepcopy(raw)

    spec = validate_rule(raw)

    assert spec.name == raw["name"]
    assert raw == original  # validation does not change the shared defaults


DEFAULTS = [validate_rule({**r, "id": i}) for i, r in enumerate(DEFAULT_RULES, start=1)]


@pytest.mark.parametrize(
    ("overrides", "tier", "response_hours", "notify"),
    [
        ({"grade": "ugly"}, "executive", 1.0, {"executive"}),
        ({"grade": "bad"}, "lead", 24.0, {"lead"}),
        ({"grade": "neutral"}, "frontline", None, set()),
        ({"grade": "good"}, "frontline", None, set()),
        ({"grade": "neutral", "tier": "lead", "response_overdue": True}, "manager", None, {"manager", "assignee"}),
        ({"grade": "bad", "response_overdue": True}, "lead", 24.0, {"lead", "assignee"}),
        ({"grade": "bad", "tier": "manager"}, "manager", 24.0, {"lead"}),
        ({"grade": "bad", "tier": "lead", "acknowledgement_overdue": True}, "manager", 24.0, {"lead", "manager"}),
        ({"grade": "ugly", "tier": "executive", "acknowledgement_overdue": True}, "executive", 1.0, {"executive"}),
    ],
)
def test_default_rules_decide_escalation(
    overrides: dict[str, Any], tier: str, response_hours: float | None, notify: set[str]
) -> None:
    decision = evaluate(DEFAULTS, facts(**overrides)).decision

    assert decision.target_tier == tier
    assert decision.response_deadline_hours == response_hours
    assert decision.notify == frozenset(notify)


def test_default_rules_missed_deadline_fires_once() -> None:
    overdue = facts(grade="neutral", response_overdue=True)
    first = evaluate(DEFAULTS, overdue).decision

    second = evaluate(DEFAULTS, replace(overdue, tier=first.target_tier), first.fired_time_rules).decision

    assert first.target_tier == "lead"
    assert first.fired_time_rules == frozenset({3})
    assert not second.escalated
