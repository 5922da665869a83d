"""notifications.queue: tasks are published after commit on one producer per process, whatever the thread."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest

from cxrecovery.celery import app as celery_app
from notifications import queue


@contextmanager
def _broker(monkeypatch, url: str):
    # Celery reads CELERY_BROKER_URL from the environment before its own setting (the real-service pass sets it).
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    previous = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = url, False
    try:
        yield celery_app
    finally:
        with queue._lock:
            queue._producer_drop()
        celery_app.conf.broker_url, celery_app.conf.task_always_eager = previous


@pytest.fixture
def broker_app(monkeypatch):
    # A broker URL is enough: a producer connects only when it first publishes, and these tests never do.
    with _broker(monkeypatch, "redis://127.0.0.1:1/0") as app:
        yield app


def test_every_thread_publishes_on_the_one_producer_of_the_process(broker_app):
    producers = []

    def take() -> None:
        with queue._lock:
            producers.append(queue._producer(broker_app))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(producers) == 8 and len({id(p) for p in producers}) == 1


def test_another_broker_url_gets_a_producer_of_its_own(broker_app):
    with queue._lock:
        first = queue._producer(broker_app)
        broker_app.conf.broker_url = "redis://127.0.0.1:2/0"
        second = queue._producer(broker_app)

    assert second is not first


@pytest.fixture
def memory_broker(monkeypatch):
    # kombu's in-memory transport: real messages, readable back, no service needed.
    with _broker(monkeypatch, "memory://localhost/") as app:
        yield app


def _take(app, queue_name: str) -> dict:
    with app.connection_for_write() as connection:  # the URL the publishers used
        message = connection.default_channel.basic_get(queue_name, no_ack=True)
    assert message is not None, f"nothing on {queue_name}"
    return {"headers": dict(message.headers), "properties": dict(message.properties), "body": message.body}


def _without_ids(message: dict) -> dict:
    headers = {k: v for k, v in message["headers"].items() if k not in {"id", "root_id"}}
    properties = {
        k: v for k, v in message["properties"].items()
        # apply_async also copies argsrepr/kwargsrepr into the properties; the worker reads them from the headers.
        if k not in {"correlation_id", "delivery_tag", "argsrepr", "kwargsrepr"}
    }
    return {"headers": headers, "properties": properties, "body": message["body"]}


@pytest.mark.parametrize(
    ("task_path", "args"),
    [("recovery.escalation.tasks.complaint_assess_task", (41, "logged")), ("notifications.tasks.outbound_email_task", (7,))],
)
def test_publish_sends_the_message_apply_async_would(memory_broker, task_path, args):
    from importlib import import_module

    module, name = task_path.rsplit(".", 1)
    task = getattr(import_module(module), name)
    queue_name = memory_broker.amqp.router.route({}, task.name, args, {}, task)["queue"].name

    queue.publish(task, args, {})
    ours = _take(memory_broker, queue_name)
    # (on a producer of its own: Celery's pool may hold connections to the broker an earlier test configured)
    with memory_broker.connection_for_write() as connection:
        producer = memory_broker.amqp.Producer(connection)
        task.apply_async(args=args, kwargs={}, argsrepr=repr(args), kwargsrepr="{}", producer=producer)
    theirs = _take(memory_broker, queue_name)

    assert ours["headers"]["task"] == task.name and ours["headers"]["argsrepr"] == repr(args)
    assert ours["headers"]["id"] == ours["headers"]["root_id"] == ours["properties"]["correlation_id"]
    assert _without_ids(ours) == _without_ids(theirs)


def test_a_publisher_kept_waiting_on_the_producer_uses_a_connection_of_its_own(memory_broker, monkeypatch):
    from recovery.escalation.tasks import complaint_assess_task

    monkeypatch.setattr(queue, "PRODUCER_WAIT_SECONDS", 0.05)
    with queue._lock:  # another thread holds the process's producer (retrying against a broker that is down)
        queue.publish(complaint_assess_task, (3, "logged"), {})

    assert _take(memory_broker, memory_broker.conf.task_default_queue)["headers"]["argsrepr"] == "(3, 'logged')"
