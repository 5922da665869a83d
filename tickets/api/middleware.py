"""Guards in front of the API that answer in its JSON error shape before any view runs."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from tickets.api.errors import error_body
from tickets.api.parsers import body_limit, too_large_message

API_PREFIX = "/api/"


class ApiBodyLimitMiddleware:
    """413 for an API request whose declared Content-Length is over the limit, before anything reads the body.
    (A body without a length is cut off by the JSON parser at the same limit.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(API_PREFIX):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = body_limit(request.path)
            if length > limit:
                response = JsonResponse(error_body("request_too_large", too_large_message(limit)), status=413)
                # The unread body would otherwise be parsed as the next request on a kept-alive connection.
                response["Connection"] = "close"
                return response
        return self.get_response(request)
