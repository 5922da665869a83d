"""The rule backtest: a read-only replay of the current rules and a candidate set over recent complaints."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recovery.escalation import services
from recovery.escalation.services import backtests as backtest_services
from recovery.escalation.tasks import backtest_run_task, sla_sweep_task
from recovery.models import Assessment, BacktestRun
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
    assert day["current"] == {"frontline": 0, "lead": 1, "manager": 0, "executive": 1}
    assert day["candidate"] == {"frontline": 0, "lead": 0, "manager": 2, "executive": 0}
    assert result["totals"]["candidate"]["manager"] == 2
    assert result["totals"]["current"]["frontline"] == 1  # the good one stays at the front line
    assert [(r["name"], r["complaints"]) for r in result["candidate_by_rule"]] == [(TO_MANAGER[0]["name"], 2)]
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
    monkeypatch.setattr(backtest_services, "_backtest", lambda run, now: 1 / 0)

    done = services.backtest_run(run_id=run.pk)

    assert (done.status, done.error) == ("failed", "division by zero")
    assert done.finished_at is not None


def test_unsaved_candidate_time_rules_get_stand_in_ids(senior):
    time_rule = {"name": "Overdue to a manager", "time_based": True,
                 "conditions": [{"field": "response_overdue", "operator": "eq", "value": True}],
                 "actions": [{"type": "escalate", "value": "manager"}]}

    run = services.backtest_start(days=7, candidate_rules=[time_rule], actor=ActorRef(user=senior))

    assert run.candidate_rules[0]["id"] == -1


# --- lost tasks and dead workers (the SLA sweep recovers them) ----------------------------------


def queued_backtest(senior, *, minutes_ago: float, django_capture_on_commit_callbacks) -> BacktestRun:
    """A backtest whose task never reached a worker: its on-commit enqueue is captured and dropped."""
    with django_capture_on_commit_callbacks(execute=False):
        run = services.backtest_start(days=7, candidate_rules=TO_MANAGER, actor=ActorRef(user=senior))
    BacktestRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return run


def test_the_sweep_sends_again_a_backtest_whose_task_was_lost(senior, django_capture_on_commit_callbacks):
    lost = queued_backtest(senior, minutes_ago=5, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)
    just_queued = queued_backtest(senior, minutes_ago=0.5, django_capture_on_commit_callbacks=django_capture_on_commit_callbacks)

    summary = sla_sweep_task()  # Celery runs eagerly here: the task sent again computes at once

    assert (summary["backtests_resent"], summary["backtests_stalled"]) == (1, 0)
    lost.refresh_from_db()
    just_queued.refresh_from_db()
    assert (lost.status, lost.progress) == ("done", 100) and lost.started_at is not None
    assert just_queued.status == "queued"  # its task may still be on its way
    assert sla_sweep_task()["backtests_resent"] == 0  # the young one still waits for its own task


def test_a_backtest_whose_worker_died_is_marked_failed_once(senior):
    now = timezone.now()
    dead = BacktestRun.objects.create(days=7, status="running", progress=30, started_at=now - timedelta(hours=2))
    busy = BacktestRun.objects.create(days=7, status="running", progress=30, started_at=now - timedelta(minutes=10))

    assert services.backtests_recover(now=now) == {"resent": 0, "stalled": 1}
    assert services.backtests_recover(now=now) == {"resent": 0, "stalled": 0}

    dead.refresh_from_db()
    busy.refresh_from_db()
    assert (dead.status, dead.error) == ("failed", services.BACKTEST_STALLED_MESSAGE)
    assert dead.finished_at == now
    assert busy.status == "running"


def test_running_a_backtest_again_replays_the_same_days_and_rules(senior):
    first = run_backtest(TO_MANAGER, days=14, senior=senior)

    again = services.backtest_run(run_id=services.backtest_again(run=first, actor=ActorRef(user=senior)).pk)

    assert again.pk != first.pk
    assert (again.status, again.days, again.candidate_rules) == ("done", 14, first.candidate_rules)
