"""Withdrawing an offer that was not given yet: the service (every move in and out, the approval request it
closes, a decision that comes too late, what counts as given and spent), the API, the complaint panel's button,
and a withdrawal racing a decision on real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from notifications.models import Notification
from recovery import formatting
from recovery.models import ApprovalRequest, Offer
from recovery.offers import selectors, services
from recovery.offers.services import AlreadyDecided, NotAllowed
from tests.concurrency import race
from tests.conftest import require_service
from tests.recovery.offers_factories import complaint, gesture, person
from tickets.actors import ActorRef, display_name
from tickets.errors import InvalidInput, InvalidTransition
from tickets.models import TimelineEvent

D = Decimal


def _approved(agent, code: str = "test_note", **complaint_kw) -> Offer:
    """Within the agent's £50: approved at once."""
    return services.offer_create(
        complaint=complaint(**complaint_kw), gesture=gesture(code, cost=D("5.00")), actor=ActorRef(user=agent)
    )


def _waiting(agent, code: str = "test_gift") -> Offer:
    """£300 is above a lead's £250: waits for a manager."""
    return services.offer_create(
        complaint=complaint(), gesture=gesture(code, cost=D("300.00")), actor=ActorRef(user=agent), note="please"
    )


def _offer_events(offer: Offer) -> list[tuple[str, str]]:
    return list(
        TimelineEvent.objects.filter(complaint_id=offer.complaint_id, data__offer_id=offer.pk)
        .order_by("id")
        .values_list("kind", "message")
    )


# --- the service ----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("proposed", "Withdrew “Test note” (£5.00): picked the wrong one"),
        ("pending_approval", "Withdrew “Test note” (£5.00): picked the wrong one"),
        ("approved", "Withdrew “Test note” (£5.00) before it was given: picked the wrong one"),
    ],
)
def test_offer_withdraw_moves_an_offer_not_given_yet_to_withdrawn_with_one_event(agent, status, message):
    offer = Offer.objects.create(
        complaint=complaint(), gesture=gesture(), cost=D("5"), status=status, proposed_by=agent
    )

    withdrawn = services.offer_withdraw(offer=offer, actor=ActorRef(user=agent), note="  picked the wrong one ")

    offer.refresh_from_db()
    assert withdrawn.status == offer.status == "withdrawn"
    event = TimelineEvent.objects.get(complaint=offer.complaint)
    assert (event.kind, event.message, event.actor_user) == ("offer", message, agent)
    assert (event.data["from"], event.data["to"], event.data["note"]) == (status, "withdrawn", "picked the wrong one")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "label"),
    [
        ("rejected", "rejected"),
        ("fulfilled", "fulfilled"),
        ("declined", "declined by the customer"),
        ("withdrawn", "withdrawn"),
    ],
)
def test_offer_withdraw_is_refused_once_the_offer_is_final(agent, status, label):
    offer = Offer.objects.create(
        complaint=complaint(), gesture=gesture(), cost=D("5"), status=status, proposed_by=agent
    )

    with pytest.raises(InvalidTransition) as caught:
        services.offer_withdraw(offer=offer, actor=ActorRef(user=agent))

    assert caught.value.status == 409
    assert caught.value.message == f"This offer of “Test note” is {label}, so it cannot be withdrawn. That is final."
    assert Offer.objects.get(pk=offer.pk).status == status
    assert not TimelineEvent.objects.filter(complaint=offer.complaint).exists()


@pytest.mark.django_db
def test_offer_withdraw_twice_is_refused_the_second_time(agent):
    offer = _approved(agent)

    services.offer_withdraw(offer=offer, actor=ActorRef(user=agent))
    with pytest.raises(InvalidTransition, match="is withdrawn, so it cannot be withdrawn. That is final."):
        services.offer_withdraw(offer=offer, actor=ActorRef(user=agent))

    assert len([e for e in _offer_events(offer) if e[1].startswith("Withdrew")]) == 1


