"""The starter playbook and the default approval limits that migration 0003 loads."""

from __future__ import annotations

from decimal import Decimal

import pytest

from recovery.models import ApprovalLimit, Gesture
from recovery.offers.selectors import DEFAULT_APPROVAL_LIMITS, approval_limits, gesture_spec
from recovery.offers.starter_playbook import STARTER_GESTURES

pytestmark = pytest.mark.django_db


def test_starter_playbook_is_loaded_as_valid_active_gestures():
    codes = {g["code"] for g in STARTER_GESTURES}

    gestures = list(Gesture.objects.filter(code__in=codes))

    assert len(gestures) == len(STARTER_GESTURES) >= 20
    for gesture in gestures:
        spec = gesture_spec(gesture)  # raises when a row is not valid
        assert spec.active
    refund = Gesture.objects.get(code="refund_150_percent")
    assert (refund.cost_pct_of_loss, refund.approval_tier, refund.causes[:1]) == (Decimal("150.00"), "manager", ["pricing"])
    call = Gesture.objects.get(code="exec_call_six_months_free")
    assert (call.surprise, call.min_grade, call.approval_tier) == (3, "ugly", "executive")


def test_default_approval_limits_empower_the_front_line():
    rows = dict(ApprovalLimit.objects.values_list("tier", "amount"))

    assert rows == {"frontline": Decimal("50.00"), "lead": Decimal("250.00"), "manager": Decimal("1000.00"), "executive": None}
    assert approval_limits() == rows == dict(DEFAULT_APPROVAL_LIMITS)


def test_approval_limits_fall_back_to_the_defaults_for_a_missing_tier():
    ApprovalLimit.objects.filter(tier="lead").delete()
    ApprovalLimit.objects.filter(tier="frontline").update(amount=Decimal("75"))

    assert approval_limits() == {"frontline": Decimal("75"), "lead": Decimal("250.00"), "manager": Decimal("1000.00"), "executive": None}
