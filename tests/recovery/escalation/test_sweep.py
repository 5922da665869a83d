"""The SLA sweep, the assessment task and the receivers: set-based selection, fan-out, overlapping runs,
tasks run twice, the broker-outage safety net."""

from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from notifications.models import Notification
from recovery.escalation import selectors, services, tasks
from recovery.models import Assessment, Escalation, RuleFiring
from tests.conftest import require_service
from tests.factories import ComplaintFactory
from tickets import services as ticket_services
from tickets.actors import ActorRef
from tickets.models import Complaint, Status

pytestmark = pytest.mark.django_db


def assessed(complaint: Complaint, now=None) -> Complaint:
    services.complaint_assess(complaint_id=complaint.pk, trigger="logged", now=now)
    complaint.refresh_from_db()
    return complaint


def overdue(complaint: Complaint, minutes: int = 5) -> Complaint:
    """As if it was assessed an hour ago and its response deadline passed `minutes` ago."""
    now = timezone.now()
    Complaint.objects.filter(pk=complaint.pk).update(
        response_due_at=now - timedelta(minutes=minutes), assessed_at=now - timedelta(hours=1)
    )
    complaint.refresh_from_db()
    return complaint


def bad_at_lead() -> Complaint:
    return assessed(ComplaintFactory(severity=4))


# --- selection ---------------------------------------------------------------------------------


def test_sla_due_ids_finds_running_complaints_past_a_deadline_not_yet_acted_on():
    now = timezone.now()
    due = overdue(bad_at_lead())
    resolution_due = bad_at_lead()
    Complaint.objects.filter(pk=resolution_due.pk).update(
        resolution_due_at=now - timedelta(minutes=1), assessed_at=now - timedelta(hours=1)
    )
    answered = overdue(assessed(ComplaintFactory(severity=4, first_response_at=now)))
    paused = overdue(assessed(ComplaintFactory(severity=4, status=Status.WAITING_ON_CUSTOMER)))
    closed = overdue(assessed(ComplaintFactory(severity=4, status=Status.RESOLVED)))
    not_yet = bad_at_lead()  # due in 24 h
    seen = overdue(bad_at_lead())
    Complaint.objects.filter(pk=seen.pk).update(assessed_at=now)  # assessed after the deadline passed

    ids = selectors.sla_due_ids(now=now)

    assert sorted(ids) == sorted([due.pk, resolution_due.pk])
    assert not {answered.pk, paused.pk, closed.pk, not_yet.pk, seen.pk} & set(ids)


def test_sla_due_ids_drops_a_complaint_once_its_miss_was_assessed(lead, senior):
    complaint = overdue(bad_at_lead())
    assert selectors.sla_due_ids(now=timezone.now()) == [complaint.pk]

    tasks.complaint_assess_task(complaint.pk, "sweep")

    assert selectors.sla_due_ids(now=timezone.now()) == []


def test_sla_due_ids_is_two_queries_whatever_the_count(django_assert_num_queries):
    for _ in range(5):
        overdue(bad_at_lead())
    for _ in range(3):
        unacknowledged(answered(bad_at_lead()))

    with django_assert_num_queries(2):
        assert len(selectors.sla_due_ids(now=timezone.now())) == 8


# --- an escalation nobody acknowledged -------------------------------------------------------------


def answered(complaint: Complaint) -> Complaint:
    """The customer got a first response, so the response deadline can no longer be missed."""
    Complaint.objects.filter(pk=complaint.pk).update(first_response_at=timezone.now())
    complaint.refresh_from_db()
    return complaint


def unacknowledged(complaint: Complaint, minutes: int = 5) -> Complaint:
    """As if it was assessed an hour ago and its escalation's acknowledgement deadline passed `minutes` ago."""
    now = timezone.now()
    Escalation.objects.filter(complaint=complaint, status=Escalation.Status.OPEN).update(
        ack_due_at=now - timedelta(minutes=minutes)
    )
    Complaint.objects.filter(pk=complaint.pk).update(assessed_at=now - timedelta(hours=1))
    complaint.refresh_from_db()
    return complaint


def test_an_escalation_nobody_acknowledged_moves_the_complaint_up_one_tier_once(lead, senior):
    complaint = unacknowledged(answered(bad_at_lead()))
    assert selectors.sla_due_ids(now=timezone.now()) == [complaint.pk]

    tasks.complaint_assess_task(complaint.pk, "sweep")
    complaint.refresh_from_db()

    assert complaint.tier == "manager"
    escalations = list(Escalation.objects.filter(complaint=complaint).order_by("created_at", "id"))
    assert [(e.tier, e.status) for e in escalations] == [("lead", "superseded"), ("manager", "open")]
    assert "Unacknowledged escalation moves up one tier" in escalations[-1].reason
    assert RuleFiring.objects.filter(complaint=complaint, rule__name__startswith="Unacknowledged").count() == 1
    assert Notification.objects.filter(recipient=senior, title__contains=complaint.reference).exists()
    assert selectors.sla_due_ids(now=timezone.now()) == []

    # The manager does not acknowledge either: a time rule fires once, so it stays with the manager.
    unacknowledged(complaint)
    assert services.complaint_assess(complaint_id=complaint.pk, trigger="sweep").outcome in ("assessed", "unchanged")
    complaint.refresh_from_db()
    assert complaint.tier == "manager"


