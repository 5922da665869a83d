"""notifications.queue: tasks are published after commit on one producer per process, whatever the thread."""

from __future__ import annotations

import threading

import pytest

from cxrecovery.celery import app as celery_app
from notifications import queue


@pytest.fixture
def broker_app(monkeypatch):
    # A broker URL is enough: a producer connects only when it first publishes, and these tests never do.
    # Celery reads CELERY_BROKER_URL from the environment before its own setting (the real-service pass sets it).
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    previous = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    celery_app.conf.broker_url, celery_app.conf.task_always_eager = "redis://127.0.0.1:1/0", False
    try:
        yield celery_app
    finally:
        with queue._lock:
            queue._producer_drop()
        celery_app.conf.broker_url, celery_app.conf.task_always_eager = previous


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
