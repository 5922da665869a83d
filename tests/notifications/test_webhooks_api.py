"""/api/v1/webhooks/: subscribe, manage, read deliveries, send again, replay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from standardwebhooks import Webhook

from notifications import services
from notifications.models import Delivery, WebhookEndpoint

pytestmark = pytest.mark.django_db
URL = "/api/v1/webhooks/"


@pytest.fixture
def admin_client(make_key_client):
    return make_key_client(["admin"])


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_webhook_create_answers_201_with_id_and_a_whsec_secret_shown_once(admin_client):
    response = admin_client.post(URL, {"url": "https://example.com/hooks", "events": ["complaint.logged"], "description": "CRM"}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["secret"].startswith("whsec_") and body["id"] and body["events"] == ["complaint.logged"]
    assert body["active"] is True and body["description"] == "CRM"
    again = admin_client.get(f"{URL}{body['id']}/").json()
    assert "secret" not in again and body["secret"] not in str(WebhookEndpoint.objects.get().secret_encrypted)


def test_webhook_create_without_events_subscribes_to_everything(admin_client):
    response = admin_client.post(URL, {"url": "https://example.com/hooks"}, format="json")

    assert response.status_code == 201 and response.json()["events"] == []
    assert WebhookEndpoint.objects.get().wants("outcome.settled")


def test_webhook_create_with_unknown_events_answers_422_naming_them(admin_client):
    response = admin_client.post(URL, {"url": "https://example.com/h", "events": ["complaint.logged", "complaint.exploded", "nope"]}, format="json")

    # Well-formed by the schema, refused by the catalogue: 422 like every other domain refusal.
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "complaint.exploded, nope" in error["fields"]["events"][0]
    assert WebhookEndpoint.objects.count() == 0


@pytest.mark.parametrize("body", [{"url": "not a url"}, {"url": "ftp://example.com/x"}, {}, {"url": "https://e.com", "events": "complaint.logged"}])
def test_webhook_create_with_bad_input_answers_400_not_500(admin_client, body):
    response = admin_client.post(URL, body, format="json")

    assert response.status_code == 400 and response.json()["error"]["message"]


def test_webhook_endpoints_need_the_admin_scope(make_key_client):
    client = make_key_client(["complaints:read", "complaints:write", "escalations", "offers"])

    assert client.get(URL).status_code == 403
    assert client.post(URL, {"url": "https://example.com/h"}, format="json").status_code == 403


@pytest.mark.parametrize("who, expected", [("agent", 403), ("lead", 403), ("senior", 201), ("executive", 201)])
def test_webhook_create_permission_for_people(request, who, expected):
    client = client_for(request.getfixturevalue(who))

    assert client.post(URL, {"url": "https://example.com/h"}, format="json").status_code == expected


def test_webhook_anonymous_answers_401(api_client):
    assert api_client.get(URL).status_code == 401


def test_webhook_patch_changes_events_and_switches_off(admin_client):
    pk = admin_client.post(URL, {"url": "https://example.com/h"}, format="json").json()["id"]

    response = admin_client.patch(f"{URL}{pk}/", {"events": ["offer.fulfilled"], "active": False}, format="json")

    assert response.status_code == 200
    assert response.json()["events"] == ["offer.fulfilled"] and response.json()["active"] is False


def test_webhook_patch_with_unknown_event_answers_422(admin_client):
    pk = admin_client.post(URL, {"url": "https://example.com/h"}, format="json").json()["id"]

    response = admin_client.patch(f"{URL}{pk}/", {"events": ["offer.stolen"]}, format="json")

    assert response.status_code == 422 and "offer.stolen" in str(response.json())


def test_webhook_create_with_a_url_of_no_real_host_answers_422(admin_client):
    # Matches the schema's pattern (an http:// URL), refused by the full URL check.
    response = admin_client.post(URL, {"url": "http://0"}, format="json")

    assert response.status_code == 422
    assert "url" in response.json()["error"]["fields"]


def test_webhook_delete_removes_it(admin_client):
    pk = admin_client.post(URL, {"url": "https://example.com/h"}, format="json").json()["id"]

    assert admin_client.delete(f"{URL}{pk}/").status_code == 204
    assert admin_client.get(f"{URL}{pk}/").status_code == 404


def test_webhook_list_shows_endpoints_without_secrets(admin_client):
    admin_client.post(URL, {"url": "https://example.com/a"}, format="json")
    admin_client.post(URL, {"url": "https://example.com/b"}, format="json")

    results = admin_client.get(URL).json()["results"]

    assert [r["url"] for r in results] == ["https://example.com/b", "https://example.com/a"]
    assert all("secret" not in r for r in results)


def test_webhook_rotate_secret_gives_a_new_secret(admin_client):
    created = admin_client.post(URL, {"url": "https://example.com/h"}, format="json").json()

    rotated = admin_client.post(f"{URL}{created['id']}/rotate-secret/").json()

    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]


def test_event_types_lists_the_catalogue(admin_client):
    types = admin_client.get(f"{URL}event-types/").json()["event_types"]

    assert set(types) == {
        "complaint.logged", "complaint.graded", "complaint.escalated", "escalation.acknowledged", "offer.proposed",
        "approval.requested", "approval.decided", "offer.fulfilled", "offer.declined", "complaint.replied",
        "complaint.resolved", "outcome.settled",
    }


def test_deliveries_lists_attempts_and_resend_and_replay_work(admin_client, receiver, django_capture_on_commit_callbacks):
    # given an endpoint that failed twice
    created = admin_client.post(URL, {"url": receiver.url, "events": ["complaint.logged"]}, format="json").json()
    receiver.default_status = 500
    with django_capture_on_commit_callbacks(execute=True):
        services.event_publish(type="complaint.logged", data={"n": 1})
    Delivery.objects.update(state=Delivery.State.FAILED)

    # when reading the log
    deliveries = admin_client.get(f"{URL}{created['id']}/deliveries/").json()["results"]

    # then the attempt is there with its status and excerpt
    [delivery] = deliveries
    assert delivery["state"] == "failed" and delivery["type"] == "complaint.logged"
    assert delivery["attempt_log"][0]["status_code"] == 500 and "receiver error" in delivery["attempt_log"][0]["response_excerpt"]
    assert admin_client.get(f"{URL}{created['id']}/deliveries/?state=succeeded").json()["results"] == []
    assert admin_client.get(f"{URL}{created['id']}/deliveries/?state=bogus").status_code == 400

    # and resending reaches the now-healthy receiver, verifiably signed with the secret given at creation
    receiver.default_status = 200
    with django_capture_on_commit_callbacks(execute=True):
        resent = admin_client.post(f"{URL}{created['id']}/deliveries/{delivery['id']}/resend/")
    assert resent.status_code == 202
    assert Delivery.objects.get().state == Delivery.State.SUCCEEDED
    Webhook(created["secret"]).verify(receiver.requests[-1].body, receiver.requests[-1].headers)

    # and replay answers how many it sent again
    Delivery.objects.update(state=Delivery.State.FAILED)
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        replay = admin_client.post(f"{URL}{created['id']}/replay/", {"since": since}, format="json")
    assert replay.status_code == 202 and replay.json() == {"replayed": 1}
    assert len(receiver.requests) == 3


def test_replay_without_since_answers_400(admin_client):
    pk = admin_client.post(URL, {"url": "https://example.com/h"}, format="json").json()["id"]

    response = admin_client.post(f"{URL}{pk}/replay/", {}, format="json")

    assert response.status_code == 400 and "since" in response.json()["error"]["fields"]


def test_deliveries_list_query_count_does_not_grow(admin_client, django_assert_max_num_queries):
    endpoint = services.webhook_endpoint_create(url="https://example.com/h").endpoint
    for n in range(3):
        services.event_publish(type="complaint.logged", data={"n": n})
    with django_assert_max_num_queries(10) as few:
        admin_client.get(f"{URL}{endpoint.pk}/deliveries/")
    for n in range(10):
        services.event_publish(type="complaint.logged", data={"n": n})

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(admin_client.get(f"{URL}{endpoint.pk}/deliveries/").json()["results"]) == 13
