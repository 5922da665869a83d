"""API of escalation: /escalation-rules/ (CRUD, validated, admin scope, manager role), /escalations/ (list,
acknowledge, take over, de-escalate) and /complaints/{reference}/assessment/."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from recovery.escalation import services
from recovery.escalation.rules import DEFAULT_RULES
from recovery.models import EscalationRule
from tests.factories import ComplaintFactory
from tickets.actors import ActorRef

pytestmark = pytest.mark.django_db
SHIPPED_RULES = len(DEFAULT_RULES)  # the rules a new install starts with

RULE = {
    "name": "Severity 5 to a manager",
    "order": 15,
    "conditions": [{"field": "severity", "operator": "gte", "value": 5}],
    "actions": [{"type": "escalate", "value": "manager"}, {"type": "set_response_deadline", "value": 4}],
}


def client_for(request, who: str) -> APIClient:
    client = APIClient()
    if who != "anonymous":
        client.force_authenticate(request.getfixturevalue(who))
    return client


def escalated(**fields):
    complaint = ComplaintFactory(says_wont_return=True, **fields)
    result = services.complaint_assess(complaint_id=complaint.pk, trigger="logged")
    return complaint, result.escalation


# --- rules -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "read", "write"),
    [("anonymous", 401, 401), ("outsider", 403, 403), ("agent", 200, 403), ("lead", 200, 403),
     ("senior", 200, 201), ("executive", 200, 201)],
)
def test_rules_permission_matrix_for_people(request, who, read, write):
    client = client_for(request, who)

    assert client.get("/api/v1/escalation-rules/").status_code == read
    assert client.post("/api/v1/escalation-rules/", RULE, format="json").status_code == write
    assert EscalationRule.objects.count() == SHIPPED_RULES + (1 if write == 201 else 0)


@pytest.mark.parametrize(
    ("scopes", "read", "write"),
    [(["admin"], 200, 201), (["complaints:read", "complaints:write", "escalations"], 403, 403)],
)
def test_rules_need_the_admin_scope_for_keys(make_key_client, scopes, read, write):
    client = make_key_client(scopes)

    assert client.get("/api/v1/escalation-rules/").status_code == read
    response = client.post("/api/v1/escalation-rules/", RULE, format="json")
    assert response.status_code == write
    if write == 403:
        assert "'admin' scope" in response.json()["error"]["message"]


def test_rules_list_in_evaluation_order_with_a_readable_summary(make_key_client):
    body = make_key_client(["admin"]).get("/api/v1/escalation-rules/").json()

    assert [r["order"] for r in body] == [10, 20, 30, 40]
    assert body[0]["summary"] == "When grade ugly: escalate to executive, set the response deadline to 1 hour, notify the executive"
    assert body[2]["time_based"] is True and "(once per complaint)" in body[2]["summary"]


def test_rule_create_saves_a_valid_rule(make_key_client):
    response = make_key_client(["admin"]).post("/api/v1/escalation-rules/", RULE, format="json")

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["order"], body["active"], body["match"]) == ("Severity 5 to a manager", 15, True, "all")
    assert body["actions"][1] == {"type": "set_response_deadline", "value": 4.0}
    assert EscalationRule.objects.get(pk=body["id"]).conditions == RULE["conditions"]


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        ({"conditions": [{"field": "grdae", "operator": "eq", "value": "ugly"}]}, "conditions[0].field", "Did you mean 'grade'?"),
        ({"conditions": [{"field": "severity", "operator": "eq", "value": "5"}]}, "conditions[0].value", "whole number"),
        ({"conditions": [{"field": "grade", "operator": "contains", "value": "ugly"}]}, "conditions[0].operator", "cannot be used"),
        ({"actions": [{"type": "escalate", "value": "ceo"}]}, "actions[0].value", "Unknown tier 'ceo'"),
        ({"actions": []}, "actions", "Add at least one action"),
        ({"order": "first"}, "order", "whole number"),
        ({"colour": "red"}, "colour", "Unknown key"),
    ],
)
def test_an_invalid_rule_answers_400_with_the_field_errors_and_is_not_saved(make_key_client, change, path, words):
    response = make_key_client(["admin"]).post("/api/v1/escalation-rules/", {**RULE, **change}, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert words in " ".join(error["fields"][path])
    assert EscalationRule.objects.count() == SHIPPED_RULES


def test_rule_patch_changes_some_keys_and_revalidates(make_key_client):
    client = make_key_client(["admin"])
    rule = EscalationRule.objects.get(order=20)

    ok = client.patch(f"/api/v1/escalation-rules/{rule.pk}/", {"active": False}, format="json")
    bad = client.patch(f"/api/v1/escalation-rules/{rule.pk}/", {"match": "some"}, format="json")

    assert ok.status_code == 200 and ok.json()["active"] is False
    assert bad.status_code == 400 and "match" in bad.json()["error"]["fields"]
    rule.refresh_from_db()
    assert (rule.active, rule.match) == (False, "all")


def test_rule_put_is_not_offered(make_key_client):
    rule = EscalationRule.objects.first()

    assert make_key_client(["admin"]).put(f"/api/v1/escalation-rules/{rule.pk}/", RULE, format="json").status_code == 405


def test_rule_delete(make_key_client, request):
    rule = EscalationRule.objects.get(order=30)

    assert client_for(request, "lead").delete(f"/api/v1/escalation-rules/{rule.pk}/").status_code == 403
    assert make_key_client(["admin"]).delete(f"/api/v1/escalation-rules/{rule.pk}/").status_code == 204
    assert not EscalationRule.objects.filter(pk=rule.pk).exists()


# --- escalations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("outsider", 403), ("agent", 403), ("lead", 200), ("senior", 200), ("executive", 200)],
)
def test_escalation_list_permission_matrix(request, who, expected):
    escalated()

    response = client_for(request, who).get("/api/v1/escalations/")

    assert response.status_code == expected
    if expected == 200:
        assert len(response.json()["results"]) == 1


def test_escalation_list_needs_the_escalations_scope(make_key_client):
    escalated()

    assert make_key_client(["complaints:read"]).get("/api/v1/escalations/").status_code == 403
    assert make_key_client(["escalations"]).get("/api/v1/escalations/").status_code == 200


def test_escalation_list_filters_by_tier_and_status(make_key_client, executive):
    complaint, at_exec = escalated()
    lead_one = services.complaint_assess(complaint_id=ComplaintFactory(severity=4).pk, trigger="logged").escalation
    services.escalation_acknowledge(escalation_id=lead_one.pk, actor=ActorRef(user=executive))
    client = make_key_client(["escalations"])

    by_tier = client.get("/api/v1/escalations/?tier=executive").json()["results"]
    by_status = client.get("/api/v1/escalations/?status=acknowledged").json()["results"]
    by_complaint = client.get(f"/api/v1/escalations/?complaint={complaint.reference}").json()["results"]

    assert [e["id"] for e in by_tier] == [at_exec.pk]
    assert [e["id"] for e in by_status] == [lead_one.pk]
    assert by_complaint[0]["complaint"]["reference"] == complaint.reference
    assert by_tier[0]["rule"] == {"id": at_exec.rule_id, "name": "Ugly experience goes to an executive"}
    assert by_tier[0]["complaint"]["grade"] == "ugly"


def test_escalation_list_query_count_does_not_grow_with_rows(make_key_client, django_assert_max_num_queries):
    client = make_key_client(["escalations"])
    escalated()
    with django_assert_max_num_queries(8) as few:
        client.get("/api/v1/escalations/")
    for _ in range(6):
        escalated()

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get("/api/v1/escalations/").json()["results"]) == 7


def test_acknowledge_by_the_executive(request, executive):
    complaint, escalation = escalated()
    client = client_for(request, "executive")

    response = client.post(f"/api/v1/escalations/{escalation.pk}/acknowledge/", {"note": "Calling now"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["note"], body["acknowledged_by"]["username"]) == ("acknowledged", "Calling now", executive.username)
    again = client.post(f"/api/v1/escalations/{escalation.pk}/acknowledge/", {}, format="json")
    assert again.status_code == 409
    assert "already handled" in again.json()["error"]["message"]


@pytest.mark.parametrize(("who", "expected"), [("agent", 403), ("lead", 403), ("senior", 403), ("executive", 200)])
def test_acknowledge_permission_matrix_on_an_executive_escalation(request, who, expected):
    _, escalation = escalated()

    response = client_for(request, who).post(f"/api/v1/escalations/{escalation.pk}/acknowledge/", {}, format="json")

    assert response.status_code == expected
    escalation.refresh_from_db()
    assert escalation.status == ("acknowledged" if expected == 200 else "open")


@pytest.mark.parametrize("action", ["acknowledge", "take-over", "deescalate"])
def test_a_tool_key_with_the_escalations_scope_may_read_but_not_act(make_key_client, action):
    # docs/api.md: acting on an escalation needs a person; a tool's key reads them only.
    complaint, escalation = escalated()
    tool = make_key_client(["escalations"])

    assert tool.get(f"/api/v1/escalations/{escalation.pk}/").status_code == 200
    response = tool.post(f"/api/v1/escalations/{escalation.pk}/{action}/", {"note": "Handled in Zendesk"}, format="json")

    assert response.status_code == 403
    assert "acts for a tool, not a person" in response.json()["error"]["message"]
    escalation.refresh_from_db()
    assert escalation.status == "open"
    assert not complaint.events.filter(kind__in=["acknowledged", "deescalated"]).exists()


def test_a_key_acting_for_a_person_acknowledges_as_that_person(make_key_client, executive):
    complaint, escalation = escalated()

    response = make_key_client(["escalations"], user=executive).post(f"/api/v1/escalations/{escalation.pk}/acknowledge/")

    assert response.status_code == 200
    event = complaint.events.get(kind="acknowledged")
    assert event.actor_type == "integration" and event.actor_user == executive


def test_take_over_needs_a_person(make_key_client, request, executive):
    complaint, escalation = escalated()

    assert make_key_client(["escalations"]).post(f"/api/v1/escalations/{escalation.pk}/take-over/").status_code == 403
    response = client_for(request, "executive").post(f"/api/v1/escalations/{escalation.pk}/take-over/")

    assert response.status_code == 200 and response.json()["status"] == "taken_over"
    complaint.refresh_from_db()
    assert complaint.assignee == executive


def test_deescalate_requires_a_note(request):
    complaint, escalation = escalated()
    client = client_for(request, "executive")

    missing = client.post(f"/api/v1/escalations/{escalation.pk}/deescalate/", {}, format="json")
    done = client.post(f"/api/v1/escalations/{escalation.pk}/deescalate/", {"note": "Not exec level"}, format="json")

    assert missing.status_code == 400 and "note" in missing.json()["error"]["fields"]
    assert done.status_code == 200 and done.json()["status"] == "deescalated"
    complaint.refresh_from_db()
    assert complaint.tier == "frontline"


def test_acting_on_an_unknown_escalation_is_404(request):
    assert client_for(request, "executive").post("/api/v1/escalations/999/acknowledge/").status_code == 404


# --- assessment --------------------------------------------------------------------------------


def test_assessment_answers_the_latest_grade_reasons_traces_and_decision(key_client):
    complaint, _ = escalated()

    response = key_client.get(f"/api/v1/complaints/{complaint.reference}/assessment/")

    assert response.status_code == 200
    body = response.json()
    assert (body["reference"], body["grade"], body["score"], body["tier"]) == (complaint.reference, "ugly", 70, "executive")
    assert body["reasons"][0]["code"] == "says_wont_return" and body["reasons"][0]["forces_ugly"] is True
    assert {t["name"] for t in body["traces"] if t["matched"]} == {"Ugly experience goes to an executive"}
    assert body["decision"]["target_tier"] == "executive"
    assert body["decision"]["applied"]["tier"] == {"from": "frontline", "to": "executive"}
    assert body["trigger"] == "logged"


def test_assessment_accepts_the_reference_without_the_dash(key_client):
    complaint, _ = escalated()

    assert key_client.get(f"/api/v1/complaints/cx{complaint.pk}/assessment/").status_code == 200


@pytest.mark.parametrize(
    ("scopes", "expected"), [(["complaints:read"], 200), (["escalations"], 403), (["admin"], 403)]
)
def test_assessment_needs_complaints_read(make_key_client, scopes, expected):
    complaint, _ = escalated()

    assert make_key_client(scopes).get(f"/api/v1/complaints/{complaint.reference}/assessment/").status_code == expected


def test_assessment_of_a_complaint_not_yet_assessed_is_a_clear_404(key_client):
    complaint = ComplaintFactory()

    response = key_client.get(f"/api/v1/complaints/{complaint.reference}/assessment/")

    assert response.status_code == 404
    assert "has not been assessed yet" in response.json()["error"]["message"]
    assert key_client.get("/api/v1/complaints/CX-999999/assessment/").status_code == 404


def test_assessment_for_people_with_a_role(request):
    complaint, _ = escalated()
    url = f"/api/v1/complaints/{complaint.reference}/assessment/"

    assert client_for(request, "agent").get(url).status_code == 200
    assert client_for(request, "outsider").get(url).status_code == 403
    assert client_for(request, "anonymous").get(url).status_code == 401


def test_the_openapi_schema_documents_the_escalation_routes(api_client, agent):
    api_client.force_authenticate(agent)

    paths = api_client.get("/api/v1/schema/?format=json").json()["paths"]

    for route in ("/api/v1/escalation-rules/", "/api/v1/escalations/{id}/acknowledge/",
                  "/api/v1/complaints/{reference}/assessment/"):
        assert route in paths
