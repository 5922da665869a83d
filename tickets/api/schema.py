"""The OpenAPI schema is the contract: every operation lists the errors it can really answer, in one `Error` shape.

drf-spectacular documents the success answer of each operation from its serializers; ContractAutoSchema adds
the error answers from what the operation takes (a body, query parameters, path parameters, an
Idempotency-Key) and lets a view that answers one object from a `list` action say so (`single_object = True`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.validators import RegexValidator
from django.db import DatabaseError
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from tickets.api.strict import NO_NUL, decimal_pattern
from tickets.validators import EMAIL_PATTERN


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, for programs: e.g. validation_error, not_found, rate_limited.")
    message = serializers.CharField(help_text="For people: what went wrong and what to do.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per field path (e.g. customer.email, events[2].kind): its messages. Always present on "
        "validation_error.",
    )


class ErrorSerializer(serializers.Serializer):
    """Every error of the API: {"error": {"code", "message", "fields"?}}."""

    error = ErrorDetailSerializer()


ERROR_DESCRIPTIONS = {
    400: "Malformed JSON, JSON nested too deeply, or a field that needs fixing (see `fields`).",
    401: "No API key or session, or the key is unknown or revoked.",
    403: "The key lacks the scope, or the person lacks the role.",
    404: "No such object (or an invalid pagination cursor).",
    409: "The object's current state does not allow this.",
    413: "The request body is larger than the limit (DATA_UPLOAD_MAX_MEMORY_SIZE).",
    415: "The body is not JSON: send Content-Type: application/json.",
    422: "Well-formed, but refused by a rule of the domain (see `fields`), or an Idempotency-Key reused with "
    "another body.",
    429: "Over the request budget; wait Retry-After seconds.",
    503: "The service is temporarily unavailable; retry after Retry-After seconds.",
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def error_codes(method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation can answer, judged by what it takes."""
    parameters = operation.get("parameters", [])
    query = [p for p in parameters if p.get("in") == "query"]
    has_path = any(p.get("in") == "path" for p in parameters)
    has_body = "requestBody" in operation
    codes = {401, 403, 429, 503}
    if has_body or query:
        codes.add(400)
    if has_path or any(p["name"] == "cursor" for p in query):
        codes.add(404)
    if method in WRITE_METHODS:
        codes.add(409)
    if has_body:
        # 422: well-formed, but refused by a rule of the domain (see tickets.errors.Unprocessable)
        codes |= {413, 415, 422}
    return sorted(codes)


def data_or_empty(read: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Schema parts read from the database; none while it is not there yet (`manage.py spectacular` at build)."""
    try:
        return read()
    except DatabaseError:
        return {}


class ContractAutoSchema(AutoSchema):
    """Besides the errors: request strings publish what the API really accepts (no NUL; decimals as the digits
    DecimalField takes), a serializer may give its own request schema (`openapi_request_schema(partial)`) or
    add keywords to the mapped one (`openapi_request_extra`, e.g. minProperties or anyOf), and `single_object` views answer one object from `list`."""

    def _is_list_view(self, serializer=None) -> bool:
        if getattr(self.view, "single_object", False):
            return False
        return super()._is_list_view(serializer)

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        own = getattr(serializer, "openapi_request_schema", None)
        if direction == "request" and own is not None:
            return own(partial=bool(getattr(serializer, "partial", False)))
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request":
            extra = getattr(serializer, "openapi_request_extra", {})
            for key, value in (data_or_empty(extra) if callable(extra) else extra).items():
                # "properties" are merged one by one: a serializer narrows a field without repeating the others
                schema[key] = {**schema.get(key, {}), **value} if key == "properties" else value
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction != "request" or not isinstance(schema, dict):
            return schema
        if isinstance(field, serializers.ListSerializer) and schema.get("type") == "array":
            # A list of objects (many=True) states its bounds as a ListField's do.
            if field.min_length is not None:
                schema["minItems"] = field.min_length
            if field.max_length is not None:
                schema["maxItems"] = field.max_length
            return schema
        if isinstance(field, serializers.DecimalField):
            schema["pattern"] = decimal_pattern(field)
        elif isinstance(field, serializers.EmailField):
            schema["pattern"] = EMAIL_PATTERN
        elif any(isinstance(v, RegexValidator) for v in field.validators):
            # RegexField, SlugField, ...: the validator's own pattern (\Z, Python's end of text, as JSON Schema's $)
            regex = next(v.regex for v in field.validators if isinstance(v, RegexValidator))
            schema["pattern"] = regex.pattern.replace("\\Z", "$")
        elif schema.get("type") == "string" and not ({"enum", "pattern"} & schema.keys()):
            # Formats too: an "email" with a NUL in it satisfies most format checkers, yet it cannot be stored.
            schema["pattern"] = NO_NUL
        return schema

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema") or {}
            if (
                parameter.get("in") == "query"
                and parameter.get("name") != "ordering"  # DRF's OrderingFilter ignores what it does not know
                and schema.get("type") == "string"
                and not {"enum", "pattern"} & schema.keys()
            ):
                # Every text filter refuses NUL (Django's form fields do), so the schema says so.
                schema["pattern"] = NO_NUL
        enums = getattr(self.view, "openapi_parameter_enums", None)
        if enums is not None:
            # Choices that are data (e.g. the playbook's gesture codes), read when the schema is generated.
            known = data_or_empty(enums)
            for parameter in operation.get("parameters", []):
                values = known.get(parameter["name"]) if parameter.get("in") == "query" else None
                if values:
                    parameter["schema"] = {"type": "string", "enum": values}
        body = operation.get("requestBody")
        if body is not None:
            serializer = self.get_request_serializer()
            extra = getattr(serializer, "openapi_request_extra", None)
            own = getattr(serializer, "openapi_request_schema", None) and method != "PATCH"
            if own or (isinstance(extra, dict) and extra.get("minProperties")):
                body["required"] = True  # an operation that needs some field needs a body
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        responses = operation.setdefault("responses", {})
        for code in error_codes(method, operation):
            responses.setdefault(
                str(code),
                {"content": {"application/json": {"schema": error}}, "description": ERROR_DESCRIPTIONS[code]},
            )
        return operation

