"""Two people decide the same approval request at the same moment, on real PostgreSQL with two threads
(two connections, two transactions): exactly one decision wins, the other is told who decided and when."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection
from rest_framework.test import APIClient

from recovery import formatting
from recovery.models import ApprovalRequest, Offer
from recovery.offers import selectors as offer_selectors
from recovery.offers import services
from recovery.offers.services import AlreadyDecided
from tests.concurrency import race
from tests.conftest import require_service
from tests.recovery.offers_factories import complaint, gesture, person
from tickets.actors import ActorRef, display_name
from tickets.models import TimelineEvent

pytestmark = [pytest.mark.real_services, pytest.mark.django_db(transaction=True)]


def _need_postgres() -> None:
    if connection.vendor != "postgresql":
        require_service("needs PostgreSQL for a real concurrent double decision: set DATABASE_URL=postgres://...")



@pytest.fixture
def cast():
    return {
        "agent": person("race_agent", "agent", first_name="Rae", last_name="Agent"),
        "manager": person("race_manager", "manager", first_name="Max", last_name="Manager"),
        "executive": person("race_exec", "executive", first_name="Eve", last_name="Exec"),
    }


def _waiting(agent, n: int) -> ApprovalRequest:
    offer = services.offer_create(
        complaint=complaint(), gesture=gesture(f"race_{n}", cost=Decimal("300.00")), actor=ActorRef(user=agent)
    )
    return offer.approval_requests.get()


@pytest.mark.parametrize("round_", range(5))
def test_concurrent_double_decision_has_exactly_one_winner(cast, round_):
    _need_postgres()
    approval = _waiting(cast["agent"], round_)

    results = race(
        lambda: services.approval_decide(
            approval=ApprovalRequest(pk=approval.pk), decision="approve", note="yes", actor=ActorRef(user=cast["manager"])
        ),
        lambda: services.approval_decide(
            approval=ApprovalRequest(pk=approval.pk), decision="reject", note="no", actor=ActorRef(user=cast["executive"])
        ),
    )

    winners = [r for r in results if isinstance(r, ApprovalRequest)]
    losers = [r for r in results if isinstance(r, AlreadyDecided)]
    assert (len(winners), len(losers)) == (1, 1), results
    decided = ApprovalRequest.objects.select_related("decided_by").get(pk=approval.pk)
    assert decided.status == winners[0].status
    assert losers[0].message == (
        f"Already decided by {display_name(decided.decided_by)} at {formatting.when(decided.decided_at)}: "
        f"{decided.get_status_display().lower()}."
    )
    offer = Offer.objects.get(pk=approval.offer_id)
    assert offer.status == ("approved" if decided.status == "approved" else "rejected")
    assert TimelineEvent.objects.filter(complaint=offer.complaint, kind="approval").count() == 1


def test_concurrent_double_decision_through_the_api_answers_200_and_409(cast):
    _need_postgres()
    approval = _waiting(cast["agent"], 99)

    def post(user, body):
        def call():
            client = APIClient()
            client.force_authenticate(user)
            return client.post(f"/api/v1/approvals/{approval.pk}/decision/", body, format="json")

        return call

    responses = race(
        post(cast["manager"], {"decision": "approve", "amount": "250.00", "note": "250 is enough"}),
        post(cast["executive"], {"decision": "approve"}),
    )

    assert sorted(r.status_code for r in responses) == [200, 409], [getattr(r, "content", r) for r in responses]
    loser = next(r for r in responses if r.status_code == 409).json()["error"]
    assert loser["code"] == "already_decided" and loser["message"].startswith("Already decided by ")
    assert ApprovalRequest.objects.filter(offer_id=approval.offer_id, status="approved").count() == 1


def test_concurrent_decisions_that_both_read_pending_still_have_one_winner(cast, monkeypatch):
    """Force the worst interleaving: both deciders have read the request as pending before either writes, so the
    loser is stopped by the conditional UPDATE ... WHERE status = 'pending', not by an earlier read."""
    _need_postgres()
    approval = _waiting(cast["agent"], 77)
    both_read = threading.Barrier(2)
    real_limits = offer_selectors.approval_limits

    def limits_after_both_read():
        both_read.wait(timeout=30)  # called after the status check, before the claim
        return real_limits()

    monkeypatch.setattr(offer_selectors, "approval_limits", limits_after_both_read)

    results = race(
        lambda: services.approval_decide(
            approval=ApprovalRequest(pk=approval.pk), decision="approve", amount=Decimal("300.00"),
            actor=ActorRef(user=cast["manager"]),
        ),
        lambda: services.approval_decide(
            approval=ApprovalRequest(pk=approval.pk), decision="approve", amount=Decimal("280.00"), note="a bit less",
            actor=ActorRef(user=cast["executive"]),
        ),
    )

    assert sorted(type(r).__name__ for r in results) == ["AlreadyDecided", "ApprovalRequest"], results
    decided = ApprovalRequest.objects.get(pk=approval.pk)
    assert Offer.objects.get(pk=approval.offer_id).cost == decided.approved_amount
    assert TimelineEvent.objects.filter(complaint=approval.offer.complaint, kind="approval").count() == 1
