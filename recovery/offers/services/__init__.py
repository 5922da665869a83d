"""Writes for the playbook, suggestions, offers and approvals, one module per concern:

- offers.py       make, fulfil, decline, withdraw an offer; offer_transition
- approvals.py    decide, remind, move up; the approvals sweep
- suggestions.py  suggestions shown for a complaint and their log
- playbook.py     editing gestures and approval limits
- common.py       status shorthands, errors, whose authority an actor spends
(routing, the pure "who must approve", is recovery/offers/routing.py.)

Every service is atomic, writes one timeline event on the complaint (kinds OFFER and APPROVAL) for each
move, and queues its emails on commit through `notifications.services.notice_send`.
Callers outside offers import this package (`from recovery.offers import services`).
"""

# ruff: noqa: F401  (this package re-exports its modules' public names)

from __future__ import annotations

from recovery.offers.services.approvals import (
    SweepResult,
    approval_decide,
    approval_escalate,
    approval_remind,
    approval_requests_sweep,
)
from recovery.offers.services.common import (
    MOVE_VERB,
    NOTE_MAX,
    SUGGESTED_WITHIN,
    SUGGESTION_LOG_EVERY,
    A,
    AlreadyDecided,
    NotAllowed,
    S,
    actor_tier,
    clean_amount,
    clean_note,
)
from recovery.offers.services.offers import (
    approval_transition,
    approvers_notify,
    offer_create,
    offer_decline,
    offer_describe,
    offer_fulfil,
    offer_lock,
    offer_transition,
    offer_withdraw,
)
from recovery.offers.services.playbook import (
    GESTURE_FIELDS,
    approval_limits_set,
    gesture_save,
    gesture_set_active,
)
from recovery.offers.services.suggestions import (
    complaint_suggest,
    suggestions_log,
)
