"""Comments: internal notes (with @mentions) and replies to the customer, sent by email or through the
helpdesk the complaint came from, and what became of each send."""

from __future__ import annotations

import operator
import re
from email.utils import parseaddr
from functools import reduce
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from notifications.services import notice_send, outbound_email_queue
from tickets import signals, webhook_payloads
from tickets.actors import ActorRef
from tickets.errors import DomainError, InvalidInput
from tickets.events import event_write
from tickets.models import (
    Comment,
    Complaint,
    TimelineEvent,
)
from tickets.permissions import user_role
from tickets.services.changes import locked


class ReplyUndeliverable(DomainError):
    """No channel reaches this customer: the reply would be written and never read."""

    code = "reply_undeliverable"
    status = 409


def reply_channel(complaint: Complaint) -> str | None:
    """How a reply to the customer travels: "helpdesk" (a public comment on the ticket it came from, when that
    helpdesk's connection has API credentials), "email", or None when nothing reaches them."""
    from tickets.helpdesks.writeback import reply_channel_for

    if reply_channel_for(complaint) is not None:
        return "helpdesk"
    return "email" if complaint.customer.email else None


def _reply_destination(complaint: Complaint, channel: str) -> str:
    """Where the reply goes, in words for the timeline."""
    if channel == "helpdesk":
        return f"{complaint.source} ticket #{complaint.external_id}"
    return complaint.customer.email or "the customer"


def reply_undeliverable_reason(complaint: Complaint) -> str:
    return (
        f"A reply on {complaint.reference} cannot reach the customer: we have no email address for them. "
        "Add their email (log the complaint again with it, or through the API), or contact them another way "
        "and write an internal note."
    )


def _thread_domain() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rsplit("@", 1)[-1] if "@" in address else "cx-recovery.localhost"


def reply_email_headers(complaint: Complaint, comment: Comment) -> dict[str, str]:
    """Every reply has its own Message-ID and points at the complaint's thread id, so mail clients thread them."""
    domain = _thread_domain()
    thread = f"<complaint-{complaint.reference}@{domain}>"
    return {
        "Message-ID": f"<complaint-{complaint.reference}-reply-{comment.pk}@{domain}>",
        "In-Reply-To": thread,
        "References": thread,
    }


@transaction.atomic
def comment_add(*, complaint: Complaint, kind: str, body: str, actor: ActorRef, answered_in: str = "") -> Comment:
    """Add an internal note or a reply to the customer.

    A reply is sent after commit — posted through the helpdesk the complaint came from when that connection
    writes back, else emailed — and retried on failure; it counts as the first response only once it was sent
    (reply_delivered). ReplyUndeliverable (409) when nothing can reach the customer.

    `answered_in` names a helpdesk where an agent already answered the customer (its webhook told us): the
    reply is recorded as sent there, counts as the first response now, and is not sent again.
    """
    if answered_in and kind == Comment.Kind.REPLY:
        return _reply_answered_elsewhere(complaint=complaint, body=body, actor=actor, where=answered_in)
    body = (body or "").strip()
    if not body:
        raise InvalidInput("Write something before saving.", fields={"body": ["This field may not be blank."]})
    if kind not in Comment.Kind.values:
        raise InvalidInput(f"Unknown comment kind '{kind}'.", fields={"kind": ["Choose note or reply."]})
    complaint = locked(complaint)
    channel = reply_channel(complaint) if kind == Comment.Kind.REPLY else None
    if kind == Comment.Kind.REPLY and channel is None:
        raise ReplyUndeliverable(reply_undeliverable_reason(complaint))
    comment = Comment.objects.create(
        complaint=complaint,
        kind=kind,
        body=body,
        author=actor.user,
        author_label=actor.label[:200],
        delivery_channel=channel or "",
        delivery_state=Comment.DeliveryState.PENDING if channel else "",
    )
    if channel == "helpdesk":
        from tickets.helpdesks.writeback import reply_channel_for, reply_queue

        reply_queue(connection=reply_channel_for(complaint), complaint=complaint, comment=comment)
    elif channel == "email":
        outbound_email_queue(
            ref=f"comment:{comment.pk}",
            to=complaint.customer.email,
            subject=f"Re: {complaint.subject} [{complaint.reference}]",
            body=body,
            reply_to=settings.REPLY_TO_EMAIL,
            headers=reply_email_headers(complaint, comment),
        )
    mentioned = _mentions_notify(complaint=complaint, comment=comment, actor=actor) if kind == Comment.Kind.NOTE else []
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.COMMENTED,
        actor=actor,
        message=_comment_message(complaint, channel, mentioned),
        data={"comment_id": comment.pk, "kind": kind, "channel": channel, "mentions": [u.pk for u in mentioned]},
    )
    return comment


