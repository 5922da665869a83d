"""Input and output serializers of the offers API (recovery/offers/api.py holds the viewsets)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from recovery.models import OFFER_TRANSITIONS, ApprovalRequest, Gesture, Offer
from tickets.api.serializers import UserRefOutput
from tickets.api.strict import NON_BLANK, StrictInput

MONEY = {"max_digits": 12, "decimal_places": 2}


class GestureRefOutput(serializers.ModelSerializer):
    class Meta:
        model = Gesture
        fields = ["id", "code", "title", "resource_kind", "surprise", "approval_tier"]


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
