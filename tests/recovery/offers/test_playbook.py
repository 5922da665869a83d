"""Unit tests for recovery.offers.playbook and the starter playbook: plain data, no database."""

from __future__ import annotations

import random
import re
from decimal import Decimal
from typing import Any

import pytest

from recovery.offers.playbook import (
    RESOURCE_KINDS,
    ComplaintContext,
    GestureSpec,
    Ranking,
    Suggestion,
    compensation_fit,
)
from recovery.offers.ranking import equipoise_band, rank_gestures
from recovery.offers.starter_playbook import STARTER_GESTURES
from recovery.outcomes.learning import LearnedSignal, cell_signal
from recovery.vocabulary import CAUSES, GRADES, TIERS

ALL_CAUSES = frozenset(CAUSES)


def gesture(code: str = "g", **overrides: Any) -> GestureSpec:
    fields: dict[str, Any] = {
        "id": None,
        "code": code,
        "title": code.replace("_", " ").capitalize(),
        "resource_kind": "attention",
        "causes": ALL_CAUSES,
        "cost": Decimal("20.00"),
        "cost_pct_of_loss": None,
        "perceived_value": Decimal("60.00"),
        "surprise": 2,
        "min_grade": "good",
        "approval_tier": "frontline",
        "per_customer_per_year": 1,
        "active": True,
    }
    fields.update(overrides)
    return GestureSpec(**fields)


def context(**overrides: Any) -> ComplaintContext:
    fields: dict[str, Any] = {
        "cause": "ignored",
        "grade": "bad",
        "monetary_loss": Decimal("120.00"),
        "lifetime_value": Decimal("2000.00"),
        "received_gesture_counts_past_year": {},
        "budget": None,
    }
    fields.update(overrides)
    return ComplaintContext(**fields)


def only(ranking: Ranking) -> Suggestion:
    assert len(ranking.suggestions) == 1, ranking
    return ranking.suggestions[0]


def codes(ranking: Ranking) -> list[str]:
    return [s.gesture_code for s in ranking.suggestions]


def excluded_reasons(ranking: Ranking) -> dict[str, str]:
    return {e.gesture_code: e.reason for e in ranking.excluded}


# One gesture of each resource kind, identical otherwise; money sits inside the band (100%).
ONE_PER_KIND = [
    gesture(f"kind_{kind}", resource_kind=kind, cost=Decimal("60.00"), perceived_value=Decimal("120.00"))
    for kind in RESOURCE_KINDS
]


# --- Repay in kind ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cause", "best_kind", "reason"),
    [
        ("pricing", "money_now", "Repays in kind: money back for a customer who lost money on the price"),
        ("product_quality", "exchange", "Repays in kind: a replacement for a customer with a flawed product"),
        ("failed_fix", "exchange", "Repays in kind: a replacement for a customer whose problem keeps coming back"),
        (
            "service_delay",
            "redo_service",
            "Repays in kind: doing the service again for a customer whose service was late",
        ),
        ("ignored", "attention", "Repays in kind: attention for a customer who was ignored"),
        ("staff_conduct", "attention", "Repays in kind: attention for a customer who was treated badly by staff"),
    ],
)
def test_rank_gestures_puts_in_kind_gesture_first_for_each_cause(cause: str, best_kind: str, reason: str) -> None:
    ranking = rank_gestures(ONE_PER_KIND, context(cause=cause), limit=None)

    top = ranking.suggestions[0]
    assert top.gesture_code == f"kind_{best_kind}"
    assert reason in top.reasons
    assert top.components["cause"] == 1.0


@pytest.mark.parametrize(
    ("cause", "kind", "reason"),
    [
        (
            "ignored",
            "money_now",
            "Does not repay in kind: attention suits a customer who was ignored better than money back",
        ),
        (
            "product_quality",
            "money_now",
            "Partly repays in kind: a replacement suits a customer with a flawed product better than money back",
        ),
        (
            "pricing",
            "attention",
            "Does not repay in kind: money back suits a customer who lost money on the price better than attention",
        ),
    ],
)
def test_rank_gestures_explains_why_when_gesture_is_not_in_kind(cause: str, kind: str, reason: str) -> None:
    suggestion = only(rank_gestures([gesture(resource_kind=kind)], context(cause=cause)))

    assert reason in suggestion.reasons
    assert suggestion.components["cause"] < 1.0


