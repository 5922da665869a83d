"""The approval journey in a real browser: an agent offers a costly gesture on an ugly complaint, the executive
signs in (on a phone), approves it from the inbox with a note, and the agent sees it approved on the complaint
page. Uses the shared Chromium fixtures of tests/e2e/conftest.py."""

from __future__ import annotations

import pytest

from recovery.models import ApprovalRequest, Offer
from tests.e2e.conftest import sign_in
from tests.recovery.offers_factories import complaint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]




def test_agent_offers_a_costly_gesture_and_the_executive_approves_it_from_the_inbox(
    desktop_page, phone_page, agent, executive, settings
):
    from playwright.sync_api import expect

    settings.RECOVERY_EQUIPOISE_POINTS = 0  # no draw for first place: the executive's call is always suggested

    case = complaint(grade="ugly", cause="ignored", loss="0", subject="Four emails and no reply")
    agent_page, exec_page = desktop_page, phone_page

    # The agent offers the executive's call, which only an executive may approve.
    sign_in(agent_page, agent.username, next_url=f"/complaints/{case.reference}/")
    agent_page.wait_for_url(f"**/complaints/{case.reference}/")
    suggestion = agent_page.locator("[data-panel='offers'] [data-gesture='exec_call_six_months_free']")
    expect(suggestion).to_contain_text("Repays in kind: attention for a customer who was ignored")
    suggestion.get_by_role("button", name="Offer — needs an executive").click()
    agent_page.wait_for_url(f"**/complaints/{case.reference}/#offers")
    expect(agent_page.locator("#flash")).to_contain_text("waiting for an executive to approve it")
    offer = Offer.objects.get(complaint=case)
    expect(agent_page.locator(f"#offer-{offer.pk}")).to_contain_text("Waiting for an executive to approve it")

    # The executive signs in on a phone and lands on the approvals inbox.
    sign_in(exec_page, executive.username)
    exec_page.wait_for_url("**/approvals/")
    item = exec_page.locator(f"[data-reference='{case.reference}']")
    expect(item).to_contain_text("Four emails and no reply")
    expect(item).to_contain_text("Executive's personal call and six months free")
    expect(item).to_contain_text("Suggested #")
    item.get_by_label("Note for the agent").fill("Call her today, before noon.")
    approve = item.get_by_role("button", name="Approve")
    approve.scroll_into_view_if_needed()
    expect(approve).to_be_in_viewport()
    approve.click()
    exec_page.wait_for_url("**/approvals/")
    expect(exec_page.locator("#flash")).to_contain_text("Approved “Executive's personal call and six months free”")
    expect(exec_page.locator(f"[data-reference='{case.reference}']")).to_have_count(0)

    # The agent sees it approved on the complaint page.
    agent_page.reload()
    card = agent_page.locator(f"#offer-{offer.pk}")
    expect(card).to_have_attribute("data-status", "approved")
    expect(card).to_contain_text("Approved by Erin Executive")
    expect(card).to_contain_text("Call her today, before noon.")
    expect(card.get_by_role("button", name="Mark fulfilled")).to_be_visible()

    approval = ApprovalRequest.objects.get(offer=offer)
    assert (approval.status, approval.decided_by, approval.note) == ("approved", executive, "Call her today, before noon.")
    assert agent_page.watch.problems == [] and exec_page.watch.problems == []
