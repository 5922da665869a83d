"""Domain events that tickets announces; other apps subscribe (recovery grades and escalates).

Both are sent inside the writing transaction, so a receiver that queues work should use
transaction.on_commit. Arguments:
- complaint_logged(sender=Complaint, complaint_id: int, actor: ActorRef)
- complaint_changed(sender=Complaint, complaint_id: int, changed: frozenset[str], actor: ActorRef)
  `changed` names the fields that changed (for example {"status"} or {"severity", "subject"}).
- complaints_logged(sender=Complaint, complaint_ids: list[int], actor: ActorRef)
  Complaints logged together through batch intake (tickets.services.complaints_log_batch), sent once per chunk of
  tickets.services.ASSESS_CHUNK instead of complaint_logged per complaint; receivers queue work for the whole chunk.
- complaints_importing(sender=Complaint, complaints: list[Complaint], comments: list[list[str]], actor: ActorRef)
  A batch of complaints from a helpdesk's history (tickets/helpdesks/importers) is about to be bulk-inserted.
  The instances are unsaved (customer_id set); `comments[i]` is what the customer wrote later on complaints[i].
  A receiver may fill in the fields recovery owns (grade, risk_score, grade_reasons, assessed_at) on them, so the
  grade goes in with the INSERT instead of an UPDATE per row. Nothing else may be changed.
- complaints_imported(sender=Complaint, complaints: list[Complaint], actor: ActorRef)
  The same batch, inserted (with ids). Sent once per batch instead of complaint_logged per complaint; receivers
  must work set-based. Closed ones are history: never escalate or notify about them.
"""

from __future__ import annotations

from django.dispatch import Signal

complaint_logged = Signal()
complaint_changed = Signal()
complaints_logged = Signal()
complaints_importing = Signal()
complaints_imported = Signal()
