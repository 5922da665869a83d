"""Customer activity intake: parse and validate what commerce systems report, resolve the customers through
tickets.services (customers are tickets' data), store each activity once by (source, external id), and queue
the closing of the watch windows it falls in. Set-based: a handful of statements whatever the batch size."""


from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from notifications.queue import enqueue_on_commit
from recovery.models import CustomerActivity, RecoveryOutcome
from recovery.outcomes.services.common import MAX_BATCH, Kind
from recovery.outcomes.services.rollup import NEVER_ONLY, rollup_kept
from tickets import services as ticket_services
from tickets.textcheck import text_problems
from tickets.validators import validate_email_address

FUTURE_TOLERANCE = timedelta(minutes=5)
FUTURE_MESSAGE = "This is in the future; give the time the activity happened."
SOURCE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,50}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
MONEY_MAX = Decimal("9999999999.99")


# --- Activity intake ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityInput:
    """One validated activity. The customer is found by (customer_source, customer_external_id), then email."""

    source: str
    external_id: str
    kind: str
    occurred_at: datetime
    amount: Decimal
    currency: str
    customer_external_id: str | None = None
    customer_email: str | None = None
    customer_source: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.source, self.external_id


class ActivityInvalid(Exception):
    """An activity that cannot be accepted; `errors` maps field names to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{name}: {' '.join(messages)}" for name, messages in errors.items()))
        self.errors = errors


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value).strip()


def activity_input_parse(raw: Any, *, now: datetime | None = None) -> ActivityInput:
    """Validate one activity as sent by the API or a CSV row; ActivityInvalid with every problem found.

    Accepted shape: source, external_id, kind, occurred_at (ISO 8601; without an offset it is read in
    TIME_ZONE), amount (optional, ≥ 0), currency (optional, DEFAULT_CURRENCY), and the customer as
    {"customer": {"external_id", "email", "source"}} or flat customer_external_id / customer_email /
    customer_source. The customer's source defaults to the activity's source.
    """
    if not isinstance(raw, Mapping):
        raise ActivityInvalid({"non_field_errors": ["Each event must be a JSON object."]})
    # NUL or a lone surrogate cannot be stored (PostgreSQL refuses NUL; neither encodes as UTF-8).
    unstorable = text_problems(dict(raw))
    if unstorable:
        raise ActivityInvalid(unstorable)
    errors: dict[str, list[str]] = {}
    now = now or timezone.now()

    fields = _activity_fields(raw, now, errors)
    fields.update(_customer_fields(raw, fields["source"], errors))
    if errors:
        raise ActivityInvalid(errors)
    return ActivityInput(**fields)


def _activity_fields(raw: Mapping[str, Any], now: datetime, errors: dict[str, list[str]]) -> dict[str, Any]:
    """The activity's own fields, normalised; each problem is added to `errors` under its field."""
    source = _text(raw, "source").lower()
    if not source:
        errors["source"] = ["Name the system that reported it, for example 'shopify'."]
    elif not SOURCE_RE.match(source):
        errors["source"] = ["Use up to 50 letters, digits and . _ : - only."]

    external_id = _text(raw, "external_id")
    if not external_id:
        errors["external_id"] = ["Give the activity's id in your system, so a replay is recognised."]
    elif len(external_id) > 200:
        errors["external_id"] = ["Use at most 200 characters."]

    kind = _text(raw, "kind").lower()
    if kind not in Kind.values:
        errors["kind"] = [f"Choose one of: {', '.join(Kind.values)}."]

    occurred_at = _parse_time(raw.get("occurred_at"))
    if isinstance(occurred_at, str):
        errors["occurred_at"] = [occurred_at]
    elif occurred_at > now + FUTURE_TOLERANCE:
        errors["occurred_at"] = [FUTURE_MESSAGE]

    amount = _parse_amount(raw.get("amount"))
    if isinstance(amount, str):
        errors["amount"] = [amount]

    currency = _text(raw, "currency").upper() or settings.DEFAULT_CURRENCY
    if not CURRENCY_RE.match(currency):
        errors["currency"] = ["Use a three-letter ISO currency code such as GBP."]
    return {"source": source, "external_id": external_id, "kind": kind, "occurred_at": occurred_at, "amount": amount,
            "currency": currency}


