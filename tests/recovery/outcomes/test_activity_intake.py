"""Activity intake: validation, bulk customer resolution, replays, and queued window closing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from recovery.models import CustomerActivity, OutcomeWindow
from recovery.outcomes import services
from tests.factories import CustomerFactory
from tests.recovery.outcomes_factories import make_resolved_complaint, open_outcome, states
from tickets.models import Customer, CustomerReference
from tickets.services import customers as ticket_customers

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 5, 1, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=5)


def item(n: int = 1, **overrides) -> dict:
    data = {
        "source": "shop",
        "external_id": f"order-{n}",
        "kind": "purchase",
        "occurred_at": (T0 + timedelta(days=1)).isoformat(),
        "amount": "19.99",
        "currency": "GBP",
        "customer": {"external_id": f"cust-{n}"},
    }
    data.update(overrides)
    return data


# --- Parsing --------------------------------------------------------------------------------------


def test_parse_accepts_nested_and_flat_customer():
    nested = services.activity_input_parse(item(customer={"email": " Ann@Example.com ", "external_id": "A1"}), now=NOW)
    flat = services.activity_input_parse(
        {**item(), "customer": None, "customer_email": "ann@example.com", "customer_external_id": "A1", "customer_source": "crm"},
        now=NOW,
    )

    assert (nested.customer_email, nested.customer_external_id, nested.customer_source) == ("ann@example.com", "A1", "shop")
    assert (flat.customer_email, flat.customer_external_id, flat.customer_source) == ("ann@example.com", "A1", "crm")


def test_parse_defaults_amount_and_currency(settings):
    settings.DEFAULT_CURRENCY = "EUR"

    parsed = services.activity_input_parse(item(amount=None, currency=""), now=NOW)

    assert (parsed.amount, parsed.currency) == (Decimal("0.00"), "EUR")


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"kind": "refund"}, "kind", "Choose one of: purchase, visit, booking, renewal, gesture_redemption."),
        ({"occurred_at": "yesterday"}, "occurred_at", "Not a date and time; use ISO 8601, e.g. 2025-03-01T14:30:00Z."),
        ({"occurred_at": None}, "occurred_at", "Give the time it happened, e.g. 2025-03-01T14:30:00Z."),
        ({"occurred_at": "2025-05-06T09:06:00Z"}, "occurred_at", "This is in the future; give the time the activity happened."),
        ({"amount": "-5"}, "amount", "Amounts cannot be negative; a refund is not a return."),
        ({"amount": "abc"}, "amount", "Give the amount as a number, e.g. 45.90."),
        ({"amount": "1.001"}, "amount", "Use at most 10 digits before and 2 after the decimal point."),
        ({"currency": "pounds"}, "currency", "Use a three-letter ISO currency code such as GBP."),
        ({"source": ""}, "source", "Name the system that reported it, for example 'shopify'."),
        ({"source": "my shop"}, "source", "Use up to 50 letters, digits and . _ : - only."),
        ({"external_id": ""}, "external_id", "Give the activity's id in your system, so a replay is recognised."),
        ({"customer": {}}, "customer", "Say whose activity it is: give the customer's external_id or email."),
        ({"customer": {"email": "not-an-email"}}, "customer.email", "Enter a valid email address, like name@example.com (at most 64 characters before the @)."),
        ({"customer": "C-1"}, "customer", "Send the customer as an object with external_id and/or email."),
    ],
)
def test_parse_rejects_bad_fields_with_a_message_for_people(overrides, field, message):
    with pytest.raises(services.ActivityInvalid) as raised:
        services.activity_input_parse(item(**overrides), now=NOW)

    assert raised.value.errors[field] == [message]


def test_parse_reports_every_bad_field_at_once():
    with pytest.raises(services.ActivityInvalid) as raised:
        services.activity_input_parse({"kind": "x"}, now=NOW)

    assert set(raised.value.errors) == {"source", "external_id", "kind", "occurred_at", "customer"}


def test_parse_rejects_an_item_that_is_not_an_object():
    with pytest.raises(services.ActivityInvalid) as raised:
        services.activity_input_parse(["purchase"], now=NOW)

    assert raised.value.errors == {"non_field_errors": ["Each event must be a JSON object."]}


# --- Storing --------------------------------------------------------------------------------------


def test_intake_keeps_good_items_and_reports_bad_ones_by_index():
    items = [item(1), item(2, kind="refund"), item(3), item(4, occurred_at="soon")]

    result = services.activity_intake(items=items, now=NOW)

    assert (result.accepted, result.duplicates) == (2, 0)
    assert [(r.index, list(r.errors)) for r in result.rejected] == [(1, ["kind"]), (3, ["occurred_at"])]
    assert set(CustomerActivity.objects.values_list("external_id", flat=True)) == {"order-1", "order-3"}


def test_intake_replay_adds_nothing():
    items = [item(n) for n in range(1, 6)]
    services.activity_intake(items=items, now=NOW)

    replay = services.activity_intake(items=items, now=NOW)

    assert (replay.accepted, replay.duplicates) == (0, 5)
    assert CustomerActivity.objects.count() == 5
    assert Customer.objects.count() == 5


def test_intake_counts_a_repeat_inside_one_batch_as_duplicate():
    result = services.activity_intake(items=[item(1), item(1, amount="99.00")], now=NOW)

    assert (result.accepted, result.duplicates) == (1, 1)
    assert CustomerActivity.objects.get().amount == Decimal("19.99")


def test_intake_treats_the_same_external_id_from_another_source_as_new():
    services.activity_intake(items=[item(1)], now=NOW)

    result = services.activity_intake(items=[item(1, source="pos")], now=NOW)

    assert result.accepted == 1


def test_intake_finds_customers_by_reference_then_email_else_creates_them():
    by_ref = CustomerFactory(email="ref@example.com")
    CustomerReference.objects.create(customer=by_ref, source="shop", external_id="R-1")
    by_email = CustomerFactory(email="mail@example.com")

    services.activity_intake(
        items=[
            item(1, customer={"external_id": "R-1", "email": "someone-else@example.com"}),
            item(2, customer={"email": "MAIL@example.com", "external_id": "NEW-9"}),
            item(3, customer={"external_id": "NEW-1"}),
            item(4, customer={"external_id": "NEW-1", "email": "new@example.com"}),
            item(5, customer={"email": "new@example.com"}),
        ],
        now=NOW,
    )

    owner = dict(CustomerActivity.objects.values_list("external_id", "customer_id"))
    assert owner["order-1"] == by_ref.pk
    assert owner["order-2"] == by_email.pk
    assert owner["order-3"] == owner["order-4"] == owner["order-5"]
    created = Customer.objects.get(pk=owner["order-3"])
    assert created.email == "new@example.com"
    assert CustomerReference.objects.get(source="shop", external_id="NEW-9").customer == by_email
    assert CustomerReference.objects.get(source="shop", external_id="NEW-1").customer == created
    assert Customer.objects.count() == 3


def test_intake_uses_customer_source_for_the_reference():
    known = CustomerFactory()
    CustomerReference.objects.create(customer=known, source="crm", external_id="C-77")

    services.activity_intake(items=[item(1, customer={"external_id": "C-77", "source": "crm"})], now=NOW)

    assert CustomerActivity.objects.get().customer == known


def test_intake_of_a_full_batch_takes_a_fixed_number_of_queries(django_assert_max_num_queries):
    items = [item(n, customer={"external_id": f"cust-{n % 400}", "email": f"c{n % 400}@example.com"}) for n in range(1000)]

    # A dozen statements on PostgreSQL (one more per source: the advisory lock that makes concurrent replays
    # count right; one more for the metrics rollup's mark, none here); SQLite splits each bulk INSERT by its
    # limit on query parameters.
    with django_assert_max_num_queries(14 if connection.vendor == "postgresql" else 30):
        result = services.activity_intake(items=items, now=NOW)

    assert result.accepted == 1000
    assert Customer.objects.count() == 400
    assert CustomerReference.objects.count() == 400


def test_intake_refuses_more_than_a_thousand_items():
    with pytest.raises(ValueError):
        services.activity_intake(items=[item(n) for n in range(1001)], now=NOW)


def test_intake_queues_closing_only_for_customers_with_outcomes(django_capture_on_commit_callbacks):
    complaint = make_resolved_complaint(resolved_at=T0)
    outcome = open_outcome(complaint, now=T0)
    watched = item(1, customer={"email": complaint.customer.email})
    unwatched = item(2, customer={"email": "browser@example.com"})

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.activity_intake(items=[watched, unwatched], now=NOW)

    assert len(callbacks) == 1
    assert states(outcome) == {30: "returned", 60: "returned", 90: "returned"}
    assert OutcomeWindow.objects.filter(outcome=outcome, returned_at=T0 + timedelta(days=1)).count() == 3


def test_intake_redemption_is_stored_but_does_not_close(django_capture_on_commit_callbacks):
    complaint = make_resolved_complaint(resolved_at=T0)
    outcome = open_outcome(complaint, now=T0)

    with django_capture_on_commit_callbacks(execute=True):
        result = services.activity_intake(
            items=[item(1, kind="gesture_redemption", customer={"email": complaint.customer.email})], now=NOW
        )

    assert result.accepted == 1
    assert states(outcome) == {30: "pending", 60: "pending", 90: "pending"}


def test_intake_resolves_a_batch_as_one_by_one_would():
    known = CustomerFactory(email="known@example.com")

    services.activity_intake(
        items=[
            item(1, customer={"external_id": "X", "email": "known@example.com"}),  # attaches X to the known customer
            item(2, customer={"external_id": "X", "email": "other@example.com"}),  # X is known now: same customer
            item(3, customer={"external_id": "Y", "email": "new@example.com"}),
            item(4, customer={"external_id": "Y"}),
            item(5, customer={"email": "new@example.com", "external_id": "Z"}),
        ],
        now=NOW,
    )

    owner = dict(CustomerActivity.objects.values_list("external_id", "customer_id"))
    assert owner["order-1"] == owner["order-2"] == known.pk
    assert owner["order-3"] == owner["order-4"] == owner["order-5"] != known.pk
    assert not Customer.objects.filter(email="other@example.com").exists()
    assert set(CustomerReference.objects.filter(customer_id=owner["order-3"]).values_list("external_id", flat=True)) == {"Y", "Z"}


def test_intake_falls_back_to_one_by_one_when_a_concurrent_request_created_a_customer_first():
    from unittest import mock

    with mock.patch.object(ticket_customers, "_customers_create", return_value=None):
        services.activity_intake(
            items=[item(1, customer={"external_id": "A", "email": "a@example.com"}), item(2, customer={"external_id": "A"})],
            now=NOW,
        )

    owner = dict(CustomerActivity.objects.values_list("external_id", "customer_id"))
    assert owner["order-1"] == owner["order-2"] == Customer.objects.get(email="a@example.com").pk
    assert CustomerReference.objects.get(external_id="A").customer_id == owner["order-1"]