def _comment_message(complaint: Complaint, channel: str | None, mentioned: list[Any]) -> str:
    """The timeline's words for a new comment: where a reply goes, or whom a note mentions."""
    if channel == "helpdesk":
        return f"Replied to the customer (posting it as a public comment on {_reply_destination(complaint, channel)})"
    if channel:
        return f"Replied to the customer (emailing {complaint.customer.email})"
    mentions = ", ".join("@" + user.get_username() for user in mentioned)
    return "Added an internal note" + (f" mentioning {mentions}" if mentions else "")


# @username in a note: Django usernames are letters, digits and @ . + - _; a trailing full stop ends the sentence.
MENTION_RE = re.compile(r"(?<![\w@])@([\w.@+-]{1,150})")
MENTIONS_MAX = 10


def mentioned_usernames(body: str) -> list[str]:
    """The @usernames in a text, in order, once each (lower-case)."""
    names = [match.rstrip(".") for match in MENTION_RE.findall(body or "")]
    return list(dict.fromkeys(name.lower() for name in names if name))[:MENTIONS_MAX]


def _mentions_notify(*, complaint: Complaint, comment: Comment, actor: ActorRef) -> list[Any]:
    """Tell each active support person mentioned in a note (not the author) through a notice; unknown names are
    plain text. Returns the people told."""
    names = mentioned_usernames(comment.body)
    if not names:
        return []
    people = [
        user
        for user in get_user_model().objects.filter(is_active=True).filter(
            reduce(operator.or_, (Q(username__iexact=name) for name in names))
        )
        if user_role(user) is not None and user != actor.user
    ]
    for user in people:
        notice_send(
            recipient=user,
            title=f"{actor.label} mentioned you on {complaint.reference}",
            body=f"{complaint.subject}\n\n{comment.body[:500]}",
            url=f"/complaints/{complaint.reference}/#comment-{comment.pk}",
            dedupe_key=f"tickets:mention:{comment.pk}:{user.pk}",
        )
    return people


@transaction.atomic
def _reply_answered_elsewhere(*, complaint: Complaint, body: str, actor: ActorRef, where: str) -> Comment:
    body = (body or "").strip()
    if not body:
        raise InvalidInput("Write something before saving.", fields={"body": ["This field may not be blank."]})
    complaint = locked(complaint)
    now = timezone.now()
    comment = Comment.objects.create(
        complaint=complaint,
        kind=Comment.Kind.REPLY,
        body=body,
        author_label=actor.label[:200],
        delivery_channel="helpdesk",
        delivery_state=Comment.DeliveryState.SENT,
        delivered_at=now,
    )
    _reply_sent(
        complaint, comment, at=now, actor=actor, message=f"An agent answered the customer in {where}",
        data={"comment_id": comment.pk, "kind": comment.kind, "channel": "helpdesk", "delivery": "sent"},
    )
    return comment


def _reply_sent(
    complaint: Complaint, comment: Comment, *, at: Any, actor: ActorRef, message: str, data: dict[str, Any]
) -> None:
    """A reply reached the customer at `at`: the first response if it is the first, its timeline event,
    complaint.replied, and complaint_changed when the first response was set."""
    changed = frozenset()
    if complaint.first_response_at is None:
        complaint.first_response_at = at
        complaint.save(update_fields=["first_response_at", "updated_at"])
        changed = frozenset({"first_response_at"})
    event_write(complaint=complaint, kind=TimelineEvent.Kind.COMMENTED, actor=actor, message=message, data=data)
    webhook_payloads.publish(
        "complaint.replied", complaint,
        reply=webhook_payloads.reply_data(comment, channel=comment.delivery_channel, sent_at=at),
    )
    if changed:
        signals.complaint_changed.send(sender=Complaint, complaint_id=complaint.pk, changed=changed, actor=actor)


