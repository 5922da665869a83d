"""Data-driven escalation rules: the fields and actions a rule may use, a rule's shape, and its validation.

Pure: rules and facts in, a `Decision` and a per-rule trace out. No Django, no database, no
side effects. The trace and the validation messages are shown to people (rule editors, agents),
so they are written for them.

A rule, as stored and as the API receives it::

    {"name": "Ugly experience goes to an executive", "order": 10, "active": True, "match": "all",
     "conditions": [{"field": "grade", "operator": "eq", "value": "ugly"}],
     "actions": [{"type": "escalate", "value": "executive"}],
     "stop_processing": False, "time_based": False}
"""


from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from recovery.vocabulary import CAUSES, CHANNELS, GRADES, PRIORITIES, STATUSES, TIERS
from tickets.textcheck import text_problems

NOTIFY_ASSIGNEE = "assignee"
# Resolved at the end of an evaluation to the tier the complaint ends up at, so "escalate one
# tier and tell the new tier" can be written without knowing the tier in advance.
NOTIFY_ESCALATION_TIER = "escalation_tier"
NOTIFY_TARGETS: tuple[str, ...] = (*TIERS, NOTIFY_ASSIGNEE, NOTIFY_ESCALATION_TIER)

MATCH_ALL = "all"
MATCH_ANY = "any"

TAG_MAX_LENGTH = 50
NAME_MAX_LENGTH = 200  # EscalationRule.name
ORDER_LIMIT = 1_000_000_000  # well inside the 32-bit EscalationRule.order column
DEADLINE_MAX_HOURS = 87_600  # ten years: any longer is a typo, and would overflow a datetime

# --- fields and operators ------------------------------------------------------------------

OPERATORS: tuple[str, ...] = ("eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains")
_OP_SYMBOL = {"eq": "=", "ne": "≠", "gt": ">", "gte": "≥", "lt": "<", "lte": "≤"}
_LIST_OPS = frozenset({"in", "not_in"})
_ORDER_OPS = frozenset({"gt", "gte", "lt", "lte"})

CHOICE, INT, FLOAT, DECIMAL, BOOL, TAGS = "choice", "int", "float", "decimal", "bool", "tags"


@dataclass(frozen=True)
class FieldSpec:
    """A fact a condition may test. `choices` are ordered lowest first when `ordered`."""

    kind: str  # choice | int | float | decimal | bool | tags
    label: str  # how the field reads in a sentence
    operators: tuple[str, ...]
    choices: tuple[str, ...] = ()
    ordered: bool = False


_EQ_OPS = ("eq", "ne")
_SET_OPS = ("eq", "ne", "in", "not_in")
_CMP_OPS = ("eq", "ne", "gt", "gte", "lt", "lte")


def _choice(label: str, choices: tuple[str, ...], *, ordered: bool = False) -> FieldSpec:
    ops = (*_SET_OPS, "gt", "gte", "lt", "lte") if ordered else _SET_OPS
    return FieldSpec(CHOICE, label, ops, choices, ordered)


FIELDS: dict[str, FieldSpec] = {
    "grade": _choice("grade", GRADES, ordered=True),
    "score": FieldSpec(INT, "score", (*_CMP_OPS, "in", "not_in")),
    "cause": _choice("cause", CAUSES),
    "severity": FieldSpec(INT, "severity", (*_CMP_OPS, "in", "not_in")),
    "channel": _choice("channel", CHANNELS),
    "lifetime_value": FieldSpec(DECIMAL, "lifetime value", _CMP_OPS),
    "social_reach": FieldSpec(INT, "social reach", _CMP_OPS),
    "repeat": FieldSpec(BOOL, "repeat complaint", _EQ_OPS),
    "hours_unanswered": FieldSpec(FLOAT, "hours without a response", _CMP_OPS),
    "status": _choice("status", STATUSES),
    "tier": _choice("tier", TIERS, ordered=True),
    "tags": FieldSpec(TAGS, "tags", ("contains",)),
    "threatens_public": FieldSpec(BOOL, "threatened to go public", _EQ_OPS),
    "says_wont_return": FieldSpec(BOOL, "said they won't return", _EQ_OPS),
    "response_overdue": FieldSpec(BOOL, "response overdue", _EQ_OPS),
    "resolution_overdue": FieldSpec(BOOL, "resolution overdue", _EQ_OPS),
    "acknowledgement_overdue": FieldSpec(BOOL, "escalation not acknowledged in time", _EQ_OPS),
}

