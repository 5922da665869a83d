"""One JSON error shape everywhere: {"error": {"code", "message", "fields"}}."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from tickets.api.parsers import RequestTooLarge
from tickets.errors import DomainError

logger = logging.getLogger(__name__)

class UnprocessableError(exceptions.ValidationError):
    """Well-formed by the schema, refused by a rule it cannot state: 422, shaped like any validation error."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY


CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.ValidationError: "validation_error",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    RequestTooLarge: "request_too_large",
}


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """{"customer": {"email": ["..."]}} -> {"customer.email": ["..."]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "non_field_errors" if key == "non_field_errors" and not prefix else (f"{prefix}.{key}" if prefix else str(key))
            out.update(flatten_errors(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            out[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                out.update(flatten_errors(item, f"{prefix}[{index}]"))
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if code == "validation_error" and not fields:
        # A validation error always names what to fix; without a field it is the request as a whole.
        fields = {"non_field_errors": [message]}
    if fields:
        body["fields"] = fields
    return {"error": body}


def _validation_message(fields: dict[str, list[str]]) -> str:
    general = fields.get("non_field_errors")
    if general and len(fields) == 1:
        return general[0]
    names = [name for name in fields if name != "non_field_errors"]
    return "Some fields need fixing: " + ", ".join(names) + "." if names else "The request is not valid."


# Seconds a client is asked to wait when the database is unavailable (a restart, a failover, a dropped connection).
DATABASE_RETRY_AFTER = 10
DATABASE_UNAVAILABLE_MESSAGE = (
    "The database is unavailable for a moment, so nothing was changed. Try again in a few seconds; "
    "with the same Idempotency-Key a retry is safe."
)


def database_unavailable(exc: BaseException) -> bool:
    """True for errors of the database connection itself (refused, dropped, terminated), not of a query."""
    return isinstance(exc, (OperationalError, InterfaceError))


def database_unavailable_body() -> dict[str, Any]:
    return error_body("database_unavailable", DATABASE_UNAVAILABLE_MESSAGE)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if database_unavailable(exc):
        # Honest and retryable instead of a 500: the work was not done, and the client may send it again.
        logger.warning("API answered 503: the database is unavailable (%s: %s)", type(exc).__name__, exc)
        return Response(
            database_unavailable_body(),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
        )
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.fields or None), status=exc.status)
    if isinstance(exc, DjangoValidationError):
        # A serializer turns its validators' errors into DRF's own (400) before this point, so a Django
        # ValidationError here was raised by a service or a model after the request passed the schema: a rule of
        # the domain refused it (an app below tickets, like notifications, cannot raise tickets' errors).
        exc = UnprocessableError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled API error", exc_info=exc)
        return Response(
            error_body("server_error", "Something went wrong on our side. It has been logged; please try again."),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_errors(exc.detail)
        response.data = error_body(code, _validation_message(fields), fields)
    elif isinstance(exc, exceptions.ParseError):
        response.data = error_body(code, f"The request body could not be read: {exc.detail}")
    elif isinstance(exc, exceptions.Throttled):
        wait = exc.wait
        response.data = error_body(
            code, f"Too many requests. Try again in {int(wait) + 1 if wait else 'a few'} seconds."
        )
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        response.data = error_body(code, str(detail))
    return response
