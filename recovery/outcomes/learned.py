"""The learned return rate of each gesture for a cause, as the playbook ranking consumes it."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping

from django.db.models import Sum

from recovery.models import GestureLearning
from recovery.outcomes.learning import LearnedSignal, cell_signal


def learned_rates_for(
    cause: str, *, codes: Iterable[str] = (), rng: random.Random | None = None
) -> Mapping[str, LearnedSignal]:
    """gesture code -> LearnedSignal of P(return | offered) for this cause, for every gesture with counts
    and every code in `codes` (a gesture never offered starts from the prior).

    Each cell's prior leaves its own counts out (recovery.outcomes.learning.loo_prior_mean). With an rng the
    signal also carries a Thompson sample. Two queries.
    """
    pooled = {
        row["gesture__code"]: (row["s"] or 0, row["n"] or 0)
        for row in GestureLearning.objects.values("gesture__code").annotate(s=Sum("successes"), n=Sum("trials"))
    }
    cells = {
        row["gesture__code"]: (row["successes"], row["trials"])
        for row in GestureLearning.objects.filter(cause=cause).values("gesture__code", "successes", "trials")
    }
    cause_s = sum(s for s, _ in cells.values())
    cause_n = sum(n for _, n in cells.values())
    signals = {}
    for code in sorted(set(pooled) | set(codes)):
        cell_s, cell_n = cells.get(code, (0, 0))
        pooled_s, pooled_n = pooled.get(code, (0, 0))
        signals[code] = cell_signal(
            cell_s, cell_n, pooled_s, pooled_n, cause_successes=cause_s, cause_trials=cause_n, rng=rng
        )
    return signals
