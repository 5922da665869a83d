"""Write-back to the helpdesk against local fake helpdesk APIs that check method, path, auth and body shape as
each vendor documents them; replies posted as public comments; 429 with Retry-After; failure then retry."""

from __future__ import annotations

import base64
import io
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from django.core.management import CommandError, call_command
from django.db import connection as db_connection
from django.utils import timezone

from notifications import services as notification_services
from notifications.models import Delivery, DeliveryAttempt
from notifications.services import event_publish
from tests.factories import ComplaintFactory
from tests.tickets.helpdesks import helpers
from tests.tickets.helpdesks.fake_api import Answer, start_fake
from tickets import services as ticket_services
from tickets.actors import ActorRef
from tickets.helpdesks import secrets, services
from tickets.helpdesks.models import HelpdeskConnection, HelpdeskWriteback
from tickets.models import Comment, CustomerReference, TimelineEvent
from tickets.webhook_payloads import complaint_data

pytestmark = pytest.mark.django_db

REASONS = [
    {"code": "says_wont_return", "text": "Says they will not come back.", "points": 0, "forces_ugly": True},
    {"code": "severity", "text": "Severity 4 of 5.", "points": 30, "forces_ugly": False},
]


@pytest.fixture
def fake(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    settings.DEBUG = False
    fake, server = start_fake()
    yield fake
    server.shutdown()
    server.server_close()


def connect(kind: str, fake, *, user: str = "", token: str = "api-token", name: str | None = None) -> HelpdeskConnection:
    connection = helpers.connect(kind, name)
    return services.connection_set_api(connection=connection, api_url=fake.url, api_user=user, api_token=token)


def from_helpdesk(connection: HelpdeskConnection, ticket: str = "35436", **fields):
    return ComplaintFactory(source=connection.name, external_id=ticket, **fields)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def graded(complaint, capture, grade: str = "ugly"):
    with capture(execute=True):
        return event_publish(
            type="complaint.graded",
            data={"complaint": complaint_data(complaint), "grade": {"from": "bad", "to": grade, "score": 91, "reasons": REASONS}},
        )


def escalated(complaint, capture, tier: str = "executive"):
    with capture(execute=True):
        return event_publish(
            type="complaint.escalated",
            data={
                "complaint": complaint_data(complaint),
                "escalation": {"tier": tier, "from_tier": "frontline", "reason": "Ugly: rule 'Ugly goes to the top'"},
            },
        )


def writeback_deliveries():
    return Delivery.objects.filter(target_kind="helpdesk").order_by("pk")


# --- each vendor, as documented ------------------------------------------------------------------------------


def test_writeback_zendesk_puts_a_private_comment_with_the_grade_reasons_and_adds_tags(fake, django_capture_on_commit_callbacks):
    connection = connect("zendesk", fake, user="agent@acme.example", token="zd-token")
    complaint = from_helpdesk(connection)

    graded(complaint, django_capture_on_commit_callbacks)

    assert fake.calls() == [("PUT", "/api/v2/tickets/35436")]
    request = fake.requests[0]
    # API-token auth: "{email}/token:{token}", basic.
    assert request.headers["authorization"] == basic("agent@acme.example/token", "zd-token")
    assert request.headers["content-type"] == "application/json"
    ticket = request.json["ticket"]
    assert ticket["comment"]["public"] is False
    assert "UGLY" in ticket["comment"]["body"] and "Says they will not come back." in ticket["comment"]["body"]
    assert complaint.reference in ticket["comment"]["body"]
    assert ticket["additional_tags"] == ["cx-ugly"] and "tags" not in ticket  # adds, never replaces the agent's tags
    delivery = writeback_deliveries().get()
    assert delivery.state == "succeeded" and delivery.attempts == 1
    assert delivery.helpdesk_writeback.connection == connection


def test_writeback_zendesk_escalation_is_tagged_with_its_tier(fake, django_capture_on_commit_callbacks):
    connection = connect("zendesk", fake, user="agent@acme.example", token="zd-token")
    complaint = from_helpdesk(connection)

    escalated(complaint, django_capture_on_commit_callbacks)

    ticket = fake.requests[0].json["ticket"]
    assert ticket["additional_tags"] == ["cx-escalated-executive"]
    assert "executive" in ticket["comment"]["body"] and ticket["comment"]["public"] is False


def test_writeback_freshdesk_keeps_current_tags_then_adds_a_private_note(fake, django_capture_on_commit_callbacks):
    connection = connect("freshdesk", fake, token="fd-key")
    complaint = from_helpdesk(connection, ticket="77")
    fake.respond = lambda r: Answer(200, {"id": 77, "tags": ["vip", "kettle"]}) if r.method == "GET" else Answer(200 if r.method == "PUT" else 201, {"id": 9})

    graded(complaint, django_capture_on_commit_callbacks)

    assert fake.calls() == [
        ("GET", "/api/v2/tickets/77"),
        ("PUT", "/api/v2/tickets/77"),
        ("POST", "/api/v2/tickets/77/notes"),
    ]
    # API key as the user, "X" as the password.
    assert all(r.headers["authorization"] == basic("fd-key", "X") for r in fake.requests)
    assert fake.requests[1].json == {"tags": ["vip", "kettle", "cx-ugly"]}
    note = fake.requests[2].json
    assert note["private"] is True and "UGLY" in note["body"] and "<br>" in note["body"]
    assert writeback_deliveries().get().state == "succeeded"


def test_writeback_zammad_adds_tags_and_an_internal_note_article(fake, django_capture_on_commit_callbacks):
    connection = connect("zammad", fake, token="zm-token")
    complaint = from_helpdesk(connection, ticket="12")
    fake.respond = lambda r: Answer(201, {"id": 5})

    escalated(complaint, django_capture_on_commit_callbacks)

    assert fake.calls() == [("POST", "/api/v1/tags/add"), ("POST", "/api/v1/ticket_articles")]
    assert all(r.headers["authorization"] == "Token token=zm-token" for r in fake.requests)
    assert fake.requests[0].json == {"item": "cx-escalated-executive", "object": "Ticket", "o_id": 12}
    article = fake.requests[1].json
    assert article["ticket_id"] == 12 and article["type"] == "note" and article["internal"] is True
    assert "executive" in article["body"] and article["content_type"] == "text/plain"


def test_writeback_helpscout_gets_a_client_credentials_token_once_and_posts_notes(fake, django_capture_on_commit_callbacks):
    connection = connect("helpscout", fake, user="app-id", token="app-secret")
    complaint = from_helpdesk(connection, ticket="123")

    def respond(request):
        if request.path == "/v2/oauth2/token":
            return Answer(200, {"token_type": "bearer", "access_token": "hs-access-1", "expires_in": 172800})
        if request.method == "GET":
            return Answer(200, {"id": 123, "tags": [{"id": 9, "color": "#929499", "tag": "vip"}]})
        return Answer(204 if request.method == "PUT" else 201, {})

    fake.respond = respond

    graded(complaint, django_capture_on_commit_callbacks)
    escalated(complaint, django_capture_on_commit_callbacks)

    assert fake.calls() == [
        ("POST", "/v2/oauth2/token"),
        ("GET", "/v2/conversations/123"),
        ("PUT", "/v2/conversations/123/tags"),
        ("POST", "/v2/conversations/123/notes"),
        # the token is cached until it expires
        ("GET", "/v2/conversations/123"),
        ("PUT", "/v2/conversations/123/tags"),
        ("POST", "/v2/conversations/123/notes"),
    ]
    token_request = fake.requests[0]
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token_request.raw.decode()) == {
        "grant_type": ["client_credentials"], "client_id": ["app-id"], "client_secret": ["app-secret"],
    }
    assert all(r.headers["authorization"] == "Bearer hs-access-1" for r in fake.requests[1:])
    assert fake.requests[2].json == {"tags": ["vip", "cx-ugly"]}  # the conversation's own tags are kept
    assert "UGLY" in fake.requests[3].json["text"]
    assert list(writeback_deliveries().values_list("state", flat=True)) == ["succeeded", "succeeded"]


