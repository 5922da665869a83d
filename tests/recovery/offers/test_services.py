"""Offers and approvals services: authority per role, routing to the right tier, the transition table,
decisions (approve, approve another amount, reject), self-approval and keys without a person."""

from __future__ import annotations

from decimal import Decimal

import pytest

from notifications.models import Notification
from recovery import formatting
from recovery.models import OFFER_TRANSITIONS, ApprovalRequest, Gesture, Offer, SuggestionLog
from recovery.offers import services
from recovery.offers.routing import approval_route
from recovery.offers.services import AlreadyDecided, NotAllowed
from tests.recovery.offers_factories import complaint, gesture, person, require_approval
from tickets.actors import ActorRef
from tickets.apikeys import api_key_create
from tickets.errors import DomainError, InvalidInput, InvalidTransition
from tickets.models import Status, TimelineEvent

D = Decimal
LIMITS = {"frontline": D("50.00"), "lead": D("250.00"), "manager": D("1000.00"), "executive": None}


# --- routing: pure, no database -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cost", "offerer", "gesture_tier", "rule_tier", "required", "auto"),
    [
        ("50.00", "frontline", "frontline", None, "frontline", True),  # exactly the limit: still within it
        ("50.01", "frontline", "frontline", None, "lead", False),
        ("250.00", "frontline", "frontline", None, "lead", False),
        ("250.01", "frontline", "frontline", None, "manager", False),
        ("200.00", "lead", "frontline", None, "lead", True),
        ("1000.00", "lead", "frontline", None, "manager", False),
        ("1000.01", "manager", "frontline", None, "executive", False),
        ("99999.00", "executive", "frontline", None, "executive", True),
        ("5.00", "frontline", "executive", None, "executive", False),  # the playbook keeps it for executives
        ("5.00", "frontline", "frontline", "manager", "manager", False),  # a rule requires a manager
        ("300.00", "manager", "lead", "lead", "manager", True),
        ("0.00", "frontline", "frontline", None, "frontline", True),
    ],
)
def test_approval_route_picks_lowest_tier_that_covers_cost_and_floors(cost, offerer, gesture_tier, rule_tier, required, auto):
    route = approval_route(
        cost=D(cost), offerer_tier=offerer, gesture_tier=gesture_tier, rule_tier=rule_tier, limits=LIMITS, currency="GBP"
    )

    assert (route.required_tier, route.auto) == (required, auto)


def test_approval_route_goes_to_the_top_when_no_limit_covers_the_cost():
    capped = {**LIMITS, "executive": D("5000.00")}

    route = approval_route(cost=D("9000"), offerer_tier="manager", gesture_tier="frontline", rule_tier=None, limits=capped)

    assert route.required_tier == "executive" and not route.auto


def test_approval_route_explains_every_reason_for_the_tier():
    route = approval_route(
        cost=D("60.00"), offerer_tier="frontline", gesture_tier="lead", rule_tier="manager", limits=LIMITS, currency="GBP"
    )

    assert route.required_tier == "manager"
    assert route.reasons == (
        "£60.00 is above the £50.00 limit of front-line agents",
        "the playbook needs a team lead to approve this gesture",
        "the escalation rules require a manager to approve gestures on this complaint",
    )


# --- authority per role ---------------------------------------------------------------------------

