"""recovery.vocabulary is the one list of grades, causes and tiers that recovery's pure modules read; the
database columns take their choices from tickets.models. The two must be the same words, in the same order."""

from __future__ import annotations

from recovery import vocabulary
from tickets.models import OPEN_STATUSES, Cause, Channel, Grade, Status, Tier


def test_vocabulary_matches_the_ticket_columns_choices_in_order():
    assert vocabulary.GRADES == tuple(Grade.values)
    assert vocabulary.CAUSES == tuple(Cause.values)
    assert vocabulary.TIERS == tuple(Tier.values)
    assert vocabulary.CHANNELS == tuple(Channel.values)
    assert vocabulary.STATUSES == tuple(Status.values)
    assert vocabulary.CLOSED_STATUSES == frozenset(Status.values) - frozenset(OPEN_STATUSES)
