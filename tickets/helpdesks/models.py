"""A helpdesk connection (one per helpdesk webhook) and its inbox of deliveries.

Imported from tickets/models.py so the app label stays `tickets`.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from tickets.models import Cause, Comment, Complaint, Status


class HelpdeskKind(models.TextChoices):
    ZENDESK = "zendesk", "Zendesk"
    FRESHDESK = "freshdesk", "Freshdesk"
    ZAMMAD = "zammad", "Zammad"
    HELPSCOUT = "helpscout", "Help Scout"


# Tag (or custom field value) → cause, the default of every new connection; a manager edits it per connection.
# Tags compare in lower case with "-" and " " read as "_" (tickets/helpdesks/mapping.py reads them).
DEFAULT_CAUSE_MAP: dict[str, str] = {
    **dict.fromkeys(("rude", "staff", "staff_conduct", "attitude", "unfriendly", "impolite"), Cause.STAFF_CONDUCT),
    **dict.fromkeys(
        ("broken", "defect", "defective", "damaged", "faulty", "quality", "product_quality"), Cause.PRODUCT_QUALITY
    ),
    **dict.fromkeys(("delay", "delayed", "late", "late_delivery", "slow", "service_delay"), Cause.SERVICE_DELAY),
    **dict.fromkeys(
        ("repeat", "failed_fix", "repeat_issue", "still_broken", "reopened", "recurring"), Cause.FAILED_FIX
    ),
    **dict.fromkeys(("refund", "price", "pricing", "billing", "overcharged", "invoice"), Cause.PRICING),
    **dict.fromkeys(("ignored", "no_reply", "no_response", "unanswered"), Cause.IGNORED),
}
# Helpdesk priority name → our severity 1–5.
DEFAULT_SEVERITY_MAP: dict[str, int] = {"low": 2, "normal": 3, "medium": 3, "high": 4, "urgent": 5}
# Helpdesk status (lower-case name) → our status, for webhooks. Only final states are mapped by default: the
# helpdesk is where agents work the ticket, and a status our transitions cannot take is noted, not forced.
# Zammad and Help Scout reopen "closed" conversations freely, so theirs means resolved here.
DEFAULT_STATUS_MAPS: dict[str, dict[str, str]] = {
    "zendesk": {"solved": Status.RESOLVED, "closed": Status.CLOSED},
    "freshdesk": {"resolved": Status.RESOLVED, "closed": Status.CLOSED},
    "zammad": {"closed": Status.RESOLVED},
    "helpscout": {"closed": Status.RESOLVED},
}

def default_cause_map() -> dict[str, str]:
    return dict(DEFAULT_CAUSE_MAP)


def default_severity_map() -> dict[str, int]:
    return dict(DEFAULT_SEVERITY_MAP)


class HelpdeskConnection(models.Model):
    """One helpdesk pointing its webhook at us. `name` becomes the complaints' `source`."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=20, choices=HelpdeskKind.choices)
    name = models.CharField(max_length=50, unique=True)
    # Zendesk, Zammad and Help Scout sign with the secret itself, so it is kept encrypted (Fernet, key from
    # HELPDESK_SECRETS_KEY); Freshdesk only sends a password, so a salted hash is enough.
    secret_encrypted = models.TextField(blank=True, default="")
    secret_hash = models.CharField(max_length=200, blank=True, default="")
    active = models.BooleanField(default=True)
    cause_map = models.JSONField(default=default_cause_map, blank=True)
    cause_field = models.CharField(
        max_length=100, blank=True, default="", help_text="A custom field (name or id) whose value names the cause."
    )
    default_cause = models.CharField(max_length=30, choices=Cause.choices, default=Cause.OTHER)
    severity_map = models.JSONField(default=default_severity_map, blank=True)
    default_severity = models.PositiveSmallIntegerField(default=3)
    status_map = models.JSONField(default=dict, blank=True)
    # Write-back through the helpdesk's REST API (docs/integrations.md): off until a URL and a token are set.
    # The user (Zendesk agent email, Help Scout app id) is an identifier; the token (API token or key, Help
    # Scout app secret) is a credential, kept encrypted with the same Fernet key as the webhook secret.
    api_url = models.URLField(max_length=500, blank=True, default="")
    api_user = models.CharField(max_length=254, blank=True, default="")
    api_token_encrypted = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def inbound_path(self) -> str:
        return f"/hooks/helpdesk/{self.public_id}/"

    @property
    def writes_back(self) -> bool:
        return bool(self.active and self.api_url and self.api_token_encrypted)


class HelpdeskDelivery(models.Model):
    """One verified request from a helpdesk, stored raw before anything else: the replay and audit record."""

    class Result(models.TextChoices):
        PENDING = "pending", "Waiting to be processed"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (not a ticket change we use)"
        FAILED = "failed", "Failed"

    connection = models.ForeignKey(HelpdeskConnection, on_delete=models.CASCADE, related_name="deliveries")
    # The helpdesk's delivery id, or event + ticket + time when it sends none: unique per connection.
    delivery_id = models.CharField(max_length=200)
    event = models.CharField(max_length=120, blank=True, default="")
    ticket_id = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField()
    headers = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    result = models.CharField(max_length=20, choices=Result.choices, default=Result.PENDING)
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    complaint = models.ForeignKey(
        Complaint, null=True, blank=True, on_delete=models.SET_NULL, related_name="helpdesk_deliveries"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name_plural = "helpdesk deliveries"
        constraints = [
            models.UniqueConstraint(fields=["connection", "delivery_id"], name="helpdesk_delivery_unique")
        ]
        indexes = [
            models.Index(fields=["connection", "-received_at"], name="helpdesk_delivery_conn_idx"),
            models.Index(fields=["connection", "result", "-received_at"], name="helpdesk_delivery_result_idx"),
            models.Index(fields=["received_at"], name="helpdesk_delivery_received_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.connection.name} {self.event} {self.delivery_id}"


class HelpdeskWriteback(models.Model):
    """Which connection (and, for a reply, which comment) a write-back delivery is for. The delivery itself —
    state, retries, attempt log — is notifications' Delivery, shared with webhooks."""

    delivery = models.OneToOneField(
        "notifications.Delivery", on_delete=models.CASCADE, primary_key=True, related_name="helpdesk_writeback"
    )
    connection = models.ForeignKey(HelpdeskConnection, on_delete=models.CASCADE, related_name="writebacks")
    complaint_reference = models.CharField(max_length=20, blank=True, default="")
    ticket_id = models.CharField(max_length=200, blank=True, default="")
    # Set for a reply to the customer posted as a public comment; its sent/failed state is reported back to it.
    comment = models.ForeignKey(Comment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-delivery_id"]
        indexes = [models.Index(fields=["connection", "-created_at"], name="helpdesk_writeback_conn_idx")]

    def __str__(self) -> str:
        return f"{self.connection.name} #{self.ticket_id}: delivery {self.delivery_id}"