@pytest.mark.django_db
def test_offer_within_agent_limit_is_approved_at_once_with_one_event(agent):
    case = complaint()
    note = gesture("test_note", cost=D("5.00"))

    offer = services.offer_create(complaint=case, gesture=note, actor=ActorRef(user=agent))

    offer.refresh_from_db()
    assert offer.status == Offer.Status.APPROVED
    assert offer.approved_tier == "frontline"
    assert offer.offered_cost == offer.cost == D("5.00")
    assert not ApprovalRequest.objects.exists()
    events = list(TimelineEvent.objects.filter(complaint=case, kind=TimelineEvent.Kind.OFFER))
    assert len(events) == 1
    # (When the draw shows "Test note" among the suggestions, its script follows as the note.)
    assert events[0].message.startswith(
        "Offered “Test note” (£5.00): approved at once, within the £50.00 limit of front-line agents"
    )
    assert events[0].data["from"] == "proposed" and events[0].data["to"] == "approved"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "cost", "status", "tier"),
    [
        ("agent", "50.00", "approved", None),
        ("agent", "60.00", "pending_approval", "lead"),
        ("agent", "300.00", "pending_approval", "manager"),
        ("lead", "250.00", "approved", None),
        ("lead", "300.00", "pending_approval", "manager"),
        ("senior", "1000.00", "approved", None),
        ("senior", "1200.00", "pending_approval", "executive"),
        ("executive", "25000.00", "approved", None),
    ],
)
def test_offer_limits_per_role_route_to_the_lowest_tier_that_covers_it(request, who, cost, status, tier):
    user = request.getfixturevalue(who)
    case = complaint()

    offer = services.offer_create(
        complaint=case, gesture=gesture("test_gift", cost=D(cost)), actor=ActorRef(user=user)
    )

    offer.refresh_from_db()
    assert offer.status == status
    approvals = list(offer.approval_requests.values_list("required_tier", "status"))
    assert approvals == ([(tier, "pending")] if tier else [])


@pytest.mark.django_db
def test_offer_limits_come_from_the_editable_approval_limits(agent, executive):
    services.approval_limits_set(
        limits={"frontline": D("100"), "lead": D("250"), "manager": D("1000"), "executive": None},
        actor=ActorRef(user=executive),
    )

    offer = services.offer_create(complaint=complaint(), gesture=gesture(cost=D("80.00")), actor=ActorRef(user=agent))

    assert offer.status == Offer.Status.APPROVED


@pytest.mark.django_db
def test_approval_limits_refuse_a_higher_tier_below_a_lower_one(executive):
    with pytest.raises(InvalidInput, match="manager limit .* cannot be below the team lead limit"):
        services.approval_limits_set(limits={"lead": D("500"), "manager": D("400")}, actor=ActorRef(user=executive))


@pytest.mark.django_db
def test_approval_limits_are_set_by_executives_only(senior):
    with pytest.raises(NotAllowed):
        services.approval_limits_set(limits={"frontline": D("1000")}, actor=ActorRef(user=senior))


@pytest.mark.django_db
def test_offer_never_routes_below_the_gestures_approval_tier(agent):
    call = gesture("test_exec_call", cost=D("40.00"), approval_tier="executive")

    offer = services.offer_create(complaint=complaint(), gesture=call, actor=ActorRef(user=agent))

    assert offer.status == Offer.Status.PENDING_APPROVAL
    assert offer.approval_requests.get().required_tier == "executive"


@pytest.mark.django_db
def test_offer_respects_the_tier_an_escalation_rule_requires(lead):
    case = complaint()
    require_approval(case, "manager")

    offer = services.offer_create(complaint=case, gesture=gesture(cost=D("20.00")), actor=ActorRef(user=lead))

    assert offer.approval_requests.get().required_tier == "manager"
    event = TimelineEvent.objects.get(complaint=case, kind="offer")
    assert "the escalation rules require a manager to approve gestures on this complaint" in event.message


@pytest.mark.django_db
@pytest.mark.parametrize("decision", ["junk", {"require_approval": "ceo"}, {"require_approval": 3}, {}])
def test_offer_reads_a_malformed_assessment_decision_as_no_requirement(agent, decision):
    case = complaint()
    assessment = require_approval(case, "manager")
    type(assessment).objects.filter(pk=assessment.pk).update(decision=decision)

    offer = services.offer_create(complaint=case, gesture=gesture(cost=D("5.00")), actor=ActorRef(user=agent))

    assert offer.status == Offer.Status.APPROVED


