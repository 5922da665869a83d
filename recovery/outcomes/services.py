"""Writes for outcomes: customer activity intake, watch windows, settling them, and learning from them.

What callers may rely on (docs/outcomes-and-metrics.md has the long form):

- A complaint that becomes resolved (or closed without being resolved) gets exactly one
  `RecoveryOutcome`, anchored at the resolution, with one `OutcomeWindow` per configured length.
  Its comparison group — offered a gesture or not, declined or not, which gesture — is decided then
  and never changes (intention-to-treat): a gesture fulfilled late, or a decline, is recorded and
  reported but does not move the outcome to the other group or its anchor.
- A window [anchor, ends_at) is *returned* as soon as the customer has a qualifying activity in it
  (anything but a gesture redemption); it is *not returned* only once it has elapsed with none.
  Late-arriving activity corrects a window settled too early, so the answer never depends on
  whether the activity or the sweep got there first.
- Intake, closing, settling and learning are set-based (a handful of statements, whatever the
  number of rows); every write here is safe to run twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import Count, DecimalField, Exists, F, Min, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from cxrecovery.queue import enqueue_on_commit
from recovery.models import CustomerActivity, Gesture, GestureLearning, Offer, OutcomeWindow, RecoveryOutcome
from recovery.webhook_payloads import windows_settled_publish
from tickets import services as ticket_services
from tickets.actors import ActorRef
from tickets.events import event_write, jsonable
from tickets.models import Complaint, Customer, Status, TimelineEvent
from tickets.textcheck import text_problems

logger = logging.getLogger(__name__)

Kind = CustomerActivity.Kind
State = OutcomeWindow.State

MAX_BATCH = 1000
# The learning counts "returned within 60 days" (DESIGN.md); with other windows configured it uses the nearest.
LEARNING_WINDOW_DAYS = 60
# Activity more than this far in the future is a clock or data error, not a visit.
FUTURE_TOLERANCE = timedelta(minutes=5)
FUTURE_MESSAGE = "This is in the future; give the time the activity happened."
SOURCE_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,50}$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
MONEY_MAX = Decimal("9999999999.99")
SYSTEM = ActorRef.system("Outcome tracking")


def window_days() -> tuple[int, ...]:
    """The configured window lengths in days, shortest first (OUTCOME_WINDOWS_DAYS)."""
    return tuple(settings.OUTCOME_WINDOWS_DAYS)


def learning_window_days() -> int:
    """The window the learning counts: 60 days, or the configured one nearest to it."""
    return min(window_days(), key=lambda days: (abs(days - LEARNING_WINDOW_DAYS), days))


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
            validate_email(customer_email)
        except ValidationError:
            errors[f"{prefix}email"] = ["Enter a valid email address."]
    if customer_external_id and len(customer_external_id) > 200:
        errors[f"{prefix}external_id"] = ["Use at most 200 characters."]
    if customer_source and not SOURCE_RE.match(customer_source):
        errors[f"{prefix}source"] = ["Use up to 50 letters, digits and . _ : - only."]
    if not customer_email and not customer_external_id and "customer" not in errors:
        errors["customer"] = ["Say whose activity it is: give the customer's external_id or email."]

    if errors:
        raise ActivityInvalid(errors)
    return ActivityInput(
        source=source,
        external_id=external_id,
        kind=kind,
        occurred_at=occurred_at,  # type: ignore[arg-type]
        amount=amount,  # type: ignore[arg-type]
        currency=currency,
        customer_external_id=customer_external_id,
        customer_email=customer_email,
        customer_source=customer_source,
    )


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
    # ignore_conflicts: a concurrent request may have stored the same activity a moment ago.
    CustomerActivity.objects.bulk_create(rows, ignore_conflicts=True, batch_size=MAX_BATCH)
    customer_ids = frozenset(row.customer_id for row in rows)
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


# --- Watching -------------------------------------------------------------------------------------


def complaint_changed_receiver(sender: Any, complaint_id: int, changed: frozenset[str], **kwargs: Any) -> None:
    """tickets.signals.complaint_changed: a status change to resolved or closed queues the outcome's opening."""
    if "status" not in changed:
        return
    status = Complaint.objects.filter(pk=complaint_id).values_list("status", flat=True).first()
    if status in (Status.RESOLVED, Status.CLOSED):
        from recovery.outcomes.tasks import outcome_open_task

        enqueue_on_commit(outcome_open_task, complaint_id)


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
    _lock_customers([complaint.customer_id])
    outcome = RecoveryOutcome.objects.filter(complaint_id=complaint.pk).first()
    if outcome is None:
        group = itt_group(offers)
        outcome = RecoveryOutcome.objects.create(
            complaint=complaint,
            customer_id=complaint.customer_id,
            cause=complaint.cause,
            grade=complaint.grade,
            tier=complaint.tier,
            offered=group.offered,
            declined=group.declined,
            offered_gesture_id=group.offered_gesture_id,
            **_plan_fields(plan),
        )
        _windows_create(outcome)
        action = "opened"
    else:
        decided = outcome.windows.exclude(state=State.PENDING).exists()
        fulfilment_same = outcome.offer_id == plan.offer_id and outcome.gesture_cost == plan.gesture_cost
        anchor_same = decided or (
            outcome.anchor_at == plan.anchor_at
            and sorted(outcome.windows.values_list("days", flat=True)) == list(window_days())
        )
        if fulfilment_same and anchor_same:
            return OpenResult(outcome, "decided" if decided else "unchanged")
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
        action = "fulfilment" if anchor_same else "reanchored"
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.OUTCOME,
        actor=SYSTEM,
        message=_opening_message(outcome, action),
        data={
            "action": action,
            "offered": outcome.offered,
            "declined": outcome.declined,
            "recovered": outcome.recovered,
            "offer_id": outcome.offer_id,
            "gesture_id": outcome.gesture_id,
            "anchor_at": outcome.anchor_at,
            "windows_days": list(window_days()),
        },
    )
    # Backfilled history: activity already on record decides windows now, not at the next sweep.
    _close(OutcomeWindow.objects.filter(outcome_id=outcome.pk), now)
    _settle(now, outcome_id=outcome.pk)
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
    _lock_customers(c.customer_id for c, _ in planned)
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
                data=jsonable(
                    {"action": "opened", "offered": outcome.offered, "declined": outcome.declined,
                     "recovered": outcome.recovered, "offer_id": outcome.offer_id,
                     "gesture_id": outcome.gesture_id, "anchor_at": outcome.anchor_at, "windows_days": list(window_days())}
                ),
            )
            for outcome in outcomes
        ],
        batch_size=MAX_BATCH,
    )
    customer_ids = {o.customer_id for o in outcomes}
    _close(OutcomeWindow.objects.filter(outcome__customer_id__in=customer_ids), now)
    windows_settled_publish(settled_at=now, customer_ids=customer_ids)
    return len(outcomes)


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


