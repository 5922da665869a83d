"""The API reads JSON only, and reads it defensively: a size limit, a nesting limit and text a database can store.

Each refusal is a clear 4xx in the JSON error shape instead of a 500 further down (a RecursionError in the
decoder or the serializer, an encoding error in the database driver)."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.utils import json

from tickets.textcheck import SURROGATE_MESSAGE, text_problems

# Deeper than any body this API accepts (a rule is 4 levels); far below Python's recursion limit.
MAX_JSON_DEPTH = 32


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"
    default_detail = "The request body is too large."


# Endpoints that take a batch may take a larger body (1,000 complaints with their texts).
BATCH_PATH_SUFFIXES = ("/complaints/batch/",)


def body_limit(path: str = "") -> int:
    if path.endswith(BATCH_PATH_SUFFIXES):
        return max(settings.API_BATCH_MAX_BODY_SIZE, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large_message(limit: int) -> str:
    return f"The request body is larger than {limit:,} bytes. Send less, e.g. split a batch."


def json_depth(data: Any) -> int:
    """How deeply lists and objects nest in `data` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            break
        stack.extend((child, depth) for child in children)
    return deepest


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class ApiJSONParser(JSONParser):
    """JSON with limits: 413 over DATA_UPLOAD_MAX_MEMORY_SIZE, 400 when nested deeper than MAX_JSON_DEPTH, and 400
    naming each field whose text holds a lone surrogate."""

    def parse(self, stream, media_type=None, parser_context=None):
        request = (parser_context or {}).get("request")
        limit = body_limit(getattr(request, "path", "") or "")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(too_large_message(limit))
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise exceptions.ParseError(f"the body is not valid {encoding} text ({exc.reason}).") from exc
        try:
            data = json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except RecursionError as exc:
            raise exceptions.ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.") from exc
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        if json_depth(data) > MAX_JSON_DEPTH:
            raise exceptions.ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.")
        # A lone surrogate is not Unicode text at all: refused wherever it is. A NUL is text that cannot be
        # stored, refused by each field that would store it (DRF's CharField, the rule and activity validators),
        # so an unknown key that is ignored anyway does not fail the request.
        # Valid UTF-8 cannot carry a surrogate, so one can only come from a \uD800-\uDFFF escape: without one in
        # the text, nothing to look for.
        if _SURROGATE_ESCAPE.search(text):
            problems = {path: msgs for path, msgs in text_problems(data).items() if SURROGATE_MESSAGE in " ".join(msgs)}
            if problems:
                raise exceptions.ValidationError(problems)
        return data
