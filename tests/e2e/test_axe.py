"""axe-core (tests/e2e/vendor/axe.min.js, 4.10.3 from npm) on every page each role can reach, at 1280 and 390 px:
no serious or critical violation.

One module-scoped run visits every page as every role (a 403 means "not reachable" and is skipped) at both widths;
one test per page then reports that page's violations, so a page can be marked xfail on its own. Sign-ins are
session cookies made with Django's test client. The rows the run commits are flushed afterwards.
The browser context bypasses the Content-Security-Policy only so the test can inject axe; the pages are unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import ComplaintFactory, UserFactory
from tickets.models import Macro, SavedView

pytestmark = [pytest.mark.e2e]

AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
ROLES = ["agent", "lead", "manager", "executive"]
WIDTHS = [{"width": 1280, "height": 900}, {"width": 390, "height": 844}]

# (name, path template, xfail mark or None). {ref}, {customer}, {rule}, {backtest}, {macro} are filled in.
PAGES = [
    ("queue", "/complaints/", None),
    ("queue-team", "/complaints/?view=team", None),
    ("new", "/complaints/new/", None),
    ("complaint", "/complaints/{ref}/", None),
    ("customer", "/customers/{customer}/", None),
    ("macros", "/macros/", None),
    ("macro-edit", "/macros/{macro}/", None),
    ("notices", "/notices/", None),
    ("escalations", "/escalations/", None),
    ("rules", "/rules/", None),
    ("rule-edit", "/rules/{rule}/", None),
    ("grading", "/rules/grading/", None),
    ("backtests", "/rules/backtests/", None),
    ("backtest", "/rules/backtests/{backtest}/", None),
    ("playbook", "/playbook/", None),
    ("approvals", "/approvals/", None),
    ("spend", "/spend/", None),
    ("dashboard", "/dashboard/", None),
    ("integrations", "/integrations/", None),
    ("webhooks", "/webhooks/", None),
]


def _data() -> dict[str, object]:
    from recovery.models import BacktestRun, EscalationRule

    users = {role: UserFactory(username=f"axe_{role}", role=role) for role in ROLES}
    complaint = ComplaintFactory(assignee=users["agent"], grade="ugly", tags=["vip"])
    ComplaintFactory.create_batch(3)
    macro = Macro.objects.create(title="Apology", kind="reply", body="Dear {{customer_name}}")
    SavedView.objects.create(owner=users["agent"], name="Pricing", query="cause=pricing")
    rule = EscalationRule.objects.order_by("pk").first()
    backtest = BacktestRun.objects.create(status=BacktestRun.Status.DONE, progress=100, result={})
    return {
        "users": users,
        "fill": {
            "ref": complaint.reference, "customer": complaint.customer_id, "macro": macro.pk,
            "rule": rule.pk if rule else 0, "backtest": backtest.pk,
        },
    }


# The full rule set at 1280 px; at 390 px the same document again with the rules whose outcome depends on the layout
# (the DOM is identical, only the layout changes), which halves the run on a small machine.
LAYOUT_RULES = ["color-contrast", "scrollable-region-focusable", "target-size", "meta-viewport", "css-orientation-lock", "link-in-text-block"]
START_AXE = (
    "(rules) => { const options = {resultTypes: ['violations']}; if (rules) options.runOnly = {type: 'rule', values: rules};"
    " window.__axe = axe.run(document, options).then(r => JSON.stringify(r)); }"
)


def _serious(raw: str) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {', '.join(str(n['target'][0]) for n in v['nodes'][:3])}"
        for v in json.loads(raw)["violations"]
        if v["impact"] in {"serious", "critical"}
    ]


@pytest.fixture(scope="module")
def axe_results(browser, live_server, django_db_blocker) -> dict[str, dict[str, object]]:
    """Every page for every role at both widths, once for the module: {page: {"reached": n, "problems": [...]}}.

    The roles' pages of one URL are open side by side and axe runs in all of them at once (each page is its own
    renderer process), which keeps the whole run short on a small machine."""
    from django.core.management import call_command

    from tests.conftest import reference_data_ensure

    # The live server answers from another thread: database access stays open for the whole run.
    with django_db_blocker.unblock():
        reference_data_ensure()
        try:
            return _visit_every_page(browser, live_server, _data())
        finally:
            call_command("flush", interactive=False, verbosity=0)
            reference_data_ensure()


def _visit_every_page(browser, live_server, data: dict) -> dict[str, dict[str, object]]:
    cookies = {}
    for role, user in data["users"].items():
        client = Client()
        client.force_login(user)
        cookies[role] = client.cookies["sessionid"].value
    contexts = {}
    for role in ROLES:
        context = browser.new_context(viewport=WIDTHS[0], base_url=live_server.url, bypass_csp=True)
        context.add_cookies([{"name": "sessionid", "value": cookies[role], "url": live_server.url}])
        context.set_default_timeout(20_000)
        contexts[role] = context.new_page()
    results: dict[str, dict[str, object]] = {}
    try:
        for name, path, _ in PAGES:
            url = path.format(**data["fill"])
            open_pages, problems = {}, []
            for role, page in contexts.items():
                page.set_viewport_size(WIDTHS[0])
                response = page.goto(url)
                if response.status in (403, 404):
                    continue  # this role cannot reach the page
                if response.status != 200:
                    problems.append(f"{role} {url}: HTTP {response.status}")
                    continue
                page.add_script_tag(path=str(AXE))
                open_pages[role] = page
            for viewport in WIDTHS:
                for page in open_pages.values():
                    page.set_viewport_size(viewport)
                    page.evaluate(START_AXE, None if viewport is WIDTHS[0] else LAYOUT_RULES)
                for role, page in open_pages.items():
                    problems += [f"{role} @{viewport['width']}px {url}: {p}" for p in _serious(page.evaluate("window.__axe"))]
            results[name] = {"reached": len(open_pages) or (1 if problems else 0), "problems": problems}
    finally:
        for page in contexts.values():
            page.context.close()
    return results


@pytest.mark.parametrize(
    "name",
    [pytest.param(name, marks=[mark] if mark else [], id=name) for name, _, mark in PAGES],
)
def test_axe_finds_no_serious_violation(axe_results, name):
    result = axe_results[name]
    if result["problems"]:
        print("\n".join(result["problems"]))
    assert result["reached"], f"no role reaches the {name} page"
    assert result["problems"] == [], "\n".join(result["problems"])
