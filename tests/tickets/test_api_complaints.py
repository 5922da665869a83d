from __future__ import annotations

import pytest
from django.db import connection

from tests.factories import ComplaintFactory, CustomerFactory
from tickets.models import ApiKey, Complaint, Customer, CustomerReference, Status, TimelineEvent

pytestmark = pytest.mark.django_db

URL = "/api/v1/complaints/"


def payload(**overrides):
    body = {
        "customer": {"email": "Priya.Raman@example.com", "name": "Priya Raman", "social_reach": 12400},
        "cause": "staff_conduct",
        "subject": "Agent used foul language in chat",
        "description": "The agent swore at me during a chat session.",
        "severity": 4,
        "channel": "chat",
        "monetary_loss": "25.50",
        "threatens_public": True,
        "source": "zendesk",
        "external_id": "ZD-1001",
    }
    body.update(overrides)
    return body


def test_complaint_create_returns_201_with_reference_and_contract_fields(key_client):
    response = key_client.post(URL, payload(), format="json")

    assert response.status_code == 201
    body = response.json()
    complaint = Complaint.objects.get()
    assert body["reference"] == f"CX-{complaint.pk:06d}"
    assert body["customer"]["email"] == "priya.raman@example.com"
    assert body["customer"]["social_reach"] == 12400
    assert body["cause"] == "staff_conduct" and body["severity"] == 4 and body["channel"] == "chat"
    assert body["monetary_loss"] == "25.50"
    assert body["status"] == "new" and body["tier"] == "frontline"
    for name in ("grade", "risk_score", "grade_reasons", "assignee", "created_at", "updated_at"):
        assert name in body
    assert complaint.events.get().kind == TimelineEvent.Kind.LOGGED


def test_complaint_create_defaults_channel_to_api_when_not_sent(key_client):
    body = payload()
    body.pop("channel")
    assert key_client.post(URL, body, format="json").json()["channel"] == "api"


def test_complaint_create_attaches_existing_customer_by_email(key_client):
    existing = CustomerFactory(email="priya.raman@example.com")

    key_client.post(URL, payload(), format="json")

    assert Customer.objects.count() == 1
    assert Complaint.objects.get().customer == existing


def test_complaint_create_finds_customer_by_external_id_without_email(key_client):
    first = payload(customer={"external_id": "cust-9", "name": "Tom"}, external_id="A")
    second = payload(customer={"external_id": "cust-9"}, external_id="B")

    key_client.post(URL, first, format="json")
    key_client.post(URL, second, format="json")

    assert Customer.objects.count() == 1
    assert CustomerReference.objects.get().external_id == "cust-9"
    assert Complaint.objects.filter(customer__name="Tom").count() == 2


def test_complaint_create_repeated_external_id_returns_existing_without_duplicate(key_client):
    first = key_client.post(URL, payload(), format="json")
    again = key_client.post(URL, payload(), format="json")

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["reference"] == first.json()["reference"]
    assert Complaint.objects.count() == 1
    assert TimelineEvent.objects.count() == 1  # an identical delivery writes nothing


def test_complaint_create_repeated_external_id_with_changes_updates_once(key_client):
    key_client.post(URL, payload(), format="json")

    response = key_client.post(URL, payload(severity=5, subject="Now it is worse"), format="json")

    assert response.status_code == 200
    complaint = Complaint.objects.get()
    assert (complaint.severity, complaint.subject) == (5, "Now it is worse")
    event = complaint.events.get(kind=TimelineEvent.Kind.UPDATED)
    assert event.data["changes"]["severity"] == [4, 5]


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        (payload(cause="weather"), "cause", "not a valid choice"),
        (payload(channel="pigeon"), "channel", "not a valid choice"),
        (payload(severity=9), "severity", "less than or equal to 5"),
        (payload(severity=0), "severity", "greater than or equal to 1"),
        (payload(severity="high"), "severity", "valid integer"),
        (payload(subject="x" * 201), "subject", "no more than 200"),
        (payload(description="x" * 20_001), "description", "no more than 20000"),
        (payload(customer={"email": "not-an-email"}), "customer.email", "valid email"),
        (payload(customer="priya@example.com"), "customer.non_field_errors", "dictionary"),
        (payload(customer={"email": "a@b.co", "social_reach": 10**12}), "customer.social_reach", "less than"),
        (payload(customer={"email": "a@b.co", "lifetime_value": "-5"}), "customer.lifetime_value", "greater than"),
        (payload(monetary_loss="lots"), "monetary_loss", "valid number"),
        (payload(monetary_loss="12345678901234"), "monetary_loss", "digits"),
        (payload(threatens_public="perhaps"), "threatens_public", "valid boolean"),
        (payload(occurred_at="yesterday"), "occurred_at", "Datetime has wrong format"),
        (payload(source="zen desk!"), "source", "letters, digits"),
        (payload(subject="nul\x00byte"), "subject", "Null characters"),
        (payload(currency="pounds"), "currency", "three-letter"),
        ({"cause": "pricing"}, "subject", "required"),
    ],
)
def test_complaint_create_rejects_bad_input_with_400_and_field_message(key_client, body, field, fragment):
    response = key_client.post(URL, body, format="json")

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert fragment.lower() in " ".join(error["fields"][field]).lower()
    assert field.split(".")[0].split("[")[0] in error["message"] or error["message"]
    assert Complaint.objects.count() == 0


