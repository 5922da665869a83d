"""Customer activity, recovery outcomes and their windows, what is learned from them, and the metrics rollup."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from recovery.models.fields import MONEY
from recovery.models.offers import Gesture, Offer
from tickets.models import Cause, Complaint, Customer, Grade, Tier


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
