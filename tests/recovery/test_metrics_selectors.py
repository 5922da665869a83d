"""Outcome metrics against numbers worked out by hand (see the comments), and their cache."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from recovery.models import OutcomeWindow, RecoveryOutcome
from recovery.selectors import metrics
from recovery.selectors.metrics import MetricsFilter, difference_interval, rate
from recovery.tasks.outcomes import outcome_metrics_refresh_task
from tests.factories import ComplaintFactory, CustomerFactory
from tests.recovery.outcomes_factories import add_activity, make_gesture

NOW = datetime(2025, 9, 1, 12, 0, tzinfo=UTC)
D = timedelta(days=1)


# --- Pure helpers ---------------------------------------------------------------------------------


def test_rate_carries_the_wilson_interval():
    # Wilson, z = 1.96: 6 of 8 -> centre (0.75 + 0.2401) / 1.4802 = 0.6689, margin 0.2596
    assert rate(6, 8) == pytest.approx({"customers": 8, "returned": 6, "rate": 0.75, "low": 0.4093, "high": 0.9285}, abs=1e-4)


def test_rate_of_nobody_is_unknown_and_spans_everything():
    assert rate(0, 0) == {"customers": 0, "returned": 0, "rate": None, "low": 0.0, "high": 1.0}


def test_difference_interval_is_newcombes_hybrid_score():
    # 6/8 vs 3/10: d = 0.45; low = d - sqrt((0.75-0.4093)² + (0.6032-0.30)²) = -0.0061
    #                        high = d + sqrt((0.9285-0.75)² + (0.30-0.1078)²) = 0.7123
    uplift = difference_interval(rate(6, 8), rate(3, 10))

    assert uplift == pytest.approx({"points": 0.45, "low": -0.0061, "high": 0.7123, "significant": False}, abs=1e-4)


def test_difference_interval_is_significant_when_it_excludes_zero():
    assert difference_interval(rate(80, 100), rate(40, 100))["significant"] is True
    assert difference_interval(rate(0, 0), rate(4, 10)) is None


# --- Computed from the database -------------------------------------------------------------------


def outcome(*, recovered: bool, anchor: datetime, results: dict[int, str], cause: str = "pricing", grade: str = "bad",
            tier: str = "frontline", gesture=None, cost: str = "20.00", revenue: str = "50.00") -> RecoveryOutcome:
    """An outcome with the given windows: days -> 'returned' / 'not_returned' / 'pending'."""
    complaint = ComplaintFactory(cause=cause)
    made = RecoveryOutcome.objects.create(
        complaint=complaint, customer=complaint.customer, recovered=recovered, cause=cause, grade=grade, tier=tier,
        gesture=(gesture or make_gesture("refund")) if recovered else None,
        gesture_cost=Decimal(cost) if recovered else Decimal("0"), anchor_at=anchor,
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
    """Customers who never complained, anchored once a month at their first qualifying activity."""
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
    add_activity(complainer, datetime(2025, 2, 1, tzinfo=UTC))  # a complainer is never in this baseline
    add_activity(complainer, datetime(2025, 2, 2, tzinfo=UTC))


def window_of(data: dict, days: int) -> dict:
    return next(w for w in data["windows"] if w["days"] == days)


def test_metrics_headline_matches_hand_computed_rates_intervals_and_uplift(story):
    data = metrics.recovery_metrics_compute(MetricsFilter(), now=NOW)

    sixty = window_of(data, 60)
    assert sixty["recovered"] == pytest.approx(rate(6, 8))
    assert (sixty["recovered"]["low"], sixty["recovered"]["high"]) == pytest.approx((0.4093, 0.9285), abs=1e-4)
    assert sixty["unrecovered"] == pytest.approx({"customers": 10, "returned": 3, "rate": 0.3, "low": 0.1078, "high": 0.6032}, abs=1e-4)
    assert sixty["uplift"]["points"] == pytest.approx(0.45)
    assert sixty["uplift"]["significant"] is False
    assert sixty["watching"] == {"recovered": 2, "unrecovered": 1}
    assert data["selected_window"] == 60


def test_metrics_money_matches_hand_computed_costs_and_revenue(story):
    money = window_of(metrics.recovery_metrics_compute(MetricsFilter(), now=NOW), 60)["money"]

    # 8 measured recovered outcomes at 20.00 each = 160.00; 6 came back, each with 50.00 in the window.
    assert money["gesture_cost"] == "160.00"
    assert money["cost_per_returned_customer"] == "26.67"  # 160 / 6
    assert money["extra_returns"] == 3.6  # 8 × (0.75 − 0.30)
    assert money["cost_per_extra_return"] == "44.44"  # 160 / 3.6
    assert money["revenue_after_recovery"] == "300.00"
    assert money["revenue_minus_gesture_cost"] == "140.00"
    assert money["revenue_per_recovered_customer"] == "37.50"  # 300 / 8
    assert money["revenue_per_unrecovered_customer"] == "15.00"  # 150 / 10


def test_metrics_never_complained_baseline_matches_hand_count(browsers):
    data = metrics.recovery_metrics_compute(MetricsFilter(), now=NOW)

    # Anchors: n1 Jan, n1 Feb, n2 Mar, n3 Mar, n4 Apr, n4 May, n5 Apr, n5 May (their 31 May visits start May).
    # Within 60 days: n1 Jan and n5 Apr.
    assert window_of(data, 60)["never_complained"] == pytest.approx(rate(2, 8))
    # Within 30 days only n1 Jan; n6's August anchor has not had 30 days yet.
    assert window_of(data, 30)["never_complained"] == pytest.approx(rate(1, 8))
    # Within 90 days n4's return exactly 60 days later counts too.
    assert window_of(data, 90)["never_complained"] == pytest.approx(rate(3, 8))


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

    by_cause = {row["key"]: (row["recovered"]["returned"], row["recovered"]["customers"], row["unrecovered"]["customers"]) for row in breakdowns["cause"]}
    assert by_cause == {"pricing": (1, 2, 0), "ignored": (1, 1, 1)}
    assert [row["key"] for row in breakdowns["grade"]] == ["bad", "ugly"]  # in grade order
    assert {row["key"]: row["recovered"]["customers"] for row in breakdowns["tier"]} == {"frontline": 1, "executive": 2}
    gestures = {row["key"]: row for row in breakdowns["gesture"]}
    assert gestures["exec_call"]["recovered"]["rate"] == 1.0
    assert gestures["exec_call"]["cost_per_returned_customer"] == "300.00"
    assert gestures["handwritten_note"]["recovered"] == pytest.approx(rate(1, 2))
    assert [row["key"] for row in breakdowns["gesture"]] == ["exec_call", "handwritten_note"]  # best rate first


def test_metrics_trend_fills_months_without_outcomes(db):
    outcome(recovered=True, anchor=datetime(2025, 1, 15, tzinfo=UTC), results={60: "returned"})
    outcome(recovered=False, anchor=datetime(2025, 3, 15, tzinfo=UTC), results={60: "not_returned"})

    months = metrics.recovery_metrics_compute(MetricsFilter(), now=NOW)["breakdowns"]["month"]

    assert [(m["key"], m["label"]) for m in months] == [("2025-01", "Jan 2025"), ("2025-02", "Feb 2025"), ("2025-03", "Mar 2025")]
    assert months[0]["recovered"]["rate"] == 1.0 and months[0]["spend"] == "20.00" and months[0]["resolved_recovered"] == 1
    assert months[1]["recovered"]["customers"] == 0
    assert months[2]["unrecovered"]["rate"] == 0.0


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
    assert (by_gesture["recovered"]["customers"], by_gesture["unrecovered"]["customers"]) == (1, 2)
    by_cause = sixty(cause="ignored")
    assert (by_cause["recovered"]["customers"], by_cause["unrecovered"]["customers"]) == (0, 1)
    by_month = sixty(month_from=date(2025, 5, 1), month_to=date(2025, 5, 1))
    assert (by_month["recovered"]["customers"], by_month["unrecovered"]["customers"]) == (1, 0)
    by_tier = sixty(tier="executive")
    assert by_tier["recovered"]["customers"] == 0


def test_metrics_take_a_fixed_number_of_aggregate_queries_for_every_window(story, browsers, django_assert_num_queries):
    with django_assert_num_queries(10):
        metrics.recovery_metrics_compute(MetricsFilter(), now=NOW)


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
    before = window_of(metrics.recovery_metrics(MetricsFilter()), 60)["recovered"]["customers"]
    outcome(recovered=True, anchor=datetime(2025, 3, 1, tzinfo=UTC), results={60: "returned"})

    assert window_of(metrics.recovery_metrics(MetricsFilter()), 60)["recovered"]["customers"] == before + 1


def test_refresh_task_recomputes_the_cached_default_metrics_twice_with_one_result(story, settings):
    settings.METRICS_CACHE_SECONDS = 600
    stale = metrics.recovery_metrics(MetricsFilter())
    outcome(recovered=True, anchor=datetime(2025, 3, 1, tzinfo=UTC), results={60: "returned"})

    assert outcome_metrics_refresh_task.delay().get() == 1
    assert outcome_metrics_refresh_task.delay().get() == 1

    fresh = metrics.recovery_metrics(MetricsFilter())
    count = window_of(fresh, 60)["recovered"]["customers"]
    assert count == window_of(stale, 60)["recovered"]["customers"] + 1
    assert metrics.recovery_metrics(MetricsFilter(window_days=30))["selected_window"] == 30
