"""Write-back through PostgreSQL, Redis and a real Celery worker: a logged ugly complaint from a connected Zendesk
is graded and escalated by the worker, and both decisions land on the (fake) Zendesk ticket as private comments.
Skipped without the services; fails in CI's service pass (CX_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import pytest

from notifications.models import Delivery
from tests import test_real_services as real
from tests.tickets.helpdesks.fake_api import start_fake
from tests.tickets.helpdesks.helpers import connect
from tickets import services as ticket_services
from tickets.actors import ActorRef
from tickets.helpdesks import services

celery_worker_process = real.celery_worker_process

pytestmark = [pytest.mark.real_services, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def fake_zendesk(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    fake, server = start_fake()
    yield fake
    server.shutdown()
    server.server_close()


def test_a_logged_ugly_complaint_is_written_back_to_zendesk_by_the_worker(celery_worker_process, fake_zendesk, agent, executive):
    connection = connect("zendesk", "zendesk-live")
    services.connection_set_api(connection=connection, api_url=fake_zendesk.url, api_user="agent@acme.example", api_token="zd")
    data = ticket_services.ComplaintInput(
        customer=ticket_services.CustomerInput(email="furious@example.com", social_reach=40_000),
        fields={"cause": "staff_conduct", "severity": 4, "subject": "Agent swore at me in chat",
                "says_wont_return": True, "threatens_public": True},
        source="zendesk-live",
        external_id="35436",
    )

    ticket_services.complaint_log(data=data, actor=ActorRef(user=agent))

    log = celery_worker_process / "worker.log"
    assert real.wait_for(
        lambda: Delivery.objects.filter(target_kind="helpdesk", state="succeeded").count() >= 2, timeout=60
    ), log.read_text()[-3000:]
    tags = {tag for r in fake_zendesk.requests for tag in r.json["ticket"].get("additional_tags", [])}
    assert "cx-ugly" in tags and any(tag.startswith("cx-escalated-") for tag in tags)
    assert {(r.method, r.path) for r in fake_zendesk.requests} == {("PUT", "/api/v2/tickets/35436")}
    assert all(r.json["ticket"]["comment"]["public"] is False for r in fake_zendesk.requests)
