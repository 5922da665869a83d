"""The escalation journey in a real browser: an executive signs in, sees the escalated complaint in the inbox,
and acknowledges it; at phone width the actions stay on screen."""

from __future__ import annotations

import pytest

from recovery.models import Escalation
from tests.e2e.conftest import sign_in
from tickets import services as ticket_services
from tickets.actors import ActorRef

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]




def log_ugly_complaint(agent):
    data = ticket_services.ComplaintInput(
        customer=ticket_services.CustomerInput(email="priya@example.com", name="Priya Raman", social_reach=12_400),
        fields={"cause": "staff_conduct", "severity": 5, "channel": "chat", "subject": "Agent used foul language in chat",
                "says_wont_return": True},
    )
    # Autocommit here, so the assessment runs on commit (eagerly), as after a real request.
    return ticket_services.complaint_log(data=data, actor=ActorRef(user=agent)).complaint


def test_an_executive_sees_and_acknowledges_an_escalation(desktop_page, executive, agent):
    from playwright.sync_api import expect

    page = desktop_page
    complaint = log_ugly_complaint(agent)
    escalation = Escalation.objects.get(complaint=complaint)
    assert escalation.tier == "executive"

    sign_in(page, executive.username, next_url="/escalations/")

    item = page.locator(f"[data-reference='{complaint.reference}']")
    expect(item).to_contain_text("Agent used foul language in chat")
    expect(item).to_contain_text("left to acknowledge")
    expect(item).to_contain_text("Ugly experience goes to an executive")
    item.get_by_role("button", name="Acknowledge").click()

    expect(page.locator("#flash")).to_contain_text(f"{complaint.reference}: acknowledged.")
    expect(page.locator(f"[data-reference='{complaint.reference}']")).to_have_count(0)
    escalation.refresh_from_db()
    assert (escalation.status, escalation.acknowledged_by) == ("acknowledged", executive)

    page.get_by_role("link", name="Handled in the last 30 days").click()
    expect(page.locator(f"[data-reference='{complaint.reference}']")).to_contain_text("Acknowledged by Erin Executive")
    assert page.watch.problems == []


def test_the_inbox_works_at_phone_width(phone_page, executive, agent):
    from playwright.sync_api import expect

    page = phone_page
    complaint = log_ugly_complaint(agent)

    sign_in(page, executive.username, next_url="/escalations/")

    button = page.locator(f"[data-reference='{complaint.reference}']").get_by_role("button", name="Take over")
    expect(button).to_be_visible()
    box = button.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390
    button.click()
    expect(page.locator("#flash")).to_contain_text("taken over and assigned to you")
    assert page.watch.problems == []
