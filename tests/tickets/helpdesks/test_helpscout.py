"""Help Scout convo.* webhooks signed with X-HelpScout-Signature through the real endpoint."""

from __future__ import annotations

import pytest

from tests.tickets.helpdesks.helpers import connect, helpscout_conversation, helpscout_headers, post, raw
from tickets.helpdesks.models import HelpdeskDelivery
from tickets.models import Complaint, TimelineEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def helpscout():
    return connect("helpscout", "helpscout")


def deliver(client, connection, payload, event, capture, **kwargs):
    body = raw(payload)
    with capture(execute=True):
        return post(client, connection, body, **helpscout_headers(body, event, **kwargs))


def test_helpscout_test_ping_answers_200_and_is_logged(client, helpscout, django_capture_on_commit_callbacks):
    response = deliver(client, helpscout, {"url": "https://example.com"}, "helpscout.test",
                       django_capture_on_commit_callbacks)

    assert response.status_code == 200
    delivery = HelpdeskDelivery.objects.get()
    assert (delivery.event, delivery.result) == ("helpscout.test", "ignored")


def test_helpscout_conversation_created_logs_a_complaint(client, helpscout, django_capture_on_commit_callbacks):
    response = deliver(client, helpscout, helpscout_conversation(), "convo.created", django_capture_on_commit_callbacks)

    assert response.status_code == 202
    complaint = Complaint.objects.get(source="helpscout", external_id="2391938111")
    assert complaint.customer.email == "vbear@mywork.com" and complaint.customer.name == "Vernon Bear"
    assert (complaint.cause, complaint.severity, complaint.channel) == ("service_delay", 3, "email")
    assert complaint.description == "It has been three weeks and the order never arrived. Where is it?"


def test_helpscout_customer_reply_status_and_rating_update_it(client, helpscout, django_capture_on_commit_callbacks):
    deliver(client, helpscout, helpscout_conversation(), "convo.created", django_capture_on_commit_callbacks)
    threads = helpscout_conversation()["_embedded"]["threads"] + [
        {"id": 2198262400, "type": "customer", "body": "<p>I want my money back.</p>",
         "createdAt": "2026-11-21T08:00:00Z"},
    ]

    deliver(client, helpscout, helpscout_conversation(_embedded={"threads": threads}, userUpdatedAt="2026-11-21T08:00:00Z"),
            "convo.customer.reply.created", django_capture_on_commit_callbacks)
    deliver(client, helpscout, helpscout_conversation(status="closed", userUpdatedAt="2026-11-22T08:00:00Z"),
            "convo.status", django_capture_on_commit_callbacks)
    deliver(client, helpscout, {"id": 5, "rating": "Not Good", "comments": "Too slow", "conversationId": 2391938111,
                                "createdAt": "2026-11-23T08:00:00Z"},
            "satisfaction.ratings", django_capture_on_commit_callbacks)

    complaint = Complaint.objects.get()
    assert complaint.status == "resolved"
    assert "I want my money back." in complaint.comments.get().body
    assert complaint.events.filter(data__rating="Not Good: Too slow").count() == 1


def test_helpscout_tags_update_changes_the_cause(client, helpscout, django_capture_on_commit_callbacks):
    deliver(client, helpscout, helpscout_conversation(tags=[]), "convo.created", django_capture_on_commit_callbacks)
    assert Complaint.objects.get().cause == "other"

    deliver(client, helpscout, helpscout_conversation(tags=[{"id": 1, "tag": "rude"}], userUpdatedAt="2026-11-21T09:00Z"),
            "convo.tags", django_capture_on_commit_callbacks)

    complaint = Complaint.objects.get()
    assert complaint.cause == "staff_conduct" and complaint.tags == ["rude"]


def test_helpscout_replayed_delivery_changes_nothing(client, helpscout, django_capture_on_commit_callbacks):
    deliver(client, helpscout, helpscout_conversation(), "convo.created", django_capture_on_commit_callbacks)
    events = TimelineEvent.objects.count()

    response = deliver(client, helpscout, helpscout_conversation(), "convo.created", django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert HelpdeskDelivery.objects.count() == 1 and TimelineEvent.objects.count() == events


def test_helpscout_bad_signature_is_refused(client, helpscout):
    body = raw(helpscout_conversation())

    response = post(client, helpscout, body, **helpscout_headers(body, "convo.created", secret="wrong"))

    assert response.status_code == 401 and HelpdeskDelivery.objects.count() == 0


def test_helpscout_unknown_event_is_stored_and_ignored(client, helpscout, django_capture_on_commit_callbacks):
    response = deliver(client, helpscout, {"id": 12, "firstName": "Vernon"}, "customer.created",
                       django_capture_on_commit_callbacks)

    assert response.status_code == 202
    assert HelpdeskDelivery.objects.get().result == "ignored" and Complaint.objects.count() == 0


def test_helpscout_malformed_json_is_400(client, helpscout):
    body = b"[not json"

    response = post(client, helpscout, body, **helpscout_headers(body, "convo.created"))

    assert response.status_code == 400


def test_helpscout_customer_without_email_is_referenced_by_id(client, helpscout, django_capture_on_commit_callbacks):
    conversation = helpscout_conversation(primaryCustomer={"id": 77, "first": "Anon", "last": "Chat"})

    deliver(client, helpscout, conversation, "convo.created", django_capture_on_commit_callbacks)

    customer = Complaint.objects.get().customer
    assert customer.email is None and customer.references.get().external_id == "77"
