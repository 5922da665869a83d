"""Connections (secrets, command, pages, mapping), the delivery task, process again, the purge sweep."""

from __future__ import annotations

import datetime as dt
import io
import json
from unittest import mock

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tests.tickets.helpdesks.helpers import (
    SECRET,
    connect,
    helpscout_conversation,
    helpscout_headers,
    post,
    raw,
    zammad_body,
    zammad_headers,
)
from tickets.helpdesks import secrets, services
from tickets.helpdesks.models import HelpdeskConnection, HelpdeskDelivery
from tickets.helpdesks.tasks import helpdesk_deliveries_sweep_task, helpdesk_delivery_process_task
from tickets.models import Complaint

pytestmark = pytest.mark.django_db


def _stored(connection: HelpdeskConnection, capture, payload=None) -> HelpdeskDelivery:
    body = raw(payload or zammad_body())
    with capture(execute=False):
        response = post(Client(), connection, body, **zammad_headers(body))
    assert response.status_code == 202
    return HelpdeskDelivery.objects.get(pk=response.json()["delivery"])


# --- secrets -------------------------------------------------------------------------------------------


def test_connection_secret_is_not_readable_in_clear_from_the_database():
    connection = connect("zendesk")

    row = HelpdeskConnection.objects.filter(pk=connection.pk).values().get()

    assert not any(SECRET in str(value) for value in row.values())
    assert secrets.secret_decrypt(row["secret_encrypted"]) == SECRET


def test_secrets_key_from_the_environment_encrypts_and_can_be_rotated(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.HELPDESK_SECRETS_KEY = old
    token = secrets.secret_encrypt("abc")

    settings.HELPDESK_SECRETS_KEY = f"{new},{old}"  # newest first, the old one still reads
    assert secrets.secret_decrypt(token) == "abc"

    settings.HELPDESK_SECRETS_KEY = new
    with pytest.raises(secrets.SecretUnreadable):
        secrets.secret_decrypt(token)


def test_unreadable_secret_refuses_deliveries_with_401(client, settings):
    connection = connect("zammad")
    settings.HELPDESK_SECRETS_KEY = Fernet.generate_key().decode()  # not the key it was stored with
    body = raw(zammad_body())

    response = post(client, connection, body, **zammad_headers(body))

    assert response.status_code == 401 and HelpdeskDelivery.objects.count() == 0


# --- command -------------------------------------------------------------------------------------------


def test_helpdesk_connect_prints_the_inbound_path_alone_on_its_last_line(client, django_capture_on_commit_callbacks):
    out = io.StringIO()

    call_command("helpdesk_connect", "helpscout", "hs-shop", "--secret", "abc123", stdout=out)

    path = out.getvalue().strip().splitlines()[-1]
    connection = HelpdeskConnection.objects.get(name="hs-shop")
    assert path == connection.inbound_path and path.startswith("/hooks/helpdesk/")
    body = raw(helpscout_conversation())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(path, data=body, content_type="application/json",
                               headers=helpscout_headers(body, "convo.created", secret="abc123"))
    assert response.status_code == 202
    assert Complaint.objects.filter(source="hs-shop").count() == 1


def test_helpdesk_connect_refuses_a_name_in_use():
    connect("zendesk", "desk")

    with pytest.raises(Exception, match="already exists"):
        call_command("helpdesk_connect", "zendesk", "desk", stdout=io.StringIO())


# --- endpoint details ----------------------------------------------------------------------------------


def test_inbound_endpoint_needs_no_csrf_token_or_session(django_capture_on_commit_callbacks):
    connection = connect("zammad")
    body = raw(zammad_body())

    with django_capture_on_commit_callbacks(execute=True):
        response = post(Client(enforce_csrf_checks=True), connection, body, **zammad_headers(body))

    assert response.status_code == 202


def test_inbound_endpoint_refuses_a_body_over_the_limit(client, settings):
    settings.HELPDESK_MAX_BODY_BYTES = 200
    connection = connect("zammad")
    body = raw(zammad_body())

    response = post(client, connection, body, **zammad_headers(body))

    assert response.status_code == 413 and HelpdeskDelivery.objects.count() == 0


def test_inbound_endpoint_is_not_in_the_openapi_schema(agent_client):
    response = agent_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200 and "hooks/helpdesk" not in response.content.decode()


def test_answer_comes_before_processing(django_capture_on_commit_callbacks):
    connection = connect("zammad")

    delivery = _stored(connection, django_capture_on_commit_callbacks)

    # Stored and answered; the task runs only after the commit.
    assert delivery.result == "pending" and Complaint.objects.count() == 0


def test_api_finds_the_complaint_by_source_and_external_id(key_client, client, django_capture_on_commit_callbacks):
    connection = connect("zammad", "zammad-support")
    body = raw(zammad_body())
    with django_capture_on_commit_callbacks(execute=True):
        post(client, connection, body, **zammad_headers(body))
    Complaint.objects.create(customer=Complaint.objects.get().customer, source="other", external_id="81",
                             cause="other", severity=2, subject="Same id, other source")

    response = key_client.get("/api/v1/complaints/?source=zammad-support&external_id=81")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["subject"] for r in results] == ["Waited 40 minutes and the barista was rude"]


