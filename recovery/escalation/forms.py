"""Browser forms of escalation: a rule (conditions and actions as JSON) with its help and the rule builder's
catalogue, the grading settings, a backtest.

The forms only parse JSON and put the pure validators' messages next to the right field; the services
validate again before saving, so the API and the admin refuse the same rules.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

from recovery.escalation.grading import GradingConfig, GradingConfigError
from recovery.escalation.rules import (
    ACTION_TYPES,
    FIELDS,
    NOTIFY_ASSIGNEE,
    NOTIFY_ESCALATION_TIER,
    NOTIFY_TARGETS,
    TAG_MAX_LENGTH,
    RuleValidationError,
    validate_rule,
)
from recovery.escalation.services import BACKTEST_MAX_DAYS
from recovery.vocabulary import PRIORITIES, TIERS
from tickets.models import Cause, Channel, Grade, Status, Tier

_PATH = re.compile(r"^(conditions|actions)\[(\d+)\](?:\.(\w+))?$")
_RULE_PATH = re.compile(r"^rules\[(\d+)\]\.(.+)$")


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _json(form: forms.Form, name: str, what: str) -> Any:
    raw = form.cleaned_data.get(name, "")
    try:
        return json.loads(raw or "null")
    except json.JSONDecodeError as exc:
        form.add_error(name, f"{what} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).")
        return None


def rule_error_field(path: str) -> tuple[str | None, str]:
    """Map a validate_rule path to a form field and a prefix people can read:
    'conditions[0].field' -> ('conditions', 'Condition 1, field: ')."""
    match = _PATH.match(path)
    if match:
        kind, index, key = match.groups()
        noun = "Condition" if kind == "conditions" else "Action"
        return kind, f"{noun} {int(index) + 1}" + (f", {key}" if key else "") + ": "
    if path in ("name", "order", "active", "match", "conditions", "actions", "stop_processing", "time_based"):
        return path, ""
    return None, "" if path == "__all__" else f"{path}: "


class RuleForm(forms.Form):
    name = forms.CharField(max_length=200)
    order = forms.IntegerField(help_text="Rules run from the lowest number up.")
    active = forms.BooleanField(required=False, initial=True)
    match = forms.ChoiceField(choices=[("all", "All conditions must hold"), ("any", "Any one condition is enough")])
    conditions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "code"}),
        help_text='A JSON list, e.g. [{"field": "grade", "operator": "eq", "value": "ugly"}]',
    )
    actions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "code"}),
        help_text='A JSON list, e.g. [{"type": "escalate", "value": "executive"}, {"type": "set_response_deadline", "value": 1}]',
    )
    stop_processing = forms.BooleanField(required=False, help_text="When this rule matches, later rules do not run.")
    time_based = forms.BooleanField(
        required=False, help_text="Fires at most once per complaint and never on a resolved or closed one."
    )

    def __init__(self, *args: Any, rule_id: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rule_id = rule_id
        self.spec_data: dict[str, Any] | None = None

    @classmethod
    def initial_from(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {**data, "conditions": pretty(data.get("conditions", [])), "actions": pretty(data.get("actions", []))}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        conditions = _json(self, "conditions", "The conditions")
        actions = _json(self, "actions", "The actions")
        if self.errors:
            return cleaned
        raw = {
            "id": self.rule_id,
            "name": cleaned.get("name", ""),
            "order": cleaned.get("order"),
            "active": bool(cleaned.get("active")),
            "match": cleaned.get("match"),
            "conditions": conditions,
            "actions": actions,
            "stop_processing": bool(cleaned.get("stop_processing")),
            "time_based": bool(cleaned.get("time_based")),
        }
        try:
            self.spec_data = validate_rule(raw).to_dict()
        except RuleValidationError as exc:
            for path, messages in exc.errors.items():
                field, prefix = rule_error_field(path)
                for message in messages:
                    self.add_error(field, prefix + message)
        return cleaned

    def rule_data(self) -> dict[str, Any]:
        """The validated rule, ready for rule_create / rule_update."""
        assert self.spec_data is not None
        return {k: v for k, v in self.spec_data.items() if k != "id"}


# --- the rule form's help and the rule builder's catalogue ---------------------------------------


# How the rule builder words each operator; rules store the codes.
_OPERATOR_LABELS = {
    "eq": "is",
    "ne": "is not",
    "in": "is one of",
    "not_in": "is none of",
    "gt": "is above",
    "gte": "is at least",
    "lt": "is below",
    "lte": "is at most",
    "contains": "includes",
}

# What each action's value is: one of some choices, a number of hours, a tag, or nothing.
_ACTION_VALUES: dict[str, dict[str, Any]] = {
    "escalate": {"label": "Escalate to", "value": "choice", "choices": TIERS[1:]},
    "escalate_one_tier": {"label": "Escalate one tier up", "value": "none"},
    "set_response_deadline": {"label": "Respond within", "value": "hours", "example": 4},
    "set_resolution_deadline": {"label": "Resolve within", "value": "hours", "example": 72},
    "notify": {"label": "Notify", "value": "choice", "choices": NOTIFY_TARGETS},
    "tag": {"label": "Add the tag", "value": "tag", "example": "vip", "max_length": TAG_MAX_LENGTH},
    "require_approval": {"label": "Require approval by", "value": "choice", "choices": TIERS},
    "set_priority": {"label": "Set priority to", "value": "choice", "choices": PRIORITIES},
}

_CHOICE_LABELS: dict[str, str] = {
    **dict(Grade.choices),
    **dict(Cause.choices),
    **dict(Channel.choices),
    **dict(Status.choices),
    **dict(Tier.choices),
    NOTIFY_ASSIGNEE: "The assignee",
    NOTIFY_ESCALATION_TIER: "The tier it is escalated to",
}


def _labelled(codes: tuple[str, ...]) -> list[list[str]]:
    return [[code, _CHOICE_LABELS.get(code, code.replace("_", " ").capitalize())] for code in codes]


def _catalogue() -> dict[str, Any]:
    """What a rule can test and do, from recovery.escalation.rules: the rule builder's JSON and the reference tables' source.
    Every action type needs an entry in _ACTION_VALUES (the rule builder tests check)."""
    fields = {
        name: {"label": spec.label, "kind": spec.kind, "operators": spec.operators, "choices": _labelled(spec.choices)}
        for name, spec in FIELDS.items()
    }
    actions = {}
    for kind in ACTION_TYPES:
        spec = _ACTION_VALUES[kind]
        actions[kind] = {**spec, "choices": _labelled(spec.get("choices", ()))}
    return {"operators": _OPERATOR_LABELS, "fields": fields, "actions": actions}


def _action_value_help(spec: dict[str, Any]) -> str:
    match spec["value"]:
        case "choice":
            return " | ".join(code for code, _ in spec["choices"])
        case "none":
            return "(no value)"
        case "hours":
            return f"hours, e.g. {spec['example']}"
    return f"a tag, e.g. {spec['example']}"


def rule_form_help() -> dict[str, Any]:
    """What the rule form's help lists (fields with their operators and values, and the actions), and the same
    catalogue as JSON for the rule builder."""
    catalogue = _catalogue()
    fields = [
        {
            "name": name,
            "label": spec.label,
            "kind": spec.kind,
            "operators": ", ".join(spec.operators),
            "choices": ", ".join(spec.choices),
        }
        for name, spec in FIELDS.items()
    ]
    actions = [{"type": kind, "value": _action_value_help(spec)} for kind, spec in catalogue["actions"].items()]
    return {"fields": fields, "actions": actions, "catalogue": catalogue}


# --- grading settings and backtests ----------------------------------------------------------------


class GradingSettingsForm(forms.Form):
    config = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 28, "spellcheck": "false", "class": "code"}),
        help_text="Any of the settings below; settings you leave out keep their default.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        config = _json(self, "config", "The settings")
        if self.errors:
            return cleaned
        if not isinstance(config, dict):
            self.add_error("config", 'Give an object of setting: value, e.g. {"ugly_threshold": 75}.')
            return cleaned
        try:
            GradingConfig.from_dict(config)
        except GradingConfigError as exc:
            for key, messages in exc.errors.items():
                for message in messages:
                    self.add_error("config", message if key == "__all__" else f"{key}: {message}")
        cleaned["config_data"] = config
        return cleaned


class BacktestForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=BACKTEST_MAX_DAYS, initial=30, help_text="Replay complaints logged in the last N days.")
    rules = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false", "class": "code"}),
        help_text="The candidate rule set: a JSON list of rules, starting from the current ones. Nothing is saved.",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        rules = _json(self, "rules", "The candidate rules")
        if self.errors:
            return cleaned
        if not isinstance(rules, list):
            self.add_error("rules", "Give a JSON list of rules.")
            return cleaned
        for index, item in enumerate(rules):
            try:
                validate_rule(item)
            except RuleValidationError as exc:
                name = item.get("name") if isinstance(item, dict) else None
                label = f"Rule {index + 1}" + (f" (“{name}”)" if name else "")
                for path, messages in exc.errors.items():
                    for message in messages:
                        self.add_error("rules", f"{label}, {path}: {message}")
        cleaned["rules_data"] = rules
        return cleaned


class NoteForm(forms.Form):
    note = forms.CharField(max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 2}))
