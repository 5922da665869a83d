"""Domain events that tickets announces; other apps subscribe (recovery grades and escalates).

Both are sent inside the writing transaction, so a receiver that queues work should use
transaction.on_commit. Arguments:
- complaint_logged(sender=Complaint, complaint_id: int, actor: ActorRef)
- complaint_changed(sender=Complaint, complaint_id: int, changed: frozenset[str], actor: ActorRef)
  `changed` names the fields that changed (for example {"status"} or {"severity", "subject"}).
- complaints_imported(sender=Complaint, complaint_ids: list[int], actor: ActorRef)
  A batch of complaints was bulk-imported from a helpdesk's history (tickets/helpdesks/importers). Sent once per
  batch instead of complaint_logged per complaint; receivers must work set-based. Closed ones are history:
  grade them, never escalate or notify.
"""

from __future__ import annotations

from django.dispatch import Signal

complaint_logged = Signal()
complaint_changed = Signal()
complaints_imported = Signal()
