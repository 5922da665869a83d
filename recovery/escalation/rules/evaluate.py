"""Evaluate escalation rules against one complaint. Pure: rules and facts in, a `Decision` and a per-rule
trace out. The trace is shown to people (agents, rule editors), so it is written for them."""


from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar

from recovery.escalation.rules.spec import (
    FIELDS,
    MATCH_ALL,
    NOTIFY_ESCALATION_TIER,
    TAGS,
    Action,
    Condition,
    FieldSpec,
    RuleSpec,
    _human,
    _needs,
    _show,
)
from recovery.vocabulary import CLOSED_STATUSES, PRIORITIES, TIERS


@dataclass(frozen=True)
class ComplaintFacts:
    """The complaint as the rules see it. Plain values; the caller loads them."""

    grade: str | None  # None until graded
    score: int | None
    cause: str
    severity: int
    channel: str
    lifetime_value: Decimal
    social_reach: int
    repeat: bool  # an earlier complaint by this customer within 90 days
    hours_unanswered: float
    status: str
    tier: str  # current escalation tier
    tags: frozenset[str]
    threatens_public: bool
    says_wont_return: bool
    response_overdue: bool
    resolution_overdue: bool
    # The open escalation's acknowledgement deadline passed without anyone at that tier acknowledging it.
    acknowledgement_overdue: bool = False


# The traces are plain (not frozen) dataclasses: a frozen one's __init__ pays a call per field, and an evaluation
# makes about 120 of them per complaint. Nothing changes them after evaluate() returns.
@dataclass
class ConditionTrace:
    field: str
    operator: str
    value: Any  # what the rule asks for
    actual: Any  # what the complaint has
    met: bool
    json_extra: ClassVar[tuple[str, ...]] = ("explanation",)  # stored with the trace (services.common.to_json)

    @cached_property
    def explanation(self) -> str:
        """In words, e.g. "grade is ugly (needs ≥ bad)". Written when someone reads it: most evaluations are
        stored as decisions, and building 50 rules' sentences per complaint would cost more than judging them."""
        spec = FIELDS[self.field]
        if spec.kind == TAGS:
            have = ", ".join(sorted(self.actual)) if self.actual else "none"
            return f"tags are {have} (needs '{self.value}')"
        shown = "not set" if self.actual is None else _show(self.actual)
        return f"{spec.label} is {shown} (needs {_needs(self.operator, self.value)})"


@dataclass
class RuleTrace:
    rule_id: int | None
    name: str
    matched: bool
    conditions: tuple[ConditionTrace, ...]  # empty when skipped
    actions: tuple[str, ...]  # what the rule did, in words; empty unless matched
    skipped: str | None  # why the rule was not evaluated, e.g. "inactive"
    stopped_processing: bool


@dataclass(frozen=True)
class Decision:
    """The merged outcome of all matched rules.

    Deadline hours count from the moment the caller applies the decision. `notify` holds tier
    codes and/or "assignee". `tags` are only the tags the complaint does not have yet.
    """

    current_tier: str
    target_tier: str  # never lower than current_tier
    response_deadline_hours: float | None  # strictest (smallest) wins
    resolution_deadline_hours: float | None
    notify: frozenset[str]
    tags: tuple[str, ...]  # in the order rules added them
    require_approval: str | None  # highest tier wins
    priority: str | None  # most urgent wins
    fired_time_rules: frozenset[int]  # time rules that fired now; the caller records them

    @property
    def escalated(self) -> bool:
        return self.target_tier != self.current_tier


@dataclass(frozen=True)
class Evaluation:
    decision: Decision
    traces: tuple[RuleTrace, ...]  # one per rule, in evaluation order

    @property
    def matched(self) -> tuple[RuleTrace, ...]:
        return tuple(t for t in self.traces if t.matched)


def evaluate(
    rules: Sequence[RuleSpec],
    facts: ComplaintFacts,
    fired_time_rules: frozenset[int] = frozenset(),
) -> Evaluation:
    """Run the rules in `order` (ties keep the given order) and merge what the matched ones decide.

    Inactive rules, time rules that already fired or whose complaint is resolved/closed, and
    rules after a matched stop-processing rule are traced as skipped.
    """
    acc = _Accumulator(facts)
    traces: list[RuleTrace] = []
    stopped_by: str | None = None
    for rule in sorted(rules, key=_order):  # sorted() is stable
        if stopped_by is not None or not rule.active or rule.time_based:
            skip = _skip_reason(rule, facts, fired_time_rules, stopped_by)
            if skip is not None:
                traces.append(RuleTrace(rule.id, rule.name, False, (), (), skip, False))
                continue
        checks = tuple([_check(c, facts) for c in rule.conditions])
        if rule.match == MATCH_ALL:
            matched = all([c.met for c in checks])
        else:
            matched = any([c.met for c in checks])
        done: tuple[str, ...] = ()
        if matched:
            done = tuple(acc.apply(a) for a in rule.actions)
            if rule.time_based and rule.id is not None:
                acc.fired.add(rule.id)
        stops = matched and rule.stop_processing
        traces.append(RuleTrace(rule.id, rule.name, matched, checks, done, None, stops))
        if stops:
            stopped_by = rule.name
    return Evaluation(acc.decision(), tuple(traces))


