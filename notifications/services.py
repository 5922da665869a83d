"""Writes for notifications: in-app notices and their emails; the outbox of domain events and its deliveries to
webhook endpoints (with retries, a log and replay); emails to customers. Knows nothing of complaints."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, send_mail
from django.core.validators import URLValidator
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from notifications import signals
from notifications.catalogue import event_types, event_types_unknown
from notifications.delivery import SENDERS, TARGET_KINDS, SendResult, retry_delay
from notifications.models import Delivery, DeliveryAttempt, Notification, OutboundEmail, OutboxEvent, WebhookEndpoint
from notifications.queue import enqueue_on_commit
from notifications.secrets import secret_encrypt, secret_generate

logger = logging.getLogger(__name__)
MAX_EMAIL_ATTEMPTS = 5


@transaction.atomic
def notice_send(
    *, recipient, title: str, body: str = "", url: str = "", dedupe_key: str | None = None, email: bool = True
) -> Notification | None:
    """Create an in-app notice and queue its email after commit.

    Returns None when a notice with the same dedupe_key already exists for this recipient,
    so callers may call it again safely.
    """
    email_wanted = email and bool(recipient.email)
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                recipient=recipient,
                title=title[:200],
                body=body,
                url=url[:500],
                dedupe_key=dedupe_key,
                email_state=Notification.EmailState.PENDING if email_wanted else Notification.EmailState.SKIPPED,
            )
    except IntegrityError:
        return None
    if email_wanted:
        from notifications.tasks import notification_email_task

        enqueue_on_commit(notification_email_task, notification.pk)
    return notification


# Errors worth another try later: the mail server refused or timed out (smtplib's errors and socket timeouts are
# OSErrors), or the database dropped the connection.
TRANSIENT_EMAIL_ERRORS: tuple[type[BaseException], ...] = (OSError, OperationalError, InterfaceError)


def email_lease() -> timedelta:
    """How long a claim lasts: a whole SMTP conversation (connect and a handful of commands, each bounded by
    EMAIL_TIMEOUT) fits in it, so a live send is never claimed twice; a crashed one is claimed again after it."""
    return timedelta(seconds=max(60.0, 8 * float(settings.EMAIL_TIMEOUT or 10)))


def _claimable(now) -> Q:
    expired = Q(email_lease_until__lt=now) | Q(email_lease_until__isnull=True)
    return Q(email_state=Notification.EmailState.PENDING) | (Q(email_state=Notification.EmailState.SENDING) & expired)


def notification_email_deliver(*, notification_id: int) -> bool:
    """Send the notice's email. Safe to run twice and at once: only the run that claims the row sends.

    The row is read first and claimed with a lease (a conditional UPDATE), so a dropped connection before the
    claim leaves it pending, and a worker that dies after the claim leaves a lease that runs out; the email
    sweep then sends it. Delivery is at least once: if the database is lost between the mail server's "OK" and
    recording it, the email is sent again after the lease. Returns True when this call sent the email; raises
    the send's error (after putting the row back, or marking it failed after MAX_EMAIL_ATTEMPTS) for a retry.
    """
    notification = Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    now = timezone.now()
    if notification is None or not Notification.objects.filter(_claimable(now), pk=notification_id).update(
        email_state=Notification.EmailState.SENDING,
        email_lease_until=now + email_lease(),
        email_attempts=F("email_attempts") + 1,
    ):
        return False
    attempts = notification.email_attempts + 1
    link = f"{settings.SITE_URL}{notification.url}" if notification.url.startswith("/") else notification.url
    try:
        # The SMTP backend takes its socket timeout from EMAIL_TIMEOUT.
        send_mail(
            subject=f"[CX Recovery] {notification.title}",
            message=f"{notification.body}\n\n{link}\n\nSign in to act on it. You are receiving this because of your role in CX Recovery.".strip(),
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[notification.recipient.email],
        )
    except Exception as exc:
        state = Notification.EmailState.FAILED if attempts >= MAX_EMAIL_ATTEMPTS else Notification.EmailState.PENDING
        logger.warning("Email for notice %s failed (attempt %s of %s): %s: %s", notification_id, attempts,
                       MAX_EMAIL_ATTEMPTS, type(exc).__name__, exc)
        try:
            Notification.objects.filter(pk=notification_id, email_state=Notification.EmailState.SENDING).update(
                email_state=state, email_lease_until=None
            )
        except DatabaseError:
            logger.warning("Could not put notice %s back; its lease runs out and the sweep retries it", notification_id)
        raise
    _record_sent(notification_id)
    return True


def _record_sent(notification_id: int, tries: int = 3) -> None:
    """The email is out: record it, trying a few times over a dropped connection so it is not sent twice."""
    for attempt in range(1, tries + 1):
        try:
            _reconnect_if_broken()
            Notification.objects.filter(pk=notification_id, email_state=Notification.EmailState.SENDING).update(
                email_state=Notification.EmailState.SENT, emailed_at=timezone.now(), email_lease_until=None
            )
            return
        except (OperationalError, InterfaceError):
            if attempt == tries:
                logger.error("Notice %s was emailed but could not be recorded; it may be emailed again", notification_id)
                return
            time.sleep(0.5 * attempt)


def _reconnect_if_broken() -> None:
    # Outside a transaction a broken connection can be dropped and opened again on the next query.
    if not connection.in_atomic_block and connection.connection is not None and not connection.is_usable():
        connection.close()


def notification_email_requeue_stale(*, older_than: timedelta = timedelta(minutes=2)) -> list[int]:
    """Ids of notices whose email is still due: pending for a while (the task was lost to a broker outage), or
    claimed by a send whose lease ran out (the worker died mid-send). The task claims each again."""
    now = timezone.now()
    expired = Q(email_lease_until__lt=now) | Q(email_lease_until__isnull=True)
    # A send that crashed on its last allowed attempt is not tried again.
    Notification.objects.filter(
        expired, email_state=Notification.EmailState.SENDING, email_attempts__gte=MAX_EMAIL_ATTEMPTS
    ).update(email_state=Notification.EmailState.FAILED, email_lease_until=None)
    due = Q(email_state=Notification.EmailState.PENDING, created_at__lt=now - older_than) | (
        Q(email_state=Notification.EmailState.SENDING) & expired
    )
    return list(Notification.objects.filter(due).order_by("created_at").values_list("pk", flat=True)[:1000])


@transaction.atomic
def notification_mark_read(*, recipient, notification_ids: list[int] | None = None) -> int:
    qs = Notification.objects.filter(recipient=recipient, read_at__isnull=True)
    if notification_ids is not None:
        qs = qs.filter(pk__in=notification_ids)
    return qs.update(read_at=timezone.now())


# --- the outbox ------------------------------------------------------------------------------------------------

BULK_ENQUEUE_LIMIT = 200


SUBSCRIPTIONS_CACHE_KEY = "notifications:webhook-subscriptions:v1"
SUBSCRIPTIONS_CACHE_SECONDS = 30


def _subscribed_types() -> frozenset[str]:
    """Event types some active endpoint wants ("*" for an endpoint that wants all), cached so that publishing
    an event nobody wants costs no query. Endpoint writes clear it; another process without a shared cache
    sees a change within SUBSCRIPTIONS_CACHE_SECONDS."""
    # The cache only saves a query: when it cannot be reached, ask the database (a complaint must never fail
    # because Redis is down).
    types = _cache_call(cache.get, SUBSCRIPTIONS_CACHE_KEY)
    if types is None:
        types = set()
        for events in WebhookEndpoint.objects.filter(active=True).values_list("events", flat=True):
            types.update(events or ["*"])
        types = frozenset(types)
        _cache_call(cache.set, SUBSCRIPTIONS_CACHE_KEY, types, SUBSCRIPTIONS_CACHE_SECONDS)
    return types


def _cache_call(method: Any, *args: Any) -> Any:
    try:
        return method(*args)
    except Exception as exc:  # noqa: BLE001 - any cache backend error: fall back, never fail the caller's write
        logger.warning("Webhook subscriptions cache unavailable (%s: %s); reading the database", type(exc).__name__, exc)
        return None


def _subscriptions_changed() -> None:
    _cache_call(cache.delete, SUBSCRIPTIONS_CACHE_KEY)
    transaction.on_commit(lambda: _cache_call(cache.delete, SUBSCRIPTIONS_CACHE_KEY))


def _active_endpoints_for(event_type: str) -> list[WebhookEndpoint]:
    wanted = _subscribed_types()
    if "*" not in wanted and event_type not in wanted:
        return []
    # The table is small (a handful of endpoints); filtering the JSON list in Python works on every database.
    return [endpoint for endpoint in WebhookEndpoint.objects.filter(active=True) if endpoint.wants(event_type)]


def event_wanted(type: str) -> bool:  # noqa: A002
    """True when some active endpoint (or another target kind, e.g. a helpdesk's write-back) may want this event
    type: lets a publisher skip building payloads nobody will receive. From the cached subscriptions: no query."""
    wanted = _subscribed_types()
    return "*" in wanted or type in wanted or any(kind.wants(type) for kind in TARGET_KINDS.values())


def _new_event(event_type: str, data: Mapping[str, Any], version: int, now: datetime) -> OutboxEvent:
    return OutboxEvent(
        msg_id=f"msg_{uuid.uuid4().hex}",
        type=event_type,
        version=version,
        created_at=now,
        body={"type": event_type, "version": version, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": dict(data)},
    )


def event_publish(*, type: str, data: Mapping[str, Any], version: int = 1) -> OutboxEvent | None:  # noqa: A002
    """Write one domain event to the outbox, with one delivery per subscribed endpoint, in the caller's
    transaction: a rolled-back write leaves no event, a committed one always has its deliveries.

    Call it inside the atomic service that made the change. `data` must be JSON-ready. Returns None when
    no active endpoint subscribes to this type (nothing is stored: events are kept for delivery, not as an
    audit trail — the complaint timeline is that). Delivery tasks are queued after commit; the sweep
    catches any whose task was lost.
    """
    return (events_publish_many(type=type, items=[data], version=version) or [None])[0]


def events_publish_many(*, type: str, items: Iterable[Mapping[str, Any]], version: int = 1) -> list[OutboxEvent]:  # noqa: A002
    """event_publish for many events of one type at once (a sweep settling many windows): bulk inserts,
    and one sweep queued after commit instead of a task per delivery when there are many."""
    items = list(items)
    endpoints = _active_endpoints_for(type) if items else []
    # Other target kinds (a helpdesk's write-back) choose per event: the complaint's source decides.
    kinds = {name: kind for name, kind in TARGET_KINDS.items() if items and kind.wants(type)}
    extra = [[(name, ref) for name, kind in kinds.items() for ref in kind.targets(type, data)] for data in items]
    wanted = [i for i in range(len(items)) if endpoints or extra[i]]
    if not wanted:
        return []
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        events = OutboxEvent.objects.bulk_create([_new_event(type, items[i], version, now) for i in wanted], batch_size=500)
        if not events[0].pk:
            by_msg = {e.msg_id: e for e in OutboxEvent.objects.filter(msg_id__in=[e.msg_id for e in events])}
            events = [by_msg[e.msg_id] for e in events]
        deliveries = Delivery.objects.bulk_create(
            [Delivery(event=event, endpoint=endpoint, next_attempt_at=now) for event in events for endpoint in endpoints],
            batch_size=500,
        )
        deliveries += _extra_deliveries(events, [extra[i] for i in wanted], now)
    _enqueue_deliveries([d.pk for d in deliveries if d.pk] if len(deliveries) <= BULK_ENQUEUE_LIMIT else [])
    return events


def _extra_deliveries(events: list[OutboxEvent], targets: list[list[tuple[str, str]]], now: datetime) -> list[Delivery]:
    """Deliveries to other target kinds, each recorded by its kind (attach) in this transaction."""
    pairs = [(Delivery(event=event, endpoint=None, target_kind=kind, next_attempt_at=now), kind, ref)
             for event, wanted in zip(events, targets, strict=True) for kind, ref in wanted]
    if not pairs:
        return []
    created = Delivery.objects.bulk_create([delivery for delivery, _, _ in pairs], batch_size=500)
    if created and not created[0].pk:  # a database that returns no ids from a bulk insert
        for delivery in created:
            delivery.save()
    by_kind: dict[str, list[tuple[Delivery, str]]] = {}
    for delivery, kind, ref in pairs:
        by_kind.setdefault(kind, []).append((delivery, ref))
    for kind, attached in by_kind.items():
        TARGET_KINDS[kind].attach(attached)
    return [delivery for delivery, _, _ in pairs]


@transaction.atomic
def delivery_create(*, type: str, data: Mapping[str, Any], target_kind: str, version: int = 1) -> Delivery:  # noqa: A002
    """One event for one target of another kind only (a reply to post through a helpdesk): stored in the
    outbox with its delivery, sent after commit with the same retries, log and sweep as webhooks. The caller
    records which target the delivery is for."""
    if target_kind not in SENDERS:
        raise ValueError(f"no sender registered for target kind {target_kind!r}")
    now = timezone.now()
    event = _new_event(type, data, version, now)
    event.save()
    delivery = Delivery.objects.create(event=event, endpoint=None, target_kind=target_kind, next_attempt_at=now)
    _enqueue_deliveries([delivery.pk])
    return delivery


def _enqueue_deliveries(delivery_ids: list[int]) -> None:
    from notifications.tasks import webhook_deliveries_sweep_task, webhook_delivery_task

    if delivery_ids:
        for delivery_id in delivery_ids:
            enqueue_on_commit(webhook_delivery_task, delivery_id)
    else:
        enqueue_on_commit(webhook_deliveries_sweep_task, 0)


# --- webhook endpoints -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once to the person who created it


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ValidationError({"url": ["Give a full http:// or https:// URL, e.g. https://example.com/hooks/cx."]}) from None
    return url


def _clean_events(events: Any) -> list[str]:
    if events is None:
        return []
    if not isinstance(events, list) or not all(isinstance(name, str) for name in events):
        raise ValidationError({"events": ["Give a list of event names, or leave it empty for every event."]})
    unknown = event_types_unknown(events)
    if unknown:
        raise ValidationError(
            {"events": [f"Unknown event type(s): {', '.join(unknown)}. Known: {', '.join(event_types())}."]}
        )
    return sorted(set(events))


@transaction.atomic
def webhook_endpoint_create(*, url: str, events: list[str] | None = None, description: str = "", created_by: Any = None) -> NewEndpoint:
    """A new active endpoint with a fresh whsec_ secret (returned once, stored encrypted).
    ValidationError (400) naming a bad URL or unknown event types."""
    secret = secret_generate()
    endpoint = WebhookEndpoint.objects.create(
        url=_clean_url(url),
        events=_clean_events(events),
        description=(description or "").strip()[:500],
        secret_encrypted=secret_encrypt(secret),
        created_by=created_by if created_by is not None and getattr(created_by, "pk", None) else None,
    )
    _subscriptions_changed()
    return NewEndpoint(endpoint=endpoint, secret=secret)


@transaction.atomic
def webhook_endpoint_update(*, endpoint: WebhookEndpoint, changes: Mapping[str, Any]) -> WebhookEndpoint:
    """Change url, events, description or active. Switching an endpoint back on clears its failure record."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if "url" in changes:
        endpoint.url = _clean_url(changes["url"])
    if "events" in changes:
        endpoint.events = _clean_events(changes["events"])
    if "description" in changes:
        endpoint.description = (changes["description"] or "").strip()[:500]
    if "active" in changes:
        active = bool(changes["active"])
        if active and not endpoint.active:
            endpoint.failing_since = None
            endpoint.disabled_reason = ""
        endpoint.active = active
    endpoint.save()
    _subscriptions_changed()
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> NewEndpoint:
    secret = secret_generate()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret_encrypted=secret_encrypt(secret), updated_at=timezone.now())
    endpoint.refresh_from_db()
    return NewEndpoint(endpoint=endpoint, secret=secret)


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint: it disappears from the pages and the API and gets nothing more; what was still
    waiting for it fails. The row stays (see WebhookEndpoint.deleted_at)."""
    now = timezone.now()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False, deleted_at=now, updated_at=now)
    Delivery.objects.filter(endpoint=endpoint, state=Delivery.State.PENDING).update(
        state=Delivery.State.FAILED, last_error="the endpoint was deleted"
    )
    _subscriptions_changed()


# --- deliveries ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptOutcome:
    state: str  # "skipped" when another run had it, else the delivery's new state
    retry_in: float | None = None


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> AttemptOutcome:
    """Make one attempt at a due delivery. Safe to run twice: only the run that claims the row sends.

    Logs the attempt; 2xx succeeds; otherwise schedules the next try from WEBHOOKS_RETRY_SCHEDULE, or fails the
    delivery when the schedule is used up. An endpoint failing for WEBHOOKS_DISABLE_AFTER_DAYS is switched off.
    """
    now = now or timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id, state=Delivery.State.PENDING, next_attempt_at__lte=now
    ).update(state=Delivery.State.SENDING, claimed_at=now)
    if not claimed:
        return AttemptOutcome("skipped")
    delivery = Delivery.objects.select_related("event", "endpoint").get(pk=delivery_id)
    started = timezone.now()
    if delivery.endpoint is not None and not delivery.endpoint.active:
        result = SendResult(False, error="the endpoint is switched off; switch it on and replay to send this")
        final = True
    else:
        try:
            result = SENDERS[delivery.target_kind](delivery)
        except Exception as exc:  # noqa: BLE001 - a broken sender is a failed attempt, logged, not a lost delivery
            logger.exception("Delivery %s: sender failed", delivery_id)
            result = SendResult(False, error=f"{type(exc).__name__}: {exc}"[:500])
        final = result.final
    return _attempt_record(delivery, result, started=started, final=final)


@transaction.atomic
def _attempt_record(delivery: Delivery, result: SendResult, *, started: datetime, final: bool) -> AttemptOutcome:
    attempts = delivery.attempts + 1
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=attempts,
        started_at=started,
        latency_ms=result.latency_ms,
        status_code=result.status_code,
        success=result.success,
        error=result.error[:500],
        response_excerpt=result.response_excerpt,
    )
    fields: dict[str, Any] = {
        "attempts": attempts,
        "last_attempt_at": started,
        "last_status_code": result.status_code,
        "last_error": result.error[:500],
        "claimed_at": None,
    }
    retry_in = None
    if result.success:
        fields.update(state=Delivery.State.SUCCEEDED, succeeded_at=timezone.now())
    else:
        retry_in = None if final else retry_delay(attempts)
        if retry_in is not None and result.retry_after is not None:
            # The receiver said when to come back (429 Retry-After): that, not our schedule, decides.
            retry_in = result.retry_after
        if retry_in is None:
            fields["state"] = Delivery.State.FAILED
        else:
            fields.update(state=Delivery.State.PENDING, next_attempt_at=timezone.now() + timedelta(seconds=retry_in))
    # Only if the claim is still ours: a sweep that took the row back from a send it thought was lost wins.
    ours = Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.SENDING, claimed_at=delivery.claimed_at).update(**fields)
    if ours:
        _announce(delivery, result, fields, retry_in)
    if delivery.endpoint_id is not None and not final:
        _endpoint_health(delivery.endpoint_id, success=result.success, now=started)
    return AttemptOutcome(fields["state"], retry_in)


def _announce(delivery: Delivery, result: SendResult, fields: Mapping[str, Any], retry_in: float | None) -> None:
    """Tell the app that queued the delivery what became of it (in this transaction)."""
    if result.success:
        signals.delivery_succeeded.send(
            sender=Delivery, delivery_id=delivery.pk, target_kind=delivery.target_kind, at=fields["succeeded_at"]
        )
    else:
        signals.delivery_failed.send(
            sender=Delivery,
            delivery_id=delivery.pk,
            target_kind=delivery.target_kind,
            error=result.error or "failed",
            final=retry_in is None,
            retry_at=fields.get("next_attempt_at") if retry_in is not None else None,
        )


def _endpoint_health(endpoint_id: int, *, success: bool, now: datetime) -> None:
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint_id)
    if success:
        endpoints.filter(failing_since__isnull=False).update(failing_since=None)
        return
    endpoints.filter(failing_since__isnull=True).update(failing_since=now)
    days = settings.WEBHOOKS_DISABLE_AFTER_DAYS
    reason = f"Switched off: every delivery failed for {days:g} days."
    disabled = endpoints.filter(active=True, failing_since__lte=now - timedelta(days=days)).update(
        active=False, disabled_reason=reason
    )
    if disabled:
        _subscriptions_changed()
        signals.webhook_endpoint_disabled.send(sender=WebhookEndpoint, endpoint_id=endpoint_id, reason=reason)


def _send_timeout() -> timedelta:
    return timedelta(seconds=settings.WEBHOOKS_CONNECT_TIMEOUT + settings.WEBHOOKS_READ_TIMEOUT + 60)


def webhook_deliveries_due(*, now: datetime | None = None, grace: timedelta = timedelta(seconds=30), limit: int = 1000) -> list[int]:
    """Ids of deliveries to (re)send: retries now due, and work whose task was lost — never queued (broker
    outage), or a worker that died mid-send (its claim is older than any send can take)."""
    now = now or timezone.now()
    # Due at once: its claim is older than the grace period.
    Delivery.objects.filter(state=Delivery.State.SENDING, claimed_at__lt=now - _send_timeout()).update(
        state=Delivery.State.PENDING, next_attempt_at=F("claimed_at"), claimed_at=None
    )
    return list(
        Delivery.objects.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now - grace)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


@transaction.atomic
def delivery_resend(*, delivery: Delivery) -> Delivery:
    """Send one delivery again now (whatever its state but mid-send): one more attempt, same webhook-id."""
    now = timezone.now()
    changed = Delivery.objects.filter(pk=delivery.pk).exclude(state=Delivery.State.SENDING).update(
        state=Delivery.State.PENDING, next_attempt_at=now
    )
    if changed:
        _enqueue_deliveries([delivery.pk])
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def webhook_endpoint_replay(*, endpoint: WebhookEndpoint, since: datetime) -> int:
    """Send again every failed delivery of this endpoint created since `since`. Returns how many."""
    now = timezone.now()
    failed = Delivery.objects.filter(endpoint=endpoint, state=Delivery.State.FAILED, created_at__gte=since)
    ids = list(failed.values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=ids).update(state=Delivery.State.PENDING, next_attempt_at=now)
    if ids:
        _enqueue_deliveries(ids if len(ids) <= BULK_ENQUEUE_LIMIT else [])
    return len(ids)


# --- emails to customers ---------------------------------------------------------------------------------------


@transaction.atomic
def outbound_email_queue(
    *, ref: str, to: str, subject: str, body: str, reply_to: str = "", headers: Mapping[str, str] | None = None
) -> OutboundEmail:
    """Queue an email (sent after commit, retried on failure). The same `ref` is queued once."""
    email, created = OutboundEmail.objects.get_or_create(
        ref=ref[:100],
        defaults={
            "to": to,
            "subject": subject[:300],
            "body": body,
            "from_email": settings.DEFAULT_FROM_EMAIL,
            "reply_to": reply_to,
            "headers": dict(headers or {}),
            "next_attempt_at": timezone.now(),
        },
    )
    if created:
        from notifications.tasks import outbound_email_task

        enqueue_on_commit(outbound_email_task, email.pk)
    return email


def outbound_email_send(*, email_id: int, now: datetime | None = None) -> AttemptOutcome:
    """Send a due email once; on failure retry on the webhook schedule, then fail. Safe to run twice.
    Announces the result (signals.outbound_email_sent / _failed) in the transaction that records it."""
    now = now or timezone.now()
    claimed = OutboundEmail.objects.filter(
        pk=email_id, state=OutboundEmail.State.PENDING, next_attempt_at__lte=now
    ).update(state=OutboundEmail.State.SENDING, claimed_at=now)
    if not claimed:
        return AttemptOutcome("skipped")
    email = OutboundEmail.objects.get(pk=email_id)
    message = EmailMessage(
        subject=email.subject,
        body=email.body,
        from_email=email.from_email,
        to=[email.to],
        reply_to=[email.reply_to] if email.reply_to else None,
        headers=email.headers,
    )
    error = ""
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001 - any backend error is a failed attempt, retried
        error = f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
    return _email_record(email, error)


@transaction.atomic
def _email_record(email: OutboundEmail, error: str) -> AttemptOutcome:
    attempts = email.attempts + 1
    now = timezone.now()
    if not error:
        OutboundEmail.objects.filter(pk=email.pk).update(
            state=OutboundEmail.State.SENT, attempts=attempts, sent_at=now, claimed_at=None, last_error=""
        )
        signals.outbound_email_sent.send(sender=OutboundEmail, ref=email.ref, email_id=email.pk, sent_at=now)
        return AttemptOutcome(OutboundEmail.State.SENT)
    retry_in = retry_delay(attempts)
    retry_at = now + timedelta(seconds=retry_in) if retry_in is not None else None
    state = OutboundEmail.State.PENDING if retry_at else OutboundEmail.State.FAILED
    OutboundEmail.objects.filter(pk=email.pk).update(
        state=state, attempts=attempts, claimed_at=None, last_error=error, next_attempt_at=retry_at or email.next_attempt_at
    )
    signals.outbound_email_failed.send(
        sender=OutboundEmail, ref=email.ref, email_id=email.pk, error=error, final=retry_at is None, retry_at=retry_at
    )
    return AttemptOutcome(state, retry_in)


def outbound_emails_due(*, now: datetime | None = None, grace: timedelta = timedelta(seconds=30), limit: int = 1000) -> list[int]:
    """Ids of emails to (re)send: retries due and emails whose task was lost."""
    now = now or timezone.now()
    OutboundEmail.objects.filter(state=OutboundEmail.State.SENDING, claimed_at__lt=now - timedelta(minutes=5)).update(
        state=OutboundEmail.State.PENDING, next_attempt_at=F("claimed_at"), claimed_at=None
    )
    return list(
        OutboundEmail.objects.filter(state=OutboundEmail.State.PENDING, next_attempt_at__lte=now - grace)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


@transaction.atomic
def outbound_email_retry(*, ref: str) -> OutboundEmail | None:
    """Try a failed email again now (a person asked to)."""
    email = OutboundEmail.objects.filter(ref=ref).first()
    if email is None:
        return None
    if OutboundEmail.objects.filter(pk=email.pk, state=OutboundEmail.State.FAILED).update(
        state=OutboundEmail.State.PENDING, next_attempt_at=timezone.now()
    ):
        from notifications.tasks import outbound_email_task

        enqueue_on_commit(outbound_email_task, email.pk)
    email.refresh_from_db()
    return email



