"""Keeping the metrics rollup (recovery.models.OutcomeRollup) equal to the outcome tables.

Every column of the rollup is a sum over customers, so a write that changes some customers' outcomes or
windows takes their old share away and adds the new one, in its own transaction (`rollup_kept`); the settle
sweep also moves the mark (`rolled_to`) to its `now`, for the customers whose windows ended since. Writers
take the mark's row lock first, so two of them never compute a share from each other's half-done state.
Never-complained anchors (NeverComplainedAnchor) are recomputed for the customers whose activity arrives or
who complain (`anchors=True`). `outcome_rollup_rebuild` recomputes everything from scratch (`manage.py outcome_rollup_rebuild`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from recovery.models import CustomerActivity, NeverComplainedAnchor, OutcomeRollup, OutcomeRollupMark, OutcomeWindow
from recovery.outcomes.metrics.rollup import MEASURES, PARTS, Cell, anchors_ending, never_days, shares
from recovery.outcomes.services.common import MAX_BATCH, Kind, State
from tickets.models import Complaint

logger = logging.getLogger(__name__)

# Above this many customers one rebuild reads the windows once, where shares before and after read them twice.
REBUILD_ABOVE = 20_000


# What a write of activity or complaints can change: the anchors, so the never-complained rows only.
NEVER_ONLY = frozenset({"never"})
# What closing windows on activity can change: the windows' state and revenue, so the windows' rows only.
WINDOWS_ONLY = frozenset({"windows"})


def _locked_mark() -> OutcomeRollupMark | None:
    return OutcomeRollupMark.objects.select_for_update().order_by("pk").first()


# A customer's anchor: the first qualifying activity, unless a complaint of theirs was logged at or before it;
# with the next qualifying activity after it (came back within N days when it is less than N days later).
_ANCHORS = """
INSERT INTO {anchor} (customer_id, occurred_at, next_at)
SELECT f.customer_id, f.first_at,
       (SELECT MIN(x.occurred_at) FROM {activity} x
         WHERE x.customer_id = f.customer_id AND x.kind <> %s AND x.occurred_at > f.first_at)
FROM (SELECT a.customer_id, MIN(a.occurred_at) AS first_at FROM {activity} a
       WHERE a.kind <> %s {only} GROUP BY a.customer_id) f