@pytest.mark.parametrize("raw", ["{not json", "", "[1, 2", '"just a string"', "[]", "null"])
def test_complaint_create_rejects_malformed_body_with_400(key_client, raw):
    response = key_client.post(URL, data=raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"malformed_request", "validation_error"}
    assert response.json()["error"]["message"]


def test_complaint_create_rejects_form_encoded_unknown_media_type_with_415(key_client):
    response = key_client.post(URL, data="a=b", content_type="text/plain")

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_idempotency_key_replays_first_answer_and_creates_once(key_client):
    body = payload(external_id=None)

    first = key_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="req-1")
    second = key_client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="req-1")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert Complaint.objects.count() == 1


def test_idempotency_key_with_another_body_answers_422(key_client):
    key_client.post(URL, payload(external_id=None), format="json", HTTP_IDEMPOTENCY_KEY="req-1")

    response = key_client.post(URL, payload(external_id=None, severity=1), format="json", HTTP_IDEMPOTENCY_KEY="req-1")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_key_reused"
    assert Complaint.objects.count() == 1


def test_idempotency_key_failed_request_can_be_retried_with_fixed_body(key_client):
    bad = key_client.post(URL, payload(cause="nope"), format="json", HTTP_IDEMPOTENCY_KEY="req-2")
    good = key_client.post(URL, payload(), format="json", HTTP_IDEMPOTENCY_KEY="req-2")

    assert (bad.status_code, good.status_code) == (400, 201)


def test_idempotency_key_is_scoped_to_the_caller(key_client, make_key_client):
    other = make_key_client([ApiKey.Scope.COMPLAINTS_WRITE, ApiKey.Scope.COMPLAINTS_READ])

    key_client.post(URL, payload(external_id=None), format="json", HTTP_IDEMPOTENCY_KEY="same")
    other.post(URL, payload(external_id=None), format="json", HTTP_IDEMPOTENCY_KEY="same")

    assert Complaint.objects.count() == 2


def test_complaint_list_filters_by_status_cause_severity_and_search(key_client):
    target = ComplaintFactory(cause="pricing", severity=5, subject="Double charge on card")
    ComplaintFactory(cause="pricing", severity=1)
    ComplaintFactory(cause="ignored", severity=5)
    ComplaintFactory(cause="pricing", severity=5, status=Status.RESOLVED)

    response = key_client.get(URL, {"status": "new", "cause": "pricing", "severity_min": 4, "q": "double"})

    assert [row["reference"] for row in response.json()["results"]] == [target.reference]


def test_complaint_list_search_by_reference_and_customer_email(key_client):
    target = ComplaintFactory(customer=CustomerFactory(email="grace.kim@example.com"))
    ComplaintFactory()

    by_ref = key_client.get(URL, {"q": target.reference.lower()}).json()["results"]
    by_email = key_client.get(URL, {"q": "GRACE.KIM"}).json()["results"]

    assert [r["reference"] for r in by_ref] == [target.reference]
    assert [r["reference"] for r in by_email] == [target.reference]


def test_complaint_list_assignee_me_and_unassigned(agent_client, agent):
    mine = ComplaintFactory(assignee=agent)
    unassigned = ComplaintFactory()

    me = agent_client.get(URL, {"assignee": "me"}).json()["results"]
    nobody = agent_client.get(URL, {"assignee": "unassigned"}).json()["results"]

    assert [r["reference"] for r in me] == [mine.reference]
    assert [r["reference"] for r in nobody] == [unassigned.reference]


def test_complaint_list_rejects_bad_filter_value_with_400(key_client):
    response = key_client.get(URL, {"status": "sleeping"})

    assert response.status_code == 400
    assert "status" in response.json()["error"]["fields"]


def test_complaint_list_cursor_paginates_newest_first_without_gaps(key_client):
    created = [ComplaintFactory().reference for _ in range(7)]

    seen, url = [], URL + "?page_size=3"
    while url:
        body = key_client.get(url).json()
        seen += [row["reference"] for row in body["results"]]
        url = body["next"]

    assert seen == list(reversed(created))


def test_complaint_list_query_count_does_not_grow_with_rows(key_client, django_assert_max_num_queries):
    ComplaintFactory.create_batch(3)
    with django_assert_max_num_queries(6) as small:
        key_client.get(URL)
    ComplaintFactory.create_batch(30)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = key_client.get(URL)
    assert len(response.json()["results"]) == 33


def test_complaint_retrieve_by_reference_and_404_for_unknown(key_client, complaint):
    assert key_client.get(f"{URL}{complaint.reference}/").json()["subject"] == complaint.subject
    missing = key_client.get(f"{URL}CX-999999/")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert key_client.get(f"{URL}garbage/").status_code == 404


