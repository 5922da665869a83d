"""Queue Celery work after the surrounding transaction commits, without ever failing the request.

A broker outage delays work but never loses the data: the row is already committed, and the
periodic sweeps of each app find work whose task never arrived.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from celery.utils import uuid
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


# How long a publisher waits for the process's producer before it publishes on one of its own: another thread may
# hold it while retrying against a broker that is down.
PRODUCER_WAIT_SECONDS = 0.5


def publish(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """task.apply_async, about half the CPU per message, through Celery's own message builder and sender
    (create_task_message, send_task_message: same protocol, routing, retry policy and publish signals). Left out
    are what our tasks never use: the argument check against the task's signature, the AsyncResult, and per-call
    options. The arguments are ids and short words, so their plain repr is the message's argsrepr (Celery's
    saferepr walks them for a size limit). On Redis the queue is not declared again with every message: a task
    goes to the anonymous exchange, straight onto its queue's list, and the worker declares the queues it reads.

    The process keeps one producer on one broker connection instead of taking one from Celery's pool and giving
    it back every time. Threads take turns on it (a lock), so a threaded server holds one broker connection, not
    one per thread it ever ran; a thread that waits more than PRODUCER_WAIT_SECONDS (the holder is retrying
    against a broker that is down) publishes on a connection of its own instead. Publishing retries as
    apply_async does; after a failure the producer is dropped and the next message opens a new connection."""
    options: dict[str, Any] = {"argsrepr": repr(args), "kwargsrepr": repr(kwargs)}
    app = task.app
    if app.conf.task_always_eager:
        task.apply_async(args=args, kwargs=kwargs, **options)
        return
    message = _message(task, args, kwargs, options)
    route = app.amqp.router.route({}, task.name, args, kwargs, task)
    if _lock.acquire(timeout=PRODUCER_WAIT_SECONDS):
        try:
            _send(_producer(app), task, message, route)
        finally:
            _lock.release()
        return
    with app.connection_for_write() as connection:
        _send(app.amqp.Producer(connection), task, message, route)


def _message(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any], options: dict[str, Any]) -> Any:
    """The message apply_async would build (Celery's protocol 2), with the parent's ids when a task queues it."""
    app = task.app
    parent = app.current_worker_task
    root_id = parent_id = None
    if parent is not None:
        root_id, parent_id = parent.request.root_id or parent.request.id, parent.request.id
    return app.amqp.create_task_message(
        uuid(), task.name, args, kwargs,
        reply_to=app.thread_oid,
        time_limit=task.time_limit,
        soft_time_limit=task.soft_time_limit,
        create_sent_event=app.conf.task_send_sent_event,
        root_id=root_id,
        parent_id=parent_id,
        ignore_result=task.ignore_result,
        **options,
    )


def _send(producer: Any, task: Any, message: Any, route: dict[str, Any]) -> None:
    if getattr(producer.connection.transport, "driver_type", "") == "redis":
        route = {**route, "declare": ()}
    task.app.amqp.send_task_message(producer, task.name, message, **route)


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
