"""The JSON Schema of a rule, built from the same catalogue of fields and actions the validation uses, so
the API's schema and the rule builder never disagree with what is accepted."""


from __future__ import annotations

from typing import Any

from recovery.escalation.rules.spec import (
    _LIST_OPS,
    ACTION_TYPES,
    BOOL,
    CHOICE,
    DEADLINE_MAX_HOURS,
    DECIMAL,
    FIELDS,
    FLOAT,
    INT,
    MATCH_ALL,
    MATCH_ANY,
    NAME_MAX_LENGTH,
    NOTIFY_TARGETS,
    ORDER_LIMIT,
    TAG_MAX_LENGTH,
    FieldSpec,
)
from recovery.vocabulary import PRIORITIES, TIERS

_NON_BLANK = r"^[^\u0000]*[^\u0000\s][^\u0000]*$"


def _scalar_schema(spec: FieldSpec) -> dict[str, Any]:
    if spec.kind == CHOICE:
        return {"type": "string", "enum": list(spec.choices)}
    if spec.kind == BOOL:
        return {"type": "boolean"}
    if spec.kind == INT:
        return {"type": "integer"}
    if spec.kind == FLOAT:
        return {"type": "number"}
    if spec.kind == DECIMAL:
        return {"anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}]}
    return {"type": "string", "pattern": _NON_BLANK}  # TAGS: the tag to look for


def _condition_schemas() -> list[dict[str, Any]]:
    """One branch per (kind of value, operators), fields that share both grouped: few branches keep the schema
    quick to check and to generate from."""
    groups: dict[str, tuple[list[str], list[str], dict[str, Any]]] = {}
    for name, spec in FIELDS.items():
        scalar = _scalar_schema(spec)
        shapes = (
            ([op for op in spec.operators if op not in _LIST_OPS], scalar),
            ([op for op in spec.operators if op in _LIST_OPS], {"type": "array", "minItems": 1, "items": scalar}),
        )
        for operators, value in shapes:
            if operators:
                key = repr((operators, value))
                groups.setdefault(key, ([], operators, value))[0].append(name)
    return [
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["field", "operator", "value"],
            "properties": {
                "field": {"type": "string", "enum": names},
                "operator": {"type": "string", "enum": operators},
                "value": value,
            },
        }
        for names, operators, value in groups.values()
    ]


def _action_schemas() -> list[dict[str, Any]]:
    values: dict[str, dict[str, Any] | None] = {
        "escalate": {"type": "string", "enum": list(TIERS)},
        "escalate_one_tier": None,
        "set_response_deadline": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": DEADLINE_MAX_HOURS},
        "set_resolution_deadline": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": DEADLINE_MAX_HOURS},
        "notify": {"type": "string", "enum": list(NOTIFY_TARGETS)},
        "tag": {"type": "string", "pattern": _NON_BLANK, "maxLength": TAG_MAX_LENGTH},
        "require_approval": {"type": "string", "enum": list(TIERS)},
        "set_priority": {"type": "string", "enum": list(PRIORITIES)},
    }
    out = []
    for kind in ACTION_TYPES:
        value = values[kind]
        properties: dict[str, Any] = {"type": {"type": "string", "enum": [kind]}}
        if value is None:
            properties["value"] = {"enum": [None], "nullable": True}
        else:
            properties["value"] = value
        out.append({
            "type": "object",
            "additionalProperties": False,
            "required": ["type"] if value is None else ["type", "value"],
            "properties": properties,
        })
    return out


def rule_json_schema(*, partial: bool = False) -> dict[str, Any]:
    """What validate_rule accepts, as an OpenAPI 3.0 schema (the API publishes it as the rule's request body).
    With `partial`, every key is optional (a PATCH, merged into a rule that is already valid)."""
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer", "nullable": True, "description": "Ignored: the rule's id is in the URL."},
            "name": {"type": "string", "pattern": _NON_BLANK, "maxLength": NAME_MAX_LENGTH},
            "order": {"type": "integer", "minimum": -ORDER_LIMIT, "maximum": ORDER_LIMIT},
            "active": {"type": "boolean"},
            "match": {"type": "string", "enum": [MATCH_ALL, MATCH_ANY]},
            "conditions": {"type": "array", "minItems": 1, "items": {"anyOf": _condition_schemas()}},
            "actions": {"type": "array", "minItems": 1, "items": {"anyOf": _action_schemas()}},
            "stop_processing": {"type": "boolean"},
            "time_based": {"type": "boolean"},
        },
    }
    if not partial:
        schema["required"] = ["name", "conditions", "actions"]
    return schema