def test_writeback_helpscout_fetches_a_new_token_after_a_401(fake, django_capture_on_commit_callbacks):
    connection = connect("helpscout", fake, user="app-id", token="app-secret")
    complaint = from_helpdesk(connection, ticket="123")
    tokens = iter(["hs-1", "hs-2"])
    fake.respond = lambda r: Answer(200, {"access_token": next(tokens), "expires_in": 7200}) if "oauth2" in r.path else Answer(201, {})
    fake.script = []
    graded(complaint, django_capture_on_commit_callbacks)
    fake.script = [Answer(401, {"error": "invalid_token"})]

    escalated(complaint, django_capture_on_commit_callbacks)
    delivery = writeback_deliveries().last()
    notification_services.delivery_attempt(delivery_id=delivery.pk, now=timezone.now() + timedelta(minutes=1))

    api = [r for r in fake.requests if "oauth2" not in r.path]
    assert fake.calls().count(("POST", "/v2/oauth2/token")) == 2
    assert [r.headers["authorization"] for r in api if r.path.endswith("/notes")] == ["Bearer hs-1", "Bearer hs-2"]
    assert api[3].headers["authorization"] == "Bearer hs-1"  # the call answered 401
    delivery.refresh_from_db()
    assert delivery.state == "succeeded"


