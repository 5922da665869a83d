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
