"""Against real PostgreSQL, Redis and a Celery worker started here. Skipped without them, failed in CI's service pass."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from cxrecovery.celery import app as celery_app
from tests.conftest import require_service
from tickets.apikeys import api_key_create
from tickets.models import Complaint

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.real_services, pytest.mark.django_db(transaction=True)]


def _need_postgres() -> None:
    if connection.vendor != "postgresql":
        require_service("needs PostgreSQL: set DATABASE_URL=postgres://...")


def _need_broker() -> None:
    if not settings.CELERY_BROKER_URL:
        require_service("needs a broker: set CELERY_BROKER_URL=redis://...")


def _db_url() -> str:
    db = settings.DATABASES["default"]
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def celery_worker_process(tmp_path):
    """A real `celery worker` process on the test database and the configured broker."""
    _need_postgres()
    _need_broker()
    env = {
        **os.environ,
        "DATABASE_URL": _db_url(),
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(tmp_path / "mail"),
        "DB_CONN_MAX_AGE": "0",
        # Webhook tests deliver to a receiver on 127.0.0.1, which the private-address guard refuses otherwise.
        "WEBHOOKS_ALLOW_PRIVATE_TARGETS": "true",
    }
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    log = open(tmp_path / "worker.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "cxrecovery", "worker", "--pool=solo", "--loglevel=INFO",
         "-Q", f"{settings.CELERY_TASK_DEFAULT_QUEUE},{settings.CELERY_EMAIL_QUEUE},webhooks",
         "--without-gossip", "--without-mingle", "--hostname", f"test-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"Celery worker exited: {(tmp_path / 'worker.log').read_text()[-2000:]}")
        if celery_app.control.ping(timeout=0.5, destination=[f"test-{os.getpid()}@{os.uname().nodename}"]):
            break
    else:
        proc.kill()
        pytest.fail("Celery worker did not answer a ping within 60 s")
    yield tmp_path
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    connection.close()


def wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_notification_email_travels_through_redis_to_a_real_worker(celery_worker_process, agent, other_agent):
    from notifications.models import Notification
    from tests.factories import ComplaintFactory
    from tickets import services
    from tickets.actors import ActorRef

    complaint = ComplaintFactory()

    services.complaint_assign(complaint=complaint, assignee=other_agent, actor=ActorRef(user=agent))

    notification = Notification.objects.get(recipient=other_agent)
    assert wait_for(lambda: Notification.objects.filter(pk=notification.pk, email_state="sent").exists()), (
        celery_worker_process / "worker.log"
    ).read_text()[-3000:]
    mails = list((celery_worker_process / "mail").glob("*.log"))
    assert len(mails) == 1 and complaint.reference in mails[0].read_text()


def _concurrent_posts(n: int, body: dict, headers: dict) -> list[int]:
    secret = api_key_create(name="race", scopes=["complaints:read", "complaints:write"]).secret
    barrier = threading.Barrier(n)
    codes: list[int] = []

    def post() -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
            barrier.wait()
            codes.append(client.post("/api/v1/complaints/", body, format="json", **headers).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return codes


BODY = {"customer": {"email": "race@example.com"}, "cause": "pricing", "subject": "Race", "severity": 3}


def test_concurrent_deliveries_of_one_external_id_create_one_complaint():
    _need_postgres()

    codes = _concurrent_posts(8, {**BODY, "source": "zendesk", "external_id": "ZD-7"}, {})

    assert sorted(codes) == [200] * 7 + [201]
    assert Complaint.objects.count() == 1


def test_concurrent_requests_with_one_idempotency_key_create_one_complaint():
    _need_postgres()

    codes = _concurrent_posts(8, BODY, {"HTTP_IDEMPOTENCY_KEY": "same-key"})

    assert codes == [201] * 8
    assert Complaint.objects.count() == 1
