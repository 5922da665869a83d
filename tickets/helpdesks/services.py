"""Every write of the helpdesk connections: create a connection, receive a delivery, process it, retry, purge.

Processing maps the vendor's TicketChange onto the intake services in tickets/services/: a new ticket is
logged with complaint_log (dedupe on (source, external_id)), later events update it with complaint_update,
complaint_transition and comments; each of those writes its own timeline event and domain event, so recovery
re-grades the complaint as it always does.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from notifications.queue import enqueue_on_commit
from tickets import services as intake
from tickets import signals
from tickets.actors import ActorRef
from tickets.errors import DomainError, InvalidInput
from tickets.events import event_write
from tickets.helpdesks import secrets
from tickets.helpdesks.mapping import DEFAULT_STATUS_MAPS, HelpdeskMapping
from tickets.helpdesks.models import HelpdeskConnection, HelpdeskDelivery, HelpdeskKind
from tickets.helpdesks.vendors import VENDORS
from tickets.helpdesks.vendors.base import Envelope, NotAuthentic, TicketChange, Unusable
from tickets.helpdesks.vendors.freshdesk import basic_password, verify_password
from tickets.models import STATUS_TRANSITIONS, Comment, Complaint, Status, TimelineEvent

logger = logging.getLogger(__name__)

# Headers kept with a delivery: processing runs later and some vendors name the event only in a header.
KEPT_HEADERS = (
    "X-HelpScout-Event",
    "X-Zammad-Trigger",
    "X-Zammad-Delivery",
    "X-Zendesk-Webhook-Invocation-Id",
    "X-Zendesk-Webhook-Id",
    "Content-Type",
    "User-Agent",
)
DONE = (HelpdeskDelivery.Result.PROCESSED, HelpdeskDelivery.Result.IGNORED)


# --- connections ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewConnection:
    connection: HelpdeskConnection
    secret: str  # shown once; only its encrypted form or hash is stored


def connection_create(*, kind: str, name: str, secret: str = "", created_by: Any = None) -> NewConnection:
    """Create a connection; a secret is generated when none is given. Raises InvalidInput for a bad kind/name."""
    name = (name or "").strip()
    if kind not in HelpdeskKind.values:
        raise InvalidInput(
            f"Unknown helpdesk '{kind}'. Choose one of: {', '.join(HelpdeskKind.values)}.",
            fields={"kind": ["Choose zendesk, freshdesk, zammad or helpscout."]},
        )
    if not name or len(name) > 50:
        raise InvalidInput("Give the connection a name of 1–50 characters.", fields={"name": ["1–50 characters."]})
    secret = (secret or "").strip() or secrets.secret_generate()
    if kind == HelpdeskKind.HELPSCOUT and len(secret) > 40:
        raise InvalidInput("Help Scout accepts secret keys of at most 40 characters.", fields={"secret": ["Too long."]})
    connection = HelpdeskConnection(
        kind=kind,
        name=name,
        status_map=dict(DEFAULT_STATUS_MAPS.get(kind, {})),
        created_by=created_by if created_by is not None and getattr(created_by, "pk", None) else None,
    )
    connection_set_secret(connection, secret)
    try:
        with transaction.atomic():
            connection.save()
    except IntegrityError:
        message = f"A connection named '{name}' already exists; its name is the complaints' source, so it must be unique."
        raise InvalidInput(message, fields={"name": [message]}) from None
    return NewConnection(connection=connection, secret=secret)


def connection_set_secret(connection: HelpdeskConnection, secret: str, *, keep_current: bool = False) -> None:
    """Store the secret in the form the vendor needs (not saved here). With keep_current the current secrets stay
    valid too: a second Zendesk webhook (events and triggers each have their own signing secret), or a rotation."""
    secret = secret.strip()
    if connection.kind == HelpdeskKind.FRESHDESK:
        current = connection.secret_hash.splitlines() if keep_current and connection.secret_hash else []
        connection.secret_hash = "\n".join([*current, secrets.secret_hash(secret)][-MAX_SECRETS:])
        connection.secret_encrypted = ""
        return
    current = _secrets_of(connection) if keep_current and connection.secret_encrypted else []
    kept = [s for s in current if s != secret]
    connection.secret_encrypted = secrets.secret_encrypt("\n".join([*kept, secret][-MAX_SECRETS:]))
    connection.secret_hash = ""


# A connection accepts at most this many secrets at once (current and kept ones).
MAX_SECRETS = 3


def _secrets_of(connection: HelpdeskConnection) -> list[str]:
    return [line for line in secrets.secret_decrypt(connection.secret_encrypted).splitlines() if line]


def connection_update_mapping(*, connection: HelpdeskConnection, changes: Mapping[str, Any]) -> HelpdeskConnection:
    allowed = {"cause_map", "cause_field", "default_cause", "severity_map", "default_severity", "status_map", "active"}
    unknown = set(changes) - allowed
    if unknown:
        raise InvalidInput(f"These settings cannot be changed here: {', '.join(sorted(unknown))}.")
    for name, value in changes.items():
        setattr(connection, name, value)
    connection.save(update_fields=[*changes, "updated_at"])
    if "active" in changes:
        from tickets.helpdesks import writeback

        writeback.connections_changed()
    return connection


# What each helpdesk's API needs besides the token (docs/integrations.md, "Write-back").
API_USER_NEEDED = {
    HelpdeskKind.ZENDESK: "the email address of the Zendesk agent who owns the API token",
    HelpdeskKind.HELPSCOUT: "the App ID of the Help Scout OAuth app (the token is its App Secret)",
}
DEFAULT_API_URLS = {HelpdeskKind.HELPSCOUT: "https://api.helpscout.net"}


@transaction.atomic
def connection_set_api(
    *, connection: HelpdeskConnection, api_url: str, api_user: str = "", api_token: str | None = None, clear: bool = False
) -> HelpdeskConnection:
    """Set (or with `clear`, remove) the API URL and credentials used to write back to the helpdesk.
    `api_token=None` keeps the stored token (a form left blank). The token is stored encrypted; InvalidInput
    names what is missing or malformed."""
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    from tickets.helpdesks import writeback

    connection = HelpdeskConnection.objects.select_for_update().get(pk=connection.pk)
    if clear:
        connection.api_url, connection.api_user, connection.api_token_encrypted = "", "", ""
    else:
        api_url = (api_url or "").strip().rstrip("/") or DEFAULT_API_URLS.get(connection.kind, "")
        try:
            URLValidator(schemes=["http", "https"])(api_url)
        except ValidationError:
            message = "Give the helpdesk's API address as a full https:// URL, e.g. https://yourcompany.zendesk.com."
            raise InvalidInput(message, fields={"api_url": [message]}) from None
        api_user = (api_user or "").strip()
        needed = API_USER_NEEDED.get(connection.kind)
        if needed and not api_user:
            message = f"{connection.get_kind_display()} also needs {needed}."
            raise InvalidInput(message, fields={"api_user": [message]})
        token = (api_token or "").strip()
        if not token and not connection.api_token_encrypted:
            message = "Give the API token (Zendesk API token, Freshdesk API key, Zammad access token, Help Scout App Secret)."
            raise InvalidInput(message, fields={"api_token": [message]})
        connection.api_url, connection.api_user = api_url[:500], api_user[:254]
        if token:
            connection.api_token_encrypted = secrets.secret_encrypt(token)
    connection.save(update_fields=["api_url", "api_user", "api_token_encrypted", "updated_at"])
    writeback.connections_changed()
    return connection


# --- receiving -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    delivery: HelpdeskDelivery
    created: bool


def delivery_authenticate(*, connection: HelpdeskConnection, body: bytes, headers: Mapping[str, str]) -> None:
    """Raise NotAuthentic unless the raw body carries this connection's signature (or Freshdesk password)."""
    if connection.kind == HelpdeskKind.FRESHDESK:
        hashes = connection.secret_hash.splitlines()
        verify_password(basic_password(headers), lambda p: any(secrets.secret_matches(p, h) for h in hashes))
        return
    try:
        candidates = _secrets_of(connection)
    except secrets.SecretUnreadable as exc:
        logger.error("Helpdesk connection %s: %s", connection.pk, exc)
        raise NotAuthentic("This connection's secret cannot be read on our side; ask an administrator.") from exc
    failures: list[NotAuthentic] = []
    for secret in candidates:
        try:
            VENDORS[connection.kind].verify(secret, body, headers)
            return
        except NotAuthentic as exc:
            failures.append(exc)
    # A stale timestamp (the signature matched) says more than the other secrets' mismatches.
    raise next((f for f in failures if getattr(f, "signature_matched", False)), None) or (
        failures[-1] if failures else NotAuthentic("This connection has no secret.")
    )


