"""The OpenAPI schema is the contract: every operation lists the errors it can really answer, in one `Error` shape.

drf-spectacular documents the success answer of each operation from its serializers; ContractAutoSchema adds
the error answers from what the operation takes (a body, query parameters, path parameters, an
Idempotency-Key) and lets a view that answers one object from a `list` action say so (`single_object = True`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers


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
    422: "This Idempotency-Key was already used with a different body.",
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
        codes |= {413, 415}
    if any(p.get("in") == "header" and p["name"] == "Idempotency-Key" for p in parameters):
        codes.add(422)
    return sorted(codes)


class ContractAutoSchema(AutoSchema):
    def _is_list_view(self, serializer=None) -> bool:
        if getattr(self.view, "single_object", False):
            return False
        return super()._is_list_view(serializer)

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        responses = operation.setdefault("responses", {})
        for code in error_codes(method, operation):
            responses.setdefault(
                str(code),
                {"content": {"application/json": {"schema": error}}, "description": ERROR_DESCRIPTIONS[code]},
            )
        return operation
