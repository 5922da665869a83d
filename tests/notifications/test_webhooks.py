"""Outbox and webhook delivery against a real HTTP receiver on 127.0.0.1."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from standardwebhooks import Webhook

from cxrecovery.celery import app as celery_app
from notifications import services, tasks
from notifications.delivery import TargetRefused, http_post, resolve_public, retry_delay
from notifications.models import Delivery, DeliveryAttempt, Notification, OutboxEvent, WebhookEndpoint
from notifications.secrets import secret_decrypt

pytestmark = pytest.mark.django_db


def subscribe(url: str, events: list[str] | None = None) -> services.NewEndpoint:
    return services.webhook_endpoint_create(url=url, events=events or [], description="test")


def publish(data: dict | None = None, type: str = "complaint.logged") -> OutboxEvent | None:  # noqa: A002
    return services.event_publish(type=type, data=data or {"complaint": {"reference": "CX-000001"}})


def later(seconds: float):
    return timezone.now() + timedelta(seconds=seconds)


# --- the outbox ---------------------------------------------------------------------------------------------


def test_event_publish_in_a_rolled_back_transaction_leaves_no_event(receiver):
    subscribe(receiver.url)

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            publish()
            raise RuntimeError("the write failed")

    assert OutboxEvent.objects.count() == 0 and Delivery.objects.count() == 0


def test_event_publish_committed_has_one_event_and_a_delivery_per_subscribed_endpoint(receiver, django_capture_on_commit_callbacks):
    everything = subscribe(receiver.url).endpoint
    logged_only = subscribe(receiver.url + "?b", ["complaint.logged"]).endpoint
    subscribe(receiver.url + "?c", ["offer.fulfilled"])

    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            event = publish()

    assert OutboxEvent.objects.get().pk == event.pk
    assert {d.endpoint_id for d in Delivery.objects.all()} == {everything.pk, logged_only.pk}
    assert len(receiver.requests) == 2


def test_event_publish_without_subscribers_stores_nothing_and_costs_no_query_once_cached(django_assert_num_queries):
    publish()  # fills the subscription cache

    with django_assert_num_queries(0):
        assert publish() is None
    assert OutboxEvent.objects.count() == 0


def test_event_publish_sees_an_endpoint_created_after_the_cache_was_filled():
    publish()
    endpoint = subscribe("https://example.com/hook").endpoint

    with transaction.atomic():
        publish()

    assert Delivery.objects.get().endpoint == endpoint


# --- signed deliveries -------------------------------------------------------------------------------------


def test_delivery_is_signed_per_standard_webhooks_and_verifies_with_the_library(receiver, django_capture_on_commit_callbacks):
    new = subscribe(receiver.url)

    with django_capture_on_commit_callbacks(execute=True):
        event = publish({"complaint": {"reference": "CX-000042"}})

    [request] = receiver.requests
    payload = Webhook(new.secret).verify(request.body, request.headers)
    assert payload["type"] == "complaint.logged" and payload["version"] == 1
    assert payload["data"] == {"complaint": {"reference": "CX-000042"}} and payload["timestamp"].endswith("Z")
    assert request.headers["webhook-id"] == event.msg_id and request.headers["webhook-signature"].startswith("v1,")
    assert request.headers["content-type"] == "application/json"
    assert Delivery.objects.get().state == Delivery.State.SUCCEEDED


def test_delivery_signature_fails_with_another_secret(receiver, django_capture_on_commit_callbacks):
    from standardwebhooks.webhooks import WebhookVerificationError

    subscribe(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        publish()

    with pytest.raises(WebhookVerificationError):
        Webhook(subscribe("https://example.com/x").secret).verify(receiver.requests[0].body, receiver.requests[0].headers)


def test_endpoint_secret_is_stored_encrypted_and_decrypts_to_the_secret_shown():
    new = subscribe("https://example.com/hook")

    stored = WebhookEndpoint.objects.get().secret_encrypted
    assert new.secret.startswith("whsec_") and new.secret not in stored
    assert secret_decrypt(stored) == new.secret


def test_receiver_failing_twice_gets_the_same_webhook_id_three_times_and_one_success(receiver, django_capture_on_commit_callbacks):
    # given a receiver answering 500, 500, then 200
    subscribe(receiver.url)
    receiver.script = [500, 500]

    # when the first try and the two retries run as they fall due
    with django_capture_on_commit_callbacks(execute=True):
        event = publish()
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.PENDING and delivery.attempts == 1
    assert timedelta(seconds=3) < delivery.next_attempt_at - delivery.last_attempt_at < timedelta(seconds=7)
    tasks.webhook_delivery_task(delivery.pk)  # not due yet: nothing happens
    assert len(receiver.requests) == 1
    services.delivery_attempt(delivery_id=delivery.pk, now=later(10))
    services.delivery_attempt(delivery_id=delivery.pk, now=later(400))

    # then
    assert [r.headers["webhook-id"] for r in receiver.requests] == [event.msg_id] * 3
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("succeeded", 3, 200)
    attempts = list(DeliveryAttempt.objects.filter(delivery=delivery).order_by("number"))
    assert [(a.status_code, a.success) for a in attempts] == [(500, False), (500, False), (200, True)]
    assert "receiver error" in attempts[0].response_excerpt and attempts[0].error == "the receiver answered 500"


def test_delivery_task_run_twice_sends_once(receiver):
    subscribe(receiver.url)
    with transaction.atomic():
        publish()
    delivery = Delivery.objects.get()

    assert tasks.webhook_delivery_task(delivery.pk) == "succeeded"
    assert tasks.webhook_delivery_task(delivery.pk) == "skipped"

    assert len(receiver.requests) == 1


def test_delivery_fails_after_the_retry_schedule_is_used_up(receiver, settings):
    settings.WEBHOOKS_RETRY_SCHEDULE = (5, 10)
    subscribe(receiver.url)
    receiver.default_status = 503
    publish()
    delivery = Delivery.objects.get()

    for step in range(3):
        services.delivery_attempt(delivery_id=delivery.pk, now=later(20 * step))

    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("failed", 3)
    assert services.delivery_attempt(delivery_id=delivery.pk, now=later(3600)).state == "skipped"


@pytest.mark.parametrize("failed, low, high", [(1, 4, 6), (2, 240, 360), (3, 1440, 2160), (6, 28800, 43200)])
def test_retry_delay_follows_the_schedule_with_jitter(failed, low, high):
    assert all(low <= retry_delay(failed) <= high for _ in range(50))


def test_retry_delay_is_none_after_the_last_retry():
    assert retry_delay(7) is None


def test_hanging_receiver_times_out_and_is_logged(receiver, settings):
    settings.WEBHOOKS_READ_TIMEOUT = 0.5
    receiver.hang_seconds = 3
    subscribe(receiver.url)
    publish()
    delivery = Delivery.objects.get()

    started = time.monotonic()
    services.delivery_attempt(delivery_id=delivery.pk)

    assert time.monotonic() - started < 2.5
    attempt = DeliveryAttempt.objects.get()
    assert attempt.error == "timed out (read)" and attempt.status_code is None and attempt.latency_ms >= 400
    assert Delivery.objects.get().state == Delivery.State.PENDING


def test_delivery_task_is_routed_to_its_own_queue():
    route = celery_app.amqp.router.route({}, tasks.webhook_delivery_task.name, args=(1,), kwargs={})

    assert route["queue"].name == "webhooks"
    default = celery_app.amqp.router.route({}, "recovery.escalation.tasks.complaint_assess_task", args=(1,), kwargs={})
    assert default["queue"].name != "webhooks"


# --- the private-address guard -----------------------------------------------------------------------------


def test_guard_refuses_loopback_target_at_send_time(receiver, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    settings.DEBUG = False
    subscribe(receiver.url)
    publish()

    services.delivery_attempt(delivery_id=Delivery.objects.get().pk)

    assert receiver.requests == []
    attempt = DeliveryAttempt.objects.get()
    assert attempt.error.startswith("refused:") and "127.0.0.1" in attempt.error


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "10.1.2.3", "192.168.0.10", "172.16.5.4", "169.254.169.254", "[::1]", "[fe80::1]", "0.0.0.0", "[::ffff:127.0.0.1]", "100.64.0.1", "localhost"],
)
def test_guard_refuses_private_loopback_and_link_local_addresses(settings, host):
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    settings.DEBUG = False

    result = http_post(url=f"http://{host}:9/hook", headers={}, content="{}")

    assert not result.success and result.error.startswith("refused:")


def test_guard_checks_every_address_a_name_resolves_to(monkeypatch):
    def fake_getaddrinfo(host, port, type=0):  # noqa: A002
        return [(2, 1, 6, "", ("93.184.216.34", port)), (2, 1, 6, "", ("10.0.0.7", port))]

    monkeypatch.setattr("notifications.delivery.socket.getaddrinfo", fake_getaddrinfo)

    with pytest.raises(TargetRefused, match="10.0.0.7"):
        resolve_public("rebind.example", 443)


def test_guard_allows_a_public_address(monkeypatch):
    monkeypatch.setattr(
        "notifications.delivery.socket.getaddrinfo", lambda host, port, type=0: [(2, 1, 6, "", ("93.184.216.34", port))]  # noqa: A006
    )

    assert resolve_public("example.com", 443) == "93.184.216.34"


# --- the sweep, resend and replay --------------------------------------------------------------------------


def test_sweep_resends_a_delivery_whose_task_was_lost_mid_send(receiver):
    subscribe(receiver.url)
    publish()
    delivery = Delivery.objects.get()
    # A worker claimed it and died before recording anything.
    Delivery.objects.filter(pk=delivery.pk).update(state=Delivery.State.SENDING, claimed_at=timezone.now() - timedelta(minutes=10))

    assert tasks.webhook_deliveries_sweep_task() == 1
    assert tasks.webhook_deliveries_sweep_task() == 0

    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SUCCEEDED and len(receiver.requests) == 1


def test_sweep_sends_a_delivery_whose_task_never_ran(receiver):
    subscribe(receiver.url)
    publish()  # no on-commit callbacks captured: the task was never queued
    Delivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=2))

    tasks.webhook_deliveries_sweep_task()

    assert Delivery.objects.get().state == Delivery.State.SUCCEEDED and len(receiver.requests) == 1


def test_sweep_leaves_a_delivery_being_sent_right_now_alone(receiver):
    subscribe(receiver.url)
    publish()
    Delivery.objects.update(state=Delivery.State.SENDING, claimed_at=timezone.now())

    assert tasks.webhook_deliveries_sweep_task() == 0
    assert receiver.requests == []


def test_delivery_resend_sends_a_delivered_event_again_with_the_same_id(receiver, django_capture_on_commit_callbacks):
    subscribe(receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        publish()
    delivery = Delivery.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_resend(delivery=delivery)

    assert len(receiver.requests) == 2
    assert receiver.requests[0].headers["webhook-id"] == receiver.requests[1].headers["webhook-id"]
    assert Delivery.objects.get().attempts == 2


def test_replay_sends_again_only_failed_deliveries_since_the_time_given(receiver, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOKS_RETRY_SCHEDULE = ()
    endpoint = subscribe(receiver.url).endpoint
    receiver.script = [500, 500, 200]
    with django_capture_on_commit_callbacks(execute=True):
        old, recent, fine = publish({"n": 1}), publish({"n": 2}), publish({"n": 3})
    Delivery.objects.filter(event=old).update(created_at=timezone.now() - timedelta(days=3))
    assert list(Delivery.objects.order_by("event_id").values_list("state", flat=True)) == ["failed", "failed", "succeeded"]

    with django_capture_on_commit_callbacks(execute=True):
        count = services.webhook_endpoint_replay(endpoint=endpoint, since=timezone.now() - timedelta(days=1))

    assert count == 1
    assert [json.loads(b)["data"] for b in receiver.bodies()] == [{"n": 1}, {"n": 2}, {"n": 3}, {"n": 2}]
    assert Delivery.objects.get(event=recent).state == Delivery.State.SUCCEEDED
    assert Delivery.objects.get(event=old).state == Delivery.State.FAILED
    assert fine


# --- endpoints that keep failing ---------------------------------------------------------------------------


def test_endpoint_failing_for_days_is_switched_off_and_managers_are_told(receiver, senior, agent):
    endpoint = subscribe(receiver.url).endpoint
    receiver.default_status = 500
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=4))
    publish()

    services.delivery_attempt(delivery_id=Delivery.objects.get().pk)

    endpoint.refresh_from_db()
    assert not endpoint.active and "failed for 3 days" in endpoint.disabled_reason
    assert list(Notification.objects.values_list("recipient__username", flat=True)) == [senior.username]
    assert publish() is None  # a switched-off endpoint gets no new deliveries


def test_endpoint_success_clears_its_failure_record(receiver):
    endpoint = subscribe(receiver.url).endpoint
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=1))
    publish()

    services.delivery_attempt(delivery_id=Delivery.objects.get().pk)

    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.active


def test_endpoint_switched_back_on_clears_the_reason():
    endpoint = subscribe("https://example.com/h").endpoint
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False, disabled_reason="x", failing_since=timezone.now())

    endpoint = services.webhook_endpoint_update(endpoint=endpoint, changes={"active": True})

    assert endpoint.active and endpoint.disabled_reason == "" and endpoint.failing_since is None


def test_endpoint_deleted_while_an_event_is_being_published_does_not_break_the_publisher(receiver):
    endpoint = subscribe(receiver.url).endpoint
    with transaction.atomic():
        event = publish()  # the publisher read the endpoint and inserted its delivery ...
        services.webhook_endpoint_delete(endpoint=endpoint)  # ... as a manager deletes it

    assert OutboxEvent.objects.get() == event  # the publisher's transaction committed
    assert Delivery.objects.get().state == Delivery.State.FAILED
    assert publish() is None and services.delivery_attempt(delivery_id=Delivery.objects.get().pk).state == "skipped"
    assert receiver.requests == []