def test_rank_gestures_prefers_no_kind_when_cause_is_other() -> None:
    ranking = rank_gestures(ONE_PER_KIND, context(cause="other"), limit=None)

    assert {s.components["cause"] for s in ranking.suggestions} == {0.6}
    assert not any("in kind" in r for s in ranking.suggestions for r in s.reasons)


# --- Compensation band -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "loss", "expected"),
    [
        ("0", "100", 0.0),
        ("60", "120", 0.4167),  # 50%: weak, at most half credit below the band
        ("59", "100", 0.4917),
        ("60", "100", 1.0),  # band starts
        ("100", "100", 1.0),
        ("150", "100", 1.0),  # band ends
        ("300", "100", 0.5),  # only half the money still buys loyalty
    ],
)
def test_compensation_fit_is_full_inside_band_and_weaker_outside(value: str, loss: str, expected: float) -> None:
    assert compensation_fit(Decimal(value), Decimal(loss)) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize(
    ("pct", "expected_fit", "reason"),
    [
        (
            "50",
            0.4167,
            "Only 50% of the customer's £120.00 loss — below the 60% where compensation starts to win loyalty back",
        ),
        ("100", 1.0, "Within the 60–150% band of the customer's £120.00 loss"),
        ("150", 1.0, "Within the 60–150% band of the customer's £120.00 loss"),
        ("300", 0.5, "300% of the customer's £120.00 loss — beyond 150% more money does not buy more loyalty"),
    ],
)
def test_rank_gestures_judges_refund_against_loss_band(pct: str, expected_fit: float, reason: str) -> None:
    refund = gesture(
        "refund",
        resource_kind="money_now",
        cost=Decimal(0),
        perceived_value=Decimal(0),
        cost_pct_of_loss=Decimal(pct),
    )

    suggestion = only(rank_gestures([refund], context(cause="pricing")))

    assert suggestion.components["compensation"] == pytest.approx(expected_fit, abs=1e-4)
    assert reason in suggestion.reasons
    assert suggestion.cost == Decimal("120.00") * Decimal(pct) / 100


def test_rank_gestures_ranks_refunds_inside_band_above_those_outside() -> None:
    refunds = [
        gesture(
            f"refund_{pct:03d}",
            resource_kind="money_now",
            cost=Decimal(0),
            perceived_value=Decimal(0),
            cost_pct_of_loss=Decimal(pct),
        )
        for pct in (50, 100, 150, 300)
    ]

    ranking = rank_gestures(refunds, context(cause="pricing"), limit=None)

    scores = {s.gesture_code: s.score for s in ranking.suggestions}
    assert scores["refund_100"] == scores["refund_150"]
    assert min(scores["refund_100"], scores["refund_150"]) > max(scores["refund_050"], scores["refund_300"])


def test_rank_gestures_skips_band_when_gesture_is_not_money() -> None:
    suggestion = only(rank_gestures([gesture(resource_kind="exchange")], context()))

    assert "compensation" not in suggestion.components
    assert not any("band" in r or "loss" in r for r in suggestion.reasons)


def test_rank_gestures_excludes_share_of_loss_gesture_when_no_loss() -> None:
    refund = gesture(resource_kind="money_now", cost_pct_of_loss=Decimal(100))

    ranking = rank_gestures([refund], context(cause="pricing", monetary_loss=Decimal(0)))

    assert excluded_reasons(ranking) == {"g": "no_loss"}


