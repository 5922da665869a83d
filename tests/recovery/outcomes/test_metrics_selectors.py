"""Outcome metrics against numbers worked out by hand (see the comments), and their cache."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from recovery.models import OutcomeWindow, RecoveryOutcome, SuggestionLog
from recovery.outcomes import metrics
from recovery.outcomes.metrics import MetricsFilter, difference_interval, rate
from recovery.outcomes.tasks import outcome_metrics_refresh_task
from tests.factories import ComplaintFactory, CustomerFactory
from tests.recovery.outcomes_factories import add_activity, make_gesture
from tickets.models import Complaint

NOW = datetime(2025, 9, 1, 12, 0, tzinfo=UTC)
D = timedelta(days=1)


# --- Pure helpers ---------------------------------------------------------------------------------


def test_rate_carries_the_wilson_interval():
    # Wilson, z = 1.96: 6 of 8 -> centre (0.75 + 0.2401) / 1.4802 = 0.6689, margin 0.2596
    assert rate(6, 8) == pytest.approx(
        {"customers": 8, "returned": 6, "rate": 0.75, "low": 0.4093, "high": 0.9285, "effective_n": 8, "thin": True}, abs=1e-4
    )


def test_rate_of_nobody_is_unknown_and_spans_everything():
    assert rate(0, 0) == {"customers": 0, "returned": 0, "rate": None, "low": 0.0, "high": 1.0, "effective_n": 0, "thin": True}


def test_difference_interval_is_newcombes_hybrid_score():
    # 6/8 vs 3/10: d = 0.45; low = d - sqrt((0.75-0.4093)² + (0.6032-0.30)²) = -0.0061
    #                        high = d + sqrt((0.9285-0.75)² + (0.30-0.1078)²) = 0.7123
    uplift = difference_interval(rate(6, 8), rate(3, 10))

    assert {k: uplift[k] for k in ("points", "low", "high", "clear")} == pytest.approx(
        {"points": 0.45, "low": -0.0061, "high": 0.7123, "clear": False}, abs=1e-4
    )


def test_difference_interval_is_significant_when_it_excludes_zero():
    assert difference_interval(rate(80, 100), rate(40, 100))["clear"] is True
    assert difference_interval(rate(0, 0), rate(4, 10)) is None


# --- Computed from the database -------------------------------------------------------------------


def outcome(*, recovered: bool, anchor: datetime, results: dict[int, str], cause: str = "pricing", grade: str = "bad",
            tier: str = "frontline", gesture=None, cost: str = "20.00", revenue: str = "50.00",
            declined: bool = False, customer=None) -> RecoveryOutcome:
    """An outcome with the given windows: days -> 'returned' / 'not_returned' / 'pending'.

    `recovered` here means offered a gesture at resolution (and fulfilled unless `declined`)."""
    complaint = ComplaintFactory(cause=cause, **({"customer": customer} if customer else {}))
    gesture = (gesture or make_gesture("refund")) if recovered else None
    fulfilled = recovered and not declined
    made = RecoveryOutcome.objects.create(
        complaint=complaint, customer=complaint.customer, recovered=fulfilled, cause=cause, grade=grade, tier=tier,
        offered=recovered, declined=declined, offered_gesture=gesture, gesture=gesture if fulfilled else None,
        gesture_cost=Decimal(cost) if fulfilled else Decimal("0"), anchor_at=anchor,
    )
    for days, state in results.items():
        OutcomeWindow.objects.create(
            outcome=made, days=days, ends_at=anchor + days * D, state=state,
            revenue=Decimal(revenue) if state == "returned" else Decimal("0"),
        )
    return made


@pytest.fixture
def story(db):
    """8 recovered (6 back within 60 days), 10 not recovered (3 back), plus windows that must not count."""
    march = datetime(2025, 3, 10, tzinfo=UTC)
    for index in range(8):
        outcome(recovered=True, anchor=march + index * D, results={60: "returned" if index < 6 else "not_returned"})
    for index in range(10):
        outcome(recovered=False, anchor=march + index * D, results={60: "returned" if index < 3 else "not_returned"})
    # Not elapsed yet: returned early, or still watching. Neither counts in a rate.
    outcome(recovered=True, anchor=NOW - 10 * D, results={60: "returned"})
    outcome(recovered=True, anchor=NOW - 20 * D, results={60: "pending"})
    outcome(recovered=False, anchor=NOW - 20 * D, results={60: "pending"})


@pytest.fixture
def browsers(db):
    """Customers who had not complained, anchored once each at their first qualifying activity."""
    n1 = CustomerFactory()
    add_activity(n1, datetime(2025, 1, 5, tzinfo=UTC))  # January anchor: back on 20 Jan (< 30 days)
    add_activity(n1, datetime(2025, 1, 20, tzinfo=UTC))
    add_activity(n1, datetime(2025, 2, 10, tzinfo=UTC))  # February anchor: never back
    n2 = CustomerFactory()
    add_activity(n2, datetime(2025, 3, 3, tzinfo=UTC))  # March anchor: never back
    n3 = CustomerFactory()
    add_activity(n3, datetime(2025, 3, 1, tzinfo=UTC), kind="gesture_redemption")  # not an anchor, not a return
    add_activity(n3, datetime(2025, 3, 15, tzinfo=UTC))  # March anchor: never back
    n4 = CustomerFactory()
    add_activity(n4, datetime(2025, 4, 1, 10, tzinfo=UTC))  # April anchor: back exactly 60 days later = not within
    add_activity(n4, datetime(2025, 5, 31, 10, tzinfo=UTC))
    n5 = CustomerFactory()
    add_activity(n5, datetime(2025, 4, 1, 10, tzinfo=UTC))  # April anchor: back a minute inside 60 days
    add_activity(n5, datetime(2025, 5, 31, 9, 59, tzinfo=UTC))
    n6 = CustomerFactory()
    add_activity(n6, datetime(2025, 8, 20, tzinfo=UTC))  # window not elapsed at NOW: not counted
    complainer = ComplaintFactory().customer
    Complaint.objects.filter(customer=complainer).update(created_at=datetime(2025, 1, 15, tzinfo=UTC))
    add_activity(complainer, datetime(2025, 2, 1, tzinfo=UTC))  # complained before: not in this baseline
    add_activity(complainer, datetime(2025, 2, 2, tzinfo=UTC))
    later = CustomerFactory()
    add_activity(later, datetime(2025, 2, 1, tzinfo=UTC))  # Feb anchor: back the next day
    add_activity(later, datetime(2025, 2, 2, tzinfo=UTC))
    # ... and complains in June: nothing after the anchor is looked at, so they stay (no look-ahead)
    Complaint.objects.filter(pk=ComplaintFactory(customer=later).pk).update(created_at=datetime(2025, 6, 1, tzinfo=UTC))


def window_of(data: dict, days: int) -> dict:
    return next(w for w in data["windows"] if w["days"] == days)


def test_metrics_headline_matches_hand_computed_rates_intervals_and_difference(story):
    data = metrics.recovery_metrics_compute(MetricsFilter(), now=NOW)

    sixty = window_of(data, 60)
    assert sixty["offered"] == pytest.approx(rate(6, 8))
    assert (sixty["offered"]["low"], sixty["offered"]["high"]) == pytest.approx((0.4093, 0.9285), abs=1e-4)
    assert sixty["not_offered"] == pytest.approx(
        {"customers": 10, "returned": 3, "rate": 0.3, "low": 0.1078, "high": 0.6032, "effective_n": 10, "thin": True},
        abs=1e-4,
    )
    assert sixty["difference"]["points"] == pytest.approx(0.45)
    assert sixty["difference"]["clear"] is False
    assert sixty["watching"] == {"offered": 2, "not_offered": 1}
    assert data["selected_window"] == 60
    assert "observational" in data["caveat"]


def test_metrics_money_matches_hand_computed_costs_and_revenue(story):
    money = window_of(metrics.recovery_metrics_compute(MetricsFilter(), now=NOW), 60)["money"]

    # 8 measured offered outcomes at 20.00 each = 160.00; 6 came back, each with 50.00 in the window.
    assert money["gesture_cost"] == "160.00"
    assert money["cost_per_returned_customer"] == "26.67"  # 160 / 6
    # 8 × (0.75 − 0.30) = 3.6 extra returns, but the difference's interval reaches below zero: no cost per
    # extra return is given (it could be anything), and the page says why.
    assert money["cost_per_extra_return"] == {
        "value": None, "low": None, "high": None, "extra_returns": 3.6,
        "reason": "the difference is not clear, so neither is its cost",
    }
    assert money["revenue_after_offer"] == "300.00"
    assert money["revenue_minus_gesture_cost"] == "140.00"
    assert money["revenue_per_offered_customer"] == "37.50"  # 300 / 8
    assert money["revenue_per_not_offered_customer"] == "15.00"  # 150 / 10


def test_cost_per_extra_return_has_its_interval_when_the_difference_is_clear():
    # 30 of 40 offered came back, 10 of 40 not offered: Wilson 0.59806–0.85812 and 0.14188–0.40194
    # (centre (0.75 + 1.92²/80) / (1 + 3.8415/40) = 0.72809, margin 0.13003); d = 0.5,
    # Newcombe low = 0.5 − √(0.15194² + 0.15194²) = 0.28512, high = 0.5 + √(0.10812² + 0.10812²) = 0.65291
    offered, other = rate(30, 40), rate(10, 40)
    difference = difference_interval(offered, other)
    assert (difference["low"], difference["high"]) == pytest.approx((0.28512, 0.65291), abs=1e-4)

    cost = metrics.cost_per_extra_return(Decimal("800.00"), offered, difference)

    # 40 × 0.5 = 20 extra returns: 800 / 20 = 40.00; interval 800 / (40 × 0.65291) to 800 / (40 × 0.28512)
    assert cost["extra_returns"] == 20.0
    assert cost["value"] == "40.00"
    assert (float(cost["low"]), float(cost["high"])) == pytest.approx((30.63, 70.15), abs=0.02)


def test_metrics_never_complained_baseline_matches_hand_count(browsers):
    data = metrics.recovery_metrics_compute(MetricsFilter(), now=NOW)

    # One anchor per customer: n1 5 Jan, later 1 Feb, n2 3 Mar, n3 15 Mar, n4 1 Apr, n5 1 Apr (6 anchors;
    # the early complainer is out, n6's August anchor has not had 30 days yet).
    # Within 60 days: n1, later and n5 (a minute inside); n4 came back exactly 60 days later.
    assert window_of(data, 60)["never_complained"] == pytest.approx(rate(3, 6))
    # Within 30 days: n1 (15 days) and later (1 day).
    assert window_of(data, 30)["never_complained"] == pytest.approx(rate(2, 6))
    # Within 90 days n4's return counts too.
    assert window_of(data, 90)["never_complained"] == pytest.approx(rate(4, 6))


def test_metrics_never_complained_follows_the_month_range(browsers):
    data = metrics.recovery_metrics_compute(MetricsFilter(month_from=date(2025, 3, 1), month_to=date(2025, 4, 1)), now=NOW)

    assert window_of(data, 60)["never_complained"] == pytest.approx(rate(1, 4))


def test_metrics_breakdowns_group_by_cause_grade_tier_and_gesture(db):
    march = datetime(2025, 3, 10, tzinfo=UTC)
    note, call = make_gesture("handwritten_note"), make_gesture("exec_call")
    outcome(recovered=True, anchor=march, results={60: "returned"}, gesture=note, cause="pricing", grade="bad")
    outcome(recovered=True, anchor=march, results={60: "not_returned"}, gesture=note, cause="pricing", grade="ugly", tier="executive")
    outcome(recovered=True, anchor=march, results={60: "returned"}, gesture=call, cause="ignored", grade="ugly", tier="executive", cost="300.00")
    outcome(recovered=False, anchor=march, results={60: "not_returned"}, cause="ignored", grade="ugly")

    breakdowns = metrics.recovery_metrics_compute(MetricsFilter(), now=NOW)["breakdowns"]

    by_cause = {row["key"]: (row["offered"]["returned"], row["offered"]["customers"], row["not_offered"]["customers"]) for row in breakdowns["cause"]}
    assert by_cause == {"pricing": (1, 2, 0), "ignored": (1, 1, 1)}
    assert [row["key"] for row in breakdowns["grade"]] == ["bad", "ugly"]  # in grade order
    assert {row["key"]: row["offered"]["customers"] for row in breakdowns["tier"]} == {"frontline": 1, "executive": 2}
    gestures = {row["key"]: row for row in breakdowns["gesture"]}
    assert gestures["exec_call"]["offered"]["rate"] == 1.0
    assert gestures["exec_call"]["cost_per_returned_customer"] == "300.00"
    assert gestures["handwritten_note"]["offered"] == pytest.approx(rate(1, 2))
    assert [row["key"] for row in breakdowns["gesture"]] == ["exec_call", "handwritten_note"]  # best rate first


def test_metrics_trend_fills_months_without_outcomes(db):
    outcome(recovered=True, anchor=datetime(2025, 1, 15, tzinfo=UTC), results={60: "returned"})
    outcome(recovered=False, anchor=datetime(2025, 3, 15, tzinfo=UTC), results={60: "not_returned"})

    months = metrics.recovery_metrics_compute(MetricsFilter(), now=NOW)["breakdowns"]["month"]

    assert [(m["key"], m["label"]) for m in months] == [("2025-01", "Jan 2025"), ("2025-02", "Feb 2025"), ("2025-03", "Mar 2025")]
    assert months[0]["offered"]["rate"] == 1.0 and months[0]["spend"] == "20.00" and months[0]["resolved_offered"] == 1
    assert months[1]["offered"]["customers"] == 0
    assert months[2]["not_offered"]["rate"] == 0.0


def test_metrics_filters_narrow_complainers_and_gesture_keeps_the_comparison_group(db):
    march = datetime(2025, 3, 10, tzinfo=UTC)
    note, call = make_gesture("handwritten_note"), make_gesture("exec_call")
    outcome(recovered=True, anchor=march, results={60: "returned"}, gesture=note)
    outcome(recovered=True, anchor=march, results={60: "not_returned"}, gesture=call)
    outcome(recovered=False, anchor=march, results={60: "returned"})
    outcome(recovered=False, anchor=march, results={60: "not_returned"}, cause="ignored")
    outcome(recovered=True, anchor=datetime(2025, 5, 2, tzinfo=UTC), results={60: "returned"}, gesture=note)

    def sixty(**filters):
        return window_of(metrics.recovery_metrics_compute(MetricsFilter(**filters), now=NOW), 60)

    by_gesture = sixty(gesture="exec_call")
    assert (by_gesture["offered"]["customers"], by_gesture["not_offered"]["customers"]) == (1, 2)
    by_cause = sixty(cause="ignored")
    assert (by_cause["offered"]["customers"], by_cause["not_offered"]["customers"]) == (0, 1)
    by_month = sixty(month_from=date(2025, 5, 1), month_to=date(2025, 5, 1))
    assert (by_month["offered"]["customers"], by_month["not_offered"]["customers"]) == (1, 0)
    by_tier = sixty(tier="executive")
    assert by_tier["offered"]["customers"] == 0


def test_metrics_take_a_fixed_number_of_aggregate_queries_for_every_window(story, browsers, django_assert_num_queries):
    with django_assert_num_queries(11):
        metrics.recovery_metrics_compute(MetricsFilter(), now=NOW, source="direct")


def test_metrics_for_another_window_come_from_the_same_cache_entry(story, settings, django_assert_num_queries):
    settings.METRICS_CACHE_SECONDS = 600
    metrics.recovery_metrics(MetricsFilter())

    with django_assert_num_queries(0):
        thirty = metrics.recovery_metrics(MetricsFilter(window_days=30))

    assert thirty["selected_window"] == 30 and thirty["filters"]["window_days"] == 30


# --- Cache ----------------------------------------------------------------------------------------


def test_metrics_are_served_from_the_cache_until_it_expires(story, settings, django_assert_num_queries):
    settings.METRICS_CACHE_SECONDS = 600
    first = metrics.recovery_metrics(MetricsFilter())
    outcome(recovered=True, anchor=datetime(2025, 3, 1, tzinfo=UTC), results={60: "returned"})

    with django_assert_num_queries(0):
        second = metrics.recovery_metrics(MetricsFilter(window_days=60))  # the default window: the same entry

    assert second == first


def test_metrics_are_computed_every_time_when_cache_is_off(story, settings):
    settings.METRICS_CACHE_SECONDS = 0
    before = window_of(metrics.recovery_metrics(MetricsFilter()), 60)["offered"]["customers"]
    outcome(recovered=True, anchor=datetime(2025, 3, 1, tzinfo=UTC), results={60: "returned"})

    assert window_of(metrics.recovery_metrics(MetricsFilter()), 60)["offered"]["customers"] == before + 1


def test_refresh_task_recomputes_the_cached_default_metrics_twice_with_one_result(story, settings):
    settings.METRICS_CACHE_SECONDS = 600
    stale = metrics.recovery_metrics(MetricsFilter())
    outcome(recovered=True, anchor=datetime(2025, 3, 1, tzinfo=UTC), results={60: "returned"})

    assert outcome_metrics_refresh_task.delay().get() == 1
    assert outcome_metrics_refresh_task.delay().get() == 1

    fresh = metrics.recovery_metrics(MetricsFilter())
    count = window_of(fresh, 60)["offered"]["customers"]
    assert count == window_of(stale, 60)["offered"]["customers"] + 1
    assert metrics.recovery_metrics(MetricsFilter(window_days=30))["selected_window"] == 30


def test_metrics_keep_declines_in_the_offered_group_and_report_them_and_late_fulfilment(db):
    march = datetime(2025, 3, 10, tzinfo=UTC)
    outcome(recovered=True, anchor=march, results={60: "returned"})
    late = outcome(recovered=True, anchor=march, results={60: "not_returned"})
    RecoveryOutcome.objects.filter(pk=late.pk).update(fulfilled_at=march + 3 * D)
    outcome(recovered=True, declined=True, anchor=march, results={60: "returned"})
    outcome(recovered=False, anchor=march, results={60: "not_returned"})

    sixty = window_of(metrics.recovery_metrics_compute(MetricsFilter(), now=NOW), 60)

    # 2 of 3 offered came back, the decline included; the decline is also shown on its own
    assert (sixty["offered"]["returned"], sixty["offered"]["customers"]) == (2, 3)
    assert (sixty["declined"]["returned"], sixty["declined"]["customers"]) == (1, 1)
    assert sixty["fulfilment"] == {"offered": 3, "fulfilled": 2, "fulfilled_after_resolution": 1, "declined": 1}
    # the gesture cost counts what was fulfilled: 2 × 20.00
    assert sixty["money"]["gesture_cost"] == "40.00"


def test_metrics_estimate_randomised_choices_by_inverse_propensity(db):
    march = datetime(2025, 3, 10, tzinfo=UTC)
    note = make_gesture("handwritten_note")
    # drawn with chance 0.5 and came back; drawn with chance 0.25 (twice), did not
    for chance, result in ((0.5, "returned"), (0.25, "not_returned"), (0.25, "not_returned")):
        made = outcome(recovered=True, anchor=march, results={60: result}, gesture=note)
        SuggestionLog.objects.create(
            complaint=made.complaint, gesture=note, rank=1, score=70.0, propensity=chance, randomised=True
        )
    # shown, but first place was not drawn: not a randomised comparison
    plain = outcome(recovered=True, anchor=march, results={60: "returned"}, gesture=note)
    SuggestionLog.objects.create(complaint=plain.complaint, gesture=note, rank=1, score=70.0, randomised=False)

    randomised = metrics.recovery_metrics_compute(MetricsFilter(), now=NOW)["breakdowns"]["randomised"]

    # weights 2, 4, 4: (2 × 1) / (2 + 4 + 4) = 0.2 — against a plain 1 of 3
    assert [row["key"] for row in randomised] == ["handwritten_note"]
    assert randomised[0]["rate"]["rate"] == pytest.approx(0.2)
    assert randomised[0]["rate"]["customers"] == 3 and randomised[0]["rate"]["thin"] is True
