"""Freshdesk automation webhooks (`freshdesk_webhook` body) with HTTP Basic auth through the real endpoint."""

from __future__ import annotations

import pytest

from tests.tickets.helpdesks.helpers import SECRET, basic, connect, freshdesk_body, post, raw
from tickets.helpdesks.models import HelpdeskConnection, HelpdeskDelivery
from tickets.models import Complaint, TimelineEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def freshdesk():
    return connect("freshdesk", "freshdesk")


def deliver(client, connection, payload, capture, password=SECRET):
    with capture(execute=True):
        response = post(client, connection, raw(payload), **basic(password))
    return response


def test_freshdesk_ticket_created_logs_a_complaint(client, freshdesk, django_capture_on_commit_callbacks):
    response = deliver(client, freshdesk, freshdesk_body(), django_capture_on_commit_callbacks)

    assert response.status_code == 202
    complaint = Complaint.objects.get(source="freshdesk", external_id="1042")
    assert complaint.customer.email == "priya.shah@example.com"
    assert complaint.customer.name == "Priya Shah"
    assert (complaint.cause, complaint.severity, complaint.channel) == ("pricing", 5, "email")
    assert complaint.description == "I was charged twice for order 5531. I want a refund."
    assert HelpdeskDelivery.objects.get().result == "processed"


def test_freshdesk_numeric_codes_are_read_like_names(client, freshdesk, django_capture_on_commit_callbacks):
    body = freshdesk_body(ticket_id=2001, ticket_priority="1", ticket_status="2", ticket_source="3", ticket_tags="")

    deliver(client, freshdesk, body, django_capture_on_commit_callbacks)

    complaint = Complaint.objects.get(external_id="2001")
    assert (complaint.severity, complaint.channel, complaint.cause) == (2, "phone", "other")


def test_freshdesk_update_resolves_and_records_the_customer_reply(client, freshdesk, django_capture_on_commit_callbacks):
    deliver(client, freshdesk, freshdesk_body(), django_capture_on_commit_callbacks)

    deliver(
        client, freshdesk,
        freshdesk_body(triggered_event="{customer_reply:added}", ticket_latest_public_comment="Still waiting!",
                       ticket_priority="High"),
        django_capture_on_commit_callbacks,
    )
    deliver(
        client, freshdesk,
        freshdesk_body(ticket_status="Resolved", ticket_priority="High", triggered_event="{status:{from:Open,to:Resolved}}"),
        django_capture_on_commit_callbacks,
    )

    complaint = Complaint.objects.get()
    assert complaint.severity == 4
    assert complaint.status == "resolved"
    assert complaint.events.filter(kind="commented", data__kind="customer").count() == 1
    assert "Still waiting!" in complaint.comments.get().body


def test_freshdesk_replayed_delivery_changes_nothing(client, freshdesk, django_capture_on_commit_callbacks):
    deliver(client, freshdesk, freshdesk_body(), django_capture_on_commit_callbacks)
    events = TimelineEvent.objects.count()

    response = deliver(client, freshdesk, freshdesk_body(), django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert HelpdeskDelivery.objects.count() == 1
    assert TimelineEvent.objects.count() == events


def test_freshdesk_wrong_password_is_refused(client, freshdesk):
    response = post(client, freshdesk, raw(freshdesk_body()), **basic("guess"))

    assert response.status_code == 401
    assert HelpdeskDelivery.objects.count() == 0


def test_freshdesk_missing_authentication_is_refused(client, freshdesk):
    response = post(client, freshdesk, raw(freshdesk_body()))

    assert response.status_code == 401
    assert "password" in response.json()["error"]["message"]


def test_freshdesk_password_is_stored_hashed_only(freshdesk):
    stored = HelpdeskConnection.objects.values("secret_hash", "secret_encrypted").get()

    assert SECRET not in stored["secret_hash"] and stored["secret_encrypted"] == ""
    assert stored["secret_hash"].startswith("sha256$")


def test_freshdesk_unknown_event_is_stored_and_ignored(client, freshdesk, django_capture_on_commit_callbacks):
    response = deliver(client, freshdesk, {"freshdesk_webhook": {"contact_email": "a@example.com"}},
                       django_capture_on_commit_callbacks)

    assert response.status_code == 202
    assert HelpdeskDelivery.objects.get().result == "ignored"
    assert Complaint.objects.count() == 0


def test_freshdesk_malformed_json_is_400(client, freshdesk):
    response = post(client, freshdesk, b'{"freshdesk_webhook": {"ticket_subject": "He said "no""}}', **basic(SECRET))

    assert response.status_code == 400
    assert HelpdeskDelivery.objects.count() == 0


def test_freshdesk_missing_requester_email_fails_and_can_be_processed_again(
    client, freshdesk, django_capture_on_commit_callbacks
):
    from tickets.helpdesks import services

    # given a delivery whose placeholders for the requester were left out
    body = freshdesk_body(requester_email="", requester_name="")
    deliver(client, freshdesk, body, django_capture_on_commit_callbacks)
    delivery = HelpdeskDelivery.objects.get()
    assert delivery.result == "failed" and "requester" in delivery.error
    assert Complaint.objects.count() == 0

    # when the admin maps the requester id and the delivery is processed again
    body["freshdesk_webhook"]["requester_id"] = "88"
    HelpdeskDelivery.objects.filter(pk=delivery.pk).update(body=raw(body).decode())
    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_retry(delivery=delivery)

    delivery.refresh_from_db()
    assert (delivery.result, delivery.attempts) == ("processed", 2)
    assert Complaint.objects.get().customer.references.get().external_id == "88"
