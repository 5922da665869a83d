"""What the outcome services share: enum shorthands and the system actor."""


from __future__ import annotations

from recovery.models import CustomerActivity, OutcomeWindow
from tickets.actors import ActorRef

Kind = CustomerActivity.Kind
State = OutcomeWindow.State


SYSTEM = ActorRef.system("Outcome tracking")
# Rows per statement in bulk writes and ids per queued task.
MAX_BATCH = 1000
