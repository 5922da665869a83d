"""Learning from outcomes: GestureLearning counts from settled windows, and the ranking that uses them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from recovery.models import GestureLearning, Offer, OutcomeWindow, RecoveryOutcome
from recovery.offers.playbook import ComplaintContext, GestureSpec
from recovery.offers.ranking import rank_gestures
from recovery.outcomes import config as outcome_config
from recovery.outcomes import services
from recovery.outcomes.learned import learned_rates_for
from recovery.outcomes.tasks import gesture_learning_recompute_task
from tests.factories import CustomerFactory
from tests.recovery.outcomes_factories import make_gesture
from tickets.models import Complaint

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 9, 1, tzinfo=UTC)
CAUSE = "ignored"
WEAK, STRONG = "a_weak", "b_strong"  # the weak one sorts first, so a tie would favour it
TRUE_RATES = {WEAK: 0.35, STRONG: 0.65}


def settled_outcomes(gesture, results: list[bool], *, cause: str = CAUSE, days: int = 60, recovered: bool = True,
                     ends_at: datetime | None = None, declined: bool = False) -> None:
    """One outcome per result, offered `gesture` (fulfilled unless `declined`; not offered at all when
    `recovered` is False), each with a decided `days` window that ended before NOW."""
    offered = recovered or declined
    customer = CustomerFactory()
    complaints = Complaint.objects.bulk_create(
        [Complaint(customer=customer, cause=cause, severity=3, subject="s") for _ in results]
    )
    anchor = (ends_at or NOW - timedelta(days=1)) - timedelta(days=days)
    outcomes = RecoveryOutcome.objects.bulk_create(
        [
            RecoveryOutcome(
                complaint=c, customer=customer, recovered=recovered and not declined,
                gesture=gesture if recovered and not declined else None,
                offered=offered, declined=declined, offered_gesture=gesture if offered else None,
                cause=cause, tier="frontline", anchor_at=anchor, gesture_cost=Decimal("10"),
            )
            for c in complaints
        ]
    )
    OutcomeWindow.objects.bulk_create(
        [
            OutcomeWindow(
                outcome=o, days=days, ends_at=anchor + timedelta(days=days),
                state="returned" if came_back else "not_returned",
            )
            for o, came_back in zip(outcomes, results, strict=True)
        ]
    )


def simulate(gesture, customers: int, rng: random.Random) -> None:
    settled_outcomes(gesture, [rng.random() < TRUE_RATES[gesture.code] for _ in range(customers)])


def spec(gesture) -> GestureSpec:
    return GestureSpec(
        id=gesture.pk, code=gesture.code, title=gesture.title, resource_kind=gesture.resource_kind,
        causes=frozenset(gesture.causes), cost=gesture.cost, cost_pct_of_loss=gesture.cost_pct_of_loss,
        perceived_value=gesture.perceived_value, surprise=gesture.surprise, min_grade=gesture.min_grade,
        approval_tier=gesture.approval_tier, per_customer_per_year=gesture.per_customer_per_year,
    )


CONTEXT = ComplaintContext(cause=CAUSE, grade="bad", monetary_loss=Decimal("50"), lifetime_value=Decimal("900"))


def share_ranked_first(code: str, specs: list[GestureSpec], *, draws: int = 200, seed: int = 7) -> float:
    """How often `code` comes first when the ranking draws first place among the gestures in equipoise."""
    rng = random.Random(seed)
    learned = learned_rates_for(CAUSE)
    first = 0
    for _ in range(draws):
        ranking = rank_gestures(specs, CONTEXT, learned, rng=rng)
        first += ranking.suggestions[0].gesture_code == code
    return first / draws


@pytest.fixture
def twins():
    """Two gestures identical in every way the ranking sees, except how often they truly bring customers back."""
    return make_gesture(WEAK, cost="20.00"), make_gesture(STRONG, cost="20.00")


# --- The ranking learns ---------------------------------------------------------------------------


def test_ranking_prefers_the_gesture_that_truly_returns_more_after_enough_data(twins, django_assert_max_num_queries):
    # given: 150 settled outcomes each, simulated from true return rates of 35% and 65%
    weak, strong = twins
    rng = random.Random(2025)
    simulate(weak, 150, rng)
    simulate(strong, 150, rng)

    # when: the learning task runs and the ranking draws from what it learned
    gesture_learning_recompute_task.delay()
    specs = [spec(weak), spec(strong)]

    # then: the strong gesture leads almost every draw, and the posterior means agree
    assert share_ranked_first(STRONG, specs) >= 0.95
    means = learned_rates_for(CAUSE)
    assert means[STRONG].mean > means[WEAK].mean
    assert rank_gestures(specs, CONTEXT, means).suggestions[0].gesture_code == STRONG
    assert means[STRONG].label.startswith("Came back after") and "(n=150)" in means[STRONG].label
    with django_assert_max_num_queries(2):
        learned_rates_for(CAUSE)


def test_ranking_counts_a_handful_of_outcomes_without_trusting_them(twins):
    # given: only a handful of outcomes each — here lopsided in the strong gesture's favour
    weak, strong = twins
    settled_outcomes(weak, [False, False, False, True])
    settled_outcomes(strong, [True, True, True, True])
    services.gesture_learning_recompute(now=NOW)
    specs = [spec(weak), spec(strong)]

    # then: labelled too few to tell, but counted from the start (no cliff): the strong gesture leads more
    # often than not, and the weak one is still drawn first sometimes — a handful of outcomes is not proof
    learned = learned_rates_for(CAUSE)
    assert learned[STRONG].insufficient_data and learned[WEAK].insufficient_data
    assert "too few to tell" in learned[STRONG].label
    assert 0.5 < share_ranked_first(STRONG, specs) < 1.0
    assert "learned" in rank_gestures(specs, CONTEXT, learned).suggestions[1].components


def test_ranking_switches_to_the_better_gesture_as_outcomes_accumulate(twins):
    weak, strong = twins
    rng = random.Random(11)
    shares = []
    for batch in (5, 20, 150):  # cumulative outcomes per gesture: 5, 25, 175
        simulate(weak, batch, rng)
        simulate(strong, batch, rng)
        services.gesture_learning_recompute(now=NOW)
        shares.append(share_ranked_first(STRONG, [spec(weak), spec(strong)], seed=batch))

    assert 0.2 < shares[0] < 0.9  # five outcomes each: still exploring
    assert shares[-1] >= 0.95
    assert shares == sorted(shares)


# --- What the recompute counts --------------------------------------------------------------------


def test_recompute_counts_settled_60_day_windows_of_offered_outcomes_per_cause_and_gesture():
    gesture = make_gesture("refund")
    settled_outcomes(gesture, [True, True])
    settled_outcomes(gesture, [False], declined=True)  # P(return | offered): declines count too
    settled_outcomes(gesture, [True], cause="pricing")
    settled_outcomes(gesture, [True, False], days=30)  # another window length
    settled_outcomes(gesture, [True], recovered=False)  # the comparison group has no gesture to learn about
    settled_outcomes(gesture, [True], ends_at=NOW + timedelta(days=3))  # returned, but not yet elapsed
    pending_customer_outcomes = RecoveryOutcome.objects.count()

    result = services.gesture_learning_recompute(now=NOW)

    cells = {(c.cause, c.gesture.code): (c.successes, c.trials) for c in GestureLearning.objects.select_related("gesture")}
    assert cells == {(CAUSE, "refund"): (2, 3), ("pricing", "refund"): (1, 1)}
    assert (result.cells, result.changed) == (2, 2)
    assert RecoveryOutcome.objects.count() == pending_customer_outcomes


def test_recompute_twice_changes_nothing_the_second_time():
    gesture = make_gesture("refund")
    settled_outcomes(gesture, [True, False])

    first = services.gesture_learning_recompute(now=NOW)
    stamp = GestureLearning.objects.get().updated_at
    second = services.gesture_learning_recompute(now=NOW)

    assert (first.changed, second.changed) == (1, 0)
    assert GestureLearning.objects.get().updated_at == stamp


def test_recompute_zeroes_a_cell_whose_outcomes_are_gone():
    gesture = make_gesture("refund")
    settled_outcomes(gesture, [True, False])
    services.gesture_learning_recompute(now=NOW)
    RecoveryOutcome.objects.all().delete()

    services.gesture_learning_recompute(now=NOW)

    assert (GestureLearning.objects.get().successes, GestureLearning.objects.get().trials) == (0, 0)


def test_recompute_follows_settling_of_real_windows(django_capture_on_commit_callbacks):
    # given: a recovered complaint whose 60-day window elapses without a return
    from tests.recovery.outcomes_factories import make_resolved_complaint, open_outcome

    gesture = make_gesture("upgrade")
    anchor = NOW - timedelta(days=100)
    complaint = make_resolved_complaint(resolved_at=anchor, fulfilled_at=anchor, gesture=gesture, cause=CAUSE)
    open_outcome(complaint, now=anchor)

    # when: the settle task runs (it queues learning on commit)
    from recovery.outcomes.tasks import outcome_windows_settle_task

    with django_capture_on_commit_callbacks(execute=True):
        outcome_windows_settle_task.delay()

    # then
    cell = GestureLearning.objects.get(gesture=gesture, cause=CAUSE)
    assert (cell.successes, cell.trials) == (0, 1)
    assert Offer.objects.filter(complaint=complaint).exists()


@pytest.mark.parametrize(("windows", "expected"), [((30, 60, 90), 60), ((30, 90), 30), ((45, 75, 120), 45), ((90,), 90)])
def test_learning_window_is_60_days_or_the_nearest_configured(settings, windows, expected):
    settings.OUTCOME_WINDOWS_DAYS = windows

    assert outcome_config.learning_window_days() == expected
