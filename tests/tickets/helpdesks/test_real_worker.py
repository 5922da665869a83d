"""A helpdesk delivery through PostgreSQL, Redis and a real Celery worker: answered first, processed by the
worker afterwards. Skipped without the services; fails in CI's service pass (CX_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import os
import time

import pytest
from django.conf import settings
from django.test import Client

from cxrecovery.celery import app as celery_app
from tests import test_real_services as real
from tests.tickets.helpdesks.helpers import connect, post, raw, zammad_body, zammad_headers
from tickets.helpdesks.models import HelpdeskDelivery
from tickets.models import Complaint

# The worker fixture lives with the other real-service tests; naming it here makes pytest offer it.
celery_worker_process = real.celery_worker_process

pytestmark = [pytest.mark.real_services, pytest.mark.django_db(transaction=True)]


def test_a_delivery_is_answered_before_the_worker_processes_it(celery_worker_process):
    worker = [f"test-{os.getpid()}@{os.uname().nodename}"]
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    connection = connect("zammad", "zammad-live")
    body = raw(zammad_body())
    # The worker stops taking work, so the answer provably comes before any processing.
    celery_app.control.cancel_consumer(queue, destination=worker, reply=True)
    try:
        response = post(Client(), connection, body, **zammad_headers(body))

        assert response.status_code == 202
        delivery = HelpdeskDelivery.objects.get(pk=response.json()["delivery"])
        time.sleep(1.0)
        delivery.refresh_from_db()
        assert delivery.result == "pending" and not Complaint.objects.exists()
    finally:
        celery_app.control.add_consumer(queue, destination=worker, reply=True)

    log = celery_worker_process / "worker.log"
    assert real.wait_for(lambda: HelpdeskDelivery.objects.filter(pk=delivery.pk, result="processed").exists()), (
        log.read_text()[-3000:]
    )
    complaint = Complaint.objects.get(source="zammad-live", external_id="81")
    assert HelpdeskDelivery.objects.get(pk=delivery.pk).complaint_id == complaint.pk
    # The worker also graded it, through the complaint_logged domain event.
    assert real.wait_for(lambda: Complaint.objects.filter(pk=complaint.pk).exclude(grade="").exists()), (
        log.read_text()[-3000:]
    )
    assert "tickets.helpdesk_delivery_process" in log.read_text()
