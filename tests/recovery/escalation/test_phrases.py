"""The customer's own words: phrases found (and not found) in what they wrote, and what grading does with them.
Pure functions, no database."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from recovery.escalation import phrases
from recovery.escalation.grading import GradeSignals, GradingConfig, GradingConfigError, grade_experience
from recovery.escalation.phrases import LEGAL_THREAT, MEDIA_THREAT, PUBLIC_THREAT, REPEAT_CONTACT, WONT_RETURN, detect


def _categories(text: str) -> set[str]:
    return {hit.category for hit in detect([("description", text)])}


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I'll post this on Twitter", PUBLIC_THREAT),
        ("I will be posting this whole sorry story on social media.", PUBLIC_THREAT),
        ("Expect a 1-star review on Google.", PUBLIC_THREAT),
        ("I am not happy and I will write a bad review", PUBLIC_THREAT),
        ("Everyone on Trustpilot will hear about this", PUBLIC_THREAT),
        ("I'm going to the press with this", MEDIA_THREAT),
        ("A journalist friend of mine will love this story", MEDIA_THREAT),
        ("My lawyer will be in touch", LEGAL_THREAT),
        ("If this isn't fixed I will sue you.", LEGAL_THREAT),
        ("I am considering legal action", LEGAL_THREAT),
        ("See you in small claims court", LEGAL_THREAT),
        ("Never again.", WONT_RETURN),
        ("I won't be back", WONT_RETURN),
        ("You’ve lost a customer", WONT_RETURN),
        ("Please cancel my subscription today", WONT_RETURN),
        ("I will never shop with you again", WONT_RETURN),
        ("This is the third time I write!", REPEAT_CONTACT),
        ("Still no answer from anyone.", REPEAT_CONTACT),
        ("I have emailed you four times", REPEAT_CONTACT),
        ("STILL WAITING", REPEAT_CONTACT),
    ],
)
def test_detect_finds_the_phrase(text, category):
    assert category in _categories(text)


@pytest.mark.parametrize(
    "text",
    [
        # Negations that must not fire.
        "I won't post this anywhere",
        "I won't post this on Facebook, I just want a refund",
        "I'm not going to sue",
        "I have no intention of suing anyone",
        "No lawyer needed, just fix it",
        "I will come back",
        "I will come back next week to collect it",
        "I don't want to cancel my subscription",
        "I have no plans to cancel my subscription",
        "I would never go to the press over this",
        # Look-alikes that are not the phrase.
        "Please cancel my order",
        "The issue was pursued by your colleague",
        "I saw the costume in the tissue paper",
        "The pressure was too low",
        "Thanks for the quick answer",
        "",
    ],
)
def test_detect_ignores_negations_and_look_alikes(text):
    assert _categories(text) == set()


def test_detect_quotes_the_customers_sentence_in_their_spelling():
    hits = detect([("description", "Hello. I'll post this on Twitter! Bye.")])

    assert [(h.category, h.quote, h.where) for h in hits] == [(PUBLIC_THREAT, "I'll post this on Twitter", "description")]


def test_detect_keeps_the_first_hit_per_category_and_says_where():
    hits = detect(
        [("subject", "Third time I write"), ("description", "still no answer"), ("comment", "My lawyer is ready")]
    )

    assert [(h.category, h.where) for h in hits] == [(LEGAL_THREAT, "comment"), (REPEAT_CONTACT, "subject")]


def test_detect_trims_a_long_sentence_around_the_phrase():
    text = "word " * 60 + "I will sue you " + "word " * 60

    (hit,) = detect([("description", text)])

    assert "I will sue you" in hit.quote
    assert len(hit.quote) <= phrases.QUOTE_LENGTH + 20  # widened to whole words
    assert hit.quote.startswith("…") and hit.quote.endswith("…")


def test_detect_uses_the_lists_given():
    lists = {**phrases.DEFAULT_PHRASES, LEGAL_THREAT: ("kantonsgericht",)}

    assert [h.category for h in detect([("d", "Wir sehen uns vor dem Kantonsgericht")], lists)] == [LEGAL_THREAT]
    assert detect([("d", "My lawyer will call")], lists) == ()


# --- settings -----------------------------------------------------------------------------------


def test_phrase_settings_replace_a_category_and_keep_the_others():
    config = GradingConfig.from_dict({"phrases": {"legal_threat": ["avocat*", "tribunal"]}})

    assert config.phrases[LEGAL_THREAT] == ("avocat*", "tribunal")
    assert config.phrases[WONT_RETURN] == phrases.DEFAULT_PHRASES[WONT_RETURN]
    assert GradingConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    "raw",
    [
        {"threats": ["sue"]},
        {"legal_threat": "sue"},
        {"legal_threat": [""]},
        {"legal_threat": ["Sue"]},
        {"legal_threat": ["* sue"]},
        {"legal_threat": ["sue (you)"]},
        ["sue"],
    ],
)
def test_phrase_settings_refuse_what_cannot_be_matched(raw):
    with pytest.raises(GradingConfigError) as caught:
        GradingConfig.from_dict({"phrases": raw})

    assert "phrases" in caught.value.errors


def test_negation_settings_are_single_words():
    assert GradingConfig.from_dict({"negations": ["not", "never"]}).negations == ("not", "never")
    with pytest.raises(GradingConfigError):
        GradingConfig.from_dict({"negations": ["not really"]})


# --- grading ------------------------------------------------------------------------------------

BASE = GradeSignals(
    cause="product_quality",
    severity=2,
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


def _graded(text: str, **changes):
    return grade_experience(replace(BASE, texts=(("description", text),), **changes))


@pytest.mark.parametrize(
    ("text", "code", "forced"),
    [
        ("Never again.", "says_wont_return", True),
        ("My lawyer will be in touch.", "legal_or_media_threat", True),
        ("I'm going to the press with this.", "legal_or_media_threat", True),
        ("I'll post this on Twitter.", "threatens_public", False),
        ("Third time I write.", "repeat_contact", False),
    ],
)
def test_grading_turns_the_customers_words_into_reasons_that_quote_them(text, code, forced):
    grade = _graded(text)

    reason = next(r for r in grade.reasons if r.code == code)
    assert reason.text.startswith(f"Customer wrote: '{text.rstrip('.')}'")
    assert reason.forces_ugly is forced
    assert (grade.grade == "ugly") is forced


def test_grading_counts_a_written_public_threat_like_the_agents_box():
    plain = grade_experience(BASE)
    written = _graded("I'll post this on Twitter")
    ticked = grade_experience(replace(BASE, threatens_public=True))

    assert written.score == ticked.score == plain.score + GradingConfig().threatens_public_points


def test_grading_forces_ugly_for_a_written_public_threat_to_a_large_audience():
    grade = _graded("I'll post this on Twitter", social_reach=50_000)

    assert grade.grade == "ugly"
    assert grade.reasons[0].code == "public_threat_large_reach"
    assert grade.reasons[0].text.startswith("Customer wrote: 'I'll post this on Twitter'")


def test_grading_raises_the_score_by_the_repeat_contact_points():
    config = GradingConfig.from_dict({"repeat_contact_points": 20})

    plain = grade_experience(BASE, config)
    chased = grade_experience(replace(BASE, texts=(("subject", "Still no answer"),)), config)

    assert chased.score == plain.score + 20


@pytest.mark.parametrize("text", ["I won't post this anywhere", "I'm not going to sue", "I will come back"])
def test_grading_ignores_negated_words(text):
    assert _graded(text) == grade_experience(BASE)


def test_grading_with_the_agents_box_and_no_words_keeps_the_plain_reason():
    grade = grade_experience(replace(BASE, says_wont_return=True))

    assert [r.text for r in grade.reasons if r.code == "says_wont_return"] == ["Customer said they will not come back"]


# --- through the assessment (database) ---------------------------------------------------------
# The tests above need no database; these check that the assessment feeds grading the customer's words.


@pytest.mark.django_db
def test_assessment_reads_the_customers_later_comments_not_the_agents():
    from recovery.escalation.services import complaint_assess
    from tests.factories import ComplaintFactory
    from tickets.actors import ActorRef
    from tickets.events import event_write
    from tickets.models import TimelineEvent

    complaint = ComplaintFactory(severity=2, subject="Late parcel", description="It is late.")
    event_write(complaint=complaint, kind=TimelineEvent.Kind.COMMENTED, actor=ActorRef.system("Agent"),
                message="note", data={"body": "The customer said they might call a lawyer"})
    complaint_assess(complaint_id=complaint.pk, trigger="test")
    complaint.refresh_from_db()
    assert complaint.grade != "ugly"

    event_write(complaint=complaint, kind=TimelineEvent.Kind.COMMENTED, actor=ActorRef.system("Helpdesk"),
                message="The customer wrote again", data={"by_customer": True, "body": "My lawyer will call you."})
    complaint_assess(complaint_id=complaint.pk, trigger="test")
    complaint.refresh_from_db()

    assert complaint.grade == "ugly"
    assert complaint.grade_reasons[0]["text"] == "Customer wrote: 'My lawyer will call you': a legal threat"


@pytest.mark.django_db
def test_assessment_uses_the_phrase_lists_in_the_grading_settings():
    from recovery.escalation.services import complaint_assess, grading_settings_update
    from tests.factories import ComplaintFactory
    from tickets.actors import ActorRef

    grading_settings_update(config={"phrases": {"wont_return": ["nie wieder"]}}, actor=ActorRef.system())
    complaint = ComplaintFactory(severity=2, subject="Kalter Kaffee", description="Nie wieder! Never again.")

    complaint_assess(complaint_id=complaint.pk, trigger="test")
    complaint.refresh_from_db()

    assert complaint.grade == "ugly"
    assert complaint.grade_reasons[0]["text"].startswith("Customer wrote: 'Nie wieder'")
