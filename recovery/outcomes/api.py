"""API for outcomes: activity intake, one complaint's outcome, and the recovery metrics.

- POST /api/v1/activity/                          keys: activity:write · people: manager or higher
- GET  /api/v1/complaints/{reference}/outcome/    keys: complaints:read · people: any support role
- GET  /api/v1/metrics/recovery/                  keys: metrics:read · people: manager or higher
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from recovery.models import CustomerActivity, Gesture, OutcomeWindow, RecoveryOutcome
from recovery.outcomes import metrics, selectors, services
from recovery.outcomes.forms import MetricsFilterForm
from tickets.api.errors import error_body
from tickets.api.schema import ErrorDetailSerializer
from tickets.api.strict import NON_BLANK
from tickets.errors import DomainError
from tickets.idempotency import idempotent
from tickets.models import ApiKey, Cause, Grade, Role, Tier
from tickets.validators import EMAIL_MAX_LENGTH, EMAIL_PATTERN


class OutcomeNotStarted(DomainError):
    code = "outcome_not_started"
    status = 404


# --- Activity -------------------------------------------------------------------------------------


SOURCE_PATTERN = r"^\s*[A-Za-z0-9_.:-]{1,50}\s*$"
ACTIVITY_CUSTOMER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Whose activity: their id in `source` (or in customer.source), and/or their email.",
    "properties": {
        "external_id": {"type": "string", "nullable": True, "maxLength": 200},
        "email": {"type": "string", "nullable": True, "format": "email", "pattern": EMAIL_PATTERN, "maxLength": EMAIL_MAX_LENGTH},
        "source": {"type": "string", "nullable": True, "pattern": r"^\s*([A-Za-z0-9_.:-]{1,50})?\s*$"},
    },
    "anyOf": [
        {"required": ["external_id"], "properties": {"external_id": {"type": "string", "pattern": NON_BLANK}}},
        {"required": ["email"], "properties": {"email": {"type": "string", "format": "email", "pattern": EMAIL_PATTERN, "maxLength": EMAIL_MAX_LENGTH}}},
    ],
}
ACTIVITY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["source", "external_id", "kind", "occurred_at", "customer"],
    "properties": {
        "source": {"type": "string", "pattern": SOURCE_PATTERN,
                   "description": "The reporting system, e.g. 'shopify'. With external_id it must be unique."},
        "external_id": {"type": "string", "pattern": NON_BLANK, "maxLength": 200,
                        "description": "The activity's id in that system; a replay of it adds nothing."},
        "kind": {"type": "string", "enum": list(CustomerActivity.Kind.values)},
        "occurred_at": {"type": "string", "format": "date-time",
                        "description": "ISO 8601; without an offset it is read in the site's time zone. A time in "
                        "the future answers 422."},
        "amount": {"nullable": True, "description": "≥ 0, at most 2 decimals; a string, or a whole number.",
                   "anyOf": [{"type": "string", "pattern": r"^\s*(\d{1,10}(\.\d{1,2})?)?\s*$"},
                             {"type": "integer", "minimum": 0, "maximum": 9_999_999_999}]},
        "currency": {"type": "string", "nullable": True, "pattern": r"^\s*([A-Za-z]{3})?\s*$",
                     "description": "ISO 4217, default DEFAULT_CURRENCY."},
        "customer": ACTIVITY_CUSTOMER_SCHEMA,
    },
}
ACTIVITY_BATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["events"],
    "properties": {
        "events": {
            "type": "array", "minItems": 1, "maxItems": services.MAX_BATCH,
            # Each item is judged on its own (the activity shape above): a bad one is rejected by index, the
            # others are kept (207), so at the level of the request any object is a well-formed item.
            "items": {"type": "object"},
        }
    },
}


class Activity(serializers.Serializer):
    """Documentation only: the request is checked by ActivityViewSet and recovery.outcomes.services."""

    @staticmethod
    def openapi_request_schema(partial: bool) -> dict[str, Any]:
        return {"anyOf": [ACTIVITY_SCHEMA, ACTIVITY_BATCH_SCHEMA]}


def activity_type_errors(item: dict[str, Any]) -> dict[str, list[str]]:
    """JSON types the schema rules out but the lenient intake (shared with CSV rows) would read anyway."""
    errors: dict[str, list[str]] = {}
    for name in ("source", "external_id", "kind", "occurred_at", "currency"):
        value = item.get(name)
        if value is not None and not isinstance(value, str) or (value is None and name in item and name != "currency"):
            errors[name] = ["Must be a string."]
    amount = item.get("amount")
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, str | int)):
        errors["amount"] = ['Give the amount as a string such as "45.90", or a whole number.']
    customer = item.get("customer")
    if "customer" in item and not isinstance(customer, dict):
        errors["customer"] = ["Send the customer as an object with external_id and/or email."]
    elif isinstance(customer, dict):
        for name in ("external_id", "email", "source"):
            value = customer.get(name)
            if value is not None and not isinstance(value, str):
                errors[f"customer.{name}"] = ["Must be a string."]
    return errors


class ActivityRejection(serializers.Serializer):
    index = serializers.IntegerField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


IntakeOutput = inline_serializer(
    "ActivityIntakeOutput",
    {
        "accepted": serializers.IntegerField(help_text="New activities stored."),
        "duplicates": serializers.IntegerField(help_text="Already known (source, external_id); nothing added."),
        "rejected": ActivityRejection(many=True),
        "message": serializers.CharField(),
    },
)

ActivityRejectedOutput = inline_serializer(
    "ActivityRejectedOutput",
    {
        "error": ErrorDetailSerializer(),
        "accepted": serializers.IntegerField(required=False),
        "duplicates": serializers.IntegerField(required=False),
        "rejected": ActivityRejection(many=True, required=False),
    },
)


class ActivityViewSet(viewsets.ViewSet):
    """Customer activity from commerce and CRM systems; it is how returns are detected."""

    read_scope = None
    write_scope = ApiKey.Scope.ACTIVITY_WRITE
    min_role = Role.MANAGER

    @extend_schema(
        request=Activity,
        responses={200: IntakeOutput, 201: IntakeOutput, 207: IntakeOutput, 400: ActivityRejectedOutput,
                   422: ActivityRejectedOutput},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Any unique string (≤255 chars). Repeating the request with the same key and body returns the first answer.",
            )
        ],
        description=(
            "Send one activity object, or {\"events\": [...]} with up to 1,000. Good items are kept even when "
            "others are rejected: 201 when something new was stored, 200 when everything was already known, "
            "207 when some items were rejected (each by index with its errors). Nothing stored: 400 for one "
            "activity that breaks the schema or a batch that is not a list of objects, 422 for one activity in "
            "the future and for a batch whose every item was rejected."
        ),
    )
    def create(self, request):
        # With an Idempotency-Key a retried batch replays the first answer (and stores nothing twice).
        return idempotent(request, lambda: self._intake(request))

    def _intake(self, request) -> Response:
        parsed = _intake_items(request.data)
        if isinstance(parsed, Response):
            return parsed
        items, single = parsed
        result = services.activity_intake(items=items)
        summary: dict[str, Any] = {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": [{"index": r.index, "errors": r.errors} for r in result.rejected],
        }
        kept = result.accepted + result.duplicates
        if result.rejected and not kept:
            fields = (
                result.rejected[0].errors
                if single
                else {f"events[{r.index}].{name}": m for r in result.rejected for name, m in r.errors.items()}
            )
            noun = "The activity was" if single else f"All {len(items)} activities were"
            body = error_body("validation_error", f"{noun} rejected; nothing was stored.", fields)
            # 422: one activity whose only fault is a time in the future (the schema cannot say "not after now"),
            # and a batch none of whose items could be kept; 400: one activity that breaks the schema.
            only_future = single and fields == {"occurred_at": [services.FUTURE_MESSAGE]}
            code = 422 if only_future or not single else status.HTTP_400_BAD_REQUEST
            return Response({**body, **summary}, status=code)
        if result.rejected:
            summary["message"] = (
                f"{len(result.rejected)} of {len(items)} activities were rejected (see 'rejected'); "
                f"the other {kept} were kept: {result.accepted} new, {result.duplicates} already known."
            )
            return Response(summary, status=207)
        summary["message"] = f"{result.accepted} new, {result.duplicates} already known."
        return Response(summary, status=status.HTTP_201_CREATED if result.accepted else status.HTTP_200_OK)


def _intake_items(body: Any) -> tuple[list[Any], bool] | Response:
    """The activities of the request (one, or a batch under "events") and whether it sent just one; or the 400
    answer when the request's shape is wrong (nothing is stored then)."""
    if isinstance(body, dict) and "events" in body:
        items, single = body["events"], False
        if not isinstance(items, list):
            return _bad_request("'events' must be a list of activity objects.", {"events": ["Expected a list."]})
        if not items:
            return _bad_request("'events' is empty: send at least one activity.", {"events": ["Empty list."]})
        if len(items) > services.MAX_BATCH:
            return _bad_request(
                f"Send at most {services.MAX_BATCH:,} activities per request; this one has {len(items):,}. "
                "Split the batch: nothing was stored.",
                {"events": [f"At most {services.MAX_BATCH} items."]},
            )
        not_objects = {f"events[{i}]": ["Expected an object."] for i, item in enumerate(items) if not isinstance(item, dict)}
        if not_objects:
            return _bad_request("Each item of 'events' must be an activity object; nothing was stored.", not_objects)
    elif isinstance(body, dict):
        items, single = [body], True
        wrong_types = activity_type_errors(body)
        if wrong_types:
            return _bad_request("The activity was rejected; nothing was stored.", wrong_types)
    else:
        return _bad_request("Send a JSON object: one activity, or {\"events\": [...]}.")
    return items, single