# --- actions -------------------------------------------------------------------------------

ACTION_TYPES: tuple[str, ...] = (
    "escalate",
    "escalate_one_tier",
    "set_response_deadline",
    "set_resolution_deadline",
    "notify",
    "tag",
    "require_approval",
    "set_priority",
)


@dataclass(frozen=True)
class Condition:
    field: str
    operator: str
    value: Any  # normalised: str | int | float | Decimal | bool | tuple of those for in/not_in

    def describe(self) -> str:
        """e.g. "grade ≥ bad", "status is none of: resolved, closed"."""
        spec = FIELDS[self.field]
        return f"{spec.label} {_needs(self.operator, self.value)}"

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "operator": self.operator, "value": _jsonable(self.value)}


@dataclass(frozen=True)
class Action:
    type: str
    value: Any = None  # str | float | None (escalate_one_tier)

    @functools.cache  # noqa: B019 (actions are few, frozen and shared by every evaluation: the cache is bounded)
    def describe(self) -> str:
        """e.g. "escalate to executive", "set the response deadline to 1 hour"."""
        v = self.value
        match self.type:
            case "escalate":
                return f"escalate to {_human(v)}"
            case "escalate_one_tier":
                return "escalate one tier up"
            case "set_response_deadline":
                return f"set the response deadline to {_hours(v)}"
            case "set_resolution_deadline":
                return f"set the resolution deadline to {_hours(v)}"
            case "notify":
                if v == NOTIFY_ESCALATION_TIER:
                    return "notify the tier it is escalated to"
                return f"notify the {_human(v)}"
            case "tag":
                return f"tag '{v}'"
            case "require_approval":
                return f"require {_human(v)} approval for offers"
            case "set_priority":
                return f"set priority to {v}"
        return self.type

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.value is not None:
            out["value"] = self.value
        return out


@dataclass(frozen=True)
class RuleSpec:
    id: int | None
    name: str
    order: int
    active: bool
    match: str  # "all" | "any"
    conditions: tuple[Condition, ...]
    actions: tuple[Action, ...]
    stop_processing: bool
    time_based: bool  # fires at most once per complaint, never on a resolved/closed one

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; `validate_rule(spec.to_dict())` gives the same spec back."""
        return {
            "id": self.id,
            "name": self.name,
            "order": self.order,
            "active": self.active,
            "match": self.match,
            "conditions": [c.to_dict() for c in self.conditions],
            "actions": [a.to_dict() for a in self.actions],
            "stop_processing": self.stop_processing,
            "time_based": self.time_based,
        }


class RuleValidationError(ValueError):
    """A rule that cannot be saved. `.errors` maps a path ("conditions[0].field") to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {m}" for k, msgs in errors.items() for m in msgs))


# --- validation ----------------------------------------------------------------------------

_RULE_KEYS = (
    "id",
    "name",
    "order",
    "active",
    "match",
    "conditions",
    "actions",
    "stop_processing",
    "time_based",
)
_CONDITION_KEYS = ("field", "operator", "value")
_ACTION_KEYS = ("type", "value")


def validate_rule(raw: Mapping[str, Any]) -> RuleSpec:
    """Check a raw rule (from a form, the API or the database) and normalise it.

    Required: name, conditions (at least one), actions (at least one). Defaults: id None,
    order 0, active True, match "all", stop_processing False, time_based False. Every problem
    is reported at once in `RuleValidationError.errors`.
    """
    errors: dict[str, list[str]] = {}

    def add(path: str, message: str) -> None:
        errors.setdefault(path, []).append(message)

    if not isinstance(raw, Mapping):
        raise RuleValidationError({"__all__": ["A rule must be an object with a name, conditions and actions."]})
    # NUL or a lone surrogate anywhere would be stored as JSON and break every later read of the rules.
    unstorable = text_problems(dict(raw))
    if unstorable:
        raise RuleValidationError(unstorable)
    for key in raw:
        if key not in _RULE_KEYS:
            add(str(key), f"Unknown key '{key}'. Allowed keys: {', '.join(_RULE_KEYS)}.")

    settings = _validate_settings(raw, add)
    conditions = _validate_list(raw.get("conditions"), "conditions", "condition", _validate_condition, add)
    actions = _validate_list(raw.get("actions"), "actions", "action", _validate_action, add)

    if errors:
        raise RuleValidationError(errors)
    return RuleSpec(**settings, conditions=tuple(conditions), actions=tuple(actions))