EMAIL_ACTOR = ActorRef.system("Email")
HELPDESK_ACTOR = ActorRef.system("Helpdesk")


def _delivery_actor(comment: Comment) -> ActorRef:
    return HELPDESK_ACTOR if comment.delivery_channel == "helpdesk" else EMAIL_ACTOR


@transaction.atomic
def reply_delivered(*, comment_id: int, sent_at: Any) -> Comment | None:
    """The reply reached the customer's mail server: mark it sent, count it as the first response (if it is the
    first), write the timeline, publish complaint.replied. Safe to call twice."""
    comment = Comment.objects.select_related("complaint").filter(pk=comment_id).first()
    if comment is None:
        return None
    complaint = locked(comment.complaint)
    if not Comment.objects.filter(pk=comment.pk).exclude(delivery_state=Comment.DeliveryState.SENT).update(
        delivery_state=Comment.DeliveryState.SENT, delivered_at=sent_at, delivery_error=""
    ):
        return comment
    comment.refresh_from_db()
    _reply_sent(
        complaint, comment, at=sent_at, actor=_delivery_actor(comment),
        message=f"Reply sent to {_reply_destination(complaint, comment.delivery_channel)}",
        data={"comment_id": comment.pk, "kind": comment.kind, "delivery": "sent", "channel": comment.delivery_channel},
    )
    return comment


@transaction.atomic
def reply_delivery_failed(*, comment_id: int, error: str, final: bool, retry_at: Any = None) -> Comment | None:
    """A send failed: show why on the reply and the timeline; it does not count as a response."""
    comment = Comment.objects.select_related("complaint").filter(pk=comment_id).first()
    if comment is None or comment.delivery_state == Comment.DeliveryState.SENT:
        return comment
    complaint = locked(comment.complaint)
    state = Comment.DeliveryState.FAILED if final else Comment.DeliveryState.RETRYING
    Comment.objects.filter(pk=comment.pk).update(delivery_state=state, delivery_error=error[:500])
    comment.refresh_from_db()
    then = "no more retries; send it again from the complaint page" if final else f"retrying {retry_at:%d %b %H:%M} UTC" if retry_at else "retrying"
    event_write(
        complaint=complaint,
        kind=TimelineEvent.Kind.COMMENTED,
        actor=_delivery_actor(comment),
        message=f"Reply could not be sent to {_reply_destination(complaint, comment.delivery_channel)}: {error} ({then})",
        data={"comment_id": comment.pk, "kind": comment.kind, "delivery": state, "error": error},
    )
    return comment


@transaction.atomic
def reply_send_again(*, comment: Comment, actor: ActorRef) -> Comment:
    """Try a reply whose sending failed once more."""
    from notifications.services import outbound_email_retry

    if comment.kind != Comment.Kind.REPLY or comment.delivery_state != Comment.DeliveryState.FAILED:
        raise DomainError("Only a reply that could not be sent can be sent again.")
    if comment.delivery_channel == "helpdesk":
        from notifications.services import delivery_resend
        from tickets.helpdesks.models import HelpdeskWriteback

        link = HelpdeskWriteback.objects.select_related("delivery").filter(comment=comment).first()
        if link is not None:
            delivery_resend(delivery=link.delivery)
    else:
        outbound_email_retry(ref=f"comment:{comment.pk}")
    Comment.objects.filter(pk=comment.pk).update(delivery_state=Comment.DeliveryState.PENDING)
    event_write(
        complaint=comment.complaint,
        kind=TimelineEvent.Kind.COMMENTED,
        actor=actor,
        message="Sending the reply again",
        data={"comment_id": comment.pk, "kind": comment.kind, "delivery": "pending"},
    )
    comment.refresh_from_db()
    return comment