# --- what is written back, and what is not -------------------------------------------------------------------


def test_writeback_only_for_complaints_from_that_helpdesk(fake, django_capture_on_commit_callbacks):
    connect("zendesk", fake, user="agent@acme.example")
    complaint = ComplaintFactory(source="", external_id=None)

    graded(complaint, django_capture_on_commit_callbacks)

    assert fake.requests == [] and not writeback_deliveries().exists()


def test_writeback_off_without_api_credentials(fake, django_capture_on_commit_callbacks):
    connection = helpers.connect("zendesk")
    complaint = from_helpdesk(connection)

    graded(complaint, django_capture_on_commit_callbacks)

    assert fake.requests == [] and not writeback_deliveries().exists()


def test_writeback_approved_gesture_is_written_and_a_rejected_one_is_not(fake, django_capture_on_commit_callbacks):
    connection = connect("zendesk", fake, user="agent@acme.example")
    complaint = from_helpdesk(connection)
    offer = {"id": 1, "gesture": {"code": "exec-call", "title": "A personal call from an executive"}, "cost": "300.00", "currency": "GBP"}
    approval = {"id": 4, "status": "approved", "decided_by": "executive", "approved_amount": "300.00", "note": "Worth it"}

    with django_capture_on_commit_callbacks(execute=True):
        for decision in ("rejected", "approved"):
            event_publish(
                type="approval.decided",
                data={"complaint": complaint_data(complaint), "offer": offer, "approval": approval, "decision": decision},
            )

    assert len(fake.requests) == 1
    ticket = fake.requests[0].json["ticket"]
    assert "A personal call from an executive" in ticket["comment"]["body"] and "300.00 GBP" in ticket["comment"]["body"]
    assert ticket["additional_tags"] == ["cx-gesture-approved"]


def test_writeback_outcome_settled_says_whether_the_customer_came_back(fake, django_capture_on_commit_callbacks):
    connection = connect("zendesk", fake, user="agent@acme.example")
    complaint = from_helpdesk(connection)

    with django_capture_on_commit_callbacks(execute=True):
        event_publish(
            type="outcome.settled",
            data={"complaint": complaint_data(complaint), "outcome": {"id": 1}, "window": {"days": 60, "returned": True, "revenue": "80.00"}},
        )

    ticket = fake.requests[0].json["ticket"]
    assert "came back" in ticket["comment"]["body"] and ticket["additional_tags"] == ["cx-returned-60d"]


def test_writeback_of_a_logged_ugly_complaint_sends_grade_and_escalation(fake, agent, executive, django_capture_on_commit_callbacks):
    connection = connect("zendesk", fake, user="agent@acme.example")
    data = ticket_services.ComplaintInput(
        customer=ticket_services.CustomerInput(email="furious@example.com", social_reach=40_000),
        fields={"cause": "staff_conduct", "severity": 4, "subject": "Agent swore at me in chat",
                "says_wont_return": True, "threatens_public": True},
        source=connection.name,
        external_id="35436",
    )

    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.complaint_log(data=data, actor=ActorRef(user=agent))

    tags = sorted(tag for r in fake.requests for tag in r.json["ticket"].get("additional_tags", []))
    assert "cx-ugly" in tags and any(tag.startswith("cx-escalated-") for tag in tags)
    assert all(r.path == "/api/v2/tickets/35436" and r.json["ticket"]["comment"]["public"] is False for r in fake.requests)


