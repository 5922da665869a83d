from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from tickets.apikeys import api_key_revoke
from tickets.models import ApiKey, Complaint

pytestmark = pytest.mark.django_db

BODY = {"customer": {"email": "a@example.com"}, "cause": "pricing", "subject": "Overcharged", "severity": 2}


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("outsider", 403), ("agent", 201), ("lead", 201), ("senior", 201), ("executive", 201)],
)
def test_complaint_create_permission_matrix_for_people(request, who, expected):
    user = None if who == "anonymous" else request.getfixturevalue(who)

    response = client_for(user).post("/api/v1/complaints/", BODY, format="json")

    assert response.status_code == expected
    assert Complaint.objects.count() == (1 if expected == 201 else 0)


@pytest.mark.parametrize(
    ("scopes", "method", "expected"),
    [
        (["complaints:read", "complaints:write"], "post", 201),
        (["complaints:read"], "post", 403),
        (["complaints:write"], "get", 403),
        (["complaints:read"], "get", 200),
        (["customers:read"], "get", 403),
    ],
)
def test_complaint_endpoint_needs_the_right_key_scope(make_key_client, scopes, method, expected):
    client = make_key_client(scopes)

    response = getattr(client, method)("/api/v1/complaints/", BODY if method == "post" else None, format="json")

    assert response.status_code == expected
    if expected == 403:
        assert "scope" in response.json()["error"]["message"]


def test_customer_endpoint_needs_customers_scope(make_key_client):
    assert make_key_client(["complaints:read"]).get("/api/v1/customers/").status_code == 403
    assert make_key_client(["customers:read"]).get("/api/v1/customers/").status_code == 200


def test_missing_key_answers_401_with_bearer_challenge(api_client):
    response = api_client.get("/api/v1/complaints/")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("header", ["Bearer cxr_nope_nope", "Bearer garbage", "Bearer a b"])
def test_wrong_key_answers_401(api_client, db, header):
    response = api_client.get("/api/v1/complaints/", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_revoked_key_answers_401(key_client):
    api_key_revoke(api_key=key_client.api_key)

    assert key_client.get("/api/v1/complaints/").status_code == 401


def test_key_is_stored_hashed(key_client):
    stored = ApiKey.objects.get()

    assert key_client.secret not in (stored.hashed_key, stored.prefix)
    assert len(stored.hashed_key) == 64


def test_createapikey_prints_key_alone_on_last_line_and_it_works(db, capsys):
    call_command("createapikey", "Zendesk", "--scope", "complaints:read")

    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {last_line}")
    assert client.get("/api/v1/complaints/").status_code == 200
    assert client.post("/api/v1/complaints/", BODY, format="json").status_code == 403


def test_session_auth_requires_csrf_for_writes(agent):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(agent)

    response = client.post("/api/v1/complaints/", BODY, format="json")

    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]["message"]


def test_throttle_answers_429_with_retry_after(key_client, settings):
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "principal": "3/minute"}
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    try:
        codes = [key_client.get("/api/v1/complaints/").status_code for _ in range(4)]
        last = key_client.get("/api/v1/complaints/")
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original

    assert codes == [200, 200, 200, 429]
    assert int(last.headers["Retry-After"]) > 0
    assert last.json()["error"]["code"] == "rate_limited"
