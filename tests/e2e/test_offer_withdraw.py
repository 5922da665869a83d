"""Withdrawing an offer in a real browser: an agent offers a costly gesture, changes their mind before the
executive decides, withdraws it from the complaint page in place (htmx), and it leaves the executive's inbox."""

from __future__ import annotations

import pytest

from recovery.models import ApprovalRequest, Offer
from tests.e2e.conftest import sign_in
from tests.recovery.offers_factories import complaint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]




def test_agent_withdraws_a_waiting_offer_and_it_leaves_the_inbox(desktop_page, agent, executive, settings):
    from playwright.sync_api import expect

    settings.RECOVERY_EQUIPOISE_POINTS = 0  # no draw for first place: the executive's call is always suggested

    case = complaint(grade="ugly", cause="ignored", loss="0", subject="Six weeks without an answer")
    page = desktop_page

    sign_in(page, agent.username, next_url=f"/complaints/{case.reference}/")
    page.wait_for_url(f"**/complaints/{case.reference}/")
    suggestion = page.locator("[data-panel='offers'] [data-gesture='exec_call_six_months_free']")
    suggestion.get_by_role("button", name="Offer — needs an executive").click()
    page.wait_for_url(f"**/complaints/{case.reference}/#offers")
    offer = Offer.objects.get(complaint=case)
    card = page.locator(f"#offer-{offer.pk}")
    expect(card).to_have_attribute("data-status", "pending_approval")

    # Withdraw in place: the page is not reloaded (a marker set on window survives an htmx swap only).
    page.evaluate("window.__stayed = true")
    card.get_by_text("Withdraw…").click()
    card.get_by_label("Why (optional)").fill("She asked for a refund instead")
    card.get_by_role("button", name="Withdraw").click()
    expect(page.locator(f"#offer-{offer.pk}")).to_have_attribute("data-status", "withdrawn")
    expect(page.locator(f"#offer-{offer.pk}")).to_contain_text("She asked for a refund instead")
    assert page.evaluate("window.__stayed === true")
    expect(page.get_by_text("Withdraw…")).to_have_count(0)

    approval = ApprovalRequest.objects.get(offer=offer)
    assert (approval.status, approval.decided_by, approval.note) == (
        "withdrawn",
        agent,
        "She asked for a refund instead",
    )

    page.context.clear_cookies()
    sign_in(page, executive.username)
    page.wait_for_url("**/approvals/")
    expect(page.locator(f"[data-reference='{case.reference}']")).to_have_count(0)
    assert page.watch.problems == []
