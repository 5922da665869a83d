"""Unit tests for recovery.escalation.grading: pure, no database."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from recovery.escalation.grading import (
    LOW_RISK_TEXT,
    GradeSignals,
    GradingConfig,
    GradingConfigError,
    Reason,
    grade_experience,
    grade_for_score,
)
from recovery.vocabulary import CAUSES

# A severity-1 complaint about nothing in particular: 10 points, graded good.
BASE = GradeSignals(
    cause="other",
    severity=1,
    lifetime_value=Decimal("0"),
    social_reach=0,
    threatens_public=False,
    says_wont_return=False,
    public_post=False,
    legal_or_media_threat=False,
    repeat_complaints_90d=0,
    hours_unanswered=0.0,
    monetary_loss=Decimal("0"),
    currency="EUR",
)
BASE_POINTS = 10


def signals(**overrides: Any) -> GradeSignals:
    return replace(BASE, **overrides)


def reason(reasons: tuple[Reason, ...], code: str) -> Reason:
    found = [r for r in reasons if r.code == code]
    assert found, f"no reason {code!r} in {[r.code for r in reasons]}"
    return found[0]


# --- signals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code", "points"),
    [
        ({"severity": 3}, "severity", 30),
        ({"severity": 5}, "severity", 50),
        ({"cause": "staff_conduct"}, "cause_staff_conduct", 10),
        ({"cause": "product_quality"}, "cause_product_quality", 5),
        ({"cause": "service_delay"}, "cause_service_delay", 5),
        ({"cause": "failed_fix"}, "cause_failed_fix", 15),
        ({"cause": "pricing"}, "cause_pricing", 3),
        ({"cause": "ignored"}, "cause_ignored", 10),
        ({"lifetime_value": Decimal("1000")}, "lifetime_value", 5),
        ({"lifetime_value": Decimal("10000")}, "lifetime_value", 10),
        ({"lifetime_value": Decimal("250000")}, "lifetime_value", 15),
        ({"social_reach": 1_000}, "social_reach", 5),
        ({"social_reach": 10_000}, "social_reach", 12),
        ({"social_reach": 100_000}, "social_reach", 20),
        ({"threatens_public": True, "social_reach": 500}, "threatens_public", 15),
        ({"repeat_complaints_90d": 1}, "repeat", 15),
        ({"repeat_complaints_90d": 2}, "repeat", 20),
        ({"repeat_complaints_90d": 9}, "repeat", 25),
        ({"hours_unanswered": 5.0}, "unanswered", 5),
        ({"hours_unanswered": 23.9}, "unanswered", 23),
        ({"hours_unanswered": 24.0}, "unanswered", 24 + 12),
        ({"hours_unanswered": 500.0}, "unanswered", 24 + 12),
        ({"monetary_loss": Decimal("100")}, "monetary_loss", 3),
        ({"monetary_loss": Decimal("1000")}, "monetary_loss", 6),
        ({"monetary_loss": Decimal("5000")}, "monetary_loss", 10),
    ],
)
def test_grade_experience_adds_points_for_each_signal(overrides: dict[str, Any], code: str, points: int) -> None:
    result = grade_experience(signals(**overrides))

    assert reason(result.reasons, code).points == points
    if code != "severity":
        assert result.score == BASE_POINTS + points


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"cause": "other"}, "cause_other"),
        ({"lifetime_value": Decimal("999.99")}, "lifetime_value"),
        ({"social_reach": 999}, "social_reach"),
        ({"monetary_loss": Decimal("99")}, "monetary_loss"),
        ({"hours_unanswered": 0.9}, "unanswered"),
        ({"repeat_complaints_90d": 0}, "repeat"),
        ({"threatens_public": False}, "threatens_public"),
    ],
)
def test_grade_experience_leaves_out_reason_when_signal_adds_nothing(overrides: dict[str, Any], code: str) -> None:
    result = grade_experience(signals(**overrides))

    assert code not in [r.code for r in result.reasons]
    assert result.score == BASE_POINTS


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"says_wont_return": True}, "says_wont_return"),
        ({"public_post": True}, "public_post"),
        ({"legal_or_media_threat": True}, "legal_or_media_threat"),
        ({"threatens_public": True, "social_reach": 10_000}, "public_threat_large_reach"),
    ],
)
def test_grade_experience_forces_ugly_when_override(overrides: dict[str, Any], code: str) -> None:
    result = grade_experience(signals(**overrides))

    assert result.grade == "ugly"
    assert result.score >= GradingConfig().ugly_threshold  # score never contradicts the grade
    assert result.forced_ugly
    first = result.reasons[0]
    assert (first.code, first.points, first.forces_ugly) == (code, 0, True)


def test_grade_experience_does_not_force_ugly_when_public_threat_reach_is_small() -> None:
    result = grade_experience(signals(threatens_public=True, social_reach=9_999))

    assert result.grade != "ugly"
    assert not result.forced_ugly
    assert reason(result.reasons, "threatens_public").points == 15


def test_grade_experience_keeps_higher_score_when_forced_case_already_scores_above_ugly() -> None:
    result = grade_experience(signals(severity=5, cause="failed_fix", repeat_complaints_90d=3, says_wont_return=True))

    assert result.score == 50 + 15 + 25


# --- thresholds and grades -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (0, "good"),
        (14, "good"),
        (15, "neutral"),
        (34, "neutral"),
        (35, "bad"),
        (69, "bad"),
        (70, "ugly"),
        (100, "ugly"),
    ],
)
def test_grade_for_score_maps_score_to_grade_at_thresholds(score: int, grade: str) -> None:
    assert grade_for_score(score) == grade


@pytest.mark.parametrize(
    ("overrides", "grade"),
    [
        ({}, "good"),
        ({"cause": "pricing"}, "good"),
        ({"cause": "product_quality"}, "neutral"),
        ({"severity": 2, "cause": "staff_conduct"}, "neutral"),
        ({"severity": 3, "cause": "product_quality"}, "bad"),
        ({"severity": 2, "cause": "failed_fix"}, "bad"),
        ({"severity": 5, "cause": "staff_conduct", "repeat_complaints_90d": 1}, "ugly"),
        ({"severity": 4, "cause": "failed_fix", "lifetime_value": Decimal("60000")}, "ugly"),
    ],
)
def test_grade_experience_grades_typical_complaints(overrides: dict[str, Any], grade: str) -> None:
    assert grade_experience(signals(**overrides)).grade == grade


def test_grade_experience_clamps_score_to_100() -> None:
    result = grade_experience(
        signals(
            severity=5,
            cause="failed_fix",
            lifetime_value=Decimal("90000"),
            social_reach=500_000,
            repeat_complaints_90d=4,
            hours_unanswered=99.0,
            monetary_loss=Decimal("9000"),
        )
    )

    assert result.score == 100
    assert sum(r.points for r in result.reasons) > 100


@pytest.mark.parametrize(
    ("hours", "grade"),
    [(0.0, "bad"), (12.0, "bad"), (23.5, "bad"), (24.0, "ugly"), (72.0, "ugly")],
)
def test_grade_experience_drifts_to_ugly_when_bad_case_is_ignored(hours: float, grade: str) -> None:
    # given the weakest bad case (exactly at the bad threshold)
    case = signals(severity=3, cause="product_quality")
    assert grade_experience(case).score == GradingConfig().bad_threshold

    # when it waits for a first response
    result = grade_experience(replace(case, hours_unanswered=hours))

    # then it becomes ugly once it counts as ignored
    assert result.grade == grade


def test_grade_experience_weighs_repeat_failure_enough_to_change_grade() -> None:
    first_time = grade_experience(signals(severity=2, cause="product_quality"))
    second_time = grade_experience(signals(severity=2, cause="product_quality", repeat_complaints_90d=1))

    assert (first_time.grade, second_time.grade) == ("neutral", "bad")


# --- reasons -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "code", "text"),
    [
        (
            {"threatens_public": True, "social_reach": 12_400},
            "public_threat_large_reach",
            "Customer threatened to post on social media (12,400 followers)",
        ),
        (
            {"threatens_public": True, "social_reach": 1},
            "threatens_public",
            "Customer threatened to post on social media (1 follower)",
        ),
        ({"social_reach": 12_400}, "social_reach", "Large social following (12,400 followers)"),
        (
            {"lifetime_value": Decimal("12500")},
            "lifetime_value",
            "Valuable customer: lifetime value €12,500.00",
        ),
        ({"monetary_loss": Decimal("1250.5")}, "monetary_loss", "Customer lost €1,250.50"),
        ({"severity": 4}, "severity", "Severity 4 of 5 (serious)"),
        ({"cause": "failed_fix"}, "cause_failed_fix", "A problem that was supposed to be fixed came back"),
        (
            {"repeat_complaints_90d": 1},
            "repeat",
            "Repeat failure: 1 earlier complaint in the last 90 days, harder to win back",
        ),
        (
            {"repeat_complaints_90d": 2},
            "repeat",
            "Repeat failure: 2 earlier complaints in the last 90 days, harder to win back",
        ),
        ({"hours_unanswered": 1.5}, "unanswered", "No first response for 1 hour"),
        (
            {"hours_unanswered": 1_250.0},
            "unanswered",
            "No first response for 1,250 hours (ignored: over the 24-hour limit)",
        ),
        ({"says_wont_return": True}, "says_wont_return", "Customer said they will not come back"),
        ({"public_post": True}, "public_post", "The complaint was posted publicly"),
        (
            {"legal_or_media_threat": True},
            "legal_or_media_threat",
            "Customer threatened legal action or going to the media",
        ),
    ],
)
def test_grade_experience_writes_reasons_for_an_agent(overrides: dict[str, Any], code: str, text: str) -> None:
    assert reason(grade_experience(signals(**overrides)).reasons, code).text == text


def test_grade_experience_leads_with_low_risk_reason_when_good() -> None:
    result = grade_experience(signals())

    assert result.grade == "good"
    assert result.reasons[0] == Reason("low_risk", LOW_RISK_TEXT, 0, False)


def test_grade_experience_gives_a_reason_when_no_signal_scores() -> None:
    config = GradingConfig(severity_points=0)

    result = grade_experience(signals(), config)

    assert result.reasons  # an agent always sees why
    assert result.score == 0


def test_grade_experience_orders_reasons_overrides_first_then_by_points() -> None:
    result = grade_experience(
        signals(
            severity=2,  # 20
            cause="staff_conduct",  # 10
            repeat_complaints_90d=1,  # 15
            public_post=True,
            says_wont_return=True,
        )
    )

    assert [r.code for r in result.reasons] == [
        "says_wont_return",
        "public_post",
        "severity",
        "repeat",
        "cause_staff_conduct",
    ]


def test_grade_experience_score_is_sum_of_reason_points_when_not_forced() -> None:
    result = grade_experience(
        signals(
            severity=3, cause="service_delay", social_reach=2_000, lifetime_value=Decimal("1500"), hours_unanswered=3
        )
    )

    assert result.score == sum(r.points for r in result.reasons) == 30 + 5 + 5 + 5 + 3


# --- input checks --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cause": "rude"}, "Unknown cause 'rude'"),
        ({"severity": 0}, "Severity must be a whole number from 1 to 5"),
        ({"severity": 6}, "Severity must be a whole number from 1 to 5"),
        ({"social_reach": -1}, "social_reach cannot be negative"),
        ({"hours_unanswered": -0.5}, "hours_unanswered cannot be negative"),
        ({"monetary_loss": Decimal("-1")}, "monetary_loss cannot be negative"),
    ],
)
def test_grade_signals_rejects_impossible_values(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        signals(**overrides)


# --- config --------------------------------------------------------------------------------


def test_grading_config_from_dict_overrides_only_given_settings() -> None:
    config = GradingConfig.from_dict(
        {"ugly_threshold": 65, "cause_points": {"pricing": 9}, "social_reach_bands": [[500, 7]]}
    )

    assert config.ugly_threshold == 65
    assert config.cause_points["pricing"] == 9
    assert config.cause_points["failed_fix"] == 15  # other causes keep their default
    assert config.social_reach_bands == ((500, 7),)
    assert config.bad_threshold == GradingConfig().bad_threshold


def test_grading_config_round_trips_through_dict() -> None:
    config = GradingConfig(
        ugly_threshold=80,
        ignored_points=30,
        lifetime_value_bands=((Decimal("0.5"), 1), (Decimal("2000"), 9)),
    )

    data = config.to_dict()

    assert data["lifetime_value_bands"] == [["0.5", 1], ["2000", 9]]  # JSON-ready
    assert GradingConfig.from_dict(data) == config


def test_grade_experience_uses_the_given_config() -> None:
    config = GradingConfig.from_dict({"severity_points": 20})

    assert grade_experience(signals(severity=2), config).grade == "bad"
    assert grade_experience(signals(severity=2)).grade == "neutral"


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        ({"ugly_treshold": 70}, "ugly_treshold", "Unknown setting 'ugly_treshold'. Known settings:"),
        ({"ugly_threshold": "70"}, "ugly_threshold", "'ugly_threshold' must be a whole number, got '70'"),
        ({"ugly_threshold": 70.0}, "ugly_threshold", "must be a whole number"),
        ({"repeat_points": True}, "repeat_points", "must be a whole number"),
        ({"ignored_after_hours": "24h"}, "ignored_after_hours", "must be a number"),
        ({"cause_points": {"rudeness": 5}}, "cause_points", "Unknown cause 'rudeness'"),
        ({"cause_points": [5]}, "cause_points", "must be an object of cause: points"),
        ({"social_reach_bands": [1000, 5]}, "social_reach_bands", "list of [threshold, points] pairs"),
        ({"lifetime_value_bands": [["lots", 5]]}, "lifetime_value_bands", "must be an amount"),
        ({"social_reach_bands": [[10_000, 5], [1_000, 9]]}, "social_reach_bands", "must rise"),
        ({"neutral_threshold": 50}, "ugly_threshold", "Thresholds must rise"),
        ({"severity_points": -1}, "severity_points", "cannot be negative"),
        ({"ignored_points": 0}, "ignored_points", "an ignored bad case could never become ugly"),
    ],
)
def test_grading_config_from_dict_rejects_invalid_settings(data: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(GradingConfigError) as excinfo:
        GradingConfig.from_dict(data)

    assert isinstance(excinfo.value, ValueError)
    assert any(message in m for m in excinfo.value.errors[key]), excinfo.value.errors


def test_grading_config_from_dict_reports_every_problem_at_once() -> None:
    with pytest.raises(GradingConfigError) as excinfo:
        GradingConfig.from_dict({"nope": 1, "bad_threshold": "x"})

    assert set(excinfo.value.errors) == {"nope", "bad_threshold"}


def test_grading_config_cause_points_cannot_be_changed_after_creation() -> None:
    config = GradingConfig()

    with pytest.raises(TypeError):
        config.cause_points["pricing"] = 99  # type: ignore[index]


@pytest.mark.parametrize("cause", CAUSES)
def test_grading_config_has_points_for_every_cause(cause: str) -> None:
    assert cause in GradingConfig().cause_points