def delivery_envelope(*, connection: HelpdeskConnection, payload: dict[str, Any], headers: Mapping[str, str],
                      body: bytes) -> Envelope:
    return VENDORS[connection.kind].envelope(payload, headers, body)


def delivery_receive(
    *, connection: HelpdeskConnection, envelope: Envelope, body: bytes, headers: Mapping[str, str]
) -> Received:
    """Store a verified delivery raw and queue its processing after commit. The same delivery id twice stores
    nothing new and queues nothing (a helpdesk retrying, or a replay)."""
    kept = {name: headers[name] for name in KEPT_HEADERS if headers.get(name)}
    result = HelpdeskDelivery.Result.IGNORED if envelope.ping else HelpdeskDelivery.Result.PENDING
    try:
        with transaction.atomic():
            delivery = HelpdeskDelivery.objects.create(
                connection=connection,
                delivery_id=envelope.delivery_id,
                event=envelope.event[:120],
                ticket_id=envelope.ticket_id[:200],
                body=body.decode("utf-8", errors="replace"),
                headers=kept,
                result=result,
                error="A test delivery from the helpdesk: it arrived." if envelope.ping else "",
                processed_at=timezone.now() if envelope.ping else None,
            )
    except IntegrityError:
        existing = HelpdeskDelivery.objects.get(connection=connection, delivery_id=envelope.delivery_id)
        return Received(delivery=existing, created=False)
    if not envelope.ping:
        from tickets.helpdesks.tasks import helpdesk_delivery_process_task

        enqueue_on_commit(helpdesk_delivery_process_task, delivery.pk)
    return Received(delivery=delivery, created=True)