# --- Surprise and repeats --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "received", "excluded"),
    [
        (1, 0, False),
        (1, 1, True),
        (2, 1, False),
        (2, 2, True),
        (2, 5, True),
    ],
)
def test_rank_gestures_never_repeats_gesture_when_yearly_limit_reached(
    limit: int, received: int, excluded: bool
) -> None:
    ctx = context(received_gesture_counts_past_year={"g": received, "other_code": 9})

    ranking = rank_gestures([gesture(per_customer_per_year=limit)], ctx)

    assert (excluded_reasons(ranking) == {"g": "already_received"}) is excluded
    assert (ranking.suggestions == ()) is excluded


def test_rank_gestures_explains_limit_when_already_received() -> None:
    ctx = context(received_gesture_counts_past_year={"g": 2})

    ranking = rank_gestures([gesture(per_customer_per_year=2)], ctx)

    assert ranking.excluded[0].detail == (
        "Already given to this customer 2 times in the past year; the limit is 2 times"
    )


def test_rank_gestures_discounts_surprise_when_customer_had_it_before() -> None:
    fresh = only(rank_gestures([gesture(per_customer_per_year=3)], context()))
    repeat = only(
        rank_gestures(
            [gesture(per_customer_per_year=3)],
            context(received_gesture_counts_past_year={"g": 1}),
        )
    )

    assert "New to this customer — a real surprise" in fresh.reasons
    assert "Already given to this customer once this year — no longer a surprise" in repeat.reasons
    assert repeat.components["surprise"] < fresh.components["surprise"]
    assert repeat.score < fresh.score


@pytest.mark.parametrize(
    ("surprise", "reason"),
    [
        (0, "What the customer would expect — no surprise"),
        (1, "New to this customer — a little more than they expect"),
        (2, "New to this customer — a real surprise"),
        (3, "New to this customer — a real surprise"),
    ],
)
def test_rank_gestures_scores_higher_surprise_higher(surprise: int, reason: str) -> None:
    suggestion = only(rank_gestures([gesture(surprise=surprise)], context()))

    assert reason in suggestion.reasons
    assert suggestion.components["surprise"] == pytest.approx(surprise / 3, abs=1e-4)


@pytest.mark.parametrize(("grade", "wider_than"), [("ugly", "bad"), ("bad", "neutral"), ("neutral", "good")])
def test_rank_gestures_weighs_surprise_more_when_case_is_worse(grade: str, wider_than: str) -> None:
    def gap(case_grade: str) -> float:
        gestures = [gesture("a_plain", surprise=0), gesture("b_surprising", surprise=3)]
        scores = {s.gesture_code: s.score for s in rank_gestures(gestures, context(grade=case_grade)).suggestions}
        return scores["b_surprising"] - scores["a_plain"]

    assert gap(grade) > gap(wider_than) > 0


# --- Grade floor, budget and other exclusions ------------------------------------------------


@pytest.mark.parametrize(
    ("min_grade", "grade", "excluded"),
    [
        ("ugly", "bad", True),
        ("ugly", "ugly", False),
        ("bad", "neutral", True),
        ("bad", "ugly", False),
        ("neutral", "good", True),
        ("good", "good", False),
    ],
)
def test_rank_gestures_excludes_gesture_when_below_grade_floor(min_grade: str, grade: str, excluded: bool) -> None:
    ranking = rank_gestures([gesture(min_grade=min_grade)], context(grade=grade))

    assert (excluded_reasons(ranking) == {"g": "below_grade"}) is excluded


def test_rank_gestures_explains_grade_floor_when_kept_for_ugly() -> None:
    ranking = rank_gestures([gesture(min_grade="ugly")], context(grade="bad"))

    assert ranking.excluded[0].detail == "Kept for ugly cases; this one is bad"


@pytest.mark.parametrize(
    ("min_grade", "fit", "reason"),
    [
        ("ugly", 1.0, "Sized for an ugly case like this one"),
        ("bad", 0.7, "Lighter than an ugly case usually needs (open from bad cases up)"),
        ("good", 0.1, "Lighter than an ugly case usually needs (open from good cases up)"),
    ],
)
def test_rank_gestures_fits_grade_best_when_floor_matches_case(min_grade: str, fit: float, reason: str) -> None:
    suggestion = only(rank_gestures([gesture(min_grade=min_grade)], context(grade="ugly")))

    assert suggestion.components["grade"] == pytest.approx(fit)
    assert reason in suggestion.reasons


