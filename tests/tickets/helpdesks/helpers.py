"""Deliveries as each helpdesk sends them: payloads written from the vendors' documentation, signed the
way each vendor signs, posted through the real endpoint."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
import uuid
from typing import Any

from django.utils import timezone

from tickets.helpdesks import services

SECRET = "s3cret-from-the-helpdesk-admin"


def connect(kind: str, name: str | None = None, secret: str = SECRET):
    return services.connection_create(kind=kind, name=name or f"{kind}-main", secret=secret).connection


def raw(payload: Any) -> bytes:
    return json.dumps(payload).encode() if not isinstance(payload, bytes) else payload


def post(client, connection, body: bytes, **headers: str):
    return client.generic(
        "POST", connection.inbound_path, data=body, content_type="application/json", headers=headers
    )


# --- Zendesk -------------------------------------------------------------------------------------------
# developer.zendesk.com/api-reference/webhooks/event-types/ticket-events: ids as strings, enums upper case.

ZENDESK_DETAIL = {
    "actor_id": "8447388090494",
    "assignee_id": "8447388090494",
    "brand_id": "8447346621310",
    "created_at": "2026-11-29T10:12:07Z",
    "custom_status": "8447320465790",
    "description": "The replacement kettle arrived broken, again. Nobody answered my two emails.",
    "external_id": None,
    "form_id": "8646151517822",
    "group_id": "8447320466430",
    "id": "35436",
    "is_public": True,
    "organization_id": "8447346622462",
    "priority": "HIGH",
    "requester_id": "8447388090111",
    "status": "NEW",
    "subject": "Replacement kettle arrived broken",
    "submitter_id": "8447388090111",
    "tags": ["broken", "vip"],
    "type": "INCIDENT",
    "updated_at": "2026-11-29T10:12:07Z",
    "via": {"channel": "web_form"},
}


def zendesk_event(kind: str, *, event: dict | None = None, event_id: str | None = None, **detail: Any) -> dict:
    body = copy.deepcopy(ZENDESK_DETAIL)
    body.update(detail)
    return {
        "account_id": 22129848,
        "detail": body,
        "event": event or {},
        "id": event_id or str(uuid.uuid4()),
        "subject": f"zen:ticket:{body['id']}",
        "time": "2026-11-29T10:12:07.672717030Z",
        "type": f"zen:event-type:ticket.{kind}",
        "zendesk_event_version": "2022-11-06",
    }


def zendesk_headers(body: bytes, secret: str = SECRET, at: dt.datetime | None = None) -> dict[str, str]:
    stamp = (at or timezone.now()).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    signature = base64.b64encode(hmac.new(secret.encode(), stamp.encode() + body, hashlib.sha256).digest()).decode()
    return {
        "X-Zendesk-Webhook-Signature": signature,
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
        "X-Zendesk-Webhook-Id": "01F1KRFQ6BG29CNWFR60NK5FNY",
        "X-Zendesk-Account-Id": "22129848",
    }


# --- Freshdesk -----------------------------------------------------------------------------------------


def freshdesk_body(**ticket: Any) -> dict:
    body = {
        "ticket_id": "1042",
        "ticket_subject": "Charged twice for one order",
        "ticket_description": "<div>I was charged twice for order 5531. I want a refund.</div>",
        "ticket_status": "Open",
        "ticket_priority": "Urgent",
        "ticket_source": "Email",
        "ticket_tags": "refund, billing",
        "requester_name": "Priya Shah",
        "requester_email": "Priya.Shah@example.com",
        "triggered_event": "{ticket_action:created}",
    }
    body.update(ticket)
    return {"freshdesk_webhook": body}


def basic(password: str, user: str = "cxrecovery") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# --- Zammad --------------------------------------------------------------------------------------------
# admin-docs.zammad.org: default trigger payload with the ticket (customer embedded) and the article.


def zammad_body(*, article: dict | None = None, **ticket: Any) -> dict:
    body = {
        "article_count": 1,
        "article_ids": [104],
        "create_article_sender": "Customer",
        "create_article_type": "phone",
        "created_at": "2026-11-29T14:34:35.282Z",
        "customer": {
            "active": True,
            "email": "emily@example.com",
            "firstname": "Emily",
            "id": 8,
            "lastname": "Adams",
            "login": "emily@example.com",
            "phone": "0061 2 1234 7777",
            "roles": ["Customer"],
        },
        "customer_id": 8,
        "group": {"id": 3, "name": "Service Desk"},
        "group_id": 3,
        "id": 81,
        "number": "10081",
        "priority": {"id": 3, "name": "3 high"},
        "priority_id": 3,
        "state": "new",
        "state_id": 1,
        "title": "Waited 40 minutes and the barista was rude",
        "updated_at": "2026-11-29T14:34:35.333Z",
        "tags": ["rude"],
    }
    body.update(ticket)
    return {
        "ticket": body,
        "article": article
        or {
            "body": "I waited 40 minutes for a coffee and the barista <b>laughed at me</b>.",
            "content_type": "text/html",
            "from": "Emily Adams <emily@example.com>",
            "id": 104,
            "internal": False,
            "sender": "Customer",
            "ticket_id": 81,
            "type": "phone",
        },
    }


def zammad_headers(body: bytes, secret: str = SECRET, delivery: str | None = None) -> dict[str, str]:
    return {
        "X-Hub-Signature": "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest(),
        "X-Zammad-Delivery": delivery or uuid.uuid4().hex,
        "X-Zammad-Trigger": "CX Recovery",
        "User-Agent": "Zammad User Agent",
    }


# --- Help Scout ----------------------------------------------------------------------------------------
# developer.helpscout.com/webhooks: convo.* events carry the Mailbox API 2.0 conversation object.


def helpscout_conversation(**fields: Any) -> dict:
    body = {
        "id": 2391938111,
        "number": 349,
        "threads": 1,
        "type": "email",
        "folderId": 1234,
        "status": "active",
        "state": "published",
        "subject": "Order never arrived",
        "preview": "It has been three weeks and the order never arrived...",
        "mailboxId": 85,
        "createdBy": {"id": 12, "type": "customer", "first": "Vernon", "last": "Bear", "email": "vbear@mywork.com"},
        "createdAt": "2026-11-20T08:00:00Z",
        "userUpdatedAt": "2026-11-20T08:00:00Z",
        "source": {"type": "email", "via": "customer"},
        "tags": [{"id": 9150, "color": "#929499", "tag": "delay"}],
        "customFields": [],
        "primaryCustomer": {"id": 12, "type": "customer", "first": "Vernon", "last": "Bear",
                            "email": "vbear@mywork.com"},
        "_embedded": {
            "threads": [
                {"id": 2198262392, "type": "customer", "status": "active", "state": "published",
                 "body": "It has been three weeks and the order never arrived. Where is it?",
                 "createdBy": {"id": 12, "type": "customer", "email": "vbear@mywork.com"},
                 "createdAt": "2026-11-20T08:00:00Z"},
            ]
        },
    }
    body.update(fields)
    return body


def helpscout_headers(body: bytes, event: str, secret: str = SECRET) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha1).digest()).decode()
    return {"X-HelpScout-Signature": signature, "X-HelpScout-Event": event}