def _lock_customers(customer_ids: Iterable[int]) -> None:
    """Row locks on the customers, in id order, until commit.

    Opening an outcome and closing windows for new activity both take them, so one always sees
    the other's rows: without it, an outcome opened while its customer's activity is being
    committed could miss that activity until the window's end.
    """
    list(Customer.objects.select_for_update().filter(pk__in=sorted(set(customer_ids))).order_by("pk").values_list("pk"))


def _window_activities() -> QuerySet[CustomerActivity]:
    """Qualifying activity inside the outer window: [anchor, ends_at), anything but a redemption."""
    return CustomerActivity.objects.filter(
        customer__outcomes__id=OuterRef("outcome_id"),
        occurred_at__gte=F("customer__outcomes__anchor_at"),
        occurred_at__lt=OuterRef("ends_at"),
    ).exclude(kind=Kind.GESTURE_REDEMPTION)


def _first_return() -> Subquery:
    return Subquery(_window_activities().order_by().values("customer_id").annotate(first=Min("occurred_at")).values("first")[:1])


def _revenue() -> Coalesce:
    # Only the site's currency is summed: there is no exchange rate to add up the others.
    total = (
        _window_activities()
        .filter(currency=settings.DEFAULT_CURRENCY)
        .order_by()
        .values("customer_id")
        .annotate(total=Sum("amount"))
        .values("total")[:1]
    )
    return Coalesce(Subquery(total), Value(Decimal("0.00")), output_field=DecimalField(max_digits=12, decimal_places=2))


