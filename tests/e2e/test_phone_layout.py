"""Every page fits a phone: on the demo data, at 390 px, no page is wider than the screen.

Wide tables may scroll sideways inside their own box; the page itself must never scroll sideways, or every
line of text on it would need panning to read.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command

from recovery.models import EscalationRule
from tests.e2e.conftest import sign_in
from tickets.models import Complaint

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

OVERFLOWING = """() => Array.from(document.querySelectorAll('body *'))
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
               && !e.closest('.table-wrap, .off-wrap, .oc-table-wrap, table'))
  .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""

MANAGER_PAGES = [
    "/complaints/",
    "/complaints/new/",
    "/escalations/",
    "/rules/",
    "/rules/new/",
    "/rules/grading/",
    "/rules/backtests/",
    "/playbook/",
    "/playbook/new/",
    "/spend/",
    "/dashboard/",
    "/notices/",
]
EXECUTIVE_PAGES = ["/approvals/", "/escalations/", "/dashboard/"]



def page_width_problems(page, paths: list[str]) -> list[str]:
    problems = []
    for path in paths:
        response = page.goto(path)
        assert response.status == 200, f"{path} answered {response.status}"
        width = page.evaluate("document.documentElement.scrollWidth")
        viewport = page.evaluate("window.innerWidth")
        if width > viewport:
            problems.append(
                f"{path}: {width} px wide on a {viewport} px screen; sticking out: {page.evaluate(OVERFLOWING)}"
            )
    return problems


def test_every_page_fits_a_phone_screen(phone_page):
    call_command("seed_demo", quiet_users=True, verbosity=0)
    call_command("seed_recovery_demo", verbosity=0)
    ugly = Complaint.objects.filter(grade="ugly").order_by("pk").first()
    assert ugly is not None, "the demo data has ugly complaints"
    page = phone_page

    sign_in(page, "manager", password="manager-demo-pass")
    rule = EscalationRule.objects.order_by("order").first()
    problems = page_width_problems(page, [*MANAGER_PAGES, f"/complaints/{ugly.reference}/", f"/rules/{rule.pk}/"])
    page.context.clear_cookies()
    sign_in(page, "executive", password="executive-demo-pass")
    problems += page_width_problems(page, EXECUTIVE_PAGES)

    assert not problems, "\n".join(problems)
    assert not page.watch.problems