# --- retries, 429, the guard ------------------------------------------------------------------------------------


def test_writeback_429_waits_as_long_as_retry_after_says(fake, django_capture_on_commit_callbacks):
    connection = connect("zendesk", fake, user="agent@acme.example")
    complaint = from_helpdesk(connection)
    fake.script = [Answer(429, {"error": "TooManyRequests"}, {"Retry-After": "120"})]
    before = timezone.now()

    graded(complaint, django_capture_on_commit_callbacks)

    delivery = writeback_deliveries().get()
    assert delivery.state == "pending" and delivery.last_status_code == 429
    # Not the schedule's 5 s: the helpdesk's 120 s.
    assert before + timedelta(seconds=119) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=121)
    assert "120" in delivery.last_error
    assert notification_services.delivery_attempt(delivery_id=delivery.pk).state == "skipped"  # not before then
    notification_services.delivery_attempt(delivery_id=delivery.pk, now=before + timedelta(seconds=125))
    delivery.refresh_from_db()
    assert delivery.state == "succeeded" and len(fake.requests) == 2


def test_writeback_failure_is_logged_and_retried_with_the_same_request(fake, django_capture_on_commit_callbacks):
    connection = connect("zendesk", fake, user="agent@acme.example")
    complaint = from_helpdesk(connection)
    fake.script = [Answer(500, {"error": "oops"})]

    graded(complaint, django_capture_on_commit_callbacks)
    delivery = writeback_deliveries().get()
    assert delivery.state == "pending" and delivery.last_status_code == 500
    assert "PUT /api/v2/tickets/35436" in delivery.last_error

    # the retry is due: run it twice, one request is sent
    later = timezone.now() + timedelta(minutes=1)
    notification_services.delivery_attempt(delivery_id=delivery.pk, now=later)
    notification_services.delivery_attempt(delivery_id=delivery.pk, now=later)

    delivery.refresh_from_db()
    assert delivery.state == "succeeded" and delivery.attempts == 2
    assert len(fake.requests) == 2 and fake.requests[0].raw == fake.requests[1].raw
    assert list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("number").values_list("status_code", flat=True)) == [500, 200]


def test_writeback_url_goes_through_the_private_address_guard_at_send_time(fake, settings, django_capture_on_commit_callbacks):
    connection = connect("zendesk", fake, user="agent@acme.example")
    complaint = from_helpdesk(connection)
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False

    graded(complaint, django_capture_on_commit_callbacks)

    delivery = writeback_deliveries().get()
    assert fake.requests == []
    assert delivery.state == "pending" and "refused: 127.0.0.1 resolves to a private" in delivery.last_error


def test_writeback_fails_without_retry_once_credentials_are_removed(fake, django_capture_on_commit_callbacks):
    connection = connect("zendesk", fake, user="agent@acme.example")
    complaint = from_helpdesk(connection)
    fake.script = [Answer(503, {})]
    graded(complaint, django_capture_on_commit_callbacks)

    services.connection_set_api(connection=connection, api_url="", clear=True)
    delivery = writeback_deliveries().get()
    notification_services.delivery_attempt(delivery_id=delivery.pk, now=timezone.now() + timedelta(minutes=1))

    delivery.refresh_from_db()
    assert delivery.state == "failed" and "no API credentials" in delivery.last_error
    assert len(fake.requests) == 1


# --- replies through the helpdesk -----------------------------------------------------------------------------


def reply(complaint, agent, body: str = "We are so sorry. A replacement ships today.\nThank you for telling us.") -> Comment:
    return ticket_services.comment_add(complaint=complaint, kind="reply", body=body, actor=ActorRef(user=agent))


def timeline(complaint) -> list[str]:
    return list(TimelineEvent.objects.filter(complaint=complaint).order_by("id").values_list("message", flat=True))


