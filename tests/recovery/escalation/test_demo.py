"""The escalation demo (`make run`): a realistic mix, where most open cases stay with the front line, a few ugly
ones wait for an executive (one overdue), the leads have acknowledged theirs, and it all loads once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from recovery.models import Assessment, Escalation
from tickets.models import Complaint, Customer, TimelineEvent
from tickets.validators import validate_email_address

pytestmark = pytest.mark.django_db


def test_demo_has_a_realistic_mix_a_few_executive_escalations_one_overdue_and_loads_once():
    call_command("seed_demo", "--quiet-users", stdout=StringIO())
    out = StringIO()

    call_command("seed_recovery_demo", stdout=out)

    complaints = Complaint.objects.all()
    open_cases = complaints.filter(status__in=["new", "in_progress", "waiting_on_customer"])
    assert complaints.filter(grade="ugly").count() <= 0.08 * complaints.count()  # a few percent ugly
    assert open_cases.filter(tier="frontline").count() > open_cases.count() / 2  # most with the front line
    waiting = Escalation.objects.filter(status="open")
    assert 1 <= waiting.filter(tier="executive").count() <= 4
    assert waiting.filter(ack_due_at__lt=timezone.now()).exists()
    assert Escalation.objects.filter(status="acknowledged", acknowledged_by__username="lead").count() >= 5
    assert Escalation.objects.filter(status__in=["taken_over", "deescalated"]).count() == 2
    assert "waiting for an executive" in out.getvalue()
    # Every demo address is one the API itself would take and its schema promises (format: email, ASCII).
    for email in Customer.objects.exclude(email=None).values_list("email", flat=True):
        validate_email_address(email)
        assert email.isascii(), email
    counts = (Assessment.objects.count(), Escalation.objects.count(), TimelineEvent.objects.count())

    call_command("seed_recovery_demo", stdout=StringIO())

    assert (Assessment.objects.count(), Escalation.objects.count(), TimelineEvent.objects.count()) == counts
