"""API for outcomes: activity intake, one complaint's outcome, and the recovery metrics.

- POST /api/v1/activity/                          keys: activity:write · people: manager or higher
- GET  /api/v1/complaints/{reference}/outcome/    keys: complaints:read · people: any support role
- GET  /api/v1/metrics/recovery/                  keys: metrics:read · people: manager or higher
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import serializers, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from recovery.forms_outcomes import MetricsFilterForm
from recovery.models import CustomerActivity, OutcomeWindow, RecoveryOutcome
from recovery.selectors import metrics
from recovery.selectors import outcomes as selectors
from recovery.services import outcomes as services
from tickets.api.errors import error_body
from tickets.errors import DomainError
from tickets.models import ApiKey, Cause, Grade, Role, Tier


class OutcomeNotStarted(DomainError):
    code = "outcome_not_started"
    status = 404


# --- Activity -------------------------------------------------------------------------------------


class ActivityCustomerInput(serializers.Serializer):
    external_id = serializers.CharField(required=False, help_text="The customer's id in `source` (or in customer.source).")
    email = serializers.EmailField(required=False)
    source = serializers.CharField(required=False, help_text="Where external_id comes from; defaults to the activity's source.")


class ActivityInput(serializers.Serializer):
    """Documentation only: items are validated by recovery.services.outcomes.activity_input_parse."""

    source = serializers.CharField(help_text="The reporting system, e.g. 'shopify'. With external_id it must be unique.")
    external_id = serializers.CharField(help_text="The activity's id in that system; a replay of it adds nothing.")
    kind = serializers.ChoiceField(choices=CustomerActivity.Kind.choices)
    occurred_at = serializers.DateTimeField(help_text="ISO 8601; without an offset it is read in the site's time zone.")
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, min_value=0)
    currency = serializers.CharField(required=False, help_text="ISO 4217, default DEFAULT_CURRENCY.")
    customer = ActivityCustomerInput()


ActivityBatchInput = inline_serializer("ActivityBatchInput", {"events": ActivityInput(many=True)})
IntakeOutput = inline_serializer(
    "ActivityIntakeOutput",
    {
        "accepted": serializers.IntegerField(help_text="New activities stored."),
        "duplicates": serializers.IntegerField(help_text="Already known (source, external_id); nothing added."),
        "rejected": serializers.ListField(
            child=inline_serializer(
                "ActivityRejection",
                {"index": serializers.IntegerField(), "errors": serializers.DictField(child=serializers.ListField())},
            )
        ),
        "message": serializers.CharField(),
    },
)


class ActivityViewSet(viewsets.ViewSet):
    """Customer activity from commerce and CRM systems; it is how returns are detected."""

    read_scope = None
    write_scope = ApiKey.Scope.ACTIVITY_WRITE
    min_role = Role.MANAGER
    parser_classes = [JSONParser]  # nested customers and batches only make sense as JSON

    @extend_schema(
        request=PolymorphicProxySerializer(
            component_name="ActivityRequest", serializers=[ActivityInput, ActivityBatchInput], resource_type_field_name=None
        ),
        responses={200: IntakeOutput, 201: IntakeOutput, 207: IntakeOutput, 400: IntakeOutput},
        description=(
            "Send one activity object, or {\"events\": [...]} with up to 1,000. Good items are kept even when "
            "others are rejected: 201 when something new was stored, 200 when everything was already known, "
            "207 when some items were rejected (each by index with its errors), 400 when none could be accepted."
        ),
    )
    def create(self, request):
        body = request.data
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
        elif isinstance(body, dict):
            items, single = [body], True
        else:
            return _bad_request("Send a JSON object: one activity, or {\"events\": [...]}.")

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
            return Response({**body, **summary}, status=status.HTTP_400_BAD_REQUEST)
        if result.rejected:
            summary["message"] = (
                f"{len(result.rejected)} of {len(items)} activities were rejected (see 'rejected'); "
                f"the other {kept} were kept: {result.accepted} new, {result.duplicates} already known."
            )
            return Response(summary, status=207)
        summary["message"] = f"{result.accepted} new, {result.duplicates} already known."
        return Response(summary, status=status.HTTP_201_CREATED if result.accepted else status.HTTP_200_OK)


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

METRIC_PARAMETERS = [
    OpenApiParameter("window", int, description="Window in days for the breakdowns (one of OUTCOME_WINDOWS_DAYS)."),
    OpenApiParameter("cause", str, enum=Cause.values),
    OpenApiParameter("grade", str, enum=Grade.values),
    OpenApiParameter("tier", str, enum=Tier.values),
    OpenApiParameter("gesture", str, description="Gesture code; narrows the offered group only."),
    OpenApiParameter("month_from", str, description="First month, YYYY-MM (by the outcome's anchor)."),
    OpenApiParameter("month_to", str, description="Last month, YYYY-MM, inclusive."),
]


class RecoveryMetricsViewSet(viewsets.ViewSet):
    """Return rates of complainers offered a gesture and not, their difference, and never-complained context."""

    read_scope = ApiKey.Scope.METRICS_READ
    write_scope = None
    min_role = Role.MANAGER

    @extend_schema(
        parameters=METRIC_PARAMETERS,
        responses=OpenApiResponse(
            response=OpenApiTypes.OBJECT,
            description="Rates with n and 95% intervals per window, the difference, money and breakdowns; "
            "the shape and every definition are in docs/outcomes-and-metrics.md.",
        ),
    )
    def list(self, request):
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
