"""The webhooks pages: managers only; add (secret shown once), edit, send again, replay."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from notifications import services
from notifications.models import Delivery, WebhookEndpoint

pytestmark = pytest.mark.django_db


def html(response) -> str:
    return response.content.decode()


@pytest.fixture
def manager_web(client, senior):
    client.force_login(senior)
    return client


def test_webhooks_page_is_for_managers(client, agent, lead):
    assert client.get("/webhooks/").status_code == 302
    client.force_login(agent)
    assert client.get("/webhooks/").status_code == 403
    client.force_login(lead)
    assert client.get("/webhooks/").status_code == 403


def test_webhooks_page_adds_an_endpoint_and_shows_its_secret_once(manager_web):
    response = manager_web.post("/webhooks/", {"url": "https://example.com/h", "events": ["complaint.escalated"], "description": "Slack"}, follow=True)

    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["complaint.escalated"] and endpoint.description == "Slack"
    secret = re.search(r'id="webhook-secret">(whsec_[^<]+)<', html(response)).group(1)
    assert "whsec_" in secret
    assert "whsec_" not in html(manager_web.get(f"/webhooks/{endpoint.pk}/"))


def test_webhooks_page_refuses_an_invalid_url_in_the_form(manager_web):
    response = manager_web.post("/webhooks/", {"url": "javascript:alert(1)"})

    assert response.status_code == 400 and "Give a full http" in html(response)
    assert WebhookEndpoint.objects.count() == 0


def test_webhook_page_lists_deliveries_and_sends_one_again(manager_web, receiver, django_capture_on_commit_callbacks):
    endpoint = services.webhook_endpoint_create(url=receiver.url).endpoint
    receiver.script = [500]
    with django_capture_on_commit_callbacks(execute=True):
        event = services.event_publish(type="complaint.logged", data={"n": 1})
    delivery = Delivery.objects.get()

    page = html(manager_web.get(f"/webhooks/{endpoint.pk}/"))
    assert event.msg_id in page and "the receiver answered 500" in page

    with django_capture_on_commit_callbacks(execute=True):
        manager_web.post(f"/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/resend/")
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SUCCEEDED and len(receiver.requests) == 2


def test_webhook_page_replays_failed_deliveries(manager_web, receiver, django_capture_on_commit_callbacks):
    endpoint = services.webhook_endpoint_create(url=receiver.url).endpoint
    services.event_publish(type="complaint.logged", data={"n": 1})
    Delivery.objects.update(state=Delivery.State.FAILED)
    since = (timezone.now() - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")

    with django_capture_on_commit_callbacks(execute=True):
        response = manager_web.post(f"/webhooks/{endpoint.pk}/replay/", {"since": since}, follow=True)

    assert "Sending 1 failed delivery again." in html(response)
    assert Delivery.objects.get().state == Delivery.State.SUCCEEDED


def test_webhook_templates_have_no_inline_script_or_style(manager_web):
    endpoint = services.webhook_endpoint_create(url="https://example.com/h").endpoint
    for url in ("/webhooks/", f"/webhooks/{endpoint.pk}/"):
        page = html(manager_web.get(url))
        assert "<script>" not in page and "style=" not in page and "onclick" not in page
