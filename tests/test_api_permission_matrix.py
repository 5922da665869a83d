"""Who may call what in the API: the fixed cast signed in, a tool's key, and keys acting for each person.

Two promises are checked over every guarded endpoint (docs/api.md, "Who may do what"):
- a key bound to a person never does more than that person could in the browser, whatever its scopes;
- a tool's key (bound to nobody) may read escalations and approvals but never act on them: that is a person's word.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from recovery.escalation import services as escalation_services
from recovery.offers import services as offer_services
from tests.factories import ComplaintFactory
from tests.recovery.offers_factories import complaint as offer_complaint
from tests.recovery.offers_factories import gesture
from tickets.actors import ActorRef
from tickets.apikeys import api_key_create
from tickets.models import ApiKey

pytestmark = pytest.mark.django_db

ALL_SCOPES = list(ApiKey.Scope.values)
# The cast's fixture names and their roles, lowest first; the outsider has none.
ROLE_RANK = {"outsider": -1, "agent": 0, "lead": 1, "senior": 2, "executive": 3}
RANK_OF_ROLE = {"agent": 0, "lead": 1, "manager": 2, "executive": 3}

RULE = {
    "name": "Severity 5 to a manager",
    "order": 15,
    "conditions": [{"field": "severity", "operator": "gte", "value": 5}],
    "actions": [{"type": "escalate", "value": "manager"}],
}
ACTIVITY = {
    "source": "shop",
    "external_id": "order-1",
    "kind": "purchase",
    "occurred_at": "2025-06-03T09:00:00Z",
    "amount": "35.00",
    "currency": "GBP",
    "customer": {"external_id": "cust-1"},
}


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    path: Callable[[], str]  # builds the data it needs and answers the URL
    body: dict | None
    min_role: str  # the lowest role a person needs (in the browser and behind a key)
    ok: int
    tool_may: bool = True  # may a key bound to nobody (with the scope) call it?


def _executive_escalation_path(action: str) -> Callable[[], str]:
    def build() -> str:
        complaint = ComplaintFactory(says_wont_return=True)  # "won't return" escalates straight to executives
        escalation = escalation_services.complaint_assess(complaint_id=complaint.pk, trigger="logged").escalation
        assert escalation.tier == "executive"
        return f"/api/v1/escalations/{escalation.pk}/{action}/"

    return build


def _manager_approval_path() -> str:
    from tests.factories import UserFactory

    proposer = UserFactory(username="agent_paul", role="agent")
    offer = offer_services.offer_create(
        complaint=offer_complaint(), gesture=gesture("g300", cost=Decimal("300.00")), actor=ActorRef(user=proposer)
    )
    approval = offer.approval_requests.get()
    assert approval.required_tier == "manager"
    return f"/api/v1/approvals/{approval.pk}/decision/"


def _assessed_complaint(suffix: str) -> Callable[[], str]:
    def build() -> str:
        complaint = ComplaintFactory(says_wont_return=True)
        escalation_services.complaint_assess(complaint_id=complaint.pk, trigger="logged")
        return f"/api/v1/complaints/{complaint.reference}/{suffix}"

    return build


def _offer_path() -> str:
    case = offer_complaint()
    gesture("test_note", cost=Decimal("10.00"))
    return f"/api/v1/complaints/{case.reference}/offers/"


ENDPOINTS = [
    Endpoint("complaints list", "get", lambda: "/api/v1/complaints/", None, "agent", 200),
    Endpoint("assessment", "get", _assessed_complaint("assessment/"), None, "agent", 200),
    Endpoint("offer make", "post", _offer_path, {"gesture": "test_note"}, "agent", 201),
    Endpoint("rules read", "get", lambda: "/api/v1/escalation-rules/", None, "agent", 200),
    Endpoint("rules write", "post", lambda: "/api/v1/escalation-rules/", RULE, "manager", 201),
    Endpoint("escalations list", "get", lambda: "/api/v1/escalations/", None, "lead", 200),
    # An executive escalation: only the executive may act on it, and never a tool.
    Endpoint("acknowledge", "post", _executive_escalation_path("acknowledge"), {}, "executive", 200, tool_may=False),
    Endpoint("take over", "post", _executive_escalation_path("take-over"), {}, "executive", 200, tool_may=False),
    Endpoint("de-escalate", "post", _executive_escalation_path("deescalate"), {"note": "Handled"}, "executive", 200,
             tool_may=False),
    Endpoint("approvals list", "get", lambda: "/api/v1/approvals/", None, "lead", 200),
    # A 300.00 gesture proposed by an agent waits for a manager.
    Endpoint("approval decide", "post", _manager_approval_path, {"decision": "approve"}, "manager", 200,
             tool_may=False),
    Endpoint("spend", "get", lambda: "/api/v1/spend/", None, "manager", 200),
    Endpoint("metrics", "get", lambda: "/api/v1/metrics/recovery/", None, "manager", 200),
    Endpoint("activity", "post", lambda: "/api/v1/activity/", ACTIVITY, "manager", 201),
]

CALLERS = (
    ["anonymous", "tool"]
    + [f"session:{who}" for who in ROLE_RANK]
    + [f"key:{who}" for who in ROLE_RANK]
)


def _client(request, caller: str) -> APIClient:
    client = APIClient()
    if caller == "anonymous":
        return client
    if caller == "tool":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(name='tool', scopes=ALL_SCOPES).secret}")
        return client
    how, who = caller.split(":")
    user = request.getfixturevalue(who)
    if how == "session":
        client.force_authenticate(user)
    else:
        # Every scope, even admin: the person's role must still hold the key back.
        secret = api_key_create(name=f"{who}-phone", scopes=ALL_SCOPES, user=user).secret
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def _expected(endpoint: Endpoint, caller: str) -> int:
    if caller == "anonymous":
        return 401
    if caller == "tool":
        return endpoint.ok if endpoint.tool_may else 403
    who = caller.split(":")[1]
    return endpoint.ok if ROLE_RANK[who] >= RANK_OF_ROLE[endpoint.min_role] else 403


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_api_permission_matrix(request, endpoint, caller):
    path = endpoint.path()
    client = _client(request, caller)

    response = getattr(client, endpoint.method)(path, endpoint.body, format="json")

    expected = _expected(endpoint, caller)
    assert response.status_code == expected, (caller, endpoint.name, response.content[:300])
    if expected == 403:
        assert response.json()["error"]["code"] == "permission_denied"


def test_a_key_bound_to_an_agent_with_the_admin_scope_cannot_change_rules(make_key_client, agent):
    client = make_key_client(["admin"], user=agent)

    response = client.post("/api/v1/escalation-rules/", RULE, format="json")

    assert response.status_code == 403
    assert response.json()["error"]["message"] == "The person this API key acts for needs the manager role or higher."
    assert client.get("/api/v1/escalation-rules/").status_code == 200  # reading stays as in the browser


def test_a_key_bound_to_a_deactivated_person_is_refused(make_key_client, senior):
    client = make_key_client(["metrics:read"], user=senior)
    senior.is_active = False
    senior.save(update_fields=["is_active"])

    assert client.get("/api/v1/spend/").status_code == 403


def test_a_tool_key_cannot_decide_an_approval_and_is_told_why(make_key_client):
    path = _manager_approval_path()

    response = make_key_client(["offers"]).post(path, {"decision": "approve"}, format="json")

    assert response.status_code == 403
    assert "acts for a tool, not a person" in response.json()["error"]["message"]
    assert "createapikey --user" in response.json()["error"]["message"]
