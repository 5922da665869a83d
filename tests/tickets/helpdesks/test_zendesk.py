"""Zendesk event webhooks and trigger webhooks through the real endpoint, signed as Zendesk signs them."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from tests.tickets.helpdesks.helpers import SECRET, connect, post, raw, zendesk_event, zendesk_headers
from tickets.helpdesks.models import HelpdeskDelivery
from tickets.models import Comment, Complaint, CustomerReference, TimelineEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def zendesk():
    return connect("zendesk", "zendesk-eu")


def send(client, connection, payload, *, secret=SECRET, at=None, capture=None):
    body = raw(payload)
    return post(client, connection, body, **zendesk_headers(body, secret, at))


def deliver(client, connection, payload, capture):
    with capture(execute=True):
        response = send(client, connection, payload)
    assert response.status_code in (200, 202), response.content
    return response


def test_zendesk_ticket_created_logs_a_graded_complaint(client, zendesk, django_capture_on_commit_callbacks):
    # when
    response = deliver(client, zendesk, zendesk_event("created"), django_capture_on_commit_callbacks)

    # then
    assert response.status_code == 202
    complaint = Complaint.objects.get(source="zendesk-eu", external_id="35436")
    assert complaint.subject == "Replacement kettle arrived broken"
    assert (complaint.cause, complaint.severity, complaint.channel) == ("product_quality", 4, "web")
    assert complaint.tags == ["broken", "vip"]
    assert complaint.grade != ""  # recovery graded it through the complaint_logged domain event
    delivery = HelpdeskDelivery.objects.get()
    assert (delivery.result, delivery.complaint_id, delivery.event) == (
        "processed", complaint.pk, "zen:event-type:ticket.created"
    )


def test_zendesk_requester_without_email_becomes_a_customer_reference(client, zendesk, django_capture_on_commit_callbacks):
    deliver(client, zendesk, zendesk_event("created"), django_capture_on_commit_callbacks)

    complaint = Complaint.objects.get()
    assert complaint.customer.email is None
    ref = CustomerReference.objects.get(customer=complaint.customer)
    assert (ref.source, ref.external_id) == ("zendesk-eu", "8447388090111")
    # The next ticket from the same requester finds the same customer.
    deliver(client, zendesk, zendesk_event("created", id="35437"), django_capture_on_commit_callbacks)
    assert Complaint.objects.get(external_id="35437").customer_id == complaint.customer_id


def test_zendesk_status_solved_resolves_then_closed_closes(client, zendesk, django_capture_on_commit_callbacks):
    deliver(client, zendesk, zendesk_event("created"), django_capture_on_commit_callbacks)

    deliver(
        client, zendesk,
        zendesk_event("status_changed", status="SOLVED", event={"current": "SOLVED", "previous": "OPEN"}),
        django_capture_on_commit_callbacks,
    )
    assert Complaint.objects.get().status == "resolved"
    deliver(
        client, zendesk,
        zendesk_event("status_changed", status="CLOSED", event={"current": "CLOSED", "previous": "SOLVED"}),
        django_capture_on_commit_callbacks,
    )
    complaint = Complaint.objects.get()
    assert complaint.status == "closed"
    moves = list(complaint.events.filter(kind="status_changed").order_by("id").values_list("data__to", flat=True))
    assert moves == ["resolved", "closed"]


def test_zendesk_unmapped_status_is_noted_on_the_timeline(client, zendesk, django_capture_on_commit_callbacks):
    deliver(client, zendesk, zendesk_event("created"), django_capture_on_commit_callbacks)

    deliver(
        client, zendesk,
        zendesk_event("status_changed", status="PENDING", event={"current": "PENDING", "previous": "OPEN"}),
        django_capture_on_commit_callbacks,
    )

    complaint = Complaint.objects.get()
    assert complaint.status == "new"
    assert complaint.events.filter(kind="updated", data__helpdesk_status="pending").count() == 1


def test_zendesk_customer_comment_is_recorded_once_and_regrades(client, zendesk, django_capture_on_commit_callbacks):
    from tickets.signals import complaint_changed

    deliver(client, zendesk, zendesk_event("created"), django_capture_on_commit_callbacks)
    announced: list[frozenset] = []

    def listen(sender, complaint_id, changed, **kwargs):
        announced.append(changed)
    comment = {
        "comment": {
            "id": "9001",
            "body": "Still nothing. I will post this on Twitter.",
            "is_public": True,
            "author": {"id": "8447388090111", "is_staff": False, "name": "Dana Doe"},
        }
    }
    complaint_changed.connect(listen)
    try:
        deliver(client, zendesk, zendesk_event("comment_added", event=comment), django_capture_on_commit_callbacks)
        # The same comment in another delivery (another event id) is not recorded twice.
        deliver(client, zendesk, zendesk_event("comment_added", event=comment), django_capture_on_commit_callbacks)
    finally:
        complaint_changed.disconnect(listen)

    complaint = Complaint.objects.get()
    notes = Comment.objects.filter(complaint=complaint)
    assert [c.body.splitlines()[-1] for c in notes] == ["Still nothing. I will post this on Twitter."]
    assert complaint.events.filter(kind="commented", data__kind="customer").count() == 1
    # The customer writing again is announced once as a change, which recovery re-assesses.
    assert announced.count(frozenset({"customer_comment"})) == 1
    # ... and grading reads their words: the threat to go public is quoted among the reasons.
    assert any("I will post this on Twitter" in str(reason) for reason in complaint.grade_reasons), complaint.grade_reasons


def test_zendesk_agent_public_comment_is_a_reply_and_first_response(client, zendesk, django_capture_on_commit_callbacks):
    deliver(client, zendesk, zendesk_event("created"), django_capture_on_commit_callbacks)
    comment = {"comment": {"id": "9002", "body": "So sorry, a new kettle ships today.", "is_public": True,
                           "author": {"id": "8447388090494", "is_staff": True, "name": "Agent Al"}}}

    deliver(client, zendesk, zendesk_event("comment_added", event=comment), django_capture_on_commit_callbacks)

    complaint = Complaint.objects.get()
    reply = complaint.comments.get()
    assert (reply.kind, reply.delivery_state) == ("reply", "sent")
    assert complaint.first_response_at is not None
    # Zendesk already delivered it: it is not emailed to the customer a second time.
    from notifications.models import OutboundEmail

    assert not OutboundEmail.objects.exists()


def test_zendesk_priority_and_tags_changes_update_the_complaint(client, zendesk, django_capture_on_commit_callbacks):
    deliver(client, zendesk, zendesk_event("created", tags=["vip"], priority="LOW"), django_capture_on_commit_callbacks)
    complaint = Complaint.objects.get()
    assert (complaint.cause, complaint.severity) == ("other", 2)

    deliver(
        client, zendesk,
        zendesk_event("priority_changed", priority="URGENT", tags=["vip"], event={"current": "URGENT", "previous": "LOW"}),
        django_capture_on_commit_callbacks,
    )
    deliver(
        client, zendesk,
        zendesk_event("tags_changed", priority="URGENT", tags=["rude"],
                      event={"tags_added": ["rude"], "tags_removed": ["vip"]}),
        django_capture_on_commit_callbacks,
    )

    complaint = Complaint.objects.get()
    assert (complaint.severity, complaint.cause, complaint.tags) == (5, "staff_conduct", ["rude"])


def test_zendesk_replayed_delivery_changes_nothing(client, zendesk, django_capture_on_commit_callbacks):
    payload = zendesk_event("created")
    deliver(client, zendesk, payload, django_capture_on_commit_callbacks)
    events = TimelineEvent.objects.count()

    response = deliver(client, zendesk, payload, django_capture_on_commit_callbacks)

    assert response.status_code == 200 and response.json()["status"] == "duplicate"
    assert HelpdeskDelivery.objects.count() == 1
    assert Complaint.objects.count() == 1
    assert TimelineEvent.objects.count() == events


def test_zendesk_bad_signature_is_refused_and_nothing_stored(client, zendesk):
    response = send(client, zendesk, zendesk_event("created"), secret="not-the-secret")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert HelpdeskDelivery.objects.count() == 0


def test_zendesk_missing_signature_is_refused(client, zendesk):
    response = post(client, zendesk, raw(zendesk_event("created")))

    assert response.status_code == 401
    assert HelpdeskDelivery.objects.count() == 0


def test_zendesk_tampered_body_is_refused(client, zendesk):
    body = raw(zendesk_event("created"))
    headers = zendesk_headers(body)

    response = post(client, zendesk, body.replace(b"HIGH", b"LOW"), **headers)

    assert response.status_code == 401


def test_zendesk_stale_timestamp_is_refused(client, zendesk):
    response = send(client, zendesk, zendesk_event("created"), at=timezone.now() - dt.timedelta(minutes=6))

    assert response.status_code == 401
    assert "five minutes" in response.json()["error"]["message"]
    assert HelpdeskDelivery.objects.count() == 0


def test_zendesk_timestamp_within_tolerance_is_accepted(client, zendesk, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = send(client, zendesk, zendesk_event("created"), at=timezone.now() - dt.timedelta(minutes=4))

    assert response.status_code == 202


def test_zendesk_unknown_event_is_stored_and_ignored(client, zendesk, django_capture_on_commit_callbacks):
    payload = zendesk_event("brand_changed", event={"current": "2", "previous": "1"})

    response = deliver(client, zendesk, payload, django_capture_on_commit_callbacks)

    assert response.status_code == 202
    delivery = HelpdeskDelivery.objects.get()
    assert delivery.result == "ignored"
    assert json.loads(delivery.body)["type"] == "zen:event-type:ticket.brand_changed"
    assert Complaint.objects.count() == 0


def test_zendesk_malformed_json_is_400_and_not_stored(client, zendesk):
    body = b'{"type": "zen:event-type:ticket.created", "detail": {'

    response = post(client, zendesk, body, **zendesk_headers(body))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
    assert HelpdeskDelivery.objects.count() == 0


def test_zendesk_unknown_connection_is_404(client, zendesk):
    zendesk.active = False
    zendesk.save()
    body = raw(zendesk_event("created"))

    response = post(client, zendesk, body, **zendesk_headers(body))

    assert response.status_code == 404
    assert client.post("/hooks/helpdesk/not-a-uuid/", data=body, content_type="application/json").status_code == 404


def test_zendesk_trigger_webhook_with_the_documented_template(client, zendesk, django_capture_on_commit_callbacks):
    from tickets.helpdesks.setup import ZENDESK_TRIGGER_TEMPLATE

    # Zendesk renders the placeholders of the documented template as text.
    rendered = ZENDESK_TRIGGER_TEMPLATE
    for placeholder, value in {
        "{{ticket.id}}": "77", "{{ticket.title}}": "Refund still missing", "{{ticket.description}}": "Where is it?",
        "{{ticket.status}}": "Open", "{{ticket.priority}}": "Urgent", "{{ticket.via}}": "Mail",
        "{{ticket.tags}}": "refund angry", "{{ticket.updated_at_with_timestamp}}": "2026-11-29T10:00:00Z",
        "{{ticket.requester.id}}": "501", "{{ticket.requester.name}}": "Ola Nordmann",
        "{{ticket.requester.email}}": "ola@example.com", "{{ticket.latest_public_comment}}": "",
        "{{current_user.id}}": "501", "{{satisfaction.current_rating}}": "Bad, I'm unsatisfied",
    }.items():
        rendered = rendered.replace(placeholder, value)

    deliver(client, zendesk, json.loads(rendered), django_capture_on_commit_callbacks)

    complaint = Complaint.objects.get(source="zendesk-eu", external_id="77")
    assert complaint.customer.email == "ola@example.com"
    assert (complaint.cause, complaint.severity, complaint.channel) == ("pricing", 5, "email")
    assert complaint.events.filter(data__rating="Bad, I'm unsatisfied").count() == 1


def test_zendesk_connection_accepts_the_event_and_the_trigger_webhook_secrets(client, zendesk, senior,
                                                                               django_capture_on_commit_callbacks):
    from django.test import Client

    manager = Client()
    manager.force_login(senior)
    manager.post(f"/integrations/{zendesk.public_id}/secret/", {"secret": "trigger-secret", "keep_current": "on"})

    with django_capture_on_commit_callbacks(execute=True):
        first = send(client, zendesk, zendesk_event("created"))
        second = send(client, zendesk, zendesk_event("created", id="99"), secret="trigger-secret")
    stale = send(client, zendesk, zendesk_event("created", id="98"), secret="trigger-secret",
                 at=timezone.now() - dt.timedelta(minutes=10))

    assert (first.status_code, second.status_code) == (202, 202)
    assert Complaint.objects.filter(source="zendesk-eu").count() == 2
    assert stale.status_code == 401 and "five minutes" in stale.json()["error"]["message"]


def test_zendesk_first_comment_is_the_description_not_the_customer_writing_again(
    client, zendesk, django_capture_on_commit_callbacks
):
    deliver(client, zendesk, zendesk_event("created"), django_capture_on_commit_callbacks)
    first = {"comment": {"id": "9000", "body": zendesk_event("created")["detail"]["description"], "is_public": True,
                         "author": {"id": "8447388090111", "is_staff": False, "name": "Dana Doe"}}}

    deliver(client, zendesk, zendesk_event("comment_added", event=first), django_capture_on_commit_callbacks)

    complaint = Complaint.objects.get()
    assert complaint.comments.count() == 0
    assert not complaint.events.filter(kind="commented").exists()