@pytest.mark.django_db
def test_offer_above_limit_emails_the_approvers_once_with_a_link_and_no_one_click_approval(
    agent, lead, django_capture_on_commit_callbacks, mailoutbox
):
    other_lead = person("lead_two", "lead", first_name="Lars", last_name="Lead")
    case = complaint()

    with django_capture_on_commit_callbacks(execute=True):
        offer = services.offer_create(complaint=case, gesture=gesture(cost=D("120.00")), actor=ActorRef(user=agent))

    approval = offer.approval_requests.get()
    assert sorted(m.to[0] for m in mailoutbox) == sorted([lead.email, other_lead.email])
    body = mailoutbox[0].body
    assert f"/approvals/#approval-{approval.pk}" in body
    assert "decide" not in body.lower().split("approvals/")[1][:40]  # the link only opens the inbox
    assert case.reference in mailoutbox[0].subject
    assert Notification.objects.filter(dedupe_key=f"approval:{approval.pk}:request").count() == 2


@pytest.mark.django_db
def test_offer_approvers_fall_back_to_the_next_tier_when_nobody_holds_it(agent, senior, django_capture_on_commit_callbacks, mailoutbox):
    # No team lead exists: the request waits at the lead tier, and the managers are told.
    with django_capture_on_commit_callbacks(execute=True):
        services.offer_create(complaint=complaint(), gesture=gesture(cost=D("120.00")), actor=ActorRef(user=agent))

    assert [m.to[0] for m in mailoutbox] == [senior.email]


@pytest.mark.django_db
def test_offer_by_a_key_without_a_person_has_the_front_lines_authority():
    key = api_key_create(name="zendesk", scopes=["offers"]).api_key
    actor = ActorRef(api_key=key)

    small = services.offer_create(complaint=complaint(), gesture=gesture("a", cost=D("50.00")), actor=actor)
    large = services.offer_create(complaint=complaint(), gesture=gesture("b", cost=D("50.01")), actor=actor)

    assert (small.status, large.status) == ("approved", "pending_approval")
    assert large.proposed_by is None


@pytest.mark.django_db
def test_offer_needs_a_support_role(outsider):
    with pytest.raises(NotAllowed, match="support role"):
        services.offer_create(complaint=complaint(), gesture=gesture(), actor=ActorRef(user=outsider))


@pytest.mark.django_db
def test_offer_refuses_the_same_gesture_twice_while_the_first_is_open(agent):
    case, note = complaint(), gesture()
    services.offer_create(complaint=case, gesture=note, actor=ActorRef(user=agent))

    with pytest.raises(DomainError, match="already offered on .* \\(approved\\)"):
        services.offer_create(complaint=case, gesture=note, actor=ActorRef(user=agent))
    assert Offer.objects.count() == 1


@pytest.mark.django_db
def test_offer_refuses_a_closed_complaint_and_a_switched_off_gesture(agent):
    closed = complaint(status=Status.CLOSED)
    with pytest.raises(DomainError, match="closed"):
        services.offer_create(complaint=closed, gesture=gesture(), actor=ActorRef(user=agent))

    with pytest.raises(InvalidInput, match="switched off"):
        services.offer_create(complaint=complaint(), gesture=gesture("off", active=False), actor=ActorRef(user=agent))


@pytest.mark.django_db
def test_offer_sizes_a_share_of_loss_gesture_from_the_loss_and_needs_a_cost_without_one(executive):
    refund = gesture("refund150", resource_kind="money_now", cost=D("0"), cost_pct_of_loss=D("150"), causes=["pricing"])

    offer = services.offer_create(complaint=complaint(cause="pricing", loss="120.00"), gesture=refund, actor=ActorRef(user=executive))
    assert offer.cost == D("180.00")

    with pytest.raises(InvalidInput, match="records no loss. Give the cost."):
        services.offer_create(complaint=complaint(cause="pricing", loss="0"), gesture=refund, actor=ActorRef(user=executive))


