"""Unit tests for recovery.outcomes.learning: pure statistics, no database."""

from __future__ import annotations

import random

import pytest

from recovery.outcomes.learning import beta_posterior, cell_signal, wilson_interval
from tests.recovery.outcomes.simulation import simulate_bandit, simulate_returns, thompson_preference

STRONG, WEAK = "b_strong", "a_weak"  # the weak one sorts first, so ties would favour it
TRUE_RATES = {WEAK: 0.4, STRONG: 0.7}


# --- Wilson interval -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "trials", "expected"),
    [
        # Hand-computed: centre = (p + z²/2n) / (1 + z²/n), margin = z·√(p(1-p)/n + z²/4n²) / (1 + z²/n)
        (8, 10, (0.490, 0.943)),
        (5, 10, (0.237, 0.763)),
        (0, 10, (0.000, 0.278)),
        (10, 10, (0.722, 1.000)),
        (50, 100, (0.404, 0.596)),
    ],
)
def test_wilson_interval_matches_hand_computed_bounds(
    successes: int, trials: int, expected: tuple[float, float]
) -> None:
    low, high = wilson_interval(successes, trials)

    assert (round(low, 3), round(high, 3)) == expected


def test_wilson_interval_is_whole_range_when_no_trials() -> None:
    assert wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(("trials", "expected_narrower"), [(10, False), (100, True), (1000, True)])
