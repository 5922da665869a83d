"""Grade a complaint's experience as good, neutral, bad or ugly, with a 0-100 risk score.

Pure: plain data in, a `Grade` with reasons out. No Django, no database. The reasons are
shown to support agents, so they are written for them.

How the score is built (defaults in `GradingConfig`):
- points per severity point, per cause, per lifetime-value / social-reach / monetary-loss band,
  for repeat complaints within 90 days, for a public threat, and for hours without a first
  response (per hour up to a cap, plus extra points once the case counts as ignored);
- the score picks the grade through three thresholds;
- some signals force *ugly* whatever the score (the customer says they won't return, a public
  post, a legal or media threat, a threat to go public to a large audience). A forced case's
  score is raised to the ugly threshold so score and grade never disagree.
- the customer's own words (subject, description, their later comments) count like the agent's
  boxes: phrases.py finds threats, "never again" and "third time I write", and the reason quotes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from recovery import formatting
from recovery.escalation import phrases as words_lib
from recovery.escalation.grading_config import DecimalBands, GradingConfig, GradingConfigError, IntBands  # noqa: F401 (re-exported)
from recovery.escalation.phrases import PhraseHit
from recovery.vocabulary import BAD, CAUSES, GOOD, NEUTRAL, UGLY

# How each cause reads in a reason. `other` carries no points by default, so it rarely shows.
CAUSE_TEXT: Mapping[str, str] = MappingProxyType(
    {
        "staff_conduct": "Staff were rude, discourteous or unknowledgeable",
        "product_quality": "The product was of poor quality",
        "service_delay": "The service was delayed",
        "failed_fix": "A problem that was supposed to be fixed came back",
        "pricing": "The customer has a pricing problem",
        "ignored": "The customer complains of being ignored",
        "other": "Other cause",
    }
)

SEVERITY_TEXT: Mapping[int, str] = MappingProxyType(
    {1: "minor", 2: "moderate", 3: "significant", 4: "serious", 5: "critical"}
)

LOW_RISK_TEXT = "Minor issue, nothing suggests the customer is at risk"

@dataclass(frozen=True)
class GradeSignals:
    """What we know about a complaint and its customer when grading it."""

    cause: str
    severity: int  # 1-5
    lifetime_value: Decimal
    social_reach: int  # followers
    threatens_public: bool
    says_wont_return: bool
    public_post: bool  # posted publicly / arrived on the social channel
    legal_or_media_threat: bool
    repeat_complaints_90d: int  # earlier complaints by the same customer within 90 days
    hours_unanswered: float  # without a first response, paused time already excluded
    monetary_loss: Decimal
    currency: str  # display only
    # What the customer wrote, as (where, text): subject, description, their later comments. Searched for
    # the phrases of the config; an empty tuple grades on the other signals alone.
    texts: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.cause not in CAUSES:
            raise ValueError(f"Unknown cause '{self.cause}'. Choose one of: {', '.join(CAUSES)}.")
        if isinstance(self.severity, bool) or self.severity not in SEVERITY_TEXT:
            raise ValueError(f"Severity must be a whole number from 1 to 5, got {self.severity!r}.")
        for name in ("lifetime_value", "social_reach", "repeat_complaints_90d", "hours_unanswered", "monetary_loss"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative, got {getattr(self, name)!r}.")


@dataclass(frozen=True)
class Reason:
    """One line of the explanation. Overrides carry 0 points and force the grade to ugly."""

    code: str
    text: str
    points: int
    forces_ugly: bool = False


@dataclass(frozen=True)
class Grade:
    grade: str
    score: int  # 0-100
    reasons: tuple[Reason, ...]  # most important first; never empty

    @property
    def forced_ugly(self) -> bool:
        return any(r.forces_ugly for r in self.reasons)


DEFAULT_CONFIG = GradingConfig()


def customer_words(signals: GradeSignals, config: GradingConfig = DEFAULT_CONFIG) -> dict[str, PhraseHit]:
    """The phrases found in the customer's texts, by category (see phrases.py)."""
    if not signals.texts:
        return {}
    return {hit.category: hit for hit in words_lib.detect(signals.texts, config.phrases, config.negations)}


def grade_experience(signals: GradeSignals, config: GradingConfig = DEFAULT_CONFIG) -> Grade:
    """Grade one complaint. Deterministic: the same signals and config give the same grade."""
    words = customer_words(signals, config)
    overrides = _overrides(signals, config, words)
    scored = [r for r in _scored_reasons(signals, config, words) if r.points > 0]
    # Stable sort keeps the signal order for ties, so the output is deterministic.
    scored.sort(key=lambda r: -r.points)

    raw = sum(r.points for r in scored)
    if overrides:
        raw = max(raw, config.ugly_threshold)
    score = max(0, min(100, raw))
    grade = UGLY if overrides else grade_for_score(score, config)

    reasons = [*overrides, *scored]
    if grade == GOOD:
        # An agent needs the conclusion first, then the small things that were counted.
        reasons.insert(0, Reason("low_risk", LOW_RISK_TEXT, 0))
    elif not reasons:
        reasons.append(Reason("no_signals", "No risk signals were recorded", 0))
    return Grade(grade=grade, score=score, reasons=tuple(reasons))