@pytest.mark.django_db
@pytest.mark.parametrize("cost", ["-1", "abc", "NaN"])
def test_offer_refuses_a_cost_that_is_not_money(agent, cost):
    with pytest.raises(InvalidInput):
        services.offer_create(complaint=complaint(), gesture=gesture(), actor=ActorRef(user=agent), cost=cost)


@pytest.mark.django_db
def test_offer_of_a_shown_suggestion_records_rank_and_reasons_and_marks_it_chosen(agent):
    case = complaint(grade="ugly", cause="ignored")
    view = services.complaint_suggest(complaint=case, shown_to=agent)
    top = view.top[0]

    offer = services.offer_create(
        complaint=case, gesture=Gesture.objects.get(pk=top.gesture_id), actor=ActorRef(user=agent), cost=D("1.00")
    )

    assert offer.suggested and offer.suggestion_rank == 1
    assert offer.suggestion_score == top.score
    assert offer.suggestion_reasons == list(top.reasons)
    assert SuggestionLog.objects.get(complaint=case, gesture_id=top.gesture_id).chosen


@pytest.mark.django_db
def test_offer_of_a_gesture_the_ranking_excluded_says_why_for_the_approver(agent):
    wrong = gesture("test_pricing_only", causes=["pricing"])

    offer = services.offer_create(complaint=complaint(cause="ignored"), gesture=wrong, actor=ActorRef(user=agent))

    assert not offer.suggested and offer.suggestion_rank is None
    assert offer.suggestion_reasons == ["Not suggested: Not meant for complaints about being ignored"]


# --- the transition table -------------------------------------------------------------------------

ALL = [s for s, _ in Offer.Status.choices]


@pytest.mark.django_db
@pytest.mark.parametrize("from_status", ALL)
@pytest.mark.parametrize("to_status", [s for s in ALL if s != "proposed"])
def test_offer_transition_allows_exactly_the_moves_in_the_table(agent, from_status, to_status):
    case = complaint()
    offer = Offer.objects.create(complaint=case, gesture=gesture(), cost=D("5"), status=from_status, proposed_by=agent)
    allowed = to_status in OFFER_TRANSITIONS[from_status]

    if allowed:
        services.offer_transition(offer=offer, to_status=to_status, actor=ActorRef(user=agent), message="moved")
    else:
        with pytest.raises(InvalidTransition):
            services.offer_transition(offer=offer, to_status=to_status, actor=ActorRef(user=agent), message="moved")

    offer.refresh_from_db()
    assert offer.status == (to_status if allowed else from_status)
    assert TimelineEvent.objects.filter(complaint=case).count() == (1 if allowed else 0)


def test_offer_transition_table_has_the_documented_shape():
    assert {k: sorted(v) for k, v in OFFER_TRANSITIONS.items()} == {
        "proposed": ["approved", "pending_approval", "withdrawn"],
        "pending_approval": ["approved", "rejected", "withdrawn"],
        "approved": ["declined", "fulfilled", "withdrawn"],
        "rejected": [],
        "fulfilled": [],
        "declined": [],
        "withdrawn": [],
    }


@pytest.mark.django_db
def test_offer_fulfil_of_a_waiting_offer_is_refused_with_a_clear_message(agent):
    offer = services.offer_create(complaint=complaint(), gesture=gesture(cost=D("90")), actor=ActorRef(user=agent))

    with pytest.raises(InvalidTransition) as caught:
        services.offer_fulfil(offer=offer, actor=ActorRef(user=agent))

    assert caught.value.message == (
        "This offer of “Test note” is waiting for approval, so it cannot be marked fulfilled. "
        "From here it can only be approved, rejected or withdrawn."
    )


@pytest.mark.django_db
def test_offer_fulfil_with_resolve_closes_the_recovery(agent):
    case = complaint(status=Status.IN_PROGRESS)
    offer = services.offer_create(complaint=case, gesture=gesture(), actor=ActorRef(user=agent))

    services.offer_fulfil(offer=offer, actor=ActorRef(user=agent), note="Posted today", resolve_complaint=True)

    offer.refresh_from_db()
    case.refresh_from_db()
    assert offer.status == "fulfilled" and offer.fulfilled_at is not None
    assert case.status == Status.RESOLVED and case.resolved_at is not None
    kinds = list(TimelineEvent.objects.filter(complaint=case).order_by("id").values_list("kind", "message"))
    assert kinds[-2] == ("offer", "Fulfilled “Test note” (£5.00): Posted today")
    assert kinds[-1][0] == "status_changed"