@pytest.mark.parametrize(
    ("budget", "cost", "pct", "excluded"),
    [
        (None, "5000.00", None, False),  # no cap
        ("100.00", "100.00", None, False),  # exactly the budget is allowed
        ("100.00", "100.01", None, True),
        ("150.00", "0", "150", True),  # 150% of £120 = £180
        ("180.00", "0", "150", False),
    ],
)
def test_rank_gestures_excludes_gesture_when_over_budget(
    budget: str | None, cost: str, pct: str | None, excluded: bool
) -> None:
    g = gesture(
        resource_kind="money_now",
        cost=Decimal(cost),
        cost_pct_of_loss=None if pct is None else Decimal(pct),
    )
    ctx = context(cause="pricing", budget=None if budget is None else Decimal(budget))

    ranking = rank_gestures([g], ctx)

    assert (excluded_reasons(ranking) == {"g": "over_budget"}) is excluded


def test_rank_gestures_explains_budget_when_over_it() -> None:
    ranking = rank_gestures([gesture(cost=Decimal("250"))], context(budget=Decimal("200")))

    assert ranking.excluded[0].detail == "Costs £250.00, over the £200.00 budget for this case"


@pytest.mark.parametrize(
    ("overrides", "ctx_overrides", "reason"),
    [
        ({"active": False}, {}, "inactive"),
        ({"causes": frozenset({"pricing"})}, {"cause": "ignored"}, "wrong_cause"),
        # Several reasons at once: the first in a fixed order is reported.
        ({"active": False, "min_grade": "ugly"}, {"grade": "good"}, "inactive"),
        ({"causes": frozenset({"pricing"}), "min_grade": "ugly"}, {"grade": "good"}, "wrong_cause"),
        ({"min_grade": "ugly", "cost": Decimal(999)}, {"budget": Decimal(1)}, "below_grade"),
    ],
)
def test_rank_gestures_reports_exclusion_reason_when_not_offerable(
    overrides: dict[str, Any], ctx_overrides: dict[str, Any], reason: str
) -> None:
    ranking = rank_gestures([gesture(**overrides)], context(**ctx_overrides))

    assert excluded_reasons(ranking) == {"g": reason}
    assert ranking.suggestions == ()


def test_rank_gestures_explains_wrong_cause_in_plain_words() -> None:
    ranking = rank_gestures([gesture(causes=frozenset({"pricing"}))], context(cause="ignored"))

    assert ranking.excluded[0].detail == "Not meant for complaints about being ignored"


# --- Learned return rate ---------------------------------------------------------------------
# Issue 11: the learned term counts from the first outcome (no cliff), is scored against the cause's
# mean, can overturn the static fit when the data are clear, and first place is drawn among gestures
# in equipoise with logged propensities.


TWINS = [gesture("a_twin"), gesture("b_twin")]


def learned_for(cells: dict[str, tuple[int, int]]) -> dict[str, LearnedSignal]:
    """Signals for one cause from (successes, offers) per gesture, as the selector builds them."""
    cause_s, cause_n = sum(s for s, _ in cells.values()), sum(n for _, n in cells.values())
    return {code: cell_signal(s, n, s, n, cause_successes=cause_s, cause_trials=cause_n) for code, (s, n) in cells.items()}


def test_rank_gestures_uses_learned_rate_when_data_differ() -> None:
    learned = learned_for({"a_twin": (6, 30), "b_twin": (16, 25)})

    ranking = rank_gestures(TWINS, context(), learned)

    assert codes(ranking) == ["b_twin", "a_twin"]
    assert any(r.startswith("Came back after 64% of offers to similar customers (n=25)") for r in ranking.suggestions[0].reasons)
    assert ranking.suggestions[0].components["learned"] == pytest.approx(learned["b_twin"].mean, abs=1e-4)


