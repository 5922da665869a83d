"""Webhooks through the real stack: the worker grades and escalates a logged ugly complaint and delivers the
events, on the webhooks queue, to a receiver on 127.0.0.1. Skipped without PostgreSQL and a broker."""

from __future__ import annotations

import pytest
from standardwebhooks import Webhook

from notifications.models import Delivery
from notifications.services import webhook_endpoint_create
from tests import test_real_services as real
from tests.notifications.receiver import start_receiver
from tickets import services as ticket_services
from tickets.actors import ActorRef

celery_worker_process = real.celery_worker_process

pytestmark = [pytest.mark.real_services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def local_receiver():
    receiver, server = start_receiver()
    yield receiver
    server.shutdown()
    server.server_close()


def test_a_logged_ugly_complaint_is_delivered_as_logged_and_escalated_by_the_worker(celery_worker_process, local_receiver, executive, agent):
    new = webhook_endpoint_create(url=local_receiver.url, events=["complaint.logged", "complaint.escalated"])
    data = ticket_services.ComplaintInput(
        customer=ticket_services.CustomerInput(email="furious@example.com", social_reach=40_000),
        fields={"cause": "staff_conduct", "severity": 4, "subject": "Agent swore at me in chat",
                "says_wont_return": True, "threatens_public": True},
    )

    complaint = ticket_services.complaint_log(data=data, actor=ActorRef(user=agent)).complaint

    worker_log = celery_worker_process / "worker.log"
    assert real.wait_for(lambda: Delivery.objects.filter(state="succeeded").count() == 2, timeout=60), (
        worker_log.read_text()[-3000:]
    )
    assert sorted(local_receiver.types()) == ["complaint.escalated", "complaint.logged"]
    for request in local_receiver.requests:
        payload = Webhook(new.secret).verify(request.body, request.headers)
        assert payload["data"]["complaint"]["reference"] == complaint.reference
    assert "notifications.tasks.webhook_delivery_task" in worker_log.read_text()
