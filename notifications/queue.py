"""Queue Celery work after the surrounding transaction commits, without ever failing the request.

A broker outage delays work but never loses the data: the row is already committed, and the
periodic sweeps of each app find work whose task never arrived.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

_local = threading.local()


def enqueue_on_commit(task: Any, *args: Any, **kwargs: Any) -> None:
    def send() -> None:
        try:
            publish(task, args, kwargs)
        except Exception:  # noqa: BLE001 - the broker may be down; the sweep will retry the work
            _producer_drop()
            logger.exception("Could not queue %s%r; a periodic sweep will pick it up.", task.name, args)

    transaction.on_commit(send)


def publish(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """task.apply_async, cheaper per message: the arguments are ids and short words, so their plain repr is the
    message's argsrepr (Celery's saferepr walks them for a size limit), and each thread keeps one producer on
    its own broker connection instead of taking one from Celery's pool and giving it back every time. Publishing
    retries as apply_async does; after a failure the thread's producer is dropped and the next message opens a
    new connection."""
    options: dict[str, Any] = {"argsrepr": repr(args), "kwargsrepr": repr(kwargs)}
    if not task.app.conf.task_always_eager:
        options["producer"] = _producer(task.app)
    task.apply_async(args=args, kwargs=kwargs, **options)


def _producer(app: Any) -> Any:
    key = (id(app), app.conf.broker_url)  # a changed broker URL (tests point the app elsewhere) gets its own
    producer = getattr(_local, "producer", None)
    if producer is None or _local.key != key:
        _producer_drop()
        producer = app.amqp.Producer(app.connection_for_write())
        _local.producer, _local.key = producer, key
    return producer


def _producer_drop() -> None:
    producer = getattr(_local, "producer", None)
    _local.producer = None
    if producer is not None:
        try:
            producer.connection.release()
        except Exception:  # noqa: BLE001 - it is broken already; nothing to give back
            logger.debug("closing a broken broker connection failed", exc_info=True)
