"""Data-driven escalation rules (pure: no Django, no database), one module per concern:

- spec.py      the fields and actions a rule may use, RuleSpec, and validate_rule
- evaluate.py  evaluate(): facts in, a Decision and a per-rule trace out
- defaults.py  the starter rules
- schema.py    the JSON Schema of a rule

Callers import this package (`from recovery.escalation.rules import evaluate, validate_rule`).
"""

# ruff: noqa: F401  (this package re-exports its modules' public names)

from __future__ import annotations

from recovery.escalation.rules.defaults import (
    DEFAULT_RULES,
)
from recovery.escalation.rules.evaluate import (
    ComplaintFacts,
    ConditionTrace,
    Decision,
    Evaluation,
    RuleTrace,
    evaluate,
)
from recovery.escalation.rules.schema import (
    rule_json_schema,
)
from recovery.escalation.rules.spec import (
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
    NOTIFY_ASSIGNEE,
    NOTIFY_ESCALATION_TIER,
    NOTIFY_TARGETS,
    OPERATORS,
    ORDER_LIMIT,
    TAG_MAX_LENGTH,
    TAGS,
    Action,
    Condition,
    FieldSpec,
    RuleSpec,
    RuleValidationError,
    validate_rule,
)
