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
from recovery.models import OFFER_TRANSITIONS, ApprovalRequest, Gesture, Offer
from recovery.offers import routing, selectors, services
from recovery.offers.playbook import Suggestion
from tickets.actors import ActorRef
from tickets.api.serializers import UserRefOutput
from tickets.api.strict import NON_BLANK, StrictInput
from tickets.api.views import IDEMPOTENCY_HEADER
from tickets.errors import InvalidInput
from tickets.idempotency import idempotent
from tickets.models import ApiKey, Complaint, Role, Tier, pk_from_reference
from tickets.selectors import complaint_get

MONEY = {"max_digits": 12, "decimal_places": 2}
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


class GestureRefOutput(serializers.ModelSerializer):
    class Meta:
        model = Gesture
        fields = ["id", "code", "title", "resource_kind", "surprise", "approval_tier"]


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


class ApprovalBriefOutput(serializers.ModelSerializer):
    decided_by = UserRefOutput(read_only=True, allow_null=True)

    class Meta:
        model = ApprovalRequest
        fields = ["id", "status", "required_tier", "decided_by", "decided_at", "approved_amount", "note", "due_at"]


class OfferOutput(serializers.ModelSerializer):
    complaint = serializers.SerializerMethodField()
    gesture = serializers.SerializerMethodField()
    proposed_by = UserRefOutput(read_only=True, allow_null=True)
    approval = serializers.SerializerMethodField()
    allowed_actions = serializers.SerializerMethodField()

    class Meta:
        model = Offer
        fields = [
            "id",
            "complaint",
            "gesture",
            "status",
            "cost",
            "offered_cost",
            "currency",
            "approved_tier",
            "suggested",
            "suggestion_rank",
            "suggestion_score",
            "suggestion_reasons",
            "note",
            "proposed_by",
            "approval",
            "allowed_actions",
            "created_at",
            "updated_at",
            "fulfilled_at",
        ]

    def get_complaint(self, offer: Offer) -> str:
        return offer.complaint.reference

    def get_gesture(self, offer: Offer) -> dict[str, Any]:
        return {"id": offer.gesture_id, "code": offer.gesture.code, "title": offer.gesture.title}

    def get_approval(self, offer: Offer) -> dict[str, Any] | None:
        requests = list(offer.approval_requests.all())  # prefetched, newest first
        return ApprovalBriefOutput(requests[0]).data if requests else None

    def get_allowed_actions(self, offer: Offer) -> list[str]:
        actions = {
            Offer.Status.FULFILLED: "fulfil",
            Offer.Status.DECLINED: "decline",
            Offer.Status.WITHDRAWN: "withdraw",
        }
        return [name for status_, name in actions.items() if status_ in OFFER_TRANSITIONS[offer.status]]


class OfferCreateInput(StrictInput):
    @staticmethod
    def openapi_request_extra() -> dict[str, Any]:
        """The active gesture codes of the playbook when the schema is read (others answer 400)."""
        codes = sorted(Gesture.objects.filter(active=True).values_list("code", flat=True))
        return {"properties": {"gesture": {"type": "string", "enum": codes}}} if codes else {}

    gesture = serializers.SlugField(max_length=60, help_text="The gesture's code, as in the suggestions.")
    cost = serializers.DecimalField(
        **MONEY,
        min_value=0,
        required=False,
        allow_null=True,
        help_text="Defaults to the gesture's cost for this customer's loss.",
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class OfferFulfilInput(StrictInput):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    resolve_complaint = serializers.BooleanField(
        required=False, default=False, help_text="Also resolve the complaint, which closes the recovery."
    )


class OfferDeclineInput(StrictInput):
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class OfferWithdrawInput(StrictInput):
    note = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, help_text="Why, e.g. the customer's situation changed."
    )


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