@pytest.mark.django_db
def test_offer_withdraw_closes_the_waiting_request_and_it_leaves_the_inbox(agent, senior):
    offer = _waiting(agent)
    approval = offer.approval_requests.get()
    inbox = selectors.InboxView(tier="manager")
    assert list(selectors.approval_inbox(inbox)) == [approval]

    services.offer_withdraw(offer=offer, actor=ActorRef(user=agent), note="Customer moved abroad")

    approval.refresh_from_db()
    assert (approval.status, approval.decided_by, approval.note) == ("withdrawn", agent, "Customer moved abroad")
    assert approval.decided_at is not None
    assert list(selectors.approval_inbox(inbox)) == []
    assert selectors.approval_pending_count(tier="manager") == 0
    assert list(selectors.approval_inbox(selectors.InboxView(tier="manager", show="decided"))) == [approval]
    event = TimelineEvent.objects.filter(complaint=offer.complaint).latest("id")
    assert event.message == "Withdrew “Test gift” (£300.00) before a manager decided on it: Customer moved abroad"
    assert event.data["approval_id"] == approval.pk


@pytest.mark.django_db
def test_approval_decision_on_a_withdrawn_request_is_told_who_withdrew_it_and_when(agent, senior):
    offer = _waiting(agent)
    approval = offer.approval_requests.get()
    services.offer_withdraw(offer=offer, actor=ActorRef(user=agent))

    with pytest.raises(AlreadyDecided) as caught:
        services.approval_decide(approval=approval, decision="approve", actor=ActorRef(user=senior))

    approval.refresh_from_db()
    assert caught.value.status == 409
    assert caught.value.message == (
        f"Already withdrawn by Alice Agent at {formatting.when(approval.decided_at)}: there is nothing left to decide."
    )
    assert Offer.objects.get(pk=offer.pk).status == "withdrawn"
    assert approval.status == "withdrawn" and approval.decided_by == agent


@pytest.mark.django_db
def test_withdrawn_request_is_neither_reminded_nor_moved_up(agent):
    offer = _waiting(agent)
    approval = offer.approval_requests.get()
    past = timezone.now() - timedelta(hours=60)
    ApprovalRequest.objects.filter(pk=approval.pk).update(created_at=past, due_at=past)
    services.offer_withdraw(offer=offer, actor=ActorRef(user=agent))

    assert services.approval_remind(approval_id=approval.pk) is False
    ApprovalRequest.objects.filter(pk=approval.pk).update(reminded_at=past)
    assert services.approval_escalate(approval_id=approval.pk) is None
    assert ApprovalRequest.objects.filter(offer=offer).count() == 1


@pytest.mark.django_db
def test_offer_withdraw_tells_the_approvers_and_the_proposer_when_someone_else_withdrew(
    agent, lead, senior, django_capture_on_commit_callbacks, mailoutbox
):
    offer = _waiting(agent)
    Notification.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        services.offer_withdraw(offer=offer, actor=ActorRef(user=lead), note="Wrong gesture")

    told = {n.recipient.username: n for n in Notification.objects.select_related("recipient")}
    assert set(told) == {agent.username, senior.username}  # the proposer and the manager asked to decide
    assert told[senior.username].title == f"Withdrawn: Test gift on {offer.complaint.reference}"
    assert "Lena Lead withdrew “Test gift”" in told[senior.username].body
    assert told[senior.username].body.endswith(": Wrong gesture")
    assert len(mailoutbox) == 2


@pytest.mark.django_db
def test_offer_withdraw_by_the_proposer_of_an_approved_offer_tells_nobody(agent):
    offer = _approved(agent)
    Notification.objects.all().delete()

    services.offer_withdraw(offer=offer, actor=ActorRef(user=agent))

    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_offer_withdraw_needs_a_support_role_and_a_short_note(agent, outsider):
    offer = _approved(agent)

    with pytest.raises(NotAllowed):
        services.offer_withdraw(offer=offer, actor=ActorRef(user=outsider))
    with pytest.raises(InvalidInput):
        services.offer_withdraw(offer=offer, actor=ActorRef(user=agent), note="x" * 2001)

    assert Offer.objects.get(pk=offer.pk).status == "approved"


