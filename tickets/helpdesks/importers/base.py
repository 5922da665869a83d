"""What every export reader produces, and the small parsers they share.

A reader turns one export file into a stream of `TicketRow` (a ticket to import) and `BadRow` (a row that
cannot be imported, with its line and a message a person can act on). Readers hold no state beyond the
current row, so memory stays flat whatever the file's size.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from tickets.models import Channel, Status


class RowError(ValueError):
    """A row cannot be imported; the message says what to fix."""


@dataclass
class TicketRow:
    """One helpdesk ticket, in our terms. `line` is where it starts in the file (or its item number)."""

    line: int
    external_id: str
    created_at: datetime
    subject: str
    customer_email: str | None = None
    customer_name: str = ""
    customer_external_id: str | None = None  # the requester's id in the helpdesk
    description: str = ""
    # Set by the reader only when the export names them (the generic CSV); otherwise the connection's mapping
    # fills them in from the tags and the priority (tickets/helpdesks/mapping.py), as for its webhooks.
    cause: str | None = None
    severity: int | None = None
    priority: str | None = None  # the helpdesk's priority name: low / normal / medium / high / urgent
    status: str = Status.NEW
    channel: str = Channel.EMAIL
    tags: list[str] = field(default_factory=list)
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    updated_at: datetime | None = None
    monetary_loss: Decimal = Decimal("0")
    currency: str = ""
    threatens_public: bool = False
    says_wont_return: bool = False
    # What the customer wrote after opening the ticket (their later messages), oldest first.
    customer_comments: list[tuple[datetime | None, str]] = field(default_factory=list)


@dataclass(frozen=True)
class BadRow:
    line: int
    message: str


@dataclass(frozen=True)
class Skipped:
    """A record that is not a complaint to import (a deleted ticket, spam); counted, not an error."""

    line: int
    reason: str


Item = TicketRow | BadRow | Skipped

# --- our vocabulary ------------------------------------------------------------------------------

# Vendor status words → our status. Vendors' own names are documented per reader.
STATUS_WORDS: Mapping[str, str] = {
    "new": Status.NEW,
    "open": Status.IN_PROGRESS,
    "active": Status.IN_PROGRESS,
    "in_progress": Status.IN_PROGRESS,
    "in progress": Status.IN_PROGRESS,
    "hold": Status.IN_PROGRESS,
    "on-hold": Status.IN_PROGRESS,
    "pending": Status.WAITING_ON_CUSTOMER,
    "pending reminder": Status.WAITING_ON_CUSTOMER,
    "pending close": Status.WAITING_ON_CUSTOMER,
    "waiting on customer": Status.WAITING_ON_CUSTOMER,
    "waiting_on_customer": Status.WAITING_ON_CUSTOMER,
    "solved": Status.RESOLVED,
    "resolved": Status.RESOLVED,
    "closed": Status.CLOSED,
    "merged": Status.CLOSED,
}


def status_from(raw: Any, *, line_hint: str = "status") -> str:
    word = str(raw or "").strip().lower()
    if not word:
        return Status.NEW
    if word in STATUS_WORDS:
        return STATUS_WORDS[word]
    raise RowError(f"Unknown {line_hint} '{raw}'. Use one of: {', '.join(sorted(set(STATUS_WORDS)))}.")


# --- values --------------------------------------------------------------------------------------

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def email_from(raw: Any) -> str | None:
    email = str(raw or "").strip().lower()
    if not email:
        return None
    if len(email) > 254 or not _EMAIL.match(email):
        raise RowError(f"'{raw}' is not an email address.")
    return email


def when(raw: Any, name: str, *, required: bool = False) -> datetime | None:
    """ISO 8601, 'YYYY-MM-DD HH:MM[:SS]' or a date; no offset means the site's TIME_ZONE. Epoch seconds too."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise RowError(f"{name} is missing.")
        return None
    if isinstance(raw, int | float | Decimal) and not isinstance(raw, bool):
        return datetime.fromtimestamp(float(raw), tz=UTC)
    text = str(raw).strip()
    try:
        # fromisoformat is C and takes what helpdesks write ("2025-03-01T14:30:00Z", "2025-03-01 14:30:00").
        value = datetime.fromisoformat(text)
    except ValueError:
        value = None
    try:
        value = value or parse_datetime(text.replace(" UTC", "+00:00").replace("Z", "+00:00"))
        if value is None:
            day = parse_date(text)
            value = datetime(day.year, day.month, day.day) if day else None
    except ValueError:
        value = None
    if value is None:
        raise RowError(f"{name} '{text}' is not a date and time (use ISO 8601, e.g. 2025-03-01T14:30:00Z).")
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value


def money(raw: Any, name: str) -> Decimal:
    text = str(raw if raw is not None else "").strip()
    if not text:
        return Decimal("0")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise RowError(f"{name} '{text}' is not an amount like 45.90.") from None
    if not value.is_finite() or value < 0 or value >= Decimal("1e10"):
        raise RowError(f"{name} '{text}' must be an amount from 0 to 9,999,999,999.99.")
    return value.quantize(Decimal("0.01"))