def _customer_fields(raw: Mapping[str, Any], source: str, errors: dict[str, list[str]]) -> dict[str, Any]:
    """Whose activity it is, nested ({"customer": {...}}) or flat (customer_*); their source defaults to the
    activity's. Each problem is added to `errors` under the field as it was sent."""
    customer = raw.get("customer")
    if customer is not None and not isinstance(customer, Mapping):
        errors["customer"] = ["Send the customer as an object with external_id and/or email."]
        customer = {}
    if customer is None:
        customer = {
            "external_id": raw.get("customer_external_id"),
            "email": raw.get("customer_email"),
            "source": raw.get("customer_source"),
        }
    prefix = "customer." if isinstance(raw.get("customer"), Mapping) else "customer_"
    customer_external_id = _text(customer, "external_id") or None
    customer_email = (_text(customer, "email") or "").lower() or None
    customer_source = _text(customer, "source").lower() or source
    if customer_email:
        try:
            validate_email_address(customer_email)
        except ValidationError as exc:
            errors[f"{prefix}email"] = list(exc.messages)
    if customer_external_id and len(customer_external_id) > 200:
        errors[f"{prefix}external_id"] = ["Use at most 200 characters."]
    if customer_source and not SOURCE_RE.match(customer_source):
        errors[f"{prefix}source"] = ["Use up to 50 letters, digits and . _ : - only."]
    if not customer_email and not customer_external_id and "customer" not in errors:
        errors["customer"] = ["Say whose activity it is: give the customer's external_id or email."]
    return {"customer_external_id": customer_external_id, "customer_email": customer_email,
            "customer_source": customer_source}


def _parse_time(value: Any) -> datetime | str:
    """An aware datetime, or the message explaining why the value is not one."""
    if isinstance(value, datetime):
        parsed: datetime | None = value
    elif isinstance(value, str) and value.strip():
        try:
            parsed = parse_datetime(value.strip().replace(" UTC", "+00:00"))
        except ValueError:
            parsed = None
    else:
        return "Give the time it happened, e.g. 2025-03-01T14:30:00Z."
    if parsed is None:
        return "Not a date and time; use ISO 8601, e.g. 2025-03-01T14:30:00Z."
    if timezone.is_naive(parsed):
        # A time without an offset is read in the site's time zone, as the docs say.
        parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
    return parsed


def _parse_amount(value: Any) -> Decimal | str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return Decimal("0.00")
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        return "Give the amount as a number, e.g. 45.90."
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return "Give the amount as a number, e.g. 45.90."
    if not amount.is_finite():
        return "Give the amount as a number, e.g. 45.90."
    if amount < 0:
        return "Amounts cannot be negative; a refund is not a return."
    if amount > MONEY_MAX or amount != amount.quantize(Decimal("0.01")):
        return "Use at most 10 digits before and 2 after the decimal point."
    return amount.quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Rejection:
    index: int
    errors: dict[str, list[str]]


@dataclass(frozen=True)
class IntakeResult:
    """accepted: new activities stored; duplicates: already known (source, external_id), nothing added."""

    accepted: int
    duplicates: int
    rejected: tuple[Rejection, ...] = ()
    customer_ids: frozenset[int] = field(default_factory=frozenset)


