"""Simulations of the learning loop, for tests only: customers returning at a known rate, Thompson draws
between gestures, and the whole offer-and-watch loop. They drive the real recovery.outcomes.learning."""

from __future__ import annotations

import random
from collections.abc import Mapping

from recovery.outcomes.learning import PRIOR_STRENGTH, THIN_N, cell_signal


def simulate_returns(true_rate: float, customers: int, rng: random.Random) -> int:
    """How many of `customers` came back when each returns with probability `true_rate`."""
    return sum(1 for _ in range(customers) if rng.random() < true_rate)


def thompson_preference(
    cells: Mapping[str, tuple[int, int]],
    *,
    draws: int,
    rng: random.Random,
    min_n: int = THIN_N,
    prior_strength: float = PRIOR_STRENGTH,
) -> dict[str, float]:
    """Share of `draws` Thompson rounds each gesture wins, given (successes, trials) per gesture.

    Each gesture is its own pool here (one cause), so the cell shrinks toward the global prior.
    Gestures are visited in sorted order so a seeded rng gives the same answer every run.
    """
    codes = sorted(cells)
    wins = dict.fromkeys(codes, 0)
    for _ in range(draws):
        best_code = ""
        best_rate = -1.0
        for code in codes:
            successes, trials = cells[code]
            signal = cell_signal(
                successes,
                trials,
                successes,
                trials,
                min_n=min_n,
                prior_strength=prior_strength,
                rng=rng,
            )
            if signal.rate > best_rate:
                best_code, best_rate = code, signal.rate
        wins[best_code] += 1
    return {code: wins[code] / draws for code in codes}


def simulate_bandit(
    true_rates: Mapping[str, float],
    *,
    rounds: int,
    rng: random.Random,
    prior_strength: float = 10.0,
) -> list[str]:
    """Run the whole loop: each round offer the gesture Thompson picks, see if the customer returns.

    Returns the gesture chosen in each round, so a test can compare early and late choices.
    """
    counts = {code: [0, 0] for code in sorted(true_rates)}
    chosen: list[str] = []
    for _ in range(rounds):
        preference = thompson_preference(
            {code: (s, n) for code, (s, n) in counts.items()},
            draws=1,
            rng=rng,
            prior_strength=prior_strength,
        )
        code = max(preference, key=lambda c: preference[c])
        counts[code][1] += 1
        if rng.random() < true_rates[code]:
            counts[code][0] += 1
        chosen.append(code)
    return chosen