def test_rank_gestures_counts_learned_rate_from_the_first_outcome() -> None:
    # given one gesture that brought its first customer back, and its twin that did not
    learned = learned_for({"a_twin": (0, 1), "b_twin": (1, 1)})

    ranking = rank_gestures(TWINS, context(), learned)

    # then: one outcome already moves the score, a little — no threshold before learning starts
    scores = {s.gesture_code: s.score for s in ranking.suggestions}
    assert 0 < scores["b_twin"] - scores["a_twin"] < 20
    assert "learned" in ranking.suggestions[0].components


def test_rank_gestures_has_no_cliff_at_ten_outcomes() -> None:
    # given a gesture with a steady 60% record while its twin stays at 40% over 50 offers
    scores = []
    for n in range(1, 31):
        learned = learned_for({"a_twin": (20, 50), "b_twin": (round(0.6 * n), n)})
        ranking = rank_gestures(TWINS, context(), learned, limit=None)
        scores.append(next(s.score for s in ranking.suggestions if s.gesture_code == "b_twin"))

    # then: each outcome moves the score one step (at most the weight of one customer at small n), and
    # the step from 9 to 10 outcomes is no bigger than its neighbours (it used to add the whole term)
    steps = [abs(b - a) for a, b in zip(scores, scores[1:], strict=False)]
    assert max(steps) < 20
    neighbours = steps[6:8] + steps[9:11]  # n = 7->8, 8->9, 10->11, 11->12
    assert steps[8] <= max(neighbours) + 0.5  # n = 9 -> 10


@pytest.mark.parametrize(("offers", "winner"), [(2, "a_fitting"), (200, "b_proven")])
def test_rank_gestures_lets_clearly_better_gesture_overtake_better_fitting_one(offers: int, winner: str) -> None:
    # given a gesture that fits much better on paper (in kind, big surprise) and one that fits worse
    fitting = gesture("a_fitting", surprise=3)
    proven = gesture("b_proven", resource_kind="money_later", surprise=1)
    static = rank_gestures([fitting, proven], context())
    assert codes(static) == ["a_fitting", "b_proven"]
    assert static.suggestions[0].score - static.suggestions[1].score > 20
    # ... and the worse fit brings back 60% of customers offered it, the better fit 30%
    learned = learned_for({"a_fitting": (round(0.3 * offers), offers), "b_proven": (round(0.6 * offers), offers)})

    ranking = rank_gestures([fitting, proven], context(), learned)

    # then: two outcomes each do not overturn the fit (it stays a prior); two hundred do
    assert codes(ranking)[0] == winner


def test_rank_gestures_scores_learning_relative_to_the_cause_mean() -> None:
    # given the same record for a gesture, in a cause where others do better and one where they do worse
    strong_cause = learned_for({"a_twin": (30, 60), "b_twin": (48, 60)})
    weak_cause = learned_for({"a_twin": (30, 60), "b_twin": (12, 60)})

    in_strong = next(s for s in rank_gestures(TWINS, context(), strong_cause).suggestions if s.gesture_code == "a_twin")
    in_weak = next(s for s in rank_gestures(TWINS, context(), weak_cause).suggestions if s.gesture_code == "a_twin")

    assert any("below this cause's average" in r for r in in_strong.reasons)
    assert any("above this cause's average" in r for r in in_weak.reasons)
    assert in_weak.score > in_strong.score


def test_rank_gestures_says_not_offered_yet_when_learned_has_no_entry_for_gesture() -> None:
    suggestion = only(rank_gestures([gesture()], context(), learned={}))

    assert "Not offered for this cause yet (n=0)" in suggestion.reasons


# --- Equipoise band and propensities ----------------------------------------------------------


