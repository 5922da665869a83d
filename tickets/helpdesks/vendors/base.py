"""What every vendor module returns: plain frozen dataclasses, no ORM."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.dateparse import parse_datetime
from django.utils.html import strip_tags


class NotAuthentic(Exception):
    """The request's signature or password does not match: answered 401, nothing stored."""


class Unusable(Exception):
    """A verified delivery that cannot be mapped (for example no requester on a new ticket)."""


@dataclass(frozen=True)
class Envelope:
    """How one delivery is named before it is processed."""

    delivery_id: str
    event: str
    ticket_id: str = ""
    # A ping (Help Scout's helpscout.test): answered 200 and logged, never processed.
    ping: bool = False


@dataclass(frozen=True)
class Requester:
    external_id: str | None = None
    email: str | None = None
    name: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class NewComment:
    key: str  # the helpdesk's comment id (or a hash of the text): the same comment is recorded once
    body: str
    by_customer: bool
    public: bool = True


@dataclass(frozen=True)
class TicketChange:
    """The ticket as the delivery describes it. None means 'not sent'."""

    event: str
    ticket_id: str
    subject: str | None = None
    description: str | None = None
    status: str | None = None  # the helpdesk's status name, lower case
    status_changed: bool = False  # the event is about the status (note it even when it maps to nothing)
    priority: str | None = None  # low / normal / medium / high / urgent
    channel: str | None = None  # one of our Channel values
    tags: tuple[str, ...] | None = None  # the ticket's tags now
    tags_added: tuple[str, ...] = ()
    tags_removed: tuple[str, ...] = ()
    custom_fields: Mapping[str, str] = field(default_factory=dict)
    requester: Requester | None = None
    comment: NewComment | None = None
    satisfaction: str | None = None
    # True when the delivery only refers to a ticket (a rating): it never creates a complaint.
    reference_only: bool = False


def text(value: Any) -> str | None:
    """A helpdesk value as stripped text; None for missing, null or empty."""
    if value is None:
        return None
    value = str(value).strip()
    if value.startswith("{{") and value.endswith("}}"):
        return None  # a placeholder the helpdesk did not render (a misspelt or unknown one) is not a value
    return value or None


def id_text(value: Any) -> str | None:
    """An id as a string: helpdesks send 123, "123" or 123.0 for the same ticket."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    value = text(value)
    return None if value in {None, "0", "null", "None"} else value


def plain(body: Any) -> str:
    """HTML comment bodies as plain text."""
    return re.sub(r"\n{3,}", "\n\n", strip_tags(str(body or ""))).strip()


def tag_list(value: Any) -> tuple[str, ...]:
    """Tags as a list, or a string separated by commas or spaces; lower case, no duplicates."""
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[Any] = re.split(r"[,\s]+", value)
    elif isinstance(value, (list, tuple)):
        items = [item.get("tag") or item.get("name") if isinstance(item, dict) else item for item in value]
    else:
        return ()
    seen: dict[str, None] = {}
    for item in items:
        tag = text(item)
        if tag:
            seen.setdefault(tag.lower(), None)
    return tuple(seen)


def when(value: Any) -> dt.datetime | None:
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    parsed = parse_datetime(str(value)) if value else None
    return parsed


def fallback_delivery_id(event: str, ticket_id: str, moment: Any, body: bytes) -> str:
    """Event + ticket + time when the helpdesk names no delivery; the body's hash when it sends no time."""
    stamp = text(moment) or hashlib.sha256(body).hexdigest()[:24]
    return f"{event}:{ticket_id}:{stamp}"[:200]


def header(headers: Mapping[str, str], name: str) -> str:
    """Headers by their HTTP name, case-insensitive (Django's request.headers is)."""
    return (headers.get(name) or "").strip()
