"""The playbook's plain data for the ranking (pure, no ORM): a gesture (`GestureSpec`), the complaint it is
ranked for (`ComplaintContext`), what the ranking answers (`Suggestion`, `Exclusion`, `Ranking`), and the
research-based constants it weighs by. The ranking itself is recovery/offers/ranking.py.
"""


from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeAlias

from recovery import formatting
from recovery.outcomes.learning import LearnedSignal
from recovery.vocabulary import CAUSES, GRADES, TIERS

__all__ = [
    "BAND_HIGH",
    "BAND_LOW",
    "CAUSES",
    "EQUIPOISE_POINTS",
    "GRADES",
    "LEARNED_POINTS_PER_PCT",
    "KIND_FIT",
    "MONEY_KINDS",
    "RESOURCE_KINDS",
    "TIERS",
    "ComplaintContext",
    "Exclusion",
    "GestureSpec",
    "LearnedRates",
    "Ranking",
    "Suggestion",
    "compensation_fit",
]


RESOURCE_KINDS: tuple[str, ...] = (
    "money_now",
    "money_later",
    "exchange",
    "redo_service",
    "attention",
)
MONEY_KINDS: frozenset[str] = frozenset({"money_now", "money_later"})

# The 60–150% band of the customer's loss where compensation wins loyalty back.
BAND_LOW = Decimal("0.60")
BAND_HIGH = Decimal("1.50")

# How well each kind of resource repays each cause; 1.0 is "in kind" (Roschk & Gelbrich 2014).
KIND_FIT: Mapping[str, Mapping[str, float]] = {
    # Money for a monetary loss; credit is still money but only if they come back to spend it.
    "pricing": {
        "money_now": 1.0,
        "money_later": 0.8,
        "exchange": 0.3,
        "redo_service": 0.3,
        "attention": 0.4,
    },
    # A flawed product wants a working one; money back is second best.
    "product_quality": {
        "money_now": 0.6,
        "money_later": 0.5,
        "exchange": 1.0,
        "redo_service": 0.5,
        "attention": 0.4,
    },
    # Doing the same fix again is what already failed, so a replacement beats a redo.
    "failed_fix": {
        "money_now": 0.6,
        "money_later": 0.5,
        "exchange": 1.0,
        "redo_service": 0.4,
        "attention": 0.5,
    },
    # A failed service is repaid by doing it again, properly.
    "service_delay": {
        "money_now": 0.5,
        "money_later": 0.6,
        "exchange": 0.3,
        "redo_service": 1.0,
        "attention": 0.5,
    },
    # Neglect and rudeness are about how people were treated: money alone reads as a brush-off.
    "ignored": {
        "money_now": 0.3,
        "money_later": 0.4,
        "exchange": 0.2,
        "redo_service": 0.3,
        "attention": 1.0,
    },
    "staff_conduct": {
        "money_now": 0.3,
        "money_later": 0.4,
        "exchange": 0.2,
        "redo_service": 0.3,
        "attention": 1.0,
    },
    # No known loss type, so no kind is preferred.
    "other": dict.fromkeys(RESOURCE_KINDS, 0.6),
}


# Score points for each percentage point a gesture's learned return rate stands above (or below) the
# cause's mean. Fit scores of the gestures for one case usually lie within 30 points of each other,
# so a gesture that brings back 10 points more customers (50 score points) overtakes the best fit —
# once the data say so clearly; while unsure, the posterior mean stays near the prior. Chosen with
# `python -m bench learning` (docs/outcomes-and-metrics.md).
LEARNED_POINTS_PER_PCT = 5.0
# Gestures within this many points of the top score are in equipoise (RECOVERY_EQUIPOISE_POINTS).
EQUIPOISE_POINTS = 5.0





