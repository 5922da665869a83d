"""The OpenAPI schema is the contract: what it declares is what the API takes and answers."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.factories import ComplaintFactory
from tickets.models import ApiKey, Complaint

pytestmark = pytest.mark.django_db

METHODS = {"get", "post", "patch", "put", "delete"}


@pytest.fixture
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def resolve(schema, ref_or_schema: dict) -> dict:
    ref = ref_or_schema.get("$ref")
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]] if ref else ref_or_schema


def success_schema(schema, path: str, method: str) -> dict:
    responses = schema["paths"][path][method]["responses"]
    code = min(code for code in responses if code.startswith("2"))
    return resolve(schema, responses[code]["content"]["application/json"]["schema"])


def test_schema_request_bodies_are_json_only(schema):
    bodies = [(p, m, op["requestBody"]) for p, m, op in operations(schema) if "requestBody" in op]

    assert bodies, "no operation takes a body"
    for path, method, body in bodies:
        assert list(body["content"]) == ["application/json"], (method, path)


def test_schema_every_operation_declares_the_error_component_for_its_errors(schema):
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"error"}
    for path, method, operation in operations(schema):
        responses = operation["responses"]
        expected = {"401", "403", "429", "503"}
        if "requestBody" in operation:
            expected |= {"400", "413", "415"}
        if "{" in path:
            expected.add("404")
        for code in expected:
            assert code in responses, (method, path, code)
            declared = responses[code]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
            # the activity intake's 400 adds its per-item summary to the error
            assert declared == "Error" or (path, code, declared) == ("/api/v1/activity/", "400", "ActivityRejectedOutput")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/complaints/{reference}/assessment/",
        "/api/v1/complaints/{reference}/suggestions/",
        "/api/v1/complaints/{reference}/outcome/",
        "/api/v1/spend/",
        "/api/v1/metrics/recovery/",
    ],
)
def test_schema_single_objects_are_declared_as_objects(schema, path):
    assert success_schema(schema, path, "get")["type"] == "object"


def test_schema_comments_list_is_a_paginated_200_and_adding_one_a_201(schema):
    comments = schema["paths"]["/api/v1/complaints/{reference}/comments/"]

    listed = success_schema(schema, "/api/v1/complaints/{reference}/comments/", "get")
    assert "201" not in comments["get"]["responses"]
    assert set(listed["properties"]) >= {"next", "previous", "results"}
    assert "201" in comments["post"]["responses"] and "200" not in comments["post"]["responses"]
    # the list takes no complaint filters (it never applied them)
    assert {p["name"] for p in comments["get"].get("parameters", []) if p["in"] == "query"} <= {"cursor", "page_size"}


def test_schema_cursor_pagination_is_declared_as_it_is(schema):
    listed = success_schema(schema, "/api/v1/complaints/", "get")
    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/complaints/"]["get"]["parameters"]}

    assert set(listed["properties"]) == {"next", "previous", "results"}
    assert parameters["page_size"] == {"type": "integer", "minimum": 1, "maximum": 200}
    assert parameters["customer"]["type"] == "integer"


def test_schema_customer_detail_declares_its_complaints(schema):
    assert "complaints" in success_schema(schema, "/api/v1/customers/{id}/", "get")["properties"]


def test_schema_rule_body_is_what_the_validator_accepts(schema):
    body = schema["paths"]["/api/v1/escalation-rules/"]["post"]["requestBody"]["content"]["application/json"]
    rule = resolve(schema, body["schema"])

    assert rule["required"] == ["name", "conditions", "actions"]
    assert rule["additionalProperties"] is False
    fields = {f for branch in rule["properties"]["conditions"]["items"]["anyOf"] for f in branch["properties"]["field"]["enum"]}
    assert {"grade", "severity", "tags"} <= fields


# --- what the API answers ------------------------------------------------------------------------


def test_api_form_encoded_post_answers_415_in_the_json_error_shape(key_client):
    response = key_client.post(
        "/api/v1/complaints/", "cause=pricing&subject=x&severity=3", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert not Complaint.objects.exists()


def test_api_multipart_post_answers_415(key_client):
    response = key_client.post("/api/v1/complaints/", {"cause": "pricing", "subject": "x", "severity": "3"})

    assert response.status_code == 415


@pytest.mark.parametrize("debug", [True, False])
def test_api_unknown_path_answers_json_404_never_html(key_client, settings, debug):
    settings.DEBUG = debug

    response = key_client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_api_path_without_its_slash_answers_404_naming_the_path_with_it(key_client):
    response = key_client.get("/api/v1/complaints")

    assert response.status_code == 404
    assert "/api/v1/complaints/" in response.json()["error"]["message"]


def test_api_method_not_allowed_answers_405_in_the_json_error_shape(key_client):
    complaint = ComplaintFactory()

    response = key_client.put(f"/api/v1/complaints/{complaint.reference}/", {}, format="json")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    ("request_kwargs", "field"),
    [
        ({"HTTP_IDEMPOTENCY_KEY": "k" * 300}, "non_field_errors"),
    ],
)
def test_api_validation_errors_always_carry_fields(key_client, request_kwargs, field):
    body = {"customer": {"email": "a@example.com"}, "cause": "pricing", "subject": "x", "severity": 3}

    response = key_client.post("/api/v1/complaints/", body, format="json", **request_kwargs)

    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == "validation_error"
    assert field in error["fields"]


def test_api_activity_that_is_not_an_object_answers_400_with_fields(make_key_client):
    client = make_key_client([ApiKey.Scope.ACTIVITY_WRITE])

    response = client.post("/api/v1/activity/", [1, 2], format="json")

    assert response.status_code == 400
    assert response.json()["error"]["fields"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"severity": "3"}, "severity"),
        ({"threatens_public": "true"}, "threatens_public"),
        ({"subject": 12}, "subject"),
        ({"monetary_loss": 5}, "monetary_loss"),
        ({"monetary_loss": " 5"}, "monetary_loss"),
    ],
)
def test_api_patch_refuses_a_value_of_another_json_type(key_client, body, field):
    complaint = ComplaintFactory(severity=2)

    response = key_client.patch(f"/api/v1/complaints/{complaint.reference}/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    complaint.refresh_from_db()
    assert complaint.severity == 2


@pytest.mark.parametrize("page_size", ["0", "201", "abc", "null", "-5"])
def test_api_page_size_outside_1_to_200_answers_400(key_client, page_size):
    response = key_client.get("/api/v1/complaints/", {"page_size": page_size})

    assert response.status_code == 400
    assert "page_size" in response.json()["error"]["fields"]


@pytest.mark.parametrize("value", ["null", "maybe"])
def test_api_boolean_filter_refuses_what_is_not_true_or_false(key_client, value):
    response = key_client.get("/api/v1/complaints/", {"overdue": value})

    assert response.status_code == 400
    assert "overdue" in response.json()["error"]["fields"]


def test_api_complaint_in_the_future_answers_422_naming_the_field(key_client):
    body = {"customer": {"email": "a@example.com"}, "cause": "pricing", "subject": "x", "severity": 3,
            "occurred_at": "2999-01-01T00:00:00Z"}

    response = key_client.post("/api/v1/complaints/", body, format="json")

    assert response.status_code == 422
    assert "occurred_at" in response.json()["error"]["fields"]
    assert not Complaint.objects.exists()


def test_api_patch_with_an_empty_body_is_declared_and_refused(key_client, schema):
    complaint = ComplaintFactory()
    operation = schema["paths"]["/api/v1/complaints/{reference}/"]["patch"]

    response = key_client.patch(f"/api/v1/complaints/{complaint.reference}/", {}, format="json")

    assert response.status_code == 400
    assert operation["requestBody"]["required"] is True
    assert resolve(schema, operation["requestBody"]["content"]["application/json"]["schema"])["minProperties"] == 1


# Found by schemathesis: "0@0.a" passes `format: email` but not Django; a 65-character local part passes Django but
# not an integrator's JSON Schema validator (RFC 5321). The API refuses both, and the schema's pattern says so.
EMAILS_REFUSED = ["0@0.a", "x" * 65 + "@example.com", "a..b@example.com", "a@-b.example.com", "a@b.c0"]
EMAILS_TAKEN = ["sam@example.com", "x" * 64 + "@example.com", "o'neil+vip@mail.example.co.uk"]


@pytest.mark.parametrize("email", EMAILS_REFUSED)
def test_api_complaint_email_that_the_schema_refuses_answers_400(key_client, email):
    body = {"customer": {"email": email}, "cause": "pricing", "subject": "x", "severity": 3}

    response = key_client.post("/api/v1/complaints/", body, format="json")

    assert response.status_code == 400
    assert "customer.email" in response.json()["error"]["fields"]


@pytest.mark.parametrize("email", EMAILS_TAKEN)
def test_api_complaint_email_that_the_schema_allows_is_taken(key_client, email):
    body = {"customer": {"email": email}, "cause": "pricing", "subject": "x", "severity": 3}

    assert key_client.post("/api/v1/complaints/", body, format="json").status_code == 201


@pytest.mark.parametrize("email", EMAILS_REFUSED)
def test_api_activity_email_that_the_schema_refuses_answers_400(make_key_client, email):
    client = make_key_client([ApiKey.Scope.ACTIVITY_WRITE])
    body = {"source": "shop", "external_id": "o-1", "kind": "purchase", "occurred_at": "2025-01-01T00:00:00Z",
            "customer": {"email": email}}

    response = client.post("/api/v1/activity/", body, format="json")

    assert response.status_code == 400
    assert "customer.email" in response.json()["error"]["fields"]


def test_schema_email_pattern_is_the_one_the_api_checks(schema):
    import re

    from tickets.validators import EMAIL_PATTERN

    customer = resolve(schema, schema["components"]["schemas"]["CustomerInputRequest"])
    email = next(option for option in customer["properties"]["email"]["oneOf"] if "format" in option)
    assert email["pattern"] == EMAIL_PATTERN
    assert all(re.match(EMAIL_PATTERN, e) for e in EMAILS_TAKEN)
    assert not any(re.match(EMAIL_PATTERN, e) for e in EMAILS_REFUSED)