@pytest.mark.django_db
def test_offer_fulfil_without_resolve_leaves_the_complaint_open_and_twice_is_refused(agent):
    case = complaint(status=Status.IN_PROGRESS)
    offer = services.offer_create(complaint=case, gesture=gesture(), actor=ActorRef(user=agent))

    services.offer_fulfil(offer=offer, actor=ActorRef(user=agent))
    with pytest.raises(InvalidTransition, match="is fulfilled, so it cannot be marked fulfilled. That is final."):
        services.offer_fulfil(offer=offer, actor=ActorRef(user=agent))

    case.refresh_from_db()
    assert case.status == Status.IN_PROGRESS


@pytest.mark.django_db
def test_offer_decline_releases_the_gesture_for_another_offer(agent):
    case, note = complaint(), gesture()
    offer = services.offer_create(complaint=case, gesture=note, actor=ActorRef(user=agent))

    services.offer_decline(offer=offer, actor=ActorRef(user=agent), note="Would rather have a refund")
    again = services.offer_create(complaint=case, gesture=note, actor=ActorRef(user=agent))

    offer.refresh_from_db()
    assert offer.status == "declined" and again.status == "approved"


# --- decisions ------------------------------------------------------------------------------------


def _waiting(proposer, cost: str = "300.00", **gesture_kw) -> Offer:
    return services.offer_create(
        complaint=complaint(), gesture=gesture(cost=D(cost), **gesture_kw), actor=ActorRef(user=proposer), note="please"
    )


@pytest.mark.django_db
def test_approval_approve_moves_the_offer_and_tells_the_proposer(agent, senior, django_capture_on_commit_callbacks, mailoutbox):
    offer = _waiting(agent)  # £300: a manager
    approval = offer.approval_requests.get()

    with django_capture_on_commit_callbacks(execute=True):
        decided = services.approval_decide(
            approval=approval, decision="approve", actor=ActorRef(user=senior), note="Worth it"
        )

    offer.refresh_from_db()
    assert (decided.status, decided.decided_by, decided.approved_amount, decided.note) == (
        "approved", senior, D("300.00"), "Worth it"
    )
    assert offer.status == "approved" and offer.approved_tier == "manager"
    event = TimelineEvent.objects.filter(complaint=offer.complaint, kind="approval").get()
    assert event.message == "Mia Manager approved “Test note”: Worth it"
    assert event.actor_user == senior
    assert [m.to[0] for m in mailoutbox if "approved" in m.subject] == [agent.email]


@pytest.mark.django_db
def test_approval_approve_with_a_changed_amount_keeps_what_was_asked(agent, senior):
    offer = _waiting(agent)

    services.approval_decide(
        approval=offer.approval_requests.get(), decision="approve", amount=D("200.00"), note="Half the refund is enough",
        actor=ActorRef(user=senior),
    )

    offer.refresh_from_db()
    assert (offer.cost, offer.offered_cost) == (D("200.00"), D("300.00"))
    assert offer.approval_requests.get().approved_amount == D("200.00")
    event = TimelineEvent.objects.get(complaint=offer.complaint, kind="approval")
    assert event.message == "Mia Manager approved “Test note” at £200.00 instead of £300.00: Half the refund is enough"
    assert event.data["requested"] == "300.00" and event.data["approved_amount"] == "200.00"


