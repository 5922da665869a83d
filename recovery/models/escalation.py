"""Grading and escalation: grading settings, rules and their firings, assessments, escalations, the SLA clock,
backtest runs."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from tickets.models import Complaint, Grade, Tier


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


_B = BacktestRun.Status
# A run is claimed once (queued → running) and ends done or failed (its worker may die: the sweep fails it).
BACKTEST_TRANSITIONS: dict[str, frozenset[str]] = {
    _B.QUEUED: frozenset({_B.RUNNING}),
    _B.RUNNING: frozenset({_B.DONE, _B.FAILED}),
    _B.DONE: frozenset(),
    _B.FAILED: frozenset(),
}