@pytest.mark.django_db
def test_withdrawn_offer_is_not_a_gesture_the_customer_received_and_may_be_offered_again(agent):
    offer = _approved(agent, grade="ugly", cause="ignored")
    case, customer_id = offer.complaint, offer.complaint.customer_id
    assert selectors.received_gesture_counts(customer_id=customer_id, now=timezone.now()) == {"test_note": 1}

    services.offer_withdraw(offer=offer, actor=ActorRef(user=agent))

    assert selectors.received_gesture_counts(customer_id=customer_id, now=timezone.now()) == {}
    other_case = complaint(customer=case.customer, grade="ugly", cause="ignored")
    view = selectors.complaint_suggestions(complaint=other_case)
    assert view.exclusion_for("test_note") is None and view.suggestion_for("test_note") is not None
    again = services.offer_create(complaint=case, gesture=offer.gesture, actor=ActorRef(user=agent))
    assert again.status == "approved"


# --- the API --------------------------------------------------------------------------------------


def _client(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.mark.django_db
def test_withdraw_api_answers_200_with_the_withdrawn_offer_and_its_closed_request(agent):
    offer = _waiting(agent)

    response = _client(agent).post(f"/api/v1/offers/{offer.pk}/withdraw/", {"note": "Not needed"}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["id"], body["status"], body["allowed_actions"]) == (offer.pk, "withdrawn", [])
    assert (body["approval"]["status"], body["approval"]["note"]) == ("withdrawn", "Not needed")


@pytest.mark.django_db
def test_withdraw_api_lists_withdraw_among_the_allowed_actions_until_the_offer_is_given(agent):
    offer = _approved(agent)
    client = _client(agent)

    before = client.get(f"/api/v1/offers/{offer.pk}/").json()["allowed_actions"]
    client.post(f"/api/v1/offers/{offer.pk}/fulfil/", {}, format="json")
    after = client.get(f"/api/v1/offers/{offer.pk}/").json()["allowed_actions"]

    assert (before, after) == (["fulfil", "decline", "withdraw"], [])


@pytest.mark.django_db
def test_withdraw_api_answers_409_with_a_clear_message_when_it_is_too_late(agent):
    offer = _approved(agent)
    client = _client(agent)
    client.post(f"/api/v1/offers/{offer.pk}/fulfil/", {}, format="json")

    response = client.post(f"/api/v1/offers/{offer.pk}/withdraw/", {}, format="json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"
    assert response.json()["error"]["message"] == (
        "This offer of “Test note” is fulfilled, so it cannot be withdrawn. That is final."
    )


@pytest.mark.django_db
def test_withdraw_api_refuses_a_note_that_is_too_long_and_an_unknown_offer(agent):
    offer = _approved(agent)

    long_note = _client(agent).post(f"/api/v1/offers/{offer.pk}/withdraw/", {"note": "x" * 2001}, format="json")
    unknown = _client(agent).post("/api/v1/offers/999999/withdraw/", {}, format="json")

    assert long_note.status_code == 400 and "note" in long_note.json()["error"]["fields"]
    assert unknown.status_code == 404
    assert Offer.objects.get(pk=offer.pk).status == "approved"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("outsider", 403), ("agent", 200), ("other_agent", 200), ("lead", 200), ("executive", 200)],
)
def test_withdraw_api_permission_matrix_for_people(request, agent, who, expected):
    offer = _approved(agent)
    user = None if who == "anonymous" else request.getfixturevalue(who)

    response = _client(user).post(f"/api/v1/offers/{offer.pk}/withdraw/", {}, format="json")

    assert response.status_code == expected
    assert Offer.objects.get(pk=offer.pk).status == ("withdrawn" if expected == 200 else "approved")


@pytest.mark.django_db
@pytest.mark.parametrize(("scopes", "expected"), [(["offers"], 200), (["complaints:read", "complaints:write"], 403)])
def test_withdraw_api_needs_the_offers_scope(make_key_client, agent, scopes, expected):
    offer = _approved(agent)

    response = make_key_client(scopes).post(f"/api/v1/offers/{offer.pk}/withdraw/", {}, format="json")

    assert response.status_code == expected
    if expected == 200:
        event = TimelineEvent.objects.filter(complaint=offer.complaint).latest("id")
        assert event.actor_label == "Integration “helpdesk”"


