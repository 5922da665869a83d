"""The inbound endpoint each helpdesk posts to: /hooks/helpdesk/<connection id>/.

Order matters: the connection (404), the size limit (413), the signature on the raw body (401, nothing
stored), the JSON (400), then the delivery is stored raw and answered at once (202, or 200 for a repeat).
Processing happens in a task after commit, so a slow grade never makes the helpdesk time out and retry.
No session, no CSRF (the helpdesk is not a browser), and outside /api/v1/ so it stays out of the OpenAPI schema.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tickets.api.errors import error_body
from tickets.helpdesks import selectors, services
from tickets.helpdesks.vendors.base import NotAuthentic


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


@csrf_exempt
@require_POST
def helpdesk_inbound(request: HttpRequest, public_id: str) -> JsonResponse:
    connection = selectors.connection_by_public_id(public_id, active_only=True)
    if connection is None:
        return _error(404, "not_found", "No active helpdesk connection has this address.")
    limit = settings.HELPDESK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return _error(413, "too_large", f"The request body is larger than {limit} bytes.")
    body = request.read(limit + 1)
    if len(body) > limit:
        return _error(413, "too_large", f"The request body is larger than {limit} bytes.")
    try:
        services.delivery_authenticate(connection=connection, body=body, headers=request.headers)
    except NotAuthentic as exc:
        return _error(401, "authentication_failed", str(exc))
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        return _error(400, "malformed_request", f"The request body is not valid JSON: {exc}")
    if not isinstance(payload, dict):
        return _error(400, "malformed_request", "The request body must be a JSON object.")
    envelope = services.delivery_envelope(connection=connection, payload=payload, headers=request.headers, body=body)
    received = services.delivery_receive(connection=connection, envelope=envelope, body=body, headers=request.headers)
    delivery = received.delivery
    if not received.created:
        return JsonResponse({"status": "duplicate", "delivery": delivery.pk}, status=200)
    if envelope.ping:
        return JsonResponse({"status": "ok", "delivery": delivery.pk}, status=200)
    return JsonResponse({"status": "accepted", "delivery": delivery.pk}, status=202)
