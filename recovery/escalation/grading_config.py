"""Grading settings: the points, bands and thresholds behind a grade (GradingConfig), read from and checked
against what an editor or the API sends (GradingConfigError names the setting and says what is wrong).

Pure: plain data, no Django, no database. recovery/escalation/grading.py grades with them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from recovery.escalation import phrases as words_lib
from recovery.vocabulary import CAUSES

# Decimal bands: ((threshold, points), ...) ascending; the highest band reached counts.
DecimalBands = tuple[tuple[Decimal, int], ...]
IntBands = tuple[tuple[int, int], ...]


def _default_cause_points() -> Mapping[str, int]:
    # Treatment weighs as much as money (Tax, Brown & Chandrashekaran 1998), and a failed fix is
    # already a second failure, so those causes carry the most.
    return MappingProxyType(
        {
            "staff_conduct": 10,
            "product_quality": 5,
            "service_delay": 5,
            "failed_fix": 15,
            "pricing": 3,
            "ignored": 10,
            "other": 0,
        }
    )


# --- config parsing and checks -------------------------------------------------------------


def _parse_int(key: str, raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValueError(f"'{key}' must be a whole number, got {raw!r}.")
    return raw


def _parse_float(key: str, raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"'{key}' must be a number, got {raw!r}.")
    return float(raw)


def _parse_decimal(key: str, raw: Any) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str | Decimal):
        raise ValueError(f"'{key}' must be an amount like \"1000\" or 1000, got {raw!r}.")
    try:
        # str() first so 0.1 becomes Decimal("0.1"), not its binary approximation.
        value = Decimal(str(raw))
    except InvalidOperation:
        raise ValueError(f"'{key}' must be an amount like \"1000\" or 1000, got {raw!r}.") from None
    if not value.is_finite():
        raise ValueError(f"'{key}' must be a finite amount, got {raw!r}.")
    return value


def _parse_cause_points(key: str, raw: Any) -> Mapping[str, int]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"'{key}' must be an object of cause: points, e.g. {{\"failed_fix\": 15}}.")
    merged = dict(_default_cause_points())
    for cause, points in raw.items():
        if cause not in CAUSES:
            raise ValueError(f"Unknown cause '{cause}' in '{key}'. Choose from: {', '.join(CAUSES)}.")
        merged[cause] = _parse_int(f"{key}.{cause}", points)
    return merged


def _band_parser(threshold: Callable[[str, Any], Any]) -> Callable[[str, Any], tuple[tuple[Any, int], ...]]:
    def parse(key: str, raw: Any) -> tuple[tuple[Any, int], ...]:
        shape = f"'{key}' must be a list of [threshold, points] pairs, e.g. [[1000, 5], [10000, 12]]."
        if not isinstance(raw, list | tuple):
            raise ValueError(shape)
        bands = []
        for i, pair in enumerate(raw):
            if not isinstance(pair, list | tuple) or len(pair) != 2:
                raise ValueError(shape)
            bands.append((threshold(f"{key}[{i}] threshold", pair[0]), _parse_int(f"{key}[{i}] points", pair[1])))
        return tuple(bands)

    return parse


_INT_KEYS = (
    "neutral_threshold",
    "bad_threshold",
    "ugly_threshold",
    "severity_points",
    "threatens_public_points",
    "public_threat_ugly_reach",
    "repeat_points",
    "repeat_points_each_more",
    "repeat_points_cap",
    "repeat_contact_points",
    "unanswered_points_cap",
    "ignored_points",
)
_PARSERS: dict[str, Callable[[str, Any], Any]] = {
    **{k: _parse_int for k in _INT_KEYS},
    "points_per_hour_unanswered": _parse_float,
    "ignored_after_hours": _parse_float,
    "cause_points": _parse_cause_points,
    "lifetime_value_bands": _band_parser(_parse_decimal),
    "monetary_loss_bands": _band_parser(_parse_decimal),
    "social_reach_bands": _band_parser(_parse_int),
    "phrases": words_lib.parse_phrase_lists,
    "negations": words_lib.parse_negations,
}


def _check_config(c: GradingConfig) -> dict[str, list[str]]:
    """Range checks that make a config usable; types are checked by from_dict."""
    errors: dict[str, list[str]] = {}

    def add(key: str, message: str) -> None:
        errors.setdefault(key, []).append(message)

    if not 0 < c.neutral_threshold < c.bad_threshold < c.ugly_threshold <= 100:
        add(
            "ugly_threshold",
            "Thresholds must rise: 0 < neutral_threshold < bad_threshold < ugly_threshold <= 100 "
            f"(got {c.neutral_threshold}, {c.bad_threshold}, {c.ugly_threshold}).",
        )
    for key in (*_INT_KEYS, "points_per_hour_unanswered", "ignored_after_hours"):
        if getattr(c, key) < 0:
            add(key, f"'{key}' cannot be negative, got {getattr(c, key)}.")
    missing = [cause for cause in CAUSES if cause not in c.cause_points]
    unknown = [cause for cause in c.cause_points if cause not in CAUSES]
    if missing or unknown:
        add("cause_points", f"Give points for exactly these causes: {', '.join(CAUSES)}.")
    for cause, points in c.cause_points.items():
        if points < 0:
            add("cause_points", f"Points for '{cause}' cannot be negative, got {points}.")
    for key in ("lifetime_value_bands", "monetary_loss_bands", "social_reach_bands"):
        bands = getattr(c, key)
        thresholds = [t for t, _ in bands]
        if any(t < 0 for t in thresholds) or any(p < 0 for _, p in bands):
            add(key, f"'{key}' thresholds and points cannot be negative.")
        if thresholds != sorted(set(thresholds)):
            add(key, f"'{key}' thresholds must rise from one band to the next, without repeats.")
    # Product rule from the design: an ignored bad case drifts to ugly. Refuse settings under
    # which it never could, rather than silently dropping the behaviour.
    drift = (c.unanswered_points_cap if c.points_per_hour_unanswered > 0 else 0) + c.ignored_points
    if not errors and c.bad_threshold + drift < c.ugly_threshold:
        add(
            "ignored_points",
            "With these settings an ignored bad case could never become ugly: bad_threshold "
            f"({c.bad_threshold}) + unanswered_points_cap ({c.unanswered_points_cap}) + ignored_points "
            f"({c.ignored_points}) must reach ugly_threshold ({c.ugly_threshold}).",
        )
    return errors


@dataclass(frozen=True)
class GradingConfig:
    """Every weight and threshold of the grading. Administrators may override any of them.

    Default thresholds, and why:
    - neutral from 15: one severity-1 complaint about nothing in particular (10 points) stays
      *good*; add any real cause or value and it is *neutral* — met expectations, nothing more.
    - bad from 35: severity 3 with a real cause, or any severity 4-5 complaint. Part of the
      experience went wrong.
    - ugly from 70: several strong signals together (critical + high-value + repeat, ...), or a
      bad case left unanswered for `ignored_after_hours` (35 + 24 + 12 = 71): being ignored is
      what turns a recoverable customer into a lost one (TARP: slow resolution costs ~25 points
      of repurchase).
    """

    neutral_threshold: int = 15
    bad_threshold: int = 35
    ugly_threshold: int = 70

    severity_points: int = 10  # per severity point: 1 -> 10 ... 5 -> 50
    cause_points: Mapping[str, int] = field(default_factory=_default_cause_points)

    lifetime_value_bands: DecimalBands = (
        (Decimal("1000"), 5),
        (Decimal("10000"), 10),
        (Decimal("50000"), 15),
    )
    monetary_loss_bands: DecimalBands = (
        (Decimal("100"), 3),
        (Decimal("1000"), 6),
        (Decimal("5000"), 10),
    )
    social_reach_bands: IntBands = ((1_000, 5), (10_000, 12), (100_000, 20))

    threatens_public_points: int = 15
    # A threat to go public to at least this many followers is ugly, whatever the score.
    public_threat_ugly_reach: int = 10_000

    # A second failure erases the recovery paradox (Maxham & Netemeyer 2002), so the first
    # earlier complaint weighs heavily and each further one adds less.
    repeat_points: int = 15
    repeat_points_each_more: int = 5
    repeat_points_cap: int = 25

    # The customer wrote that they had to chase us ("third time I write", "still no answer").
    repeat_contact_points: int = 10

    points_per_hour_unanswered: float = 1.0
    unanswered_points_cap: int = 24
    # From this many hours without a first response the case counts as ignored: extra points.
    ignored_after_hours: float = 24.0
    ignored_points: int = 12

    # What to look for in the customer's words, per category of phrases.py, and the words that negate a phrase.
    phrases: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: words_lib.DEFAULT_PHRASES)
    negations: tuple[str, ...] = words_lib.DEFAULT_NEGATIONS

    def __post_init__(self) -> None:
        # Freeze the mappings so a shared config cannot be changed under another caller.
        object.__setattr__(self, "cause_points", MappingProxyType(dict(self.cause_points)))
        object.__setattr__(
            self, "phrases", MappingProxyType({c: tuple(self.phrases.get(c, ())) for c in words_lib.CATEGORIES})
        )
        object.__setattr__(self, "negations", tuple(self.negations))
        errors = _check_config(self)
        if errors:
            raise GradingConfigError(errors)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GradingConfig:
        """Build a config from stored settings, keeping defaults for missing keys.

        `cause_points` may name only some causes; the others keep their default. Raises
        `GradingConfigError` (a ValueError) listing every unknown key and wrong value.
        """
        if not isinstance(data, Mapping):
            raise GradingConfigError({"__all__": ["Grading settings must be an object of key: value."]})
        errors: dict[str, list[str]] = {}
        kwargs: dict[str, Any] = {}
        known = {f.name for f in fields(cls)}
        for key, raw in data.items():
            if key not in known:
                errors.setdefault(str(key), []).append(
                    f"Unknown setting '{key}'. Known settings: {', '.join(sorted(known))}."
                )
                continue
            try:
                kwargs[key] = _PARSERS[key](key, raw)
            except ValueError as exc:
                errors.setdefault(key, []).append(str(exc))
        if errors:
            raise GradingConfigError(errors)
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (Decimals as strings); `from_dict(to_dict())` round-trips."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "cause_points":
                out[f.name] = dict(value)
            elif f.name == "phrases":
                out[f.name] = {c: list(p) for c, p in value.items()}
            elif f.name == "negations":
                out[f.name] = list(value)
            elif f.name.endswith("_bands"):
                out[f.name] = [[str(t) if isinstance(t, Decimal) else t, p] for t, p in value]
            else:
                out[f.name] = value
        return out


class GradingConfigError(ValueError):
    """Invalid grading settings. `.errors` maps a setting name to human messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{k}: {m}" for k, msgs in errors.items() for m in msgs))
