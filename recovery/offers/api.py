"""API of the playbook's suggestions, offers, approvals and the spend report. Thin: parse, call a selector or
one service, shape the output. Complaint-scoped routes (`complaints/{reference}/suggestions/` and
`.../offers/`) are registered with an explicit prefix, beside tickets' own complaint routes."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import django_filters
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from recovery import formatting
from recovery.models import ApprovalRequest, Gesture, Offer
from recovery.offers import routing, selectors, services
from recovery.offers.playbook import Suggestion
from recovery.offers.serializers import (
    ApprovalDecisionInput,
    ApprovalOutput,
    OfferCreateInput,
    OfferDeclineInput,
    OfferFulfilInput,
    OfferOutput,
    OfferWithdrawInput,
)
from tickets.actors import ActorRef
from tickets.api.views import IDEMPOTENCY_HEADER
from tickets.errors import InvalidInput
from tickets.idempotency import idempotent
from tickets.models import ApiKey, Complaint, Role, Tier, pk_from_reference
from tickets.selectors import complaint_get

REFERENCE = r"[A-Za-z0-9-]+"


def _complaint(reference: str) -> Complaint:
    complaint = complaint_get(reference=reference)
    if complaint is None:
        raise NotFound(f"No complaint with reference '{reference}'.")
    return complaint


def _actor_tier(request) -> str:
    actor = ActorRef.from_request(request)
    try:
        return services.actor_tier(actor)
    except services.NotAllowed:
        return Tier.FRONTLINE


# --- suggestions ----------------------------------------------------------------------------------




def suggestion_data(
    suggestion: Suggestion, view: selectors.SuggestionView, *, tier: str, limits, rule_tier: str | None
) -> dict[str, Any]:
    spec = view.specs[suggestion.gesture_code]
    route = routing.approval_route(
        cost=suggestion.cost,
        offerer_tier=tier,
        gesture_tier=spec.approval_tier,
        rule_tier=rule_tier,
        limits=limits,
        currency=view.context.currency,
    )
    return {
        "rank": suggestion.rank,
        "gesture": {
            "id": suggestion.gesture_id,
            "code": suggestion.gesture_code,
            "title": suggestion.title,
            "resource_kind": spec.resource_kind,
            "surprise": spec.surprise,
        },
        "score": suggestion.score,
        "cost": f"{suggestion.cost:.2f}",
        "currency": view.context.currency,
        "reasons": list(suggestion.reasons),
        "components": dict(suggestion.components),
        # Who must approve it if the caller offers it at this cost; null when the caller may give it at once.
        "needs_approval_from": None if route.auto else route.required_tier,
        "approval_reasons": list(route.reasons),
    }


SuggestionsOutput = inline_serializer(
    "ComplaintSuggestions",
    fields={
        "reference": serializers.CharField(),
        "grade": serializers.CharField(
            help_text="The grade ranked for; 'bad' is assumed until the complaint is graded."
        ),
        "graded": serializers.BooleanField(),
        "suggestions": serializers.ListField(child=serializers.DictField()),
        "excluded": serializers.ListField(child=serializers.DictField()),
    },
)


class ComplaintSuggestionViewSet(viewsets.ViewSet):
    """GET /api/v1/complaints/{reference}/suggestions/: the top 3 playbook gestures for the complaint, each with its
    score (0–100), cost, reasons written for the agent, and who must approve it at that cost. Keys need
    `complaints:read`. What is shown is logged (once per complaint per hour) so the learning can judge it."""

    single_object = True  # `list` here answers one object (see tickets.api.schema)

    read_scope = ApiKey.Scope.COMPLAINTS_READ
    write_scope = None

    @extend_schema(responses=SuggestionsOutput)
    def list(self, request, reference: str):
        complaint = _complaint(reference)
        actor = ActorRef.from_request(request)
        view = services.complaint_suggest(complaint=complaint, shown_to=actor.user)
        tier = _actor_tier(request)
        limits = selectors.approval_limits()
        rule_tier = selectors.rule_approval_tier(complaint_id=complaint.pk)
        return Response(
            {
                "reference": complaint.reference,
                "grade": view.context.grade,
                "graded": view.graded,
                "suggestions": [
                    suggestion_data(s, view, tier=tier, limits=limits, rule_tier=rule_tier) for s in view.top
                ],
                "excluded": [
                    {"gesture": e.gesture_code, "reason": e.reason, "detail": e.detail} for e in view.excluded
                ],
            }
        )


# --- offers ---------------------------------------------------------------------------------------














class ComplaintOfferViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """GET/POST /api/v1/complaints/{reference}/offers/: the complaint's offers, and make one. Keys need `offers`.
    An offer within the offerer's approval limit is approved at once (a key without a person has the front
    line's limit); above it, it waits for approval by the lowest tier whose limit covers it."""

    read_scope = ApiKey.Scope.OFFERS
    write_scope = ApiKey.Scope.OFFERS
    serializer_class = OfferOutput
    filter_backends: list = []

    def get_queryset(self):
        return selectors.complaint_offers(complaint=_complaint(self.kwargs["reference"]))

    @extend_schema(request=OfferCreateInput, responses={201: OfferOutput}, parameters=[IDEMPOTENCY_HEADER])
    def create(self, request, reference: str):
        complaint = _complaint(reference)

        def handle() -> Response:
            serializer = OfferCreateInput(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            gesture = Gesture.objects.filter(code=data["gesture"]).first()
            if gesture is None:
                raise InvalidInput(
                    f"No gesture with code '{data['gesture']}'.", fields={"gesture": ["Unknown gesture."]}
                )
            offer = services.offer_create(
                complaint=complaint,
                gesture=gesture,
                actor=ActorRef.from_request(request),
                cost=data.get("cost"),
                note=data.get("note", ""),
            )
            return Response(OfferOutput(selectors.offer_get(offer_id=offer.pk)).data, status=status.HTTP_201_CREATED)

        return idempotent(request, handle)


class OfferFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Offer.Status.choices)
    complaint = django_filters.CharFilter(method="filter_complaint", help_text="A complaint reference, e.g. CX-000123.")
    gesture = django_filters.CharFilter(field_name="gesture__code")

    class Meta:
        model = Offer
        fields = ["status", "complaint", "gesture"]

    def filter_complaint(self, queryset, name, value):
        pk = pk_from_reference(value)
        return queryset.filter(complaint_id=pk) if pk else queryset.none()


class OfferViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Offers across complaints; POST .../fulfil/ and .../decline/ record the customer's side, .../withdraw/ takes
    back an offer not given yet. Keys need `offers`."""

    read_scope = ApiKey.Scope.OFFERS
    write_scope = ApiKey.Scope.OFFERS
    serializer_class = OfferOutput
    filterset_class = OfferFilter

    def get_queryset(self):
        return selectors.offer_list()

    def get_object(self) -> Offer:
        offer = selectors.offer_get(offer_id=int(self.kwargs["pk"])) if str(self.kwargs["pk"]).isdigit() else None
        if offer is None:
            raise NotFound(f"No offer with id '{self.kwargs['pk']}'.")
        return offer

    @extend_schema(request=OfferFulfilInput, responses=OfferOutput)
    @action(detail=True, methods=["post"])
    def fulfil(self, request, pk=None):
        """Approved → fulfilled (409 from any other status). With resolve_complaint the complaint is resolved too."""
        offer = self.get_object()
        serializer = OfferFulfilInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.offer_fulfil(offer=offer, actor=ActorRef.from_request(request), **serializer.validated_data)
        return Response(OfferOutput(self.get_object()).data)

    @extend_schema(request=OfferDeclineInput, responses=OfferOutput)
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        """Approved → declined by the customer (409 from any other status)."""
        offer = self.get_object()
        serializer = OfferDeclineInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.offer_decline(offer=offer, actor=ActorRef.from_request(request), **serializer.validated_data)
        return Response(OfferOutput(self.get_object()).data)

    @extend_schema(request=OfferWithdrawInput, responses=OfferOutput)
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        """Proposed, waiting for approval or approved → withdrawn (409 from any other status, and when already
        withdrawn). A request waiting for approval is closed and leaves the approvers' inbox."""
        offer = self.get_object()
        serializer = OfferWithdrawInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.offer_withdraw(offer=offer, actor=ActorRef.from_request(request), **serializer.validated_data)
        return Response(OfferOutput(self.get_object()).data)


# --- approvals ------------------------------------------------------------------------------------




class ApprovalFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ApprovalRequest.Status.choices)
    tier = django_filters.MultipleChoiceFilter(field_name="required_tier", choices=Tier.choices)

    class Meta:
        model = ApprovalRequest
        fields = ["status", "tier"]




class ApprovalViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Approval requests (`?status=pending`, `?tier=executive`). POST .../decision/ approves, approves at another
    amount, or rejects, with a note. The decider is the signed-in person or the person behind the key — a key
    that acts for a tool may read but not decide (403). Two decisions at once: one wins, the other gets 409."""

    read_scope = ApiKey.Scope.OFFERS
    write_scope = ApiKey.Scope.OFFERS
    min_role = Role.LEAD
    write_needs_person = True
    serializer_class = ApprovalOutput
    filterset_class = ApprovalFilter

    def get_queryset(self):
        return selectors.approval_list()

    def get_object(self) -> ApprovalRequest:
        pk = self.kwargs["pk"]
        approval = selectors.approval_get(approval_id=int(pk)) if str(pk).isdigit() else None
        if approval is None:
            raise NotFound(f"No approval request with id '{pk}'.")
        return approval

    @extend_schema(request=ApprovalDecisionInput, responses=ApprovalOutput)
    @action(detail=True, methods=["post"])
    def decision(self, request, pk=None):
        approval = self.get_object()
        serializer = ApprovalDecisionInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        services.approval_decide(
            approval=approval,
            decision=data["decision"],
            amount=data.get("amount"),
            note=data.get("note", ""),
            actor=ActorRef.from_request(request),
        )
        return Response(ApprovalOutput(self.get_object()).data)


# --- spend ----------------------------------------------------------------------------------------


# YYYY-MM from 1900-01 to 2999-12 (a month the spend report can add one to).
MONTH_PATTERN = r"^(19\d\d|2\d\d\d)-(0[1-9]|1[0-2])$"


def _parse_month(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        if not re.fullmatch(MONTH_PATTERN, value):
            raise ValueError(value)
        parsed = datetime.strptime(value, "%Y-%m")
    except ValueError:
        raise InvalidInput("Give the month as YYYY-MM, e.g. 2025-03.", fields={"month": ["Use YYYY-MM."]})
    return timezone.make_aware(parsed)


class SpendViewSet(viewsets.ViewSet):
    """GET /api/v1/spend/?months=12[&month=YYYY-MM]: per month, gestures offered, approved, rejected, waiting,
    fulfilled and declined, and the cost committed, fulfilled and waiting; for one month (default: this one)
    the cost by approving tier, by cause and by gesture. Managers and executives; keys need `metrics:read`."""

    single_object = True  # `list` here answers one object (see tickets.api.schema)

    read_scope = ApiKey.Scope.METRICS_READ
    write_scope = None
    min_role = Role.MANAGER

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "months", {"type": "integer", "minimum": 1, "maximum": 36},
                description="How many months back (1–36, default 12).",
            ),
            OpenApiParameter(
                "month", {"type": "string", "pattern": MONTH_PATTERN},
                description="The month to break down, YYYY-MM (default: this month).",
            ),
        ],
        responses=inline_serializer(
            "Spend",
            fields={
                "months": serializers.ListField(child=serializers.DictField()),
                "breakdown": serializers.DictField(),
            },
        ),
    )
    def list(self, request):
        try:
            months = int(request.query_params.get("months", "12"))
        except ValueError:
            months = 0
        if not 1 <= months <= 36:
            raise InvalidInput("months must be a whole number from 1 to 36.", fields={"months": ["1–36."]})
        if request.query_params.get("month", None) == "":
            raise InvalidInput("Give the month as YYYY-MM or leave it out.", fields={"month": ["Use YYYY-MM."]})
        month = _parse_month(request.query_params.get("month")) or timezone.now()
        rows = selectors.spend_by_month(months=months)
        breakdown = selectors.spend_breakdown(month=month)
        return Response(
            {
                "months": [{**_money_strings(row), "month": row["month"].strftime("%Y-%m")} for row in rows],
                "breakdown": {
                    "month": selectors.month_start(month).strftime("%Y-%m"),
                    **{name: [_money_strings(row) for row in part] for name, part in breakdown.items()},
                },
            }
        )


def _money_strings(row: dict[str, Any]) -> dict[str, Any]:
    """Amounts as strings with two decimals, like every other amount in the API."""
    return {key: formatting.money_str(value) if isinstance(value, Decimal) else value for key, value in row.items()}


def register(router) -> None:
    """Add this area's viewsets to the v1 router."""
    router.register(
        rf"complaints/(?P<reference>{REFERENCE})/suggestions",
        ComplaintSuggestionViewSet,
        basename="complaint-suggestion",
    )
    router.register(rf"complaints/(?P<reference>{REFERENCE})/offers", ComplaintOfferViewSet, basename="complaint-offer")
    router.register("offers", OfferViewSet, basename="offer")
    router.register("approvals", ApprovalViewSet, basename="approval")
    router.register("spend", SpendViewSet, basename="spend")