WHERE NOT EXISTS (SELECT 1 FROM {complaint} c WHERE c.customer_id = f.customer_id AND c.created_at <= f.first_at)
"""


def anchors_refresh(customer_ids: list[int] | None) -> None:
    """Recompute the never-complained anchors of these customers (None: everyone): one DELETE, one INSERT … SELECT."""
    anchors = NeverComplainedAnchor.objects.all()
    if customer_ids is not None:
        anchors = anchors.filter(customer_id__in=customer_ids)
    anchors.delete()
    if customer_ids == []:
        return
    quote = connection.ops.quote_name
    only = f"AND a.customer_id IN ({', '.join(['%s'] * len(customer_ids))})" if customer_ids is not None else ""
    sql = _ANCHORS.format(
        anchor=quote(NeverComplainedAnchor._meta.db_table), activity=quote(CustomerActivity._meta.db_table),
        complaint=quote(Complaint._meta.db_table), only=only,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Kind.GESTURE_REDEMPTION, Kind.GESTURE_REDEMPTION, *(customer_ids or [])])


def _rows(cells: dict[Cell, dict[str, Any]]) -> list[OutcomeRollup]:
    return [
        OutcomeRollup(grouping=g, days=d, offered=o, declined=dec, key=key, **{m: v[m] for m in MEASURES})
        for (g, d, o, dec, key), v in cells.items()
    ]


@transaction.atomic
def outcome_rollup_rebuild(*, now: datetime | None = None) -> int:
    """Recompute the rollup from scratch, as of `now`: a few aggregate queries and one bulk insert. Returns rows."""
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        # Writers that looked for the mark before it existed would not keep the rollup: they wait here instead.
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {OutcomeRollupMark._meta.db_table} IN EXCLUSIVE MODE")
    mark = _locked_mark()
    if mark is None:
        mark = OutcomeRollupMark.objects.create(rolled_to=now, rebuilt_at=now, never_days=never_days())
    anchors_refresh(None)
    OutcomeRollup.objects.all().delete()
    rows = _rows(shares(None, now))
    OutcomeRollup.objects.bulk_create(rows, batch_size=MAX_BATCH)
    OutcomeRollupMark.objects.filter(pk=mark.pk).update(rolled_to=now, rebuilt_at=now, never_days=never_days())
    logger.info("Rebuilt the metrics rollup as of %s: %s rows", now, len(rows))
    return len(rows)


def _apply(before: dict[Cell, dict[str, Any]], after: dict[Cell, dict[str, Any]]) -> None:
    """Add after - before to the rollup: one read of the touched rows, one upsert."""
    delta: dict[Cell, dict[str, Any]] = {}
    for sign, cells in ((-1, before), (1, after)):
        for cell, values in cells.items():
            target = delta.setdefault(cell, dict.fromkeys(MEASURES, 0))
            for m in MEASURES:
                target[m] += sign * values[m]
    delta = {cell: v for cell, v in delta.items() if any(v[m] for m in MEASURES)}
    if not delta:
        return
    current: dict[Cell, dict[str, Any]] = {}
    touched = Q()
    for g, d, o, dec, key in delta:
        touched |= Q(grouping=g, days=d, offered=o, declined=dec, key=key)
    for row in OutcomeRollup.objects.filter(touched).values("grouping", "days", "offered", "declined", "key", *MEASURES):
        current[(row["grouping"], row["days"], row["offered"], row["declined"], row["key"])] = row
    merged = {}
    for cell, change in delta.items():
        old = current.get(cell, dict.fromkeys(MEASURES, 0))
        merged[cell] = {m: old[m] + change[m] for m in MEASURES}
    OutcomeRollup.objects.bulk_create(
        _rows(merged), update_conflicts=True, unique_fields=["grouping", "days", "offered", "declined", "key"],
        update_fields=list(MEASURES), batch_size=MAX_BATCH,
    )


@contextmanager
def rollup_kept(
    customer_ids: Iterable[int] | Callable[[OutcomeRollupMark], Iterable[int]],
    *,
    advance_to: datetime | None = None,
    anchors: bool = False,
    parts: frozenset[str] = PARTS,
) -> Iterator[None]:
    """Around a write that changes these customers' outcomes or windows (inside its transaction): the rollup
    follows. With `advance_to` the mark also moves there (the settle sweep); `customer_ids` may then be a
    function of the mark, called once it is locked. With `anchors` (their activity or complaints changed) their
    never-complained anchors are recomputed too. `parts`: the only rollup rows the write can change (activity
    changes only the never-complained rows; closing windows only the windows'), so the others are not read.
    Nothing without a rollup."""
    mark = _locked_mark()
    if mark is None:
        yield
        return
    ids = sorted(set(customer_ids(mark) if callable(customer_ids) else customer_ids))
    if len(ids) > REBUILD_ABOVE:
        yield
        outcome_rollup_rebuild(now=max(advance_to or mark.rolled_to, mark.rolled_to))
        return
    before = shares(ids, mark.rolled_to, parts) if ids else {}
    yield
    if anchors and ids:
        anchors_refresh(ids)
    rolled_to = max(advance_to, mark.rolled_to) if advance_to else mark.rolled_to
    after = shares(ids, rolled_to, parts) if ids else {}
    _apply(before, after)
    if rolled_to != mark.rolled_to:
        OutcomeRollupMark.objects.filter(pk=mark.pk).update(rolled_to=rolled_to)


def settling_customers(now: datetime) -> Callable[[OutcomeRollupMark], list[int]]:
    """Customers whose share changes when the sweep settles and moves the mark to `now`: those with a window
    due (pending, ended) or decided and ended since the mark."""

    def customers(mark: OutcomeRollupMark) -> list[int]:
        due = Q(state=State.PENDING) | Q(ends_at__gt=mark.rolled_to)
        windows = OutcomeWindow.objects.filter(due, ends_at__lte=now).values_list("outcome__customer_id", flat=True)
        ending = anchors_ending(mark.rolled_to, now) if now > mark.rolled_to else Q(pk__in=[])
        anchors = NeverComplainedAnchor.objects.filter(ending).values_list("customer_id", flat=True)
        return sorted(set(windows.distinct()) | set(anchors))

    return customers


def never_complained_kept(customer_ids: Iterable[int]) -> None:
    """These customers complained (a complaint logged or imported): recompute their anchors and the rollup."""
    with rollup_kept(customer_ids, anchors=True, parts=NEVER_ONLY):
        pass
