"""Generic in-app notices with email delivery. Knows nothing of complaints or recovery."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Notification(models.Model):
    class EmailState(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Not emailed"
        FAILED = "failed", "Failed"

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=500, blank=True)
    # Makes a notice idempotent: the same key for the same recipient is delivered once.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    email_state = models.CharField(max_length=10, choices=EmailState.choices, default=EmailState.PENDING)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    emailed_at = models.DateTimeField(null=True, blank=True)
    # While "sending", the claim is good until then; a send that crashed is claimed again after it.
    email_lease_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "dedupe_key"],
                condition=models.Q(dedupe_key__isnull=False),
                name="notification_recipient_dedupe_unique",
            )
        ]
        indexes = [
            models.Index(fields=["recipient", "read_at", "-created_at"], name="notification_inbox_idx"),
            models.Index(fields=["email_state", "created_at"], name="notification_email_state_idx"),
        ]

    def __str__(self) -> str:
        return self.title


# --- outbound events: the outbox, webhook endpoints, deliveries and their attempts -------------------------------


class WebhookEndpoint(models.Model):
    """A URL that receives signed events (Standard Webhooks). The secret is stored encrypted, never hashed:
    it has to be usable to sign every delivery."""

    url = models.URLField(max_length=1000)
    description = models.CharField(max_length=500, blank=True)
    # Event types this endpoint wants; empty means every event.
    events = models.JSONField(default=list, blank=True)
    active = models.BooleanField(default=True)
    secret_encrypted = models.TextField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Set at the first failed delivery after a success; cleared by the next success. Drives auto-disabling.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    # Deleting only marks the row: a publisher that read the endpoint a moment earlier may still be inserting a
    # delivery for it, and a vanished row would fail that transaction (the complaint's) on its foreign key.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class OutboxEvent(models.Model):
    """One domain event, written in the same transaction as the change that caused it.

    `body` is exactly what receivers get ({"type", "version", "timestamp", "data"}); `msg_id` is the
    Standard Webhooks `webhook-id`, the same for every delivery and retry of this event.
    """

    msg_id = models.CharField(max_length=40, unique=True)
    type = models.CharField(max_length=60)
    version = models.PositiveSmallIntegerField(default=1)
    body = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["type", "-created_at"], name="outbox_type_idx")]

    def __str__(self) -> str:
        return f"{self.type} {self.msg_id}"


class Delivery(models.Model):
    """One event to one target. Webhook endpoints are the first target kind; others (a helpdesk's write-back)
    add a kind and a sender in notifications.delivery.SENDERS and reuse the retries, the log and replay."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    class Target(models.TextChoices):
        WEBHOOK = "webhook", "Webhook endpoint"

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    target_kind = models.CharField(max_length=20, choices=Target.choices, default=Target.WEBHOOK)
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="delivery_event_endpoint_unique"),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="delivery_due_idx"),
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id}: {self.state}"


class DeliveryAttempt(models.Model):
    """The log of one try: what came back, how long it took."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    latency_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    success = models.BooleanField(default=False)
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["delivery", "-started_at"], name="attempt_delivery_idx")]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"


class OutboundEmail(models.Model):
    """An email to someone outside the staff (a customer), sent with retries; `ref` names what it is for
    (e.g. "comment:12"), and the sent/failed signals carry it back to the app that queued it."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    ref = models.CharField(max_length=100, unique=True)
    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    from_email = models.CharField(max_length=300)
    reply_to = models.CharField(max_length=300, blank=True)
    headers = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="outbound_email_due_idx")]

    def __str__(self) -> str:
        return f"{self.ref} → {self.to}: {self.state}"