@pytest.mark.django_db
def test_the_openapi_schema_documents_withdraw_like_its_siblings(agent):
    paths = _client(agent).get("/api/v1/schema/?format=json").json()["paths"]

    withdraw = paths["/api/v1/offers/{id}/withdraw/"]["post"]
    assert "requestBody" in withdraw and "200" in withdraw["responses"]
    assert withdraw["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/OfferWithdrawInputRequest"
    )


# --- the complaint page ---------------------------------------------------------------------------


def _page(client, offer: Offer) -> str:
    return client.get(f"/complaints/{offer.complaint.reference}/").content.decode()


def _withdraw_form(offer: Offer) -> str:
    return f'action="/offers/{offer.pk}/withdraw/"'


@pytest.mark.django_db
def test_panel_shows_withdraw_only_while_the_offer_may_be_withdrawn(client, agent):
    approved, waiting = _approved(agent), _waiting(agent)
    given = services.offer_create(complaint=approved.complaint, gesture=gesture("given"), actor=ActorRef(user=agent))
    services.offer_fulfil(offer=given, actor=ActorRef(user=agent))
    client.force_login(agent)

    approved_page, waiting_page = _page(client, approved), _page(client, waiting)

    assert _withdraw_form(approved) in approved_page and _withdraw_form(waiting) in waiting_page
    assert _withdraw_form(given) not in approved_page
    assert f'hx-post="/offers/{approved.pk}/withdraw/"' in approved_page
    services.offer_withdraw(offer=approved, actor=ActorRef(user=agent))
    assert _withdraw_form(approved) not in _page(client, approved)


@pytest.mark.django_db
def test_withdraw_button_without_javascript_withdraws_and_returns_to_the_complaint(client, agent, senior):
    offer = _waiting(agent)
    reference = offer.complaint.reference
    client.force_login(agent)

    response = client.post(
        f"/offers/{offer.pk}/withdraw/",
        {"note": "Customer changed their mind", "next": f"/complaints/{reference}/#offers"},
    )

    assert response.status_code == 302 and response["Location"] == f"/complaints/{reference}/#offers"
    assert Offer.objects.get(pk=offer.pk).status == "withdrawn"
    page = client.get(response["Location"]).content.decode()
    assert "Withdrew “Test gift”. It can be offered again if the customer needs it." in page
    assert f'id="offer-{offer.pk}" data-status="withdrawn"' in page
    assert "Withdrawn by Alice Agent at" in page and "“Customer changed their mind”" in page
    client.force_login(senior)
    assert f'id="approval-{offer.approval_requests.get().pk}"' not in client.get("/approvals/").content.decode()


@pytest.mark.django_db
def test_withdraw_button_with_htmx_answers_the_complaint_partial_in_place(client, agent):
    offer = _approved(agent)
    reference = offer.complaint.reference
    client.force_login(agent)

    response = client.post(
        f"/offers/{offer.pk}/withdraw/",
        {"note": "", "next": f"/complaints/{reference}/#offers"},
        headers={"HX-Request": "true", "HX-Current-URL": f"http://testserver/complaints/{reference}/"},
        follow=True,
    )

    html = response.content.decode()
    assert response.status_code == 200 and response.redirect_chain == [(f"/complaints/{reference}/#offers", 302)]
    assert "<html" not in html and html.lstrip().startswith('<article id="complaint"')
    assert 'hx-swap-oob="innerHTML"' in html and "Withdrew “Test note”. It can be offered again" in html
    assert 'data-status="withdrawn"' in html and "Withdrew “Test note” (£5.00) before it was given" in html


@pytest.mark.django_db
def test_withdraw_button_refusal_comes_back_as_a_message(client, agent):
    offer = _approved(agent)
    services.offer_fulfil(offer=offer, actor=ActorRef(user=agent))
    client.force_login(agent)

    response = client.post(f"/offers/{offer.pk}/withdraw/", {"next": "https://evil.example/"}, follow=True)

    assert response.redirect_chain[0][0] == f"/complaints/{offer.complaint.reference}/#offers"
    assert "is fulfilled, so it cannot be withdrawn. That is final." in response.content.decode()
    assert Offer.objects.get(pk=offer.pk).status == "fulfilled"


