"""The agent's day in a real browser: sign in, log a complaint (one failed validation first), find it in the
queue with a filter, open it, add a note, change its status, sign out. Takes the README screenshots
(written to docs/screenshots/ with CX_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import io
import os
import re

import pytest
from django.core.management import call_command

from tests.e2e.conftest import SCREENSHOTS
from tickets.models import Comment, Complaint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SUBJECT = "Gift card rejected at the till, twice"
DESCRIPTION = "Hannah tried to pay with the gift card we sent after her last complaint. The till refused it twice, in front of a queue."


def seed_demo() -> None:
    """The demo `make run` loads: users, 100 live complaints in a real mix and recovery's replay of them (graded as of
    when they were logged, leads' acknowledgements, a year of history), so the screenshots show a real morning."""
    call_command("seed_demo", quiet_users=True, stdout=io.StringIO())
    call_command("seed_recovery_demo", stdout=io.StringIO())


def sign_in(page, username: str = "agent", password: str = "agent-demo-pass") -> None:
    page.goto("/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_agent_journey_in_chromium(desktop_page, tmp_path):
    from playwright.sync_api import expect

    page = desktop_page
    # The README's screenshots are renewed on request only, so a test run leaves the tree clean.
    shots = SCREENSHOTS if os.environ.get("CX_UPDATE_SCREENSHOTS") else tmp_path
    seed_demo()

    # Sign in as the demo agent: "/" leads to the queue.
    sign_in(page)
    page.wait_for_url(re.compile(r"/complaints/$"))
    expect(page).to_have_title(re.compile(r"^Queue"))
    expect(page.locator("table.queue tbody tr").first).to_be_visible()
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    page.screenshot(path=str(shots / "queue.png"))

    # Log a complaint: an existing customer is offered while typing the email.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log complaint").click()
    expect(page).to_have_title(re.compile(r"^Log a complaint"))
    page.get_by_label("Customer email").press_sequentially("hannah.m", delay=30)
    suggestion = page.locator("[data-fill-email='hannah.moore@example.com']")
    expect(suggestion).to_be_visible()
    suggestion.click()
    expect(page.locator(".lookup-status.found")).to_contain_text("Existing customer: Hannah Moore")

    # First attempt: a subject of only spaces passes the browser but not the server.
    page.get_by_label("Subject").fill("   ")
    page.get_by_label("Cause").select_option("product_quality")
    page.get_by_label("Channel").select_option("in_person")
    page.get_by_label("4 · very serious").check()
    page.get_by_label("What happened").fill(DESCRIPTION)
    page.get_by_label("Customer's monetary loss").fill("50")
    page.get_by_label("Says they won't come back").check()
    page.get_by_role("button", name="Save complaint").click()

    expect(page.locator(".error-summary")).to_contain_text("The complaint was not saved yet")
    expect(page.locator("#id_subject_error")).to_have_text("Write a one-line subject.")
    expect(page.get_by_label("What happened")).to_have_value(DESCRIPTION)
    expect(page.get_by_label("Customer email")).to_have_value("hannah.moore@example.com")
    expect(page.get_by_label("4 · very serious")).to_be_checked()
    assert Complaint.objects.filter(description=DESCRIPTION).count() == 0

    page.get_by_label("Subject").fill(SUBJECT)
    page.get_by_role("button", name="Save complaint").click()
    page.wait_for_url(re.compile(r"/complaints/CX-\d+/$"))
    complaint = Complaint.objects.get(subject=SUBJECT)
    assert (complaint.source, complaint.channel, complaint.customer.email) == ("web", "in_person", "hannah.moore@example.com")
    expect(page.get_by_role("heading", level=1)).to_contain_text(SUBJECT)
    expect(page.locator("#flash")).to_contain_text(f"{complaint.reference} logged")

    # Find it in the queue with a filter: the list refreshes in place and the URL keeps the filter.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Queue").click()
    page.get_by_text("More filters").click()
    page.get_by_label("Cause").select_option("product_quality")
    page.wait_for_url(re.compile(r"cause=product_quality"))
    page.get_by_label("Search").fill("gift card")
    page.wait_for_url(re.compile(r"q=gift"))
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(1)
    assert "status=" not in page.url  # empty filters are left out of the bookmarkable URL
    page.get_by_role("link", name=complaint.reference).click()

    # Open it, add a note (in place), change its status (in place).
    page.wait_for_url(re.compile(rf"/complaints/{complaint.reference}/$"))
    page.get_by_label("Text").fill("   ")  # refused by the server, answered in place
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#id_body_error")).to_have_text("Write something before saving.")
    page.get_by_label("Text").fill("Called Hannah: new card posted today with a handwritten apology.")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".comments")).to_contain_text("new card posted today")
    expect(page.locator("#flash")).to_contain_text("Note added.")
    page.get_by_role("button", name="Assign to me").click()
    expect(page.locator(".assignee")).to_have_text("You")
    page.get_by_role("button", name="Start work").click()
    expect(page.locator(".complaint-head .status-in_progress")).to_have_text("In progress")
    expect(page.locator("#flash")).to_contain_text("is now in progress")
    expect(page.locator(".timeline li").first).to_contain_text("Status new → in progress")
    complaint.refresh_from_db()
    assert (complaint.status, complaint.assignee.username) == ("in_progress", "agent")
    assert Comment.objects.filter(complaint=complaint, kind="note").count() == 1
    page.locator("#flash").evaluate("el => el.innerHTML = ''")  # the screenshot shows the page, not the toast
    page.set_viewport_size({"width": 1280, "height": 1500})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / "complaint.png"))

    # Sign out: the desk is closed again.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.goto("/complaints/")
    page.wait_for_url(re.compile(r"/accounts/login/\?next=/complaints/"))

    assert page.watch.problems == [], page.watch.problems


def test_queue_and_complaint_fit_a_phone_screen(phone_page):
    from playwright.sync_api import expect

    page = phone_page
    seed_demo()
    sign_in(page)
    page.wait_for_url(re.compile(r"/complaints/$"))
    expect(page.locator("table.queue tbody tr").first).to_be_visible()

    def fits(name: str) -> bool:
        if os.environ.get("CX_E2E_SHOTS"):  # a folder for phone screenshots while working on the layout
            page.screenshot(path=os.path.join(os.environ["CX_E2E_SHOTS"], f"phone-{name}.png"), full_page=True)
        return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    assert fits("queue"), "the queue scrolls sideways at 390px"
    page.locator("table.queue tbody tr a.ref").first.click()
    page.wait_for_url(re.compile(r"/complaints/CX-\d+/$"))
    expect(page.get_by_role("heading", name="Customer", exact=True)).to_be_visible()
    assert fits("complaint"), "the complaint page scrolls sideways at 390px"
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Log complaint").click()
    assert fits("form"), "the form scrolls sideways at 390px"

    # Keyboard: the skip link is the first stop and moves focus to the content.
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    assert page.watch.problems == [], page.watch.problems
