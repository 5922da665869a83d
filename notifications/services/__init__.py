"""Writes for notifications, one module per concern. Knows nothing of complaints.

- notices.py          in-app notices and the emails that tell people about them
- outbox.py           the outbox of domain events and the deliveries it queues for webhook endpoints
- webhooks.py         webhook endpoints, and each delivery's attempts with retries, a log and replay
- customer_emails.py  emails to customers (replies), sent and retried like a delivery

Callers import this package (`from notifications import services`); its names are those of the modules above.
"""

# ruff: noqa: F401  (this package re-exports its modules' public names)

from __future__ import annotations

from notifications.delivery import AttemptOutcome
from notifications.services.customer_emails import (
    outbound_email_queue,
    outbound_email_retry,
    outbound_email_send,
    outbound_emails_due,
)
from notifications.services.notices import (
    MAX_EMAIL_ATTEMPTS,
    TRANSIENT_EMAIL_ERRORS,
    email_lease,
    notice_send,
    notification_email_deliver,
    notification_email_requeue_stale,
    notification_mark_read,
)
from notifications.services.outbox import (
    BULK_ENQUEUE_LIMIT,
    SUBSCRIPTIONS_CACHE_KEY,
    SUBSCRIPTIONS_CACHE_SECONDS,
    deliveries_enqueue,
    delivery_create,
    event_publish,
    event_wanted,
    events_publish_many,
    subscriptions_changed,
)
from notifications.services.webhooks import (
    NewEndpoint,
    delivery_attempt,
    delivery_resend,
    webhook_deliveries_due,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_replay,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
)