@pytest.mark.parametrize("how", ["acknowledged", "waiting_on_customer", "resolved"])
def test_an_acknowledged_paused_or_closed_escalation_stays_where_it_is(how, lead, senior):
    complaint = unacknowledged(answered(bad_at_lead()))
    if how == "acknowledged":
        Escalation.objects.filter(complaint=complaint).update(status=Escalation.Status.ACKNOWLEDGED, acknowledged_at=timezone.now())
    else:
        Complaint.objects.filter(pk=complaint.pk).update(status=how)

    assert selectors.sla_due_ids(now=timezone.now()) == []
    services.complaint_assess(complaint_id=complaint.pk, trigger="sweep")
    complaint.refresh_from_db()
    assert complaint.tier == "lead"


def test_regrade_ids_pick_unanswered_complaints_whose_grade_may_still_drift():
    now = timezone.now()
    drifting = ComplaintFactory(severity=4)
    Complaint.objects.filter(pk=drifting.pk).update(created_at=now - timedelta(hours=3), assessed_at=now - timedelta(hours=2))
    fresh = ComplaintFactory(severity=4)
    Complaint.objects.filter(pk=fresh.pk).update(assessed_at=now - timedelta(minutes=10))
    answered = ComplaintFactory(severity=4, first_response_at=now)
    Complaint.objects.filter(pk=answered.pk).update(assessed_at=now - timedelta(hours=2))
    settled = ComplaintFactory(severity=4)  # last assessed after the horizon: time changes nothing more
    Complaint.objects.filter(pk=settled.pk).update(created_at=now - timedelta(days=5), assessed_at=now - timedelta(days=3))
    stale_old = ComplaintFactory(severity=4)  # old, but its last assessment came before the horizon
    Complaint.objects.filter(pk=stale_old.pk).update(created_at=now - timedelta(days=5), assessed_at=now - timedelta(days=5))

    ids = selectors.regrade_ids(now=now, horizon_hours=25)

    assert ids == [stale_old.pk, drifting.pk]


def test_never_assessed_ids_wait_a_minute_for_the_normal_task():
    now = timezone.now()
    lost = ComplaintFactory()
    Complaint.objects.filter(pk=lost.pk).update(created_at=now - timedelta(minutes=3))
    ComplaintFactory()  # just logged: its task is probably on its way

    assert selectors.never_assessed_ids(now=now) == [lost.pk]


# --- the sweep task ----------------------------------------------------------------------------


def test_sla_sweep_escalates_an_ignored_complaint_one_tier_and_notifies_once(lead, senior, agent):
    complaint = overdue(bad_at_lead())
    Complaint.objects.filter(pk=complaint.pk).update(assignee=agent)

    first = tasks.sla_sweep_task()
    second = tasks.sla_sweep_task()

    complaint.refresh_from_db()
    assert complaint.tier == "manager"
    assert (first["due"], second["due"]) == (1, 0)
    assert RuleFiring.objects.filter(complaint=complaint).count() == 1
    assert Escalation.objects.filter(complaint=complaint, tier="manager", status="open").count() == 1
    assert Notification.objects.filter(recipient=senior).count() == 1
    assert Notification.objects.filter(recipient=agent).count() == 1


def test_an_ignored_bad_complaint_drifts_to_ugly_and_reaches_an_executive(executive, lead):
    complaint = ComplaintFactory(severity=4)
    logged_at = timezone.now() - timedelta(hours=30)
    Complaint.objects.filter(pk=complaint.pk).update(created_at=logged_at)
    assessed(complaint, now=logged_at + timedelta(minutes=1))
    assert (complaint.grade, complaint.tier) == ("bad", "lead")

    tasks.sla_sweep_task()

    complaint.refresh_from_db()
    assert complaint.grade == "ugly"
    assert complaint.tier == "executive"
    assert "ignored" in next(r["text"] for r in complaint.grade_reasons if r["code"] == "unanswered")
    assert Assessment.objects.filter(complaint=complaint, trigger="sweep").count() == 1


def test_two_overlapping_sweeps_act_once(lead, senior):
    # given: both sweeps selected their work before either fanned out
    complaints = [overdue(bad_at_lead()) for _ in range(3)]
    now = timezone.now()
    first, second = selectors.sla_sweep_work(now=now), selectors.sla_sweep_work(now=now)
    assert first.ids == second.ids and len(first.ids) == 3

    # when
    for complaint_id in first.ids + second.ids:
        tasks.complaint_assess_task(complaint_id, "sweep")

    # then
    for complaint in complaints:
        assert Escalation.objects.filter(complaint=complaint, tier="manager").count() == 1
    assert RuleFiring.objects.count() == 3
    assert Notification.objects.filter(recipient=senior).count() == 3


