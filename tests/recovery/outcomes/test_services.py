"""Watching: opening outcomes, closing windows by activity, settling them, and their edges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest

from recovery.models import CustomerActivity, OutcomeWindow, RecoveryOutcome
from recovery.outcomes import services
from recovery.outcomes.tasks import outcome_open_task
from tests.factories import ComplaintFactory, CustomerFactory
from tests.recovery.outcomes_factories import (
    add_activity,
    make_gesture,
    make_resolved_complaint,
    open_outcome,
    states,
    window,
)
from tickets import services as tickets_services
from tickets.actors import ActorRef
from tickets.models import Status, TimelineEvent

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=10)
ALL_PENDING = {30: "pending", 60: "pending", 90: "pending"}
ALL_RETURNED = {30: "returned", 60: "returned", 90: "returned"}


# --- Opening ---------------------------------------------------------------------------------------


def test_outcome_opens_on_commit_when_complaint_is_resolved(agent, django_capture_on_commit_callbacks):
    complaint = ComplaintFactory()

    with django_capture_on_commit_callbacks(execute=True):
        tickets_services.complaint_transition(complaint=complaint, to_status=Status.RESOLVED, actor=ActorRef(user=agent))

    complaint.refresh_from_db()
    outcome = RecoveryOutcome.objects.get(complaint=complaint)
    assert outcome.recovered is False
    assert outcome.anchor_at == complaint.resolved_at
    assert outcome.customer_id == complaint.customer_id
    assert (outcome.cause, outcome.tier) == (complaint.cause, complaint.tier)
    assert [(w.days, w.ends_at, w.state) for w in outcome.windows.order_by("days")] == [
        (days, complaint.resolved_at + timedelta(days=days), "pending") for days in (30, 60, 90)
    ]
    event = complaint.events.get(kind=TimelineEvent.Kind.OUTCOME)
    assert "30, 60 and 90 days" in event.message and "comparison group" in event.message


def test_outcome_is_not_opened_when_status_changes_to_in_progress(agent, django_capture_on_commit_callbacks):
    complaint = ComplaintFactory()

    with (
        mock.patch.object(outcome_open_task, "apply_async") as queued,
        django_capture_on_commit_callbacks(execute=True),
    ):
        tickets_services.complaint_transition(complaint=complaint, to_status=Status.IN_PROGRESS, actor=ActorRef(user=agent))

    assert not RecoveryOutcome.objects.exists()
    queued.assert_not_called()


# Issue 11: every outcome is anchored at the resolution and its group (offered or not) is fixed then —
# the old tests anchored recovered outcomes at the fulfilment and regrouped on a late fulfilment, which
# is what biased the comparison; they now check the intention-to-treat rules instead.


def test_outcome_is_offered_and_anchored_at_resolution_when_gesture_fulfilled():
    gesture = make_gesture("exec_call", cost="120.00")
    complaint = make_resolved_complaint(
        resolved_at=T0, created_at=T0 - timedelta(hours=30), fulfilled_at=T0 + timedelta(days=2), gesture=gesture,
        cost="120.00",
    )

    outcome = open_outcome(complaint, now=NOW)

    assert (outcome.offered, outcome.declined, outcome.offered_gesture) == (True, False, gesture)
    assert outcome.recovered is True
    assert outcome.gesture == gesture
    assert outcome.gesture_cost == Decimal("120.00")
    assert outcome.fulfilled_at == T0 + timedelta(days=2)
    assert outcome.anchor_at == T0
    assert outcome.hours_to_resolve == 30.0
    assert window(outcome, 30).ends_at == T0 + timedelta(days=30)
    assert "Exec call was offered" in complaint.events.get(kind="outcome").message


def test_outcome_of_a_declined_offer_stays_in_the_offered_group():
    gesture = make_gesture("exec_call")
    complaint = make_resolved_complaint(resolved_at=T0)
    complaint.offers.create(gesture=gesture, cost=Decimal("10.00"), status="declined")

    outcome = open_outcome(complaint, now=NOW)

    assert (outcome.offered, outcome.declined, outcome.offered_gesture, outcome.recovered) == (True, True, gesture, False)
    assert "offered and declined" in complaint.events.get(kind="outcome").message


@pytest.mark.parametrize("status", ["rejected", "withdrawn"])
def test_outcome_of_an_offer_called_off_is_not_offered(status):
    complaint = make_resolved_complaint(resolved_at=T0)
    complaint.offers.create(gesture=make_gesture(), cost=Decimal("10.00"), status=status)

    outcome = open_outcome(complaint, now=NOW)

    assert (outcome.offered, outcome.offered_gesture) == (False, None)


def test_outcome_counts_every_fulfilled_gesture_cost_and_judges_the_latest():
    first, latest = make_gesture("refund"), make_gesture("upgrade")
    complaint = make_resolved_complaint(resolved_at=T0, fulfilled_at=T0, gesture=first, cost="30.00")
    complaint.offers.create(gesture=latest, cost=Decimal("12.50"), status="fulfilled", fulfilled_at=T0 + timedelta(hours=3))
    complaint.offers.create(gesture=first, cost=Decimal("99.00"), status="approved")

    outcome = open_outcome(complaint, now=NOW)

    assert outcome.gesture == latest and outcome.offered_gesture == latest
    assert outcome.anchor_at == T0
    assert outcome.gesture_cost == Decimal("42.50")


def test_outcome_is_anchored_at_close_when_closed_without_resolution():
    complaint = make_resolved_complaint(resolved_at=T0, closed_unresolved=True)

    outcome = open_outcome(complaint, now=NOW)

    assert outcome.anchor_at == T0 and outcome.recovered is False


def test_outcome_open_does_nothing_when_complaint_is_open():
    complaint = ComplaintFactory()

    assert services.outcome_open(complaint_id=complaint.pk).action == "not_resolved"
    assert services.outcome_open(complaint_id=10**9).action == "not_resolved"
    assert not RecoveryOutcome.objects.exists()


def test_outcome_open_twice_keeps_one_outcome_and_one_event():
    complaint = make_resolved_complaint(resolved_at=T0)

    first = services.outcome_open(complaint_id=complaint.pk, now=NOW)
    second = services.outcome_open(complaint_id=complaint.pk, now=NOW)

    assert (first.action, second.action) == ("opened", "unchanged")
    assert RecoveryOutcome.objects.count() == 1
    assert OutcomeWindow.objects.count() == 3
    assert complaint.events.filter(kind="outcome").count() == 1


def test_outcome_is_reanchored_when_reresolved_while_every_window_is_pending(agent, django_capture_on_commit_callbacks):
    # given: resolved without a gesture, then reopened
    complaint = ComplaintFactory()
    actor = ActorRef(user=agent)
    with django_capture_on_commit_callbacks(execute=True):
        tickets_services.complaint_transition(complaint=complaint, to_status=Status.RESOLVED, actor=actor)
    with django_capture_on_commit_callbacks(execute=True):
        tickets_services.complaint_transition(complaint=complaint, to_status=Status.IN_PROGRESS, actor=actor)
    fulfilled_at = datetime.now(UTC)
    complaint.offers.create(gesture=make_gesture(), cost=Decimal("8.00"), status="fulfilled", fulfilled_at=fulfilled_at)

    # when: resolved again after a gesture was fulfilled
    with django_capture_on_commit_callbacks(execute=True):
        tickets_services.complaint_transition(complaint=complaint, to_status=Status.RESOLVED, actor=actor)

    # then: the same outcome, anchored at the new resolution, records the fulfilment but keeps its group
    outcome = RecoveryOutcome.objects.get()
    complaint.refresh_from_db()
    assert outcome.recovered is True and outcome.anchor_at == complaint.resolved_at
    assert outcome.offered is False
    assert window(outcome, 90).ends_at == complaint.resolved_at + timedelta(days=90)
    assert OutcomeWindow.objects.count() == 3
    messages = list(complaint.events.filter(kind="outcome").order_by("id").values_list("message", flat=True))
    assert len(messages) == 2 and messages[1].startswith("Watching again")


def test_outcome_stays_final_when_reresolved_after_a_window_was_decided():
    complaint = make_resolved_complaint(resolved_at=T0)
    outcome = open_outcome(complaint, now=NOW)
    add_activity(complaint.customer, T0 + timedelta(days=3))
    services.outcome_windows_close(customer_ids=[complaint.customer_id], now=NOW)
    type(complaint).objects.filter(pk=complaint.pk).update(resolved_at=T0 + timedelta(days=5))

    result = services.outcome_open(complaint_id=complaint.pk, now=NOW)

    assert result.action == "decided"
    outcome.refresh_from_db()
    assert outcome.anchor_at == T0


def test_outcome_closes_at_opening_when_activity_was_already_recorded():
    complaint = make_resolved_complaint(resolved_at=T0)
    add_activity(complaint.customer, T0 + timedelta(days=40), amount="70.00")

    outcome = open_outcome(complaint, now=T0 + timedelta(days=20))

    assert states(outcome) == {30: "pending", 60: "returned", 90: "returned"}
    assert window(outcome, 60).returned_at == T0 + timedelta(days=40)
    assert window(outcome, 60).revenue == Decimal("70.00")


def test_outcome_settles_elapsed_windows_at_opening_when_backfilled():
    complaint = make_resolved_complaint(resolved_at=T0)
    add_activity(complaint.customer, T0 + timedelta(days=50))

    outcome = open_outcome(complaint, now=T0 + timedelta(days=200))

    assert states(outcome) == {30: "not_returned", 60: "returned", 90: "returned"}


# --- Closing by activity --------------------------------------------------------------------------


@pytest.fixture
def watched():
    complaint = make_resolved_complaint(resolved_at=T0)
    return open_outcome(complaint, now=T0 + timedelta(hours=1))


def test_windows_close_as_returned_when_activity_falls_inside(watched):
    add_activity(watched.customer, T0 + timedelta(days=12), amount="55.10")
    add_activity(watched.customer, T0 + timedelta(days=45), amount="10.00")

    result = services.outcome_windows_close(customer_ids=[watched.customer_id], now=NOW)

    assert result.returned == 3
    assert states(watched) == ALL_RETURNED
    assert {w.returned_at for w in watched.windows.all()} == {T0 + timedelta(days=12)}
    assert [w.revenue for w in watched.windows.order_by("days")] == [Decimal("55.10"), Decimal("65.10"), Decimal("65.10")]


def test_windows_stay_pending_when_only_a_gesture_redemption_arrives(watched):
    add_activity(watched.customer, T0 + timedelta(days=2), kind=CustomerActivity.Kind.GESTURE_REDEMPTION, amount="30")

    services.outcome_windows_close(customer_ids=[watched.customer_id], now=NOW)

    assert states(watched) == ALL_PENDING


def test_windows_ignore_redemption_revenue_and_keep_first_real_return(watched):
    add_activity(watched.customer, T0 + timedelta(days=1), kind=CustomerActivity.Kind.GESTURE_REDEMPTION, amount="30")
    add_activity(watched.customer, T0 + timedelta(days=4), kind=CustomerActivity.Kind.VISIT, amount="0")

    services.outcome_windows_close(customer_ids=[watched.customer_id], now=NOW)

    assert window(watched, 30).returned_at == T0 + timedelta(days=4)
    assert window(watched, 30).revenue == Decimal("0.00")


def test_windows_stay_pending_when_activity_is_before_the_anchor(watched):
    add_activity(watched.customer, T0 - timedelta(seconds=1))

    services.outcome_windows_close(customer_ids=[watched.customer_id], now=NOW)

    assert states(watched) == ALL_PENDING


def test_windows_close_when_activity_is_exactly_at_the_anchor(watched):
    add_activity(watched.customer, T0)

    services.outcome_windows_close(customer_ids=[watched.customer_id], now=NOW)

    assert states(watched) == ALL_RETURNED


def test_windows_of_other_customers_are_untouched(watched):
    other = open_outcome(make_resolved_complaint(resolved_at=T0), now=NOW)
    add_activity(watched.customer, T0 + timedelta(days=1))

    services.outcome_windows_close(customer_ids=[watched.customer_id, other.customer_id], now=NOW)

    assert states(other) == ALL_PENDING


def test_revenue_counts_only_the_default_currency(watched, settings):
    settings.DEFAULT_CURRENCY = "GBP"
    add_activity(watched.customer, T0 + timedelta(days=1), amount="20.00", currency="GBP")
    add_activity(watched.customer, T0 + timedelta(days=2), amount="500.00", currency="JPY")

    services.outcome_windows_close(customer_ids=[watched.customer_id], now=NOW)

    assert window(watched, 30).revenue == Decimal("20.00")


def test_windows_close_twice_with_one_effect(watched):
    add_activity(watched.customer, T0 + timedelta(days=1))

    first = services.outcome_windows_close(customer_ids=[watched.customer_id], now=NOW)
    second = services.outcome_windows_close(customer_ids=[watched.customer_id], now=NOW + timedelta(hours=1))

    assert (first.returned, second.returned) == (3, 0)
    assert {w.settled_at for w in watched.windows.all()} == {NOW}


def test_backfilled_earlier_activity_moves_the_first_return_earlier(watched):
    add_activity(watched.customer, T0 + timedelta(days=20))
    services.outcome_windows_close(customer_ids=[watched.customer_id], now=NOW)
    add_activity(watched.customer, T0 + timedelta(days=6))

    services.outcome_windows_close(customer_ids=[watched.customer_id], now=NOW)

    assert window(watched, 30).returned_at == T0 + timedelta(days=6)


# --- The window boundary and time zones -----------------------------------------------------------


@pytest.mark.parametrize(
    ("occurred_at", "expected_30_day"),
    [
        # The 30-day window is [2025-03-01T12:00Z, 2025-03-31T12:00Z).
        ("2025-03-31T12:00:00Z", "pending"),  # exactly at ends_at: outside
        ("2025-03-31T11:59:59.999999Z", "returned"),  # a microsecond before: inside
        ("2025-03-31T14:00:00+02:00", "pending"),  # the same instant as ends_at, written in CEST
        ("2025-03-31T13:59:59+02:00", "returned"),  # a second before ends_at, in CEST
        ("2025-03-31T07:59:59-04:00", "returned"),  # a second before ends_at, in EDT
        ("2025-03-01T06:59:59-05:00", "pending"),  # a second before the anchor, in EST
    ],
)
def test_window_boundary_is_exclusive_at_ends_at_whatever_the_offset(watched, occurred_at, expected_30_day):
    result = services.activity_intake(
        items=[{"source": "shop", "external_id": "edge", "kind": "purchase", "occurred_at": occurred_at,
                "customer": {"email": watched.customer.email}}],
        now=NOW + timedelta(days=60),
    )
    assert result.accepted == 1, result

    services.outcome_windows_close(customer_ids=[watched.customer_id], now=NOW + timedelta(days=60))

    assert window(watched, 30).state == expected_30_day


@pytest.mark.parametrize(
    ("naive", "expected_30_day"),
    [
        # Europe/London is on BST (UTC+1) from 30 March 2025, so 13:00 local is 12:00Z = ends_at.
        ("2025-03-31 13:00:00", "pending"),
        ("2025-03-31 12:59:59", "returned"),
    ],
)
def test_naive_times_are_read_in_the_site_time_zone(watched, settings, naive, expected_30_day):
    settings.TIME_ZONE = "Europe/London"

    services.activity_intake(
        items=[{"source": "shop", "external_id": "naive", "kind": "visit", "occurred_at": naive,
                "customer": {"email": watched.customer.email}}],
        now=NOW + timedelta(days=60),
    )
    services.outcome_windows_close(customer_ids=[watched.customer_id], now=NOW)

    assert window(watched, 30).state == expected_30_day


# --- Settling -------------------------------------------------------------------------------------


def test_settle_marks_elapsed_windows_not_returned_and_leaves_open_ones(watched):
    result = services.outcome_windows_settle(now=T0 + timedelta(days=61))

    assert (result.returned, result.not_returned) == (0, 2)
    assert states(watched) == {30: "not_returned", 60: "not_returned", 90: "pending"}
    assert window(watched, 30).settled_at == T0 + timedelta(days=61)


def test_settle_at_exactly_ends_at_settles_the_window(watched):
    services.outcome_windows_settle(now=T0 + timedelta(days=30))

    assert window(watched, 30).state == "not_returned"


def test_settle_twice_has_one_effect(watched):
    first = services.outcome_windows_settle(now=T0 + timedelta(days=31))
    second = services.outcome_windows_settle(now=T0 + timedelta(days=32))

    assert (first.changed, second.changed) == (1, 0)
    assert window(watched, 30).settled_at == T0 + timedelta(days=31)


def test_settle_marks_returned_when_activity_arrived_but_closing_never_ran(watched):
    # given: the close task was lost (say, the broker was down)
    add_activity(watched.customer, T0 + timedelta(days=9), amount="12.00")

    result = services.outcome_windows_settle(now=T0 + timedelta(days=31))

    assert (result.returned, result.not_returned) == (1, 0)
    assert window(watched, 30).state == "returned"
    assert window(watched, 30).returned_at == T0 + timedelta(days=9)
    assert window(watched, 30).revenue == Decimal("12.00")


def test_settle_ignores_activity_at_or_after_ends_at(watched):
    add_activity(watched.customer, T0 + timedelta(days=30))

    services.outcome_windows_settle(now=T0 + timedelta(days=31))

    assert window(watched, 30).state == "not_returned"


def test_late_activity_corrects_a_window_settled_before_it_arrived(watched):
    # given: the sweep settled the window before the nightly activity export arrived
    services.outcome_windows_settle(now=T0 + timedelta(days=30, hours=1))
    assert window(watched, 30).state == "not_returned"

    # when: a purchase from inside the window is reported late
    add_activity(watched.customer, T0 + timedelta(days=29, hours=23))
    services.outcome_windows_close(customer_ids=[watched.customer_id], now=T0 + timedelta(days=31))

    # then
    assert window(watched, 30).state == "returned"
    assert window(watched, 30).returned_at == T0 + timedelta(days=29, hours=23)


def test_settle_is_a_fixed_number_of_queries_whatever_the_number_of_windows(django_assert_max_num_queries):
    for _ in range(25):
        open_outcome(make_resolved_complaint(resolved_at=T0), now=T0)

    # The settling statement, the savepoint, and the look (a row lock) for the metrics rollup: none here.
    with django_assert_max_num_queries(4) as captured:
        result = services.outcome_windows_settle(now=T0 + timedelta(days=100))

    assert result.not_returned == 75
    assert len([q for q in captured.captured_queries if "UPDATE" in q["sql"].replace("FOR UPDATE", "")]) == 1


# --- Reconcile ------------------------------------------------------------------------------------


def test_reconcile_opens_outcomes_whose_task_never_ran(django_capture_on_commit_callbacks):
    complaint = make_resolved_complaint(resolved_at=T0)

    with django_capture_on_commit_callbacks(execute=True):
        result = services.outcome_reconcile()

    assert result.missing == 1
    assert RecoveryOutcome.objects.filter(complaint=complaint).exists()
    assert services.outcome_reconcile().missing == 0


def test_reconcile_records_a_late_fulfilment_without_regrouping(django_capture_on_commit_callbacks):
    resolved = datetime.now(UTC) - timedelta(days=5)
    complaint = make_resolved_complaint(resolved_at=resolved)
    outcome = open_outcome(complaint)
    old = open_outcome(make_resolved_complaint(resolved_at=resolved - timedelta(days=200)), now=resolved - timedelta(days=200))
    for late in (complaint, old.complaint):
        late.offers.create(gesture=make_gesture(), cost=Decimal("9.00"), status="fulfilled", fulfilled_at=resolved + timedelta(days=1))

    with django_capture_on_commit_callbacks(execute=True):
        result = services.outcome_reconcile()

    outcome.refresh_from_db()
    assert result.late_gesture == 1  # not the old one: every window has elapsed
    assert outcome.recovered is True and outcome.gesture_cost == Decimal("9.00")
    # the group and the anchor stay as they were at resolution (intention-to-treat)
    assert outcome.offered is False and outcome.anchor_at == resolved
    assert complaint.events.filter(kind="outcome").order_by("-id").first().data["action"] == "fulfilment"
    assert services.outcome_reconcile().late_gesture == 0


def test_customer_model_is_unchanged_by_outcome_opening():
    customer = CustomerFactory(name="Ada")
    open_outcome(make_resolved_complaint(resolved_at=T0, customer=customer), now=NOW)

    customer.refresh_from_db()
    assert customer.name == "Ada"


def test_settle_sql_variants_agree_on_random_histories(settings):
    """PostgreSQL's sweep SQL and the generic SQL decide every window alike (only PostgreSQL runs both)."""
    import random

    from django.db import connection, transaction

    rng = random.Random(6)
    settings.DEFAULT_CURRENCY = "GBP"
    for index in range(40):
        anchor = T0 + timedelta(hours=rng.randint(0, 2000))
        outcome = open_outcome(make_resolved_complaint(resolved_at=anchor), now=anchor)
        if index % 10 == 0:  # a window from an older, longer setting
            OutcomeWindow.objects.create(outcome=outcome, days=120, ends_at=anchor + timedelta(days=120))
        for _ in range(rng.randint(0, 4)):
            add_activity(
                outcome.customer,
                anchor + timedelta(hours=rng.randint(-200, 24 * 130)),
                kind=rng.choice(["purchase", "visit", "gesture_redemption"]),
                amount=str(rng.randint(0, 90)),
                currency=rng.choice(["GBP", "GBP", "EUR"]),
            )
    now = T0 + timedelta(days=250)
    vendors = ["sqlite", "postgresql"] if connection.vendor == "postgresql" else ["sqlite"]
    results = []
    for vendor in vendors:
        try:
            with transaction.atomic():
                counts = services.settle_due(now, vendor=vendor)
                results.append(
                    (counts, sorted(OutcomeWindow.objects.values_list("id", "state", "returned_at", "revenue")))
                )
                raise RuntimeError("roll back so the next variant starts from the same state")
        except RuntimeError:
            pass

    assert len(results) == len(vendors)
    assert results[0][0][0] > 0 and results[0][0][1] > 0
    assert all(result == results[0] for result in results)