# --- task, failure, process again, sweep ---------------------------------------------------------------


def test_process_task_run_twice_has_one_effect(django_capture_on_commit_callbacks):
    delivery = _stored(connect("zammad"), django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        first = helpdesk_delivery_process_task(delivery.pk)
        second = helpdesk_delivery_process_task(delivery.pk)

    delivery.refresh_from_db()
    assert (first, second) == ("processed", "processed")
    assert delivery.attempts == 1 and Complaint.objects.count() == 1
    assert Complaint.objects.get().events.filter(kind="logged").count() == 1


def test_processing_failure_keeps_the_delivery_for_process_again(django_capture_on_commit_callbacks):
    delivery = _stored(connect("zammad"), django_capture_on_commit_callbacks)

    with mock.patch("tickets.services.complaint_log", side_effect=RuntimeError("database hiccup")):
        assert services.delivery_process(delivery_id=delivery.pk) == "failed"

    delivery.refresh_from_db()
    assert (delivery.result, delivery.error, delivery.attempts) == ("failed", "database hiccup", 1)
    assert Complaint.objects.count() == 0 and delivery.body  # kept raw

    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_retry(delivery=delivery)

    delivery.refresh_from_db()
    assert (delivery.result, delivery.error, delivery.attempts) == ("processed", "", 2)
    assert delivery.complaint == Complaint.objects.get()


def test_processed_delivery_cannot_be_retried(django_capture_on_commit_callbacks):
    from tickets.errors import InvalidInput

    delivery = _stored(connect("zammad"), django_capture_on_commit_callbacks)
    services.delivery_process(delivery_id=delivery.pk)

    with pytest.raises(InvalidInput):
        services.delivery_retry(delivery=delivery)


def test_sweep_purges_old_raw_deliveries_in_one_statement(django_capture_on_commit_callbacks, django_assert_num_queries):
    connection = connect("zammad")
    old = _stored(connection, django_capture_on_commit_callbacks)
    recent = _stored(connection, django_capture_on_commit_callbacks)
    HelpdeskDelivery.objects.filter(pk=old.pk).update(received_at=timezone.now() - dt.timedelta(days=31))

    with django_assert_num_queries(1):
        purged = services.deliveries_purge()

    assert purged == 1
    assert list(HelpdeskDelivery.objects.values_list("pk", flat=True)) == [recent.pk]


def test_sweep_requeues_deliveries_whose_task_was_lost(django_capture_on_commit_callbacks):
    delivery = _stored(connect("zammad"), django_capture_on_commit_callbacks)
    HelpdeskDelivery.objects.filter(pk=delivery.pk).update(received_at=timezone.now() - dt.timedelta(minutes=10))

    with django_capture_on_commit_callbacks(execute=True):
        first = helpdesk_deliveries_sweep_task()
        second = helpdesk_deliveries_sweep_task()

    assert first == {"purged": 0, "requeued": 1} and second == {"purged": 0, "requeued": 0}
    assert HelpdeskDelivery.objects.get().result == "processed" and Complaint.objects.count() == 1


def test_run_sweeps_includes_the_helpdesk_sweep():
    from cxrecovery.sweeps import SWEEPS

    assert helpdesk_deliveries_sweep_task.name in {sweep.task for sweep in SWEEPS}


# --- pages ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 302), ("outsider", 403), ("agent", 403), ("lead", 403), ("senior", 200), ("executive", 200)],
)
def test_integrations_page_is_for_managers(request, who, expected):
    client = Client()
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))

    assert client.get("/integrations/").status_code == expected


def test_manager_creates_a_connection_and_sees_the_secret_once(senior):
    client = Client()
    client.force_login(senior)

    response = client.post("/integrations/", {"kind": "freshdesk", "name": "fd-eu", "secret": ""})

    assert response.status_code == 201
    connection = HelpdeskConnection.objects.get(name="fd-eu")
    secret = response.context["secret"]
    page = response.content.decode()
    assert secret in page and f"http://testserver{connection.inbound_path}" in page
    assert "freshdesk_webhook" in page and "Requires authentication" in page
    assert secrets.secret_matches(secret, connection.secret_hash)
    detail = client.get(f"/integrations/{connection.public_id}/").content.decode()
    assert secret not in detail and connection.inbound_path in detail


def test_create_form_refuses_a_duplicate_name(senior):
    connect("zendesk", "desk")
    client = Client()
    client.force_login(senior)

    response = client.post("/integrations/", {"kind": "zendesk", "name": "desk"})

    assert response.status_code == 422 and "already exists" in response.content.decode()


def test_zendesk_page_shows_the_trigger_template(senior):
    connection = connect("zendesk")
    client = Client()
    client.force_login(senior)

    page = client.get(f"/integrations/{connection.public_id}/").content.decode()

    assert "{{ticket.requester.email}}" in page and "X-Zendesk-Webhook-Signature" in page


