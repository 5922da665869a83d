"""Webhook endpoints (create, change, rotate, delete, replay) and the attempts at each delivery, with retries."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from notifications import signals
from notifications.catalogue import event_types, event_types_unknown
from notifications.delivery import SENDERS, AttemptOutcome, SendResult, retry_delay
from notifications.models import Delivery, DeliveryAttempt, WebhookEndpoint
from notifications.secrets import secret_encrypt, secret_generate
from notifications.services.outbox import (
    BULK_ENQUEUE_LIMIT,
    deliveries_enqueue,
    send_claim,
    sends_due,
    subscriptions_changed,
)

logger = logging.getLogger(__name__)



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
    subscriptions_changed()
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
    subscriptions_changed()
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
    subscriptions_changed()


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> AttemptOutcome:
    """Make one attempt at a due delivery. Safe to run twice: only the run that claims the row sends.

    Logs the attempt; 2xx succeeds; otherwise schedules the next try from WEBHOOKS_RETRY_SCHEDULE, or fails the
    delivery when the schedule is used up. An endpoint failing for WEBHOOKS_DISABLE_AFTER_DAYS is switched off.
    """
    now = now or timezone.now()
    if not send_claim(Delivery, delivery_id, now):
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
        subscriptions_changed()
        signals.webhook_endpoint_disabled.send(sender=WebhookEndpoint, endpoint_id=endpoint_id, reason=reason)


def _send_timeout() -> timedelta:
    return timedelta(seconds=settings.WEBHOOKS_CONNECT_TIMEOUT + settings.WEBHOOKS_READ_TIMEOUT + 60)


def webhook_deliveries_due(*, now: datetime | None = None, grace: timedelta = timedelta(seconds=30), limit: int = 1000) -> list[int]:
    """Ids of deliveries to (re)send: retries now due, and work whose task was lost — never queued (broker
    outage), or a worker that died mid-send (its claim is older than any send can take)."""
    return sends_due(Delivery, now=now or timezone.now(), stale_after=_send_timeout(), grace=grace, limit=limit)


@transaction.atomic
def delivery_resend(*, delivery: Delivery) -> Delivery:
    """Send one delivery again now (whatever its state but mid-send): one more attempt, same webhook-id."""
    now = timezone.now()
    changed = Delivery.objects.filter(pk=delivery.pk).exclude(state=Delivery.State.SENDING).update(
        state=Delivery.State.PENDING, next_attempt_at=now
    )
    if changed:
        deliveries_enqueue([delivery.pk])
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
        deliveries_enqueue(ids if len(ids) <= BULK_ENQUEUE_LIMIT else [])
    return len(ids)
