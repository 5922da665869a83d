"""A manager connects a helpdesk in a real browser: creates the connection, copies the webhook URL, the
helpdesk posts a signed delivery to it, and the manager sees the delivery (and its complaint) in the log."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.e2e.conftest import SCREENSHOTS, sign_in
from tests.tickets.helpdesks.helpers import raw, zammad_body, zammad_headers
from tickets.models import Complaint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_manager_connects_zammad_and_sees_a_signed_delivery_in_the_log(desktop_page, live_server, senior, tmp_path):
    from playwright.sync_api import expect

    page = desktop_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in(page, senior.username, next_url="/integrations/")

    # The manager creates the connection; the secret and the setup steps are shown once.
    page.get_by_label("Helpdesk").select_option("zammad")
    page.get_by_label("Name").fill("zammad-support")
    page.get_by_role("button", name="Create connection").click()
    expect(page.get_by_role("heading", name="zammad-support is connected")).to_be_visible()
    expect(page.locator(".setup-steps")).to_contain_text("HMAC SHA1 Signature Token")
    secret = page.locator("#connection-secret").input_value()

    # Copy URL puts the webhook URL on the clipboard.
    page.get_by_role("button", name="Copy URL").click()
    expect(page.locator("#inbound-url ~ .copy-status")).to_have_text("Copied")
    url = page.evaluate("navigator.clipboard.readText()")
    assert url.startswith(f"{live_server.url}/hooks/helpdesk/")

    # Zammad posts a signed delivery to that URL.
    body = raw(zammad_body())
    response = httpx.post(url, content=body, headers={**zammad_headers(body, secret=secret),
                                                       "Content-Type": "application/json"})
    assert response.status_code == 202, response.text

    # The manager opens the connection and sees the delivery, processed into a complaint.
    page.get_by_role("link", name="Open the connection and its delivery log").click()
    complaint = Complaint.objects.get(source="zammad-support", external_id="81")
    row = page.locator("#deliveries tbody tr").first
    expect(row).to_contain_text("trigger: CX Recovery")
    expect(row).to_contain_text("Processed")
    expect(row.get_by_role("link", name=complaint.reference)).to_be_visible()
    shots = SCREENSHOTS if os.environ.get("CX_UPDATE_SCREENSHOTS") else tmp_path
    page.screenshot(path=str(shots / "integrations.png"), full_page=False)

    # Filtering by "failed" hides it.
    page.get_by_label("Result").select_option("failed")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#deliveries tbody")).to_contain_text("No deliveries with this result yet.")
    assert page.watch.problems == []
