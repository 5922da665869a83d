"""Hostile input never gets a 500: oversized and deeply nested bodies, numbers too large for a database column,
NUL characters and lone surrogates. Each answers a 4xx in the API's JSON error shape (or an empty result for a
filter), names the field, and stores nothing."""

from __future__ import annotations

import io
import json

import pytest
from django.test import Client

from recovery.escalation import services as escalation_services
from recovery.escalation.rules import DEFAULT_RULES
from recovery.models import CustomerActivity, EscalationRule
from tests.factories import ComplaintFactory
from tests.recovery.escalation.test_rule_builder import rule_form
from tickets.actors import ActorRef
from tickets.errors import InvalidInput
from tickets.models import ApiKey, Complaint

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"  # more than 64 bits
SHIPPED_RULES = len(DEFAULT_RULES)


@pytest.fixture
def admin_key(make_key_client):
    return make_key_client([ApiKey.Scope.ADMIN])


@pytest.fixture
def activity_key(make_key_client):
    return make_key_client([ApiKey.Scope.ACTIVITY_WRITE])


def complaint_body(**overrides) -> dict:
    body = {
        "customer": {"email": "priya@example.com"},
        "cause": "pricing",
        "subject": "Charged twice",
        "severity": 3,
    }
    body.update(overrides)
    return body


def rule_body(**overrides) -> dict:
    body = {
        "name": "Ugly to the executive",
        "conditions": [{"field": "grade", "operator": "eq", "value": "ugly"}],
        "actions": [{"type": "escalate", "value": "executive"}],
    }
    body.update(overrides)
    return body


def activity_body(**overrides) -> dict:
    body = {
        "source": "shopify",
        "external_id": "order-1",
        "kind": "purchase",
        "occurred_at": "2025-03-01T14:30:00Z",
        "customer": {"email": "priya@example.com"},
    }
    body.update(overrides)
    return body


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code
    return error


# --- size and nesting ----------------------------------------------------------------------------


def test_api_body_over_the_limit_answers_413_json_before_parsing(key_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000_000
    body = json.dumps(complaint_body(description="x" * 5_000_000))

    response = key_client.post("/api/v1/complaints/", body, content_type="application/json")

    error = assert_error(response, 413, "request_too_large")
    assert "1,000,000 bytes" in error["message"]
    assert not Complaint.objects.exists()


def test_api_json_parser_cuts_off_a_body_without_a_length_at_the_limit(settings):
    from tickets.api.parsers import ApiJSONParser

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    stream = io.BytesIO(json.dumps({"description": "x" * 500}).encode())

    with pytest.raises(Exception) as raised:
        ApiJSONParser().parse(stream, "application/json", {})

    assert raised.value.status_code == 413


def test_api_json_nested_1000_deep_answers_400_not_500(key_client):
    body = "[" * 1000 + "]" * 1000

    response = key_client.post("/api/v1/complaints/", body, content_type="application/json")

    error = assert_error(response, 400, "malformed_request")
    assert "nested deeper" in error["message"]


def test_api_json_nested_1000_deep_in_a_field_answers_400(key_client):
    nested = "[" * 1000 + "]" * 1000
    body = '{"cause": "pricing", "subject": "x", "severity": 3, "customer": ' + nested + "}"

    response = key_client.post("/api/v1/complaints/", body, content_type="application/json")

    assert_error(response, 400, "malformed_request")


# --- numbers too large for the database ----------------------------------------------------------


@pytest.mark.parametrize("param", ["customer", "assignee"])
def test_api_complaint_filter_with_an_id_over_64_bits_is_an_empty_list(key_client, param):
    ComplaintFactory()

    response = key_client.get(f"/api/v1/complaints/?{param}={HUGE}")

    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize("param", ["customer", "assignee"])
def test_queue_page_filter_with_an_id_over_64_bits_answers_the_page(client, agent, param):
    ComplaintFactory()
    client.force_login(agent)

    response = client.get(f"/complaints/?{param}={HUGE}")

    assert response.status_code == 200
    assert b"CX-" not in response.content.split(b"queue-results", 1)[-1]


@pytest.mark.parametrize("value", [HUGE, "-" + HUGE])
def test_api_severity_filter_out_of_range_answers_200(key_client, value):
    ComplaintFactory(severity=3)

    response = key_client.get(f"/api/v1/complaints/?severity_min={value}")

    assert response.status_code == 200


def test_api_created_filter_with_an_offset_postgresql_refuses_is_compared_in_utc(key_client):
    ComplaintFactory()

    response = key_client.get("/api/v1/complaints/", {"created_before": "3203-08-20T13:16:52-18:41"})

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("/api/v1/offers/{}/", 404),
        ("/api/v1/escalations/{}/", 404),
        ("/api/v1/escalation-rules/{}/", 404),
        ("/api/v1/approvals/{}/", 404),
        ("/api/v1/customers/{}/", 404),
    ],
)
def test_api_path_id_over_64_bits_answers_404(make_key_client, path, ok):
    client = make_key_client(list(ApiKey.Scope.values))

    response = client.get(path.format(HUGE))

    assert_error(response, ok, "not_found")


