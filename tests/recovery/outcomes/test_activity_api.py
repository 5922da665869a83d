"""POST /api/v1/activity/: one event or a batch, replays, bad items by index, scopes and roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import resolve
from rest_framework.test import APIClient

from recovery.models import CustomerActivity
from tests.recovery.outcomes_factories import make_resolved_complaint, open_outcome, states
from tickets.models import ApiKey

pytestmark = pytest.mark.django_db

URL = "/api/v1/activity/"
T0 = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)


def event(n: int = 1, **overrides) -> dict:
    data = {
        "source": "shop",
        "external_id": f"order-{n}",
        "kind": "purchase",
        "occurred_at": (T0 + timedelta(days=2)).isoformat(),
        "amount": "35.00",
        "currency": "GBP",
        "customer": {"external_id": f"cust-{n}"},
    }
    data.update(overrides)
    return data


@pytest.fixture
def commerce(make_key_client):
    return make_key_client([ApiKey.Scope.ACTIVITY_WRITE])


def test_activity_route_resolves():
    assert resolve(URL).url_name == "activity-list"


def test_post_one_event_stores_it(commerce):
    response = commerce.post(URL, event(), format="json")

    assert response.status_code == 201, response.json()
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": [], "message": "1 new, 0 already known."}
    activity = CustomerActivity.objects.get()
    assert (activity.kind, str(activity.amount), activity.occurred_at) == ("purchase", "35.00", T0 + timedelta(days=2))


def test_post_the_same_event_again_adds_nothing(commerce):
    commerce.post(URL, event(), format="json")

    response = commerce.post(URL, event(), format="json")

    assert response.status_code == 200
    assert response.json()["duplicates"] == 1
    assert CustomerActivity.objects.count() == 1


def test_post_batch_keeps_good_items_and_reports_bad_ones_by_index(commerce):
    events = [event(1), event(2, kind="refund"), event(3), event(4, occurred_at="", customer={})]

    response = commerce.post(URL, {"events": events}, format="json")

    assert response.status_code == 207
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    assert body["rejected"] == [
        {"index": 1, "errors": {"kind": ["Choose one of: purchase, visit, booking, renewal, gesture_redemption."]}},
        {
            "index": 3,
            "errors": {
                "occurred_at": ["Give the time it happened, e.g. 2025-03-01T14:30:00Z."],
                "customer": ["Say whose activity it is: give the customer's external_id or email."],
            },
        },
    ]
    assert body["message"] == "2 of 4 activities were rejected (see 'rejected'); the other 2 were kept: 2 new, 0 already known."
    assert set(CustomerActivity.objects.values_list("external_id", flat=True)) == {"order-1", "order-3"}


def test_post_replayed_batch_reports_duplicates(commerce):
    batch = {"events": [event(n) for n in range(10)]}
    commerce.post(URL, batch, format="json")

    response = commerce.post(URL, batch, format="json")

    assert response.status_code == 200
    assert (response.json()["accepted"], response.json()["duplicates"]) == (0, 10)
    assert CustomerActivity.objects.count() == 10


def test_post_batch_of_a_thousand_is_accepted(commerce):
    response = commerce.post(URL, {"events": [event(n) for n in range(1000)]}, format="json")

    assert response.status_code == 201
    assert response.json()["accepted"] == 1000


def test_post_batch_over_a_thousand_is_refused_whole(commerce):
    response = commerce.post(URL, {"events": [event(n) for n in range(1001)]}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "at most 1,000" in response.json()["error"]["message"]
    assert not CustomerActivity.objects.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"events": []}, "'events' is empty: send at least one activity."),
        ({"events": "lots"}, "'events' must be a list of activity objects."),
        ([event()], 'Send a JSON object: one activity, or {"events": [...]}.'),
    ],
)
def test_post_malformed_body_is_a_clear_400(commerce, body, message):
    response = commerce.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["message"] == message


def test_post_single_bad_event_is_400_with_field_errors(commerce):
    response = commerce.post(URL, event(amount="-3"), format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["error"]["fields"] == {"amount": ["Amounts cannot be negative; a refund is not a return."]}
    assert body["rejected"][0]["index"] == 0


def test_post_batch_with_every_item_bad_is_422_naming_each(commerce):
    response = commerce.post(URL, {"events": [event(1, kind="x"), event(2, source="")]}, format="json")

    # a list of objects is a well-formed batch; that none could be kept is the items' fault (docs/api.md)
    assert response.status_code == 422
    assert set(response.json()["error"]["fields"]) == {"events[0].kind", "events[1].source"}


def test_post_activity_closes_the_customers_open_outcome(commerce, django_capture_on_commit_callbacks):
    complaint = make_resolved_complaint(resolved_at=T0)
    outcome = open_outcome(complaint, now=T0)

    with django_capture_on_commit_callbacks(execute=True):
        commerce.post(URL, event(customer={"email": complaint.customer.email}), format="json")

    assert states(outcome) == {30: "returned", 60: "returned", 90: "returned"}


# --- Who may post ---------------------------------------------------------------------------------


def test_post_needs_authentication(api_client):
    assert api_client.post(URL, event(), format="json").status_code == 401
    assert not CustomerActivity.objects.exists()


def test_post_refuses_key_without_activity_scope(key_client):
    response = key_client.post(URL, event(), format="json")

    assert response.status_code == 403
    assert "activity:write" in response.json()["error"]["message"]


@pytest.mark.parametrize(("who", "status"), [("agent", 403), ("lead", 403), ("senior", 201), ("executive", 201), ("outsider", 403)])
def test_post_by_people_needs_manager_role(request, who, status):
    client = APIClient()
    client.force_authenticate(request.getfixturevalue(who))

    assert client.post(URL, event(), format="json").status_code == status


def test_get_is_not_offered(commerce):
    assert commerce.get(URL).status_code in (403, 405)


def test_post_form_encoded_body_is_refused_as_unsupported(commerce):
    response = commerce.post(URL, {"source": "shop"})  # multipart, not JSON

    assert response.status_code == 415
    assert not CustomerActivity.objects.exists()


def test_post_invalid_json_is_a_clear_400(commerce):
    response = commerce.generic("POST", URL, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