def test_reply_on_a_zendesk_complaint_is_a_public_comment_not_an_email(fake, agent, mailoutbox, django_capture_on_commit_callbacks):
    connection = connect("zendesk", fake, user="agent@acme.example", token="zd-token")
    complaint = from_helpdesk(connection)

    with django_capture_on_commit_callbacks(execute=True):
        comment = reply(complaint, agent)

    # (the first response re-grades the complaint: those write-backs are private notes, filtered out here)
    public = [r for r in fake.requests if r.json["ticket"]["comment"]["public"]]
    assert mailoutbox == []
    assert [(r.method, r.path) for r in public] == [("PUT", "/api/v2/tickets/35436")]
    assert public[0].json == {"ticket": {"comment": {"body": comment.body, "public": True}}}
    assert public[0].headers["authorization"] == basic("agent@acme.example/token", "zd-token")
    comment.refresh_from_db()
    complaint.refresh_from_db()
    assert comment.delivery_channel == "helpdesk" and comment.delivery_state == "sent"
    assert complaint.first_response_at == comment.delivered_at
    assert f"Reply sent to {connection.name} ticket #35436" in timeline(complaint)


def test_reply_through_the_helpdesk_that_fails_is_shown_retried_and_counts_only_once_sent(fake, agent, django_capture_on_commit_callbacks):
    connection = connect("zendesk", fake, user="agent@acme.example")
    complaint = from_helpdesk(connection)
    fake.script = [Answer(500, {"error": "down"})]

    with django_capture_on_commit_callbacks(execute=True):
        comment = reply(complaint, agent)

    comment.refresh_from_db()
    complaint.refresh_from_db()
    assert comment.delivery_state == "retrying" and "500" in comment.delivery_error
    assert complaint.first_response_at is None
    assert any(m.startswith(f"Reply could not be sent to {connection.name} ticket #35436") for m in timeline(complaint))

    delivery = HelpdeskWriteback.objects.get(comment=comment).delivery
    notification_services.delivery_attempt(delivery_id=delivery.pk, now=timezone.now() + timedelta(minutes=1))

    comment.refresh_from_db()
    complaint.refresh_from_db()
    assert comment.delivery_state == "sent" and complaint.first_response_at == comment.delivered_at


