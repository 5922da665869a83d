"""Rank playbook gestures for one complaint — pure functions over frozen dataclasses, no ORM.

The score (0–100) is a weighted average of fits, each 0–1, and every fit leaves a reason written
for the agent. What the research says, and where it shows up here:

- Repay in kind (Roschk & Gelbrich 2014): `KIND_FIT`, the biggest weight.
- Compensation gains come between ~60% and 150% of the loss, then stop (Gelbrich, Gäthke &
  Grégoire 2015): `compensation_fit`, for money gestures only.
- A recovery must surprise; the same gesture twice is no surprise, and past its yearly limit it is
  never suggested: `surprise_fit` and the "already received" exclusion.
- What brought similar customers back: the learned P(return | offered) from `recovery.outcomes.learning`,
  counted from the first outcome, in score points above or below the cause's mean rate
  (`LEARNED_POINTS_PER_PCT`). Fit is where a gesture starts, not a wall: a gesture that clearly
  brings more customers back overtakes one that only fits better on paper.
- Exploration the data can trust: the gestures in *equipoise* with the top one — within
  `band_points` of its score, or not yet distinguishable from it given what is known, or marked
  equivalent by a manager — share first place by a logged random draw (`Suggestion.propensity`),
  so their return rates can later be compared as a randomised experiment.
"""


from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping

from recovery import formatting
from recovery.offers.playbook import (
    BAND_HIGH,
    BAND_LOW,
    EQUIPOISE_POINTS,
    KIND_FIT,
    LEARNED_POINTS_PER_PCT,
    MONEY_KINDS,
    RESOURCE_KINDS,
    ComplaintContext,
    Exclusion,
    GestureSpec,
    LearnedRates,
    Ranking,
    Suggestion,
    compensation_fit,
)
from recovery.outcomes.learning import PRIOR_STRENGTH
from recovery.vocabulary import GRADES

_KIND_PHRASE: Mapping[str, str] = {
    "money_now": "money back",
    "money_later": "credit",
    "exchange": "a replacement",
    "redo_service": "doing the service again",
    "attention": "attention",
}
_CAUSE_WHO: Mapping[str, str] = {
    "staff_conduct": "a customer who was treated badly by staff",
    "product_quality": "a customer with a flawed product",
    "service_delay": "a customer whose service was late",
    "failed_fix": "a customer whose problem keeps coming back",
    "pricing": "a customer who lost money on the price",
    "ignored": "a customer who was ignored",
    "other": "this customer",
}
_CAUSE_ABOUT: Mapping[str, str] = {
    "staff_conduct": "staff conduct",
    "product_quality": "product quality",
    "service_delay": "a service delay",
    "failed_fix": "a fix that keeps failing",
    "pricing": "pricing",
    "ignored": "being ignored",
    "other": "other issues",
}
# Component weights. Cause fit leads: repaying in kind matters more than the size of the gesture.
_WEIGHTS: Mapping[str, float] = {
    "cause": 30.0,
    "grade": 15.0,
    "compensation": 15.0,
    "value": 10.0,
}
# A gesture whose score could still reach the top one (mean + this many standard deviations) is in
# the band too: the data cannot tell it apart yet.
_OPTIMISM_Z = 2.0
# Share of first place spread evenly over the band, so every member keeps a chance big enough for the
# inverse-propensity estimates to stay stable; the rest follows how likely each is the best.
_EXPLORE_SHARE = 0.1
# An ugly case will not come back for an expected remedy, so surprise counts most there.
_SURPRISE_WEIGHT: Mapping[str, float] = {"good": 5.0, "neutral": 10.0, "bad": 15.0, "ugly": 30.0}
# Each grade step a gesture sits below the case makes it feel that much lighter.
_GRADE_STEP_PENALTY = 0.3
# A gesture the customer has already had is mostly expected the second time.
_REPEAT_SURPRISE_FACTOR = 0.25


__all__ = ["equipoise_band", "rank_gestures"]


