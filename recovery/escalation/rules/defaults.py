"""The rules a new installation starts with (loaded by a data migration and by `DEFAULT_RULES` users)."""


from __future__ import annotations

from typing import Any

from recovery.escalation.rules.spec import MATCH_ALL, NOTIFY_ASSIGNEE, NOTIFY_ESCALATION_TIER

DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "name": "Ugly experience goes to an executive",
        "order": 10,
        "active": True,
        "match": MATCH_ALL,
        "conditions": [{"field": "grade", "operator": "eq", "value": "ugly"}],
        "actions": [
            {"type": "escalate", "value": "executive"},
            {"type": "set_response_deadline", "value": 1},
            {"type": "notify", "value": "executive"},
        ],
        "stop_processing": False,
        "time_based": False,
    },
    {
        "name": "Bad experience goes to a team lead",
        "order": 20,
        "active": True,
        "match": MATCH_ALL,
        "conditions": [{"field": "grade", "operator": "eq", "value": "bad"}],
        "actions": [
            {"type": "escalate", "value": "lead"},
            {"type": "set_response_deadline", "value": 24},
            {"type": "notify", "value": "lead"},
        ],
        "stop_processing": False,
        "time_based": False,
    },
    {
        "name": "Missed deadline moves up one tier",
        "order": 30,
        "active": True,
        "match": MATCH_ALL,
        "conditions": [
            {"field": "response_overdue", "operator": "eq", "value": True},
            {"field": "status", "operator": "not_in", "value": ["resolved", "closed"]},
        ],
        "actions": [
            {"type": "escalate_one_tier"},
            {"type": "notify", "value": NOTIFY_ESCALATION_TIER},
            {"type": "notify", "value": NOTIFY_ASSIGNEE},
        ],
        "stop_processing": False,
        "time_based": True,
    },
    {
        "name": "Unacknowledged escalation moves up one tier",
        "order": 40,
        "active": True,
        "match": MATCH_ALL,
        "conditions": [
            {"field": "acknowledgement_overdue", "operator": "eq", "value": True},
            {"field": "status", "operator": "not_in", "value": ["resolved", "closed"]},
        ],
        "actions": [
            {"type": "escalate_one_tier"},
            {"type": "notify", "value": NOTIFY_ESCALATION_TIER},
        ],
        "stop_processing": False,
        "time_based": True,
    },
]


# --- the JSON Schema of a rule ---------------------------------------------------------------