def _order(rule: RuleSpec) -> int:
    return rule.order


def _skip_reason(rule: RuleSpec, facts: ComplaintFacts, fired: frozenset[int], stopped_by: str | None) -> str | None:
    if stopped_by is not None:
        return f"an earlier rule stopped processing ('{stopped_by}')"
    if not rule.active:
        return "inactive"
    if rule.time_based:
        if facts.status in CLOSED_STATUSES:
            return f"complaint is {facts.status}"
        if rule.id is None:
            # Without an id we could not remember that it fired, and it would fire again.
            return "time rule is not saved yet, so it cannot be limited to firing once"
        if rule.id in fired:
            return "time rule already fired"
    return None


class _Accumulator:
    """Merges actions so the strictest outcome wins, whatever order the rules fire in."""

    def __init__(self, facts: ComplaintFacts) -> None:
        self.facts = facts
        self.tier_rank = TIERS.index(facts.tier)
        self.response: float | None = None
        self.resolution: float | None = None
        self.notify: set[str] = set()
        self.tags: list[str] = []
        self.approval_rank = -1
        self.priority_rank = -1
        self.fired: set[int] = set()

    def apply(self, action: Action) -> str:
        text = action.describe()
        match action.type:
            case "escalate":
                wanted = TIERS.index(action.value)
                if wanted < TIERS.index(self.facts.tier):
                    return f"{text} (skipped: already at {_human(self.facts.tier)}, never moved down)"
                self.tier_rank = max(self.tier_rank, wanted)
            case "escalate_one_tier":
                # From the current tier, not cumulative: two such rules still move one tier.
                current = TIERS.index(self.facts.tier)
                if current == len(TIERS) - 1:
                    return f"{text} (skipped: already at {_human(TIERS[-1])})"
                self.tier_rank = max(self.tier_rank, current + 1)
                return f"{text}, to {_human(TIERS[current + 1])}"
            case "set_response_deadline":
                self.response = _min(self.response, action.value)
            case "set_resolution_deadline":
                self.resolution = _min(self.resolution, action.value)
            case "notify":
                self.notify.add(action.value)
            case "tag":
                if action.value not in self.facts.tags and action.value not in self.tags:
                    self.tags.append(action.value)
            case "require_approval":
                self.approval_rank = max(self.approval_rank, TIERS.index(action.value))
            case "set_priority":
                self.priority_rank = max(self.priority_rank, PRIORITIES.index(action.value))
        return text

    def decision(self) -> Decision:
        target = TIERS[self.tier_rank]
        notify = {target if n == NOTIFY_ESCALATION_TIER else n for n in self.notify}
        return Decision(
            current_tier=self.facts.tier,
            target_tier=target,
            response_deadline_hours=self.response,
            resolution_deadline_hours=self.resolution,
            notify=frozenset(notify),
            tags=tuple(self.tags),
            require_approval=TIERS[self.approval_rank] if self.approval_rank >= 0 else None,
            priority=PRIORITIES[self.priority_rank] if self.priority_rank >= 0 else None,
            fired_time_rules=frozenset(self.fired),
        )


def _min(current: float | None, new: float) -> float:
    return new if current is None else min(current, new)


def _check(cond: Condition, facts: ComplaintFacts) -> ConditionTrace:
    actual = getattr(facts, cond.field)
    met = _compare(FIELDS[cond.field], cond.operator, actual, cond.value)
    return ConditionTrace(cond.field, cond.operator, cond.value, actual, met)


def _compare(spec: FieldSpec, op: str, actual: Any, expected: Any) -> bool:
    if actual is None:
        return False  # an ungraded complaint matches no grade condition, not even "ne"
    if op == "contains":
        return expected in actual
    if op == "in":
        return actual in expected
    if op == "not_in":
        return actual not in expected
    if spec.ordered:
        # Compare positions, so "gte bad" means bad or worse.
        actual, expected = spec.choices.index(actual), spec.choices.index(expected)
    match op:
        case "eq":
            return bool(actual == expected)
        case "ne":
            return bool(actual != expected)
        case "gt":
            return bool(actual > expected)
        case "gte":
            return bool(actual >= expected)
        case "lt":
            return bool(actual < expected)
        case "lte":
            return bool(actual <= expected)
    raise ValueError(f"Unknown operator {op!r}")  # unreachable for validated rules









