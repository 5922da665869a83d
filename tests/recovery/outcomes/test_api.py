"""GET /api/v1/complaints/{reference}/outcome/ and GET /api/v1/metrics/recovery/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import resolve, reverse
from rest_framework.test import APIClient

from tests.factories import ComplaintFactory
from tests.recovery.outcomes_factories import add_activity, make_gesture, make_resolved_complaint, open_outcome
from tickets.models import ApiKey

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 2, 1, 12, 0, tzinfo=UTC)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- Routes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "view", "name"),
    [
        ("/api/v1/complaints/CX-000042/outcome/", "ComplaintOutcomeViewSet", "complaint-outcome-list"),
        ("/api/v1/complaints/CX-000042/timeline/", "ComplaintViewSet", "complaint-timeline"),
        ("/api/v1/complaints/CX-000042/comments/", "ComplaintViewSet", "complaint-comments"),
        ("/api/v1/complaints/CX-000042/", "ComplaintViewSet", "complaint-detail"),
        ("/api/v1/metrics/recovery/", "RecoveryMetricsViewSet", "metrics-recovery-list"),
    ],
)
def test_outcome_routes_resolve_beside_the_complaint_routes(path, view, name):
    match = resolve(path)

    assert (match.func.cls.__name__, match.url_name) == (view, name)


def test_outcome_route_reverses_by_reference():
    assert reverse("complaint-outcome-list", kwargs={"reference": "CX-000007"}) == "/api/v1/complaints/CX-000007/outcome/"


# --- One complaint's outcome ----------------------------------------------------------------------


@pytest.fixture
def recovered_outcome():
    gesture = make_gesture("exec_call", cost="150.00")
    complaint = make_resolved_complaint(resolved_at=T0, fulfilled_at=T0 + timedelta(hours=5), gesture=gesture, cost="150.00")
    add_activity(complaint.customer, T0 + timedelta(days=3), amount="80.00")
    return open_outcome(complaint, now=T0 + timedelta(days=45))


def test_outcome_shows_windows_and_gesture(key_client, recovered_outcome):
    reference = recovered_outcome.complaint.reference

    response = key_client.get(f"/api/v1/complaints/{reference}/outcome/")

    assert response.status_code == 200
    body = response.json()
    assert body["complaint"] == reference
    assert body["recovered"] is True
    assert (body["offered"], body["declined"]) == (True, False)
    assert body["gesture"] == {"code": "exec_call", "title": "Exec call"}
    assert body["gesture_cost"] == "150.00"
    assert body["summary"] == "returned"
    assert [(w["days"], w["state"], w["revenue"]) for w in body["windows"]] == [
        (30, "returned", "80.00"), (60, "returned", "80.00"), (90, "returned", "80.00"),
    ]
    assert body["windows"][0]["returned_at"].startswith("2025-02-04T12:00:00")


def test_outcome_accepts_a_loose_reference(key_client, recovered_outcome):
    pk = recovered_outcome.complaint_id

    assert key_client.get(f"/api/v1/complaints/cx{pk}/outcome/").status_code == 200


def test_outcome_of_an_open_complaint_is_404_that_says_why(key_client):
    complaint = ComplaintFactory()

    response = key_client.get(f"/api/v1/complaints/{complaint.reference}/outcome/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "outcome_not_started"
    assert "watching starts when the complaint is resolved" in response.json()["error"]["message"]


def test_outcome_of_an_unknown_complaint_is_404(key_client):
    response = key_client.get("/api/v1/complaints/CX-999999/outcome/")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_outcome_needs_complaints_read_scope(make_key_client, recovered_outcome):
    client = make_key_client([ApiKey.Scope.ACTIVITY_WRITE, ApiKey.Scope.METRICS_READ])

    response = client.get(f"/api/v1/complaints/{recovered_outcome.complaint.reference}/outcome/")

    assert response.status_code == 403


@pytest.mark.parametrize(("who", "status"), [("agent", 200), ("executive", 200), ("outsider", 403)])
def test_outcome_is_readable_by_support_staff(request, recovered_outcome, who, status):
    client = client_for(request.getfixturevalue(who))

    assert client.get(f"/api/v1/complaints/{recovered_outcome.complaint.reference}/outcome/").status_code == status


def test_outcome_is_read_in_a_fixed_number_of_queries(key_client, recovered_outcome, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        key_client.get(f"/api/v1/complaints/{recovered_outcome.complaint.reference}/outcome/")


# --- Metrics --------------------------------------------------------------------------------------

METRICS = "/api/v1/metrics/recovery/"


def test_metrics_need_metrics_scope(key_client, make_key_client):
    assert key_client.get(METRICS).status_code == 403
    assert make_key_client([ApiKey.Scope.METRICS_READ]).get(METRICS).status_code == 200


@pytest.mark.parametrize(("who", "status"), [("agent", 403), ("lead", 403), ("senior", 200), ("executive", 200)])
def test_metrics_need_manager_role_for_people(request, who, status):
    assert client_for(request.getfixturevalue(who)).get(METRICS).status_code == status


def test_metrics_need_authentication(api_client):
    assert api_client.get(METRICS).status_code == 401


def test_metrics_answer_with_windows_groups_and_breakdowns(make_key_client, recovered_outcome):
    client = make_key_client([ApiKey.Scope.METRICS_READ])

    body = client.get(METRICS, {"window": 30, "cause": "product_quality"}).json()

    assert body["selected_window"] == 30
    assert body["window_days"] == [30, 60, 90]
    assert body["filters"]["cause"] == "product_quality"
    thirty = body["windows"][0]
    assert set(thirty) >= {"days", "offered", "not_offered", "declined", "never_complained", "difference", "money", "watching"}
    assert thirty["offered"]["customers"] == 1 and thirty["offered"]["returned"] == 1
    assert thirty["offered"]["thin"] is True
    assert set(body["breakdowns"]) == {"cause", "grade", "tier", "gesture", "month", "randomised"}
    assert "observational" in body["caveat"]
    assert body["breakdowns"]["gesture"][0]["key"] == "exec_call"
    assert body["currency"] == "GBP"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"window": 45}, "window"),
        ({"cause": "weather"}, "cause"),
        ({"gesture": "no_such_gesture"}, "gesture"),
        ({"month_from": "2025-13"}, "month_from"),
        ({"month_from": "2025-05", "month_to": "2025-01"}, "month_to"),
    ],
)
def test_metrics_refuse_bad_filters_with_the_field_named(make_key_client, params, field):
    response = make_key_client([ApiKey.Scope.METRICS_READ]).get(METRICS, params)

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