def _require(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; expected one of {', '.join(allowed)}")


@dataclass(frozen=True)
class GestureSpec:
    """One playbook gesture as the ranking sees it.

    When `cost_pct_of_loss` is set (e.g. 150 for "refund 150%"), both the cost and the value to the
    customer are that share of the loss — money is worth its face value — and `cost` and
    `perceived_value` are not used.
    """

    id: int | None
    code: str
    title: str
    resource_kind: str
    causes: frozenset[str]
    cost: Decimal
    cost_pct_of_loss: Decimal | None
    perceived_value: Decimal
    surprise: int
    min_grade: str
    approval_tier: str
    per_customer_per_year: int
    active: bool = True

    def __post_init__(self) -> None:
        _require(self.resource_kind, RESOURCE_KINDS, "resource kind")
        _require(self.min_grade, GRADES, "grade")
        _require(self.approval_tier, TIERS, "approval tier")
        if not self.causes:
            raise ValueError(f"gesture {self.code!r} fits no cause")
        for cause in self.causes:
            _require(cause, CAUSES, "cause")
        if not 0 <= self.surprise <= 3:
            raise ValueError(f"surprise must be 0–3, got {self.surprise}")
        if self.per_customer_per_year < 1:
            raise ValueError("per_customer_per_year must be at least 1")
        if self.cost < 0 or self.perceived_value < 0:
            raise ValueError("cost and perceived value cannot be negative")
        if self.cost_pct_of_loss is not None and self.cost_pct_of_loss <= 0:
            raise ValueError("cost_pct_of_loss must be positive when set")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, id: int | None = None) -> GestureSpec:
        """Build from a STARTER_GESTURES entry (its `compensation_pct_of_loss` key)."""
        pct = data.get("compensation_pct_of_loss")
        return cls(
            id=id,
            code=data["code"],
            title=data["title"],
            resource_kind=data["resource_kind"],
            causes=frozenset(data["causes"]),
            cost=Decimal(str(data["cost"])),
            cost_pct_of_loss=None if pct is None else Decimal(str(pct)),
            perceived_value=Decimal(str(data["perceived_value"])),
            surprise=int(data["surprise"]),
            min_grade=data["min_grade"],
            approval_tier=data["approval_tier"],
            per_customer_per_year=int(data["per_customer_per_year"]),
            active=bool(data.get("active", True)),
        )

    @property
    def scales_with_loss(self) -> bool:
        return self.cost_pct_of_loss is not None

    def effective_cost(self, loss: Decimal) -> Decimal:
        """What this gesture costs the company for a customer who lost `loss`, to the penny."""
        if self.cost_pct_of_loss is None:
            return self.cost.quantize(formatting.CENT, rounding=ROUND_HALF_UP)
        return (loss * self.cost_pct_of_loss / 100).quantize(formatting.CENT, rounding=ROUND_HALF_UP)

    def effective_value(self, loss: Decimal) -> Decimal:
        """What this gesture is worth to the customer who lost `loss`."""
        if self.cost_pct_of_loss is None:
            return self.perceived_value
        return self.effective_cost(loss)


@dataclass(frozen=True)
class ComplaintContext:
    """What the ranking needs to know about the complaint and its customer."""

    cause: str
    grade: str
    monetary_loss: Decimal
    lifetime_value: Decimal
    # Gesture code -> how many times this customer got it in the past 12 months.
    received_gesture_counts_past_year: Mapping[str, int] = field(default_factory=dict)
    # Codes of gestures this customer was ever offered: a surprise is never suggested twice.
    ever_offered: frozenset[str] = frozenset()
    # The most this case may spend; None means no cap.
    budget: Decimal | None = None
    currency: str = "GBP"

    def __post_init__(self) -> None:
        _require(self.cause, CAUSES, "cause")
        _require(self.grade, GRADES, "grade")
        if self.monetary_loss < 0:
            raise ValueError("monetary_loss cannot be negative")


# Gesture code -> learned signal for this complaint's cause (see recovery.outcomes.learning.cell_signal).
LearnedRates: TypeAlias = Mapping[str, LearnedSignal]


@dataclass(frozen=True)
class Suggestion:
    gesture_id: int | None
    gesture_code: str
    title: str
    rank: int
    score: float
    cost: Decimal
    approval_tier: str
    reasons: tuple[str, ...]
    # Component name -> fit 0–1, only the components that counted; stored for the audit trail.
    components: Mapping[str, float]
    # Probability this gesture was drawn into first place (0 outside the equipoise band).
    propensity: float = 0.0
    in_band: bool = False


@dataclass(frozen=True)
class Exclusion:
    gesture_id: int | None
    gesture_code: str
    # One of: inactive, wrong_cause, below_grade, surprise_used, already_received, no_loss, over_budget.
    reason: str
    detail: str


@dataclass(frozen=True)
class Ranking:
    # Best first, at most `limit` of them.
    suggestions: tuple[Suggestion, ...]
    # Every gesture that could not be offered, in input order, with the first reason that ruled it out.
    excluded: tuple[Exclusion, ...]
    # Codes of the gestures in equipoise with the top one, best score first.
    band: tuple[str, ...] = ()
    # First place was drawn at random among two or more gestures (with the logged propensities).
    randomised: bool = False


def compensation_fit(value: Decimal, loss: Decimal) -> float:
    """How well a money gesture worth `value` is sized against a loss of `loss` (0–1).

    Below 60% it is weak and rises toward the band; 60–150% is full fit; above 150% only the first
    150% buys loyalty, so fit is the share of the money that still does. Needs `loss > 0`.
    """
    if loss <= 0:
        raise ValueError("compensation_fit needs a positive loss")
    ratio = value / loss
    if ratio < BAND_LOW:
        return float(Decimal("0.5") * ratio / BAND_LOW)
    if ratio <= BAND_HIGH:
        return 1.0
    return float(BAND_HIGH / ratio)
