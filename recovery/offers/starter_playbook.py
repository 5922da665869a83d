"""The playbook a new company starts with; a data migration loads it into the Gesture table.

Plain dicts so the migration does not import app code that may change later. Amounts are in the
company's currency. When `compensation_pct_of_loss` is set, the gesture is sized as that share of
the customer's loss and `cost` / `perceived_value` are 0 (they are worked out per complaint).

Surprise: 0 the expected remedy, 1 an upgrade or a little more than expected, 2 unexpected,
3 personal from a senior person. `min_grade` keeps the big gestures for the cases that need them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from recovery.vocabulary import CAUSES

__all__ = ["STARTER_GESTURES"]

_ZERO = Decimal(0)

STARTER_GESTURES: list[dict[str, Any]] = [
    # --- Personal attention: repays being ignored or treated badly, and lifts every other cause.
    {
        "code": "exec_call_six_months_free",
        "title": "Executive's personal call and six months free",
        "script": (
            "Ask the executive on duty to phone the customer today, not email. They apologise by "
            "name for what happened, say what we are changing because of it, and tell the customer "
            "the next six months are on us; log the call and apply the free period before it ends."
        ),
        "resource_kind": "attention",
        "causes": (
            "staff_conduct",
            "ignored",
            "failed_fix",
            "service_delay",
            "product_quality",
            "other",
        ),
        "cost": Decimal("300.00"),
        "perceived_value": Decimal("900.00"),
        "surprise": 3,
        "min_grade": "ugly",
        "approval_tier": "executive",
        "per_customer_per_year": 1,
        "compensation_pct_of_loss": None,
    },
    {
        "code": "exec_personal_call",
        "title": "Personal call from an executive",
        "script": (
            "Book a ten-minute call with an executive within one working day, at a time the "
            "customer chooses. Brief the executive with the timeline first so the customer never "
            "repeats the story; the executive apologises, listens, and leaves a direct number."
        ),
        "resource_kind": "attention",
        "causes": CAUSES,
        "cost": Decimal("40.00"),
        "perceived_value": Decimal("200.00"),
        "surprise": 3,
        "min_grade": "ugly",
        "approval_tier": "executive",
        "per_customer_per_year": 1,
        "compensation_pct_of_loss": None,
    },
    {
        "code": "manager_call_apology",
        "title": "Call from the manager responsible",
        "script": (
            "The manager who owns this area calls the customer and apologises without excuses, "
            "explaining in plain words what went wrong. They agree the fix on the call and confirm "
            "it by email the same day."
        ),
        "resource_kind": "attention",
        "causes": ("staff_conduct", "ignored", "service_delay", "failed_fix", "product_quality"),
        "cost": Decimal("20.00"),
        "perceived_value": Decimal("80.00"),
        "surprise": 2,
        "min_grade": "bad",
        "approval_tier": "manager",
        "per_customer_per_year": 2,
        "compensation_pct_of_loss": None,
    },
    {
        "code": "handwritten_note",
        "title": "Handwritten note of apology",
        "script": (
            "Write a short note by hand: the customer's name, what went wrong and what we did "
            "about it. Sign it yourself with your direct number and post it today; no printed "
            "cards or templates."
        ),
        "resource_kind": "attention",
        "causes": CAUSES,
        "cost": Decimal("5.00"),
        "perceived_value": Decimal("30.00"),
        "surprise": 2,
        "min_grade": "neutral",
        "approval_tier": "frontline",
        "per_customer_per_year": 2,
        "compensation_pct_of_loss": None,
    },
    {
        "code": "same_day_personal_reply",
        "title": "Same-day personal reply and apology",
        "script": (
            "Reply today in your own words, not a template: say sorry for the specific thing that "
            "went wrong and tell the customer what happens next and by when. Give your name so "
            "they can reach the same person again."
        ),
        "resource_kind": "attention",
        "causes": CAUSES,
        "cost": _ZERO,
        "perceived_value": Decimal("15.00"),
        "surprise": 0,
        "min_grade": "good",
        "approval_tier": "frontline",
        # Speed is the cheapest gesture: never ration it.
        "per_customer_per_year": 12,
        "compensation_pct_of_loss": None,
    },
    {
        "code": "named_case_owner",
        "title": "One named person until it is fixed",
        "script": (
            "Tell the customer you will own this until it is fixed and they will not be passed "
            "around again. Agree when you will next call and call at exactly that time, even if "
            "there is no news yet."
        ),
        "resource_kind": "attention",
        "causes": ("ignored", "failed_fix", "service_delay", "staff_conduct", "product_quality"),
        "cost": Decimal("10.00"),
        "perceived_value": Decimal("50.00"),
        "surprise": 1,
        "min_grade": "neutral",
        "approval_tier": "frontline",
        "per_customer_per_year": 3,
        "compensation_pct_of_loss": None,
    },
    {
        "code": "priority_line",
        "title": "Priority line for twelve months",
        "script": (
            "Give the customer the priority line number and add them to the priority list for "
            "twelve months, so a person answers within two minutes. Tell them why: they waited "
            "too long once and should not have to wait again."
        ),
        "resource_kind": "attention",
        "causes": ("ignored", "service_delay", "failed_fix", "staff_conduct"),
        "cost": Decimal("30.00"),
        "perceived_value": Decimal("120.00"),
        "surprise": 2,
        "min_grade": "bad",
        "approval_tier": "lead",
        "per_customer_per_year": 1,
        "compensation_pct_of_loss": None,
    },
    {
        "code": "surprise_gift",
        "title": "Hand-picked gift with a note",
        "script": (
            "Pick something the customer will actually use (check their order history) and send "
            "it with a short handwritten note. Do not announce it; let it arrive as a surprise."
        ),
        # The thought is the point, so it counts as attention, not as money.
        "resource_kind": "attention",
        "causes": ("staff_conduct", "ignored", "service_delay", "product_quality", "other"),
        "cost": Decimal("25.00"),
        "perceived_value": Decimal("60.00"),
        "surprise": 2,
        "min_grade": "bad",
        "approval_tier": "lead",
        "per_customer_per_year": 1,
        "compensation_pct_of_loss": None,
    },
    # --- Money now: repays a monetary loss. Sized against the loss (60–150% is where it works).
    {
        "code": "refund_60_percent",
        "title": "Refund of 60% of the loss",
        "script": (
            "Refund 60% of what the customer lost to the card they paid with, today, and tell "
            "them the amount and when it will show. Say sorry for the specific problem so they "
            "do not have to ask twice."
        ),
        "resource_kind": "money_now",
        "causes": ("pricing", "product_quality", "service_delay"),
        "cost": _ZERO,
        "perceived_value": _ZERO,
        "surprise": 0,
        "min_grade": "neutral",
        "approval_tier": "frontline",
        "per_customer_per_year": 3,
        "compensation_pct_of_loss": Decimal(60),
    },
    {
        "code": "refund_100_percent",
        "title": "Full refund of the loss",
        "script": (
            "Refund the full amount the customer lost to the card they paid with, without asking "
            "them to send anything back. Tell them the exact amount and the day it will reach "
            "their account."
        ),
        "resource_kind": "money_now",
        "causes": ("pricing", "product_quality", "failed_fix", "service_delay"),
        "cost": _ZERO,
        "perceived_value": _ZERO,
        "surprise": 0,
        "min_grade": "neutral",
        "approval_tier": "lead",
        "per_customer_per_year": 2,
        "compensation_pct_of_loss": Decimal(100),
    },
    {
        "code": "refund_150_percent",
        "title": "Refund of 150% of the loss",
        "script": (
            "Refund everything the customer lost plus half again, and say plainly that the extra "
            "is for the trouble we caused. Process it while they are still on the line and confirm "
            "it by email."
        ),
        "resource_kind": "money_now",
        "causes": ("pricing", "product_quality", "failed_fix", "service_delay"),
        "cost": _ZERO,
        "perceived_value": _ZERO,
        "surprise": 2,
        "min_grade": "bad",
        "approval_tier": "manager",
        "per_customer_per_year": 1,
        "compensation_pct_of_loss": Decimal(150),
    },
    # --- Money later: credit, vouchers and free periods; cheaper to give, worth it only if they return.
    {
        "code": "goodwill_voucher",
        "title": "Goodwill voucher",
        "script": (
            "Send a goodwill voucher with a short personal apology, valid for a year on anything "
            "we sell. Tell the customer it is already on their account, so there is nothing to "
            "claim."
        ),
        "resource_kind": "money_later",
        "causes": ("pricing", "product_quality", "service_delay", "other"),
        # A voucher worth 20 costs us about 14 after margin.
        "cost": Decimal("14.00"),
        "perceived_value": Decimal("20.00"),
        "surprise": 1,
        "min_grade": "neutral",
        "approval_tier": "frontline",
        "per_customer_per_year": 2,
        "compensation_pct_of_loss": None,
    },
    {
        "code": "store_credit_120_percent",
        "title": "Store credit worth 120% of the loss",
        "script": (
            "Add store credit worth the customer's loss plus a fifth to their account now. Tell "
            "them the amount, that it never expires, and that it is there before they next shop."
        ),
        "resource_kind": "money_later",
        "causes": ("pricing", "product_quality", "failed_fix", "service_delay"),
        "cost": _ZERO,
        "perceived_value": _ZERO,
        "surprise": 1,
        "min_grade": "neutral",
        "approval_tier": "lead",
        "per_customer_per_year": 2,
        "compensation_pct_of_loss": Decimal(120),
    },
    {
        "code": "one_month_free",
        "title": "Next month free",
        "script": (
            "Waive the customer's next monthly payment and tell them it is our apology, not a "
            "promotion. Confirm it by email so the zero on their next bill is no surprise."
        ),
        "resource_kind": "money_later",
        "causes": ("pricing", "service_delay", "failed_fix", "ignored", "other"),
        "cost": Decimal("15.00"),
        "perceived_value": Decimal("25.00"),
        "surprise": 2,
        "min_grade": "bad",
        "approval_tier": "lead",
        "per_customer_per_year": 1,
        "compensation_pct_of_loss": None,
    },
    {
        "code": "six_months_free",
        "title": "Six months free",
        "script": (
            "Waive the next six months of the customer's subscription and tell them personally it "
            "is because we let them down badly. Put a note on the account so nobody bills them by "
            "mistake."
        ),
        "resource_kind": "money_later",
        "causes": ("pricing", "failed_fix", "service_delay", "product_quality"),
        "cost": Decimal("90.00"),
        "perceived_value": Decimal("150.00"),
        "surprise": 2,
        "min_grade": "ugly",
        "approval_tier": "manager",
        "per_customer_per_year": 1,
        "compensation_pct_of_loss": None,
    },
    # --- Exchange and upgrade: repays a flawed product with one that works.
    {
        "code": "express_replacement",
        "title": "Express replacement, no return needed",
        "script": (
            "Send a new one by express delivery today and tell the customer to keep or recycle "
            "the faulty one: no returns label, no inspection. Send the tracking link as soon as "
            "it ships."
        ),
        "resource_kind": "exchange",
        "causes": ("product_quality", "failed_fix"),
        "cost": Decimal("60.00"),
        "perceived_value": Decimal("90.00"),
        "surprise": 1,
        "min_grade": "neutral",
        "approval_tier": "frontline",
        "per_customer_per_year": 2,
        "compensation_pct_of_loss": None,
    },
    {
        "code": "upgrade_replacement",
        "title": "Replacement with the next model up",
        "script": (
            "Replace the faulty item with the next model up at no extra charge, delivered when it "
            "suits the customer. Tell them we would rather they had one that works than sit "
            "through another repair."
        ),
        "resource_kind": "exchange",
        "causes": ("product_quality", "failed_fix"),
        "cost": Decimal("110.00"),
        "perceived_value": Decimal("200.00"),
        "surprise": 1,
        "min_grade": "bad",
        "approval_tier": "manager",
        "per_customer_per_year": 1,
        "compensation_pct_of_loss": None,
    },
    {
        "code": "plan_upgrade_three_months",
        "title": "Three months on the higher plan",
        "script": (
            "Move the customer to the higher plan for three months at no charge, starting today. "
            "Tell them what they now get and that they go back to their own plan automatically, "
            "with no surprise on the bill."
        ),
        "resource_kind": "exchange",
        "causes": ("product_quality", "failed_fix", "service_delay", "other"),
        "cost": Decimal("20.00"),
        "perceived_value": Decimal("60.00"),
        "surprise": 1,
        "min_grade": "neutral",
        "approval_tier": "lead",
        "per_customer_per_year": 1,
        "compensation_pct_of_loss": None,
    },
    # --- Redo the service: repays a failed or late service by doing it again, properly.
    {
        "code": "redo_service_free",
        "title": "Do the service again, free",
        "script": (
            "Offer to do the service again at no charge, at the first slot the customer wants, and "
            "book it while they are on the line. Check the work yourself afterwards and call them "
            "to confirm it was right."
        ),
        "resource_kind": "redo_service",
        "causes": ("service_delay", "failed_fix", "product_quality"),
        "cost": Decimal("50.00"),
        "perceived_value": Decimal("80.00"),
        "surprise": 0,
        "min_grade": "neutral",
        "approval_tier": "frontline",
        "per_customer_per_year": 2,
        "compensation_pct_of_loss": None,
    },
    {
        "code": "redo_by_senior_specialist",
        "title": "Redo by our most senior specialist, at the customer's time",
        "script": (
            "Book our most senior specialist to redo the work at a time the customer picks, "
            "evenings and weekends included. The specialist calls the day before to introduce "
            "themselves and confirm."
        ),
        "resource_kind": "redo_service",
        "causes": ("service_delay", "failed_fix", "product_quality"),
        "cost": Decimal("120.00"),
        "perceived_value": Decimal("220.00"),
        "surprise": 2,
        "min_grade": "bad",
        "approval_tier": "lead",
        "per_customer_per_year": 1,
        "compensation_pct_of_loss": None,
    },
    {
        "code": "redo_and_refund",
        "title": "Redo the service and refund what they paid for it",
        "script": (
            "Redo the service at the customer's chosen time and refund what they paid for the "
            "first attempt in full. Tell them both happen whatever they decide, so it never "
            "sounds like a trade."
        ),
        "resource_kind": "redo_service",
        "causes": ("service_delay", "failed_fix"),
        "cost": Decimal("150.00"),
        "perceived_value": Decimal("250.00"),
        "surprise": 2,
        "min_grade": "ugly",
        "approval_tier": "manager",
        "per_customer_per_year": 1,
        "compensation_pct_of_loss": None,
    },
]
