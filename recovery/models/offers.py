"""The playbook, offers and approvals: gestures, approval limits, offers, approval requests, the suggestion log."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from recovery.models.fields import MONEY
from tickets.models import Complaint, Grade, Tier


class ResourceKind(models.TextChoices):
    MONEY_NOW = "money_now", "Money now (refund)"
    MONEY_LATER = "money_later", "Money later (credit, voucher, free period)"
    EXCHANGE = "exchange", "Exchange or replacement"
    REDO_SERVICE = "redo_service", "Redo the service"
    ATTENTION = "attention", "Personal attention"


class Gesture(models.Model):
    """One make-good item of the playbook."""

    code = models.SlugField(max_length=60, unique=True)
    title = models.CharField(max_length=200)
    script = models.TextField(help_text="What the agent says and does.")
    resource_kind = models.CharField(max_length=20, choices=ResourceKind.choices)
    causes = models.JSONField(default=list, help_text="Complaint causes this gesture fits.")
    cost = models.DecimalField(**MONEY, default=Decimal("0"))
    cost_pct_of_loss = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="When set, the cost is this % of the customer's loss.",
    )
    perceived_value = models.DecimalField(**MONEY, default=Decimal("0"))
    surprise = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(3)])
    min_grade = models.CharField(max_length=10, choices=Grade.choices, default=Grade.GOOD)
    approval_tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.FRONTLINE)
    per_customer_per_year = models.PositiveSmallIntegerField(default=1)
    active = models.BooleanField(default=True)
    equivalence_group = models.CharField(
        max_length=60,
        blank=True,
        help_text="Gestures with the same group name are treated as equally good: the playbook draws among them "
        "at random (and logs the chance), so their results can be compared fairly.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class ApprovalLimit(models.Model):
    """Money a tier may spend on one offer without asking (empower the front line)."""

    tier = models.CharField(max_length=20, choices=Tier.choices, unique=True)
    amount = models.DecimalField(**MONEY, null=True, blank=True, help_text="Empty means no limit.")

    def __str__(self) -> str:
        return f"{self.tier}: {self.amount if self.amount is not None else 'no limit'}"


class Offer(models.Model):
    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        PENDING_APPROVAL = "pending_approval", "Waiting for approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        FULFILLED = "fulfilled", "Fulfilled"
        DECLINED = "declined", "Declined by the customer"
        WITHDRAWN = "withdrawn", "Withdrawn"

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="offers")
    gesture = models.ForeignKey(Gesture, on_delete=models.PROTECT, related_name="offers")
    cost = models.DecimalField(**MONEY, validators=[MinValueValidator(Decimal("0"))])
    currency = models.CharField(max_length=3, default=settings.DEFAULT_CURRENCY)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    suggested = models.BooleanField(default=False)
    suggestion_rank = models.PositiveSmallIntegerField(null=True, blank=True)
    suggestion_score = models.FloatField(null=True, blank=True)
    suggestion_reasons = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PROPOSED)
    # What was first asked for; `cost` becomes the approved amount when an approver changes it.
    offered_cost = models.DecimalField(**MONEY, null=True, blank=True)
    # Whose authority approved it: the offerer's own tier (within their limit) or the approver's tier.
    approved_tier = models.CharField(max_length=20, choices=Tier.choices, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["complaint", "-created_at"], name="offer_complaint_idx"),
            models.Index(fields=["status", "created_at"], name="offer_status_idx"),
            models.Index(fields=["gesture", "status"], name="offer_gesture_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.gesture} for {self.complaint_id}"

    def allowed_transitions(self) -> list[str]:
        return sorted(OFFER_TRANSITIONS[self.status], key=[s.value for s in self.Status].index)


_S = Offer.Status
# The only moves an offer's status may make (services.offers.offer_transition checks every move against it).
# `proposed` lasts only inside offer_create, which routes the new offer at once; decisions move it on from
# pending; the customer's answer is the last move. Until it is given, whoever may offer may withdraw it.
OFFER_TRANSITIONS: dict[str, frozenset[str]] = {
    _S.PROPOSED: frozenset({_S.PENDING_APPROVAL, _S.APPROVED, _S.WITHDRAWN}),
    _S.PENDING_APPROVAL: frozenset({_S.APPROVED, _S.REJECTED, _S.WITHDRAWN}),
    _S.APPROVED: frozenset({_S.FULFILLED, _S.DECLINED, _S.WITHDRAWN}),
    _S.REJECTED: frozenset(),
    _S.FULFILLED: frozenset(),
    _S.DECLINED: frozenset(),
    _S.WITHDRAWN: frozenset(),
}


class ApprovalRequest(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        ESCALATED = "escalated", "Moved to a higher tier"
        WITHDRAWN = "withdrawn", "Withdrawn"  # the offer was withdrawn before anyone decided

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="approval_requests")
    required_tier = models.CharField(max_length=20, choices=Tier.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    approved_amount = models.DecimalField(**MONEY, null=True, blank=True)
    note = models.TextField(blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "required_tier", "created_at"], name="approval_inbox_idx")]
        constraints = [
            models.UniqueConstraint(fields=["offer"], condition=Q(status="pending"), name="approval_one_pending"),
        ]

    def __str__(self) -> str:
        return f"Approval of offer {self.offer_id} ({self.status})"



_A = ApprovalRequest.Status
# A request is decided once: approved, rejected, moved a tier up (a new pending request replaces it), or
# withdrawn with its offer.
APPROVAL_TRANSITIONS: dict[str, frozenset[str]] = {
    _A.PENDING: frozenset({_A.APPROVED, _A.REJECTED, _A.ESCALATED, _A.WITHDRAWN}),
    _A.APPROVED: frozenset(),
    _A.REJECTED: frozenset(),
    _A.ESCALATED: frozenset(),
    _A.WITHDRAWN: frozenset(),
}


class SuggestionLog(models.Model):
    """What the ranking showed for a complaint, so gestures chosen against it can be evaluated too."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="suggestion_logs")
    gesture = models.ForeignKey(Gesture, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveSmallIntegerField()
    score = models.FloatField()
    reasons = models.JSONField(default=list)
    shown_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    chosen = models.BooleanField(default=False)
    # The chance this gesture had of being drawn into first place (0 outside the equipoise band), and
    # whether first place was drawn at random on this showing — what inverse-propensity estimates need.
    propensity = models.FloatField(null=True, blank=True)
    randomised = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["complaint", "-created_at"], name="suggestion_complaint_idx")]

    def __str__(self) -> str:
        return f"#{self.rank} {self.gesture_id} for {self.complaint_id}"
