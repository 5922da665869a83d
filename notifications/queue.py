"""Queue Celery work after the surrounding transaction commits, without ever failing the request.

A broker outage delays work but never loses the data: the row is already committed, and the
periodic sweeps of each app find work whose task never arrived.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def enqueue_on_commit(task: Any, *args: Any, **kwargs: Any) -> None:
    def send() -> None:
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except Exception:  # noqa: BLE001 - the broker may be down; the sweep will retry the work
            logger.exception("Could not queue %s%r; a periodic sweep will pick it up.", task.name, args)

    transaction.on_commit(send)