def _validate_settings(raw: Mapping[str, Any], add: Any) -> dict[str, Any]:
    """The rule's fields other than its conditions and actions (id, name, order, match and the three flags),
    normalised; each problem is reported through `add`."""
    rule_id = raw.get("id")
    if rule_id is not None and (isinstance(rule_id, bool) or not isinstance(rule_id, int)):
        add("id", f"The id must be a whole number, got {rule_id!r}.")

    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        add("name", "Give the rule a name.")
        name = ""
    elif len(name) > NAME_MAX_LENGTH:
        add("name", f"A name can be at most {NAME_MAX_LENGTH} characters long.")
    order = raw.get("order", 0)
    if isinstance(order, bool) or not isinstance(order, int):
        add("order", f"The order must be a whole number, got {order!r}.")
    elif not -ORDER_LIMIT <= order <= ORDER_LIMIT:
        add("order", f"The order must be between -{ORDER_LIMIT:,} and {ORDER_LIMIT:,}.")
    match = raw.get("match", MATCH_ALL)
    if match not in (MATCH_ALL, MATCH_ANY):
        add("match", f"Match must be 'all' (every condition) or 'any' (at least one), got {match!r}.")
    flags = {}
    for key, default in (("active", True), ("stop_processing", False), ("time_based", False)):
        flags[key] = raw.get(key, default)
        if not isinstance(flags[key], bool):
            add(key, f"'{key}' must be true or false, got {flags[key]!r}.")
    return {"id": rule_id, "name": name.strip(), "order": order, "match": match, **flags}


def _validate_list(raw: Any, key: str, noun: str, validate: Any, add: Any) -> list[Any]:
    if not isinstance(raw, list | tuple) or not raw:
        # A rule without conditions would match every complaint; make that an explicit choice.
        add(key, f"Add at least one {noun}.")
        return []
    out = []
    for i, item in enumerate(raw):
        parsed = validate(item, f"{key}[{i}]", add)
        if parsed is not None:
            out.append(parsed)
    return out


def _validate_condition(raw: Any, path: str, add: Any) -> Condition | None:
    if not isinstance(raw, Mapping):
        add(path, "A condition must be an object with a field, an operator and a value.")
        return None
    ok = _check_keys(raw, _CONDITION_KEYS, path, add)
    field_name = raw.get("field")
    spec = FIELDS.get(field_name) if isinstance(field_name, str) else None
    if spec is None:
        add(f"{path}.field", _unknown("field", field_name, tuple(FIELDS)))
        return None
    op = raw.get("operator")
    if op not in spec.operators:
        if op in OPERATORS:
            add(
                f"{path}.operator",
                f"Operator '{op}' cannot be used with '{field_name}'. Choose one of: {', '.join(spec.operators)}.",
            )
        else:
            add(f"{path}.operator", _unknown("operator", op, spec.operators))
        return None
    if "value" not in raw:
        add(f"{path}.value", f"Give a value to compare '{field_name}' with.")
        return None
    try:
        value = _parse_condition_value(spec, field_name, op, raw["value"])
    except ValueError as exc:
        add(f"{path}.value", str(exc))
        return None
    return Condition(field_name, op, value) if ok else None


def _parse_condition_value(spec: FieldSpec, name: str, op: str, raw: Any) -> Any:
    if op in _LIST_OPS:
        if not isinstance(raw, list | tuple) or not raw:
            example = f'["{spec.choices[-2]}", "{spec.choices[-1]}"]' if spec.choices else "[4, 5]"
            raise ValueError(f"'{op}' needs a non-empty list of values for '{name}', e.g. {example}.")
        return tuple(_parse_scalar(spec, name, item) for item in raw)
    return _parse_scalar(spec, name, raw)


