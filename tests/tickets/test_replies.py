"""Replies reach the customer by email: headers that thread, sent/failed on the timeline, retries, and the first
response counted only once a reply was sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import services as notification_services
from notifications import tasks as notification_tasks
from notifications.models import OutboundEmail, OutboxEvent
from tests.factories import ComplaintFactory, CustomerFactory
from tickets import services
from tickets.actors import ActorRef
from tickets.models import Comment, TimelineEvent

pytestmark = pytest.mark.django_db
URL = "/api/v1/complaints/"
FAILING = "tests.notifications.failing_backend.FailingBackend"


@pytest.fixture
def agent_web(client, agent):
    client.force_login(agent)
    return client


def reply(complaint, agent, body: str = "We are sorry: a refund is on its way.") -> Comment:
    return services.comment_add(complaint=complaint, kind="reply", body=body, actor=ActorRef(user=agent))


def messages(complaint) -> list[str]:
    return list(TimelineEvent.objects.filter(complaint=complaint).order_by("id").values_list("message", flat=True))


def test_reply_is_emailed_to_the_customer_with_threading_headers(agent, complaint, mailoutbox, settings, django_capture_on_commit_callbacks):
    settings.DEFAULT_FROM_EMAIL = "Acme Care <care@acme.example>"
    settings.REPLY_TO_EMAIL = "replies@acme.example"

    with django_capture_on_commit_callbacks(execute=True):
        first = reply(complaint, agent)
    with django_capture_on_commit_callbacks(execute=True):
        second = reply(complaint, agent, "And a voucher for next time.")

    assert len(mailoutbox) == 2
    mail = mailoutbox[0]
    assert mail.to == [complaint.customer.email] and mail.from_email == "Acme Care <care@acme.example>"
    assert mail.reply_to == ["replies@acme.example"]
    assert mail.subject == f"Re: {complaint.subject} [{complaint.reference}]"
    assert mail.body == "We are sorry: a refund is on its way."
    message = mail.message()
    thread = f"<complaint-{complaint.reference}@acme.example>"
    assert message["Message-ID"] == f"<complaint-{complaint.reference}-reply-{first.pk}@acme.example>"
    assert message["In-Reply-To"] == thread and message["References"] == thread
    assert mailoutbox[1].message()["Message-ID"] == f"<complaint-{complaint.reference}-reply-{second.pk}@acme.example>"
    assert mailoutbox[1].message()["References"] == thread
    first.refresh_from_db()
    assert first.delivery_state == "sent" and first.delivered_at is not None


def test_reply_counts_as_first_response_only_when_sent(agent, complaint, settings, mailoutbox, django_capture_on_commit_callbacks):
    # given the mail server is down
    settings.EMAIL_BACKEND = FAILING
    with django_capture_on_commit_callbacks(execute=True):
        comment = reply(complaint, agent)

    # then the reply waits, says why, and is not a response yet
    complaint.refresh_from_db()
    comment.refresh_from_db()
    assert complaint.first_response_at is None
    assert comment.delivery_state == "retrying" and "SMTP server unreachable" in comment.delivery_error
    assert any("Reply could not be sent" in m and "SMTP server unreachable" in m and "retrying" in m for m in messages(complaint))

    # when the mail server is back and the retry falls due
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    email = OutboundEmail.objects.get()
    later = timezone.now() + timedelta(seconds=30)
    with django_capture_on_commit_callbacks(execute=True):
        notification_services.outbound_email_send(email_id=email.pk, now=later)

    # then it is sent, and only now the first response
    complaint.refresh_from_db()
    comment.refresh_from_db()
    assert comment.delivery_state == "sent" and len(mailoutbox) == 1
    assert complaint.first_response_at == comment.delivered_at
    assert f"Reply sent to {complaint.customer.email}" in messages(complaint)


def test_reply_email_task_run_twice_sends_once(agent, complaint, mailoutbox):
    reply(complaint, agent)  # on-commit not run: the task was never queued
    email = OutboundEmail.objects.get()

    assert notification_tasks.outbound_email_task(email.pk) == "sent"
    assert notification_tasks.outbound_email_task(email.pk) == "skipped"

    assert len(mailoutbox) == 1


def test_reply_whose_task_was_lost_is_sent_by_the_sweep(agent, complaint, mailoutbox):
    reply(complaint, agent)
    OutboundEmail.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=2))

    notification_tasks.webhook_deliveries_sweep_task()

    assert len(mailoutbox) == 1
    complaint.refresh_from_db()
    assert complaint.first_response_at is not None


def test_reply_that_keeps_failing_is_marked_failed_and_can_be_sent_again(agent, agent_web, complaint, settings, mailoutbox, django_capture_on_commit_callbacks):
    # given every retry failed
    settings.EMAIL_BACKEND = FAILING
    settings.WEBHOOKS_RETRY_SCHEDULE = (5,)
    with django_capture_on_commit_callbacks(execute=True):
        comment = reply(complaint, agent)
    notification_services.outbound_email_send(email_id=OutboundEmail.objects.get().pk, now=timezone.now() + timedelta(seconds=30))
    comment.refresh_from_db()
    assert comment.delivery_state == "failed"
    assert "no more retries" in messages(complaint)[-1]
    page = agent_web.get(f"/complaints/{complaint.reference}/").content.decode()
    assert "Could not be sent" in page and f"/replies/{comment.pk}/send/" in page

    # when the agent sends it again after the mail server is back
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with django_capture_on_commit_callbacks(execute=True):
        agent_web.post(f"/complaints/{complaint.reference}/replies/{comment.pk}/send/")

    comment.refresh_from_db()
    assert comment.delivery_state == "sent" and len(mailoutbox) == 1


def test_reply_sent_publishes_complaint_replied(agent, complaint, django_capture_on_commit_callbacks):
    notification_services.webhook_endpoint_create(url="https://example.com/h", events=["complaint.replied"])

    with django_capture_on_commit_callbacks(execute=True):
        comment = reply(complaint, agent)

    [event] = OutboxEvent.objects.filter(type="complaint.replied")
    assert event.body["data"]["reply"]["comment_id"] == comment.pk and event.body["data"]["reply"]["channel"] == "email"
    assert event.body["data"]["reply"]["body"] == comment.body and event.body["data"]["complaint"]["first_response_at"]


def test_note_is_not_emailed(agent, complaint, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        comment = services.comment_add(complaint=complaint, kind="note", body="Called them", actor=ActorRef(user=agent))

    assert mailoutbox == [] and comment.delivery_state == "" and OutboundEmail.objects.count() == 0
    complaint.refresh_from_db()
    assert complaint.first_response_at is None


def test_reply_to_a_customer_without_email_answers_409_over_the_api(agent_client):
    complaint = ComplaintFactory(customer=CustomerFactory(email=None))

    response = agent_client.post(f"{URL}{complaint.reference}/comments/", {"kind": "reply", "body": "Hello"}, format="json")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "reply_undeliverable" and "no email address" in error["message"]
    assert Comment.objects.count() == 0


def test_complaint_page_warns_before_writing_when_no_channel_reaches_the_customer(agent_web):
    complaint = ComplaintFactory(customer=CustomerFactory(email=None))

    page = agent_web.get(f"/complaints/{complaint.reference}/").content.decode()

    assert 'id="reply-blocked"' in page and "cannot reach the customer" in page


def test_complaint_page_says_where_a_reply_goes(agent_web, complaint):
    page = agent_web.get(f"/complaints/{complaint.reference}/").content.decode()

    assert f"emailed to {complaint.customer.email}" in page


def test_reply_in_the_browser_to_an_unreachable_customer_is_refused_with_the_reason(agent_web):
    complaint = ComplaintFactory(customer=CustomerFactory(email=None))

    response = agent_web.post(f"/complaints/{complaint.reference}/notes/", {"kind": "reply", "body": "Hello"})

    assert response.status_code == 409 and "no email address" in response.content.decode()
    assert Comment.objects.count() == 0
