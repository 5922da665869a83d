"""Faults with real processes: a Redis of the test's own (started, stopped, started again; never the shared one),
real Celery workers on PostgreSQL, and a mail server that accepts connections and never answers.

- broker down: intake still stores the complaint; the work is delayed, not lost (the sweep sends it later);
- cache down: the throttle fails open and intake answers 201;
- worker killed with tasks reserved: the task is delivered again to the next worker; a pool process killed
  mid-task: the task goes back to the queue (task_reject_on_worker_lost);
- SMTP that never answers: the send times out and is retried while the other queue keeps working.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from kombu import pools as kombu_pools
from rest_framework.test import APIClient

from bench import procs
from cxrecovery.celery import app as celery_app
from tests.conftest import require_service
from tests.factories import ComplaintFactory
from tests.test_faults import free_port
from tests.test_real_services import _db_url, wait_for
from tickets.apikeys import api_key_create
from tickets.models import Complaint

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = "/usr/bin/redis-server"
URL = "/api/v1/complaints/"
BODY = {"customer": {"email": "fault@example.com"}, "cause": "pricing", "subject": "Charged twice", "severity": 3}


class OwnRedis:
    """A redis-server on a free port, with no persistence, that a test may stop and start again."""

    def __init__(self) -> None:
        if not Path(REDIS_SERVER).exists():
            require_service(f"needs {REDIS_SERVER} to start a Redis of the test's own")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        pytest.fail("own redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def own_redis():
    redis = OwnRedis()
    redis.start()
    yield redis
    redis.stop()


def _reset_celery_pools() -> None:
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    # kombu keeps its pools in a registry keyed by broker URL and would hand the closed one back to the next
    # test on the shared broker ("Acquire on closed pool"): empty it too.
    kombu_pools.reset()


@contextmanager
def celery_broker(url: str):
    """Point this process's Celery app at the test's own Redis (and back)."""
    previous = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    _reset_celery_pools()
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = url, False
    try:
        # Celery reads CELERY_BROKER_URL from the environment before its configuration.
        with mock.patch.dict(os.environ, {"CELERY_BROKER_URL": url}):
            assert celery_app.conf.broker_url == url
            yield
    finally:
        _reset_celery_pools()
        celery_app.conf.broker_url, celery_app.conf.task_always_eager = previous


class Worker:
    """A `celery worker` process on the test database and the given broker, consuming the given queues."""

    count = 0

    def __init__(self, broker: str, queues: list[str], log: Path, pool: str = "solo", **env: str) -> None:
        Worker.count += 1
        self.name = f"fault{Worker.count}-{os.getpid()}@{socket.gethostname()}"
        self.log_path = log
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "cxrecovery", "worker", f"--pool={pool}", "--concurrency=1",
             "--loglevel=INFO",
             "-Q", ",".join(queues), "--without-gossip", "--without-mingle", "--hostname", self.name],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
            env={**os.environ, "DATABASE_URL": _db_url(), "CELERY_BROKER_URL": broker, "DB_CONN_MAX_AGE": "0",
                 "CACHE_URL": "", **env},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"worker exited: {self.output()}")
            if celery_app.control.ping(timeout=0.5, destination=[self.name]):
                return
        self.stop()
        pytest.fail(f"worker did not answer a ping: {self.output()}")

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()[-4000:]

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def _need_postgres() -> None:
    if connection.vendor != "postgresql":
        require_service("needs PostgreSQL (the worker runs in another process): set DATABASE_URL=postgres://...")


def _key_client() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(name='t', scopes=['complaints:write']).secret}")
    return client


QUEUE, EMAIL_QUEUE = settings.CELERY_TASK_DEFAULT_QUEUE, settings.CELERY_EMAIL_QUEUE


# --- The cache is down ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_cache_down_intake_still_answers_201_and_the_throttle_fails_open(own_redis, settings):
    import redis

    # given: the throttle counts in the test's own Redis
    settings.CACHES = {
        "default": {
            "BACKEND": "cxrecovery.cache.RedisCache",
            "LOCATION": own_redis.url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    client = _key_client()
    assert client.post(URL, {**BODY, "subject": "before"}, format="json").status_code == 201
    assert list(redis.Redis.from_url(own_redis.url).scan_iter("*throttle_principal*"))

    # when: Redis goes away
    own_redis.stop()
    started = time.monotonic()
    codes = [client.post(URL, {**BODY, "subject": f"during {n}"}, format="json").status_code for n in range(20)]

    # then: nothing is refused or lost, and quickly
    assert codes == [201] * 20
    assert Complaint.objects.count() == 21
    assert time.monotonic() - started < 20


# --- The broker is down --------------------------------------------------------------------------------------


@pytest.mark.real_services
@pytest.mark.django_db(transaction=True)
def test_broker_down_intake_stores_the_complaint_and_its_work_is_delayed_not_lost(own_redis, tmp_path):
    _need_postgres()
    from recovery.escalation.tasks import sla_sweep_task

    client = _key_client()
    with celery_broker(own_redis.url):
        # given: the broker is down
        own_redis.stop()

        # when: a complaint arrives
        started = time.monotonic()
        response = client.post(URL, {**BODY, "threatens_public": True}, format="json")

        # then: it is stored and answered at once; its grading could not be queued
        assert response.status_code == 201, response.content
        assert time.monotonic() - started < 10
        complaint = Complaint.objects.get()
        assert complaint.assessed_at is None

        # when: the broker is back and the sweep runs (beat every minute; the complaint is older than the grace)
        own_redis.start()
        worker = Worker(own_redis.url, [QUEUE, EMAIL_QUEUE], tmp_path / "worker.log")
        try:
            Complaint.objects.filter(pk=complaint.pk).update(created_at=timezone.now() - timedelta(minutes=5))
            assert sla_sweep_task()["never_assessed"] == 1

            # then: the worker grades it
            assert wait_for(lambda: Complaint.objects.filter(pk=complaint.pk, assessed_at__isnull=False).exists()), (
                worker.output()
            )
        finally:
            worker.stop()


@pytest.mark.real_services
@pytest.mark.django_db(transaction=True)
def test_broker_restarted_between_complaints_the_next_complaints_task_is_queued_on_a_new_connection(own_redis):
    # Intake keeps one producer (one broker connection) per process (notifications/queue.py): a failure must drop it.
    _need_postgres()
    import base64
    import json

    import redis

    client = _key_client()
    broker = redis.Redis.from_url(own_redis.url)

    def post(n: int) -> int:
        body = {**BODY, "source": "shop", "external_id": f"B-{n}"}
        return client.post(URL, body, format="json").status_code

    with celery_broker(own_redis.url):
        # given: a complaint's assessment went out on the process's producer
        assert post(1) == 201 and broker.llen(QUEUE) == 1

        # when: the broker goes away (its queue with it: no persistence) while a complaint arrives, then comes back
        own_redis.stop()
        assert post(2) == 201
        own_redis.start()
        assert post(3) == 201

    # then: the third complaint's assessment is queued (the second one's is the sweep's to send)
    messages = broker.lrange(QUEUE, 0, -1)
    assert len(messages) == 1
    args, _, _ = json.loads(base64.b64decode(json.loads(messages[0])["body"]))
    assert args == [Complaint.objects.get(external_id="B-3").pk, "logged"]


# --- A worker is killed with tasks reserved ------------------------------------------------------------------


@pytest.mark.real_services
@pytest.mark.django_db(transaction=True)
def test_worker_killed_with_a_task_reserved_the_task_is_delivered_again(own_redis, tmp_path):
    _need_postgres()
    from recovery.escalation.tasks import complaint_assess_task

    complaint = ComplaintFactory(threatens_public=True)
    # A short visibility timeout stands in for the 30 minutes of production.
    env = {"CELERY_VISIBILITY_TIMEOUT": "2", "CELERY_TASK_TIME_LIMIT": "60"}
    with celery_broker(own_redis.url):
        first = Worker(own_redis.url, [QUEUE], tmp_path / "first.log", **env)
        try:
            # given: the worker holds the task (reserved, not yet run: it is due in a few seconds)
            complaint_assess_task.apply_async(args=[complaint.pk, "logged"], countdown=4)
            assert wait_for(lambda: "recovery.complaint_assess[" in first.output() and "] received" in first.output(),
                            timeout=20), first.output()

            # when: the worker is killed outright
            first.kill()
            assert "succeeded" not in first.output()
        finally:
            first.stop()
        second = Worker(own_redis.url, [QUEUE], tmp_path / "second.log", **env)
        try:
            # then: the task comes back to the next worker and runs once
            # kombu scans for unacknowledged messages past the visibility timeout on every 10th 10-second tick
            # (its restore throttle), so the redelivery comes up to ~100 s after the timeout.
            assert wait_for(lambda: Complaint.objects.filter(pk=complaint.pk, assessed_at__isnull=False).exists(),
                            timeout=130), second.output()
        finally:
            second.stop()
    assert "recovery.complaint_assess" in second.output() and "succeeded" in second.output()


# --- A mail server that accepts and never answers -----------------------------------------------------------


class SilentSmtpServer:
    """Accepts TCP connections and never says a word (no 220 greeting): a hung mail server."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)

    def close(self) -> None:
        self._stop = True
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.mark.real_services
@pytest.mark.django_db(transaction=True)
def test_smtp_that_never_answers_times_out_is_retried_and_other_queues_continue(own_redis, tmp_path, agent):
    _need_postgres()
    from notifications.models import Notification
    from notifications.tasks import notification_email_task
    from recovery.escalation.tasks import complaint_assess_task

    smtp = SilentSmtpServer()
    mail_env = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_TIMEOUT": "1",
    }
    with celery_broker(own_redis.url):
        # one worker per queue, as bin/run starts them
        email_worker = Worker(own_redis.url, [EMAIL_QUEUE], tmp_path / "email.log", **mail_env)
        worker = Worker(own_redis.url, [QUEUE], tmp_path / "worker.log", **mail_env)
        try:
            notification = Notification.objects.create(recipient=agent, title="Escalated")
            notification_email_task.delay(notification.pk)
            assert wait_for(lambda: smtp.accepted, timeout=20), email_worker.output()

            # while the mail server hangs, grading goes on
            complaint = ComplaintFactory(threatens_public=True)
            complaint_assess_task.delay(complaint.pk, "logged")
            assert wait_for(lambda: Complaint.objects.filter(pk=complaint.pk, assessed_at__isnull=False).exists(),
                            timeout=20), worker.output()

            # the send timed out and was tried again, with backoff, without ever being marked sent
            assert wait_for(lambda: Notification.objects.get(pk=notification.pk).email_attempts >= 2, timeout=30), (
                email_worker.output()
            )
            assert len(smtp.accepted) >= 2
            log = email_worker.output()
            assert "timed out" in log and "Retry in" in log
            assert Notification.objects.get(pk=notification.pk).email_state in {"pending", "sending"}
        finally:
            worker.stop()
            email_worker.stop()
            smtp.close()