def flag(raw: Any) -> bool:
    return str(raw if raw is not None else "").strip().lower() in ("1", "true", "yes", "y", "t")


def tags_from(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, list | tuple):
        items = raw
    else:
        items = re.split(r"[,;]", str(raw))
    return [str(t).strip()[:50] for t in items if str(t).strip()][:50]


_TAGS = re.compile(r"<[^>]+>")
_BREAKS = re.compile(r"<\s*(br|/p|/div|/li)\s*/?>", re.IGNORECASE)


def plain(text: Any) -> str:
    """Helpdesks export HTML bodies; grading and people read text."""
    value = str(text or "")
    if "<" in value:
        import html

        value = html.unescape(_TAGS.sub("", _BREAKS.sub("\n", value)))
    return value.strip()


def text_id(raw: Any, name: str) -> str:
    value = str(raw if raw is not None else "").strip()
    if not value:
        raise RowError(f"{name} is missing.")
    if len(value) > 200:
        raise RowError(f"{name} is longer than 200 characters.")
    return value


def subject_from(raw: Any, fallback: str = "") -> str:
    subject = " ".join(plain(raw).split()) or " ".join(fallback.split())[:80] or "(no subject)"
    return subject[:200]


def default_currency() -> str:
    return settings.DEFAULT_CURRENCY


# --- files ---------------------------------------------------------------------------------------


def csv_rows(binary: IO[bytes], *, required: Iterable[str], aliases: Mapping[str, Iterable[str]] = {}) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) for each record of a CSV file with a header row; the keys are the header names, lower case,
    with `aliases` mapped onto their canonical name. Raises RowError for a header without the required columns."""
    text = io.TextIOWrapper(binary, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise RowError("The file is empty: it needs a header row.") from None
    canonical = {alias.strip().lower(): name for name, names in aliases.items() for alias in names}
    names = [canonical.get(h.strip().lower(), h.strip().lower()) for h in header]
    missing = [name for name in required if name not in names]
    if missing:
        has = ", ".join(h for h in header if h) or "nothing"
        has = has if len(has) <= 200 else has[:200] + "…"
        raise RowError(f"The header row lacks: {', '.join(missing)}. It has: {has}. Is this the right KIND of file?")
    line = reader.line_num
    for record in reader:
        start = line + 1
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        yield start, dict(zip(names, record, strict=False))


def json_records(binary: IO[bytes], *, page_keys: Iterable[str] = ()) -> Iterator[tuple[int, Any]]:
    """(position, object) for each record of a JSON export, streaming.

    JSON lines: one object per line, position = line number; a line holding a page ({"tickets": [...]}) gives
    each of its records with that line. A JSON document (an array, or a page object with its records under one
    of `page_keys`, dotted for nesting) is read incrementally with ijson; position = the record's number.
    A line that is not JSON gives (line, RowError) so the reader reports it and goes on.
    """
    import ijson

    first = binary.readline()
    skipped = 0
    while first and not first.strip(b"\xef\xbb\xbf \t\r\n"):
        first, skipped = binary.readline(), skipped + 1
    head = first.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"["):
        yield from enumerate(ijson.items(io.BufferedReader(_Chain(head, binary)), "item", use_float=True), start=1)
        return
    try:
        first_obj = json.loads(head) if head else None
    except ValueError:
        first_obj = None
    if first_obj is None and head.startswith(b"{"):
        # One pretty-printed document: its records under the page keys, one at a time.
        yield from _items_by_keys(head, binary, page_keys)
        return
    line = skipped + 1
    for raw in _lines_from(head, binary):
        if raw.strip():
            try:
                obj = first_obj if line == skipped + 1 and first_obj is not None else json.loads(raw)
            except ValueError as exc:
                yield line, RowError(f"Not JSON: {exc.msg} at column {exc.colno}.")
                line += 1
                continue
            yield line, obj
        line += 1


def _lines_from(first: bytes, binary: IO[bytes]) -> Iterator[bytes]:
    yield first
    yield from binary


class _Chain(io.RawIOBase):
    """The bytes already read, then the rest of the stream, as one readable stream."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self.head = head
        self.rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.head:
            n = min(len(buffer), len(self.head))
            buffer[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        data = self.rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _items_by_keys(first: bytes, binary: IO[bytes], page_keys: Iterable[str]) -> Iterator[tuple[int, Any]]:
    import ijson

    stream = io.BufferedReader(_Chain(first, binary))
    prefixes = tuple(f"{key}.item" for key in page_keys)
    number = 0
    builder = None
    current = None
    for prefix, event, value in ijson.parse(stream, use_float=True):
        if builder is None:
            if event == "start_map" and prefix in prefixes:
                builder = ijson.ObjectBuilder()
                current = prefix
                builder.event(event, value)
            continue
        builder.event(event, value)
        if event == "end_map" and prefix == current:
            number += 1
            yield number, builder.value
            builder = None
