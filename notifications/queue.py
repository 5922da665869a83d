"""Queue Celery work after the surrounding transaction commits, without ever failing the request.

A broker outage delays work but never loses the data: the row is already committed, and the
periodic sweeps of each app find work whose task never arrived.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_shared: dict[str, Any] = {"producer": None, "key": None}


def enqueue_on_commit(task: Any, *args: Any, **kwargs: Any) -> None:
    def send() -> None:
        try:
            publish(task, args, kwargs)
        except Exception:  # noqa: BLE001 - the broker may be down; the sweep will retry the work
            with _lock:
                _producer_drop()
            logger.exception("Could not queue %s%r; a periodic sweep will pick it up.", task.name, args)

    transaction.on_commit(send)


def publish(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """task.apply_async, cheaper per message: the arguments are ids and short words, so their plain repr is the
    message's argsrepr (Celery's saferepr walks them for a size limit), and the process keeps one producer on
    one broker connection instead of taking one from Celery's pool and giving it back every time. Threads take
    turns on it (a lock), so a threaded server holds one broker connection, not one per thread it ever ran.
    Publishing retries as apply_async does; after a failure the producer is dropped and the next message opens
    a new connection."""
    options: dict[str, Any] = {"argsrepr": repr(args), "kwargsrepr": repr(kwargs)}
    if task.app.conf.task_always_eager:
        task.apply_async(args=args, kwargs=kwargs, **options)
        return
    with _lock:
        task.apply_async(args=args, kwargs=kwargs, producer=_producer(task.app), **options)


def _producer(app: Any) -> Any:
    # A forked child gets its own (the parent's socket is not its to use); a changed broker URL (tests point the
    # app elsewhere) gets its own.
    key = (os.getpid(), id(app), app.conf.broker_url)
    if _shared["producer"] is None or _shared["key"] != key:
        _producer_drop()
        _shared["producer"], _shared["key"] = app.amqp.Producer(app.connection_for_write()), key
    return _shared["producer"]


def _producer_drop() -> None:
    producer, _shared["producer"] = _shared["producer"], None
    if producer is not None and _shared["key"] and _shared["key"][0] == os.getpid():
        try:
            producer.connection.release()
        except Exception:  # noqa: BLE001 - it is broken already; nothing to give back
            logger.debug("closing a broken broker connection failed", exc_info=True)
