"""Customers, complaints, their append-only timeline, comments, and integration keys.

Models hold fields, constraints and transition tables; workflows live in services.py.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

REFERENCE_PREFIX = "CX-"
REFERENCE_RE = re.compile(r"^\s*CX-?(\d{1,12})\s*$", re.IGNORECASE)
MAX_SOCIAL_REACH = 2_000_000_000  # fits a 32-bit integer column on every database


class Cause(models.TextChoices):
    STAFF_CONDUCT = "staff_conduct", "Staff conduct (rude, discourteous, unknowledgeable)"
    PRODUCT_QUALITY = "product_quality", "Product quality"
    SERVICE_DELAY = "service_delay", "Service delay"
    FAILED_FIX = "failed_fix", "Quality problem that keeps needing fixing"
    PRICING = "pricing", "Pricing"
    IGNORED = "ignored", "Being ignored (no or slow answer)"
    OTHER = "other", "Other"


class Channel(models.TextChoices):
    WEB = "web", "Web"
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    CHAT = "chat", "Chat"
    SOCIAL = "social", "Social media"
    IN_PERSON = "in_person", "In person"
    API = "api", "API"


class Grade(models.TextChoices):
    GOOD = "good", "Good"
    NEUTRAL = "neutral", "Neutral"
    BAD = "bad", "Bad"
    UGLY = "ugly", "Ugly"


class Tier(models.TextChoices):
    FRONTLINE = "frontline", "Frontline agent"
    LEAD = "lead", "Team lead"
    MANAGER = "manager", "Manager"
    EXECUTIVE = "executive", "Executive"


TIER_ORDER = [Tier.FRONTLINE, Tier.LEAD, Tier.MANAGER, Tier.EXECUTIVE]


class Status(models.TextChoices):
    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer", "Waiting on customer"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


# The only moves a complaint's status may make; services check every change against it.
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    Status.NEW: frozenset({Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER, Status.RESOLVED}),
    Status.IN_PROGRESS: frozenset({Status.WAITING_ON_CUSTOMER, Status.RESOLVED}),
    Status.WAITING_ON_CUSTOMER: frozenset({Status.IN_PROGRESS, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.IN_PROGRESS}),
    Status.CLOSED: frozenset(),
}
OPEN_STATUSES = (Status.NEW, Status.IN_PROGRESS, Status.WAITING_ON_CUSTOMER)


class Role(models.TextChoices):
    """Django group names; each maps to the tier it works at."""

    AGENT = "agent", "Agent"
    LEAD = "lead", "Team lead"
    MANAGER = "manager", "Manager"
    EXECUTIVE = "executive", "Executive"


ROLE_TIER = {Role.AGENT: Tier.FRONTLINE, Role.LEAD: Tier.LEAD, Role.MANAGER: Tier.MANAGER, Role.EXECUTIVE: Tier.EXECUTIVE}


def reference_for(pk: int) -> str:
    return f"{REFERENCE_PREFIX}{pk:06d}"


def pk_from_reference(reference: str) -> int | None:
    match = REFERENCE_RE.match(reference or "")
    return int(match.group(1)) if match else None


class Customer(models.Model):
    name = models.CharField(max_length=200, blank=True)
    # Stored lower-case so lookups by email are exact and indexable.
    email = models.EmailField(max_length=254, null=True, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    lifetime_value = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    social_reach = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(MAX_SOCIAL_REACH)])
    segment = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["email"], name="customer_email_unique")]
        indexes = [models.Index(fields=["name"], name="customer_name_idx")]

    def __str__(self) -> str:
        return self.name or self.email or f"Customer {self.pk}"


class CustomerReference(models.Model):
    """The customer's id in another system (a helpdesk, a shop, a CRM)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="references")
    source = models.CharField(max_length=50)
    external_id = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "external_id"], name="customer_ref_source_external_unique")
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"