def test_manager_edits_the_mapping(senior, client, django_capture_on_commit_callbacks):
    connection = connect("zammad")
    client.force_login(senior)
    form = {
        "active": "on", "cause_map": "barista = staff_conduct\nrude = staff_conduct", "cause_field": "",
        "default_cause": "ignored", "severity_map": "high = 5", "default_severity": "2",
        "status_map": "closed = resolved",
    }

    response = client.post(f"/integrations/{connection.public_id}/", form)

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.cause_map == {"barista": "staff_conduct", "rude": "staff_conduct"}
    assert connection.severity_map == {"high": 5}
    body = raw(zammad_body(tags=["other"]))
    with django_capture_on_commit_callbacks(execute=True):
        post(client, connection, body, **zammad_headers(body))
    assert (Complaint.objects.get().cause, Complaint.objects.get().severity) == ("ignored", 5)


def test_mapping_form_refuses_unknown_causes(senior, client):
    connection = connect("zammad")
    client.force_login(senior)

    response = client.post(f"/integrations/{connection.public_id}/", {
        "cause_map": "rude = grumpy", "default_cause": "other", "default_severity": "3",
    })

    assert response.status_code == 422 and "Unknown cause: grumpy" in response.content.decode()


def test_cause_from_custom_field_wins_over_tags(client, django_capture_on_commit_callbacks):
    connection = connect("zammad")
    services.connection_update_mapping(connection=connection, changes={"cause_field": "complaint_cause"})
    body = raw(zammad_body(complaint_cause="pricing"))

    with django_capture_on_commit_callbacks(execute=True):
        post(client, connection, body, **zammad_headers(body))

    assert Complaint.objects.get().cause == "pricing"


def test_delivery_log_filters_by_result_and_processes_again(senior, django_capture_on_commit_callbacks):
    connection = connect("zammad")
    failed = _stored(connection, django_capture_on_commit_callbacks)
    HelpdeskDelivery.objects.filter(pk=failed.pk).update(result="failed", error="Boom: try again")
    ignored = _stored(connection, django_capture_on_commit_callbacks, {"no": "ticket"})
    services.delivery_process(delivery_id=ignored.pk)
    client = Client()
    client.force_login(senior)

    page = client.get(f"/integrations/{connection.public_id}/?result=failed").content.decode()
    assert f'id="delivery-{failed.pk}"' in page and f'id="delivery-{ignored.pk}"' not in page
    assert "Boom: try again" in page and "Process again" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/integrations/{connection.public_id}/deliveries/{failed.pk}/retry/?result=failed")

    assert response.status_code == 302 and response["Location"].endswith("?result=failed")
    failed.refresh_from_db()
    assert failed.result == "processed" and Complaint.objects.count() == 1


def test_agent_cannot_process_again(agent, django_capture_on_commit_callbacks):
    connection = connect("zammad")
    delivery = _stored(connection, django_capture_on_commit_callbacks)
    client = Client()
    client.force_login(agent)

    response = client.post(f"/integrations/{connection.public_id}/deliveries/{delivery.pk}/retry/")

    assert response.status_code == 403


def test_replacing_the_secret_refuses_the_old_one(senior, client):
    connection = connect("zammad")
    client.force_login(senior)

    client.post(f"/integrations/{connection.public_id}/secret/", {"secret": "brand-new"})

    body = raw(zammad_body())
    assert post(Client(), connection, body, **zammad_headers(body)).status_code == 401
    assert post(Client(), connection, body, **zammad_headers(body, secret="brand-new")).status_code == 202


def test_admin_creates_a_connection_with_an_encrypted_secret(client, executive):
    executive.is_staff = True
    executive.is_superuser = True
    executive.save()
    client.force_login(executive)

    response = client.post("/admin/tickets/helpdeskconnection/add/", {
        "kind": "helpscout", "name": "hs-admin", "active": "on", "cause_map": json.dumps({"rude": "staff_conduct"}),
        "cause_field": "", "default_cause": "other", "severity_map": "{}", "default_severity": "3",
        "status_map": "{}", "new_secret": "from-admin",
    })

    assert response.status_code == 302, response.content.decode()[:2000]
    connection = HelpdeskConnection.objects.get(name="hs-admin")
    assert secrets.secret_decrypt(connection.secret_encrypted) == "from-admin"
    assert connection.status_map == {"closed": "resolved"}


def test_pages_query_count_does_not_grow_with_deliveries(senior, django_capture_on_commit_callbacks,
                                                         django_assert_max_num_queries):
    connection = connect("zammad")
    for number in range(15):
        body = raw(zammad_body(id=100 + number))
        with django_capture_on_commit_callbacks(execute=True):
            post(Client(), connection, body, **zammad_headers(body))
    for other in range(5):
        connect("helpscout", f"hs-{other}")
    client = Client()
    client.force_login(senior)

    with django_assert_max_num_queries(12):
        assert client.get(f"/integrations/{connection.public_id}/").status_code == 200
    with django_assert_max_num_queries(10):
        assert client.get("/integrations/").status_code == 200