def _parse_scalar(spec: FieldSpec, name: str, raw: Any) -> Any:
    if spec.kind == CHOICE:
        if raw not in spec.choices:
            raise ValueError(f"'{name}' must be one of: {', '.join(spec.choices)}; got {raw!r}.")
        return raw
    if spec.kind == BOOL:
        if not isinstance(raw, bool):
            raise ValueError(f"'{name}' must be true or false, got {raw!r}.")
        return raw
    if spec.kind == INT:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValueError(f"'{name}' must be a whole number, got {raw!r}.")
        return raw
    if spec.kind == FLOAT:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise ValueError(f"'{name}' must be a number, got {raw!r}.")
        return float(raw)
    if spec.kind == DECIMAL:
        return _parse_amount(name, raw)
    # TAGS: contains one tag
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"'{name}' needs a tag to look for, got {raw!r}.")
    return raw.strip()


def _parse_amount(name: str, raw: Any) -> Decimal:
    message = f"'{name}' must be an amount like 1000 or \"1000.00\", got {raw!r}."
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise ValueError(message)
    try:
        value = Decimal(str(raw))  # via str so 0.1 stays 0.1
    except InvalidOperation:
        raise ValueError(message) from None
    if not value.is_finite():
        raise ValueError(message)
    return value


def _validate_action(raw: Any, path: str, add: Any) -> Action | None:
    if not isinstance(raw, Mapping):
        add(path, "An action must be an object with a type and, for most types, a value.")
        return None
    ok = _check_keys(raw, _ACTION_KEYS, path, add)
    kind = raw.get("type")
    if kind not in ACTION_TYPES:
        add(f"{path}.type", _unknown("action", kind, ACTION_TYPES))
        return None
    value = raw.get("value")
    try:
        parsed = _parse_action_value(kind, value)
    except ValueError as exc:
        add(f"{path}.value", str(exc))
        return None
    return Action(kind, parsed) if ok else None


def _parse_action_value(kind: str, value: Any) -> Any:
    if kind == "escalate_one_tier":
        if value is not None:
            raise ValueError("'escalate_one_tier' takes no value: it moves the complaint to the next tier up.")
        return None
    if kind in ("escalate", "require_approval"):
        if value not in TIERS:
            raise ValueError(f"Unknown tier {value!r}. Choose one of: {', '.join(TIERS)}.")
        return value
    if kind == "notify":
        if value not in NOTIFY_TARGETS:
            raise ValueError(f"Unknown recipient {value!r}. Choose one of: {', '.join(NOTIFY_TARGETS)}.")
        return value
    if kind in ("set_response_deadline", "set_resolution_deadline"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"The deadline must be a number of hours greater than 0, got {value!r}.")
        if value > DEADLINE_MAX_HOURS:
            raise ValueError(f"The deadline can be at most {DEADLINE_MAX_HOURS:,} hours (ten years).")
        return float(value)
    if kind == "set_priority":
        if value not in PRIORITIES:
            raise ValueError(f"Unknown priority {value!r}. Choose one of: {', '.join(PRIORITIES)}.")
        return value
    # tag
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"Give the tag to add, got {value!r}.")
    if len(value) > TAG_MAX_LENGTH:
        raise ValueError(f"A tag can be at most {TAG_MAX_LENGTH} characters long.")
    return value.strip()


def _check_keys(raw: Mapping[str, Any], allowed: tuple[str, ...], path: str, add: Any) -> bool:
    ok = True
    for key in raw:
        if key not in allowed:
            add(f"{path}.{key}", f"Unknown key '{key}'. Allowed keys: {', '.join(allowed)}.")
            ok = False
    return ok


def _unknown(noun: str, given: Any, choices: Sequence[str]) -> str:
    if given is None or given == "":
        return f"Choose a {noun}: {', '.join(choices)}."
    hint = ""
    if isinstance(given, str):
        close = difflib.get_close_matches(given, choices, n=1)
        if close:
            hint = f" Did you mean '{close[0]}'?"
    return f"Unknown {noun} {given!r}.{hint} Choose one of: {', '.join(choices)}."


def _needs(op: str, value: Any) -> str:
    if op == "in":
        return "one of: " + ", ".join(_show(v) for v in value)
    if op == "not_in":
        return "none of: " + ", ".join(_show(v) for v in value)
    if op == "contains":
        return f"to include '{value}'"
    if op == "eq":
        return _show(value)
    return f"{_OP_SYMBOL[op]} {_show(value)}"


def _human(code: str) -> str:
    return code.replace("_", " ")


def _hours(h: float) -> str:
    return f"{_show(float(h))} hour{'' if h == 1 else 's'}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | Decimal):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.1f}"
    return _human(str(value))
