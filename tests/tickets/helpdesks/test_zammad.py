"""Zammad trigger webhooks with the default payload, signed with X-Hub-Signature, through the real endpoint."""

from __future__ import annotations

import pytest

from tests.tickets.helpdesks.helpers import connect, post, raw, zammad_body, zammad_headers
from tickets.helpdesks.models import HelpdeskDelivery
from tickets.models import Complaint, TimelineEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def zammad():
    return connect("zammad", "zammad")


def deliver(client, connection, payload, capture, **header_args):
    body = raw(payload)
    with capture(execute=True):
        return post(client, connection, body, **zammad_headers(body, **header_args))


def test_zammad_new_ticket_logs_a_complaint(client, zammad, django_capture_on_commit_callbacks):
    response = deliver(client, zammad, zammad_body(), django_capture_on_commit_callbacks)

    assert response.status_code == 202
    complaint = Complaint.objects.get(source="zammad", external_id="81")
    assert complaint.customer.email == "emily@example.com"
    assert complaint.customer.name == "Emily Adams"
    assert (complaint.cause, complaint.severity, complaint.channel) == ("staff_conduct", 4, "phone")
    assert complaint.description == "I waited 40 minutes for a coffee and the barista laughed at me."
    assert HelpdeskDelivery.objects.get().event == "trigger: CX Recovery"


def test_zammad_later_article_and_closed_state_update_the_complaint(client, zammad, django_capture_on_commit_callbacks):
    deliver(client, zammad, zammad_body(), django_capture_on_commit_callbacks)
    reply = {"body": "Nobody called me back.", "content_type": "text/plain", "id": 105, "internal": False,
             "sender": "Customer", "ticket_id": 81, "type": "email"}

    deliver(client, zammad, zammad_body(article=reply, article_count=2, article_ids=[104, 105], state="open"),
            django_capture_on_commit_callbacks)
    deliver(client, zammad, zammad_body(article=reply, article_count=2, article_ids=[104, 105], state="closed"),
            django_capture_on_commit_callbacks)

    complaint = Complaint.objects.get()
    assert complaint.status == "resolved"
    assert complaint.events.filter(kind="commented", data__kind="customer").count() == 1
    assert complaint.description.startswith("I waited 40 minutes")  # a later article is not the description


def test_zammad_same_delivery_id_twice_changes_nothing(client, zammad, django_capture_on_commit_callbacks):
    deliver(client, zammad, zammad_body(), django_capture_on_commit_callbacks, delivery="d-1")
    events = TimelineEvent.objects.count()

    response = deliver(client, zammad, zammad_body(), django_capture_on_commit_callbacks, delivery="d-1")

    assert response.status_code == 200 and response.json()["status"] == "duplicate"
    assert HelpdeskDelivery.objects.count() == 1 and TimelineEvent.objects.count() == events


def test_zammad_same_ticket_state_in_a_new_delivery_adds_no_event(client, zammad, django_capture_on_commit_callbacks):
    deliver(client, zammad, zammad_body(), django_capture_on_commit_callbacks)
    events = TimelineEvent.objects.count()

    deliver(client, zammad, zammad_body(), django_capture_on_commit_callbacks)

    assert HelpdeskDelivery.objects.count() == 2
    assert TimelineEvent.objects.count() == events


def test_zammad_bad_signature_is_refused(client, zammad):
    body = raw(zammad_body())

    response = post(client, zammad, body, **zammad_headers(body, secret="wrong"))

    assert response.status_code == 401 and HelpdeskDelivery.objects.count() == 0


def test_zammad_missing_signature_is_refused(client, zammad):
    response = post(client, zammad, raw(zammad_body()), **{"X-Zammad-Delivery": "x"})

    assert response.status_code == 401


def test_zammad_payload_without_ticket_is_ignored(client, zammad, django_capture_on_commit_callbacks):
    deliver(client, zammad, {"note": "custom payload without a ticket"}, django_capture_on_commit_callbacks)

    assert HelpdeskDelivery.objects.get().result == "ignored"


def test_zammad_malformed_json_is_400(client, zammad):
    body = b"ticket=81"

    response = post(client, zammad, body, **zammad_headers(body))

    assert response.status_code == 400 and HelpdeskDelivery.objects.count() == 0


def test_zammad_customer_without_email_is_referenced_by_id(client, zammad, django_capture_on_commit_callbacks):
    body = zammad_body(customer={"id": 8, "firstname": "Emily", "lastname": "Adams", "email": ""})

    deliver(client, zammad, body, django_capture_on_commit_callbacks)

    customer = Complaint.objects.get().customer
    assert customer.email is None and customer.name == "Emily Adams"
    assert customer.references.get().external_id == "8"
