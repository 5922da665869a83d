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


@pytest.fixture
def split_workers(tmp_path):
    """Two real workers, as production should run them: one for the default queue, one for `webhooks` alone."""
    import os
    import subprocess
    import sys
    import time

    from django.conf import settings
    from django.db import connection

    from cxrecovery.celery import app as celery_app

    real._need_postgres()
    real._need_broker()
    env = {**os.environ, "DATABASE_URL": real._db_url(), "DB_CONN_MAX_AGE": "0", "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
           "WEBHOOKS_READ_TIMEOUT": "8", "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    procs, names = [], []
    for name, queues in (("default", settings.CELERY_TASK_DEFAULT_QUEUE), ("hooks", "webhooks")):
        hostname = f"{name}-{os.getpid()}@{os.uname().nodename}"
        log = open(tmp_path / f"{name}.log", "w")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "cxrecovery", "worker", "--pool=solo", "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--hostname", hostname, "-Q", queues],
            cwd=real.ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        ))
        names.append(hostname)
    deadline = time.monotonic() + 60
    while len(celery_app.control.ping(timeout=0.5, destination=names)) < 2:
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            for p in procs:
                p.kill()
            pytest.fail("the two Celery workers did not start")
    yield tmp_path
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
    connection.close()


def test_a_hanging_receiver_does_not_delay_grading_and_times_out(split_workers, local_receiver, executive, agent):
    from notifications.models import DeliveryAttempt
    from recovery.models import Escalation

    # given a receiver that holds every request for 20 s (the workers give up reading after 8 s)
    local_receiver.hang_seconds = 20
    webhook_endpoint_create(url=local_receiver.url, events=["complaint.logged"])
    data = ticket_services.ComplaintInput(
        customer=ticket_services.CustomerInput(email="furious@example.com", social_reach=40_000),
        fields={"cause": "staff_conduct", "severity": 4, "subject": "Agent swore at me", "says_wont_return": True},
    )

    # when an ugly complaint is logged
    complaint = ticket_services.complaint_log(data=data, actor=ActorRef(user=agent)).complaint

    # then it is graded and escalated while its delivery still hangs
    logs = lambda: "\n".join((split_workers / n).read_text()[-2000:] for n in ("default.log", "hooks.log"))  # noqa: E731
    assert real.wait_for(lambda: Escalation.objects.filter(complaint=complaint).exists(), timeout=30), logs()
    assert real.wait_for(lambda: len(local_receiver.requests) == 1, timeout=10), logs()
    assert not DeliveryAttempt.objects.exists()  # the request is still hanging: no attempt recorded yet
    # and the delivery attempt ends as a read timeout, logged, to be retried
    assert real.wait_for(lambda: DeliveryAttempt.objects.filter(error="timed out (read)").exists(), timeout=30), logs()
    assert Delivery.objects.get().state in ("pending", "sending")  # waiting for (or making) its 5 s retry
