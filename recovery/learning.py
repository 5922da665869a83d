"""Learning which gestures bring customers back — pure statistics, no ORM.

For each (cause, gesture) cell we keep a Beta posterior of "returned within the watch window".
Cells are small (one cause, one gesture), so each cell is shrunk toward the gesture's pooled rate
across all causes, and that pooled rate is itself shrunk toward a global prior. Suggestions draw
from the posterior (Thompson sampling) so a gesture that merely looks good on three customers does
not lock the others out, and the UI says "too little data" below a minimum count.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "LearnedSignal",
    "beta_posterior",
    "cell_signal",
    "simulate_bandit",
    "simulate_returns",
    "thompson_preference",
    "wilson_interval",
]


@dataclass(frozen=True)
class LearnedSignal:
    """What the playbook needs to know about one gesture's record for one cause.

    `mean` is the shrunk posterior mean; `sample` is one Thompson draw (None when no rng was given);
    `n`/`successes` are the raw counts of this cell; `label` is a sentence for the agent.
    """

    mean: float
    sample: float | None
    n: int
    successes: int
    insufficient_data: bool
    label: str

    @property
    def rate(self) -> float:
        """The rate ranking should use: the Thompson draw when there is one, else the mean."""
        return self.sample if self.sample is not None else self.mean


def _check_counts(successes: int, trials: int) -> None:
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")


def beta_posterior(successes: int, trials: int, prior_mean: float, prior_strength: float) -> tuple[float, float]:
    """Beta(alpha, beta) for `successes` out of `trials`, shrunk toward `prior_mean`.

    The prior counts as `prior_strength` pseudo-customers who returned at `prior_mean`, so a cell
    with few trials stays near the prior and a cell with many trials follows its own data.
    """
    _check_counts(successes, trials)
    # A prior mean of exactly 0 or 1 gives a degenerate Beta that no data can move off the edge.
    if not 0.0 < prior_mean < 1.0:
        raise ValueError(f"prior_mean must be strictly between 0 and 1, got {prior_mean}")
    if prior_strength <= 0:
        raise ValueError(f"prior_strength must be positive, got {prior_strength}")
    alpha = prior_mean * prior_strength + successes
    beta = (1.0 - prior_mean) * prior_strength + (trials - successes)
    return alpha, beta


def cell_signal(
    cell_successes: int,
    cell_trials: int,
    pooled_successes: int,
    pooled_trials: int,
    *,
    min_n: int = 10,
    prior_strength: float = 10.0,
    global_prior: float = 0.5,
    rng: random.Random | None = None,
) -> LearnedSignal:
    """The learned return rate of one gesture for one cause.

    `pooled_*` are the gesture's counts over all causes (they may include this cell). Two levels
    of shrinkage: the pooled rate toward `global_prior`, then the cell toward that pooled rate,
    both with `prior_strength` pseudo-counts. With `rng`, `sample` is a Thompson draw from the
    cell's posterior; callers pass a seeded `random.Random` when they need repeatable results.
    """
    _check_counts(cell_successes, cell_trials)
    _check_counts(pooled_successes, pooled_trials)
    # Shrinking the pool too keeps its mean strictly inside (0, 1), e.g. a new gesture at 0/0.
    pooled_alpha, pooled_beta = beta_posterior(pooled_successes, pooled_trials, global_prior, prior_strength)
    pooled_mean = pooled_alpha / (pooled_alpha + pooled_beta)
    alpha, beta = beta_posterior(cell_successes, cell_trials, pooled_mean, prior_strength)
    mean = alpha / (alpha + beta)
    sample = rng.betavariate(alpha, beta) if rng is not None else None
    insufficient = cell_trials < min_n
    if insufficient:
        label = f"Too little data yet to know how often it brings customers back (n={cell_trials})"
    else:
        # Show the observed share, not the shrunk mean: it is what an agent can check by hand.
        observed = cell_successes / cell_trials
        label = f"Brought back {observed:.0%} of similar customers (n={cell_trials})"
    return LearnedSignal(
        mean=mean,
        sample=sample,
        n=cell_trials,
        successes=cell_successes,
        insufficient_data=insufficient,
        label=label,
    )


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a return rate (95% by default).

    With `trials == 0` it returns (0.0, 1.0): nothing is known, so every rate is plausible.
    Unlike the normal approximation it stays inside [0, 1] and behaves at 0/n and n/n.
    """
    _check_counts(successes, trials)
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    z2 = z * z
    denominator = 1.0 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denominator
    margin = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    return max(0.0, centre - margin), min(1.0, centre + margin)


# --- Simulation helpers: used by tests to show the learning loop behaves, never by the product.


def simulate_returns(true_rate: float, customers: int, rng: random.Random) -> int:
    """How many of `customers` came back when each returns with probability `true_rate`."""
    return sum(1 for _ in range(customers) if rng.random() < true_rate)


def thompson_preference(
    cells: Mapping[str, tuple[int, int]],
    *,
    draws: int,
    rng: random.Random,
    min_n: int = 10,
    prior_strength: float = 10.0,
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