class ApprovalOutput(serializers.ModelSerializer):
    offer = serializers.SerializerMethodField()
    complaint = serializers.SerializerMethodField()
    requested_by = UserRefOutput(read_only=True, allow_null=True)
    decided_by = UserRefOutput(read_only=True, allow_null=True)
    history = serializers.SerializerMethodField()

    class Meta:
        model = ApprovalRequest
        fields = [
            "id",
            "status",
            "required_tier",
            "offer",
            "complaint",
            "requested_by",
            "decided_by",
            "decided_at",
            "approved_amount",
            "note",
            "due_at",
            "reminded_at",
            "created_at",
            "history",
        ]

    def get_offer(self, approval: ApprovalRequest) -> dict[str, Any]:
        offer = approval.offer
        return {
            "id": offer.pk,
            "status": offer.status,
            "gesture": {"code": offer.gesture.code, "title": offer.gesture.title, "script": offer.gesture.script},
            "cost": f"{offer.cost:.2f}",
            "offered_cost": None if offer.offered_cost is None else f"{offer.offered_cost:.2f}",
            "currency": offer.currency,
            "suggested": offer.suggested,
            "suggestion_rank": offer.suggestion_rank,
            "suggestion_score": offer.suggestion_score,
            "suggestion_reasons": offer.suggestion_reasons,
            "note": offer.note,
            "proposed_by": UserRefOutput(offer.proposed_by).data if offer.proposed_by else None,
        }

    def get_complaint(self, approval: ApprovalRequest) -> dict[str, Any]:
        complaint = approval.offer.complaint
        customer = complaint.customer
        return {
            "reference": complaint.reference,
            "subject": complaint.subject,
            "cause": complaint.cause,
            "severity": complaint.severity,
            "grade": complaint.grade,
            "grade_reasons": complaint.grade_reasons,
            "risk_score": complaint.risk_score,
            "monetary_loss": f"{complaint.monetary_loss:.2f}",
            "currency": complaint.currency,
            "status": complaint.status,
            "customer": {
                "id": customer.pk,
                "name": customer.name,
                "lifetime_value": f"{customer.lifetime_value:.2f}",
                "social_reach": customer.social_reach,
                "gestures_past_year": getattr(approval, "customer_gestures_past_year", None),
            },
        }

    def get_history(self, approval: ApprovalRequest) -> list[dict[str, Any]]:
        """Every request of this offer, oldest first: shows where it waited before moving up."""
        requests = getattr(approval.offer, "history", None)  # prefetched by selectors.approval_list
        if requests is None:
            requests = list(approval.offer.approval_requests.order_by("created_at", "id"))
        return [
            {
                "id": r.pk,
                "required_tier": r.required_tier,
                "status": r.status,
                "created_at": r.created_at,
                "decided_at": r.decided_at,
            }
            for r in requests
        ]


class ApprovalFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ApprovalRequest.Status.choices)
    tier = django_filters.MultipleChoiceFilter(field_name="required_tier", choices=Tier.choices)

    class Meta:
        model = ApprovalRequest
        fields = ["status", "tier"]


class ApprovalDecisionInput(StrictInput):
    # Published in the schema: approving as asked needs nothing more; rejecting or naming an amount needs a note.
    openapi_request_extra = {
        "anyOf": [
            # A pattern, not an enum: drf-spectacular's enum hook would swap a one-value enum for the field's
            # whole enum component (approve or reject), and the schema would let a rejection go without a note.
            {"properties": {"decision": {"type": "string", "pattern": "^approve$"}}, "not": {"required": ["amount"]}},
            {"required": ["note"], "properties": {"note": {"type": "string", "pattern": NON_BLANK}}},
        ]
    }

    decision = serializers.ChoiceField(choices=["approve", "reject"])
    amount = serializers.DecimalField(
        **MONEY,
        min_value=0,
        required=False,
        help_text="Approve a different amount than asked (needs a note); leave it out to approve as asked.",
    )
    note = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, help_text="Why; required to reject or to change the amount."
    )


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