def test_complaint_patch_moves_status_along_table_and_writes_event(key_client, complaint):
    response = key_client.patch(f"{URL}{complaint.reference}/", {"status": "in_progress"}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "in_progress"
    complaint.refresh_from_db()
    assert complaint.first_response_at is not None
    assert complaint.events.get().data == {"from": "new", "to": "in_progress", "note": ""}


def test_complaint_patch_illegal_status_move_answers_409_and_changes_nothing(key_client, complaint):
    response = key_client.patch(f"{URL}{complaint.reference}/", {"status": "closed"}, format="json")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_transition"
    assert "cannot move to closed" in error["message"]
    complaint.refresh_from_db()
    assert complaint.status == Status.NEW and not complaint.events.exists()


def test_complaint_patch_assigns_and_updates_details(agent_client, complaint, other_agent):
    response = agent_client.patch(
        f"{URL}{complaint.reference}/", {"assignee": other_agent.pk, "severity": 5}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["assignee"]["username"] == other_agent.username
    assert response.json()["severity"] == 5
    assert set(complaint.events.values_list("kind", flat=True)) == {"assigned", "updated"}


def test_complaint_patch_refuses_assignee_without_role(agent_client, complaint, outsider):
    response = agent_client.patch(f"{URL}{complaint.reference}/", {"assignee": outsider.pk}, format="json")

    assert response.status_code == 422  # well-formed; refused by the domain (docs/api.md)
    assert "assignee" in response.json()["error"]["fields"]


@pytest.mark.parametrize("change", [{"status": "in_progress"}, {"assignee": None}])
def test_complaint_patch_by_a_persons_key_follows_the_assignee_rule(make_key_client, agent, other_agent, lead, change):
    case = ComplaintFactory(assignee=other_agent)
    scopes = [ApiKey.Scope.COMPLAINTS_READ, ApiKey.Scope.COMPLAINTS_WRITE]

    refused = make_key_client(scopes, user=agent).patch(f"{URL}{case.reference}/", change, format="json")

    assert refused.status_code == 403
    assert "assigned to Oscar Other" in refused.json()["error"]["message"]
    case.refresh_from_db()
    assert (case.status, case.assignee_id, case.events.count()) == ("new", other_agent.pk, 0)
    # Details stay open to anyone with the scope; a lead's key and a tool's key (acting for no one) may move it.
    details = make_key_client(scopes, user=agent).patch(f"{URL}{case.reference}/", {"severity": 4}, format="json")
    assert details.status_code == 200
    assert make_key_client(scopes, user=lead).patch(f"{URL}{case.reference}/", change, format="json").status_code == 200
    other = ComplaintFactory(assignee=other_agent)
    assert make_key_client(scopes).patch(f"{URL}{other.reference}/", change, format="json").status_code == 200


def test_complaint_patch_empty_body_answers_400(agent_client, complaint):
    assert agent_client.patch(f"{URL}{complaint.reference}/", {}, format="json").status_code == 400


def test_complaint_put_is_not_allowed(agent_client, complaint):
    response = agent_client.put(f"{URL}{complaint.reference}/", payload(), format="json")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_timeline_lists_every_change_newest_first_with_actor(agent_client, agent, complaint):
    agent_client.patch(f"{URL}{complaint.reference}/", {"status": "in_progress"}, format="json")
    agent_client.post(f"{URL}{complaint.reference}/comments/", {"kind": "note", "body": "Called the customer"}, format="json")
    agent_client.patch(f"{URL}{complaint.reference}/", {"status": "resolved"}, format="json")

    events = agent_client.get(f"{URL}{complaint.reference}/timeline/").json()["results"]

    assert [e["kind"] for e in events] == ["status_changed", "commented", "status_changed"]
    assert events[0]["actor"] == {"type": "user", "label": "Alice Agent", "user_id": agent.pk}


def test_comment_reply_counts_as_first_response_once_emailed(agent_client, complaint, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(
            f"{URL}{complaint.reference}/comments/", {"kind": "reply", "body": "Sorry, we are on it."}, format="json"
        )

    assert response.status_code == 201 and response.json()["delivery_state"] == "pending"
    complaint.refresh_from_db()
    assert complaint.first_response_at is not None
    assert [m.to for m in mailoutbox] == [[complaint.customer.email]]


def test_comment_blank_body_answers_400(agent_client, complaint):
    response = agent_client.post(f"{URL}{complaint.reference}/comments/", {"body": "   "}, format="json")
    assert response.status_code == 400


def test_schema_is_openapi3_and_documents_complaints(agent_client):
    response = agent_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/complaints/" in schema["paths"]
    assert "ApiKey" in schema["components"]["securitySchemes"]


def test_docs_page_serves_assets_locally(agent_client):
    response = agent_client.get("/api/v1/docs/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert "cdn" not in html.lower()


@pytest.mark.parametrize(
    "index",
    ["complaint_created_idx", "complaint_status_created_idx", "complaint_assignee_status_idx", "complaint_grade_created_idx"],
)
def test_complaint_list_filters_have_indexes(index):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Complaint._meta.db_table)
    assert constraints[index]["index"]
