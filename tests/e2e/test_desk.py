"""The desk in Chromium: the page stays put after a note, the urgent queue fits a laptop screen, bulk actions,
macros, the edit-collision message, the resolve confirmation and the shortcuts dialog."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.e2e.conftest import sign_in
from tests.factories import ComplaintFactory, CustomerFactory, UserFactory
from tickets.actors import ActorRef
from tickets.models import Comment, Complaint, Macro
from tickets.services import comment_add, complaint_transition

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def in_viewport(locator) -> bool:
    return locator.evaluate("e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }")


def test_new_note_and_the_save_button_stay_in_view(desktop_page):
    from playwright.sync_api import expect

    page = desktop_page
    agent = UserFactory(username="agent_alice", role="agent")
    complaint = ComplaintFactory(description="A long story. " * 80)
    for i in range(12):
        comment_add(complaint=complaint, kind="note", body=f"Earlier note {i}\n\nwith a second paragraph", actor=ActorRef(user=agent))
    sign_in(page, "agent_alice", next_url=f"/complaints/{complaint.reference}/")

    # given: the note box in the middle of the screen
    box = page.locator("#id_body")
    box.evaluate("e => window.scrollTo(0, e.getBoundingClientRect().top + scrollY - innerHeight / 2)")
    before = page.evaluate("scrollY")
    assert before > 300

    # when
    box.fill("Called the customer back: new fridge on Monday.")
    page.locator("#save-comment").click()

    # then: the note is there, in view, the page did not jump and the button kept focus
    fresh = page.locator(".comment.is-new")
    expect(fresh).to_contain_text("new fridge on Monday")
    page.wait_for_timeout(300)
    assert in_viewport(fresh), "the new note is off-screen after saving"
    assert abs(page.evaluate("scrollY") - before) < 400, "the page jumped after saving a note"
    expect(page.locator("#save-comment")).to_be_focused()
    assert in_viewport(page.locator("#save-comment"))
    assert page.watch.problems == [], page.watch.problems


def test_reply_box_starts_high_on_a_phone(phone_page):
    page = phone_page
    UserFactory(username="agent_alice", role="agent")
    complaint = ComplaintFactory()
    sign_in(page, "agent_alice", next_url=f"/complaints/{complaint.reference}/")
    top = page.locator("#id_body").evaluate("e => e.getBoundingClientRect().top + scrollY")
    assert top < 1400, f"the reply box starts {top:.0f}px down the page"
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")


def test_urgent_queue_fits_a_laptop_screen_and_bulk_acts(browser, live_server):
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=live_server.url, locale="en-GB", timezone_id="UTC")
    page = context.new_page()
    agent = UserFactory(username="agent_alice", role="agent")
    colleague = UserFactory(username="agent_oscar", first_name="Oscar", last_name="Other", role="agent")
    now = timezone.now()
    for i in range(16):
        ComplaintFactory(assignee=agent, grade="bad", response_due_at=now + timedelta(hours=i + 1))
    worst = ComplaintFactory(assignee=agent, grade="ugly", subject="Thirty days ignored", response_due_at=now - timedelta(days=30))
    theirs = ComplaintFactory(assignee=colleague, subject="Oscar's case")
    sign_in(page, "agent_alice")
    page.goto("/complaints/")

    rows = page.locator("table.queue tbody tr")
    expect(rows.first).to_contain_text("Thirty days ignored")  # the most overdue first
    visible = page.evaluate(
        "Array.from(document.querySelectorAll('table.queue tbody tr')).filter(r => r.getBoundingClientRect().bottom <= innerHeight).length"
    )
    assert visible >= 12, f"only {visible} rows fit at 1280x800"
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    expect(page.get_by_label("Sort by")).to_be_visible()
    expect(page.get_by_role("link", name="My open work")).to_have_attribute("aria-current", "page")

    # Bulk: the agent moves their worst case and a colleague's; the colleague's is refused and reported.
    page.goto("/complaints/?view=team")
    page.get_by_label(f"Tick {worst.reference}").check()
    page.get_by_label(f"Tick {theirs.reference}").check()
    expect(page.locator("[data-bulk-count]")).to_have_text("2 ticked:")
    page.get_by_label("Move to").select_option("in_progress")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator("#flash")).to_contain_text(f"Done for 1: {worst.reference}")
    expect(page.locator("#flash")).to_contain_text(f"{theirs.reference} is assigned to Oscar Other")
    assert dict(Complaint.objects.filter(pk__in=[worst.pk, theirs.pk]).values_list("pk", "status")) == {
        worst.pk: "in_progress", theirs.pk: "new",
    }
    context.close()


def test_macro_collision_resolve_and_shortcuts(desktop_page):
    from playwright.sync_api import expect

    page = desktop_page
    UserFactory(username="agent_alice", role="agent")
    lead = UserFactory(username="lead_lena", first_name="Lena", last_name="Lead", role="lead")
    complaint = ComplaintFactory(customer=CustomerFactory(name="Hannah Moore"))
    Macro.objects.create(title="Apology", kind="reply", body="Dear {{customer_name}}, we are sorry about {{reference}}.")
    sign_in(page, "agent_alice", next_url=f"/complaints/{complaint.reference}/")

    # "?" lists the shortcuts; "r" then starts a reply.
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    expect(page.locator("#id_body")).to_be_focused()

    # A macro goes into the box, filled in for this complaint.
    page.locator("#id_body").fill("Hello.")
    page.get_by_label("Insert a macro").select_option(label="Apology (reply to the customer)")
    page.get_by_role("button", name="Insert", exact=True).click()
    expect(page.locator("#id_body")).to_have_value(f"Hello.\n\nDear Hannah Moore, we are sorry about {complaint.reference}.")
    expect(page.get_by_label("Reply to the customer")).to_be_checked()

    # Someone else changes the case meanwhile: saving says so and keeps the text.
    complaint_transition(complaint=complaint, to_status="in_progress", actor=ActorRef(user=lead))
    page.get_by_label("Internal note").check()
    page.locator("#save-comment").click()
    expect(page.locator("#flash")).to_contain_text("was changed while you had it open")
    expect(page.locator("#flash")).to_contain_text("by Lena Lead")
    expect(page.locator("#id_body")).to_have_value(re.compile(r"^Hello\.\n\nDear Hannah Moore"))
    assert not Comment.objects.exists()
    page.locator("#save-comment").click()
    expect(page.locator(".comment.is-new")).to_contain_text("Dear Hannah Moore")

    # Resolving asks first; dismissing the question changes nothing, accepting resolves.
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Resolve").click()
    page.wait_for_timeout(300)
    assert Complaint.objects.get(pk=complaint.pk).status == "in_progress"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator(".complaint-head .status-resolved")).to_be_visible()
    assert page.watch.problems == [], page.watch.problems
