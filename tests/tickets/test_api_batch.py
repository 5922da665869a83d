"""POST /api/v1/complaints/batch/: up to 1,000 complaints, set-based, idempotent by (source, external_id)."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.db import connection

from bench import data as bench_data
from tests.concurrency import race
from tests.conftest import require_service
from tests.factories import CustomerFactory
from tickets.apikeys import api_key_create
from tickets.models import ApiKey, Complaint, Customer, CustomerReference, TimelineEvent

URL = "/api/v1/complaints/batch/"


def item(n: int, **overrides) -> dict:
    body = {
        "customer": {"email": f"c{n % 7}@example.com", "name": f"Customer {n % 7}"},
        "cause": "pricing",
        "subject": f"Charged twice ({n})",
        "severity": 3,
        "source": "zendesk",
        "external_id": f"ZD-{n}",
    }
    body.update(overrides)
    return body


def realistic(count: int, start: int = 0) -> list[dict]:
    items = bench_data.complaint_payloads(count, start=start)
    for n, payload in enumerate(items):
        payload.setdefault("source", "shop")
        payload.setdefault("external_id", f"B-{start + n}")
    return items


@pytest.mark.django_db
def test_batch_creates_each_complaint_with_its_event_and_reports_per_item(key_client):
    known = CustomerFactory(email="c1@example.com")

    response = key_client.post(URL, {"complaints": [item(n) for n in range(10)]}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["existing"], body["failed"]) == (10, 0, 0)
    assert [r["index"] for r in body["results"]] == list(range(10))
    assert {r["status"] for r in body["results"]} == {201} and all(r["error"] is None for r in body["results"])
    by_ref = {c.reference: c for c in Complaint.objects.select_related("customer")}
    assert [by_ref[r["reference"]].external_id for r in body["results"]] == [f"ZD-{n}" for n in range(10)]
    assert Customer.objects.count() == 7 and by_ref[body["results"][1]["reference"]].customer == known
    assert TimelineEvent.objects.filter(kind=TimelineEvent.Kind.LOGGED).count() == 10
    assert all(c.channel == "api" for c in by_ref.values())


@pytest.mark.django_db
def test_batch_replayed_creates_nothing_twice(key_client):
    batch = {"complaints": [item(n) for n in range(5)]}
    first = key_client.post(URL, batch, format="json").json()

    again = key_client.post(URL, batch, format="json").json()

    assert (again["created"], again["existing"]) == (0, 5)
    assert [r["reference"] for r in again["results"]] == [r["reference"] for r in first["results"]]
    assert {r["status"] for r in again["results"]} == {200}
    assert Complaint.objects.count() == 5 and TimelineEvent.objects.count() == 5


@pytest.mark.django_db
def test_batch_redelivery_with_changes_updates_like_single_intake(key_client):
    key_client.post("/api/v1/complaints/", item(1), format="json")

    body = key_client.post(URL, {"complaints": [item(1, severity=5)]}, format="json").json()

    assert body["results"][0]["status"] == 200
    assert Complaint.objects.get().severity == 5
    assert TimelineEvent.objects.filter(kind=TimelineEvent.Kind.UPDATED).count() == 1


@pytest.mark.django_db
def test_batch_keeps_the_good_ones_and_reports_the_bad_in_the_single_intake_error_shape(key_client):
    items = [
        item(0),
        item(1, severity=9, customer={"email": "not-an-email"}),
        item(2, customer={"name": "Nobody"}),
        "not an object",
        item(4, external_id=None),
        item(5),
    ]
    single = key_client.post("/api/v1/complaints/", item(1, severity=9, customer={"email": "not-an-email"}), format="json")

    body = key_client.post(URL, {"complaints": items}, format="json").json()

    results = body["results"]
    assert [r["status"] for r in results] == [201, 400, 422, 400, 400, 201]
    assert (body["created"], body["existing"], body["failed"]) == (2, 0, 4)
    assert results[1]["error"] == single.json()["error"]  # the same code, message and fields
    assert set(results[1]["error"]["fields"]) == {"severity", "customer.email"}
    assert results[2]["error"]["fields"] == {"customer": ["Give the customer's email or their id in your system (external_id)."]}
    assert "non_field_errors" in results[3]["error"]["fields"]
    assert "external_id" in results[4]["error"]["fields"]
    assert all(r["reference"] is None for r in results[1:5])
    assert sorted(Complaint.objects.values_list("external_id", flat=True)) == ["ZD-0", "ZD-5"]


@pytest.mark.django_db
def test_batch_with_one_external_id_twice_makes_one_complaint(key_client):
    body = key_client.post(URL, {"complaints": [item(1), item(1, subject="Later words")]}, format="json").json()

    assert [r["status"] for r in body["results"]] == [201, 200]
    assert body["results"][0]["reference"] == body["results"][1]["reference"]
    assert Complaint.objects.get().subject == "Later words"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"complaints": [item(n) for n in range(1001)]}, "at most 1,000 complaints; this one has 1,001"),
        ({"complaints": []}, "at least one"),
        ({"items": []}, '{"complaints": [...]}'),
        ([item(1)], '{"complaints": [...]}'),
    ],
    ids=["1001", "empty", "no list", "a bare list"],
)
def test_batch_refuses_a_body_that_is_not_a_list_of_1_to_1000(key_client, payload, fragment):
    response = key_client.post(URL, payload, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error" and fragment in error["fields"]["complaints"][0]
    assert not Complaint.objects.exists()


@pytest.mark.django_db
def test_batch_needs_the_complaints_write_scope(make_key_client):
    reader = make_key_client([ApiKey.Scope.COMPLAINTS_READ])

    response = reader.post(URL, {"complaints": [item(1)]}, format="json")

    assert response.status_code == 403 and not Complaint.objects.exists()


@pytest.mark.django_db
def test_batch_of_1000_realistic_complaints_fits_the_body_limit_and_queues_assessment_in_chunks(
    key_client, django_capture_on_commit_callbacks, settings, monkeypatch
):
    from recovery.escalation import receivers

    items = realistic(1000)
    raw = json.dumps({"complaints": items}).encode()
    assert len(raw) > 1000 * 400  # texts an integrator would send
    queued = mock.Mock()
    monkeypatch.setattr(receivers, "complaints_assess_many_task", queued)

    with django_capture_on_commit_callbacks(execute=True):
        response = key_client.post(URL, raw, content_type="application/json")

    assert response.status_code == 200, response.content[:500]
    assert response.json()["created"] == 1000 and Complaint.objects.count() == 1000
    chunks = [c.kwargs["args"][0] for c in queued.apply_async.call_args_list]
    assert len(chunks) == 4 and sorted(i for chunk in chunks for i in chunk) == sorted(Complaint.objects.values_list("pk", flat=True))
    assert {c.kwargs["args"][1] for c in queued.apply_async.call_args_list} == {"logged"}
    # the limit of the other endpoints stays where it was
    too_big = {**items[0], "description": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    assert key_client.post("/api/v1/complaints/", too_big, format="json").status_code == 413


@pytest.mark.django_db
def test_batch_body_over_its_own_limit_answers_413(key_client, settings):
    settings.API_BATCH_MAX_BODY_SIZE = settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    response = key_client.post(URL, {"complaints": [item(1, description="x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE)]}, format="json")

    assert response.status_code == 413 and response.json()["error"]["code"] == "request_too_large"


@pytest.mark.django_db
def test_batch_creates_new_customers_with_everything_sent_and_refreshes_known_ones(key_client):
    known = CustomerFactory(email="known@example.com", name="Old name", social_reach=5)
    items = [
        item(1, customer={"email": "known@example.com", "name": "New name", "social_reach": 900}),
        item(2, customer={"external_id": "cust-9", "name": "Tom", "phone": "+44 1", "lifetime_value": "120.00"}),
    ]

    key_client.post(URL, {"complaints": items}, format="json")

    known.refresh_from_db()
    assert (known.name, known.social_reach) == ("New name", 900)
    tom = CustomerReference.objects.get(source="zendesk", external_id="cust-9").customer
    assert (tom.name, tom.phone, str(tom.lifetime_value)) == ("Tom", "+44 1", "120.00")


@pytest.mark.django_db
def test_batch_with_the_same_idempotency_key_replays_the_first_answer(key_client):
    batch = {"complaints": [item(n) for n in range(3)]}
    first = key_client.post(URL, batch, format="json", HTTP_IDEMPOTENCY_KEY="b-1")

    again = key_client.post(URL, batch, format="json", HTTP_IDEMPOTENCY_KEY="b-1")

    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"


@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_of_one_batch_create_each_complaint_once():
    if connection.vendor != "postgresql":
        require_service("needs PostgreSQL for real concurrent transactions: set DATABASE_URL=postgres://...")
    from rest_framework.test import APIClient

    secret = api_key_create(name="race", scopes=["complaints:write"]).secret
    batch = {"complaints": [item(n) for n in range(50)]}

    def post() -> dict:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        response = client.post(URL, batch, format="json")
        assert response.status_code == 200, response.content
        return response.json()

    answers = race(post, post, post)

    assert all(isinstance(a, dict) for a in answers), answers
    assert sum(a["created"] for a in answers) == 50 and sum(a["existing"] for a in answers) == 100
    assert Complaint.objects.count() == 50
    assert TimelineEvent.objects.filter(kind=TimelineEvent.Kind.LOGGED).count() == 50
