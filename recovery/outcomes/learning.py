"""Learning which gestures bring customers back — pure statistics, no ORM.

For each (cause, gesture) cell we keep a Beta posterior of "came back within the watch window,
given the gesture was offered" — declined offers included, so a gesture customers refuse does not
look better than it is. Cells are small (one cause, one gesture), so each cell starts from a prior
built *without its own data* (leave-one-out): the gesture's record in the other causes, shrunk toward
the cause's rate over the other gestures. From the very first outcome the posterior counts — there
is no minimum before learning starts (a cliff there made new gestures be tried in a fixed order);
below THIN_N outcomes the label only says "too few to tell".
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = [
    "THIN_N",
    "LearnedSignal",
    "beta_posterior",
    "cell_signal",
    "loo_prior_mean",
    "wilson_interval",
]


# Below this many outcomes a rate is labelled "too few to tell" (the ranking still counts it).
THIN_N = 30
# How many outcomes the leave-one-out prior is worth: enough to start near what the rest of the
# data says, few enough that a cell's own first dozens of outcomes move it.
PRIOR_STRENGTH = 10.0


@dataclass(frozen=True)
class LearnedSignal:
    """What the playbook needs to know about one gesture's record for one cause.

    `mean` is the posterior mean of P(return | offered); `alpha`/`beta` the posterior; `prior_mean`
    the leave-one-out prior it started from; `cause_mean` the cause's rate over every gesture (what
    the ranking scores against); `sample` one Thompson draw (None without an rng); `n`/`successes`
    the raw counts of this cell; `label` a sentence for the agent.
    """

    mean: float
    sample: float | None
    n: int
    successes: int
    insufficient_data: bool
    label: str
    alpha: float = 1.0
    beta: float = 1.0
    prior_mean: float = 0.5
    cause_mean: float = 0.5

    @property
    def rate(self) -> float:
        """The Thompson draw when there is one, else the mean."""
        return self.sample if self.sample is not None else self.mean

    @property
    def sd(self) -> float:
        """Standard deviation of the posterior: how unsure the mean still is."""
        total = self.alpha + self.beta
        return math.sqrt(self.alpha * self.beta / (total * total * (total + 1.0)))


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


def loo_prior_mean(
    cell_successes: int,
    cell_trials: int,
    pooled_successes: int,
    pooled_trials: int,
    *,
    cause_successes: int | None = None,
    cause_trials: int | None = None,
    prior_strength: float = PRIOR_STRENGTH,
    global_prior: float = 0.5,
) -> float:
    """The prior mean of one (cause, gesture) cell, built without the cell's own outcomes.

    `pooled_*` are the gesture's counts over all causes and `cause_*` the cause's counts over all
    gestures; both include the cell, which is taken out of each (leave-one-out). The cause's rate over
    the other gestures (shrunk toward `global_prior`) is the base; the gesture's record in the other
    causes moves the prior away from it with `prior_strength` pseudo-counts. A prior that included the
    cell would count its outcomes twice and make a lucky start look surer than it is.
    """
    _check_counts(cell_successes, cell_trials)
    _check_counts(pooled_successes, pooled_trials)
    other_s, other_n = pooled_successes - cell_successes, pooled_trials - cell_trials
    if other_n < 0 or other_s < 0 or other_s > other_n:
        raise ValueError("pooled counts must include the cell's counts")
    base = global_prior
    if cause_successes is not None and cause_trials is not None:
        _check_counts(cause_successes, cause_trials)
        rest_s, rest_n = cause_successes - cell_successes, cause_trials - cell_trials
        if rest_n < 0 or rest_s < 0 or rest_s > rest_n:
            raise ValueError("cause counts must include the cell's counts")
        base = (rest_s + global_prior * prior_strength) / (rest_n + prior_strength)
    return (other_s + base * prior_strength) / (other_n + prior_strength)


def cell_signal(
    cell_successes: int,
    cell_trials: int,
    pooled_successes: int,
    pooled_trials: int,
    *,
    cause_successes: int | None = None,
    cause_trials: int | None = None,
    min_n: int = THIN_N,
    prior_strength: float = PRIOR_STRENGTH,
    global_prior: float = 0.5,
    rng: random.Random | None = None,
) -> LearnedSignal:
    """The learned return rate of one gesture for one cause: P(return | offered).

    `pooled_*` are the gesture's counts over all causes and `cause_*` the cause's over all gestures,
    both including this cell (see `loo_prior_mean`). The posterior counts from the first outcome;
    `min_n` only decides the "too few to tell" label. With `rng`, `sample` is a Thompson draw.
    """
    prior = loo_prior_mean(
        cell_successes,
        cell_trials,
        pooled_successes,
        pooled_trials,
        cause_successes=cause_successes,
        cause_trials=cause_trials,
        prior_strength=prior_strength,
        global_prior=global_prior,
    )
    # The prior mean stays strictly inside (0, 1): it is a shrunk average with positive pseudo-counts.
    alpha, beta = beta_posterior(cell_successes, cell_trials, prior, prior_strength)
    mean = alpha / (alpha + beta)
    if cause_successes is not None and cause_trials is not None:
        cause_mean = (cause_successes + global_prior * prior_strength) / (cause_trials + prior_strength)
    else:
        cause_mean = global_prior
    sample = rng.betavariate(alpha, beta) if rng is not None else None
    insufficient = cell_trials < min_n
    return LearnedSignal(
        mean=mean,
        sample=sample,
        n=cell_trials,
        successes=cell_successes,
        insufficient_data=insufficient,
        label=_signal_label(cell_successes, cell_trials, insufficient=insufficient),
        alpha=alpha,
        beta=beta,
        prior_mean=prior,
        cause_mean=cause_mean,
    )


def _signal_label(successes: int, trials: int, *, insufficient: bool) -> str:
    if trials == 0:
        return "Not offered for this cause yet (n=0)"
    # Show the observed share, not the shrunk mean: it is what an agent can check by hand.
    observed = f"Came back after {successes / trials:.0%} of offers to similar customers (n={trials})"
    return f"{observed} — too few to tell yet" if insufficient else observed


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








