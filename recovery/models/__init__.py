"""Recovery's data, one module per sub-domain; every model stays importable from recovery.models (one app label,
one migration history):

- escalation.py  grading settings, escalation rules and their firings, assessments, escalations, the SLA clock,
                 backtest runs
- offers.py      gestures (the playbook), approval limits, offers, approval requests, the suggestion log
- outcomes.py    customer activity, recovery outcomes and their windows, learning, the metrics rollup

Workflows live in each sub-domain's services; pure decisions in its pure modules (docs/architecture.md).
"""

# ruff: noqa: F401  (this package re-exports its modules' models and transition tables)

from __future__ import annotations

from recovery.models.escalation import (
    BACKTEST_TRANSITIONS,
    ESCALATION_TRANSITIONS,
    Assessment,
    BacktestRun,
    Escalation,
    EscalationRule,
    GradingSettings,
    RuleFiring,
    SlaClock,
)
from recovery.models.fields import MONEY
from recovery.models.offers import (
    APPROVAL_TRANSITIONS,
    OFFER_TRANSITIONS,
    ApprovalLimit,
    ApprovalRequest,
    Gesture,
    Offer,
    ResourceKind,
    SuggestionLog,
)
from recovery.models.outcomes import (
    CustomerActivity,
    GestureLearning,
    NeverComplainedAnchor,
    OutcomeRollup,
    OutcomeRollupMark,
    OutcomeWindow,
    RecoveryOutcome,
)
