"""Learning: rebuild the (cause, gesture) counts of "returned within the learning window" that the
playbook ranking draws from."""


from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from recovery.models import GestureLearning, OutcomeWindow
from recovery.outcomes.config import learning_window_days
from recovery.outcomes.services.common import MAX_BATCH, State

# --- Learning -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LearningResult:
    cells: int
    changed: int


@transaction.atomic
def gesture_learning_recompute(*, now: datetime | None = None) -> LearningResult:
    """Rebuild GestureLearning from settled 60-day windows of offered outcomes: one aggregate, one upsert.

    The counts are P(return | offered): every outcome whose complaint was offered the gesture by its
    resolution, declines and late fulfilments included — learning only from fulfilled offers would
    credit a gesture with the customers keen enough to accept it. Only windows that have fully elapsed
    count: a return is known early but a non-return only at the window's end, so counting
    undecided-but-returned windows would flatter recent gestures. Cells whose outcomes are gone drop
    to 0/0. Safe to run any number of times.
    """
    now = now or timezone.now()
    rows = (
        OutcomeWindow.objects.filter(
            days=learning_window_days(),
            ends_at__lte=now,
            outcome__offered=True,
            outcome__offered_gesture__isnull=False,
        )
        .exclude(state=State.PENDING)
        .values("outcome__cause", "outcome__offered_gesture_id")
        .annotate(trials=Count("id"), successes=Count("id", filter=Q(state=State.RETURNED)))
        .order_by()
    )
    counts = {
        (row["outcome__cause"], row["outcome__offered_gesture_id"]): (row["successes"], row["trials"]) for row in rows
    }
    current = {
        (cause, gesture_id): (successes, trials)
        for cause, gesture_id, successes, trials in GestureLearning.objects.values_list(
            "cause", "gesture_id", "successes", "trials"
        )
    }
    for key in current:
        counts.setdefault(key, (0, 0))
    changed = [
        GestureLearning(cause=cause, gesture_id=gesture_id, successes=successes, trials=trials)
        for (cause, gesture_id), (successes, trials) in counts.items()
        if current.get((cause, gesture_id)) != (successes, trials)
    ]
    if changed:
        GestureLearning.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["cause", "gesture"],
            update_fields=["successes", "trials", "updated_at"],
            batch_size=MAX_BATCH,
        )
    return LearningResult(cells=len(counts), changed=len(changed))
