"""The escalation demo (`make run`): ugly complaints escalated to an executive, some overdue, loaded once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from recovery.models import Assessment, Escalation
from tickets.models import TimelineEvent

pytestmark = pytest.mark.django_db


def test_demo_has_executive_escalations_some_overdue_and_loads_once():
    call_command("seed_demo", "--quiet-users", stdout=StringIO())
    out = StringIO()

    call_command("seed_recovery_demo", stdout=out)

    waiting = Escalation.objects.filter(status="open")
    assert waiting.filter(tier="executive").count() >= 5
    assert waiting.filter(complaint__status__in=["new", "in_progress"], ack_due_at__isnull=False).exists()
    from django.utils import timezone

    assert waiting.filter(ack_due_at__lt=timezone.now()).exists()
    assert Escalation.objects.filter(status__in=["acknowledged", "taken_over", "deescalated"]).count() == 3
    assert "waiting for an executive" in out.getvalue()
    counts = (Assessment.objects.count(), Escalation.objects.count(), TimelineEvent.objects.count())

    call_command("seed_recovery_demo", stdout=StringIO())

    assert (Assessment.objects.count(), Escalation.objects.count(), TimelineEvent.objects.count()) == counts
