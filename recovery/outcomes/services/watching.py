"""Watching: open one outcome (with one window per configured length) when a complaint is resolved or
closed. Its comparison group (offered or not, which gesture) is fixed then: intention-to-treat."""


from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from recovery.models import Gesture, Offer, OutcomeWindow, RecoveryOutcome
from recovery.outcomes.config import window_days
from recovery.outcomes.services.common import MAX_BATCH, SYSTEM, State
from recovery.outcomes.services.rollup import rollup_kept
from recovery.outcomes.services.windows import customers_lock, settle_due, windows_close_returned
from recovery.webhook_payloads import windows_settled_publish
from tickets.events import event_write, jsonable
from tickets.models import Complaint, Status, TimelineEvent


@dataclass(frozen=True)
class _Plan:
    recovered: bool
    offer_id: int | None
    gesture_id: int | None
    gesture_cost: Decimal
    anchor_at: datetime
    hours_to_resolve: float | None
    fulfilled_at: datetime | None = None


@dataclass(frozen=True)
class Group:
    """The comparison group of a complaint's outcome, decided at its resolution (intention-to-treat)."""

    offered: bool
    declined: bool
    offered_gesture_id: int | None


# Offers not called off by the resolution: put to the customer's case, whatever came of them after.
OFFERED_STATUSES = (
    Offer.Status.PROPOSED,
    Offer.Status.PENDING_APPROVAL,
    Offer.Status.APPROVED,
    Offer.Status.FULFILLED,
    Offer.Status.DECLINED,
)


def itt_group(offers: Sequence[Mapping[str, Any]]) -> Group:
    """The group of a complaint from its offers at resolution (each: status, gesture_id), latest first.

    Offered: any offer not rejected or withdrawn — a decline stays offered, because who declines is not
    chance and leaving them out would flatter the gesture. The gesture judged is the fulfilled one, else
    the latest offered. Pure, so the zero-effect simulation groups exactly as the service does.
    """
    live = [o for o in offers if o["status"] in OFFERED_STATUSES]
    if not live:
        return Group(offered=False, declined=False, offered_gesture_id=None)
    fulfilled = [o for o in live if o["status"] == Offer.Status.FULFILLED]
    judged = (fulfilled or live)[0]
    declined = not fulfilled and any(o["status"] == Offer.Status.DECLINED for o in live)
    return Group(offered=True, declined=declined, offered_gesture_id=judged["gesture_id"])