def test_reply_through_the_helpdesk_failed_for_good_can_be_sent_again(fake, agent, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOKS_RETRY_SCHEDULE = ()
    connection = connect("freshdesk", fake, token="fd-key")
    complaint = from_helpdesk(connection, ticket="77")
    fake.script = [Answer(500, {})]
    with django_capture_on_commit_callbacks(execute=True):
        comment = reply(complaint, agent)
    comment.refresh_from_db()
    assert comment.delivery_state == "failed"

    with django_capture_on_commit_callbacks(execute=True):
        ticket_services.reply_send_again(comment=comment, actor=ActorRef(user=agent))

    comment.refresh_from_db()
    assert comment.delivery_state == "sent"
    replies = [r for r in fake.requests if r.path.endswith("/reply")]
    assert [(r.method, r.path) for r in replies] == [("POST", "/api/v2/tickets/77/reply")] * 2
    assert replies[1].json == {"body": "We are so sorry. A replacement ships today.<br>Thank you for telling us."}
    assert replies[1].headers["authorization"] == basic("fd-key", "X")


def test_reply_through_zammad_is_a_public_email_article_to_the_customer(fake, agent, django_capture_on_commit_callbacks):
    connection = connect("zammad", fake, token="zm-token")
    complaint = from_helpdesk(connection, ticket="12")
    fake.respond = lambda r: Answer(201, {"id": 8})

    with django_capture_on_commit_callbacks(execute=True):
        comment = reply(complaint, agent)

    articles = [r.json for r in fake.requests if r.path == "/api/v1/ticket_articles" and r.json["internal"] is False]
    assert len(articles) == 1
    article = articles[0]
    assert article["ticket_id"] == 12 and article["internal"] is False and article["type"] == "email"
    assert article["to"] == complaint.customer.email and article["body"] == comment.body


def test_reply_through_helpscout_names_the_customer_by_their_help_scout_id(fake, agent, django_capture_on_commit_callbacks):
    connection = connect("helpscout", fake, user="app-id", token="app-secret")
    complaint = from_helpdesk(connection, ticket="123")
    CustomerReference.objects.create(customer=complaint.customer, source=connection.name, external_id="555")
    fake.respond = lambda r: Answer(200, {"access_token": "hs-1", "expires_in": 7200}) if "oauth2" in r.path else Answer(201, {})

    with django_capture_on_commit_callbacks(execute=True):
        comment = reply(complaint, agent)

    assert fake.calls()[0] == ("POST", "/v2/oauth2/token") and fake.calls().count(("POST", "/v2/oauth2/token")) == 1
    replies = [r for r in fake.requests if r.path == "/v2/conversations/123/reply"]
    assert len(replies) == 1 and replies[0].headers["authorization"] == "Bearer hs-1"
    body = replies[0].json
    assert body["customer"] == {"id": 555} and "A replacement ships today." in body["text"]
    comment.refresh_from_db()
    assert comment.delivery_state == "sent"


def test_reply_is_emailed_when_the_helpdesk_has_no_api_credentials(fake, agent, mailoutbox, django_capture_on_commit_callbacks):
    connection = helpers.connect("zendesk")
    complaint = from_helpdesk(connection)

    with django_capture_on_commit_callbacks(execute=True):
        comment = reply(complaint, agent)

    assert fake.requests == [] and len(mailoutbox) == 1
    comment.refresh_from_db()
    assert comment.delivery_channel == "email"


# --- credentials and the command --------------------------------------------------------------------------


def test_api_token_is_not_readable_in_clear_from_the_database(fake):
    connection = connect("zendesk", fake, user="agent@acme.example", token="zd-very-secret-token-123")

    with db_connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {HelpdeskConnection._meta.db_table} WHERE id = %s", [connection.pk])
        row = cursor.fetchone()
    assert not any("zd-very-secret-token-123" in str(value) for value in row)
    assert secrets.secret_decrypt(connection.api_token_encrypted) == "zd-very-secret-token-123"


def test_set_api_keeps_the_stored_token_when_none_is_given(fake):
    connection = connect("zammad", fake, token="zm-token")

    services.connection_set_api(connection=connection, api_url=fake.url + "/", api_token=None)

    connection.refresh_from_db()
    assert connection.api_url == fake.url and secrets.secret_decrypt(connection.api_token_encrypted) == "zm-token"


def test_set_api_refuses_zendesk_without_the_agent_email(fake):
    connection = helpers.connect("zendesk")

    with pytest.raises(services.InvalidInput) as error:
        services.connection_set_api(connection=connection, api_url=fake.url, api_user="", api_token="t")

    assert "email" in error.value.message


def test_command_connects_with_api_credentials_and_prints_the_path_last(db):
    out = io.StringIO()

    call_command(
        "helpdesk_connect", "zendesk", "zd-cmd", "--secret", "s3cret",
        "--api-url", "https://acme.zendesk.com", "--api-user", "agent@acme.example", "--api-token", "zd-token-cmd",
        stdout=out,
    )

    connection = HelpdeskConnection.objects.get(name="zd-cmd")
    assert out.getvalue().strip().splitlines()[-1] == connection.inbound_path
    assert "zd-token-cmd" not in out.getvalue()
    assert connection.api_url == "https://acme.zendesk.com" and connection.api_user == "agent@acme.example"
    assert secrets.secret_decrypt(connection.api_token_encrypted) == "zd-token-cmd"
    assert connection.writes_back


def test_command_helpscout_defaults_the_api_url(db):
    out = io.StringIO()

    call_command("helpdesk_connect", "helpscout", "hs-cmd", "--api-user", "app-id", "--api-token", "app-secret", stdout=out)

    connection = HelpdeskConnection.objects.get(name="hs-cmd")
    assert connection.api_url == "https://api.helpscout.net"
    assert out.getvalue().strip().splitlines()[-1] == connection.inbound_path


def test_command_refuses_incomplete_api_credentials_and_creates_nothing(db):
    with pytest.raises(CommandError, match="email"):
        call_command("helpdesk_connect", "zendesk", "zd-bad", "--api-url", "https://acme.zendesk.com", "--api-token", "t", stdout=io.StringIO())

    assert not HelpdeskConnection.objects.filter(name="zd-bad").exists()


# --- the connection's page ------------------------------------------------------------------------------------


def test_page_saves_api_settings_without_showing_the_token(fake, senior, client):
    connection = helpers.connect("freshdesk")
    client.force_login(senior)

    response = client.post(
        f"/integrations/{connection.public_id}/api/",
        {"api_url": "https://acme.freshdesk.com", "api_user": "", "api_token": "fd-page-key"},
    )

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.writes_back and secrets.secret_decrypt(connection.api_token_encrypted) == "fd-page-key"
    page = client.get(f"/integrations/{connection.public_id}/").content.decode()
    assert "https://acme.freshdesk.com" in page and "fd-page-key" not in page


def test_page_refuses_api_settings_from_an_agent(fake, agent, client):
    connection = helpers.connect("freshdesk")
    client.force_login(agent)

    response = client.post(f"/integrations/{connection.public_id}/api/", {"api_url": fake.url, "api_token": "x"})

    assert response.status_code == 403
    connection.refresh_from_db()
    assert not connection.writes_back


def test_page_lists_write_backs_with_status_and_error_and_sends_one_again(fake, senior, client, django_capture_on_commit_callbacks):
    connection = connect("zendesk", fake, user="agent@acme.example")
    complaint = from_helpdesk(connection)
    fake.script = [Answer(422, {"error": "RecordInvalid"})]
    graded(complaint, django_capture_on_commit_callbacks)
    link = HelpdeskWriteback.objects.get()
    client.force_login(senior)

    page = client.get(f"/integrations/{connection.public_id}/").content.decode()
    assert f'id="writeback-{link.pk}"' in page and "complaint.graded" in page
    assert "the receiver answered 422" in page and complaint.reference in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/integrations/{connection.public_id}/writebacks/{link.pk}/resend/")

    assert response.status_code == 302
    link.delivery.refresh_from_db()
    assert link.delivery.state == "succeeded" and len(fake.requests) == 2


def test_complaint_page_says_a_reply_goes_through_the_helpdesk(fake, agent, client):
    connection = connect("zendesk", fake, user="agent@acme.example")
    complaint = from_helpdesk(connection)
    client.force_login(agent)

    page = client.get(f"/complaints/{complaint.reference}/").content.decode()

    assert f"posted as a public comment on {connection.name} ticket #35436" in page
    assert "is emailed to" not in page


def test_agent_answer_in_the_helpdesk_is_recorded_as_sent_and_not_posted_back(fake, client, mailoutbox, django_capture_on_commit_callbacks):
    from tests.tickets.helpdesks.test_zendesk import deliver
    from tickets.models import Complaint

    connection = services.connection_set_api(
        connection=helpers.connect("zendesk", "zendesk-eu"), api_url=fake.url, api_user="agent@acme.example", api_token="zd"
    )
    deliver(client, connection, helpers.zendesk_event("created"), django_capture_on_commit_callbacks)
    comment = {"comment": {"id": "9002", "body": "So sorry, a new kettle ships today.", "is_public": True,
                           "author": {"id": "8447388090494", "is_staff": True, "name": "Agent Al"}}}

    deliver(client, connection, helpers.zendesk_event("comment_added", event=comment), django_capture_on_commit_callbacks)

    complaint = Complaint.objects.get()
    reply_ = complaint.comments.get()
    assert reply_.kind == "reply" and reply_.delivery_state == "sent" and reply_.delivery_channel == "helpdesk"
    assert complaint.first_response_at == reply_.delivered_at
    # Never echoed back as a public comment, nor emailed.
    assert not [r for r in fake.requests if r.json["ticket"]["comment"]["public"]] and mailoutbox == []
    assert "An agent answered the customer in Zendesk" in timeline(complaint)


def test_publishing_for_a_complaint_from_elsewhere_costs_no_query_once_cached(fake, django_assert_num_queries):
    connect("zendesk", fake, user="agent@acme.example")
    complaint = ComplaintFactory(source="", external_id=None)
    data = {"complaint": complaint_data(complaint), "grade": {"from": None, "to": "bad", "score": 40, "reasons": []}}
    event_publish(type="complaint.graded", data=data)  # fills the caches

    with django_assert_num_queries(0):
        assert event_publish(type="complaint.graded", data=data) is None
