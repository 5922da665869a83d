"""Escalation through the real stack: a complaint logged here is graded and escalated by a Celery worker
that receives its task through the broker. Skipped without PostgreSQL and a broker; fails in CI's service pass."""

from __future__ import annotations

import pytest

from notifications.models import Notification
from recovery.models import Assessment, Escalation
from tests import test_real_services as real
from tickets import services as ticket_services
from tickets.actors import ActorRef
from tickets.models import Complaint

# The worker fixture lives with the other real-service tests; naming it here makes pytest offer it.
celery_worker_process = real.celery_worker_process

pytestmark = [pytest.mark.real_services, pytest.mark.django_db(transaction=True)]


def test_a_logged_ugly_complaint_is_escalated_by_the_worker(celery_worker_process, executive, agent):
    data = ticket_services.ComplaintInput(
        customer=ticket_services.CustomerInput(email="furious@example.com", social_reach=40_000),
        fields={"cause": "staff_conduct", "severity": 4, "subject": "Agent swore at me in chat",
                "says_wont_return": True, "threatens_public": True},
    )

    complaint = ticket_services.complaint_log(data=data, actor=ActorRef(user=agent)).complaint  # commits: task queued

    worker_log = celery_worker_process / "worker.log"
    assert real.wait_for(lambda: Escalation.objects.filter(complaint=complaint, tier="executive").exists()), (
        worker_log.read_text()[-3000:]
    )
    complaint = Complaint.objects.get(pk=complaint.pk)
    assert (complaint.grade, complaint.tier) == ("ugly", "executive")
    assert Assessment.objects.get(complaint=complaint).trigger == "logged"
    assert "recovery.complaint_assess" in worker_log.read_text()
    # The executive's notice is emailed by the worker too, once.
    assert real.wait_for(lambda: Notification.objects.filter(recipient=executive, email_state="sent").count() == 1), (
        worker_log.read_text()[-3000:]
    )
    mails = list((celery_worker_process / "mail").glob("*.log"))
    assert len(mails) == 1 and f"{complaint.reference} escalated to executive" in mails[0].read_text()