def _offers(complaint_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """complaint id -> its offers, latest first; one query."""
    offers: dict[int, list[dict[str, Any]]] = {}
    rows = (
        Offer.objects.filter(complaint_id__in=list(complaint_ids))
        .order_by("complaint_id", "-created_at", "-id")
        .values("complaint_id", "id", "status", "gesture_id", "cost", "fulfilled_at", "created_at")
    )
    for row in rows:
        offers.setdefault(row["complaint_id"], []).append(row)
    return offers


def _fulfilled(offers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [o for o in offers if o["status"] == Offer.Status.FULFILLED]
    return sorted(rows, key=lambda o: (o["fulfilled_at"] or o["created_at"], o["id"]), reverse=True)


def _plan(complaint: Complaint, fulfilled: list[dict[str, Any]]) -> _Plan | None:
    """The outcome's anchor (the resolution, for every group) and what was fulfilled, if anything."""
    resolved_at = complaint.resolved_at or complaint.closed_at
    if resolved_at is None:
        return None
    hours = max(round((resolved_at - complaint.created_at).total_seconds() / 3600, 2), 0.0)
    if not fulfilled:
        return _Plan(False, None, None, Decimal("0.00"), resolved_at, hours)
    # Several fulfilled gestures: the latest is the one described, the cost is what all of them cost.
    latest = fulfilled[0]
    return _Plan(
        recovered=True,
        offer_id=latest["id"],
        gesture_id=latest["gesture_id"],
        gesture_cost=sum((row["cost"] for row in fulfilled), Decimal("0.00")),
        anchor_at=resolved_at,
        hours_to_resolve=hours,
        fulfilled_at=latest["fulfilled_at"],
    )


@dataclass(frozen=True)
class OpenResult:
    outcome: RecoveryOutcome | None
    # "opened", "reanchored", "unchanged", "decided" (re-resolved after a window was decided), "not_resolved"
    action: str


@transaction.atomic
def outcome_open(*, complaint_id: int, now: datetime | None = None) -> OpenResult:
    """Open the outcome of a resolved or closed complaint; safe to call any number of times.

    - First call: one outcome with a window per OUTCOME_WINDOWS_DAYS and its group fixed (see
      `itt_group`), one timeline event; activity already recorded after the anchor closes windows at
      once, and windows already elapsed settle.
    - Reopened and resolved again while every window is still pending: the outcome is re-anchored to
      the new resolution — one event, windows rebuilt; its group stays.
    - A gesture fulfilled after the resolution is recorded (what it cost, when) — one event — without
      moving the anchor or the group.
    - Once a window is decided the anchor is final: what the customer did after the first resolution
      has been observed and counted, so a later resolution does not move it.
    """
    now = now or timezone.now()
    complaint = (
        Complaint.objects.select_for_update(of=("self",)).select_related("customer").filter(pk=complaint_id).first()
    )
    if complaint is None or complaint.status not in (Status.RESOLVED, Status.CLOSED):
        return OpenResult(None, "not_resolved")
    offers = _offers([complaint.pk]).get(complaint.pk, [])
    plan = _plan(complaint, _fulfilled(offers))
    if plan is None:
        return OpenResult(None, "not_resolved")
    customers_lock([complaint.customer_id])
    with rollup_kept([complaint.customer_id]):
        return _open_locked(complaint, offers, plan, now)


def _open_locked(complaint: Complaint, offers: list[dict[str, Any]], plan: _Plan, now: datetime) -> OpenResult:
    """outcome_open once the customer is locked: open, re-anchor or record a late fulfilment."""
    outcome = RecoveryOutcome.objects.filter(complaint_id=complaint.pk).first()
    if outcome is None:
        outcome, action = _outcome_create(complaint, offers, plan), "opened"
    else:
        action = _outcome_revise(outcome, complaint, plan)
        if action in ("decided", "unchanged"):
            return OpenResult(outcome, action)
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.OUTCOME,
        actor=SYSTEM,
        message=_opening_message(outcome, action),
        data=_opening_data(outcome, action),
    )
    # Backfilled history: activity already on record decides windows now, not at the next sweep.
    windows_close_returned(OutcomeWindow.objects.filter(outcome_id=outcome.pk), now)
    settle_due(now, outcome_id=outcome.pk)
    windows_settled_publish(settled_at=now, outcome_id=outcome.pk)
    outcome.refresh_from_db()
    return OpenResult(outcome, action)


@transaction.atomic
def outcomes_open_many(*, complaint_ids: Iterable[int], now: datetime | None = None) -> int:
    """Open outcomes in bulk for resolved or closed complaints that have none — for backfills and demo history.

    The same rules as outcome_open for a first opening (anchor, windows, one timeline event each, activity
    already on record closes windows), in a fixed number of queries. Complaints that already have an
    outcome, or are not resolved, are left alone. Elapsed windows without a return are settled by the next
    sweep (or call outcome_windows_settle). Returns how many outcomes were opened.
    """
    now = now or timezone.now()
    complaints = list(
        Complaint.objects.select_for_update(of=("self",))
        .filter(pk__in=list(complaint_ids), status__in=[Status.RESOLVED, Status.CLOSED], outcome__isnull=True)
        .order_by("pk")
    )
    offers = _offers(c.pk for c in complaints)
    planned = [(c, plan) for c in complaints if (plan := _plan(c, _fulfilled(offers.get(c.pk, [])))) is not None]
    if not planned:
        return 0
    customers_lock(c.customer_id for c, _ in planned)
    with rollup_kept(c.customer_id for c, _ in planned):
        return _open_many_locked(planned, offers, now)


def _open_many_locked(planned: list[tuple[Complaint, _Plan]], offers: dict[int, list[dict[str, Any]]], now: datetime) -> int:
    outcomes = RecoveryOutcome.objects.bulk_create(
        [
            RecoveryOutcome(
                complaint=c, customer_id=c.customer_id, cause=c.cause, grade=c.grade, tier=c.tier,
                **_group_fields(itt_group(offers.get(c.pk, []))), **_plan_fields(plan),
            )
            for c, plan in planned
        ],
        batch_size=MAX_BATCH,
    )
    OutcomeWindow.objects.bulk_create(
        [
            OutcomeWindow(outcome=outcome, days=days, ends_at=outcome.anchor_at + timedelta(days=days))
            for outcome in outcomes
            for days in window_days()
        ],
        batch_size=MAX_BATCH,
    )
    _opening_events_create(outcomes)
    customer_ids = {o.customer_id for o in outcomes}
    windows_close_returned(OutcomeWindow.objects.filter(outcome__customer_id__in=customer_ids), now)
    windows_settled_publish(settled_at=now, customer_ids=customer_ids)
    return len(outcomes)


def _outcome_create(complaint: Complaint, offers: list[dict[str, Any]], plan: _Plan) -> RecoveryOutcome:
    """The first opening: the outcome with its group fixed (see `itt_group`) and its windows."""
    outcome = RecoveryOutcome.objects.create(
        complaint=complaint,
        customer_id=complaint.customer_id,
        cause=complaint.cause,
        grade=complaint.grade,
        tier=complaint.tier,
        **_group_fields(itt_group(offers)),
        **_plan_fields(plan),
    )
    _windows_create(outcome)
    return outcome


def _outcome_revise(outcome: RecoveryOutcome, complaint: Complaint, plan: _Plan) -> str:
    """A later call on an opened outcome: "unchanged" or "decided" (nothing to do), else the fulfilment is recorded
    ("fulfilment") and, while every window is pending, the outcome moves to the new resolution ("reanchored")."""
    decided = outcome.windows.exclude(state=State.PENDING).exists()
    fulfilment_same = outcome.offer_id == plan.offer_id and outcome.gesture_cost == plan.gesture_cost
    anchor_same = decided or (
        outcome.anchor_at == plan.anchor_at
        and sorted(outcome.windows.values_list("days", flat=True)) == list(window_days())
    )
    if fulfilment_same and anchor_same:
        return "decided" if decided else "unchanged"
    # The group (offered, declined, offered_gesture) is never touched here: it was fixed at opening.
    fields = _fulfilment_fields(plan)
    if not anchor_same:
        fields |= {"anchor_at": plan.anchor_at, "hours_to_resolve": plan.hours_to_resolve,
                   "grade": complaint.grade, "tier": complaint.tier}
    for name, value in fields.items():
        setattr(outcome, name, value)
    outcome.save()
    if not anchor_same:
        outcome.windows.all().delete()
        _windows_create(outcome)
    return "fulfilment" if anchor_same else "reanchored"

def _opening_data(outcome: RecoveryOutcome, action: str) -> dict[str, Any]:
    """The data of an outcome's opening event (opened, re-anchored, or a fulfilment recorded)."""
    return {
        "action": action,
        "offered": outcome.offered,
        "declined": outcome.declined,
        "recovered": outcome.recovered,
        "offer_id": outcome.offer_id,
        "gesture_id": outcome.gesture_id,
        "anchor_at": outcome.anchor_at,
        "windows_days": list(window_days()),
    }


def _opening_events_create(outcomes: list[RecoveryOutcome]) -> None:
    """One `opened` timeline event per outcome, in bulk (outcomes_open_many)."""
    titles = dict(
        Gesture.objects.filter(pk__in={o.offered_gesture_id for o in outcomes if o.offered_gesture_id}).values_list(
            "pk", "title"
        )
    )
    TimelineEvent.objects.bulk_create(
        [
            TimelineEvent(
                complaint=outcome.complaint,
                kind=TimelineEvent.Kind.OUTCOME,
                actor_type=SYSTEM.kind,
                actor_label=SYSTEM.label,
                message=_opening_message(outcome, "opened", gesture_title=titles.get(outcome.offered_gesture_id)),
                data=jsonable(_opening_data(outcome, "opened")),
            )
            for outcome in outcomes
        ],
        batch_size=MAX_BATCH,
    )


def _fulfilment_fields(plan: _Plan) -> dict[str, Any]:
    return {
        "recovered": plan.recovered,
        "offer_id": plan.offer_id,
        "gesture_id": plan.gesture_id,
        "gesture_cost": plan.gesture_cost,
        "fulfilled_at": plan.fulfilled_at,
    }


def _plan_fields(plan: _Plan) -> dict[str, Any]:
    return {**_fulfilment_fields(plan), "anchor_at": plan.anchor_at, "hours_to_resolve": plan.hours_to_resolve}


def _group_fields(group: Group) -> dict[str, Any]:
    return {"offered": group.offered, "declined": group.declined, "offered_gesture_id": group.offered_gesture_id}


def _windows_create(outcome: RecoveryOutcome) -> None:
    OutcomeWindow.objects.bulk_create(
        [
            OutcomeWindow(outcome=outcome, days=days, ends_at=outcome.anchor_at + timedelta(days=days))
            for days in window_days()
        ]
    )


def _opening_message(outcome: RecoveryOutcome, action: str, *, gesture_title: str | None = None) -> str:
    days = window_days()
    spans = ", ".join(str(d) for d in days[:-1]) + (f" and {days[-1]}" if len(days) > 1 else str(days[-1]))
    if action == "fulfilment":
        title = gesture_title or (outcome.gesture.title if outcome.gesture_id else "The gesture")
        return f"{title} was fulfilled after the resolution; the outcome stays in the group it was given then"
    if outcome.offered:
        if gesture_title is None and outcome.offered_gesture_id:
            gesture_title = outcome.offered_gesture.title
        title = gesture_title or "a gesture"
        what = f"after resolution; {title} was offered" + (" and declined" if outcome.declined else "")
    else:
        what = "after resolution without a gesture offered (comparison group)"
    lead = "Watching again" if action == "reanchored" else "Watching"
    return f"{lead} whether the customer comes back within {spans} days {what}"
