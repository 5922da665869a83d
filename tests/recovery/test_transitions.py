"""Status moves through tables: offers, escalations, approval requests and backtest runs change status only
through recovery.transitions.transition, a guarded UPDATE checked against the model's table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from recovery.models import (
    APPROVAL_TRANSITIONS,
    BACKTEST_TRANSITIONS,
    ESCALATION_TRANSITIONS,
    OFFER_TRANSITIONS,
    ApprovalRequest,
    BacktestRun,
    Escalation,
    Offer,
)
from recovery.transitions import transition
from tickets.errors import InvalidTransition

RECOVERY = Path(__file__).resolve().parents[2] / "recovery"
TABLES = [
    (Offer, OFFER_TRANSITIONS),
    (Escalation, ESCALATION_TRANSITIONS),
    (ApprovalRequest, APPROVAL_TRANSITIONS),
    (BacktestRun, BACKTEST_TRANSITIONS),
]


@pytest.mark.parametrize(("model", "table"), TABLES, ids=lambda x: getattr(x, "__name__", ""))
def test_transition_table_names_every_status_and_only_statuses(model, table):
    statuses = set(model.Status.values)
    assert set(table) == statuses
    assert all(targets <= statuses for targets in table.values())
    assert all(status not in targets for status, targets in table.items())


@pytest.mark.django_db
def test_transition_moves_a_row_once_and_says_when_someone_else_moved_it_first():
    # given: a queued backtest run
    run = BacktestRun.objects.create(days=7, candidate_rules=[])
    rows = BacktestRun.objects.filter(pk=run.pk)
    S = BacktestRun.Status

    # when: two claims race, one after the other
    first = transition(rows, table=BACKTEST_TRANSITIONS, from_status=S.QUEUED, to_status=S.RUNNING)
    second = transition(rows, table=BACKTEST_TRANSITIONS, from_status=S.QUEUED, to_status=S.RUNNING)

    # then: the first moved it, the second found it moved
    assert (first, second) == (1, 0)
    assert BacktestRun.objects.get(pk=run.pk).status == S.RUNNING


@pytest.mark.django_db
def test_transition_refuses_a_move_the_table_does_not_allow_before_writing():
    run = BacktestRun.objects.create(days=7, candidate_rules=[], status=BacktestRun.Status.DONE)

    with pytest.raises(InvalidTransition):
        transition(
            BacktestRun.objects.filter(pk=run.pk), table=BACKTEST_TRANSITIONS,
            from_status=BacktestRun.Status.DONE, to_status=BacktestRun.Status.RUNNING,
        )
    assert BacktestRun.objects.get(pk=run.pk).status == BacktestRun.Status.DONE


def _status_writes(path: Path) -> list[int]:
    """Lines that write `status` with a queryset .update(status=...)."""
    tree = ast.parse(path.read_text())
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update":
            if any(keyword.arg == "status" for keyword in node.keywords):
                lines.append(node.lineno)
    return lines


def test_no_status_update_in_recovery_outside_the_transition_helper():
    offenders = {
        str(path.relative_to(RECOVERY)): lines
        for path in RECOVERY.rglob("*.py")
        if "migrations" not in path.parts and path.name != "transitions.py" and (lines := _status_writes(path))
    }
    assert offenders == {}
