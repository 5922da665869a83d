from __future__ import annotations

from decimal import Decimal

import pytest

from notifications.models import Notification
from tests.factories import ComplaintFactory
from tickets import services, signals
from tickets.actors import ActorRef
from tickets.errors import InvalidInput, InvalidTransition
from tickets.models import STATUS_TRANSITIONS, Complaint, Status, TimelineEvent

pytestmark = pytest.mark.django_db


def intake(**fields):
    base = {"cause": "pricing", "severity": 3, "subject": "Charged twice"}
    base.update(fields)
    return services.ComplaintInput(customer=services.CustomerInput(email="c@example.com"), fields=base)


def test_complaint_log_writes_one_event_and_announces_it(agent):
    received = []
    signals.complaint_logged.connect(lambda **kw: received.append(kw["complaint_id"]), weak=False, dispatch_uid="t1")
    try:
        result = services.complaint_log(data=intake(), actor=ActorRef(user=agent))
    finally:
        signals.complaint_logged.disconnect(dispatch_uid="t1")

    assert result.created
    assert received == [result.complaint.pk]
    event = TimelineEvent.objects.get()
    assert (event.kind, event.actor_user, event.actor_type) == ("logged", agent, "user")


def test_complaint_log_requires_a_way_to_identify_the_customer(agent):
    data = services.ComplaintInput(customer=services.CustomerInput(name="Anon"), fields={"cause": "other", "severity": 1, "subject": "x"})
    with pytest.raises(InvalidInput):
        services.complaint_log(data=data, actor=ActorRef(user=agent))
    assert not Complaint.objects.exists()


def test_complaint_log_updates_customer_values_sent_by_the_source(agent):
    services.complaint_log(data=intake(), actor=ActorRef(user=agent))
    data = services.ComplaintInput(
        customer=services.CustomerInput(email="C@example.com", lifetime_value=Decimal("900"), social_reach=5000),
        fields={"cause": "pricing", "severity": 3, "subject": "Again"},
    )

    complaint = services.complaint_log(data=data, actor=ActorRef(user=agent)).complaint

    complaint.customer.refresh_from_db()
    assert (complaint.customer.lifetime_value, complaint.customer.social_reach) == (Decimal("900.00"), 5000)


@pytest.mark.parametrize(
    ("start", "target"),
    [(s, t) for s in Status.values for t in Status.values if s != t],
)
def test_complaint_transition_follows_the_table(agent, start, target):
    complaint = ComplaintFactory(status=start)
    allowed = target in STATUS_TRANSITIONS[start]

    if allowed:
        services.complaint_transition(complaint=complaint, to_status=target, actor=ActorRef(user=agent))
        complaint.refresh_from_db()
        assert complaint.status == target
        assert complaint.events.filter(kind="status_changed").count() == 1
    else:
        with pytest.raises(InvalidTransition):
            services.complaint_transition(complaint=complaint, to_status=target, actor=ActorRef(user=agent))
        complaint.refresh_from_db()
        assert complaint.status == start
        assert not complaint.events.exists()


def test_complaint_transition_stamps_resolution_and_clears_it_on_reopen(agent):
    complaint = ComplaintFactory(status=Status.IN_PROGRESS)
    actor = ActorRef(user=agent)

    services.complaint_transition(complaint=complaint, to_status=Status.RESOLVED, actor=actor)
    complaint.refresh_from_db()
    assert complaint.resolved_at is not None
    services.complaint_transition(complaint=complaint, to_status=Status.IN_PROGRESS, actor=actor)
    complaint.refresh_from_db()
    assert complaint.resolved_at is None


def test_complaint_assign_notifies_assignee_once_and_not_self(django_capture_on_commit_callbacks, agent, other_agent, mailoutbox):
    complaint = ComplaintFactory()

    with django_capture_on_commit_callbacks(execute=True):
        services.complaint_assign(complaint=complaint, assignee=other_agent, actor=ActorRef(user=agent))
        services.complaint_assign(complaint=complaint, assignee=other_agent, actor=ActorRef(user=agent))
        services.complaint_assign(complaint=complaint, assignee=agent, actor=ActorRef(user=agent))

    assert Notification.objects.filter(recipient=other_agent).count() == 1
    assert not Notification.objects.filter(recipient=agent).exists()
    assert len(mailoutbox) == 1
    assert complaint.reference in mailoutbox[0].subject
    assert complaint.events.filter(kind="assigned").count() == 2


def test_timeline_event_is_append_only(complaint, agent):
    services.comment_add(complaint=complaint, kind="note", body="hi", actor=ActorRef(user=agent))
    event = TimelineEvent.objects.get()

    event.message = "rewritten"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()


def test_complaint_reference_round_trips():
    from tickets.models import pk_from_reference, reference_for

    assert reference_for(123) == "CX-000123"
    assert pk_from_reference("cx-000123") == 123
    assert pk_from_reference("CX123") == 123
    assert pk_from_reference("nope") is None
