"""Migration 0011 gives outcomes opened before it their group from the offers on record."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.apps import apps

from recovery.models import RecoveryOutcome
from tests.factories import ComplaintFactory
from tests.recovery.outcomes_factories import make_gesture

pytestmark = pytest.mark.django_db

migration = importlib.import_module("recovery.migrations.0011_honest_outcomes")
T0 = datetime(2025, 3, 1, tzinfo=UTC)


def old_outcome(*, offers: list[tuple[str, str]]) -> RecoveryOutcome:
    """An outcome as it was before 0011 (no group yet), with offers (gesture code, status) on its complaint."""
    complaint = ComplaintFactory()
    fulfilled = None
    for code, status in offers:
        offer = complaint.offers.create(
            gesture=make_gesture(code), cost=Decimal("10.00"), status=status,
            fulfilled_at=T0 if status == "fulfilled" else None,
        )
        fulfilled = offer if status == "fulfilled" else fulfilled
    return RecoveryOutcome.objects.create(
        complaint=complaint, customer=complaint.customer, recovered=fulfilled is not None, cause="pricing",
        tier="frontline", anchor_at=T0, offer=fulfilled, gesture=fulfilled.gesture if fulfilled else None,
    )


def test_backfill_sets_the_group_from_the_offers_on_record():
    fulfilled = old_outcome(offers=[("note", "fulfilled")])
    declined = old_outcome(offers=[("call", "declined")])
    rejected = old_outcome(offers=[("call", "rejected")])
    nothing = old_outcome(offers=[])

    migration.backfill_groups(apps, None)

    rows = {
        o.pk: (o.offered, o.declined, o.offered_gesture.code if o.offered_gesture else None, o.fulfilled_at)
        for o in RecoveryOutcome.objects.select_related("offered_gesture")
    }
    assert rows[fulfilled.pk] == (True, False, "note", T0)
    assert rows[declined.pk] == (True, True, "call", None)
    assert rows[rejected.pk] == (False, False, None, None)
    assert rows[nothing.pk] == (False, False, None, None)
