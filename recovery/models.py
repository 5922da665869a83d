"""Recovery's data: grading settings, escalation rules and their traces, the playbook, offers and
approvals, customer activity and recovery outcomes, and what the product learns from them.

Workflows live in services.py; pure decisions in grading.py, rules.py, playbook.py and learning.py.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from tickets.models import Cause, Complaint, Customer, Grade, Tier

MONEY = {"max_digits": 12, "decimal_places": 2}


# --- Grading and escalation (issue 4) -------------------------------------------------------------


class GradingSettings(models.Model):
    """One row: the weights and thresholds of grading.GradingConfig, editable without a deploy."""

    config = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        verbose_name = verbose_name_plural = "grading settings"

    def __str__(self) -> str:
        return "Grading settings"


class EscalationRule(models.Model):
    """One ordered, data-driven rule; conditions and actions are validated by rules.validate_rule."""

    class Match(models.TextChoices):
        ALL = "all", "All conditions"
        ANY = "any", "Any condition"

    name = models.CharField(max_length=200)
    order = models.IntegerField(default=100)
    active = models.BooleanField(default=True)
    match = models.CharField(max_length=3, choices=Match.choices, default=Match.ALL)
    conditions = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    actions = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    stop_processing = models.BooleanField(default=False)
    time_based = models.BooleanField(
        default=False, help_text="Fires at most once per complaint, never on a closed one."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)

    class Meta:
        ordering = ["order", "id"]
        indexes = [models.Index(fields=["active", "order"], name="rule_active_order_idx")]

    def __str__(self) -> str:
        return self.name


class Assessment(models.Model):
    """One evaluation of a complaint: its grade, the facts used, and the trace of every rule."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="assessments")
    trigger = models.CharField(max_length=30)  # logged, changed, sweep, manual
    grade = models.CharField(max_length=10, choices=Grade.choices)
    score = models.PositiveSmallIntegerField()
    reasons = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    facts = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    traces = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    decision = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    # Hash of the inputs; an evaluation with the same fingerprint as the last one changes nothing.
    fingerprint = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["complaint", "-created_at", "-id"], name="assessment_complaint_idx")]

    def __str__(self) -> str:
        return f"{self.complaint_id}: {self.grade} ({self.score})"


class RuleFiring(models.Model):
    """A time-based rule that has fired for a complaint; the unique constraint makes it fire once."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="rule_firings")
    rule = models.ForeignKey(EscalationRule, on_delete=models.CASCADE, related_name="firings")
    fired_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["complaint", "rule"], name="rule_firing_once")]

    def __str__(self) -> str:
        return f"{self.rule_id} on {self.complaint_id}"


class Escalation(models.Model):
    """A complaint raised to a tier; senior staff acknowledge it inside its SLA."""

    class Status(models.TextChoices):
        OPEN = "open", "Waiting for acknowledgement"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        TAKEN_OVER = "taken_over", "Taken over"
        DEESCALATED = "deescalated", "De-escalated"
        SUPERSEDED = "superseded", "Moved to a higher tier"

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="escalations")
    tier = models.CharField(max_length=20, choices=Tier.choices)
    from_tier = models.CharField(max_length=20, choices=Tier.choices)
    reason = models.CharField(max_length=500)
    rule = models.ForeignKey(EscalationRule, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    ack_due_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tier", "status", "ack_due_at"], name="escalation_inbox_idx"),
            models.Index(fields=["ack_due_at"], condition=Q(status="open"), name="escalation_open_ack_idx"),
            models.Index(fields=["complaint", "-created_at"], name="escalation_complaint_idx"),
        ]
        constraints = [
            # At most one open escalation per complaint: a new one supersedes the old.
            models.UniqueConstraint(fields=["complaint"], condition=Q(status="open"), name="escalation_one_open"),
        ]

    def __str__(self) -> str:
        return f"{self.complaint_id} → {self.tier}"



_E = Escalation.Status
# The only moves an escalation's status may make (recovery.transitions.transition checks each). A newer
# escalation supersedes a waiting one; people acknowledge, take over or de-escalate; the last two are final.
ESCALATION_TRANSITIONS: dict[str, frozenset[str]] = {
    _E.OPEN: frozenset({_E.ACKNOWLEDGED, _E.TAKEN_OVER, _E.DEESCALATED, _E.SUPERSEDED}),
    _E.ACKNOWLEDGED: frozenset({_E.TAKEN_OVER, _E.DEESCALATED}),
    _E.TAKEN_OVER: frozenset({_E.DEESCALATED}),
    _E.DEESCALATED: frozenset(),
    _E.SUPERSEDED: frozenset(),
}


class SlaClock(models.Model):
    """Pauses of a complaint's SLA while it waits on the customer."""

    complaint = models.OneToOneField(Complaint, on_delete=models.CASCADE, related_name="sla_clock")
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"SLA clock of {self.complaint_id}"


