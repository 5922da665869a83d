"""Writes for outcomes, one module per concern (docs/outcomes-and-metrics.md has the long form):

- activity.py  customer activity intake
- watching.py  opening an outcome when a complaint is resolved (intention-to-treat groups)
- windows.py   closing, settling and reconciling watch windows
- learning.py  the (cause, gesture) counts the ranking learns from
- rollup.py    keeping the metrics rollup equal to the outcome tables, and rebuilding it
- common.py    enum shorthands, the system actor

What callers may rely on:
- A complaint that becomes resolved (or closed without being resolved) gets exactly one
  `RecoveryOutcome`, anchored at the resolution, with one `OutcomeWindow` per configured length.
  Its comparison group is decided then and never changes (intention-to-treat).
- A window [anchor, ends_at) is *returned* as soon as the customer has a qualifying activity in it
  (anything but a gesture redemption); it is *not returned* only once it has elapsed with none.
- Intake, closing, settling and learning are set-based; every write here is safe to run twice.
Callers outside outcomes import this package (`from recovery.outcomes import services`).
"""

# ruff: noqa: F401  (this package re-exports its modules' public names)

from __future__ import annotations

from recovery.outcomes.services.activity import (
    CURRENCY_RE,
    FUTURE_MESSAGE,
    FUTURE_TOLERANCE,
    MONEY_MAX,
    SOURCE_RE,
    ActivityInput,
    ActivityInvalid,
    IntakeResult,
    Rejection,
    activity_input_parse,
    activity_intake,
    activity_record,
)
from recovery.outcomes.services.common import (
    MAX_BATCH,
    SYSTEM,
)
from recovery.outcomes.services.learning import (
    LearningResult,
    gesture_learning_recompute,
)
from recovery.outcomes.services.rollup import (
    anchors_refresh,
    outcome_rollup_rebuild,
    rollup_kept,
)
from recovery.outcomes.services.watching import (
    OFFERED_STATUSES,
    Group,
    OpenResult,
    itt_group,
    outcome_open,
    outcomes_open_many,
)
from recovery.outcomes.services.windows import (
    ACTIVITY_MARK_KEY,
    RECHECK_BATCH,
    CloseResult,
    ReconcileResult,
    SettleResult,
    customers_lock,
    outcome_reconcile,
    outcome_windows_close,
    outcome_windows_settle,
    settle_due,
    settle_sql,
    windows_close_returned,
)
