"""The agent's desk in the browser, one module per screen:

- queue_page.py the queue: filters, sorting, saved views, bulk actions
- intake.py     logging a complaint, the customer lookup
- complaint.py  the complaint page and its actions (comments, replies, macros, status, assignee)
- macros.py     writing and managing macros

Thin: every view checks the role on the server (tickets.permissions.role_required, the one role check), then calls
one selector or one service. Actions answer an htmx request with the re-rendered part of the page and a plain form
POST with a redirect (the fallback without JavaScript). Domain errors become messages beside the action, never a
server error.
"""

# ruff: noqa: F401  (tickets/urls.py routes to the names re-exported here)

from __future__ import annotations

from tickets.views.complaint import (
    complaint_assign,
    complaint_changes,
    complaint_comment,
    complaint_detail,
    complaint_transition,
    macro_insert,
    reply_send_again,
)
from tickets.views.intake import complaint_new, customer_lookup
from tickets.views.macros import macro_edit, macro_list
from tickets.views.queue_page import queue, queue_bulk, saved_view_create, saved_view_delete