def test_rank_gestures_logs_propensities_summing_to_one_over_the_band() -> None:
    gestures = [gesture("a_twin"), gesture("b_twin"), gesture("c_far", resource_kind="exchange", surprise=0)]
    learned = learned_for({"a_twin": (30, 60), "b_twin": (31, 60), "c_far": (3, 200)})

    ranking = rank_gestures(gestures, context(), learned, limit=None)

    in_band = [s for s in ranking.suggestions if s.in_band]
    assert {s.gesture_code for s in in_band} == {"a_twin", "b_twin"} == set(ranking.band)
    assert sum(s.propensity for s in in_band) == pytest.approx(1.0, abs=1e-5)
    assert all(0 < s.propensity < 1 for s in in_band)
    assert next(s for s in ranking.suggestions if s.gesture_code == "c_far").propensity == 0


def test_rank_gestures_draws_first_place_with_the_logged_propensities() -> None:
    gestures = [gesture("a_twin"), gesture("b_twin", surprise=1)]
    learned = learned_for({"a_twin": (10, 30), "b_twin": (12, 30)})
    expected = {s.gesture_code: s.propensity for s in rank_gestures(gestures, context(), learned).suggestions}

    firsts = [rank_gestures(gestures, context(), learned, rng=random.Random(seed)) for seed in range(2000)]

    share_b = sum(r.suggestions[0].gesture_code == "b_twin" for r in firsts) / len(firsts)
    assert share_b == pytest.approx(expected["b_twin"], abs=0.035)
    assert all(r.randomised for r in firsts)
    # the same seed draws the same first place: what is logged is what was shown
    again = rank_gestures(gestures, context(), learned, rng=random.Random(7))
    assert again.suggestions == firsts[7].suggestions


def test_rank_gestures_does_not_randomise_when_one_gesture_is_clearly_best() -> None:
    learned = learned_for({"a_twin": (60, 300), "b_twin": (210, 300)})

    ranking = rank_gestures(TWINS, context(), learned, rng=random.Random(1))

    assert ranking.band == ("b_twin",)
    assert ranking.randomised is False
    assert ranking.suggestions[0].propensity == 1.0


def test_rank_gestures_adds_gestures_a_manager_marked_equivalent_to_the_band() -> None:
    learned = learned_for({"a_twin": (60, 300), "b_twin": (210, 300)})

    ranking = rank_gestures(TWINS, context(), learned, equivalent=[frozenset({"a_twin", "b_twin"})])

    assert set(ranking.band) == {"a_twin", "b_twin"}
    assert sum(s.propensity for s in ranking.suggestions) == pytest.approx(1.0, abs=1e-5)


def test_equipoise_band_is_the_top_alone_when_nothing_is_close() -> None:
    assert equipoise_band([("a", 90.0, 1.0), ("b", 40.0, 1.0)]) == {"a": 1.0}
    assert equipoise_band([]) == {}


# --- Never repeat a surprise ------------------------------------------------------------------


@pytest.mark.parametrize(("surprise", "excluded"), [(0, False), (1, True), (3, True)])
def test_rank_gestures_never_suggests_a_surprise_twice_to_the_same_customer(surprise: int, excluded: bool) -> None:
    # given a customer offered the gesture once, long ago, and a generous yearly limit
    ctx = context(ever_offered=frozenset({"g"}))

    ranking = rank_gestures([gesture(surprise=surprise, per_customer_per_year=5)], ctx)

    assert (excluded_reasons(ranking) == {"g": "surprise_used"}) is excluded


# --- Ordering, limits, determinism -----------------------------------------------------------


def test_rank_gestures_breaks_ties_by_code() -> None:
    gestures = [gesture("charlie"), gesture("alpha"), gesture("bravo")]

    ranking = rank_gestures(gestures, context())

    assert codes(ranking) == ["alpha", "bravo", "charlie"]
    assert [s.rank for s in ranking.suggestions] == [1, 2, 3]


