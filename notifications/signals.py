"""What notifications announces, so the app that queued the work can record the result in its own terms.

Sent inside the transaction that records the result. Arguments:
- outbound_email_sent(sender=OutboundEmail, ref: str, email_id: int, sent_at: datetime)
- outbound_email_failed(sender=OutboundEmail, ref: str, email_id: int, error: str, final: bool,
  retry_at: datetime | None) — `final` when no retry is left
- webhook_endpoint_disabled(sender=WebhookEndpoint, endpoint_id: int, reason: str)
"""

from __future__ import annotations

from django.dispatch import Signal

outbound_email_sent = Signal()
outbound_email_failed = Signal()
webhook_endpoint_disabled = Signal()
