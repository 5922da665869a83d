"""A tour of the senior staff's pages on the demo data, in Chromium at laptop width: each page renders with its
main content and without a console error. With CX_UPDATE_SCREENSHOTS=1 it renews the README's screenshots of
them in docs/screenshots/."""

from __future__ import annotations

import os
import re

import pytest
from django.core.management import call_command

from recovery.models import EscalationRule
from tests.e2e.conftest import SCREENSHOTS, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]



def test_tour_of_the_senior_pages(desktop_page, tmp_path):
    from playwright.sync_api import expect

    call_command("seed_demo", quiet_users=True, verbosity=0)
    call_command("seed_recovery_demo", verbosity=0)
    shots = SCREENSHOTS if os.environ.get("CX_UPDATE_SCREENSHOTS") else tmp_path
    page = desktop_page

    sign_in(page, "executive", password="executive-demo-pass")
    expect(page).to_have_url(re.compile(r"/approvals/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Approvals")
    page.screenshot(path=str(shots / "approvals.png"))

    page.goto("/escalations/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Escalation")
    page.screenshot(path=str(shots / "escalations.png"))

    page.goto("/dashboard/")
    expect(page.locator('svg[data-chart="headline"]')).to_be_visible()
    page.screenshot(path=str(shots / "dashboard.png"))

    page.context.clear_cookies()
    sign_in(page, "manager", password="manager-demo-pass")
    rule = EscalationRule.objects.order_by("order").first()
    page.goto(f"/rules/{rule.pk}/")
    expect(page.get_by_label("Condition 1 field")).to_be_visible()
    page.screenshot(path=str(shots / "rule-builder.png"))

    assert not page.watch.problems