def _close(windows: QuerySet[OutcomeWindow], now: datetime) -> int:
    """Decide as returned the windows that contain qualifying activity; refresh first return and revenue.

    Not-returned windows are included on purpose: activity reported after the sweep settled a window
    corrects it. Two statements; returns how many windows changed state.
    """
    changed = (
        windows.filter(state__in=[State.PENDING, State.NOT_RETURNED])
        .filter(Exists(_window_activities()))
        .update(state=State.RETURNED, settled_at=now)
    )
    windows.filter(state=State.RETURNED).update(returned_at=_first_return(), revenue=_revenue())
    return changed


# Settling is one statement. Per due outcome it reads the customer's qualifying activity from the
# anchor on, and each window is returned exactly when the first of those falls before its end — the
# same test as EXISTS(activity in [anchor, ends_at)), made once per outcome instead of once per window. Deciding and writing in one statement is what
# makes it safe beside intake: a window is settled not returned only if, in the statement's snapshot,
# no qualifying activity lies inside it; activity committed after that is applied by _close.
#
# Generic SQL (SQLite, and PostgreSQL for one outcome): the first return per outcome, then the revenue
# per returned window by a correlated sum.
_SETTLE_DUE_GENERIC = """
due AS MATERIALIZED (
    SELECT o.id AS outcome_id, o.customer_id, o.anchor_at,
           (SELECT MIN(a.occurred_at) FROM {activity} a
             WHERE a.customer_id = o.customer_id AND a.occurred_at >= o.anchor_at AND a.kind <> %(redemption)s
           ) AS first_at
    FROM {outcome} o
    WHERE o.id IN ({due_ids})
)"""
_REVENUE_CORRELATED = """(SELECT SUM(a.amount) FROM {activity} a
          WHERE a.customer_id = due.customer_id AND a.occurred_at >= due.anchor_at
            AND a.occurred_at < {window}.ends_at AND a.kind <> %(redemption)s AND a.currency = %(currency)s)"""
# PostgreSQL for the sweep: one join of the due outcomes with their customers' qualifying activity in
# [anchor, anchor + longest configured window), grouped per outcome, yields the first return and the
# revenue of every configured window length at once. The planner picks a hash join for a big backlog
# (a million outcomes: about a second and a half of CPU) and index lookups for a small one. A window
# longer than that (left from an older setting) falls back to correlated lookups.
_SETTLE_DUE_POSTGRESQL = """
due AS MATERIALIZED (
    SELECT o.id AS outcome_id, o.customer_id, o.anchor_at, MIN(a.occurred_at) AS first_at {revenue_columns}
    FROM {outcome} o
    LEFT JOIN {activity} a
      ON a.customer_id = o.customer_id AND a.kind <> %(redemption)s AND a.occurred_at >= o.anchor_at
     AND a.occurred_at < o.anchor_at + interval '{longest_hours} hours'
    WHERE o.id IN ({due_ids})
    GROUP BY o.id
)"""
_FIRST_CORRELATED = """(SELECT MIN(a.occurred_at) FROM {activity} a
          WHERE a.customer_id = due.customer_id AND a.occurred_at >= due.anchor_at AND a.kind <> %(redemption)s)"""
_DUE_IDS = "SELECT w.outcome_id FROM {window} w WHERE w.state = %(pending)s AND w.ends_at <= %(now)s {only_outcome}"
_SETTLE_UPDATE = """
UPDATE {window}
SET state = CASE WHEN {first} < {window}.ends_at THEN %(returned)s ELSE %(not_returned)s END,
    settled_at = %(now)s,
    returned_at = CASE WHEN {first} < {window}.ends_at THEN {first} END,
    revenue = CASE WHEN {first} < {window}.ends_at THEN COALESCE({revenue}, 0) ELSE 0 END
FROM due
WHERE {window}.outcome_id = due.outcome_id AND {window}.state = %(pending)s AND {window}.ends_at <= %(now)s
RETURNING {window}.state"""