class BacktestRun(models.Model):
    """A read-only replay of a candidate rule set against recent complaints."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    days = models.PositiveIntegerField(default=30)
    candidate_rules = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    result = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "created_at"], name="backtest_status_idx")]

    def __str__(self) -> str:
        return f"Backtest {self.pk} ({self.status})"


# --- Playbook, offers and approvals (issue 5) ---------------------------------------------------



_B = BacktestRun.Status
# A run is claimed once (queued → running) and ends done or failed (its worker may die: the sweep fails it).
BACKTEST_TRANSITIONS: dict[str, frozenset[str]] = {
    _B.QUEUED: frozenset({_B.RUNNING}),
    _B.RUNNING: frozenset({_B.DONE, _B.FAILED}),
    _B.DONE: frozenset(),
    _B.FAILED: frozenset(),
}


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


# --- Activity, outcomes and learning (issue 6) ------------------------------------------------------


class CustomerActivity(models.Model):
    class Kind(models.TextChoices):
        PURCHASE = "purchase", "Purchase"
        VISIT = "visit", "Visit"
        BOOKING = "booking", "Booking"
        RENEWAL = "renewal", "Renewal"
        GESTURE_REDEMPTION = "gesture_redemption", "Redemption of a gesture"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    occurred_at = models.DateTimeField()
    amount = models.DecimalField(**MONEY, default=Decimal("0"))
    currency = models.CharField(max_length=3, default=settings.DEFAULT_CURRENCY)
    source = models.CharField(max_length=50)
    external_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "customer activities"
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="activity_source_external_unique")
        ]
        indexes = [models.Index(fields=["customer", "occurred_at"], name="activity_customer_time_idx")]

    def __str__(self) -> str:
        return f"{self.kind} by {self.customer_id} at {self.occurred_at:%Y-%m-%d}"


class RecoveryOutcome(models.Model):
    """Whether the customer came back after a complaint, watched from its resolution.

    `offered`, `declined` and `offered_gesture` are the comparison group, fixed when the outcome is
    opened at resolution and never changed (intention-to-treat: what the customer did afterwards, a late
    fulfilment or a decline, cannot move them to the other group). `recovered`, `gesture`,
    `gesture_cost` and `fulfilled_at` describe what was fulfilled and may be filled in later.
    """

    complaint = models.OneToOneField(Complaint, on_delete=models.CASCADE, related_name="outcome")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="outcomes")
    offered = models.BooleanField(default=False, help_text="A gesture was offered by the resolution (fixed then).")
    declined = models.BooleanField(default=False, help_text="The customer declined the offer (still counted as offered).")
    offered_gesture = models.ForeignKey(
        Gesture, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="The gesture offered."
    )
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    recovered = models.BooleanField(help_text="A gesture was fulfilled for this complaint.")
    offer = models.ForeignKey(Offer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    gesture = models.ForeignKey(Gesture, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Copied at opening so metrics group without joins.
    cause = models.CharField(max_length=30, choices=Cause.choices)
    grade = models.CharField(max_length=10, choices=Grade.choices, blank=True)
    tier = models.CharField(max_length=20, choices=Tier.choices)
    gesture_cost = models.DecimalField(**MONEY, default=Decimal("0"))
    anchor_at = models.DateTimeField()
    hours_to_resolve = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "anchor_at"], name="outcome_customer_anchor_idx"),
            models.Index(fields=["anchor_at"], name="outcome_anchor_idx"),
        ]

    def __str__(self) -> str:
        return f"Outcome of {self.complaint_id}"


class OutcomeWindow(models.Model):
    """One watch window (e.g. 30, 60 or 90 days) of an outcome."""

    class State(models.TextChoices):
        PENDING = "pending", "Watching"
        RETURNED = "returned", "Returned"
        NOT_RETURNED = "not_returned", "Did not return"

    # No index of its own: the unique (outcome, days) index serves lookups by outcome.
    outcome = models.ForeignKey(RecoveryOutcome, on_delete=models.CASCADE, related_name="windows", db_index=False)
    days = models.PositiveSmallIntegerField()
    ends_at = models.DateTimeField()
    state = models.CharField(max_length=15, choices=State.choices, default=State.PENDING)
    returned_at = models.DateTimeField(null=True, blank=True)
    revenue = models.DecimalField(**MONEY, default=Decimal("0"))
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["outcome", "days"], name="outcome_window_days_unique")]
        # No index may cover state, settled_at, returned_at or revenue: settling then rewrites a window
        # in place (a HOT update, with room left by fillfactor 40 on PostgreSQL, migration 0006) instead of
        # touching every index — what lets one sweep settle a million outcomes in seconds.
        indexes = [models.Index(fields=["ends_at"], name="window_ends_idx")]

    def __str__(self) -> str:
        return f"{self.days}d of outcome {self.outcome_id}: {self.state}"


class GestureLearning(models.Model):
    """Counts behind the Beta posterior of 'returned within 60 days' per (cause, gesture)."""

    cause = models.CharField(max_length=30, choices=Cause.choices)
    gesture = models.ForeignKey(Gesture, on_delete=models.CASCADE, related_name="learning")
    successes = models.PositiveIntegerField(default=0)
    trials = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cause", "gesture"], name="learning_cause_gesture_unique")]

    def __str__(self) -> str:
        return f"{self.gesture_id}/{self.cause}: {self.successes}/{self.trials}"


class OutcomeRollup(models.Model):
    """What the default outcome dashboard reads instead of scanning every window (docs/outcomes-and-metrics.md,
    "The rollup"): per grouping (total, cause, grade, tier, gesture, month; spend per month), window length and
    group, the sums over the windows decided and elapsed by `OutcomeRollupMark.rolled_to`.

    Every column is a sum over customers — `k` counts each customer once per row — so a change to one
    customer's outcomes is applied by taking away that customer's old share and adding the new one.
    """

    grouping = models.CharField(max_length=10)
    days = models.PositiveSmallIntegerField(help_text="The window length; 0 for the spend rows (per outcome).")
    offered = models.BooleanField()
    declined = models.BooleanField(default=False, help_text="Set on the 'total' rows only.")
    key = models.CharField(max_length=60, blank=True, help_text="Cause, grade, tier, gesture id or YYYY-MM.")
    windows = models.IntegerField(default=0, help_text="Every window, decided or not (for 'watching').")
    n = models.IntegerField(default=0, help_text="Windows decided and elapsed (spend: outcomes).")
    s = models.IntegerField(default=0, help_text="Of those, returned.")
    k = models.IntegerField(default=0, help_text="Distinct customers of those.")
    fulfilled = models.IntegerField(default=0)
    late = models.IntegerField(default=0)
    cost = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["grouping", "days", "offered", "declined", "key"], name="rollup_cell_unique")
        ]

    def __str__(self) -> str:
        return f"{self.grouping} {self.days}d {self.key or '-'} offered={self.offered}: {self.s}/{self.n}"


class OutcomeRollupMark(models.Model):
    """The one row saying up to when the rollup holds decided windows; no row means no rollup (direct reads)."""

    rolled_to = models.DateTimeField()
    rebuilt_at = models.DateTimeField()
    never_days = models.CharField(max_length=100, help_text="The window lengths the never-complained rows hold.")

    def __str__(self) -> str:
        return f"rolled to {self.rolled_to:%Y-%m-%d %H:%M}"


class NeverComplainedAnchor(models.Model):
    """A customer's never-complained anchor (recovery/outcomes/metrics/queries.py, with no months chosen): their
    first qualifying activity, when no complaint of theirs was logged at or before it, and the next one after it.
    Kept with the rollup (activity intake, complaints logged or imported) and rebuilt with it."""

    customer = models.OneToOneField(Customer, on_delete=models.CASCADE, primary_key=True, related_name="+")
    occurred_at = models.DateTimeField(db_index=True)
    next_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.customer_id} anchored {self.occurred_at:%Y-%m-%d}"
