"""Every write to customers and complaints, one module per concern. Each service is atomic and writes one timeline
event.

- customers.py  who complained: found by reference or email, or created; one at a time or in bulk
- intake.py     logging complaints, one or a batch, idempotent by (source, external_id)
- changes.py    a complaint's details, status (along STATUS_TRANSITIONS) and assignee
- replies.py    notes with @mentions, replies to the customer and what became of each send
- desk.py       tags, bulk actions, macros, saved queue views

Callers import this package (`from tickets import services`); its names are those of the modules above.
"""

# ruff: noqa: F401  (this package re-exports its modules' public names)

from __future__ import annotations

from tickets.services.changes import (
    EDITABLE_FIELDS,
    INTAKE_UPDATABLE_FIELDS,
    apply_changes,
    complaint_assign,
    complaint_transition,
    complaint_update,
    locked,
    staff_user_get,
)
from tickets.services.customers import (
    CustomerInput,
    CustomerKey,
    customer_fields,
    customer_resolve,
    customers_refresh_bulk,
    customers_resolve_bulk,
    normalise_email,
)
from tickets.services.desk import (
    BULK_MAX,
    BulkOutcome,
    complaint_tag_add,
    complaints_bulk_apply,
    macro_save,
    saved_view_save,
    tag_clean,
)
from tickets.services.intake import (
    ASSESS_CHUNK,
    MAX_LOG_BATCH,
    ComplaintInput,
    LogResult,
    complaint_log,
    complaints_log_batch,
)
from tickets.services.replies import (
    EMAIL_ACTOR,
    HELPDESK_ACTOR,
    MENTION_RE,
    MENTIONS_MAX,
    ReplyUndeliverable,
    comment_add,
    mentioned_usernames,
    reply_channel,
    reply_delivered,
    reply_delivery_failed,
    reply_email_headers,
    reply_send_again,
    reply_undeliverable_reason,
)
