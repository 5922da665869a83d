"""The one way a recovery row changes status: checked against its model's transition table, written as a
guarded UPDATE (`... WHERE status = <from>`), so of two concurrent moves exactly one changes the row.

Offers, escalations, approval requests and backtest runs all move through `transition`; the tables sit
beside their status enums in recovery/models/. A test (tests/recovery/test_transitions.py) keeps every
other `update(status=...)` out of recovery.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from tickets.errors import InvalidTransition


def transition(
    rows: QuerySet[Any], *, table: Mapping[str, frozenset[str]], from_status: str, to_status: str, **changes: Any
) -> int:
    """Move the rows of `rows` that are still in `from_status` to `to_status` (setting `changes` too) and return
    how many moved: 0 means someone else moved them first. A move the table does not allow raises
    InvalidTransition (409 in the API) before anything is written."""
    if to_status not in table.get(from_status, frozenset()):
        raise InvalidTransition(f"A {rows.model._meta.verbose_name} cannot move from {from_status} to {to_status}.")
    return rows.filter(status=from_status).update(status=to_status, **changes)
