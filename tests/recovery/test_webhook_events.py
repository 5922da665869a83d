"""Each domain event reaches the outbox with its documented payload, in the transaction of its change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from django.db import transaction

from notifications.models import Delivery, OutboxEvent
from notifications.services import webhook_endpoint_create
from recovery.escalation import services as escalation_services
from recovery.models import ApprovalRequest
from recovery.offers import services as offer_services
from recovery.outcomes import services as outcome_services
from tests.factories import ComplaintFactory
from tests.recovery.offers_factories import complaint as graded_complaint
from tests.recovery.offers_factories import gesture
from tests.recovery.outcomes_factories import make_resolved_complaint, open_outcome
from tickets import services as ticket_services
from tickets.actors import ActorRef
from tickets.models import Status

pytestmark = pytest.mark.django_db
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def everything():
    return webhook_endpoint_create(url="https://example.com/hooks").endpoint


def bodies(event_type: str) -> list[dict]:
    return [e.body for e in OutboxEvent.objects.filter(type=event_type).order_by("id")]


def log(external_id: str | None = None, **fields) -> ticket_services.LogResult:
    data = ticket_services.ComplaintInput(
        customer=ticket_services.CustomerInput(email="ann@example.com", name="Ann"),
        fields={"cause": "pricing", "severity": 3, "subject": "Charged twice", **fields},
        source="zendesk" if external_id else "",
        external_id=external_id,
    )
    return ticket_services.complaint_log(data=data, actor=ActorRef.system("test"))


def test_complaint_logged_payload_carries_the_complaint(everything):
    result = log()

    [body] = bodies("complaint.logged")
    complaint = body["data"]["complaint"]
    assert body["type"] == "complaint.logged" and body["version"] == 1
    assert complaint["reference"] == result.complaint.reference and complaint["status"] == "new"
    assert complaint["customer"] == {"id": result.complaint.customer_id, "email": "ann@example.com", "name": "Ann"}
    assert complaint["url"].endswith(f"/complaints/{result.complaint.reference}/")
    assert Delivery.objects.filter(endpoint=everything).count() >= 1


def test_complaint_logged_in_a_rolled_back_transaction_leaves_no_event():
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            log()
            raise RuntimeError("boom")

    assert OutboxEvent.objects.count() == 0


def test_complaint_redelivered_unchanged_publishes_nothing_new():
    log(external_id="ZD-1"), log(external_id="ZD-1")

    assert len(bodies("complaint.logged")) == 1


def test_assessment_publishes_graded_and_escalated_for_an_ugly_complaint():
    complaint = ComplaintFactory(says_wont_return=True)

    escalation_services.complaint_assess(complaint_id=complaint.pk, trigger="logged")
    escalation_services.complaint_assess(complaint_id=complaint.pk, trigger="again")  # unchanged: no new events

    [graded] = bodies("complaint.graded")
    assert graded["data"]["grade"]["from"] is None and graded["data"]["grade"]["to"] == "ugly"
    assert graded["data"]["grade"]["reasons"] and graded["data"]["complaint"]["grade"] == "ugly"
    [escalated] = bodies("complaint.escalated")
    assert escalated["data"]["escalation"]["tier"] == "executive" and escalated["data"]["escalation"]["from_tier"] == "frontline"
    assert escalated["data"]["complaint"]["tier"] == "executive"


def test_escalation_acknowledged_publishes_who_and_whether_late(executive):
    complaint = ComplaintFactory(says_wont_return=True)
    escalation = escalation_services.complaint_assess(complaint_id=complaint.pk, trigger="logged").escalation

    escalation_services.escalation_acknowledge(escalation_id=escalation.pk, actor=ActorRef(user=executive), note="On it")

    [body] = bodies("escalation.acknowledged")
    assert body["data"]["action"] == "acknowledged" and body["data"]["late"] is False and body["data"]["note"] == "On it"
    assert body["data"]["escalation"]["acknowledged_by"] == executive.username


def test_offer_within_authority_publishes_proposed_only(agent):
    offer_services.offer_create(complaint=graded_complaint(), gesture=gesture(cost=D("5.00")), actor=ActorRef(user=agent))

    [proposed] = bodies("offer.proposed")
    assert proposed["data"]["offer"]["status"] == "approved" and proposed["data"]["offer"]["cost"] == "5.00"
    assert proposed["data"]["offer"]["gesture"]["code"] == "test_note"
    assert bodies("approval.requested") == []


def test_offer_above_authority_publishes_requested_then_decided_then_fulfilled(agent, senior):
    case = graded_complaint()
    offer = offer_services.offer_create(complaint=case, gesture=gesture(cost=D("300.00")), actor=ActorRef(user=agent))
    approval = ApprovalRequest.objects.get(offer=offer)

    offer_services.approval_decide(approval=approval, decision="approve", actor=ActorRef(user=senior))
    offer.refresh_from_db()
    offer_services.offer_fulfil(offer=offer, actor=ActorRef(user=agent), resolve_complaint=True)

    [requested] = bodies("approval.requested")
    assert requested["data"]["approval"]["required_tier"] == "manager" and requested["data"]["offer"]["status"] == "pending_approval"
    [decided] = bodies("approval.decided")
    assert decided["data"]["decision"] == "approve" and decided["data"]["approval"]["decided_by"] == senior.username
    assert decided["data"]["approval"]["status"] == "approved" and decided["data"]["offer"]["status"] == "approved"
    [fulfilled] = bodies("offer.fulfilled")
    assert fulfilled["data"]["offer"]["fulfilled_at"] and fulfilled["data"]["offer"]["status"] == "fulfilled"
    [resolved] = bodies("complaint.resolved")
    assert resolved["data"]["complaint"]["status"] == "resolved"


def test_offer_declined_publishes_declined(agent):
    offer = offer_services.offer_create(complaint=graded_complaint(), gesture=gesture(cost=D("5.00")), actor=ActorRef(user=agent))

    offer_services.offer_decline(offer=offer, actor=ActorRef(user=agent), note="Did not want it")

    [declined] = bodies("offer.declined")
    assert declined["data"]["offer"]["status"] == "declined" and declined["data"]["note"] == "Did not want it"


def test_complaint_resolved_publishes_once_per_resolution(agent):
    complaint = ComplaintFactory()
    ticket_services.complaint_transition(complaint=complaint, to_status=Status.IN_PROGRESS, actor=ActorRef(user=agent))

    ticket_services.complaint_transition(complaint=complaint, to_status=Status.RESOLVED, actor=ActorRef(user=agent), note="Refunded")

    [body] = bodies("complaint.resolved")
    assert body["data"]["from_status"] == "in_progress" and body["data"]["note"] == "Refunded"


def test_outcome_settled_is_published_per_window():
    complaint = make_resolved_complaint(resolved_at=T0)
    open_outcome(complaint, now=T0)

    outcome_services.outcome_windows_settle(now=T0 + timedelta(days=100))
    outcome_services.outcome_windows_settle(now=T0 + timedelta(days=101))  # nothing new to settle

    settled = bodies("outcome.settled")
    assert sorted(b["data"]["window"]["days"] for b in settled) == [30, 60, 90]
    assert all(b["data"]["window"]["state"] == "not_returned" and b["data"]["window"]["returned"] is False for b in settled)
    assert settled[0]["data"]["complaint"]["reference"] == complaint.reference


def test_outcome_settled_is_not_built_when_nobody_subscribes(everything, django_assert_max_num_queries):
    everything.delete()
    from django.core.cache import cache

    cache.clear()
    for _ in range(5):
        open_outcome(make_resolved_complaint(resolved_at=T0), now=T0)
    outcome_services.outcome_windows_settle(now=T0 + timedelta(days=1))  # fills the subscription cache

    # The settling statement, the savepoint, and the look for the metrics rollup (none here): nothing for webhooks.
    with django_assert_max_num_queries(4):
        result = outcome_services.outcome_windows_settle(now=T0 + timedelta(days=100))

    assert result.not_returned == 15 and OutboxEvent.objects.count() == 0