def _settle_sql(*, vendor: str, outcome_id: int | None) -> str:
    quote = connection.ops.quote_name
    tables = {
        "activity": quote(CustomerActivity._meta.db_table),
        "outcome": quote(RecoveryOutcome._meta.db_table),
        "window": quote(OutcomeWindow._meta.db_table),
    }
    due_ids = _DUE_IDS.format(
        **tables, only_outcome="AND w.outcome_id = %(outcome_id)s" if outcome_id is not None else ""
    )
    correlated = _REVENUE_CORRELATED.format(**tables)
    if vendor == "postgresql" and outcome_id is None:
        days = [int(d) for d in window_days()]
        columns = "".join(
            f", SUM(a.amount) FILTER (WHERE a.currency = %(currency)s"
            f" AND a.occurred_at < o.anchor_at + interval '{d * 24} hours') AS revenue_{d}"
            for d in days
        )
        due = _SETTLE_DUE_POSTGRESQL.format(
            **tables, due_ids=due_ids, revenue_columns=columns, longest_hours=max(days) * 24
        )
        window = tables["window"]
        first = f"(CASE WHEN {window}.days <= {max(days)} THEN due.first_at ELSE {_FIRST_CORRELATED.format(**tables)} END)"
        cases = " ".join(f"WHEN {d} THEN due.revenue_{d}" for d in days)
        revenue = f"CASE {window}.days {cases} ELSE {correlated} END"
    else:
        due = _SETTLE_DUE_GENERIC.format(**tables, due_ids=due_ids)
        first, revenue = "due.first_at", correlated
    update = _SETTLE_UPDATE.format(**tables, first=first, revenue=revenue)
    if vendor == "postgresql":
        return f"WITH {due}, settled AS ({update}) SELECT state, COUNT(*) FROM settled GROUP BY state"
    return f"WITH {due} {update}"


def _settle(now: datetime, *, outcome_id: int | None = None, vendor: str | None = None) -> tuple[int, int]:
    """Decide the elapsed pending windows (of one outcome, or all): returned if a return lies inside, else not.

    One statement; returns (returned, not_returned). On PostgreSQL the statement also counts what it
    decided; elsewhere (SQLite has no data-modifying CTEs) the decided rows come back to be counted.
    `vendor` forces the generic SQL on PostgreSQL, for the test that both variants agree.
    """
    vendor = vendor or connection.vendor
    params = {
        "now": connection.ops.adapt_datetimefield_value(now),
        "pending": State.PENDING,
        "returned": State.RETURNED,
        "not_returned": State.NOT_RETURNED,
        "redemption": Kind.GESTURE_REDEMPTION,
        "currency": settings.DEFAULT_CURRENCY,
        "outcome_id": outcome_id,
    }
    with connection.cursor() as cursor:
        cursor.execute(_settle_sql(vendor=vendor, outcome_id=outcome_id), params)
        rows = cursor.fetchall()
    counts: dict[str, int] = {}
    if vendor == "postgresql":
        counts = dict(rows)
    else:
        for (state,) in rows:
            counts[state] = counts.get(state, 0) + 1
    return counts.get(State.RETURNED, 0), counts.get(State.NOT_RETURNED, 0)


@dataclass(frozen=True)
class CloseResult:
    customers: int
    returned: int


@transaction.atomic
def outcome_windows_close(*, customer_ids: Iterable[int], now: datetime | None = None) -> CloseResult:
    """Close the windows of these customers that their recorded activity falls in. Idempotent."""
    now = now or timezone.now()
    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        return CloseResult(0, 0)
    _lock_customers(ids)
    returned = _close(OutcomeWindow.objects.filter(outcome__customer_id__in=ids), now)
    windows_settled_publish(settled_at=now, customer_ids=ids)
    return CloseResult(customers=len(ids), returned=returned)