# --- processing ----------------------------------------------------------------------------------------


def delivery_process(*, delivery_id: int) -> str:
    """Map a stored delivery onto complaints. Safe to run twice: a processed or ignored delivery is left alone.
    A failure keeps the delivery with result=failed and the error, for "process again"."""
    try:
        with transaction.atomic():
            delivery = (
                HelpdeskDelivery.objects.select_for_update(of=("self",))
                .select_related("connection")
                .filter(pk=delivery_id)
                .first()
            )
            if delivery is None or delivery.result in DONE:
                return delivery.result if delivery else "missing"
            result, complaint, note = _apply(delivery)
            delivery.result = result
            delivery.complaint = complaint
            delivery.error = note
            delivery.attempts += 1
            delivery.processed_at = timezone.now()
            delivery.save(update_fields=["result", "complaint", "error", "attempts", "processed_at"])
            return result
    except Exception as exc:  # noqa: BLE001 - any failure is kept on the delivery for a person to retry
        if not isinstance(exc, (Unusable, DomainError)):
            logger.exception("Helpdesk delivery %s failed", delivery_id)
        message = exc.message if isinstance(exc, DomainError) else str(exc) or exc.__class__.__name__
        HelpdeskDelivery.objects.filter(pk=delivery_id).exclude(result__in=DONE).update(
            result=HelpdeskDelivery.Result.FAILED,
            error=message[:2000],
            attempts=F("attempts") + 1,
            processed_at=timezone.now(),
        )
        return HelpdeskDelivery.Result.FAILED


@transaction.atomic
def delivery_retry(*, delivery: HelpdeskDelivery) -> HelpdeskDelivery:
    """Queue a failed (or still pending) delivery again. Processed and ignored ones are left as they are."""
    changed = HelpdeskDelivery.objects.filter(
        pk=delivery.pk, result__in=[HelpdeskDelivery.Result.FAILED, HelpdeskDelivery.Result.PENDING]
    ).update(result=HelpdeskDelivery.Result.PENDING, error="")
    if not changed:
        raise InvalidInput("Only a failed or waiting delivery can be processed again.")
    from tickets.helpdesks.tasks import helpdesk_delivery_process_task

    enqueue_on_commit(helpdesk_delivery_process_task, delivery.pk)
    delivery.refresh_from_db()
    return delivery


def deliveries_purge(*, older_than_days: int | None = None) -> int:
    """Delete deliveries (raw bodies) older than HELPDESK_DELIVERY_RETENTION_DAYS in one statement."""
    days = older_than_days if older_than_days is not None else settings.HELPDESK_DELIVERY_RETENTION_DAYS
    cutoff = timezone.now() - dt.timedelta(days=days)
    # Nothing references a delivery, so this is a single DELETE ... WHERE received_at < cutoff.
    deleted, _ = HelpdeskDelivery.objects.filter(received_at__lt=cutoff).delete()
    return deleted