@pytest.mark.real_services
@pytest.mark.django_db(transaction=True)
def test_pool_process_killed_mid_task_the_task_goes_back_to_the_queue(own_redis, tmp_path, agent):
    _need_postgres()
    from notifications.models import Notification
    from notifications.tasks import notification_email_task

    smtp = SilentSmtpServer()
    env = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp.port),
        "EMAIL_TIMEOUT": "30",
    }
    with celery_broker(own_redis.url):
        worker = Worker(own_redis.url, [EMAIL_QUEUE], tmp_path / "worker.log", pool="prefork", **env)
        try:
            # given: the pool process is in the middle of a task (waiting for the silent mail server)
            notification = Notification.objects.create(recipient=agent, title="Escalated")
            task_id = notification_email_task.delay(notification.pk).id
            assert wait_for(lambda: smtp.accepted, timeout=20), worker.output()
            (child,) = procs.children(worker.proc.pid)

            # when: the pool process is killed (out of memory, a crash)
            os.kill(child, signal.SIGKILL)

            # then: the task is not dropped but given back to the queue and run again by a new pool process,
            # which finds the send's lease still live and leaves the email to the sweep (no double send)
            assert wait_for(lambda: f"{task_id}] succeeded" in worker.output(), timeout=30), worker.output()
            assert "WorkerLostError" in worker.output()
            assert Notification.objects.get(pk=notification.pk).email_state == "sending"
        finally:
            worker.stop()
            smtp.close()