def _bad_request(message: str, fields: dict[str, list[str]] | None = None) -> Response:
    return Response(error_body("validation_error", message, fields), status=status.HTTP_400_BAD_REQUEST)


# --- One complaint's outcome ----------------------------------------------------------------------


class OutcomeWindowOutput(serializers.ModelSerializer):
    class Meta:
        model = OutcomeWindow
        fields = ["days", "ends_at", "state", "returned_at", "revenue", "settled_at"]


class OutcomeOutput(serializers.ModelSerializer):
    complaint = serializers.CharField(source="complaint.reference")
    customer_id = serializers.IntegerField()
    gesture = serializers.SerializerMethodField()
    summary = serializers.SerializerMethodField(help_text="watching, returned, not_returned or partly_settled")
    windows = OutcomeWindowOutput(many=True)

    class Meta:
        model = RecoveryOutcome
        fields = [
            "complaint",
            "customer_id",
            "offered",
            "declined",
            "recovered",
            "offer_id",
            "gesture",
            "cause",
            "grade",
            "tier",
            "gesture_cost",
            "fulfilled_at",
            "anchor_at",
            "hours_to_resolve",
            "summary",
            "windows",
            "created_at",
        ]

    @extend_schema_field(
        inline_serializer("OutcomeGesture", {"code": serializers.CharField(), "title": serializers.CharField()}, allow_null=True)
    )
    def get_gesture(self, outcome: RecoveryOutcome) -> dict[str, str] | None:
        if outcome.gesture is None:
            return None
        return {"code": outcome.gesture.code, "title": outcome.gesture.title}

    def get_summary(self, outcome: RecoveryOutcome) -> str:
        return selectors.outcome_summary(outcome)