def test_api_spend_month_at_the_end_of_time_answers_400_not_500(make_key_client):
    client = make_key_client([ApiKey.Scope.METRICS_READ])

    response = client.get("/api/v1/spend/", {"month": "9999-12"})

    assert_error(response, 400, "validation_error")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"order": 10**12}, "order"),
        ({"name": "n" * 201}, "name"),
        ({"actions": [{"type": "set_response_deadline", "value": 1e300}]}, "actions[0].value"),
    ],
)
def test_api_rule_values_too_large_to_store_answer_400(admin_key, overrides, field):
    response = admin_key.post("/api/v1/escalation-rules/", rule_body(**overrides), format="json")

    error = assert_error(response, 400, "validation_error")
    assert field in error["fields"]
    assert EscalationRule.objects.count() == SHIPPED_RULES


# --- NUL and lone surrogates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"subject": "Charged\u0000twice"}, "subject"),
        ({"subject": "Charged \ud800 twice"}, "subject"),
        ({"customer": {"email": "priya@example.com", "name": "Pri\ud800ya"}}, "customer.name"),
        ({"description": "\udfff"}, "description"),
    ],
)
def test_api_complaint_text_with_nul_or_lone_surrogate_answers_400_naming_the_field(key_client, overrides, field):
    body = json.dumps(complaint_body(**overrides))  # json.dumps escapes a lone surrogate as \ud800

    response = key_client.post("/api/v1/complaints/", body, content_type="application/json")

    error = assert_error(response, 400, "validation_error")
    assert field in error["fields"]
    assert not Complaint.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "Ugly\u0000"}, "name"),
        ({"name": "Ugly \ud800"}, "name"),
        ({"actions": [{"type": "tag", "value": "vip\ud800"}]}, "actions[0].value"),
        ({"actions": [{"type": "tag", "value": "vip\u0000"}]}, "actions[0].value"),
        ({"conditions": [{"field": "tags", "operator": "contains", "value": "\ud83d"}]}, "conditions[0].value"),
    ],
)
def test_api_rule_with_nul_or_lone_surrogate_is_refused_and_never_stored(admin_key, overrides, field):
    response = admin_key.post("/api/v1/escalation-rules/", json.dumps(rule_body(**overrides)), content_type="application/json")

    error = assert_error(response, 400, "validation_error")
    assert field in error["fields"]
    assert EscalationRule.objects.count() == SHIPPED_RULES
    # and the rules stay readable for everyone
    assert admin_key.get("/api/v1/escalation-rules/").status_code == 200


def test_api_rule_patch_with_a_lone_surrogate_leaves_the_rule_as_it_was(admin_key):
    rule = EscalationRule.objects.order_by("order").first()
    before = rule.name

    response = admin_key.patch(
        f"/api/v1/escalation-rules/{rule.pk}/", json.dumps({"name": "x\ud800"}), content_type="application/json"
    )

    assert_error(response, 400, "validation_error")
    rule.refresh_from_db()
    assert rule.name == before


def test_rule_service_refuses_a_lone_surrogate_from_any_caller(senior):
    with pytest.raises(InvalidInput) as refused:
        escalation_services.rule_create(
            data=rule_body(actions=[{"type": "tag", "value": "\udc00"}]), actor=ActorRef(user=senior)
        )

    assert "actions[0].value" in refused.value.fields
    assert EscalationRule.objects.count() == SHIPPED_RULES


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"actions": json.dumps([{"type": "tag", "value": "vip\ud800"}])}, "actions"),
        ({"conditions": json.dumps([{"field": "tags", "operator": "contains", "value": "a\u0000"}])}, "conditions"),
    ],
)
def test_rule_form_with_nul_or_lone_surrogate_is_refused_and_the_rules_page_still_works(senior, overrides, field):
    client = Client()
    client.force_login(senior)

    response = client.post("/rules/new/", rule_form(**overrides))

    assert response.status_code == 200  # the form again, with the message
    assert "The rule was not saved" in response.content.decode()
    assert EscalationRule.objects.count() == SHIPPED_RULES
    assert client.get("/rules/").status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"external_id": "order\u00001"}, "external_id"),
        ({"source": "shop\ud800"}, "source"),
        ({"customer": {"email": "priya@example.com", "external_id": "\ud800"}}, "customer.external_id"),
    ],
)
def test_api_activity_with_nul_or_lone_surrogate_answers_400_naming_the_field(activity_key, overrides, field):
    response = activity_key.post("/api/v1/activity/", json.dumps(activity_body(**overrides)), content_type="application/json")

    error = assert_error(response, 400, "validation_error")
    assert field in error["fields"]
    assert not CustomerActivity.objects.exists()


def test_api_activity_batch_item_with_a_nul_is_rejected_by_index_and_the_rest_kept(activity_key):
    events = [activity_body(), activity_body(external_id="order-2", kind="visit\u0000")]

    response = activity_key.post("/api/v1/activity/", json.dumps({"events": events}), content_type="application/json")

    assert response.status_code == 207
    assert response.json()["rejected"][0]["index"] == 1
    assert "kind" in response.json()["rejected"][0]["errors"]
    assert CustomerActivity.objects.count() == 1
