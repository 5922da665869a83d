"""Writes timeline rows: the audit trail of a complaint. Called only from services, inside their transaction."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from tickets.actors import ActorRef
from tickets.bulk import insert_one
from tickets.models import Complaint, TimelineEvent


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if hasattr(value, "pk"):
        return value.pk
    return value


def event_write(
    *, complaint: Complaint, kind: str, actor: ActorRef, message: str = "", data: dict[str, Any] | None = None
) -> TimelineEvent:
    event = event_build(complaint=complaint, kind=kind, actor=actor, message=message, data=data)
    insert_one(event)  # what save() would store, without compiling the INSERT again for every event
    return event


def event_build(
    *, complaint: Complaint | None, kind: str, actor: ActorRef, message: str = "", data: dict[str, Any] | None = None
) -> TimelineEvent:
    """The event event_write stores, unsaved: for a writer that stores it with its complaint (complaint_log)."""
    return TimelineEvent(
        complaint=complaint,
        kind=kind,
        actor_type=actor.kind,
        actor_user=actor.user if actor.user is not None and actor.user.pk else None,
        actor_key=actor.api_key,
        actor_label=actor.label[:200],
        message=message[:500],
        data=jsonable(data or {}),
    )