@pytest.mark.django_db
@pytest.mark.parametrize(("who", "expected"), [("anonymous", 302), ("outsider", 403), ("other_agent", 302)])
def test_withdraw_button_permission_matrix(request, client, agent, who, expected):
    offer = _approved(agent)
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))

    response = client.post(f"/offers/{offer.pk}/withdraw/")

    assert response.status_code == expected
    if who == "anonymous":
        assert response["Location"].startswith("/accounts/login/")
    assert Offer.objects.get(pk=offer.pk).status == ("withdrawn" if who == "other_agent" else "approved")


@pytest.mark.django_db
def test_withdraw_is_post_only_and_needs_the_csrf_token(agent):
    from django.test import Client

    offer = _approved(agent)
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent)

    assert client.get(f"/offers/{offer.pk}/withdraw/").status_code == 405
    assert client.post(f"/offers/{offer.pk}/withdraw/").status_code == 403
    assert Offer.objects.get(pk=offer.pk).status == "approved"


# --- a withdrawal racing a decision (PostgreSQL, two connections) -------------------------------



@pytest.mark.real_services
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(4))
def test_withdrawal_racing_a_decision_has_exactly_one_winner_and_no_deadlock(round_):
    if connection.vendor != "postgresql":
        require_service("needs PostgreSQL for a real race between a withdrawal and a decision")
    agent = person("race_w_agent", "agent", first_name="Rae", last_name="Agent")
    manager = person("race_w_manager", "manager", first_name="Max", last_name="Manager")
    offer = services.offer_create(
        complaint=complaint(), gesture=gesture(f"race_w_{round_}", cost=D("300.00")), actor=ActorRef(user=agent)
    )
    approval = offer.approval_requests.get()

    withdraw, decide = race(
        lambda: services.offer_withdraw(offer=Offer(pk=offer.pk), actor=ActorRef(user=agent)),
        lambda: services.approval_decide(
            approval=ApprovalRequest(pk=approval.pk), decision="reject", note="no", actor=ActorRef(user=manager)
        ),
    )

    approval = ApprovalRequest.objects.select_related("decided_by").get(pk=approval.pk)
    final = Offer.objects.get(pk=offer.pk).status
    if isinstance(withdraw, Offer):  # withdrawn first: the decision is told so
        assert isinstance(decide, AlreadyDecided), decide
        assert (final, approval.status) == ("withdrawn", "withdrawn")
        assert decide.message.startswith(f"Already withdrawn by {display_name(agent)} at ")
    else:  # rejected first: rejected is final, so the withdrawal is refused
        assert isinstance(decide, ApprovalRequest) and isinstance(withdraw, InvalidTransition), (withdraw, decide)
        assert (final, approval.status) == ("rejected", "rejected")
    assert TimelineEvent.objects.filter(complaint=offer.complaint, data__to__in=["withdrawn", "rejected"]).count() == 1


@pytest.mark.real_services
@pytest.mark.django_db(transaction=True)
def test_two_withdrawals_at_once_withdraw_once():
    if connection.vendor != "postgresql":
        require_service("needs PostgreSQL for a real race between two withdrawals")
    agent = person("race_w2_agent", "agent", first_name="Rae", last_name="Agent")
    lead = person("race_w2_lead", "lead", first_name="Lee", last_name="Lead")
    offer = services.offer_create(
        complaint=complaint(), gesture=gesture("race_w2", cost=D("5.00")), actor=ActorRef(user=agent)
    )

    results = race(
        lambda: services.offer_withdraw(offer=Offer(pk=offer.pk), actor=ActorRef(user=agent)),
        lambda: services.offer_withdraw(offer=Offer(pk=offer.pk), actor=ActorRef(user=lead)),
    )

    assert sorted(type(r).__name__ for r in results) == ["InvalidTransition", "Offer"], results
    assert TimelineEvent.objects.filter(complaint=offer.complaint, data__to="withdrawn").count() == 1
