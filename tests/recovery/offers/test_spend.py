"""The spend report against numbers worked out by hand, on the page, in the API and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from recovery.models import Offer
from recovery.offers import selectors, services
from tests.recovery.offers_factories import complaint, gesture
from tickets.actors import ActorRef

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def spend_book(agent, lead, senior):
    """This month: five offers; last month: one.

    | offer | cause   | asked | what happened                               | approved by |
    | A     | ignored |   5   | approved at once                            | frontline   |
    | B     | ignored | 300   | waiting for a manager                       | —           |
    | C     | pricing | 120   | a lead approved, fulfilled                  | lead        |
    | D     | pricing | 400   | a manager approved 250 instead, declined    | manager     |
    | E     | ignored |  80   | a lead rejected                             | —           |
    | F     | pricing |  14   | last month: approved at once, fulfilled     | frontline   |
    """
    ignored, pricing, old = complaint(cause="ignored"), complaint(cause="pricing"), complaint(cause="pricing")
    g = gesture("spend_gesture", title="Spend gesture", cost=D("5.00"))
    a = ActorRef(user=agent)

    def offer(case, cost):
        return services.offer_create(complaint=case, gesture=g, actor=a, cost=D(cost))

    offer(ignored, "5.00")
    services.offer_create(complaint=ignored, gesture=gesture("spend_b"), actor=a, cost=D("300.00"))
    c = offer(pricing, "120.00")
    services.approval_decide(approval=c.approval_requests.get(), decision="approve", actor=ActorRef(user=lead))
    services.offer_fulfil(offer=c, actor=a)
    d = services.offer_create(complaint=pricing, gesture=gesture("spend_d"), actor=a, cost=D("400.00"))
    services.approval_decide(
        approval=d.approval_requests.get(),
        decision="approve",
        amount=D("250.00"),
        note="less",
        actor=ActorRef(user=senior),
    )
    services.offer_decline(offer=d, actor=a)
    e = services.offer_create(complaint=ignored, gesture=gesture("spend_e"), actor=a, cost=D("80.00"))
    services.approval_decide(
        approval=e.approval_requests.get(), decision="reject", note="no", actor=ActorRef(user=lead)
    )
    f = offer(old, "14.00")
    services.offer_fulfil(offer=f, actor=a)
    last_month = selectors.month_start(timezone.now()) - timedelta(days=1)
    Offer.objects.filter(pk=f.pk).update(created_at=last_month)
    return last_month


def _row(rows, month):
    return next(r for r in rows if r["month"] == selectors.month_start(month).date())


def test_spend_by_month_matches_the_hand_count(spend_book):
    rows = selectors.spend_by_month(months=12)

    this = _row(rows, timezone.now())
    assert {k: this[k] for k in ("offered", "approved", "rejected", "waiting", "fulfilled", "declined")} == {
        "offered": 5,
        "approved": 3,
        "rejected": 1,
        "waiting": 1,
        "fulfilled": 1,
        "declined": 1,
    }
    assert (this["committed_cost"], this["fulfilled_cost"], this["waiting_cost"]) == (
        D("125.00"),
        D("120.00"),
        D("300.00"),
    )
    last = _row(rows, spend_book)
    assert (last["offered"], last["approved"], last["fulfilled"], last["committed_cost"]) == (1, 1, 1, D("14.00"))
    assert [r["month"] for r in rows] == sorted((r["month"] for r in rows), reverse=True)


def test_spend_breakdown_by_tier_cause_and_gesture_matches_the_hand_count(spend_book):
    breakdown = selectors.spend_breakdown(month=timezone.now())

    by_tier = [(r["approved_tier"], r["approved"], r["committed_cost"]) for r in breakdown["by_tier"]]
    assert by_tier == [("frontline", 1, D("5.00")), ("lead", 1, D("120.00")), ("manager", 1, D("0.00"))]
    by_cause = {
        r["complaint__cause"]: (r["offered"], r["approved"], r["committed_cost"]) for r in breakdown["by_cause"]
    }
    assert by_cause == {"ignored": (3, 1, D("5.00")), "pricing": (2, 2, D("120.00"))}
    top = breakdown["by_gesture"][0]
    assert (top["gesture__code"], top["offered"], top["committed_cost"]) == ("spend_gesture", 2, D("125.00"))


def test_spend_is_three_aggregate_queries_whatever_the_volume(spend_book, django_assert_num_queries):
    with django_assert_num_queries(1):
        selectors.spend_by_month(months=12)
    with django_assert_num_queries(3):
        selectors.spend_breakdown(month=timezone.now())


def test_spend_page_and_api_show_the_same_numbers(spend_book, client, senior):
    client.force_login(senior)

    page = client.get("/spend/")
    api = client.get("/api/v1/spend/").json()

    assert page.status_code == 200
    html = page.content.decode()
    assert "GBP 125.00" in html and "GBP 300.00" in html
    this = api["months"][0]
    assert (this["offered"], this["approved"], this["committed_cost"]) == (5, 3, "125.00")
    assert api["breakdown"]["month"] == timezone.localtime().strftime("%Y-%m")
    last = client.get("/spend/", {"month": spend_book.strftime("%Y-%m")}).content.decode()
    assert "GBP 14.00" in last


def test_spend_page_links_to_its_csv(spend_book, client, senior):
    client.force_login(senior)

    html = client.get("/spend/").content.decode()

    assert 'href="/spend/csv/"' in html and "Download CSV" in html


def test_spend_csv_has_the_rows_of_the_page_as_plain_numbers(spend_book, client, senior):
    client.force_login(senior)

    response = client.get("/spend/csv/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    first, last = selectors.spend_window(months=12)
    assert response["Content-Disposition"] == (
        f'attachment; filename="cx-recovery-spend-{first:%Y-%m}-to-{last:%Y-%m}.csv"'
    )
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [
        "Month", "Currency", "Offered", "Approved", "Rejected", "Waiting", "Fulfilled", "Declined", "Withdrawn",
        "Committed cost", "Fulfilled cost", "Waiting cost",
    ]  # fmt: skip
    assert rows[1:] == [
        [f"{timezone.localtime():%Y-%m}", "GBP", "5", "3", "1", "1", "1", "1", "0", "125.00", "120.00", "300.00"],
        [f"{spend_book:%Y-%m}", "GBP", "1", "1", "0", "0", "1", "0", "0", "14.00", "14.00", "0.00"],
    ]
    page = client.get("/spend/").content.decode()
    assert page.count("<tr data-month=") == len(rows) - 1
    assert all(f'data-month="{row[0]}"' in page for row in rows[1:])


def test_spend_csv_reads_the_offers_in_one_aggregate_query(spend_book, client, senior):
    client.force_login(senior)
    client.get("/spend/csv/")

    with CaptureQueriesContext(connection) as queries:
        client.get("/spend/csv/")

    assert len([q for q in queries if "recovery_offer" in q["sql"]]) == 1


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 302), ("outsider", 403), ("agent", 403), ("lead", 403), ("senior", 200), ("executive", 200)],
)
def test_spend_csv_has_the_role_check_of_the_page(request, client, who, expected):
    if who != "anonymous":
        client.force_login(request.getfixturevalue(who))

    response = client.get("/spend/csv/")

    assert response.status_code == expected
    if expected == 302:
        assert response["Location"].startswith("/accounts/login/?next=/spend/csv/")
    else:
        assert (response["Content-Type"] == "text/csv; charset=utf-8") == (expected == 200)


def test_withdrawn_offers_are_not_spent_and_are_counted_apart(agent):
    case, a = complaint(), ActorRef(user=agent)
    after_approval = services.offer_create(complaint=case, gesture=gesture("w_after"), actor=a, cost=D("20.00"))
    while_waiting = services.offer_create(complaint=case, gesture=gesture("w_waiting"), actor=a, cost=D("300.00"))
    for offer in (after_approval, while_waiting):
        services.offer_withdraw(offer=offer, actor=a)

    this = selectors.spend_by_month(months=1)[0]
    breakdown = selectors.spend_breakdown(month=timezone.now())

    assert {k: this[k] for k in ("offered", "approved", "waiting", "withdrawn")} == {
        "offered": 2, "approved": 1, "waiting": 0, "withdrawn": 2,
    }  # fmt: skip
    assert (this["committed_cost"], this["fulfilled_cost"], this["waiting_cost"]) == (D("0"), D("0"), D("0"))
    assert [(r["approved_tier"], r["approved"], r["committed_cost"]) for r in breakdown["by_tier"]] == [
        ("frontline", 1, D("0.00"))
    ]


def test_spend_tables_scroll_in_focusable_labelled_regions(spend_book, client, senior):
    client.force_login(senior)

    html = client.get("/spend/").content.decode()

    for label in ("Spend in the last twelve months", "Spend by cause this month", "Spend by gesture this month"):
        assert f'<div class="off-wrap" tabindex="0" role="region" aria-label="{label}">' in html
    assert '<div class="off-wrap">' not in html
