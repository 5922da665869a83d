"""Emails to customers (replies): queued with the write that causes them, sent and retried like a delivery."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from notifications import signals
from notifications.delivery import AttemptOutcome, retry_delay
from notifications.models import OutboundEmail
from notifications.queue import enqueue_on_commit
from notifications.services.outbox import send_claim, sends_due


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
    if not send_claim(OutboundEmail, email_id, now):
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
    return sends_due(OutboundEmail, now=now or timezone.now(), stale_after=timedelta(minutes=5), grace=grace, limit=limit)


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
