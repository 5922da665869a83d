"""Write-back: what CX Recovery decided, written onto the helpdesk's own ticket through its REST API.

The outbox, retries, attempt log, sweep and "send again" are notifications' (target kind "helpdesk"); this
module says which events go to which connection (the complaint's `source` is the connection's name), turns
an event into the vendor's documented requests, and reports a reply's fate back to its comment.

Vendor references (docs/integrations.md, "Write-back"):
- Zendesk: PUT /api/v2/tickets/{id} {"ticket": {"comment": {"body", "public"}, "additional_tags"}}, basic auth
  "{email}/token:{api_token}".
- Freshdesk: POST /api/v2/tickets/{id}/notes {"body", "private": true}; tags via PUT /api/v2/tickets/{id}
  {"tags"} (which replaces the list, so the current tags are read first and kept); replies via
  POST /api/v2/tickets/{id}/reply; basic auth with the API key as user and "X" as password.
- Zammad: POST /api/v1/ticket_articles {"ticket_id", "body", "type", "internal", ...}; tags via
  POST /api/v1/tags/add; header "Authorization: Token token={access_token}".
- Help Scout: OAuth2 client credentials at POST {api}/v2/oauth2/token, then POST /v2/conversations/{id}/notes
  {"text"} or /reply {"customer": {"id"}, "text"} with "Authorization: Bearer {access_token}"; tags via
  PUT /v2/conversations/{id}/tags {"tags"} (which replaces them, so the conversation is read first).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.core.cache import cache

from notifications.delivery import SendResult, TargetKind, http_request, target_kind_register
from tickets.helpdesks import secrets
from tickets.helpdesks.models import HelpdeskConnection, HelpdeskKind, HelpdeskWriteback

logger = logging.getLogger(__name__)

TARGET_KIND = "helpdesk"
REPLY_EVENT = "helpdesk.reply"  # internal: a reply to post publicly; never offered to webhook subscribers
# Events written back, and the decisions among them worth a note on the helpdesk's ticket.
WRITTEN_BACK = frozenset({"complaint.graded", "complaint.escalated", "approval.decided", "offer.fulfilled", "outcome.settled"})
GET_MAX_BYTES = 512 * 1024

CONNECTIONS_CACHE_KEY = "tickets:helpdesk-writeback-connections:v1"
CONNECTIONS_CACHE_SECONDS = 30


# --- which connection wants which event -----------------------------------------------------------------


def _writing_connections() -> dict[str, int]:
    """{connection name: id} of active connections with API credentials, cached like webhook subscriptions
    so that publishing an event costs no query when nothing writes back."""
    names = cache.get(CONNECTIONS_CACHE_KEY)
    if names is None:
        names = dict(
            HelpdeskConnection.objects.filter(active=True)
            .exclude(api_url="")
            .exclude(api_token_encrypted="")
            .values_list("name", "pk")
        )
        cache.set(CONNECTIONS_CACHE_KEY, names, CONNECTIONS_CACHE_SECONDS)
    return names


def connections_changed() -> None:
    from django.db import transaction

    cache.delete(CONNECTIONS_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(CONNECTIONS_CACHE_KEY))


def _wants(event_type: str) -> bool:
    return event_type in WRITTEN_BACK and bool(_writing_connections())


def _targets(event_type: str, data: Mapping[str, Any]) -> list[str]:
    if event_type not in WRITTEN_BACK:
        return []
    if event_type == "approval.decided" and data.get("decision") != "approved":
        return []
    complaint = data.get("complaint") or {}
    if not complaint.get("external_id"):
        return []
    connection_id = _writing_connections().get(complaint.get("source") or "")
    return [str(connection_id)] if connection_id else []


def _attach(pairs: list[tuple[Any, str]]) -> None:
    HelpdeskWriteback.objects.bulk_create(
        [
            HelpdeskWriteback(
                delivery=delivery,
                connection_id=int(ref),
                complaint_reference=(delivery.event.body["data"].get("complaint") or {}).get("reference", "")[:20],
                ticket_id=str((delivery.event.body["data"].get("complaint") or {}).get("external_id") or "")[:200],
            )
            for delivery, ref in pairs
        ]
    )


def reply_channel_for(complaint: Any) -> HelpdeskConnection | None:
    """The connection a reply on this complaint is posted through, or None (then it is emailed)."""
    if not complaint.source or not complaint.external_id:
        return None
    if complaint.source not in _writing_connections():
        return None
    return HelpdeskConnection.objects.filter(name=complaint.source).first()


def reply_queue(*, connection: HelpdeskConnection, complaint: Any, comment: Any) -> HelpdeskWriteback:
    """Queue a reply to post as a public comment on the helpdesk's ticket (in the caller's transaction)."""
    from notifications.services import delivery_create
    from tickets.models import CustomerReference

    customer = complaint.customer
    customer_ref = (
        CustomerReference.objects.filter(customer=customer, source=connection.name).values_list("external_id", flat=True).first()
    )
    data = {
        "complaint": {
            "reference": complaint.reference,
            "source": complaint.source,
            "external_id": complaint.external_id,
            "subject": complaint.subject,
        },
        "reply": {
            "comment_id": comment.pk,
            "body": comment.body,
            "author": comment.author_label,
            "customer_email": customer.email or None,
            "customer_id": customer_ref,
        },
    }
    delivery = delivery_create(type=REPLY_EVENT, data=data, target_kind=TARGET_KIND)
    return HelpdeskWriteback.objects.create(
        delivery=delivery,
        connection=connection,
        complaint_reference=complaint.reference,
        ticket_id=str(complaint.external_id),
        comment=comment,
    )


# --- what the note says -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Note:
    text: str
    tags: tuple[str, ...] = ()


def _tier(tier: str | None) -> str:
    return {"frontline": "the front line", "lead": "a team lead", "manager": "a manager", "executive": "an executive"}.get(
        tier or "", tier or "?"
    )


def note_for(event_type: str, data: Mapping[str, Any]) -> Note:
    """The private note (plain text) and tags for one event. Written for the helpdesk agent reading it."""
    complaint = data.get("complaint") or {}
    footer = f"\n\nCX Recovery {complaint.get('reference', '')}: {complaint.get('url', '')}".rstrip(": ")
    write = _NOTE_WRITERS.get(event_type)
    if write is None:
        return Note(f"CX Recovery: {event_type}" + footer)
    text, tags = write(data, complaint)
    return Note(text + footer, tags)


def _graded_note(data: Mapping[str, Any], complaint: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    grade = data.get("grade") or {}
    to = grade.get("to") or complaint.get("grade") or "?"
    lines = [f"CX Recovery graded this experience {str(to).upper()} (risk score {grade.get('score', complaint.get('risk_score'))})."]
    if grade.get("from"):
        lines[0] += f" It was {str(grade['from']).upper()}."
    reasons = [r.get("text") for r in grade.get("reasons") or [] if isinstance(r, dict) and r.get("text")]
    if reasons:
        lines.append("Why:")
        lines += [f"- {reason}" for reason in reasons]
    return "\n".join(lines), (f"cx-{to}",)


def _escalated_note(data: Mapping[str, Any], complaint: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    escalation = data.get("escalation") or {}
    tier = escalation.get("tier") or complaint.get("tier")
    text = f"Escalated to {_tier(tier)} in CX Recovery."
    if escalation.get("reason"):
        text += f"\nWhy: {escalation['reason']}"
    if escalation.get("ack_due_at"):
        text += f"\nTo be acknowledged by {escalation['ack_due_at']}."
    return text, (f"cx-escalated-{tier}",)


def _approved_note(data: Mapping[str, Any], complaint: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    offer = data.get("offer") or {}
    gesture = (offer.get("gesture") or {}).get("title") or "a gesture"
    approval = data.get("approval") or {}
    amount = approval.get("approved_amount") or offer.get("cost")
    text = f"Gesture approved: {gesture} ({amount} {offer.get('currency', '')}".rstrip() + ")"
    if approval.get("decided_by"):
        text += f", approved by {approval['decided_by']}"
    text += "."
    if approval.get("note"):
        text += f"\nNote: {approval['note']}"
    return text, ("cx-gesture-approved",)


def _fulfilled_note(data: Mapping[str, Any], complaint: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    offer = data.get("offer") or {}
    gesture = (offer.get("gesture") or {}).get("title") or "a gesture"
    text = f"Gesture given to the customer: {gesture} ({offer.get('cost')} {offer.get('currency', '')}".rstrip() + ")."
    if offer.get("note"):
        text += f"\nNote: {offer['note']}"
    return text, ("cx-gesture-given",)


def _settled_note(data: Mapping[str, Any], complaint: Mapping[str, Any]) -> tuple[str, tuple[str, ...]]:
    window = data.get("window") or {}
    returned = bool(window.get("returned"))
    days = window.get("days")
    if not returned:
        return f"Recovery outcome after {days} days: the customer has not come back.", (f"cx-not-returned-{days}d",)
    revenue = f" (revenue {window.get('revenue')})" if window.get("revenue") not in (None, "0", "0.00") else ""
    return f"Recovery outcome after {days} days: the customer came back{revenue}.", (f"cx-returned-{days}d",)


_NOTE_WRITERS = {
    "complaint.graded": _graded_note,
    "complaint.escalated": _escalated_note,
    "approval.decided": _approved_note,
    "offer.fulfilled": _fulfilled_note,
    "outcome.settled": _settled_note,
}


def _html(text: str) -> str:
    return html.escape(text).replace("\n", "<br>")


# --- the vendors' requests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: dict[str, Any] | None = None
    # For a GET whose answer shapes the next call (Freshdesk's current tags).
    then: Callable[[dict[str, Any]], list[Call]] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Credentials:
    base: str
    user: str
    token: str


class Unsendable(Exception):
    """No request can succeed (bad ticket id, no customer id): fail without retrying."""


def _int_id(value: Any) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise Unsendable(f"the helpdesk ticket id {value!r} is not a number") from None


def _zendesk(ticket: str, note: Note | None, reply: Mapping[str, Any] | None) -> list[Call]:
    ticket_id = _int_id(ticket)
    if reply is not None:
        return [Call("PUT", f"/api/v2/tickets/{ticket_id}", {"ticket": {"comment": {"body": reply["body"], "public": True}}})]
    update: dict[str, Any] = {"comment": {"body": note.text, "public": False}}
    if note.tags:
        update["additional_tags"] = list(note.tags)  # adds to the ticket's tags; "tags" would replace them
    return [Call("PUT", f"/api/v2/tickets/{ticket_id}", {"ticket": update})]


def _freshdesk(ticket: str, note: Note | None, reply: Mapping[str, Any] | None) -> list[Call]:
    ticket_id = _int_id(ticket)
    if reply is not None:
        return [Call("POST", f"/api/v2/tickets/{ticket_id}/reply", {"body": _html(reply["body"])})]
    calls: list[Call] = []
    if note.tags:
        # Tags first: the note is the one call that must not be repeated by a retry.
        def merge(current: dict[str, Any]) -> list[Call]:
            tags = [t for t in current.get("tags") or [] if isinstance(t, str)]
            missing = [t for t in note.tags if t not in tags]
            return [Call("PUT", f"/api/v2/tickets/{ticket_id}", {"tags": tags + missing})] if missing else []

        calls.append(Call("GET", f"/api/v2/tickets/{ticket_id}", then=merge))
    calls.append(Call("POST", f"/api/v2/tickets/{ticket_id}/notes", {"body": _html(note.text), "private": True}))
    return calls


def _zammad(ticket: str, note: Note | None, reply: Mapping[str, Any] | None, subject: str) -> list[Call]:
    ticket_id = _int_id(ticket)
    if reply is not None:
        article: dict[str, Any] = {
            "ticket_id": ticket_id,
            "subject": f"Re: {subject}"[:250],
            "body": reply["body"],
            "content_type": "text/plain",
            "internal": False,
        }
        if reply.get("customer_email"):
            article.update(type="email", to=reply["customer_email"], sender="Agent")
        else:
            # No address to email: a public note the customer sees in Zammad's customer interface.
            article.update(type="note", sender="Agent")
        return [Call("POST", "/api/v1/ticket_articles", article)]
    calls = [Call("POST", "/api/v1/tags/add", {"item": tag, "object": "Ticket", "o_id": ticket_id}) for tag in note.tags]
    calls.append(
        Call(
            "POST",
            "/api/v1/ticket_articles",
            {
                "ticket_id": ticket_id,
                "subject": "CX Recovery",
                "body": note.text,
                "content_type": "text/plain",
                "type": "note",
                "internal": True,
            },
        )
    )
    return calls


def _helpscout(ticket: str, note: Note | None, reply: Mapping[str, Any] | None) -> list[Call]:
    conversation_id = _int_id(ticket)
    if reply is not None:
        if not reply.get("customer_id"):
            raise Unsendable("Help Scout needs the customer's Help Scout id to reply, and this customer has none")
        return [
            Call(
                "POST",
                f"/v2/conversations/{conversation_id}/reply",
                {"customer": {"id": _int_id(reply["customer_id"])}, "text": _html(reply["body"])},
            )
        ]
    calls: list[Call] = []
    if note.tags:
        # PUT .../tags replaces the conversation's tags, so read them first and keep them (tags before the note,
        # as for Freshdesk: a retry must not write the note twice).
        def merge(current: dict[str, Any]) -> list[Call]:
            tags = [t.get("tag") if isinstance(t, dict) else t for t in current.get("tags") or []]
            tags = [t for t in tags if isinstance(t, str) and t]
            missing = [t for t in note.tags if t not in tags]
            return [Call("PUT", f"/v2/conversations/{conversation_id}/tags", {"tags": tags + missing})] if missing else []

        calls.append(Call("GET", f"/v2/conversations/{conversation_id}", then=merge))
    calls.append(Call("POST", f"/v2/conversations/{conversation_id}/notes", {"text": _html(note.text)}))
    return calls


def calls_for(kind: str, body: Mapping[str, Any], ticket: str) -> list[Call]:
    """The requests that write this outbox event back to `ticket` on a helpdesk of this kind."""
    event_type = body.get("type", "")
    data = body.get("data") or {}
    reply = data.get("reply") if event_type == REPLY_EVENT else None
    note = None if reply is not None else note_for(event_type, data)
    if kind == HelpdeskKind.ZENDESK:
        return _zendesk(ticket, note, reply)
    if kind == HelpdeskKind.FRESHDESK:
        return _freshdesk(ticket, note, reply)
    if kind == HelpdeskKind.ZAMMAD:
        return _zammad(ticket, note, reply, (data.get("complaint") or {}).get("subject") or "")
    if kind == HelpdeskKind.HELPSCOUT:
        return _helpscout(ticket, note, reply)
    raise Unsendable(f"unknown helpdesk kind {kind!r}")


# --- authentication -----------------------------------------------------------------------------------------


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _token_cache_key(creds: Credentials) -> str:
    digest = hashlib.sha256(f"{creds.base}\n{creds.user}\n{creds.token}".encode()).hexdigest()[:32]
    return f"tickets:helpscout-token:{digest}"


def helpscout_token_url(base: str) -> str:
    # From the configured API address (https://api.helpscout.net by default), so a test can point at a fake.
    return f"{base}/v2/oauth2/token"


def _helpscout_token(creds: Credentials) -> tuple[str | None, SendResult | None]:
    """A cached access token, or a fresh one from the client-credentials grant (kept until shortly before
    it expires; stored encrypted in the cache)."""
    key = _token_cache_key(creds)
    cached = cache.get(key)
    if cached:
        try:
            return secrets.secret_decrypt(cached), None
        except secrets.SecretUnreadable:
            cache.delete(key)
    form = urlencode({"grant_type": "client_credentials", "client_id": creds.user, "client_secret": creds.token})
    result = http_request(
        method="POST",
        url=helpscout_token_url(creds.base),
        headers={"content-type": "application/x-www-form-urlencoded", "accept": "application/json"},
        content=form,
        max_bytes=64 * 1024,
    )
    if not result.success:
        return None, SendResult(
            False, result.status_code, result.latency_ms, f"Help Scout refused the app's credentials: {result.error}"[:500],
            result.response_excerpt, retry_after=result.retry_after,
        )
    try:
        answer = json.loads(result.response_excerpt)
        token = str(answer["access_token"])
        expires_in = int(answer.get("expires_in") or 3600)
    except (ValueError, KeyError, TypeError):
        return None, SendResult(False, result.status_code, result.latency_ms, "Help Scout's token answer had no access_token")
    cache.set(key, secrets.secret_encrypt(token), max(expires_in - 60, 1))
    return token, None


def _auth_headers(kind: str, creds: Credentials) -> tuple[dict[str, str], SendResult | None]:
    if kind == HelpdeskKind.ZENDESK:
        return {"authorization": _basic(f"{creds.user}/token", creds.token)}, None
    if kind == HelpdeskKind.FRESHDESK:
        return {"authorization": _basic(creds.token, "X")}, None
    if kind == HelpdeskKind.ZAMMAD:
        return {"authorization": f"Token token={creds.token}"}, None
    token, failure = _helpscout_token(creds)
    if failure is not None:
        return {}, failure
    return {"authorization": f"Bearer {token}"}, None


# --- the sender ---------------------------------------------------------------------------------------------


def send(delivery: Any) -> SendResult:
    """Send one write-back delivery: its calls in order; the first failure is the attempt's result."""
    link = HelpdeskWriteback.objects.select_related("connection").filter(delivery_id=delivery.pk).first()
    if link is None:
        return SendResult(False, error="no helpdesk connection is recorded for this delivery", final=True)
    connection = link.connection
    if not connection.active:
        return SendResult(False, error=f"the connection {connection.name} is switched off", final=True)
    if not (connection.api_url and connection.api_token_encrypted):
        return SendResult(False, error=f"the connection {connection.name} has no API credentials any more", final=True)
    try:
        creds = Credentials(connection.api_url.rstrip("/"), connection.api_user, secrets.secret_decrypt(connection.api_token_encrypted))
        calls = calls_for(connection.kind, delivery.event.body, link.ticket_id)
    except (Unsendable, secrets.SecretUnreadable) as exc:
        return SendResult(False, error=str(exc)[:500], final=True)
    headers, failure = _auth_headers(connection.kind, creds)
    if failure is not None:
        return failure
    headers["accept"] = "application/json"
    started = time.monotonic()
    result = SendResult(True)
    queue = list(calls)
    while queue:
        call = queue.pop(0)
        result = http_request(
            method=call.method,
            url=creds.base + call.path,
            headers=headers,
            content=json.dumps(call.body) if call.body is not None else None,
            max_bytes=GET_MAX_BYTES if call.method == "GET" else 1000,
        )
        if not result.success:
            if result.status_code == 401 and connection.kind == HelpdeskKind.HELPSCOUT:
                cache.delete(_token_cache_key(creds))  # expired early or revoked: fetch a new one next time
            return SendResult(
                False, result.status_code, int((time.monotonic() - started) * 1000),
                f"{call.method} {call.path}: {result.error}"[:500], result.response_excerpt[:1000], retry_after=result.retry_after,
            )
        if call.then is not None:
            try:
                answer = json.loads(result.response_excerpt)
            except ValueError:
                return SendResult(False, result.status_code, result.latency_ms, f"{call.method} {call.path}: the answer is not JSON")
            queue[:0] = call.then(answer if isinstance(answer, dict) else {})
    return SendResult(
        True, result.status_code, int((time.monotonic() - started) * 1000), "", result.response_excerpt[:1000]
    )


def register() -> None:
    target_kind_register(TARGET_KIND, TargetKind(send=send, wants=_wants, targets=_targets, attach=_attach))
