"""/playbook/: managers list, create, edit and switch off gestures with validation; executives set the limits."""

from __future__ import annotations

from decimal import Decimal

import pytest

from recovery.models import ApprovalLimit, Gesture
from recovery.offers import services
from tests.recovery.offers_factories import complaint, gesture
from tickets.actors import ActorRef

pytestmark = pytest.mark.django_db

VALID = {
    "title": "Flowers with a note",
    "code": "flowers_note",
    "script": "Send a small bunch of flowers with a handwritten note naming what went wrong.",
    "resource_kind": "attention",
    "causes": ["staff_conduct", "ignored"],
    "cost": "30.00",
    "cost_pct_of_loss": "",
    "perceived_value": "70.00",
    "surprise": "2",
    "min_grade": "bad",
    "approval_tier": "lead",
    "per_customer_per_year": "1",
    "active": "on",
}


def test_playbook_lists_the_starter_gestures_with_their_use(client, agent):
    client.force_login(agent)

    html = client.get("/playbook/").content.decode()

    assert "Executive&#x27;s personal call and six months free" in html
    assert "150% of the loss" in html
    assert "New gesture" not in html and "Switch off" not in html  # agents read, managers edit


def test_playbook_filters_by_cause_and_state(client, senior):
    gesture("pricing_only", title="Only for pricing", causes=["pricing"])
    gesture("switched_off", title="Old and off", active=False)
    client.force_login(senior)

    pricing = client.get("/playbook/", {"cause": "pricing"}).content.decode()
    ignored = client.get("/playbook/", {"cause": "ignored"}).content.decode()
    inactive = client.get("/playbook/", {"show": "inactive"}).content.decode()

    assert "Only for pricing" in pricing and "Only for pricing" not in ignored
    assert "Old and off" in inactive and "Old and off" not in pricing


def test_manager_creates_a_gesture_that_is_then_suggested(client, senior):
    client.force_login(senior)

    response = client.post("/playbook/new/", VALID)

    assert response.status_code == 302
    created = Gesture.objects.get(code="flowers_note")
    assert (created.causes, created.cost, created.surprise, created.approval_tier) == (
        ["ignored", "staff_conduct"], Decimal("30.00"), 2, "lead"
    )
    view = services.complaint_suggest(complaint=complaint(grade="ugly", cause="ignored"))
    assert "flowers_note" in view.specs


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"causes": []}, "causes", "This field is required."),
        ({"causes": ["ignored", "weather"]}, "causes", "Select a valid choice."),
        ({"surprise": "4"}, "surprise", "Select a valid choice."),
        ({"cost": "-1"}, "cost", "greater than or equal to 0"),
        ({"per_customer_per_year": "0"}, "per_customer_per_year", "greater than or equal to 1"),
        ({"cost_pct_of_loss": "0"}, "cost_pct_of_loss", "greater than or equal to 0.01"),
        ({"script": "Be nice."}, "script", "in a sentence or two"),
        ({"code": "has spaces"}, "code", "letters, numbers, underscores or hyphens"),
        ({"approval_tier": "ceo"}, "approval_tier", "Select a valid choice."),
    ],
)
def test_playbook_form_refuses_invalid_gestures_with_field_errors(client, senior, change, field, message):
    client.force_login(senior)

    response = client.post("/playbook/new/", {**VALID, **change})

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not Gesture.objects.filter(code=VALID["code"]).exists()


def test_playbook_form_refuses_a_code_already_taken(client, senior):
    client.force_login(senior)

    response = client.post("/playbook/new/", {**VALID, "code": "handwritten_note"})

    assert response.status_code == 400
    assert "already exists" in str(response.context["form"].errors)


def test_manager_edits_a_gesture_but_not_its_code(client, senior):
    note = Gesture.objects.get(code="handwritten_note")
    client.force_login(senior)

    response = client.post(f"/playbook/{note.pk}/", {**VALID, "code": "renamed", "title": "Handwritten card", "cost": "6.50"})

    assert response.status_code == 302
    note.refresh_from_db()
    assert (note.code, note.title, note.cost) == ("handwritten_note", "Handwritten card", Decimal("6.50"))


def test_switching_a_gesture_off_stops_suggesting_and_offering_it(client, senior, agent):
    note = Gesture.objects.get(code="handwritten_note")
    client.force_login(senior)

    client.post(f"/playbook/{note.pk}/toggle/", {"active": "0"})

    note.refresh_from_db()
    assert not note.active
    assert "handwritten_note" not in services.complaint_suggest(complaint=complaint()).specs
    client.force_login(agent)
    response = client.post(f"/offers/new/{complaint().reference}/", {"gesture": note.pk}, follow=True)
    assert "is switched off in the playbook" in response.content.decode()


@pytest.mark.parametrize(("who", "expected"), [("agent", 403), ("lead", 403), ("senior", 302)])
def test_only_managers_change_the_playbook(request, client, who, expected):
    client.force_login(request.getfixturevalue(who))
    note = Gesture.objects.get(code="handwritten_note")

    assert client.post(f"/playbook/{note.pk}/toggle/", {"active": "0"}).status_code == expected
    assert client.post("/playbook/new/", VALID).status_code == (expected if expected == 403 else 302)


def test_executive_sets_the_approval_limits_and_a_manager_may_not(client, senior, executive):
    client.force_login(senior)
    assert client.post("/playbook/limits/", {"frontline": "80", "lead": "250", "manager": "1000", "executive": ""}).status_code == 403

    client.force_login(executive)
    client.post("/playbook/limits/", {"frontline": "80", "lead": "250", "manager": "1000", "executive": ""})
    bad = client.post("/playbook/limits/", {"frontline": "80", "lead": "900", "manager": "500", "executive": ""}, follow=True)

    assert ApprovalLimit.objects.get(tier="frontline").amount == Decimal("80.00")
    assert ApprovalLimit.objects.get(tier="manager").amount == Decimal("1000.00")
    assert "cannot be below the team lead limit" in bad.content.decode()


def test_gesture_save_service_refuses_non_managers(agent):
    with pytest.raises(services.NotAllowed):
        services.gesture_save(gesture=None, data={"code": "x"}, actor=ActorRef(user=agent))
