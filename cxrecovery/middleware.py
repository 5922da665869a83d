"""A database outage answers 503 with Retry-After, not Django's HTML 500.

The API's exception handler covers errors inside DRF views; this covers everything else (browser pages, and
API errors raised outside a DRF view)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from tickets.api.errors import DATABASE_RETRY_AFTER, database_unavailable, database_unavailable_body

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not database_unavailable(exception):
            return None
        logger.warning("Answered 503: the database is unavailable (%s: %s)", type(exception).__name__, exception)
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse(database_unavailable_body(), status=503)
        else:
            response = HttpResponse(
                "The database is unavailable for a moment. Nothing was changed; please try again in a few seconds.",
                status=503,
                content_type="text/plain; charset=utf-8",
            )
        response["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response
