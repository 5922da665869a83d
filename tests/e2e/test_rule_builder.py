"""The rule builder in a real browser: a manager writes a rule row by row instead of as JSON, saves it, and finds
it in the builder again; JSON the builder cannot show stays an editable textarea, with the server's errors."""

from __future__ import annotations

import pytest

from recovery.models import EscalationRule
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


# Every control the builder made has a name: its own label or an aria-label.
UNNAMED_CONTROLS = """() => Array.from(document.querySelectorAll('.rb select, .rb input, .rb button'))
    .filter(c => !c.getAttribute('aria-label') && !c.closest('label') && !(c.labels && c.labels.length)
                 && !c.textContent.trim())
    .map(c => c.outerHTML)"""



def test_a_manager_builds_a_rule_row_by_row_and_finds_it_again(desktop_page, senior):
    from playwright.sync_api import expect

    page = desktop_page
    sign_in(page, senior.username, next_url="/rules/new/")
    expect(page.locator("textarea[name='conditions']")).to_be_hidden()
    expect(page.locator("textarea[name='actions']")).to_be_hidden()
    page.get_by_label("Name", exact=True).fill("Bad or ugly pricing complaints to a manager")

    # Condition 1 (the new rule's "grade is ugly") becomes "grade is one of bad, ugly".
    expect(page.get_by_label("Condition 1 field")).to_have_value("grade")
    page.get_by_label("Condition 1 operator").select_option("in")
    values = page.get_by_role("group", name="Condition 1 values")
    expect(values.get_by_label("Ugly")).to_be_checked()  # carried over from "is ugly"
    values.get_by_label("Bad").check()

    # Condition 2, added from the keyboard: "cause is pricing".
    page.get_by_role("button", name="Add a condition").press("Enter")
    expect(page.get_by_label("Condition 2 field")).to_be_focused()
    page.get_by_label("Condition 2 field").select_option("cause")
    expect(page.get_by_label("Condition 2 operator").locator("option")).to_have_text(
        ["is", "is not", "is one of", "is none of"]  # cause has no order: no "is at least"
    )
    page.get_by_label("Condition 2 value").select_option("pricing")

    # The only action: the default one removed, a new one added.
    page.get_by_role("button", name="Remove action 1").click()
    expect(page.get_by_label("Action 1 type")).to_have_count(0)
    page.get_by_role("button", name="Add an action").click()
    page.get_by_label("Action 1 type").select_option("escalate")
    page.get_by_label("Action 1 value").select_option("manager")
    assert page.evaluate(UNNAMED_CONTROLS) == []

    page.get_by_role("button", name="Save rule").click()
    page.wait_for_url("**/rules/")
    expect(page.locator("#flash")).to_contain_text("Rule “Bad or ugly pricing complaints to a manager” saved.")
    rule = EscalationRule.objects.get(name="Bad or ugly pricing complaints to a manager")
    assert rule.match == "all"
    assert rule.conditions == [
        {"field": "grade", "operator": "in", "value": ["bad", "ugly"]},
        {"field": "cause", "operator": "eq", "value": "pricing"},
    ]
    assert rule.actions == [{"type": "escalate", "value": "manager"}]

    # Opened again, the builder shows the saved rule.
    page.goto(f"/rules/{rule.pk}/")
    expect(page.get_by_label("Condition 1 field")).to_have_value("grade")
    expect(page.get_by_label("Condition 1 operator")).to_have_value("in")
    values = page.get_by_role("group", name="Condition 1 values")
    expect(values.get_by_role("checkbox", checked=True)).to_have_count(2)
    expect(values.get_by_label("Bad")).to_be_checked()
    expect(values.get_by_label("Ugly")).to_be_checked()
    expect(page.get_by_label("Condition 2 field")).to_have_value("cause")
    expect(page.get_by_label("Condition 2 operator")).to_have_value("eq")
    expect(page.get_by_label("Condition 2 value")).to_have_value("pricing")
    expect(page.get_by_label("Condition 3 field")).to_have_count(0)
    expect(page.get_by_label("Action 1 type")).to_have_value("escalate")
    expect(page.get_by_label("Action 1 value")).to_have_value("manager")
    expect(page.get_by_label("Action 2 type")).to_have_count(0)
    assert page.watch.problems == []


def test_json_the_builder_cannot_show_stays_a_textarea_with_the_servers_error(desktop_page, senior):
    from playwright.sync_api import expect

    page = desktop_page
    sign_in(page, senior.username, next_url="/rules/new/")
    page.get_by_label("Name", exact=True).fill("Half-written rule")
    page.get_by_role("group", name="Conditions").get_by_role("button", name="Edit as JSON").click()
    conditions = page.locator("textarea[name='conditions']")
    expect(conditions).to_be_focused()
    conditions.fill('[{"field": "grade", "operator": "eq", "value": "ugly"},')

    page.get_by_role("button", name="Save rule").click()

    expect(page.get_by_role("alert")).to_contain_text("The rule was not saved")
    expect(page.locator(".field.has-error")).to_contain_text("The conditions is not valid JSON")
    expect(page.locator(".rb-note")).to_have_text(
        "The conditions cannot be edited row by row: they are not valid JSON. Edit the JSON below."
    )
    expect(conditions).to_be_visible()
    expect(conditions).to_have_value('[{"field": "grade", "operator": "eq", "value": "ugly"},')
    expect(page.get_by_label("Action 1 value")).to_have_value("manager")  # the actions still load as rows
    assert not EscalationRule.objects.filter(name="Half-written rule").exists()
    assert page.watch.problems == []
