"""The plain answer function (tickets/api/answers.py) gives exactly what ComplaintOutput gives."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.factories import ComplaintFactory, CustomerFactory, UserFactory
from tickets import services
from tickets.actors import ActorRef
from tickets.api.answers import complaint_answer
from tickets.api.serializers import ComplaintOutput
from tickets.models import Channel, Complaint


def _assert_same(complaint: Complaint) -> None:
    expected = dict(ComplaintOutput(complaint).data)
    answer = complaint_answer(complaint)

    assert list(answer) == list(ComplaintOutput().fields)  # every declared field, in the declared order
    assert answer == expected
    # and the same types (a Decimal or an enum member would compare equal and render differently)
    for name, value in answer.items():
        assert type(value) is type(expected[name]), name


@pytest.mark.django_db
def test_answer_of_a_complaint_as_intake_wrote_it_equals_the_serializers():
    # given: the instance complaint_log returns (values as validated: Decimals, enum members, not read back)
    data = services.ComplaintInput(
        customer=services.CustomerInput(email="ana@example.com", name="Ana", lifetime_value=Decimal("12.5")),
        fields={"cause": "pricing", "subject": "Charged twice", "severity": 4, "channel": Channel.API,
                "monetary_loss": Decimal("19.9"), "occurred_at": timezone.now() - timedelta(days=1)},
        source="zendesk",
        external_id="ZD-1",
    )
    complaint = services.complaint_log(data=data, actor=ActorRef.system()).complaint

    _assert_same(complaint)


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["UTC", "Europe/London", "America/New_York"])
def test_answer_of_a_complaint_read_back_with_everything_set_equals_the_serializers(zone):
    # given: a graded, assigned complaint with every timestamp and some tags, in several current time zones
    now = timezone.now()
    complaint = ComplaintFactory(
        customer=CustomerFactory(phone="+44 20", social_reach=12_000, lifetime_value=Decimal("1234.50")),
        assignee=UserFactory(first_name="", last_name=""), grade="ugly", risk_score=87,
        grade_reasons=[{"rule": "x", "text": "y"}], tags=["vip", "press"], status="resolved",
        response_due_at=now, resolution_due_at=now + timedelta(hours=3), first_response_at=now,
        resolved_at=now.replace(microsecond=0), occurred_at=now - timedelta(days=2),
        source="shop", external_id="S-1",
    )
    complaint = Complaint.objects.select_related("customer", "assignee").get(pk=complaint.pk)

    with timezone.override(zone):
        _assert_same(complaint)


@pytest.mark.django_db
def test_answer_with_nulls_and_a_named_assignee_equals_the_serializers():
    complaint = ComplaintFactory(
        customer=CustomerFactory(email=None, name=""), assignee=UserFactory(first_name="Ann", last_name="Lee"),
        external_id=None, risk_score=None, grade="",
    )

    _assert_same(Complaint.objects.select_related("customer", "assignee").get(pk=complaint.pk))