def grade_for_score(score: int, config: GradingConfig = DEFAULT_CONFIG) -> str:
    if score >= config.ugly_threshold:
        return UGLY
    if score >= config.bad_threshold:
        return BAD
    if score >= config.neutral_threshold:
        return NEUTRAL
    return GOOD


def _wrote(hit: PhraseHit) -> str:
    return f"Customer wrote: '{hit.quote}'"


def _overrides(s: GradeSignals, c: GradingConfig, words: Mapping[str, PhraseHit]) -> list[Reason]:
    out: list[Reason] = []
    wont_return = words.get(words_lib.WONT_RETURN)
    if wont_return:
        out.append(Reason("says_wont_return", f"{_wrote(wont_return)}: they say they will not come back", 0, True))
    elif s.says_wont_return:
        out.append(Reason("says_wont_return", "Customer said they will not come back", 0, True))
    legal, media = words.get(words_lib.LEGAL_THREAT), words.get(words_lib.MEDIA_THREAT)
    if legal:
        out.append(Reason("legal_or_media_threat", f"{_wrote(legal)}: a legal threat", 0, True))
    if media:
        out.append(Reason("legal_or_media_threat", f"{_wrote(media)}: a threat to go to the press", 0, True))
    if s.legal_or_media_threat and not (legal or media):
        out.append(Reason("legal_or_media_threat", "Customer threatened legal action or going to the media", 0, True))
    if s.public_post:
        out.append(Reason("public_post", "The complaint was posted publicly", 0, True))
    public = words.get(words_lib.PUBLIC_THREAT)
    if (s.threatens_public or public) and s.social_reach >= c.public_threat_ugly_reach:
        out.append(Reason("public_threat_large_reach", _public_text(s, public), 0, True))
    return out


def _public_text(s: GradeSignals, hit: PhraseHit | None) -> str:
    if hit is not None:
        reach = f" ({_followers(s.social_reach)})" if s.social_reach else ""
        return f"{_wrote(hit)}: a threat to go public{reach}"
    return f"Customer threatened to post on social media ({_followers(s.social_reach)})"


def _scored_reasons(s: GradeSignals, c: GradingConfig, words: Mapping[str, PhraseHit]) -> list[Reason]:
    out = [
        Reason(
            "severity",
            f"Severity {s.severity} of 5 ({SEVERITY_TEXT[s.severity]})",
            s.severity * c.severity_points,
        ),
        Reason(f"cause_{s.cause}", CAUSE_TEXT[s.cause], c.cause_points.get(s.cause, 0)),
    ]
    if s.repeat_complaints_90d > 0:
        n = s.repeat_complaints_90d
        points = min(c.repeat_points_cap, c.repeat_points + (n - 1) * c.repeat_points_each_more)
        earlier = "1 earlier complaint" if n == 1 else f"{n:,} earlier complaints"
        out.append(Reason("repeat", f"Repeat failure: {earlier} in the last 90 days, harder to win back", points))
    chased = words.get(words_lib.REPEAT_CONTACT)
    if chased:
        out.append(Reason("repeat_contact", f"{_wrote(chased)}: they have had to chase us", c.repeat_contact_points))
    out.append(_unanswered_reason(s, c))
    public = words.get(words_lib.PUBLIC_THREAT)
    if (s.threatens_public or public) and s.social_reach < c.public_threat_ugly_reach:
        out.append(Reason("threatens_public", _public_text(s, public), c.threatens_public_points))
    reach_points = _band_points(s.social_reach, c.social_reach_bands)
    out.append(Reason("social_reach", f"Large social following ({_followers(s.social_reach)})", reach_points))
    out.append(
        Reason(
            "lifetime_value",
            f"Valuable customer: lifetime value {formatting.money(s.lifetime_value, s.currency)}",
            _band_points(s.lifetime_value, c.lifetime_value_bands),
        )
    )
    out.append(
        Reason(
            "monetary_loss",
            f"Customer lost {formatting.money(s.monetary_loss, s.currency)}",
            _band_points(s.monetary_loss, c.monetary_loss_bands),
        )
    )
    return out


def _unanswered_reason(s: GradeSignals, c: GradingConfig) -> Reason:
    hours = s.hours_unanswered
    # Floor, not round: a case earns an hour's points only once the hour has passed.
    points = int(min(float(c.unanswered_points_cap), hours * c.points_per_hour_unanswered))
    ignored = hours >= c.ignored_after_hours
    if ignored:
        points += c.ignored_points
    whole = int(hours)
    text = f"No first response for {whole:,} hour{'' if whole == 1 else 's'}"
    if ignored:
        text += f" (ignored: over the {_number(c.ignored_after_hours)}-hour limit)"
    return Reason("unanswered", text, points)


def _band_points(value: Decimal | int, bands: tuple[tuple[Any, int], ...]) -> int:
    points = 0
    for threshold, band_points in bands:  # ascending, so the last reached band wins
        if value >= threshold:
            points = band_points
    return points


def _followers(n: int) -> str:
    return f"{n:,} follower{'' if n == 1 else 's'}"




def _number(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"
