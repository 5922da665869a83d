"""What notifications announces, so the app that queued the work can record the result in its own terms.

Sent inside the transaction that records the result. Arguments:
- outbound_email_sent(sender=OutboundEmail, ref: str, email_id: int, sent_at: datetime)
- outbound_email_failed(sender=OutboundEmail, ref: str, email_id: int, error: str, final: bool,
  retry_at: datetime | None) — `final` when no retry is left
- webhook_endpoint_disabled(sender=WebhookEndpoint, endpoint_id: int, reason: str)
- delivery_succeeded(sender=Delivery, delivery_id: int, target_kind: str, at: datetime)
- delivery_failed(sender=Delivery, delivery_id: int, target_kind: str, error: str, final: bool,
  retry_at: datetime | None) — after each failed attempt; `final` when no retry is left
"""

from __future__ import annotations

from django.dispatch import Signal

outbound_email_sent = Signal()
outbound_email_failed = Signal()
webhook_endpoint_disabled = Signal()
delivery_succeeded = Signal()
delivery_failed = Signal()
