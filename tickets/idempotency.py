"""Idempotency-Key support for POST endpoints: the first answer is stored and replayed.

The record is inserted in the same transaction as the work, so a concurrent request with the
same key waits on the unique index and then replays the committed answer; a failed request
rolls its record back and may be retried.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import transaction
from rest_framework.response import Response

from tickets.errors import DomainError
from tickets.models import ApiKey, IdempotencyRecord

MAX_KEY_LENGTH = 255


class IdempotencyMismatch(DomainError):
    code = "idempotency_key_reused"
    status = 422


def _principal(request: Any) -> str:
    if isinstance(request.auth, ApiKey):
        return f"key:{request.auth.pk}"
    return f"user:{request.user.pk}"


def _body_hash(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def idempotent(request: Any, handler: Callable[[], Response]) -> Response:
    """Run handler once per (caller, Idempotency-Key); replay its answer for the same body."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return handler()
    if len(key) > MAX_KEY_LENGTH:
        from tickets.errors import InvalidInput

        raise InvalidInput(f"The Idempotency-Key header may be at most {MAX_KEY_LENGTH} characters.")
    body_hash = _body_hash(request.data)
    with transaction.atomic():
        record, created = IdempotencyRecord.objects.get_or_create(
            principal=_principal(request), key=key, defaults={"request_hash": body_hash}
        )
        if not created:
            if record.request_hash != body_hash:
                raise IdempotencyMismatch(
                    "This Idempotency-Key was already used with a different request body. "
                    "Use a new key for a new request."
                )
            response = Response(record.response_body, status=record.response_status)
            response["Idempotent-Replayed"] = "true"
            return response
        response = handler()
        record.response_status = response.status_code
        record.response_body = response.data
        record.save(update_fields=["response_status", "response_body"])
    return response
