"""tickets listens to notifications: the fate of reply emails, and integrations that broke."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from notifications.signals import (
    delivery_failed,
    delivery_succeeded,
    outbound_email_failed,
    outbound_email_sent,
    webhook_endpoint_disabled,
)

REPLY_REF = "comment:"


def _comment_id(ref: str) -> int | None:
    value = ref[len(REPLY_REF):] if ref.startswith(REPLY_REF) else ""
    return int(value) if value.isdigit() else None


@receiver(outbound_email_sent, dispatch_uid="tickets.reply_sent")
def reply_sent(sender: Any, ref: str, sent_at: Any, **kwargs: Any) -> None:
    from tickets.services import reply_delivered

    comment_id = _comment_id(ref)
    if comment_id is not None:
        reply_delivered(comment_id=comment_id, sent_at=sent_at)


@receiver(outbound_email_failed, dispatch_uid="tickets.reply_failed")
def reply_failed(sender: Any, ref: str, error: str, final: bool, retry_at: Any = None, **kwargs: Any) -> None:
    from tickets.services import reply_delivery_failed

    comment_id = _comment_id(ref)
    if comment_id is not None:
        reply_delivery_failed(comment_id=comment_id, error=error, final=final, retry_at=retry_at)


def _helpdesk_reply(delivery_id: int, target_kind: str) -> int | None:
    """The comment a helpdesk delivery posts as a reply, if it is one."""
    if target_kind != "helpdesk":
        return None
    from tickets.helpdesks.models import HelpdeskWriteback

    return HelpdeskWriteback.objects.filter(delivery_id=delivery_id).values_list("comment_id", flat=True).first()


@receiver(delivery_succeeded, dispatch_uid="tickets.helpdesk_reply_sent")
def helpdesk_reply_sent(sender: Any, delivery_id: int, target_kind: str, at: Any, **kwargs: Any) -> None:
    from tickets.services import reply_delivered

    comment_id = _helpdesk_reply(delivery_id, target_kind)
    if comment_id is not None:
        reply_delivered(comment_id=comment_id, sent_at=at)


@receiver(delivery_failed, dispatch_uid="tickets.helpdesk_reply_failed")
def helpdesk_reply_failed(
    sender: Any, delivery_id: int, target_kind: str, error: str, final: bool, retry_at: Any = None, **kwargs: Any
) -> None:
    from tickets.services import reply_delivery_failed

    comment_id = _helpdesk_reply(delivery_id, target_kind)
    if comment_id is not None:
        reply_delivery_failed(comment_id=comment_id, error=error, final=final, retry_at=retry_at)


@receiver(webhook_endpoint_disabled, dispatch_uid="tickets.webhook_disabled")
def endpoint_disabled(sender: Any, endpoint_id: int, reason: str, **kwargs: Any) -> None:
    from notifications.models import WebhookEndpoint
    from notifications.services import notice_send
    from tickets.permissions import integration_managers

    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return
    for person in integration_managers():
        notice_send(
            recipient=person,
            title=f"Webhook switched off: {endpoint.url}"[:200],
            body=f"{reason} Fix the receiver, switch the endpoint on again and replay what failed.",
            url=f"/webhooks/{endpoint.pk}/",
            dedupe_key=f"webhook:{endpoint.pk}:disabled:{endpoint.failing_since:%Y%m%d%H%M%S}" if endpoint.failing_since else None,
        )
