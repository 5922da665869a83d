"""Realistic complaint vocabulary and the intake payloads. Pure: no Django, deterministic for a seed.

The same words feed the SQL seeder (bench.seed), so searched terms exist in both kinds of data.
"""

from __future__ import annotations

import random
from typing import Any

# Per cause: the subjects a customer would actually write. Same length for every cause, because
# the SQL seeder passes them as a rectangular two-dimensional array.
SUBJECTS: dict[str, list[str]] = {
    "staff_conduct": [
        "Rude assistant at the returns desk",
        "Agent hung up on me mid-call",
        "Staff could not answer a basic question about my plan",
        "Manager was dismissive when I asked for help",
        "Driver was abusive when delivering my parcel",
        "Told to stop wasting their time",
    ],
    "product_quality": [
        "Kettle stopped working after two weeks",
        "Jacket seams split on first wash",
        "Laptop screen has dead pixels out of the box",
        "Food delivered past its use-by date",
        "Sofa cushions sagging after a month",
        "Phone case cracked within days",
    ],
    "service_delay": [
        "Order still not delivered after three weeks",
        "Refund promised ten days ago has not arrived",
        "Engineer visit postponed for the third time",
        "Broadband installation delayed again",
        "Waited two hours past my booked slot",
        "Replacement card never arrived",
    ],
    "failed_fix": [
        "Boiler broken again after the third repair",
        "Same billing error back for the fourth month",
        "Washing machine still leaking after the engineer visit",
        "Router keeps dropping the connection despite replacement",
        "App login bug returned after your update",
        "Car fault reappeared a week after the service",
    ],
    "pricing": [
        "Charged twice for the same order",
        "Price went up without any notice",
        "Promotional discount not applied at checkout",
        "Hidden delivery fee added at the last step",
        "Cancellation fee was never mentioned",
        "Overcharged on my monthly bill",
    ],
    "ignored": [
        "No reply to my three emails",
        "Chat closed without anyone answering",
        "Promised call back never came",
        "Complaint form submitted twice with no acknowledgement",
        "Nobody answers the phone line",
        "Ticket marked resolved without a response",
    ],
    "other": [
        "Website keeps logging me out",
        "Loyalty points disappeared from my account",
        "Wrong name printed on my invoice",
        "Store closed during advertised opening hours",
        "Marketing emails continue after unsubscribing",
        "Parking at the store was blocked all day",
    ],
}
CAUSES = list(SUBJECTS)
# Rough real-world mix: delays and quality dominate, conduct and being ignored follow.
CAUSE_WEIGHTS = [12, 22, 24, 10, 14, 11, 7]

SENTENCES = [
    "I have been a customer for years and this is the first time I have had to complain.",
    "I have attached the order confirmation and the photos you asked for last time.",
    "Nobody has explained what went wrong or what happens next.",
    "I had to take a day off work to wait in for this.",
    "Your website says this should have been sorted within five working days.",
    "I would like a refund and an apology, and to know this will not happen again.",
    "My neighbour had the same problem last month, so this is clearly not a one-off.",
    "The person on the phone promised me a call back within 24 hours.",
    "I am considering moving to another provider if this is not resolved.",
    "I have spent over an hour on hold across several calls.",
    "The reference number I was given does not seem to exist in your system.",
    "This has cost me money, as I had to buy a replacement elsewhere.",
]

FIRST_NAMES = [
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Freya", "Grace", "Sophia",
    "Noah", "Oliver", "George", "Arthur", "Leo", "Harry", "Oscar", "Archie", "Henry", "Jack",
    "Priya", "Aisha", "Fatima", "Zara", "Chen", "Wei", "Kwame", "Amara", "Mateo", "Lucia",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
    "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson",
    "Clarke", "Khan", "Hughes", "Edwards", "Okafor", "Nowak", "Murphy", "Kowalski", "Ahmed", "Singh",
    "Fitzgerald", "Harrington", "Abernethy", "Castellanos", "Vandermeer", "Quigley",
]  # fmt: skip
EMAIL_DOMAINS = ["example.com", "mail.example.org", "inbox.example.net", "example.co.uk"]
CHANNELS = ["web", "email", "phone", "chat", "social", "in_person", "api"]
SOURCES = ["zendesk", "freshdesk", "shopify", ""]


def description(rng: random.Random, subject: str) -> str:
    return " ".join([subject + ".", *rng.sample(SENTENCES, rng.randint(2, 4))])


def _customer(rng: random.Random, n: int, source: str) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    customer: dict[str, Any] = {"name": f"{first} {last}"}
    kind = rng.random()
    # Most helpdesks send both; some send only their own id, some only the email.
    if kind < 0.75 or not source:
        customer["email"] = f"{first}.{last}.{n}@{rng.choice(EMAIL_DOMAINS)}".lower()
    if source and kind >= 0.5:
        customer["external_id"] = f"cust-{n:07d}"
    if rng.random() < 0.4:
        customer["phone"] = f"+44 7{rng.randint(100, 999)} {rng.randint(100000, 999999)}"
    if rng.random() < 0.6:
        customer["lifetime_value"] = f"{rng.lognormvariate(6, 1.2):.2f}"
    if rng.random() < 0.3:
        customer["social_reach"] = int(rng.paretovariate(1.2) * 100)
    return customer


def complaint_payloads(count: int, *, seed: int = 42, repeat_share: float = 0.35, start: int = 0) -> list[dict]:
    """`count` distinct complaints as an integrator would POST them.

    About `repeat_share` come from a pool of returning customers (sent again with the same
    identifiers), the rest from customers never seen before. Every complaint with a source has a
    unique external id, so each one must be created (201), never matched as a redelivery.
    `start` offsets the numbering so separate batches (a warm-up, the run) never collide.
    """
    rng = random.Random(seed + start)
    pool_size = max(1, count // 10)
    pool_sources = [rng.choice(SOURCES) for _ in range(pool_size)]
    pool = [_customer(rng, start + i, pool_sources[i]) for i in range(pool_size)]
    payloads = []
    for i in range(count):
        n = start + i
        if rng.random() < repeat_share:
            # Skewed: a few returning customers complain often.
            k = min(pool_size - 1, int(pool_size * rng.random() ** 2))
            source, customer = pool_sources[k], pool[k]
        else:
            source = rng.choice(SOURCES)
            customer = _customer(rng, 1_000_000 + n, source)
        cause = rng.choices(CAUSES, CAUSE_WEIGHTS)[0]
        subject = rng.choice(SUBJECTS[cause])
        payload: dict[str, Any] = {
            "customer": customer,
            "cause": cause,
            "subject": subject,
            "description": description(rng, subject),
            "severity": rng.choices([1, 2, 3, 4, 5], [10, 30, 35, 18, 7])[0],
            "channel": rng.choice(CHANNELS),
        }
        if rng.random() < 0.4:
            payload["monetary_loss"] = f"{rng.uniform(5, 900):.2f}"
        if rng.random() < 0.08:
            payload["threatens_public"] = True
        if rng.random() < 0.12:
            payload["says_wont_return"] = True
        if source:
            payload["source"] = source
            payload["external_id"] = f"T-{n:08d}"
        payloads.append(payload)
    return payloads
