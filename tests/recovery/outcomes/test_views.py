"""Browser pages: /dashboard/ (managers and executives) and /customers/<id>/ (support staff)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from recovery.outcomes.charts import gesture_chart, headline_chart, trend_chart
from recovery.outcomes.metrics import rate
from tests.factories import ComplaintFactory, CustomerFactory
from tests.recovery.outcomes_factories import add_activity, make_gesture, make_resolved_complaint, open_outcome
from tickets.models import Grade, Status

pytestmark = pytest.mark.django_db

DASHBOARD = "/dashboard/"


def test_dashboard_url_names():
    assert reverse("recovery:dashboard") == DASHBOARD
    assert reverse("recovery:customer", args=[12]) == "/customers/12/"


@pytest.fixture
def history():
    """A customer offered a gesture who came back and one not offered one who did not, both long settled."""
    anchor = timezone.now() - timedelta(days=120)
    gesture = make_gesture("exec_call", cost="90.00")
    back = make_resolved_complaint(resolved_at=anchor, fulfilled_at=anchor, gesture=gesture, cost="90.00")
    add_activity(back.customer, anchor + timedelta(days=5), amount="120.00")
    open_outcome(back)
    gone = make_resolved_complaint(resolved_at=anchor)
    open_outcome(gone)
    return back, gone


@pytest.mark.parametrize("who", ["senior", "executive"])
def test_dashboard_shows_rates_charts_and_tables_to_managers_and_executives(client, request, history, who):
    client.force_login(request.getfixturevalue(who))

    response = client.get(DASHBOARD)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-chart="headline"' in html and 'data-chart="trend"' in html and 'data-chart="gestures"' in html
    assert 'data-testid="headline-table"' in html and 'data-testid="gesture-table"' in html
    selected = response.context["selected"]
    assert (selected["days"], selected["offered"]["returned"], selected["offered"]["customers"]) == (60, 1, 1)
    assert selected["not_offered"]["customers"] == 1 and selected["not_offered"]["returned"] == 0
    assert "Exec call" in html
    assert "Offered a gesture: 100% came back (1 of 1; 95% interval 21%–100%) — too few to tell" in html
    assert "observational" in html and 'data-testid="randomised-table"' in html
    assert "Uplift from" not in html and "than without recovery" not in html


def test_dashboard_refuses_an_agent(client, agent):
    client.force_login(agent)

    assert client.get(DASHBOARD).status_code == 403


@pytest.mark.parametrize("who", ["lead", "outsider"])
def test_dashboard_refuses_leads_and_people_without_a_role(client, request, who):
    client.force_login(request.getfixturevalue(who))

    assert client.get(DASHBOARD).status_code == 403


def test_dashboard_sends_anonymous_visitors_to_sign_in(client):
    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_dashboard_filters_by_window_and_shows_bad_filters(client, executive, history):
    client.force_login(executive)

    assert client.get(DASHBOARD, {"window": 30}).context["selected"]["days"] == 30
    response = client.get(DASHBOARD, {"month_from": "March"})
    assert response.status_code == 200
    assert "Write a month as YYYY-MM" in response.content.decode()
    assert response.context["selected"]["days"] == 60


def test_dashboard_lists_open_ugly_cases_and_overdue_complaints(client, executive):
    now = timezone.now()
    ugly = ComplaintFactory(grade=Grade.UGLY, subject="Roof collapsed after fourth repair")
    ComplaintFactory(grade=Grade.UGLY, status=Status.RESOLVED, subject="An ugly case already resolved")
    late = ComplaintFactory(subject="Nobody answered", response_due_at=now - timedelta(hours=3))
    ComplaintFactory(subject="Answered in time", response_due_at=now - timedelta(hours=3), first_response_at=now)
    client.force_login(executive)

    html = client.get(DASHBOARD).content.decode()

    assert ugly.subject in html and "An ugly case already resolved" not in html
    assert late.subject in html and "first response was due" in html
    assert "Answered in time" not in html


def test_dashboard_query_count_does_not_grow_with_outcomes(client, executive, settings):
    settings.METRICS_CACHE_SECONDS = 0
    client.force_login(executive)

    def queries_with(more: int) -> int:
        for _ in range(more):
            open_outcome(make_resolved_complaint(resolved_at=timezone.now() - timedelta(days=100)))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(DASHBOARD).status_code == 200
        return len(queries)

    # given: a few outcomes, then five times as many
    few = queries_with(3)
    many = queries_with(12)

    # then: the same number of queries (aggregates, never a query per outcome)
    assert many == few


# --- Customer page --------------------------------------------------------------------------------


def test_customer_page_shows_each_complaint_with_its_outcome(client, agent, history):
    back, _ = history
    ComplaintFactory(customer=back.customer, subject="Still open one")
    client.force_login(agent)

    response = client.get(reverse("recovery:customer", args=[back.customer_id]))

    html = response.content.decode()
    assert response.status_code == 200
    assert back.reference in html and "Offered <strong>Exec call</strong>" in html
    assert html.count("Returned") >= 3
    assert "Still open: watching starts when it is resolved." in html
    assert "120.00" in html


def test_customer_page_of_someone_who_never_complained(client, agent):
    customer = CustomerFactory()
    add_activity(customer, datetime(2025, 1, 1, tzinfo=UTC))
    client.force_login(agent)

    html = client.get(reverse("recovery:customer", args=[customer.pk])).content.decode()

    assert "never complained" in html


def test_customer_page_is_404_for_unknown_and_403_without_role(client, agent, outsider):
    client.force_login(agent)
    assert client.get("/customers/999999/").status_code == 404
    client.force_login(outsider)
    assert client.get(reverse("recovery:customer", args=[CustomerFactory().pk])).status_code == 403


def test_customer_page_query_count_does_not_grow_with_complaints(client, agent, django_assert_max_num_queries):
    customer = CustomerFactory()
    for _ in range(8):
        open_outcome(make_resolved_complaint(resolved_at=timezone.now() - timedelta(days=10), customer=customer))
    client.force_login(agent)

    with django_assert_max_num_queries(12):
        assert client.get(reverse("recovery:customer", args=[customer.pk])).status_code == 200


# --- Charts (pure) --------------------------------------------------------------------------------


def window(days, offered, not_offered, never):
    return {"days": days, "offered": offered, "not_offered": not_offered, "never_complained": never}


def test_headline_chart_scales_bars_and_whiskers_to_the_rates():
    chart = headline_chart([window(30, rate(3, 4), rate(1, 4), rate(0, 0))], width=240, height=144)

    recovered, unrecovered, never = chart["groups"][0]["bars"]
    plot_top, plot_height = 14, 144 - 14 - 44
    assert recovered["y"] == pytest.approx(plot_top + plot_height * 0.25, abs=0.1)
    assert recovered["h"] == pytest.approx(plot_height * 0.75, abs=0.1)
    assert recovered["low_y"] > recovered["y"] > recovered["high_y"]
    assert unrecovered["label"] == "25%"
    assert never["empty"] is True and never["title"] == "Never complained (context): no settled windows yet"


def test_trend_chart_breaks_the_line_at_months_without_data():
    month = lambda key, r: {"key": key, "label": key, "offered": r, "not_offered": rate(0, 0), "never_complained": rate(0, 0)}  # noqa: E731
    chart = trend_chart([month("a", rate(1, 2)), month("b", rate(2, 2)), month("c", rate(0, 0)), month("d", rate(1, 1)), month("e", rate(0, 1))])

    recovered = chart["lines"][0]
    assert len(recovered["segments"]) == 2
    assert len(recovered["points"]) == 4


def test_gesture_chart_puts_well_measured_gestures_first_and_fades_the_rest():
    chart = gesture_chart([
        {"key": "few", "label": "Few", "offered": rate(3, 3)},
        {"key": "many", "label": "Many", "offered": rate(40, 60)},
    ])

    assert [(row["label"], row["thin"]) for row in chart["rows"]] == [("Many", False), ("Few", True)]
    assert "too few to tell" in chart["rows"][1]["title"]


def test_gesture_chart_has_a_row_per_gesture_with_its_interval():
    chart = gesture_chart([{"key": "g", "label": "A very long gesture title that will not fit", "offered": rate(20, 40)}])

    row = chart["rows"][0]
    assert row["label"].endswith("…") and len(row["label"]) == 28
    assert row["thin"] is False
    assert row["w"] == pytest.approx(chart["plot_w"] * 0.5, abs=0.1)
    assert row["low_x"] < chart["left"] + row["w"] < row["high_x"]
    assert row["n"] == "n=40"


def test_gesture_chart_ranks_one_of_one_below_a_larger_thin_sample():
    chart = gesture_chart([
        {"key": "lucky", "label": "Lucky", "offered": rate(1, 1)},
        {"key": "steady", "label": "Steady", "offered": rate(9, 10)},
    ])

    assert [(row["label"], row["n"]) for row in chart["rows"]] == [("Steady", "n=10"), ("Lucky", "n=1")]


def test_dashboard_tables_are_focusable_labelled_regions_and_cost_cards_say_what_they_count(client, executive, history):
    client.force_login(executive)

    html = client.get(DASHBOARD).content.decode()

    # every scrolling table wrapper can be reached by keyboard (axe scrollable-region-focusable)
    assert html.count('class="oc-table-wrap"') == html.count('class="oc-table-wrap" tabindex="0" role="region" aria-label=')
    assert 'aria-label="Return rate by gesture"' in html
    # chart and table stack so the table gets the full width at 1280 px
    assert html.count("oc-grid oc-chart-table") == 2
    # the two cost figures name what each counts, so they no longer look contradictory
    assert "including customers still being watched" in html
    assert "counting only cases whose 60-day window has ended" in html
