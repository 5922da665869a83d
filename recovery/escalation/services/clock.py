"""The SLA clock: it stands still while a complaint waits on the customer, and on resuming the deadlines move on
by the time it stood still. Part of every assessment (assess.py), which reads the hours it has run."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from recovery.escalation.services.common import SWEEP_ACTOR
from recovery.formatting import duration, when
from recovery.models import SlaClock
from tickets.events import event_write
from tickets.models import Complaint, Status, TimelineEvent


def clock_reconcile(complaint: Complaint, now: datetime, updates: dict[str, Any]) -> tuple[SlaClock | None, bool]:
    """Pause the SLA clock while the complaint waits on the customer; on resuming, move its deadlines on
    by the paused time. Uses the time of the status change, so a late task still pauses at the right moment."""
    clock = SlaClock.objects.filter(complaint=complaint).first()
    waiting = complaint.status == Status.WAITING_ON_CUSTOMER
    if waiting and (clock is None or clock.paused_at is None):
        started = _status_change_at(complaint, to_status=Status.WAITING_ON_CUSTOMER) or now
        if clock is None:
            clock = SlaClock.objects.create(complaint=complaint, paused_at=started)
        else:
            clock.paused_at = started
            clock.save(update_fields=["paused_at"])
        return clock, False
    if not waiting and clock is not None and clock.paused_at is not None:
        ended = _status_change_at(complaint, from_status=Status.WAITING_ON_CUSTOMER) or now
        paused = max(timedelta(0), ended - clock.paused_at)
        clock.paused_seconds += int(paused.total_seconds())
        clock.paused_at = None
        clock.save(update_fields=["paused_seconds", "paused_at"])
        moved = {}
        for name in ("response_due_at", "resolution_due_at"):
            due = getattr(complaint, name)
            if due is not None and paused:
                moved[name] = due + paused
                setattr(complaint, name, moved[name])
                updates[name] = moved[name]
        if moved:
            parts = [f"{'response' if n == 'response_due_at' else 'resolution'} now due {when(v)}" for n, v in moved.items()]
            event_write(
                complaint=complaint,
                kind=TimelineEvent.Kind.DEADLINE_SET,
                actor=SWEEP_ACTOR,
                message=f"Deadlines moved on by {duration(paused.total_seconds())} (paused while waiting on the customer): "
                + "; ".join(parts),
                data={"reason": "resumed", "paused_seconds": int(paused.total_seconds()), **moved},
            )
        return clock, bool(moved)
    return clock, False


def _status_change_at(complaint: Complaint, *, to_status: str | None = None, from_status: str | None = None) -> datetime | None:
    events = TimelineEvent.objects.filter(complaint=complaint, kind=TimelineEvent.Kind.STATUS_CHANGED)
    events = events.filter(data__to=to_status) if to_status else events.filter(data__from=from_status)
    return events.order_by("-created_at", "-id").values_list("created_at", flat=True).first()
