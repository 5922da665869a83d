"""The rule backtest: a read-only replay of the current rules and a candidate set over recent complaints."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recovery.models import Assessment, BacktestRun
from recovery.services import escalation as services
from recovery.tasks.escalation import backtest_run_task
from tests.factories import ComplaintFactory
from tickets.actors import ActorRef
from tickets.errors import InvalidInput
from tickets.models import Complaint

pytestmark = pytest.mark.django_db

TO_MANAGER = [{"name": "Severity 4+ to a manager", "conditions": [{"field": "severity", "operator": "gte", "value": 4}],
               "actions": [{"type": "escalate", "value": "manager"}]}]


def logged(days_ago: float, **fields) -> Complaint:
    complaint = ComplaintFactory(**fields)
    created = timezone.now() - timedelta(days=days_ago)
    Complaint.objects.filter(pk=complaint.pk).update(created_at=created, first_response_at=created + timedelta(minutes=30))
    complaint.refresh_from_db()
    return complaint


def run_backtest(candidate, days: int = 7, senior=None) -> BacktestRun:
    run = services.backtest_start(days=days, candidate_rules=candidate, actor=ActorRef(user=senior))
    return services.backtest_run(run_id=run.pk)


def test_backtest_counts_tiers_per_day_for_current_and_candidate_rules(senior):
    ugly = logged(1, says_wont_return=True, severity=4)
    bad = logged(1, severity=4)
    logged(3, severity=1, cause="other")  # good: never escalated
    logged(30, says_wont_return=True)  # outside the window

    run = run_backtest(TO_MANAGER, senior=senior)

    assert (run.status, run.progress) == ("done", 100)
    result = run.result
    assert result["complaints"] == 3
    day = next(d for d in result["days"] if d["date"] == timezone.localdate(ugly.created_at).isoformat())
    assert day["current"] == {"lead": 1, "manager": 0, "executive": 1}
    assert day["candidate"] == {"lead": 0, "manager": 2, "executive": 0}
    assert result["totals"]["candidate"]["manager"] == 2
    assert result["changed_count"] == 2
    assert {c["reference"]: (c["current"], c["candidate"]) for c in result["changed"]} == {
        ugly.reference: ("executive", "manager"), bad.reference: ("lead", "manager"),
    }


def test_backtest_replays_the_missed_deadline_and_drift_of_an_ignored_complaint(senior):
    # Bad when logged, then 30 hours without an answer: the current rules take it to an executive.
    complaint = ComplaintFactory(severity=4)
    Complaint.objects.filter(pk=complaint.pk).update(created_at=timezone.now() - timedelta(hours=30))

    run = run_backtest(TO_MANAGER, senior=senior)

    assert run.result["changed"] == [
        {"reference": complaint.reference, "subject": complaint.subject, "current": "executive", "candidate": "manager"}
    ]


def test_backtest_is_read_only(senior):
    complaint = logged(1, says_wont_return=True)
    before = Complaint.objects.values().get(pk=complaint.pk)

    with CaptureQueriesContext(connection) as queries:
        run_backtest(TO_MANAGER, senior=senior)

    writes = [q["sql"] for q in queries if q["sql"].split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]
    assert writes and all("recovery_backtestrun" in sql for sql in writes)
    assert Complaint.objects.values().get(pk=complaint.pk) == before
    assert not Assessment.objects.exists()


def test_backtest_refuses_invalid_candidate_rules_before_queueing(senior):
    with pytest.raises(InvalidInput) as exc:
        services.backtest_start(days=7, candidate_rules=[TO_MANAGER[0], {"name": "x", "conditions": [], "actions": []}],
                                actor=ActorRef(user=senior))

    assert set(exc.value.fields) == {"rules[1].conditions", "rules[1].actions"}
    with pytest.raises(InvalidInput):
        services.backtest_start(days=0, candidate_rules=TO_MANAGER, actor=ActorRef(user=senior))
    assert not BacktestRun.objects.exists()


def test_backtest_task_run_twice_computes_once(senior):
    run = services.backtest_start(days=7, candidate_rules=TO_MANAGER, actor=ActorRef(user=senior))

    assert backtest_run_task(run.pk) == "done"
    assert backtest_run_task(run.pk) == "already-claimed"


def test_a_failing_backtest_says_so(senior, monkeypatch):
    run = services.backtest_start(days=7, candidate_rules=TO_MANAGER, actor=ActorRef(user=senior))
    monkeypatch.setattr(services, "_backtest", lambda run, now: 1 / 0)

    done = services.backtest_run(run_id=run.pk)

    assert (done.status, done.error) == ("failed", "division by zero")
    assert done.finished_at is not None


def test_unsaved_candidate_time_rules_get_stand_in_ids(senior):
    time_rule = {"name": "Overdue to a manager", "time_based": True,
                 "conditions": [{"field": "response_overdue", "operator": "eq", "value": True}],
                 "actions": [{"type": "escalate", "value": "manager"}]}

    run = services.backtest_start(days=7, candidate_rules=[time_rule], actor=ActorRef(user=senior))

    assert run.candidate_rules[0]["id"] == -1
