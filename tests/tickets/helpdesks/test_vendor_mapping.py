"""The vendors' value mapping as plain functions: no database."""

from __future__ import annotations

import pytest

from tickets.helpdesks import mapping
from tickets.helpdesks.vendors import base, freshdesk, helpscout, zammad, zendesk


@pytest.mark.parametrize(
    ("value", "expected"),
    [("HIGH", "high"), ("Urgent", "urgent"), ("3 high", "high"), ("2 normal", "normal"), ("Medium", "medium"),
     ("low", "low"), ("", None), (None, None), ("whenever", None)],
)
def test_priority_name_reads_every_vendors_spelling(value, expected):
    assert mapping.priority_name(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("web_form", "web"), ("email", "email"), ("Mail", "email"), ("Outbound Email", "email"), ("phone", "phone"),
     ("voice", "phone"), ("chat", "chat"), ("native_messaging", "chat"), ("beacon-v2", "chat"),
     ("twitter status", "social"), ("facebook", "social"), ("web_service", "api"), ("api", "api"),
     ("Portal", "web"), ("Feedback Widget", "web"), ("note", None), (None, None)],
)
def test_channel_from_vendor_names(value, expected):
    assert mapping.channel_from(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("refund, billing", ("refund", "billing")), ("rude  late", ("rude", "late")), (["VIP", "vip"], ("vip",)),
     ([{"id": 1, "tag": "delay"}], ("delay",)), (None, ()), ("", ())],
)
def test_tag_list_reads_strings_lists_and_tag_objects(value, expected):
    assert base.tag_list(value) == expected


def test_zendesk_signature_matches_the_documented_formula():
    # base64(HMACSHA256(TIMESTAMP + BODY)) with the webhook's signing secret
    import base64
    import hashlib
    import hmac

    expected = base64.b64encode(hmac.new(b"k", b"2026-01-01T00:00:00Z{}", hashlib.sha256).digest()).decode()
    assert zendesk.signature("k", "2026-01-01T00:00:00Z", b"{}") == expected


def test_zammad_and_helpscout_signatures_use_hmac_sha1():
    import base64
    import hashlib
    import hmac

    digest = hmac.new(b"k", b"{}", hashlib.sha1)
    assert zammad.signature("k", b"{}") == "sha1=" + digest.hexdigest()
    assert helpscout.signature("k", b"{}") == base64.b64encode(digest.digest()).decode()


def test_freshdesk_basic_password_is_read_from_the_header():
    assert freshdesk.basic_password({"Authorization": "Basic Y3hyOnMzY3JldDpwYXJ0"}) == "s3cret:part"
    assert freshdesk.basic_password({"Authorization": "Bearer x"}) is None
    assert freshdesk.basic_password({"Authorization": "Basic !!!"}) is None


def test_delivery_without_an_id_is_named_by_event_ticket_and_time():
    assert base.fallback_delivery_id("convo.status", "12", "2026-11-21T08:00:00Z", b"{}") == (
        "convo.status:12:2026-11-21T08:00:00Z"
    )
    first = base.fallback_delivery_id("x", "1", None, b'{"a": 1}')
    assert first == base.fallback_delivery_id("x", "1", None, b'{"a": 1}')
    assert first != base.fallback_delivery_id("x", "1", None, b'{"a": 2}')


def test_unrendered_placeholders_are_not_values():
    assert base.text("{{ticket.requester.id}}") is None
    assert base.id_text(" {{ticket.id}} ") is None
    assert base.text("a {{b}} c") == "a {{b}} c"


def test_zendesk_trigger_without_a_rating_yet_carries_no_satisfaction():
    payload = {"event": "trigger", "ticket": {"id": "5", "title": "t", "satisfaction": "Offered",
                                              "requester": {"id": "9"}}}

    assert zendesk.parse(payload, {}).satisfaction is None
    payload["ticket"]["satisfaction"] = "Bad"
    assert zendesk.parse(payload, {}).satisfaction == "Bad"