# --- Bulk opening (backfills) ---------------------------------------------------------------------


def test_open_many_matches_one_by_one_opening(django_assert_max_num_queries):
    gesture = make_gesture("exec_call", cost="70.00")
    recovered = make_resolved_complaint(resolved_at=T0, fulfilled_at=T0 + timedelta(hours=2), gesture=gesture, cost="70.00")
    plain = make_resolved_complaint(resolved_at=T0 + timedelta(days=1), closed_unresolved=True)
    still_open = ComplaintFactory()
    add_activity(plain.customer, T0 + timedelta(days=4), amount="33.00")
    fields = ["recovered", "gesture_id", "gesture_cost", "anchor_at", "hours_to_resolve", "cause", "tier"]

    with django_assert_max_num_queries(20):
        opened = services.outcomes_open_many(complaint_ids=[recovered.pk, plain.pk, still_open.pk], now=NOW)

    assert opened == 2
    bulk = {o.complaint_id: ([getattr(o, f) for f in fields], states(o), window(o, 30).revenue) for o in RecoveryOutcome.objects.all()}
    messages = sorted(TimelineEvent.objects.filter(kind="outcome").values_list("message", flat=True))
    RecoveryOutcome.objects.all().delete()
    TimelineEvent.objects.filter(kind="outcome").delete()
    for complaint in (recovered, plain):
        open_outcome(complaint, now=NOW)
    single = {o.complaint_id: ([getattr(o, f) for f in fields], states(o), window(o, 30).revenue) for o in RecoveryOutcome.objects.all()}
    assert bulk == single
    assert bulk[plain.pk][1] == ALL_RETURNED and bulk[plain.pk][2] == Decimal("33.00")
    assert messages == sorted(TimelineEvent.objects.filter(kind="outcome").values_list("message", flat=True))


def test_open_many_twice_opens_once():
    complaint = make_resolved_complaint(resolved_at=T0)

    assert services.outcomes_open_many(complaint_ids=[complaint.pk], now=NOW) == 1
    assert services.outcomes_open_many(complaint_ids=[complaint.pk], now=NOW) == 0
    assert RecoveryOutcome.objects.count() == 1 and OutcomeWindow.objects.count() == 3


def test_reconcile_rechecks_customers_with_activity_whose_closing_never_ran(django_capture_on_commit_callbacks):
    # given: a window settled before a purchase inside it was reported, and the closing task was lost
    outcome = open_outcome(make_resolved_complaint(resolved_at=T0), now=T0)
    services.outcome_windows_settle(now=T0 + timedelta(days=31))
    services.outcome_reconcile()  # the first run only remembers where activity stands
    add_activity(outcome.customer, T0 + timedelta(days=20))
    add_activity(CustomerFactory(), T0 + timedelta(days=20))  # a customer without outcomes: nothing to do

    # when
    with django_capture_on_commit_callbacks(execute=True):
        result = services.outcome_reconcile()

    # then
    assert result.rechecked_customers == 1
    assert window(outcome, 30).state == "returned"
    assert services.outcome_reconcile().rechecked_customers == 0