def _exclusion(gesture: GestureSpec, context: ComplaintContext) -> Exclusion | None:
    def excluded(reason: str, detail: str) -> Exclusion:
        return Exclusion(gesture.id, gesture.code, reason, detail)

    if not gesture.active:
        return excluded("inactive", "Switched off in the playbook")
    if context.cause not in gesture.causes:
        return excluded("wrong_cause", f"Not meant for complaints about {_CAUSE_ABOUT[context.cause]}")
    if GRADES.index(context.grade) < GRADES.index(gesture.min_grade):
        floor = "ugly cases" if gesture.min_grade == "ugly" else f"{gesture.min_grade} cases and worse"
        return excluded("below_grade", f"Kept for {floor}; this one is {context.grade}")
    if gesture.surprise > 0 and gesture.code in context.ever_offered:
        # The surprise is the point of it; the second time it is expected.
        return excluded("surprise_used", "Already offered to this customer once; a surprise only surprises once")
    received = context.received_gesture_counts_past_year.get(gesture.code, 0)
    if received >= gesture.per_customer_per_year:
        return excluded(
            "already_received",
            f"Already given to this customer {_times(received)} in the past year; "
            f"the limit is {_times(gesture.per_customer_per_year)}",
        )
    if gesture.scales_with_loss and context.monetary_loss <= 0:
        return excluded("no_loss", "Sized as a share of the customer's loss, and no loss is recorded")
    cost = gesture.effective_cost(context.monetary_loss)
    if context.budget is not None and cost > context.budget:
        return excluded(
            "over_budget",
            f"Costs {formatting.money(cost, context.currency)}, over the "
            f"{formatting.money(context.budget, context.currency)} budget for this case",
        )
    return None


