"""The approvals sweep: a request not decided in time reminds its approvers once, then moves one tier up.
Every run is done twice and the effect happens once."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from notifications.models import Notification
from recovery.models import ApprovalRequest
from recovery.offers import services
from recovery.offers.services import AlreadyDecided
from recovery.offers.tasks import approval_escalate_task, approval_remind_task, approval_requests_sweep_task
from tests.recovery.offers_factories import complaint, gesture
from tickets.actors import ActorRef
from tickets.models import TimelineEvent

pytestmark = pytest.mark.django_db


def _waiting(agent, cost: str = "120.00") -> ApprovalRequest:
    offer = services.offer_create(complaint=complaint(), gesture=gesture(cost=Decimal(cost)), actor=ActorRef(user=agent))
    return offer.approval_requests.get()


def _age(approval: ApprovalRequest, hours: float, *, reminded: bool = False) -> None:
    """Pretend the request was made `hours` ago (the due time moves with it)."""
    created = timezone.now() - timedelta(hours=hours)
    ApprovalRequest.objects.filter(pk=approval.pk).update(
        created_at=created,
        due_at=created + timedelta(hours=48),
        reminded_at=created + timedelta(hours=24) if reminded else None,
    )


def _sweep_twice(capture) -> list:
    results = []
    for _ in range(2):
        with capture(execute=True):
            results.append(approval_requests_sweep_task.delay().get())
    return results


def test_sweep_reminds_the_approvers_once_when_run_twice(agent, lead, django_capture_on_commit_callbacks, mailoutbox):
    approval = _waiting(agent)  # waits for a team lead
    _age(approval, 25)
    mailoutbox.clear()

    results = _sweep_twice(django_capture_on_commit_callbacks)

    approval.refresh_from_db()
    assert results == [{"reminded": 1, "escalated": 0}, {"reminded": 0, "escalated": 0}]
    assert approval.status == "pending" and approval.reminded_at is not None
    assert [m.to[0] for m in mailoutbox] == [lead.email]
    assert mailoutbox[0].subject.startswith("[CX Recovery] Reminder: approval waiting")
    events = TimelineEvent.objects.filter(complaint=approval.offer.complaint, kind="approval")
    assert [e.message for e in events] == ["Reminded team leads: “Test note” (£120.00) has waited 25 hours for approval"]


def test_sweep_leaves_a_request_alone_before_the_reminder_is_due(agent, lead, django_capture_on_commit_callbacks):
    approval = _waiting(agent)
    _age(approval, 23)

    assert _sweep_twice(django_capture_on_commit_callbacks) == [{"reminded": 0, "escalated": 0}] * 2
    approval.refresh_from_db()
    assert approval.reminded_at is None


def test_sweep_moves_a_reminded_overdue_request_one_tier_up_once(
    agent, lead, senior, django_capture_on_commit_callbacks, mailoutbox
):
    approval = _waiting(agent)
    _age(approval, 49, reminded=True)
    mailoutbox.clear()

    results = _sweep_twice(django_capture_on_commit_callbacks)

    approval.refresh_from_db()
    assert results == [{"reminded": 0, "escalated": 1}, {"reminded": 0, "escalated": 0}]
    assert approval.status == "escalated" and approval.decided_by is None
    moved = ApprovalRequest.objects.get(offer=approval.offer, status="pending")
    assert moved.required_tier == "manager"
    assert moved.due_at > timezone.now() + timedelta(hours=47)
    assert [m.to[0] for m in mailoutbox] == [senior.email]
    assert "did not decide it within 48 hours" in mailoutbox[0].body
    assert TimelineEvent.objects.filter(complaint=approval.offer.complaint, kind="approval").get().message == (
        "Not decided by team leads in time: “Test note” (£120.00) moved up to managers"
    )


def test_sweep_never_moves_an_unreminded_request_even_when_overdue(agent, lead, django_capture_on_commit_callbacks):
    approval = _waiting(agent)
    _age(approval, 60)  # e.g. the sweep was down: it reminds first and moves on a later run

    with django_capture_on_commit_callbacks(execute=True):
        first = approval_requests_sweep_task.delay().get()

    approval.refresh_from_db()
    assert first == {"reminded": 1, "escalated": 0}
    assert approval.status == "pending"


def test_sweep_only_reminds_at_the_executive_tier(agent, executive, django_capture_on_commit_callbacks):
    approval = _waiting(agent, cost="5000.00")
    assert approval.required_tier == "executive"
    _age(approval, 100, reminded=True)

    assert _sweep_twice(django_capture_on_commit_callbacks) == [{"reminded": 0, "escalated": 0}] * 2
    approval.refresh_from_db()
    assert approval.status == "pending"


def test_sweep_leaves_decided_requests_alone(agent, lead, django_capture_on_commit_callbacks):
    approval = _waiting(agent)
    services.approval_decide(approval=approval, decision="approve", actor=ActorRef(user=lead))
    _age(approval, 100)

    assert _sweep_twice(django_capture_on_commit_callbacks) == [{"reminded": 0, "escalated": 0}] * 2


def test_sweep_tasks_for_one_request_act_once_when_delivered_twice(agent, lead, senior):
    approval = _waiting(agent)
    _age(approval, 30)

    assert [approval_remind_task.delay(approval.pk).get() for _ in range(2)] == [True, False]
    _age(approval, 50, reminded=True)
    assert [approval_escalate_task.delay(approval.pk).get() for _ in range(2)] == [True, False]
    assert approval_escalate_task.delay(999_999).get() is False
    assert ApprovalRequest.objects.filter(offer=approval.offer).count() == 2
    assert Notification.objects.filter(dedupe_key__startswith=f"approval:{approval.pk}:reminder").count() == 1


def test_sweep_after_a_move_the_old_request_answers_409_and_the_new_one_decides(agent, lead, senior):
    approval = _waiting(agent)
    _age(approval, 50, reminded=True)
    services.approval_escalate(approval_id=approval.pk)

    with pytest.raises(AlreadyDecided, match="moved up a tier"):
        services.approval_decide(approval=approval, decision="approve", actor=ActorRef(user=lead))
    moved = ApprovalRequest.objects.get(offer=approval.offer, status="pending")
    services.approval_decide(approval=moved, decision="approve", actor=ActorRef(user=senior))

    assert approval.offer.__class__.objects.get(pk=approval.offer_id).status == "approved"


def test_sweep_reads_its_timing_from_settings(agent, lead, settings, django_capture_on_commit_callbacks):
    settings.APPROVAL_REMIND_AFTER_HOURS = 1
    settings.APPROVAL_ESCALATE_AFTER_HOURS = 2
    approval = _waiting(agent)
    assert approval.due_at - approval.created_at < timedelta(hours=2, seconds=5)
    ApprovalRequest.objects.filter(pk=approval.pk).update(created_at=timezone.now() - timedelta(minutes=90))

    with django_capture_on_commit_callbacks(execute=True):
        assert approval_requests_sweep_task.delay().get() == {"reminded": 1, "escalated": 0}


def test_run_sweeps_command_includes_the_approvals_sweep(agent, lead, django_capture_on_commit_callbacks):
    from io import StringIO

    from django.core.management import call_command

    approval = _waiting(agent)
    _age(approval, 30)
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_sweeps", stdout=out)

    approval.refresh_from_db()
    assert approval.reminded_at is not None
    assert "approval_requests_sweep_task: {'reminded': 1, 'escalated': 0}" in out.getvalue()
