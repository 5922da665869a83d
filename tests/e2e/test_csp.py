"""The Content-Security-Policy in a real browser: on the demo data, every main page, visited by the role that uses
it, runs without a single CSP violation, and the parts that update in place (htmx swaps, the rule builder, the
dashboard's charts, the API docs) still work under the policy."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command

from recovery.models import EscalationRule, Gesture
from tests.e2e.conftest import sign_in
from tickets.models import Complaint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Runs before any page script (Playwright injects it outside the page's policy) and keeps every violation the
# browser reports, including the ones from content htmx swaps in later.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile || e.documentURI}:${e.lineNumber}`);
});
"""

AGENT_PAGES = ["/complaints/", "/complaints/new/", "/notices/"]
MANAGER_PAGES = [
    "/escalations/",
    "/rules/",
    "/rules/new/",
    "/rules/grading/",
    "/rules/backtests/",
    "/playbook/",
    "/playbook/new/",
    "/spend/",
    "/dashboard/",
    "/integrations/",  # helpdesk connections
    "/webhooks/",  # outbound webhook endpoints
    "/api/v1/complaints/",  # DRF's browsable API
]
EXECUTIVE_PAGES = ["/approvals/", "/escalations/", "/dashboard/", "/does-not-exist/"]


# Nothing may be refused; the pattern is kept for a third-party page whose CDN request the policy must refuse.
EXPECTED = re.compile(r"https://cdn\.redoc\.ly/")


class Violations:
    """Collects CSP violations from the page's events and from the console, where Chromium also reports them."""

    def __init__(self, page) -> None:
        self.page = page
        self.found: list[str] = []
        self.documents = 0
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)
        page.on("response", self._response)

    def _response(self, response) -> None:
        # Every page must carry the policy; a page without one would pass this test by reporting nothing.
        if response.request.resource_type != "document":
            return
        self.documents += 1
        policy = response.headers.get("content-security-policy", "")
        if "default-src 'self'" not in policy or "script-src 'self'" not in policy:
            self.found.append(f"{response.url}: no strict Content-Security-Policy ({policy or 'none'})")

    def _console(self, message) -> None:
        text = message.text
        if ("Content Security Policy" in text or "Content-Security-Policy" in text) and not EXPECTED.search(text):
            self.found.append(f"console on {self.page.url}: {text}")

    def collect(self) -> None:
        """Take what the current document recorded (call before leaving it)."""
        for item in self.page.evaluate("window.__csp || []"):
            if not EXPECTED.search(item):
                self.found.append(f"{self.page.url}: {item}")
        self.page.evaluate("window.__csp = []")

    def visit(self, paths: list[str]) -> None:
        for path in paths:
            self.page.goto(path)
            self.page.wait_for_load_state("networkidle")
            self.collect()


def _seed() -> Complaint:
    call_command("seed_demo", quiet_users=True, verbosity=0)
    call_command("seed_recovery_demo", verbosity=0)
    ugly = Complaint.objects.filter(grade="ugly").order_by("pk").first()
    assert ugly is not None, "the demo data has ugly complaints"
    return ugly


def test_the_violation_recorder_catches_an_inline_style(desktop_page):
    # Without this the other test could pass by recording nothing at all.
    violations = Violations(desktop_page)
    desktop_page.goto("/accounts/login/")
    desktop_page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color:red\">x</p>')")
    desktop_page.wait_for_timeout(200)
    violations.collect()

    assert any("style-src" in item for item in violations.found), violations.found


def test_every_main_page_runs_without_a_csp_violation(desktop_page):
    from playwright.sync_api import expect

    ugly = _seed()
    page = desktop_page
    violations = Violations(page)

    # The agent: queue with its htmx filters, a complaint with its panels, the intake form's customer lookup.
    sign_in(page, "agent", password="agent-demo-pass")
    violations.collect()
    violations.visit(AGENT_PAGES)
    page.goto("/complaints/")
    page.get_by_label("Status").first.select_option(index=1)  # a filter change refreshes the list in place
    page.wait_for_url(re.compile(r"status="))
    page.get_by_label("Search").fill("a")
    page.wait_for_load_state("networkidle")
    violations.collect()
    page.goto(f"/complaints/{ugly.reference}/")
    expect(page.locator("[data-panel='offers']")).to_be_visible()
    violations.collect()
    page.goto(f"/customers/{ugly.customer_id}/")
    violations.collect()
    page.goto("/complaints/new/")
    page.get_by_label("Customer email").fill(ugly.customer.email[:4])
    page.wait_for_load_state("networkidle")
    violations.collect()

    # The manager: rules (the builder), playbook, spend, dashboard charts, the browsable API and its docs.
    page.context.clear_cookies()
    sign_in(page, "manager", password="manager-demo-pass")
    violations.collect()
    violations.visit(MANAGER_PAGES)
    rule = EscalationRule.objects.order_by("order").first()
    page.goto(f"/rules/{rule.pk}/")
    expect(page.get_by_label("Condition 1 field")).to_be_visible()  # the builder's script ran
    page.get_by_role("button", name="Add a condition").click()
    violations.collect()
    page.goto(f"/playbook/{Gesture.objects.order_by('pk').first().pk}/")
    violations.collect()
    page.goto("/playbook/")
    page.locator("#cause-filter").select_option(index=1)  # submits itself (data-autosubmit)
    page.wait_for_url(re.compile(r"cause="))
    violations.collect()
    page.goto("/dashboard/")
    expect(page.locator('svg[data-chart="headline"]')).to_be_visible()
    violations.collect()
    page.goto("/api/v1/docs/")
    expect(page.locator(".swagger-ui .info")).to_contain_text("CX Recovery API")
    page.locator(".opblock-summary").first.click()  # an operation opens with its parameters and responses
    expect(page.locator(".opblock-body").first).to_be_visible()
    violations.collect()

    # The executive: approvals, escalations, the dashboard, an unknown page.
    page.context.clear_cookies()
    sign_in(page, "executive", password="executive-demo-pass")
    violations.collect()
    violations.visit(EXECUTIVE_PAGES)

    # The Django admin, signed in as the demo superuser.
    page.context.clear_cookies()
    page.goto("/admin/login/?next=/admin/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("admin-demo-pass")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/admin/")
    violations.collect()
    violations.visit(["/admin/tickets/complaint/", f"/admin/tickets/complaint/{ugly.pk}/change/"])

    assert violations.found == [], "\n".join(violations.found)
    assert violations.documents >= 25
    assert not page.watch.problems