def activity_intake(*, items: Sequence[Any], now: datetime | None = None) -> IntakeResult:
    """Validate and store up to MAX_BATCH raw activities; bad items are reported by index, good ones kept.

    Replays are free: an activity whose (source, external_id) is known is counted as a duplicate and
    changes nothing. Windows are closed by a task queued on commit for the customers who had new activity.
    """
    if len(items) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} activities per call, got {len(items)}")
    now = now or timezone.now()
    parsed: list[ActivityInput] = []
    rejected: list[Rejection] = []
    for index, raw in enumerate(items):
        try:
            parsed.append(activity_input_parse(raw, now=now))
        except ActivityInvalid as invalid:
            rejected.append(Rejection(index=index, errors=invalid.errors))
    result = activity_record(items=parsed)
    return IntakeResult(
        accepted=result.accepted,
        duplicates=result.duplicates,
        rejected=tuple(rejected),
        customer_ids=result.customer_ids,
    )


@transaction.atomic
def activity_record(*, items: Sequence[ActivityInput]) -> IntakeResult:
    """Store validated activities in bulk: a few queries per batch, whatever its size.

    Known (source, external_id) pairs — from earlier calls or earlier in this batch — are duplicates.
    Customers are found by reference, then email, or created; the window-closing task is queued on
    commit for those of them who have outcomes.
    """
    if not items:
        return IntakeResult(accepted=0, duplicates=0)
    _activity_sources_lock({item.source for item in items})
    known = _known_activity_keys({item.key for item in items})
    fresh: list[ActivityInput] = []
    seen: set[tuple[str, str]] = set()
    for item in items:
        if item.key in known or item.key in seen:
            continue
        seen.add(item.key)
        fresh.append(item)
    duplicates = len(items) - len(fresh)
    if not fresh:
        return IntakeResult(accepted=0, duplicates=duplicates)

    customer_of = customers_resolve_bulk(
        [(item.customer_source, item.customer_external_id, item.customer_email) for item in fresh]
    )
    rows = [
        CustomerActivity(
            customer_id=customer_of[(item.customer_source, item.customer_external_id, item.customer_email)],
            kind=item.kind,
            occurred_at=item.occurred_at,
            amount=item.amount,
            currency=item.currency,
            source=item.source,
            external_id=item.external_id,
        )
        for item in fresh
    ]
    customer_ids = frozenset(row.customer_id for row in rows)
    # Activity moves only the customers' never-complained anchors; their windows close in a task of their own.
    with rollup_kept(customer_ids, anchors=True, parts=NEVER_ONLY):
        # ignore_conflicts: a concurrent request may have stored the same activity a moment ago.
        CustomerActivity.objects.bulk_create(rows, ignore_conflicts=True, batch_size=MAX_BATCH)
    watched = sorted(
        RecoveryOutcome.objects.filter(customer_id__in=customer_ids).values_list("customer_id", flat=True).distinct()
    )
    if watched:
        from recovery.outcomes.tasks import outcome_windows_close_task

        enqueue_on_commit(outcome_windows_close_task, watched)
    return IntakeResult(accepted=len(fresh), duplicates=duplicates, customer_ids=customer_ids)


def _activity_sources_lock(sources: set[str]) -> None:
    """Serialise intakes of the same sources until this transaction ends, so each counts what it stored.

    Without it two concurrent replays of one batch both find the activities unknown, both insert (one of
    them inserting nothing, thanks to the unique key), and both answer "accepted N". Under the lock the
    second one reads after the first committed and answers "N duplicates". SQLite needs nothing: its
    transactions take the write lock when they begin (settings: IMMEDIATE)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for source in sorted(sources):  # one order everywhere, so two batches never wait for each other in a cycle
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"cxr.activity:{source}"])


def _known_activity_keys(keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
    by_source: dict[str, list[str]] = {}
    for source, external_id in keys:
        by_source.setdefault(source, []).append(external_id)
    known: set[tuple[str, str]] = set()
    for source, external_ids in by_source.items():
        known.update(
            CustomerActivity.objects.filter(source=source, external_id__in=external_ids).values_list(
                "source", "external_id"
            )
        )
    return known


# The bulk customer resolve lives in tickets (customers are tickets' data); the helpdesk import uses it too.
CustomerKey = ticket_services.CustomerKey
customers_resolve_bulk = ticket_services.customers_resolve_bulk