def _actor(connection: HelpdeskConnection) -> ActorRef:
    return ActorRef.system(f"{connection.get_kind_display()} “{connection.name}”")


def _apply(delivery: HelpdeskDelivery) -> tuple[str, Complaint | None, str]:
    connection = delivery.connection
    try:
        payload = json.loads(delivery.body)
    except ValueError as exc:
        raise Unusable(f"The stored body is not JSON: {exc}") from exc
    change = VENDORS[connection.kind].parse(payload if isinstance(payload, dict) else {}, delivery.headers)
    if change is None:
        return HelpdeskDelivery.Result.IGNORED, None, f"Event '{delivery.event}' is not used; stored only."
    actor = _actor(connection)
    complaint = Complaint.objects.filter(source=connection.name, external_id=change.ticket_id).first()
    if complaint is None:
        if change.reference_only:
            return HelpdeskDelivery.Result.IGNORED, None, f"No complaint for ticket {change.ticket_id} yet."
        complaint = _complaint_create(connection, change, actor)
    else:
        complaint = _complaint_refresh(connection, complaint, change, actor)
    _status_apply(connection, complaint, change, actor)
    if change.comment is not None:
        _comment_apply(connection, complaint, change, actor)
    if change.satisfaction:
        _satisfaction_apply(connection, complaint, change, actor)
    return HelpdeskDelivery.Result.PROCESSED, complaint, ""


# --- mapping -------------------------------------------------------------------------------------------


def _snapshot_fields(connection: HelpdeskConnection, change: TicketChange) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if change.subject:
        fields["subject"] = change.subject[:200]
    if change.description is not None:
        fields["description"] = change.description
    if change.channel:
        fields["channel"] = change.channel
    mapping = HelpdeskMapping.of(connection)
    severity = mapping.severity(change.priority)
    if severity is not None:
        fields["severity"] = severity
    cause = mapping.cause((*(change.tags or ()), *change.tags_added), change.custom_fields)
    if cause is not None:
        fields["cause"] = cause
    return fields


def _complaint_create(connection: HelpdeskConnection, change: TicketChange, actor: ActorRef) -> Complaint:
    requester = change.requester
    if requester is None or not (requester.email or requester.external_id):
        raise Unusable(
            f"Ticket {change.ticket_id} names no requester (no email and no id), so there is no customer to log "
            "the complaint for. Add the requester to the webhook's payload."
        )
    fields = _snapshot_fields(connection, change)
    fields.setdefault("subject", f"{connection.get_kind_display()} ticket {change.ticket_id}")
    fields.setdefault("cause", connection.default_cause)
    fields.setdefault("severity", connection.default_severity)
    if change.tags is not None or change.tags_added:
        fields["tags"] = sorted({*(change.tags or ()), *change.tags_added})
    data = intake.ComplaintInput(
        customer=intake.CustomerInput(
            email=requester.email, external_id=requester.external_id, name=requester.name, phone=requester.phone
        ),
        fields=fields,
        source=connection.name,
        external_id=change.ticket_id,
    )
    return intake.complaint_log(data=data, actor=actor).complaint


def _complaint_refresh(
    connection: HelpdeskConnection, complaint: Complaint, change: TicketChange, actor: ActorRef
) -> Complaint:
    changes = _snapshot_fields(connection, change)
    if change.tags_added or change.tags_removed:
        tags = [t for t in complaint.tags if t not in change.tags_removed]
        tags += [t for t in change.tags_added if t not in tags]
        changes["tags"] = tags
    elif change.tags is not None:
        # A snapshot: add the helpdesk's new tags, keep ours (rules tag complaints too).
        added = [t for t in change.tags if t not in complaint.tags]
        if added:
            changes["tags"] = [*complaint.tags, *added]
    if not changes:
        return complaint
    return intake.complaint_update(complaint=complaint, changes=changes, actor=actor)


def _status_apply(connection: HelpdeskConnection, complaint: Complaint, change: TicketChange, actor: ActorRef) -> None:
    if not change.status:
        return
    target = (connection.status_map or {}).get(change.status)
    label = connection.get_kind_display()
    if target in Status.values and target != complaint.status:
        path = [target]
        if target == Status.CLOSED and complaint.status != Status.RESOLVED:
            path = [Status.RESOLVED, Status.CLOSED]  # our complaints close only once resolved
        if all(step in STATUS_TRANSITIONS.get(prev, ()) for prev, step in zip([complaint.status, *path[:-1]], path, strict=True)):
            for step in path:
                complaint = intake.complaint_transition(
                    complaint=complaint, to_status=step, actor=actor, note=f"{label} status: {change.status}"
                )
            return
    if change.status_changed and target != complaint.status and change.status != _last_helpdesk_status(complaint):
        _note(complaint, actor, f"{label} status is now {change.status}", {"helpdesk_status": change.status})