@pytest.mark.parametrize(("limit", "expected"), [(1, 1), (3, 3), (None, 5)])
def test_rank_gestures_returns_at_most_limit_suggestions(limit: int | None, expected: int) -> None:
    gestures = [gesture(f"g{i}") for i in range(5)]

    ranking = rank_gestures(gestures, context(), limit=limit)

    assert len(ranking.suggestions) == expected
    assert [s.rank for s in ranking.suggestions] == list(range(1, expected + 1))


def test_rank_gestures_is_deterministic_when_input_order_changes() -> None:
    starters = [GestureSpec.from_mapping(g, id=i) for i, g in enumerate(STARTER_GESTURES, 1)]
    shuffled = starters[:]
    random.Random(1).shuffle(shuffled)
    ctx = context(cause="service_delay", grade="bad")

    assert rank_gestures(starters, ctx, limit=None).suggestions == rank_gestures(shuffled, ctx, limit=None).suggestions


@pytest.mark.parametrize("cause", CAUSES)
@pytest.mark.parametrize("grade", GRADES)
def test_rank_gestures_scores_between_0_and_100(cause: str, grade: str) -> None:
    starters = [GestureSpec.from_mapping(g) for g in STARTER_GESTURES]

    ranking = rank_gestures(starters, context(cause=cause, grade=grade), limit=None)

    assert ranking.suggestions, "every case should get at least one suggestion"
    assert all(0 <= s.score <= 100 for s in ranking.suggestions)
    assert all(s.reasons for s in ranking.suggestions)
    assert len(ranking.suggestions) + len(ranking.excluded) == len(starters)


def test_rank_gestures_penalises_cost_when_above_lifetime_value() -> None:
    pricey = gesture(cost=Decimal("500"), perceived_value=Decimal("900"))

    loyal = only(rank_gestures([pricey], context(lifetime_value=Decimal("5000"))))
    new = only(rank_gestures([pricey], context(lifetime_value=Decimal("100"))))

    assert new.score < loyal.score
    assert "Costs more than the £100.00 this customer has spent with us" in new.reasons


# --- GestureSpec -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cost", "pct", "loss", "expected"),
    [
        ("25.00", None, "120.00", "25.00"),
        ("0", "100", "120.00", "120.00"),
        ("0", "150", "120.00", "180.00"),
        ("0", "150", "33.33", "50.00"),  # 49.995 rounds half up to the penny
        ("0", "60", "0", "0.00"),
    ],
)
def test_gesture_spec_effective_cost_scales_with_loss_when_pct_set(
    cost: str, pct: str | None, loss: str, expected: str
) -> None:
    g = gesture(cost=Decimal(cost), cost_pct_of_loss=None if pct is None else Decimal(pct))

    assert g.effective_cost(Decimal(loss)) == Decimal(expected)