@dataclass(frozen=True)
class SettleResult:
    returned: int
    not_returned: int

    @property
    def changed(self) -> int:
        return self.returned + self.not_returned


@transaction.atomic
def outcome_windows_settle(*, now: datetime | None = None) -> SettleResult:
    """Settle every elapsed pending window — one UPDATE statement, however many there are; safe to repeat.

    Runs safely beside activity intake: a window becomes *not returned* only if no qualifying
    activity lies inside it in the statement's snapshot, and activity committed after that still
    turns it to *returned* (see _close).
    """
    now = now or timezone.now()
    returned, lapsed = _settle(now)
    if returned or lapsed:
        windows_settled_publish(settled_at=now)
    if returned or lapsed:
        logger.info("Settled outcome windows: %s returned, %s did not return", returned, lapsed)
    return SettleResult(returned=returned, not_returned=lapsed)


@dataclass(frozen=True)
class ReconcileResult:
    missing: int
    late_gesture: int
    rechecked_customers: int = 0


def outcome_reconcile(*, limit: int = 500) -> ReconcileResult:
    """Catch up on work whose task never ran: select the complaints in bulk, queue one opening each.

    Finds resolved or closed complaints without an outcome (the broker was down when they were
    resolved), and outcomes with no fulfilment recorded, still fully pending, whose complaint has since
    had a gesture fulfilled (fulfilled after the resolution: its cost is recorded, the group stays).
    At most `limit` of each.
    """
    missing = list(
        Complaint.objects.filter(status__in=[Status.RESOLVED, Status.CLOSED], outcome__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    # Only outcomes that may still be fully pending: none older than the longest window (outcome_anchor_idx).
    recent = timezone.now() - timedelta(days=max(window_days()))
    late_gesture = list(
        RecoveryOutcome.objects.filter(recovered=False, anchor_at__gte=recent)
        .filter(Exists(Offer.objects.filter(complaint_id=OuterRef("complaint_id"), status=Offer.Status.FULFILLED)))
        .exclude(Exists(OutcomeWindow.objects.filter(outcome_id=OuterRef("pk")).exclude(state=State.PENDING)))
        .order_by("pk")
        .values_list("complaint_id", flat=True)[:limit]
    )
    from recovery.outcomes.tasks import outcome_open_task

    for complaint_id in [*missing, *late_gesture]:
        enqueue_on_commit(outcome_open_task, complaint_id)
    return ReconcileResult(missing=len(missing), late_gesture=len(late_gesture), rechecked_customers=_recheck_new_activity())


ACTIVITY_MARK_KEY = "recovery:outcomes:activity-mark"
RECHECK_BATCH = 50_000


def _recheck_new_activity() -> int:
    """Queue window closing again for customers with activity stored since the last run.

    The closing task normally runs on commit of the intake; this covers the case where it never did
    (broker outage) for windows the sweep had already settled. The activity id reached is kept in the
    cache; without it (first run, cache cleared) the check starts from now. Returns how many customers.
    """
    from recovery.outcomes.tasks import outcome_windows_close_task

    newest = CustomerActivity.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    mark = cache.get(ACTIVITY_MARK_KEY)
    if mark is None or newest <= mark:
        cache.set(ACTIVITY_MARK_KEY, max(newest, mark or 0), None)
        return 0
    upto = min(newest, mark + RECHECK_BATCH)
    recent = CustomerActivity.objects.filter(pk__gt=mark, pk__lte=upto).values("customer_id")
    watched = sorted(
        RecoveryOutcome.objects.filter(customer_id__in=recent).values_list("customer_id", flat=True).distinct()
    )
    for start in range(0, len(watched), MAX_BATCH):
        enqueue_on_commit(outcome_windows_close_task, watched[start : start + MAX_BATCH])
    cache.set(ACTIVITY_MARK_KEY, upto, None)
    return len(watched)


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
