"""The learned return rate of each gesture for a cause, as the playbook ranking consumes it."""

from __future__ import annotations

import random
from collections.abc import Mapping

from django.db.models import Sum

from recovery.learning import LearnedSignal, cell_signal
from recovery.models import GestureLearning


def learned_rates_for(cause: str, *, rng: random.Random | None = None) -> Mapping[str, LearnedSignal]:
    """gesture code -> LearnedSignal for this cause, shrunk toward the gesture's pooled rate.

    With an rng the signal carries a Thompson sample; without one, the posterior mean. Two queries.
    """
    pooled = {
        row["gesture__code"]: (row["s"] or 0, row["n"] or 0)
        for row in GestureLearning.objects.values("gesture__code").annotate(s=Sum("successes"), n=Sum("trials"))
    }
    cells = {
        row["gesture__code"]: (row["successes"], row["trials"])
        for row in GestureLearning.objects.filter(cause=cause).values("gesture__code", "successes", "trials")
    }
    signals = {}
    for code, (pooled_s, pooled_n) in pooled.items():
        cell_s, cell_n = cells.get(code, (0, 0))
        signals[code] = cell_signal(cell_s, cell_n, pooled_s, pooled_n, rng=rng)
    return signals