@pytest.mark.parametrize(
    "overrides",
    [
        {"resource_kind": "cash"},
        {"min_grade": "awful"},
        {"approval_tier": "ceo"},
        {"causes": frozenset()},
        {"causes": frozenset({"weather"})},
        {"surprise": 4},
        {"surprise": -1},
        {"per_customer_per_year": 0},
        {"cost": Decimal("-1")},
        {"cost_pct_of_loss": Decimal(0)},
    ],
)
def test_gesture_spec_rejects_invalid_values(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        gesture(**overrides)


@pytest.mark.parametrize("overrides", [{"cause": "weather"}, {"grade": "awful"}, {"monetary_loss": Decimal("-1")}])
def test_complaint_context_rejects_invalid_values(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        context(**overrides)


# --- Starter playbook ------------------------------------------------------------------------

STARTER_KEYS = {
    "code",
    "title",
    "script",
    "resource_kind",
    "causes",
    "cost",
    "perceived_value",
    "surprise",
    "min_grade",
    "approval_tier",
    "per_customer_per_year",
    "compensation_pct_of_loss",
}


def test_starter_gestures_have_about_twenty_items_with_unique_codes() -> None:
    all_codes = [g["code"] for g in STARTER_GESTURES]

    assert 18 <= len(STARTER_GESTURES) <= 24
    assert len(set(all_codes)) == len(all_codes)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", c) for c in all_codes)


@pytest.mark.parametrize("entry", STARTER_GESTURES, ids=[g["code"] for g in STARTER_GESTURES])
def test_starter_gestures_are_well_formed(entry: dict[str, Any]) -> None:
    assert set(entry) == STARTER_KEYS
    assert entry["resource_kind"] in RESOURCE_KINDS
    assert entry["min_grade"] in GRADES
    assert entry["approval_tier"] in TIERS
    assert entry["causes"] and set(entry["causes"]) <= ALL_CAUSES
    assert len(set(entry["causes"])) == len(entry["causes"])
    assert entry["surprise"] in (0, 1, 2, 3)
    assert entry["per_customer_per_year"] >= 1
    assert isinstance(entry["cost"], Decimal) and isinstance(entry["perceived_value"], Decimal)
    pct = entry["compensation_pct_of_loss"]
    if pct is None:
        assert entry["cost"] >= 0 and entry["perceived_value"] > 0
    else:
        # sized per complaint, so no fixed amounts to contradict it
        assert isinstance(pct, Decimal) and pct > 0
        assert entry["cost"] == 0 and entry["perceived_value"] == 0
        assert entry["resource_kind"] in ("money_now", "money_later")
    # An agent reads the script aloud or follows it: two or three sentences.
    assert 2 <= len(re.findall(r"[.!?](?:\s|$)", entry["script"])) <= 3
    assert GestureSpec.from_mapping(entry).code == entry["code"]


@pytest.mark.parametrize("cause", CAUSES)
def test_starter_gestures_cover_every_cause_at_least_twice(cause: str) -> None:
    assert sum(cause in g["causes"] for g in STARTER_GESTURES) >= 2


@pytest.mark.parametrize(
    ("code", "resource_kind", "min_grade", "approval_tier", "pct"),
    [
        ("exec_call_six_months_free", "attention", "ugly", "executive", None),
        ("handwritten_note", "attention", "neutral", "frontline", None),
        ("refund_100_percent", "money_now", "neutral", "lead", Decimal(100)),
        ("refund_150_percent", "money_now", "bad", "manager", Decimal(150)),
        ("store_credit_120_percent", "money_later", "neutral", "lead", Decimal(120)),
        ("priority_line", "attention", "bad", "lead", None),
        ("redo_service_free", "redo_service", "neutral", "frontline", None),
        ("upgrade_replacement", "exchange", "bad", "manager", None),
        ("surprise_gift", "attention", "bad", "lead", None),
    ],
)
def test_starter_gestures_include_the_core_playbook(
    code: str, resource_kind: str, min_grade: str, approval_tier: str, pct: Decimal | None
) -> None:
    entry = next(g for g in STARTER_GESTURES if g["code"] == code)

    assert (entry["resource_kind"], entry["min_grade"], entry["approval_tier"]) == (
        resource_kind,
        min_grade,
        approval_tier,
    )
    assert entry["compensation_pct_of_loss"] == pct


@pytest.mark.parametrize(
    ("cause", "grade", "expected_top"),
    [
        ("ignored", "ugly", {"exec_personal_call", "exec_call_six_months_free"}),
        ("staff_conduct", "neutral", {"handwritten_note"}),
        ("pricing", "bad", {"refund_150_percent"}),
        ("service_delay", "bad", {"redo_by_senior_specialist"}),
        ("product_quality", "bad", {"upgrade_replacement"}),
        ("failed_fix", "neutral", {"express_replacement", "plan_upgrade_three_months"}),
    ],
)
def test_rank_gestures_suggests_sensible_starter_gesture_when_case_is_typical(
    cause: str, grade: str, expected_top: set[str]
) -> None:
    starters = [GestureSpec.from_mapping(g) for g in STARTER_GESTURES]

    ranking = rank_gestures(starters, context(cause=cause, grade=grade))

    assert ranking.suggestions[0].gesture_code in expected_top
