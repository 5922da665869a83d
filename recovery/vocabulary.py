"""Recovery's words, in one place: grades, causes, tiers and the complaint fields the rules read.

Plain tuples, so the pure modules (grading, rules, playbook) need no database. They are the values of
tickets.models' TextChoices (the columns' choices), in the order recovery relies on; a test
(tests/recovery/test_vocabulary.py) holds the two together.
"""

from __future__ import annotations

GOOD = "good"
NEUTRAL = "neutral"
BAD = "bad"
UGLY = "ugly"
# Least to most at risk: rules compare grades (`gte`) and the playbook steps through them by index.
GRADES: tuple[str, ...] = (GOOD, NEUTRAL, BAD, UGLY)

CAUSES: tuple[str, ...] = (
    "staff_conduct",
    "product_quality",
    "service_delay",
    "failed_fix",
    "pricing",
    "ignored",
    "other",
)

# Lowest to highest authority: escalation moves up this list, approvals route by it.
TIERS: tuple[str, ...] = ("frontline", "lead", "manager", "executive")

CHANNELS: tuple[str, ...] = ("web", "email", "phone", "chat", "social", "in_person", "api")
STATUSES: tuple[str, ...] = ("new", "in_progress", "waiting_on_customer", "resolved", "closed")
CLOSED_STATUSES: frozenset[str] = frozenset({"resolved", "closed"})
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")  # lowest to highest
