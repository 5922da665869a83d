"""Writes of grading and escalation, one module per concern:

- assess.py     complaint_assess: grade a complaint, run the rules, apply the decision (the one write)
- clock.py      the SLA clock each assessment reconciles: paused while waiting on the customer
- handling.py   acknowledge, take over, de-escalate; the reminders the SLA sweep sends
- rules.py      editing rules and grading settings
- importing.py  grading a history import
- backtests.py  replaying history through candidate rules
- common.py     actors, tier words, JSON of a decision, errors

Callers outside escalation import this package (`from recovery.escalation import services`); its names are
those of the modules above.
"""

# ruff: noqa: F401  (this package re-exports its modules' public names)

from __future__ import annotations

from recovery.escalation.services.assess import (
    AssessResult,
    complaint_assess,
)
from recovery.escalation.services.backtests import (
    BACKTEST_CHUNK,
    BACKTEST_MAX_DAYS,
    BACKTEST_STALLED_MESSAGE,
    backtest_again,
    backtest_run,
    backtest_start,
    backtests_recover,
    candidate_rules_parse,
)
from recovery.escalation.services.common import (
    DEFAULT_ACK_HOURS,
    RESPONSE_NEAR,
    RULES_ACTOR,
    SWEEP_ACTOR,
    TIER_ROLE,
    EscalationConflict,
    EscalationNotYours,
    actor_user,
    reasons_json,
    tier_label,
    tier_users,
    to_json,
)
from recovery.escalation.services.handling import (
    EscalationNotFound,
    escalation_acknowledge,
    escalation_can_handle,
    escalation_deescalate,
    escalation_reminders_send,
    escalation_take_over,
)
from recovery.escalation.services.importing import (
    complaints_grade_importing,
    complaints_imported_assess,
)
from recovery.escalation.services.rules import (
    RULE_FIELDS,
    grading_settings_update,
    rule_create,
    rule_delete,
    rule_move,
    rule_update,
)
