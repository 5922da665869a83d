"""API of grading and escalation: the rules (CRUD, validated), the escalations (list, acknowledge,
take over, de-escalate) and a complaint's latest assessment."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from recovery.escalation import selectors, services
from recovery.escalation.rules import rule_json_schema
from recovery.models import Escalation, EscalationRule
from recovery.vocabulary import TIERS
from tickets.actors import ActorRef
from tickets.api.serializers import UserRefOutput
from tickets.api.strict import NON_BLANK, StrictInput
from tickets.filters import StrictBooleanFilter
from tickets.models import ApiKey, Role, Tier
from tickets.selectors import complaint_get

# --- rules -------------------------------------------------------------------------------------


class ConditionShape(serializers.Serializer):
    field = serializers.CharField()
    operator = serializers.CharField()
    value = serializers.JSONField()


class ActionShape(serializers.Serializer):
    type = serializers.CharField()
    value = serializers.JSONField(required=False)


class EscalationRuleInput(serializers.Serializer):
    """Documentation only: recovery.escalation.rules.validate_rule checks the rule (400 with per-path errors), and the
    schema publishes exactly what it accepts (recovery.escalation.rules.rule_json_schema)."""

    @staticmethod
    def openapi_request_schema(partial: bool) -> dict[str, Any]:
        return rule_json_schema(partial=partial)

    name = serializers.CharField(required=False)
    order = serializers.JSONField(required=False)
    active = serializers.JSONField(required=False)
    match = serializers.JSONField(required=False)
    conditions = ConditionShape(many=True, required=False)
    actions = ActionShape(many=True, required=False)
    stop_processing = serializers.JSONField(required=False)
    time_based = serializers.JSONField(required=False)


class EscalationRuleOutput(serializers.ModelSerializer):
    updated_by = UserRefOutput(read_only=True, allow_null=True)
    summary = serializers.SerializerMethodField()

    class Meta:
        model = EscalationRule
        fields = ["id", "name", "order", "active", "match", "conditions", "actions", "stop_processing",
                  "time_based", "summary", "created_at", "updated_at", "updated_by"]

    def get_summary(self, rule: EscalationRule) -> str:
        return selectors.rule_summary(rule)




def _raw_body(request) -> dict[str, Any]:
    """The request body as sent, so validate_rule sees the caller's own types (1 is not "1")."""
    if not isinstance(request.data, dict):
        raise serializers.ValidationError({"non_field_errors": ["Send a JSON object describing the rule."]})
    rule_id = request.data.get("id")
    if rule_id is not None and (isinstance(rule_id, bool) or not isinstance(rule_id, int)):
        # Ignored (the id is in the URL or assigned), but a wrong type is still a wrong request.
        raise serializers.ValidationError({"id": [f"The id must be a whole number, got {rule_id!r}."]})
    return dict(request.data)


