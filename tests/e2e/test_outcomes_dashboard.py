"""The outcome dashboard in a real Chromium: an executive sees its charts and tables (also on a phone);
an agent is refused; a visitor is sent to sign in."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from recovery.models import SuggestionLog
from tests.e2e.conftest import sign_in
from tests.factories import UserFactory
from tests.recovery.outcomes_factories import add_activity, make_gesture, make_resolved_complaint, open_outcome

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDEST = """Array.from(document.querySelectorAll('body *'))
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).slice(0, 8)
  .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""



def seed_outcomes() -> None:
    """Six customers offered a gesture (four came back) over three months, four not offered (one came back).

    The first offer of each gesture was suggested first by a logged random draw (chance 0.5)."""
    anchor = timezone.now() - timedelta(days=100)
    note, call = make_gesture("handwritten_note"), make_gesture("exec_call", cost="150.00")
    for index in range(6):
        resolved = anchor - timedelta(days=31 * (index % 3))
        gesture = note if index % 2 else call
        complaint = make_resolved_complaint(resolved_at=resolved, fulfilled_at=resolved, gesture=gesture)
        if index < 4:
            add_activity(complaint.customer, resolved + timedelta(days=3 + index))
        if index < 2:
            SuggestionLog.objects.create(
                complaint=complaint, gesture=gesture, rank=1, score=80.0, propensity=0.5, randomised=True
            )
        open_outcome(complaint)
    for index in range(4):
        complaint = make_resolved_complaint(resolved_at=anchor - timedelta(days=31 * (index % 3)))
        if index == 0:
            add_activity(complaint.customer, complaint.resolved_at + timedelta(days=10))
        open_outcome(complaint)


def test_dashboard_draws_charts_and_tables_for_an_executive(desktop_page):
    from playwright.sync_api import expect

    page = desktop_page
    seed_outcomes()
    UserFactory(username="exec_erin", role="executive")

    sign_in(page, "exec_erin")
    response = page.goto("/dashboard/")

    assert response.status == 200
    expect(page).to_have_title(re.compile(r"^Outcomes"))
    headline = page.locator('svg[data-chart="headline"]')
    expect(headline).to_be_visible()
    expect(headline.locator("rect.bar")).to_have_count(6)  # two groups with data, in each of three windows
    assert "Offered a gesture: 67% came back (4 of 6" in headline.locator("rect.bar title").first.text_content()
    expect(page.locator('svg[data-chart="trend"] circle').first).to_be_visible()
    expect(page.locator('svg[data-chart="gestures"] rect.bar')).to_have_count(2)
    expect(page.locator('[data-testid="headline-table"] tbody tr')).to_have_count(3)
    expect(page.locator('[data-testid="gesture-table"] tbody tr')).to_have_count(2)
    expect(page.locator('[data-testid="headline"]')).to_contain_text("Offered a gesture")
    # The table behind the trend chart opens on demand.
    page.get_by_text("The same as a table").click()
    expect(page.locator('[data-testid="trend-table"]')).to_be_visible()
    # Choosing another window redraws the headline for it.
    page.get_by_label("Window", exact=True).select_option("30")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#h-headline")).to_contain_text("Came back within 30 days")
    assert page.watch.problems == []


def test_dashboard_flags_thin_cells_and_labels_randomised_and_observational_comparisons(desktop_page):
    from playwright.sync_api import expect

    page = desktop_page
    seed_outcomes()
    UserFactory(username="exec_honest", role="executive")

    sign_in(page, "exec_honest")
    page.goto("/dashboard/")

    # Words a manager can trust: a difference, who came back, and the observational caveat.
    expect(page.get_by_test_id("caveat")).to_contain_text("observational")
    expect(page.get_by_test_id("headline")).to_contain_text("Difference, offered − not offered")
    body = page.locator("body").inner_text()
    assert "Uplift" not in body and "than without recovery" not in body
    # Every rate rests on fewer than 30 customers here: each is flagged, none is called clear.
    gesture_rows = page.locator('[data-testid="gesture-table"] tbody tr')
    expect(gesture_rows).to_have_count(2)
    for index in range(2):
        expect(gesture_rows.nth(index).locator("[data-thin]")).to_have_text("too few to tell")
        expect(gesture_rows.nth(index)).to_have_class("oc-row-thin")
    expect(page.locator('[data-testid="headline-table"] [data-thin]').first).to_be_visible()
    assert " clear" not in page.get_by_test_id("headline-table").inner_text().replace("not clear", "")
    # No clear difference, so no cost per extra return — and the page says why.
    expect(page.get_by_test_id("cost-per-extra")).to_contain_text("not shown: the difference is not clear")
    # Which comparisons are randomised and which are not.
    expect(page.locator("#h-randomised .oc-label.randomised")).to_have_text("Randomised")
    expect(page.locator("#h-gestures .oc-label.observational")).to_have_text("Observational")
    expect(page.locator("#h-breakdowns .oc-label.observational")).to_have_text("Observational")
    randomised_rows = page.locator('[data-testid="randomised-table"] tbody tr')
    expect(randomised_rows).to_have_count(2)
    expect(randomised_rows.first).to_contain_text("too few to tell")
    assert page.watch.problems == []


def test_dashboard_fits_a_phone_screen(phone_page):
    page = phone_page
    seed_outcomes()
    UserFactory(username="exec_phone", role="executive")

    sign_in(page, "exec_phone")
    page.goto("/dashboard/")

    overflow = page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, page.evaluate(WIDEST)
    assert page.locator('svg[data-chart="headline"]').bounding_box()["width"] <= 390
    assert page.watch.problems == []


def test_dashboard_refuses_an_agent(desktop_page):
    page = desktop_page
    UserFactory(username="agent_alice", role="agent")

    sign_in(page, "agent_alice")
    response = page.goto("/dashboard/")

    assert response.status == 403
    assert page.locator('svg[data-chart="headline"]').count() == 0


def test_dashboard_sends_a_visitor_to_sign_in(desktop_page):
    page = desktop_page

    page.goto("/dashboard/")

    assert re.search(r"/accounts/login/\?next=/dashboard/$", page.url)