def _last_helpdesk_status(complaint: Complaint) -> str | None:
    """The helpdesk status last noted on the timeline, so a status repeated by every delivery is noted once."""
    last = (
        complaint.events.filter(kind=TimelineEvent.Kind.UPDATED, data__has_key="helpdesk_status")
        .order_by("-created_at", "-id")
        .values_list("data", flat=True)
        .first()
    )
    return last.get("helpdesk_status") if last else None


def _comment_seen(complaint: Complaint, key: str) -> bool:
    return complaint.events.filter(kind=TimelineEvent.Kind.COMMENTED, data__helpdesk_comment=key).exists()


# Enough of a customer's message for grading to find what they threaten; the full text is in the comment.
CUSTOMER_WORDS_LIMIT = 10_000


@transaction.atomic
def _comment_apply(connection: HelpdeskConnection, complaint: Complaint, change: TicketChange, actor: ActorRef) -> None:
    comment = change.comment
    assert comment is not None
    key = f"{change.ticket_id}:{comment.key}"
    if _comment_seen(complaint, key):
        return
    label = connection.get_kind_display()
    if comment.by_customer:
        if comment.body.strip() == (complaint.description or "").strip():
            return  # the ticket's first message (Zendesk also sends it as a comment): it is the description
        note = Comment.objects.create(
            complaint=complaint,
            kind=Comment.Kind.NOTE,
            body=f"The customer wrote in {label}:\n{comment.body}",
            author_label=actor.label[:200],
        )
        event_write(
            complaint=complaint,
            kind=TimelineEvent.Kind.COMMENTED,
            actor=actor,
            message=f"The customer wrote again in {label}",
            # by_customer + body: the customer's own words, which grading searches for threats and "never again".
            data={
                "comment_id": note.pk,
                "kind": "customer",
                "helpdesk_comment": key,
                "by_customer": True,
                "body": comment.body[:CUSTOMER_WORDS_LIMIT],
            },
        )
        # A customer writing again can change the grade: announce it so recovery re-assesses.
        signals.complaint_changed.send(
            sender=Complaint, complaint_id=complaint.pk, changed=frozenset({"customer_comment"}), actor=actor
        )
        return
    if not comment.public:
        return
    # An agent's public answer in the helpdesk is our reply to the customer (it counts as the first response).
    # The timeline stays append-only, so a repeated answer is recognised by its text.
    if complaint.comments.filter(kind=Comment.Kind.REPLY, body=comment.body.strip()).exists():
        return
    # It reached the customer in the helpdesk already: recorded as sent there, never posted or emailed again.
    intake.comment_add(complaint=complaint, kind=Comment.Kind.REPLY, body=comment.body, actor=actor, answered_in=label)


def _satisfaction_apply(
    connection: HelpdeskConnection, complaint: Complaint, change: TicketChange, actor: ActorRef
) -> None:
    rating = (change.satisfaction or "")[:300]
    key = hashlib.sha256(rating.encode()).hexdigest()[:16]
    if complaint.events.filter(kind=TimelineEvent.Kind.UPDATED, data__helpdesk_satisfaction=key).exists():
        return
    _note(
        complaint,
        actor,
        f"Satisfaction rating in {connection.get_kind_display()}: {rating}",
        {"helpdesk_satisfaction": key, "rating": rating},
    )


def _note(complaint: Complaint, actor: ActorRef, message: str, data: dict[str, Any]) -> None:
    """A helpdesk fact that changes none of our fields: one timeline event, nothing else."""
    event_write(complaint=complaint, kind=TimelineEvent.Kind.UPDATED, actor=actor, message=message, data=data)


STALE_PENDING_AFTER = dt.timedelta(minutes=5)


def deliveries_stale_pending(*, limit: int = 500) -> list[int]:
    """Deliveries still waiting well after they arrived: their task was lost (broker outage, crashed worker)."""
    cutoff = timezone.now() - STALE_PENDING_AFTER
    return list(
        HelpdeskDelivery.objects.filter(result=HelpdeskDelivery.Result.PENDING, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("pk", flat=True)[:limit]
    )