def test_complaint_assess_task_run_twice_has_one_effect(executive):
    complaint = ComplaintFactory(says_wont_return=True)

    assert tasks.complaint_assess_task(complaint.pk, "logged") == "assessed"
    assert tasks.complaint_assess_task(complaint.pk, "logged") == "unchanged"

    assert Assessment.objects.count() == 1
    assert Escalation.objects.count() == 1
    assert Notification.objects.count() == 1


def test_a_time_rule_claimed_by_another_run_rolls_this_run_back(lead, senior):
    complaint = overdue(bad_at_lead())
    rule_id = next(r.id for r in selectors.rule_specs() if r.time_based)
    # Another worker fired the rule between this run's read of the firings and its claim.
    real = RuleFiring.objects.filter

    def racing_filter(*args, **kwargs):
        result = real(*args, **kwargs)
        if not RuleFiring.objects.exists():
            RuleFiring.objects.create(complaint=complaint, rule_id=rule_id)
        return result.none()

    RuleFiring.objects.filter = racing_filter
    try:
        result = services.complaint_assess(complaint_id=complaint.pk, trigger="sweep")
    finally:
        RuleFiring.objects.filter = real

    assert result.outcome == "raced"
    complaint.refresh_from_db()
    assert complaint.tier == "lead"
    assert Escalation.objects.filter(tier="manager").count() == 0


# --- receivers and the broker outage safety net ------------------------------------------------


def _log(**fields):
    data = ticket_services.ComplaintInput(
        customer=ticket_services.CustomerInput(email="pat@example.com"),
        fields={"cause": "staff_conduct", "severity": 3, "subject": "Rude", **fields},
    )
    return ticket_services.complaint_log(data=data, actor=ActorRef.system()).complaint


def test_a_logged_complaint_is_assessed_after_commit(executive, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        complaint = _log(says_wont_return=True)
    assert not Assessment.objects.exists()  # nothing before the commit

    for callback in callbacks:
        callback()

    complaint.refresh_from_db()
    assert (complaint.grade, complaint.tier) == ("ugly", "executive")
    assert Assessment.objects.get().trigger == "logged"


def test_a_change_that_cannot_move_the_grade_queues_nothing(django_capture_on_commit_callbacks):
    complaint = ComplaintFactory()

    with django_capture_on_commit_callbacks() as cosmetic:
        ticket_services.complaint_update(complaint=complaint, changes={"occurred_at": timezone.now()}, actor=ActorRef.system())
    with django_capture_on_commit_callbacks() as meaningful:
        ticket_services.complaint_update(complaint=complaint, changes={"severity": 5}, actor=ActorRef.system())

    assert cosmetic == []
    assert len(meaningful) == 1


def test_a_new_subject_is_assessed_because_grading_reads_the_customers_words(django_capture_on_commit_callbacks):
    complaint = ComplaintFactory()

    with django_capture_on_commit_callbacks() as queued:
        ticket_services.complaint_update(
            complaint=complaint, changes={"subject": "Third time I write"}, actor=ActorRef.system()
        )

    assert len(queued) == 1


def test_a_complaint_whose_task_was_lost_is_assessed_by_the_sweep(executive, monkeypatch, django_capture_on_commit_callbacks):
    def broker_down(*args, **kwargs):
        raise OSError("Connection refused")

    monkeypatch.setattr(tasks.complaint_assess_task, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        complaint = _log(says_wont_return=True)  # the request still succeeds
    monkeypatch.undo()
    complaint.refresh_from_db()
    assert complaint.assessed_at is None
    Complaint.objects.filter(pk=complaint.pk).update(created_at=timezone.now() - timedelta(minutes=2))

    result = tasks.sla_sweep_task()

    complaint.refresh_from_db()
    assert result["never_assessed"] == 1
    assert (complaint.grade, complaint.tier) == ("ugly", "executive")


def test_run_sweeps_runs_every_sweep_once(lead, senior):
    complaint = overdue(bad_at_lead())
    out = StringIO()

    call_command("run_sweeps", stdout=out)

    complaint.refresh_from_db()
    assert complaint.tier == "manager"
    assert "recovery.sla_sweep: {'due': 1" in out.getvalue()
    assert "notification_email_sweep" in out.getvalue()


# --- real concurrency (PostgreSQL) -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_assessments_of_one_complaint_escalate_once(request):
    if connection.vendor != "postgresql":
        require_service("needs PostgreSQL: set DATABASE_URL=postgres://...")
    senior = request.getfixturevalue("senior")
    request.getfixturevalue("lead")
    complaint = overdue(bad_at_lead())
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def run() -> None:
        try:
            barrier.wait()
            outcomes.append(services.complaint_assess(complaint_id=complaint.pk, trigger="sweep").outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes) == ["assessed", "unchanged", "unchanged", "unchanged"]
    assert RuleFiring.objects.filter(complaint=complaint).count() == 1
    assert Escalation.objects.filter(complaint=complaint, tier="manager").count() == 1
    assert Notification.objects.filter(recipient=senior).count() == 1