def test_wilson_interval_narrows_when_more_trials(trials: int, expected_narrower: bool) -> None:
    low10, high10 = wilson_interval(6, 10)
    low, high = wilson_interval(6 * trials // 10, trials)

    assert ((high - low) < (high10 - low10)) is expected_narrower


@pytest.mark.parametrize(("successes", "trials"), [(-1, 5), (6, 5), (0, -1)])
def test_wilson_interval_rejects_impossible_counts(successes: int, trials: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(successes, trials)


# --- Beta posterior and shrinkage ------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "trials", "prior_mean", "prior_strength", "expected"),
    [
        (0, 0, 0.3, 10.0, (3.0, 7.0)),  # no data: the prior alone
        (8, 10, 0.5, 10.0, (13.0, 7.0)),
        (80, 100, 0.5, 10.0, (85.0, 25.0)),
        (1, 4, 0.6, 5.0, (4.0, 5.0)),
    ],
)
def test_beta_posterior_adds_prior_pseudo_counts(
    successes: int,
    trials: int,
    prior_mean: float,
    prior_strength: float,
    expected: tuple[float, float],
) -> None:
    assert beta_posterior(successes, trials, prior_mean, prior_strength) == pytest.approx(expected)


@pytest.mark.parametrize(("prior_mean", "prior_strength"), [(0.0, 10.0), (1.0, 10.0), (0.5, 0.0), (0.5, -1.0)])
def test_beta_posterior_rejects_degenerate_prior(prior_mean: float, prior_strength: float) -> None:
    with pytest.raises(ValueError):
        beta_posterior(1, 2, prior_mean, prior_strength)


@pytest.mark.parametrize(
    ("cell", "pooled", "low", "high"),
    [
        # 3/3 in this cause, but the gesture brings back 40% overall: stay near the pool.
        ((3, 3), (40, 100), 0.40, 0.60),
        # 0/2 in this cause, 80% overall: a bad start is mostly noise.
        ((0, 2), (80, 100), 0.60, 0.80),
        # 90/100 in this cause: the cell's own data win over a 40% pool.
        ((90, 100), (140, 200), 0.84, 0.90),
        # Nothing anywhere: the global prior.
        ((0, 0), (0, 0), 0.50, 0.50),
    ],
)
def test_cell_signal_shrinks_cell_toward_pooled_rate(
    cell: tuple[int, int], pooled: tuple[int, int], low: float, high: float
) -> None:
    signal = cell_signal(*cell, *pooled)

    assert low <= signal.mean <= high


def test_cell_signal_prior_leaves_the_cell_out() -> None:
    # given a gesture with 9 of 10 back in this cause and 20 of 100 in the others (pooled: 29 of 110)
    signal = cell_signal(9, 10, 29, 110, prior_strength=10.0, global_prior=0.5)

    # then the prior is the other causes' record alone: (20 + 0.5·10) / (100 + 10) = 0.2273 — the cell's
    # own 9 of 10 do not count twice; the posterior adds them once: (2.273 + 9) / (10 + 10) = 0.5636
    assert signal.prior_mean == pytest.approx(25 / 110, abs=1e-4)
    assert signal.mean == pytest.approx((10 * 25 / 110 + 9) / 20, abs=1e-4)


def test_cell_signal_prior_starts_from_the_other_gestures_of_the_cause() -> None:
    # given a new gesture (0/0) in a cause where the other gestures brought back 30 of 100
    signal = cell_signal(0, 0, 0, 0, cause_successes=30, cause_trials=100, prior_strength=10.0)

    # then its prior is the cause's rate, shrunk a little toward one half: (30 + 5) / 110
    assert signal.prior_mean == pytest.approx(35 / 110, abs=1e-4)
    assert signal.mean == pytest.approx(35 / 110, abs=1e-4)


def test_cell_signal_rejects_pooled_counts_without_the_cell() -> None:
    with pytest.raises(ValueError):
        cell_signal(5, 10, 2, 4)


def test_cell_signal_shrinks_less_when_cell_has_more_data() -> None:
    # given the same 80% cell rate against a 40% pool
    small = cell_signal(4, 5, 40, 100)
    large = cell_signal(80, 100, 120, 200)

    # then the bigger cell sits closer to its own 80%
    assert abs(0.8 - large.mean) < abs(0.8 - small.mean)


@pytest.mark.parametrize(
    ("successes", "trials", "insufficient", "label"),
    [
        (0, 0, True, "Not offered for this cause yet (n=0)"),
        (2, 3, True, "Came back after 67% of offers to similar customers (n=3) — too few to tell yet"),
        (6, 9, True, "Came back after 67% of offers to similar customers (n=9) — too few to tell yet"),
        (7, 10, False, "Came back after 70% of offers to similar customers (n=10)"),
        (16, 25, False, "Came back after 64% of offers to similar customers (n=25)"),
    ],
)
def test_cell_signal_flags_insufficient_data_when_below_min_n(
    successes: int, trials: int, insufficient: bool, label: str
) -> None:
    signal = cell_signal(successes, trials, 50, 100, min_n=10)

    assert signal.insufficient_data is insufficient
    assert signal.label == label
    assert signal.n == trials


def test_cell_signal_has_no_sample_when_no_rng() -> None:
    signal = cell_signal(5, 10, 50, 100)

    assert signal.sample is None
    assert signal.rate == signal.mean


def test_cell_signal_samples_repeatably_when_rng_is_seeded() -> None:
    first = cell_signal(5, 10, 50, 100, rng=random.Random(7))
    second = cell_signal(5, 10, 50, 100, rng=random.Random(7))

    assert first.sample is not None
    assert 0.0 < first.sample < 1.0
    assert first.sample == second.sample
    assert first.rate == first.sample


# --- Thompson sampling on simulated outcomes -------------------------------------------------


def _preference_for_strong(customers_each: int, seed: int) -> float:
    rng = random.Random(seed)
    cells = {
        code: (simulate_returns(rate, customers_each, rng), customers_each) for code, rate in sorted(TRUE_RATES.items())
    }
    return thompson_preference(cells, draws=400, rng=rng)[STRONG]


@pytest.mark.parametrize("seed", range(10))
def test_thompson_preference_picks_better_gesture_when_enough_data(seed: int) -> None:
    # 200 customers each at a true 70% vs 40%: the better gesture wins nearly every draw
    assert _preference_for_strong(200, seed) >= 0.95


@pytest.mark.parametrize("seed", range(5))
def test_thompson_preference_is_a_coin_flip_when_no_data(seed: int) -> None:
    assert 0.4 <= _preference_for_strong(0, seed) <= 0.6


def test_thompson_preference_is_not_reliable_when_data_is_tiny() -> None:
    # given 20 separate experiments with only 3 customers per gesture
    shares = [_preference_for_strong(3, seed) for seed in range(20)]

    # then the better gesture is often not the clear favourite, unlike with enough data
    clear_wins = sum(share >= 0.95 for share in shares)
    assert clear_wins <= 10
    assert min(shares) < 0.6


@pytest.mark.parametrize("seed", range(3))
def test_simulate_bandit_settles_on_better_gesture_when_it_has_learned(seed: int) -> None:
    chosen = simulate_bandit(TRUE_RATES, rounds=600, rng=random.Random(seed))

    late = chosen[-200:]
    assert late.count(STRONG) / len(late) >= 0.9
    # it did try the weaker one along the way
    assert WEAK in chosen


def test_simulate_bandit_is_deterministic_when_seeded() -> None:
    first = simulate_bandit(TRUE_RATES, rounds=100, rng=random.Random(3))
    second = simulate_bandit(TRUE_RATES, rounds=100, rng=random.Random(3))

    assert first == second