class EscalationRuleViewSet(viewsets.ModelViewSet):
    """Escalation rules, in evaluation order. Keys need the `admin` scope; people may read them and need the
    manager role to change them. Invalid rules answer 400 with a message per field path and are never saved."""

    read_scope = ApiKey.Scope.ADMIN
    write_scope = ApiKey.Scope.ADMIN
    write_min_role = Role.MANAGER
    serializer_class = EscalationRuleOutput
    pagination_class = None
    # PATCH changes some keys (the whole rule is re-validated); there is no PUT.
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.rule_list()

    @extend_schema(request=EscalationRuleInput, responses={201: EscalationRuleOutput})
    def create(self, request):
        rule = services.rule_create(data=_raw_body(request), actor=ActorRef.from_request(request))
        return Response(EscalationRuleOutput(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EscalationRuleInput, responses=EscalationRuleOutput)
    def partial_update(self, request, pk=None):
        rule = services.rule_update(rule=self.get_object(), changes=_raw_body(request), actor=ActorRef.from_request(request))
        return Response(EscalationRuleOutput(selectors.rule_list().get(pk=rule.pk)).data)

    def destroy(self, request, pk=None):
        services.rule_delete(rule=self.get_object(), actor=ActorRef.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- escalations -------------------------------------------------------------------------------


class EscalationFilter(django_filters.FilterSet):
    """Filters of the API list. (The browser inbox is narrower: my tier, waiting or handled; see InboxView.)"""

    tier = django_filters.MultipleChoiceFilter(choices=[(t, Tier(t).label) for t in TIERS[1:]])
    status = django_filters.MultipleChoiceFilter(choices=Escalation.Status.choices)
    complaint = django_filters.CharFilter(method="filter_complaint", label="Complaint reference")
    overdue = StrictBooleanFilter(method="filter_overdue", label="Waiting past the acknowledgement deadline")

    class Meta:
        model = Escalation
        fields: list[str] = []

    def filter_complaint(self, queryset, name, value):
        complaint = complaint_get(reference=value)
        return queryset.filter(complaint=complaint) if complaint else queryset.none()

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        from django.utils import timezone

        late = {"status": Escalation.Status.OPEN, "ack_due_at__lt": timezone.now()}
        return queryset.filter(**late) if value else queryset.exclude(**late)


class EscalationOutput(serializers.ModelSerializer):
    complaint = serializers.SerializerMethodField()
    acknowledged_by = UserRefOutput(read_only=True, allow_null=True)
    rule = serializers.SerializerMethodField()

    class Meta:
        model = Escalation
        fields = ["id", "complaint", "tier", "from_tier", "status", "reason", "rule", "ack_due_at",
                  "acknowledged_at", "acknowledged_by", "note", "created_at"]

    def get_complaint(self, escalation: Escalation) -> dict[str, Any]:
        complaint = escalation.complaint
        return {"reference": complaint.reference, "subject": complaint.subject, "status": complaint.status,
                "grade": complaint.grade or None, "risk_score": complaint.risk_score, "tier": complaint.tier}

    def get_rule(self, escalation: Escalation) -> dict[str, Any] | None:
        return {"id": escalation.rule_id, "name": escalation.rule.name} if escalation.rule_id else None


class EscalationActionInput(StrictInput):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class EscalationDeescalateInput(StrictInput):
    note = serializers.RegexField(
        NON_BLANK, max_length=2000, help_text="Why it does not need this tier (required).",
        error_messages={"invalid": "Write a short note for the timeline."},
    )


class EscalationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Escalations, newest first; filter by `tier`, `status`, `complaint`, `overdue`. Keys need the
    `escalations` scope; people need the team lead role, and act only on escalations at their tier or below."""

    read_scope = ApiKey.Scope.ESCALATIONS
    write_scope = ApiKey.Scope.ESCALATIONS
    min_role = Role.LEAD
    serializer_class = EscalationOutput
    filterset_class = EscalationFilter

    def get_queryset(self):
        return selectors.escalation_list()

    def _act(self, request, pk: str, service, shape: type[StrictInput] = EscalationActionInput) -> Response:
        body = shape(data=request.data)
        body.is_valid(raise_exception=True)
        if not str(pk).isdigit():
            raise NotFound(f"No escalation with id '{pk}'.")
        escalation = service(escalation_id=int(pk), actor=ActorRef.from_request(request), note=body.validated_data["note"])
        return Response(EscalationOutput(selectors.escalation_get(escalation_id=escalation.pk)).data)

    @extend_schema(request=EscalationActionInput, responses=EscalationOutput)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        """Acknowledge a waiting escalation (409 if someone already handled it)."""
        return self._act(request, pk, services.escalation_acknowledge)

    @extend_schema(request=EscalationActionInput, responses=EscalationOutput)
    @action(detail=True, methods=["post"], url_path="take-over")
    def take_over(self, request, pk=None):
        """Acknowledge and assign the complaint to the person (signed in, or behind the key)."""
        return self._act(request, pk, services.escalation_take_over)

    @extend_schema(request=EscalationDeescalateInput, responses=EscalationOutput)
    @action(detail=True, methods=["post"])
    def deescalate(self, request, pk=None):
        """Take the complaint back to the tier it came from; `note` (why) is required."""
        return self._act(request, pk, services.escalation_deescalate, EscalationDeescalateInput)


# --- a complaint's assessment ------------------------------------------------------------------


AssessmentOutput = inline_serializer(
    "AssessmentOutput",
    {
        "reference": serializers.CharField(),
        "grade": serializers.CharField(),
        "score": serializers.IntegerField(),
        "reasons": serializers.JSONField(),
        "traces": serializers.JSONField(),
        "decision": serializers.JSONField(),
        "facts": serializers.JSONField(),
        "trigger": serializers.CharField(),
        "tier": serializers.CharField(),
        "assessed_at": serializers.DateTimeField(),
    },
)


class ComplaintAssessmentViewSet(viewsets.ViewSet):
    """GET /api/v1/complaints/{reference}/assessment/: the latest grade, its reasons, and the trace of every
    rule (which matched, on which conditions, what they did). Keys need `complaints:read`."""

    single_object = True  # `list` here answers one object (see tickets.api.schema)

    read_scope = ApiKey.Scope.COMPLAINTS_READ
    write_scope = None

    @extend_schema(responses=AssessmentOutput)
    def list(self, request, reference: str):
        complaint = complaint_get(reference=reference)
        if complaint is None:
            raise NotFound(f"No complaint with reference '{reference}'.")
        assessment = selectors.assessment_latest(complaint=complaint)
        if assessment is None:
            raise NotFound(
                f"{complaint.reference} has not been assessed yet; assessments follow within seconds of logging."
            )
        return Response(
            {
                "reference": complaint.reference,
                "grade": assessment.grade,
                "score": assessment.score,
                "reasons": assessment.reasons,
                "traces": assessment.traces,
                "decision": assessment.decision,
                "facts": assessment.facts,
                "trigger": assessment.trigger,
                "tier": complaint.tier,
                "assessed_at": assessment.created_at,
            }
        )


def register(router) -> None:
    """Add this area's viewsets to the v1 router."""
    router.register("escalation-rules", EscalationRuleViewSet, basename="escalation-rule")
    router.register("escalations", EscalationViewSet, basename="escalation")
    router.register(
        r"complaints/(?P<reference>[A-Za-z0-9-]+)/assessment", ComplaintAssessmentViewSet, basename="complaint-assessment"
    )
