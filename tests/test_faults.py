"""Faults answered honestly, in-process: the cache down, the database unavailable, intake answering
without a read-back after the commit, concurrent and repeated activity batches, a database connection killed mid-request (PostgreSQL).

The fault tests that need real processes (a Redis of their own, Celery workers, a hung SMTP server) are in
tests/test_faults_real.py."""

from __future__ import annotations

import logging
import socket
import threading
from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError, ProgrammingError, connection
from django.test import RequestFactory
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from cxrecovery.middleware import DatabaseUnavailableMiddleware
from recovery.models import CustomerActivity
from tests.conftest import require_service
from tickets import services as ticket_services
from tickets.api import throttling
from tickets.apikeys import api_key_create
from tickets.models import ApiKey, Complaint
from tickets.services import intake as ticket_intake

URL = "/api/v1/complaints/"
ACTIVITY_URL = "/api/v1/activity/"
BODY = {"customer": {"email": "fault@example.com"}, "cause": "pricing", "subject": "Charged twice", "severity": 3}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- The cache is down: the throttle fails open --------------------------------------------------------------


@pytest.mark.django_db
def test_throttle_fails_open_when_the_cache_is_down_and_warns_once(key_client, settings, caplog, monkeypatch):
    # given: the cache is a Redis nobody listens on, and a tight throttle that would refuse the fourth request
    settings.CACHES = {
        "default": {
            "BACKEND": "cxrecovery.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**api_settings.DEFAULT_THROTTLE_RATES, "principal": "3/minute"})
    monkeypatch.setattr(throttling, "_last_warning", 0.0)
    caplog.set_level(logging.WARNING, logger="tickets.api.throttling")

    # when
    codes = [key_client.post(URL, {**BODY, "external_id": f"C-{n}", "source": "shop"}, format="json").status_code
             for n in range(6)]

    # then: every complaint is stored, and the outage is logged once, not per request
    assert codes == [201] * 6
    assert Complaint.objects.count() == 6
    warnings = [r for r in caplog.records if "throttling is off" in r.getMessage()]
    assert len(warnings) == 1


@pytest.mark.django_db
def test_throttle_still_counts_when_the_cache_works(key_client, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {**api_settings.DEFAULT_THROTTLE_RATES, "principal": "2/minute"})

    codes = [key_client.get(URL).status_code for _ in range(3)]

    assert codes == [200, 200, 429]


@pytest.mark.django_db
def test_metrics_are_computed_when_the_cache_is_down(senior, client, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "cxrecovery.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.METRICS_CACHE_SECONDS = 600
    client.force_login(senior)

    response = client.get("/api/v1/metrics/recovery/")

    assert response.status_code == 200, response.content


# --- The database is unavailable: 503 + Retry-After, JSON ----------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("error", [OperationalError("connection refused"), InterfaceError("connection already closed")])
def test_api_answers_503_with_retry_after_when_the_database_is_unavailable(key_client, monkeypatch, error):
    monkeypatch.setattr(ticket_services, "complaint_log", mock.Mock(side_effect=error))

    response = key_client.post(URL, BODY, format="json")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert int(response["Retry-After"]) > 0
    assert response.json()["error"]["code"] == "database_unavailable"


@pytest.mark.django_db
def test_api_query_error_is_still_a_500_not_a_503(key_client, monkeypatch):
    monkeypatch.setattr(ticket_services, "complaint_log", mock.Mock(side_effect=ProgrammingError("syntax error")))

    response = key_client.post(URL, BODY, format="json")

    assert response.status_code == 500
    assert "Retry-After" not in response


def test_database_unavailable_outside_the_api_is_a_plain_503_not_an_html_500():
    middleware = DatabaseUnavailableMiddleware(lambda request: None)

    page = middleware.process_exception(RequestFactory().get("/complaints/"), OperationalError("gone"))
    api = middleware.process_exception(RequestFactory().get("/api/v1/schema/"), OperationalError("gone"))

    assert (page.status_code, page["Content-Type"], page["Retry-After"]) == (503, "text/plain; charset=utf-8", "10")
    assert (api.status_code, api["Content-Type"]) == (503, "application/json")
    assert middleware.process_exception(RequestFactory().get("/"), ValueError("bug")) is None


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_is_unavailable(client, monkeypatch):
    from cxrecovery import views

    broken = mock.Mock()
    broken.cursor.side_effect = OperationalError("could not connect")
    monkeypatch.setattr(views, "connection", broken)

    response = client.get("/healthz")

    assert response.status_code == 503 and response.json()["status"] == "database_unavailable"


# --- Intake answers from the committed complaint ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_intake_answers_201_from_the_committed_complaint_without_reading_it_back(monkeypatch):
    from tickets import selectors

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(name='t', scopes=['complaints:write']).secret}")
    # A read after the commit could fail (the connection dropped) and turn a stored complaint into an error.
    read_back = mock.Mock(side_effect=OperationalError("connection lost"))
    monkeypatch.setattr(selectors, "complaint_list", read_back)
    monkeypatch.setattr(selectors, "complaint_get", read_back)

    response = client.post(URL, BODY, format="json")

    assert response.status_code == 201, response.content
    complaint = Complaint.objects.get()
    assert response.json()["reference"] == complaint.reference
    assert response.json()["customer"]["email"] == "fault@example.com"
    assert not read_back.called


# --- Activity batches: count what was stored; Idempotency-Key ------------------------------------------------


def _events(n: int = 3) -> dict:
    return {
        "events": [
            {"source": "shop", "external_id": f"o-{i}", "kind": "purchase", "occurred_at": "2025-06-01T09:00:00Z",
             "customer": {"external_id": f"c-{i}"}}
            for i in range(n)
        ]
    }


@pytest.fixture
def commerce(make_key_client):
    return make_key_client([ApiKey.Scope.ACTIVITY_WRITE])


@pytest.mark.django_db
def test_activity_with_the_same_idempotency_key_replays_the_first_answer(commerce):
    first = commerce.post(ACTIVITY_URL, _events(), format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    again = commerce.post(ACTIVITY_URL, _events(), format="json", HTTP_IDEMPOTENCY_KEY="batch-1")

    assert (first.status_code, first.json()["accepted"]) == (201, 3)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again["Idempotent-Replayed"] == "true"
    assert CustomerActivity.objects.count() == 3


@pytest.mark.django_db
def test_activity_idempotency_key_reused_with_another_body_is_refused(commerce):
    commerce.post(ACTIVITY_URL, _events(2), format="json", HTTP_IDEMPOTENCY_KEY="batch-1")

    response = commerce.post(ACTIVITY_URL, _events(3), format="json", HTTP_IDEMPOTENCY_KEY="batch-1")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert CustomerActivity.objects.count() == 2


def _concurrent(n: int, post) -> list:
    barrier = threading.Barrier(n)
    answers: list = []

    def run() -> None:
        try:
            barrier.wait()
            answers.append(post())
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return answers


@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_of_one_activity_batch_count_it_once():
    if connection.vendor != "postgresql":
        require_service("needs PostgreSQL for real concurrent transactions: set DATABASE_URL=postgres://...")
    secret = api_key_create(name="shop", scopes=[ApiKey.Scope.ACTIVITY_WRITE]).secret

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        response = client.post(ACTIVITY_URL, _events(20), format="json")
        return response.status_code, response.json()["accepted"], response.json()["duplicates"]

    answers = _concurrent(6, post)

    assert sorted(answers) == [(200, 0, 20)] * 5 + [(201, 20, 0)]
    assert CustomerActivity.objects.count() == 20


# --- A database connection killed mid-request (PostgreSQL) ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_database_connection_killed_mid_request_answers_503_and_a_retry_succeeds(monkeypatch):
    if connection.vendor != "postgresql":
        require_service("needs PostgreSQL to kill a connection: set DATABASE_URL=postgres://...")
    import psycopg

    secret = api_key_create(name="t", scopes=["complaints:write"]).secret
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    params = connection.get_connection_params()
    admin_dsn = {k: v for k, v in params.items() if k in {"host", "port", "user", "password", "dbname"}}
    original = ticket_services.customer_resolve
    killed: list[int] = []

    def kill_then_resolve(**kwargs):
        # An administrator (or a failover) ends this request's session between two of its queries.
        if not killed:
            pid = connection.cursor().connection.info.backend_pid
            with psycopg.connect(**admin_dsn, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", [pid])
            killed.append(pid)
        return original(**kwargs)

    monkeypatch.setattr(ticket_intake, "customer_resolve", kill_then_resolve)

    # when: the connection dies mid-request
    response = client.post(URL, BODY, format="json")

    # then: an honest, retryable 503 in the API's JSON shape; nothing half-stored
    assert killed
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json" and int(response["Retry-After"]) > 0
    connection.close()
    assert Complaint.objects.count() == 0
    # and the retry goes through on a new connection
    assert client.post(URL, BODY, format="json").status_code == 201
    assert Complaint.objects.count() == 1
