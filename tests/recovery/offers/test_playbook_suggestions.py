"""Suggestions for a complaint: the context built from the database, the learned rates plugged in, first
place drawn among gestures in equipoise with a seeded rng, and the suggestion log (once per complaint per
hour, with the chance of first place)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from recovery.models import Gesture, GestureLearning, Offer, SuggestionLog
from recovery.offers import selectors, services
from tests.factories import CustomerFactory
from tests.recovery.offers_factories import complaint, gesture
from tickets.actors import ActorRef

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_playbook(db):
    """Only the gestures a test makes are active, so the ranking is the test's own."""
    Gesture.objects.update(active=False)


def test_suggestions_context_comes_from_the_complaint_and_its_customer(own_playbook):
    case = complaint(grade="bad", cause="pricing", loss="80.00", ltv="1500.00")

    view = selectors.complaint_suggestions(complaint=case)

    c = view.context
    assert (c.cause, c.grade, c.monetary_loss, c.lifetime_value, c.budget, c.currency) == (
        "pricing", "bad", Decimal("80.00"), Decimal("1500.00"), None, "GBP"
    )
    assert view.graded


def test_suggestions_of_an_ungraded_complaint_are_ranked_as_bad(own_playbook):
    gesture("ugly_only", min_grade="ugly")
    gesture("bad_ok", min_grade="bad")

    view = selectors.complaint_suggestions(complaint=complaint(grade=""))

    assert not view.graded and view.context.grade == "bad"
    assert [s.gesture_code for s in view.top] == ["bad_ok"]
    assert view.exclusion_for("ugly_only").reason == "below_grade"


def test_suggestions_never_repeat_what_the_customer_got_this_year(own_playbook, agent):
    customer = CustomerFactory()
    earlier = complaint(customer=customer)
    # surprise 0: a surprise is never suggested again at all (see the next test)
    note = gesture("note_once", per_customer_per_year=1, surprise=0)
    gesture("other")
    old = services.offer_create(complaint=earlier, gesture=note, actor=ActorRef(user=agent))

    now_view = selectors.complaint_suggestions(complaint=complaint(customer=customer))
    Offer.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=366))
    year_later = selectors.complaint_suggestions(complaint=complaint(customer=customer))

    assert now_view.exclusion_for("note_once").reason == "already_received"
    assert "note_once" in [s.gesture_code for s in year_later.top]


@pytest.mark.parametrize("status", [Offer.Status.FULFILLED, Offer.Status.DECLINED])
def test_suggestions_never_repeat_a_surprise_to_the_same_customer_even_years_later(own_playbook, agent, status):
    customer = CustomerFactory()
    earlier = complaint(customer=customer)
    surprise = gesture("surprise_once", per_customer_per_year=5, surprise=2)
    gesture("other")
    old = services.offer_create(complaint=earlier, gesture=surprise, actor=ActorRef(user=agent))
    Offer.objects.filter(pk=old.pk).update(status=status, created_at=timezone.now() - timedelta(days=3 * 365))

    view = selectors.complaint_suggestions(complaint=complaint(customer=customer))

    assert view.exclusion_for("surprise_once").reason == "surprise_used"


def test_suggestions_log_the_chance_of_first_place_when_it_was_drawn(own_playbook, agent):
    case = complaint()
    gesture("a_twin")
    gesture("b_twin")

    view = services.complaint_suggest(complaint=case, shown_to=agent)

    rows = list(SuggestionLog.objects.filter(complaint=case).order_by("rank").values_list("propensity", "randomised"))
    assert view.randomised
    assert all(randomised for _, randomised in rows)
    assert sum(p for p, _ in rows) == pytest.approx(1.0, abs=1e-5)


def test_suggestions_leave_out_a_gesture_already_waiting_on_this_complaint(own_playbook, agent):
    case = complaint()
    gesture("first", surprise=3)
    pricey = gesture("pricey", surprise=3, cost=Decimal("400"))
    gesture("third", surprise=1)
    services.offer_create(complaint=case, gesture=pricey, actor=ActorRef(user=agent))

    view = selectors.complaint_suggestions(complaint=case)

    assert "pricey" not in [s.gesture_code for s in view.ranked]
    assert view.exclusion_for("pricey").detail == "Already offered here (waiting for approval)"
    assert [s.rank for s in view.ranked] == [1, 2]


def test_suggestions_use_the_learned_rate_with_a_draw_that_is_stable_within_the_hour(own_playbook):
    case = complaint(cause="ignored")
    good, poor = gesture("learned_good"), gesture("learned_poor")
    GestureLearning.objects.create(cause="ignored", gesture=good, successes=18, trials=20)
    GestureLearning.objects.create(cause="ignored", gesture=poor, successes=2, trials=20)
    now = timezone.now()

    first = selectors.complaint_suggestions(complaint=case, now=now)
    again = selectors.complaint_suggestions(complaint=case, now=now + timedelta(seconds=30))

    assert [s.gesture_code for s in first.top] == ["learned_good", "learned_poor"]
    assert first.top[0].reasons[-1].startswith("Came back after 90% of offers to similar customers (n=20)")
    assert [s.score for s in first.top] == [s.score for s in again.top]
    assert first.seed == again.seed
    later = selectors.suggestion_seed(complaint_id=case.pk, now=now + timedelta(hours=1))
    assert later != first.seed


def test_suggestions_are_logged_once_per_hour_and_again_when_what_is_shown_changes(own_playbook, agent):
    case = complaint(grade="bad")
    # clearly different records, so first place is not drawn at random in this test
    GestureLearning.objects.create(cause=case.cause, gesture=gesture("a_gesture"), successes=20, trials=200)
    ugly = gesture("ugly_gesture", min_grade="ugly", surprise=3)
    GestureLearning.objects.create(cause=case.cause, gesture=ugly, successes=180, trials=200)
    now = timezone.now()

    assert services.suggestions_log(view=selectors.complaint_suggestions(complaint=case, now=now), shown_to=agent, now=now)
    assert not services.suggestions_log(
        view=selectors.complaint_suggestions(complaint=case, now=now), shown_to=agent, now=now + timedelta(minutes=59)
    )
    type(case).objects.filter(pk=case.pk).update(grade="ugly")  # graded: the ugly gesture now leads
    case.refresh_from_db()
    assert services.suggestions_log(
        view=selectors.complaint_suggestions(complaint=case, now=now), shown_to=agent, now=now + timedelta(minutes=60)
    )

    rows = list(SuggestionLog.objects.filter(complaint=case).order_by("id").values_list("gesture__code", "rank"))
    assert rows == [("a_gesture", 1), ("ugly_gesture", 1), ("a_gesture", 2)]


def test_suggestions_log_again_after_an_hour_even_when_unchanged(own_playbook):
    case = complaint()
    gesture("a_gesture")
    now = timezone.now()

    services.complaint_suggest(complaint=case, now=now)
    SuggestionLog.objects.update(created_at=now - timedelta(minutes=61))
    services.complaint_suggest(complaint=case, now=now)

    assert SuggestionLog.objects.filter(complaint=case).count() == 2


def test_a_broken_gesture_row_is_left_out_instead_of_breaking_the_page(own_playbook):
    gesture("fine")
    Gesture.objects.create(code="broken", title="Broken", script="x", resource_kind="attention", causes=[], cost=1)

    view = selectors.complaint_suggestions(complaint=complaint())

    assert [s.gesture_code for s in view.top] == ["fine"]