@pytest.mark.django_db
def test_approval_changed_amount_needs_a_note_and_stays_within_the_deciders_limit(agent, senior):
    approval = _waiting(agent).approval_requests.get()

    with pytest.raises(InvalidInput, match="Say why you are changing the amount"):
        services.approval_decide(approval=approval, decision="approve", amount=D("200"), actor=ActorRef(user=senior))
    with pytest.raises(InvalidInput, match="You may approve up to £1,000.00"):
        services.approval_decide(
            approval=approval, decision="approve", amount=D("1500"), note="more", actor=ActorRef(user=senior)
        )
    assert ApprovalRequest.objects.get(pk=approval.pk).status == "pending"


@pytest.mark.django_db
def test_approval_reject_needs_a_note_and_rejects_the_offer(agent, senior):
    offer = _waiting(agent)
    approval = offer.approval_requests.get()

    with pytest.raises(InvalidInput, match="Say why you are rejecting"):
        services.approval_decide(approval=approval, decision="reject", actor=ActorRef(user=senior))
    services.approval_decide(approval=approval, decision="reject", note="Try the note first", actor=ActorRef(user=senior))

    offer.refresh_from_db()
    assert offer.status == "rejected"
    assert TimelineEvent.objects.get(complaint=offer.complaint, kind="approval").message == (
        "Mia Manager rejected “Test note” (£300.00): Try the note first"
    )


@pytest.mark.django_db
def test_approval_self_approval_is_refused(agent):
    offer = _waiting(agent)  # waits for a manager
    agent.groups.clear()
    promoted = person(agent.username, "manager")  # the proposer became a manager meanwhile

    with pytest.raises(NotAllowed, match="You proposed this offer, so someone else has to approve it."):
        services.approval_decide(
            approval=offer.approval_requests.get(), decision="approve", actor=ActorRef(user=promoted)
        )


@pytest.mark.django_db
def test_approval_needs_the_required_tier_or_higher(agent, lead, executive):
    approval = _waiting(agent).approval_requests.get()  # manager tier

    with pytest.raises(NotAllowed, match="needs a manager or higher to decide; you are a team lead"):
        services.approval_decide(approval=approval, decision="approve", actor=ActorRef(user=lead))
    services.approval_decide(approval=approval, decision="approve", actor=ActorRef(user=executive))

    assert ApprovalRequest.objects.get(pk=approval.pk).decided_by == executive


@pytest.mark.django_db
def test_approval_by_a_key_without_a_person_is_refused_and_with_a_person_allowed(agent, executive):
    approval = _waiting(agent).approval_requests.get()
    tool = api_key_create(name="zendesk", scopes=["offers"]).api_key
    personal = api_key_create(name="erin-phone", scopes=["offers"], user=executive).api_key

    with pytest.raises(NotAllowed, match="acts for a tool, not a person"):
        services.approval_decide(approval=approval, decision="approve", actor=ActorRef(api_key=tool))
    decided = services.approval_decide(approval=approval, decision="approve", actor=ActorRef(api_key=personal, user=executive))

    assert decided.decided_by == executive
    event = TimelineEvent.objects.get(complaint=approval.offer.complaint, kind="approval")
    assert event.actor_key == personal and event.actor_user == executive


@pytest.mark.django_db
def test_approval_second_decision_is_told_who_decided_and_when(agent, senior, executive):
    approval = _waiting(agent).approval_requests.get()
    services.approval_decide(approval=approval, decision="approve", actor=ActorRef(user=senior))

    with pytest.raises(AlreadyDecided) as caught:
        services.approval_decide(approval=approval, decision="reject", note="no", actor=ActorRef(user=executive))

    decided = ApprovalRequest.objects.get(pk=approval.pk)
    assert caught.value.status == 409
    assert caught.value.message == f"Already decided by Mia Manager at {formatting.when(decided.decided_at)}: approved."
    assert Offer.objects.get(pk=approval.offer_id).status == "approved"


@pytest.mark.django_db
def test_approval_decide_refuses_an_unknown_decision(agent, senior):
    with pytest.raises(InvalidInput):
        services.approval_decide(approval=_waiting(agent).approval_requests.get(), decision="maybe", actor=ActorRef(user=senior))