class ComplaintOutcomeViewSet(viewsets.ViewSet):
    """Whether the customer came back after this complaint: the outcome and its watch windows."""

    single_object = True  # `list` here answers one object (see tickets.api.schema)

    read_scope = ApiKey.Scope.COMPLAINTS_READ
    write_scope = None
    min_role = Role.AGENT

    @extend_schema(responses=OutcomeOutput)
    def list(self, request, reference: str):
        complaint = selectors.complaint_by_reference(reference=reference)
        if complaint is None:
            raise NotFound(f"No complaint with reference '{reference}'.")
        outcome = selectors.outcome_for_complaint(complaint_id=complaint.pk)
        if outcome is None:
            raise OutcomeNotStarted(
                f"{complaint.reference} has no outcome yet: watching starts when the complaint is resolved."
            )
        return Response(OutcomeOutput(outcome).data)


# --- Metrics --------------------------------------------------------------------------------------

MONTH_SCHEMA = {"type": "string", "pattern": r"^(19\d\d|2\d\d\d)-(0[1-9]|1[0-2])$"}
METRIC_PARAMETERS = [
    OpenApiParameter(
        "window", int, enum=list(settings.OUTCOME_WINDOWS_DAYS),
        description="Window in days for the breakdowns (one of OUTCOME_WINDOWS_DAYS).",
    ),
    OpenApiParameter("cause", str, enum=Cause.values),
    OpenApiParameter("grade", str, enum=Grade.values),
    OpenApiParameter("tier", str, enum=Tier.values),
    OpenApiParameter("gesture", str, description="Gesture code; narrows the offered group only."),
    OpenApiParameter("month_from", MONTH_SCHEMA, description="First month, YYYY-MM (by the outcome's anchor)."),
    OpenApiParameter("month_to", MONTH_SCHEMA, description="Last month, YYYY-MM, inclusive."),
]


class RecoveryMetricsViewSet(viewsets.ViewSet):
    """Return rates of complainers offered a gesture and not, their difference, and never-complained context."""

    single_object = True  # `list` here answers one object (see tickets.api.schema)

    read_scope = ApiKey.Scope.METRICS_READ
    write_scope = None
    min_role = Role.MANAGER

    @staticmethod
    def openapi_parameter_enums() -> dict[str, list[str]]:
        """The gesture codes when the schema is read (an unknown code answers 400)."""
        return {"gesture": sorted(Gesture.objects.values_list("code", flat=True))}

    @extend_schema(
        parameters=METRIC_PARAMETERS,
        responses=OpenApiResponse(
            response=OpenApiTypes.OBJECT,
            description="Rates with n and 95% intervals per window, the difference, money and breakdowns; "
            "the shape and every definition are in docs/outcomes-and-metrics.md.",
        ),
    )
    def list(self, request):
        empty = {name: ["Give a value or leave the parameter out."] for name, value in request.query_params.items()
                 if not value.strip()}
        if empty:
            return _bad_request("Some filters are empty: " + ", ".join(empty) + ".", empty)
        form = MetricsFilterForm(request.query_params)
        if not form.is_valid():
            fields = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
            return _bad_request("Some filters need fixing: " + ", ".join(fields) + ".", fields)
        return Response(metrics.recovery_metrics(form.to_filter()))


def register(router) -> None:
    """Add this area's routes to the v1 router.

    The complaint's outcome lives under tickets' complaints/{reference}/ prefix; tickets' router only
    claims timeline/ and comments/ there, so this explicit route does not collide.
    """
    router.register("activity", ActivityViewSet, basename="activity")
    router.register(r"complaints/(?P<reference>[A-Za-z0-9-]+)/outcome", ComplaintOutcomeViewSet, basename="complaint-outcome")
    router.register("metrics/recovery", RecoveryMetricsViewSet, basename="metrics-recovery")