def _a(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _cause_component(gesture: GestureSpec, cause: str) -> tuple[float, str | None]:
    fit = KIND_FIT[cause][gesture.resource_kind]
    kind, who = _KIND_PHRASE[gesture.resource_kind], _CAUSE_WHO[cause]
    if fit >= 1.0:
        return fit, f"Repays in kind: {kind} for {who}"
    best = [k for k in RESOURCE_KINDS if KIND_FIT[cause][k] >= 1.0]
    if not best:
        return fit, None  # "other": no kind is better, nothing useful to tell the agent
    best_phrase = " or ".join(_KIND_PHRASE[k] for k in best)
    lead = "Partly repays in kind" if fit >= 0.5 else "Does not repay in kind"
    return fit, f"{lead}: {best_phrase} suits {who} better than {kind}"


def _grade_component(gesture: GestureSpec, grade: str) -> tuple[float, str]:
    steps = GRADES.index(grade) - GRADES.index(gesture.min_grade)
    if steps == 0:
        return 1.0, f"Sized for {_a(grade)} {grade} case like this one"
    fit = max(0.0, 1.0 - _GRADE_STEP_PENALTY * steps)
    return fit, f"Lighter than {_a(grade)} {grade} case usually needs (open from {gesture.min_grade} cases up)"


def _compensation_component(gesture: GestureSpec, context: ComplaintContext) -> tuple[float | None, str | None]:
    if gesture.resource_kind not in MONEY_KINDS:
        return None, None
    loss = context.monetary_loss
    if loss <= 0:
        return None, "No monetary loss recorded, so the amount is not measured against one"
    value = gesture.effective_value(loss)
    fit = compensation_fit(value, loss)
    loss_text = formatting.money(loss, context.currency)
    ratio = value / loss
    pct = f"{ratio:.0%}"
    if ratio < BAND_LOW:
        return fit, (
            f"Only {pct} of the customer's {loss_text} loss — below the 60% where "
            "compensation starts to win loyalty back"
        )
    if ratio <= BAND_HIGH:
        return fit, f"Within the 60–150% band of the customer's {loss_text} loss"
    return fit, f"{pct} of the customer's {loss_text} loss — beyond 150% more money does not buy more loyalty"


def _surprise_component(gesture: GestureSpec, context: ComplaintContext) -> tuple[float, str]:
    received = context.received_gesture_counts_past_year.get(gesture.code, 0)
    fit = gesture.surprise / 3
    if gesture.surprise == 0:
        return fit, "What the customer would expect — no surprise"
    if received:
        return fit * _REPEAT_SURPRISE_FACTOR, (
            f"Already given to this customer {_times(received)} this year — no longer a surprise"
        )
    if gesture.surprise == 1:
        return fit, "New to this customer — a little more than they expect"
    return fit, "New to this customer — a real surprise"


def _value_component(gesture: GestureSpec, context: ComplaintContext) -> tuple[float, str | None]:
    cost = gesture.effective_cost(context.monetary_loss)
    value = gesture.effective_value(context.monetary_loss)
    # value / (value + cost): 1.0 when free, 0.5 at face value, higher when it feels worth more.
    fit = 1.0 if cost == 0 else float(value / (value + cost))
    reason: str | None = None
    if cost == 0:
        reason = "Costs nothing but time"
    elif value > cost:
        reason = f"Feels worth {formatting.money(value, context.currency)} to the customer for {formatting.money(cost, context.currency)}"
    ltv = context.lifetime_value
    if cost > 0 and 0 < ltv < cost:
        # Spending more than the customer ever brought in rarely pays back.
        fit *= 0.5
        reason = f"Costs more than the {formatting.money(ltv, context.currency)} this customer has spent with us"
    return fit, reason


def _score(
    gesture: GestureSpec, context: ComplaintContext, learned: LearnedRates | None
) -> tuple[float, float, tuple[str, ...], dict[str, float]]:
    parts: list[tuple[str, float, float, str | None]] = []  # name, weight, fit, reason

    fit, reason = _cause_component(gesture, context.cause)
    parts.append(("cause", _WEIGHTS["cause"], fit, reason))
    fit, reason = _grade_component(gesture, context.grade)
    parts.append(("grade", _WEIGHTS["grade"], fit, reason))
    band_fit, reason = _compensation_component(gesture, context)
    if band_fit is not None:
        parts.append(("compensation", _WEIGHTS["compensation"], band_fit, reason))
    elif reason is not None:
        parts.append(("compensation", 0.0, 0.0, reason))
    fit, reason = _surprise_component(gesture, context)
    parts.append(("surprise", _SURPRISE_WEIGHT[context.grade], fit, reason))
    fit, reason = _value_component(gesture, context)
    parts.append(("value", _WEIGHTS["value"], fit, reason))
    learned_points, learned_sd = 0.0, 0.0
    if learned is not None:
        signal = learned.get(gesture.code)
        if signal is None:
            # Nothing known for this cause: no points, and as unsure as the prior alone.
            learned_sd = _points(math.sqrt(0.25 / (PRIOR_STRENGTH + 1.0)))
            learned_reason = "Not offered for this cause yet (n=0)"
        else:
            learned_points = _points(signal.mean - signal.cause_mean)
            learned_sd = _points(signal.sd)
            learned_reason = signal.label
            if signal.n and abs(learned_points) >= 0.5:
                side = "above" if learned_points > 0 else "below"
                learned_reason += f"; {abs(learned_points):.0f} points {side} this cause's average"
        parts.append(("learned", 0.0, signal.mean if signal else 0.0, learned_reason))

    counted = [(name, weight, fit) for name, weight, fit, _ in parts if weight > 0]
    total_weight = sum(weight for _, weight, _ in counted)
    fit_score = 100 * sum(weight * fit for _, weight, fit in counted) / total_weight
    score = round(fit_score + learned_points, 1)
    reasons = tuple(reason for *_, reason in parts if reason)
    components = {name: round(fit, 4) for name, _, fit in counted}
    if learned is not None:
        components["learned"] = round(next(fit for name, _, fit, _ in parts if name == "learned"), 4)
    return score, learned_sd, reasons, components


def _points(rate_difference: float) -> float:
    return LEARNED_POINTS_PER_PCT * 100 * rate_difference


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def equipoise_band(
    scored: list[tuple[str, float, float]],
    *,
    band_points: float = EQUIPOISE_POINTS,
    equivalent: Iterable[frozenset[str]] = (),
) -> dict[str, float]:
    """code -> probability of being drawn into first place, for the gestures in equipoise with the top.

    `scored` is (code, score, sd of the score) best first. In the band: the top gesture, those within
    `band_points` of it, those whose score could still reach it (score + 2 sd), and every gesture a
    manager marked equivalent to a member. Each member's chance mixes how likely it beats the top one
    (a normal approximation of the two posteriors) with an even share; they sum to 1.
    """
    if not scored:
        return {}
    top_code, top_score, top_sd = scored[0]
    members = [
        code
        for code, score, sd in scored
        if code == top_code or score >= top_score - band_points or score + _OPTIMISM_Z * sd >= top_score
    ]
    eligible = {code for code, _, _ in scored}
    for group in equivalent:
        if group & set(members):
            members.extend(code for code, _, _ in scored if code in group and code not in members)
    if len(members) == 1:
        return {top_code: 1.0}
    by_code = {code: (score, sd) for code, score, sd in scored if code in eligible}
    weights = {}
    for code in members:
        score, sd = by_code[code]
        spread = math.sqrt(sd * sd + top_sd * top_sd)
        if code == top_code:
            weights[code] = 0.5
        elif spread > 0:
            weights[code] = _normal_cdf((score - top_score) / spread)
        else:
            weights[code] = 0.5 if score >= top_score else 0.0
    total = sum(weights.values())
    even = _EXPLORE_SHARE / len(members)
    return {code: (1 - _EXPLORE_SHARE) * weights[code] / total + even for code in members}


_Scored = tuple[float, float, GestureSpec, tuple[str, ...], dict[str, float]]  # score, sd, gesture, reasons, parts


def _scored(
    gestures: Iterable[GestureSpec], context: ComplaintContext, learned: LearnedRates | None
) -> tuple[list[_Scored], list[Exclusion]]:
    """Each gesture that fits the complaint with its score, and why each of the others is out."""
    scored: list[_Scored] = []
    excluded: list[Exclusion] = []
    for gesture in gestures:
        exclusion = _exclusion(gesture, context)
        if exclusion is not None:
            excluded.append(exclusion)
            continue
        score, sd, reasons, components = _score(gesture, context, learned)
        scored.append((score, sd, gesture, reasons, components))
    return scored, excluded


def _draw(codes_by_score: list[str], chances: dict[str, float], rng: random.Random) -> str | None:
    """One uniform draw against the cumulative chances, in score order: repeatable for a seed."""
    point, cumulative, chosen = rng.random(), 0.0, None
    for code in codes_by_score:
        if code in chances:
            cumulative += chances[code]
            chosen = code
            if point < cumulative:
                break
    return chosen


def rank_gestures(
    gestures: Iterable[GestureSpec],
    context: ComplaintContext,
    learned: LearnedRates | None = None,
    *,
    limit: int | None = 3,
    rng: random.Random | None = None,
    band_points: float = EQUIPOISE_POINTS,
    equivalent: Iterable[frozenset[str]] = (),
) -> Ranking:
    """The best `limit` gestures for this complaint (all when None), and why the rest are out.

    Without `rng` the order is by score (equal scores, compared at one decimal, by code) and the
    propensities say what a draw would do. With `rng` first place is drawn among the equipoise band
    with those propensities (pass a seeded `random.Random` for a repeatable draw); the rest follow by
    score. Deterministic for the same inputs.
    """
    scored, excluded = _scored(gestures, context, learned)
    scored.sort(key=lambda item: (-item[0], item[2].code))
    chances = equipoise_band(
        [(g.code, score, sd) for score, sd, g, _, _ in scored], band_points=band_points, equivalent=equivalent
    )
    randomised = False
    if rng is not None and len(chances) > 1:
        chosen = _draw([g.code for _, _, g, _, _ in scored], chances, rng)
        scored.sort(key=lambda item: item[2].code != chosen)  # stable: the rest keep score order
        randomised = True
    band = tuple(g.code for _, _, g, _, _ in sorted(scored, key=lambda item: (-item[0], item[2].code)) if g.code in chances)
    if limit is not None:
        scored = scored[:limit]
    suggestions = tuple(
        Suggestion(
            gesture_id=gesture.id,
            gesture_code=gesture.code,
            title=gesture.title,
            rank=rank,
            score=score,
            cost=gesture.effective_cost(context.monetary_loss),
            approval_tier=gesture.approval_tier,
            reasons=reasons,
            components=components,
            propensity=round(chances.get(gesture.code, 0.0), 6),
            in_band=gesture.code in chances,
        )
        for rank, (score, _, gesture, reasons, components) in enumerate(scored, start=1)
    )
    return Ranking(suggestions=suggestions, excluded=tuple(excluded), band=band, randomised=randomised)