class Complaint(models.Model):
    # No index of its own on customer, assignee: complaint_customer_created_idx and complaint_assignee_status_idx
    # lead with them, and every index is one more insert per complaint logged.
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="complaints", db_index=False)
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.WEB)
    source = models.CharField(max_length=50, blank=True, default="")
    external_id = models.CharField(max_length=200, null=True, blank=True)
    cause = models.CharField(max_length=30, choices=Cause.choices)
    severity = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    monetary_loss = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default=settings.DEFAULT_CURRENCY)
    subject = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    threatens_public = models.BooleanField(default=False)
    says_wont_return = models.BooleanField(default=False)
    occurred_at = models.DateTimeField(null=True, blank=True)

    status = models.CharField(max_length=30, choices=Status.choices, default=Status.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_complaints",
        db_index=False,
    )
    tier = models.CharField(max_length=20, choices=Tier.choices, default=Tier.FRONTLINE)
    tags = models.JSONField(default=list, blank=True)

    response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    # Filled by recovery's assessment; empty until then.
    grade = models.CharField(max_length=10, choices=Grade.choices, blank=True, default="")
    risk_score = models.PositiveSmallIntegerField(null=True, blank=True)
    grade_reasons = models.JSONField(default=list, blank=True)
    assessed_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=Q(external_id__isnull=False),
                name="complaint_source_external_unique",
            ),
            models.CheckConstraint(condition=Q(severity__gte=1, severity__lte=5), name="complaint_severity_1_5"),
            models.CheckConstraint(condition=Q(monetary_loss__gte=0), name="complaint_loss_not_negative"),
        ]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="complaint_created_idx"),
            models.Index(fields=["status", "-created_at"], name="complaint_status_created_idx"),
            models.Index(fields=["assignee", "status"], name="complaint_assignee_status_idx"),
            models.Index(fields=["cause", "-created_at"], name="complaint_cause_created_idx"),
            models.Index(fields=["grade", "-created_at"], name="complaint_grade_created_idx"),
            models.Index(fields=["tier", "status"], name="complaint_tier_status_idx"),
            models.Index(fields=["customer", "-created_at"], name="complaint_customer_created_idx"),
            models.Index(fields=["response_due_at"], name="complaint_response_due_idx"),
            models.Index(fields=["resolution_due_at"], name="complaint_resolution_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    @property
    def reference(self) -> str:
        # Derived from the primary key so it can never drift or collide.
        return reference_for(self.pk) if self.pk else ""

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def allowed_transitions(self) -> list[str]:
        return sorted(STATUS_TRANSITIONS[self.status], key=[s.value for s in Status].index)


class Actor(models.TextChoices):
    USER = "user", "User"
    INTEGRATION = "integration", "Integration key"
    SYSTEM = "system", "System"


class TimelineEvent(models.Model):
    """Append-only audit trail of a complaint: one row for every change."""

    class Kind(models.TextChoices):
        LOGGED = "logged", "Complaint logged"
        UPDATED = "updated", "Details updated"
        STATUS_CHANGED = "status_changed", "Status changed"
        ASSIGNED = "assigned", "Assigned"
        COMMENTED = "commented", "Comment added"
        DUPLICATE_RECEIVED = "duplicate_received", "Duplicate delivery received"
        ASSESSED = "assessed", "Experience graded"
        ESCALATED = "escalated", "Escalated"
        DEESCALATED = "deescalated", "De-escalated"
        ACKNOWLEDGED = "acknowledged", "Escalation acknowledged"
        DEADLINE_SET = "deadline_set", "Deadline set"
        TAGGED = "tagged", "Tagged"
        OFFER = "offer", "Offer"
        APPROVAL = "approval", "Approval"
        OUTCOME = "outcome", "Outcome"

    # Indexed by timeline_complaint_idx, which leads with it; the actor's user only where there is one (a partial
    # index: events by API keys, helpdesks and the system add no entry to it).
    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    actor_type = models.CharField(max_length=20, choices=Actor.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    actor_key = models.ForeignKey("ApiKey", null=True, blank=True, on_delete=models.SET_NULL)
    actor_label = models.CharField(max_length=200)
    message = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # No index of its own: every read of the timeline goes through timeline_complaint_idx.
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["complaint", "-created_at", "-id"], name="timeline_complaint_idx"),
            models.Index(fields=["actor_user"], name="timeline_actor_user_idx", condition=Q(actor_user__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.actor_label}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("Timeline events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Timeline events are append-only.")


class Comment(models.Model):
    class Kind(models.TextChoices):
        NOTE = "note", "Internal note"
        REPLY = "reply", "Reply to the customer"

    class DeliveryState(models.TextChoices):
        PENDING = "pending", "Sending"
        RETRYING = "retrying", "Not sent yet, retrying"
        SENT = "sent", "Sent"
        FAILED = "failed", "Could not be sent"

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="comments")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.NOTE)
    body = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    author_label = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    # Replies only: how the reply travels to the customer and whether it got there (notes leave these empty).
    delivery_channel = models.CharField(max_length=20, blank=True, default="")
    delivery_state = models.CharField(max_length=10, choices=DeliveryState.choices, blank=True, default="")
    delivery_error = models.CharField(max_length=500, blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["complaint", "-created_at"], name="comment_complaint_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.complaint_id}"


class ApiKey(models.Model):
    """An integration's key. Only a SHA-256 hash of the secret is stored; the key is shown once."""

    class Scope(models.TextChoices):
        COMPLAINTS_READ = "complaints:read", "Read complaints, timelines and assessments"
        COMPLAINTS_WRITE = "complaints:write", "Log and update complaints"
        CUSTOMERS_READ = "customers:read", "Read customers"
        ESCALATIONS = "escalations", "Read and acknowledge escalations"
        OFFERS = "offers", "Read and make offers, read approvals"
        ACTIVITY_WRITE = "activity:write", "Report customer activity"
        METRICS_READ = "metrics:read", "Read outcome metrics"
        ADMIN = "admin", "Configure rules and playbook"

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    hashed_key = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    # A key may act for a person (so they can decide approvals); most keys act for a tool.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class IdempotencyRecord(models.Model):
    """The first answer to a POST carrying an Idempotency-Key, replayed for the same key and body."""

    principal = models.CharField(max_length=60)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True, encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["principal", "key"], name="idempotency_principal_key_unique")]

    def __str__(self) -> str:
        return f"{self.principal} {self.key}"


class Macro(models.Model):
    """A reusable reply or note text with placeholders ({{customer_name}}, {{reference}}, ...); see tickets/macros.py.

    Leads, managers and executives manage them; every agent may insert them on the complaint page."""

    title = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Comment.Kind.choices, default=Comment.Kind.REPLY)
    body = models.TextField(max_length=20_000)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["title", "id"]
        constraints = [models.UniqueConstraint(fields=["title"], name="macro_title_unique")]

    def __str__(self) -> str:
        return self.title


class SavedView(models.Model):
    """A named queue filter: the queue URL's query string (filters and sort), private to its owner or shared."""

    name = models.CharField(max_length=80)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views")
    shared = models.BooleanField(default=False)
    query = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="saved_view_owner_name_unique")]

    def __str__(self) -> str:
        return self.name


# Helpdesk connections live in their own package (inbound channels are intake); imported here for the app label.
from tickets.helpdesks.models import HelpdeskConnection, HelpdeskDelivery, HelpdeskWriteback  # noqa: E402, F401
